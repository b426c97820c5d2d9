/* What the catch-up tests share (catchup.c): a watched tree and a place
 * outside it, changes made while vigil does not read, a reader replaying
 * vigil's events, and the check of both against the disk. */
#ifndef VIGIL_TEST_CATCHUP_H
#define VIGIL_TEST_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil.h"

struct fixture {
	char dir[256];
	char out[280]; /* outside the watched tree, on the same filesystem */
	vigil *v;
};

/* cmocka's setup and teardown: a fresh empty tree and handle, and then
 * both gone. */
int setup(void **state);
int teardown(void **state);

/* Empty the tree and the place outside, and start a new handle. */
void fixture_reset(struct fixture *f);

/* The changes. REL is below the tree, or "OUT" (a place outside it, on
 * the same filesystem) and "OUT/..." below that. Each fails the test if
 * the change cannot be made. */
void at(const struct fixture *f, const char *rel, char *p, size_t size);
void make_dir(const struct fixture *f, const char *rel);
void make_file(const struct fixture *f, const char *rel);
void move(const struct fixture *f, const char *from, const char *to);
void remove_dir(const struct fixture *f, const char *rel);
void remove_file(const struct fixture *f, const char *rel);
/* Make each path given, in order, up to NULL: "a/" a directory
 * (make_dir()), "a" a file (make_file()). */
__attribute__((sentinel))
void make(const struct fixture *f, ...);

/* Watch the tree recursively for creates only (the watches are checked,
 * not the events), or for what a reader replaying the events needs. */
void watch(struct fixture *f);
void watch_events(struct fixture *f);

/* Read until nothing has come for 300 ms (longer than a rename half waits
 * for its partner), events and all. */
void drain(vigil *v);

/* The paths below the watched tree a reader knows of, replaying the events
 * as tests/cli/churn-check.py does: a create adds a path, a move in puts
 * it in place of what was there, a delete or a move away removes it and
 * all below it, and the two halves of a rename, paired by cookie, move
 * what was below it. VIGIL_TRACE in the environment prints each event on
 * stdout as it is replayed, for tracing a shape. */
/* more than the engine's OBSERVED_LEN: two tests make that many directories */
#define KNOWN_MAX 4608
#define KNOWN_PATH 160
#define KNOWN_HALVES 8
struct known {
	char path[KNOWN_MAX][KNOWN_PATH];
	size_t n;
	struct known_half {
		uint32_t cookie;           /* of a MOVED_FROM, 0 if free */
		char below[64][KNOWN_PATH]; /* what it took, relative to it */
		size_t n;
	} half[KNOWN_HALVES];
	size_t next_half;
};

/* Read until vigil has nothing left to do (nothing queued, no rename half
 * waiting for its partner), replaying every event into K; with MAX >= 0,
 * read at most MAX events, without waiting. Returns the number read. */
size_t replay_some(const struct fixture *f, struct known *k, long max);
void replay(const struct fixture *f, struct known *k);
/* The start of a shape a reader replays: the tree watched for it
 * (watch_events()), each path given made in it (as make() makes them, up
 * to NULL), and what that said replayed into K (emptied first), so that the
 * reader knows the tree before the changes. */
__attribute__((sentinel))
void start_known(struct fixture *f, struct known *k, ...);
/* replay(), across overflows (returns how many), leaving out the paths
 * that begin with SKIP (what filled the queue). */
size_t replay_across(const struct fixture *f, struct known *k, const char *skip);
/* The same, up to the first event that leaves a reader with the path UNTIL
 * (NULL: to the end). */
size_t replay_until(const struct fixture *f, struct known *k, const char *skip, const char *until);

void expect_known(const struct known *k, const char *p);
void expect_unknown(const struct known *k, const char *p);

/* How far vigil's view is from the disk, saying each difference on SAY:
 * every directory on disk watched, under the path vigil has for it, with
 * the kernel's watch there on that very inode; no other watch held; and
 * with K, every file and directory known to its reader (none missing), and
 * every path its reader knows of on disk (none stale). */
size_t diverged(const struct fixture *f, const struct known *k, FILE *say);

/* Drain, then fail the test if vigil's watches diverged from the disk. */
void check(const struct fixture *f);
/* Replay the rest into K, then fail the test if vigil's watches or K
 * diverged from the disk, in either direction. */
void check_known(const struct fixture *f, struct known *k);

#endif
