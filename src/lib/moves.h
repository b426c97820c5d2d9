/* Rename halves waiting for their partner.
 *
 * The kernel reports a rename as IN_MOVED_FROM on the old directory and
 * IN_MOVED_TO on the new one, with one cookie. A FROM is held here until the
 * TO with its cookie arrives (a move inside the watched trees) or until its
 * deadline passes (a move out). The deadline is armed only once the kernel
 * queue has run dry, since until then the TO may simply not be read yet.
 */
#ifndef VIGIL_MOVES_H
#define VIGIL_MOVES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct move_half {
	uint32_t cookie;
	uint32_t mask;        /* as the kernel sent it (IN_MOVED_FROM [|IN_ISDIR]) */
	uint32_t dir_node;    /* the directory it left */
	uint32_t node;        /* the moved directory's node, or NODE_NONE */
	uint32_t node_serial; /* and its serial: the slot may be reused */
	char *dir;            /* old %w, with its trailing slash */
	char *name;           /* old %f */
	char *path;           /* old full path */
	size_t dir_len, name_len, path_len;
	struct timespec time; /* when it was read */
	int pid;              /* who made it (vigil_event.pid) */
	uint64_t deadline;    /* monotonic ns; 0 until armed */
	bool delivered;       /* already delivered on its own */
	bool news;            /* it left a directory whose own rename was
				 unresolved: a reader has given that path up */
};

struct moves {
	struct move_half *v;
	size_t len, cap;
};

/* Take ownership of H's strings. Returns 0 or -ENOMEM (H's strings are then
 * freed). */
int moves_add(struct moves *m, struct move_half *h);
/* Remove the half with COOKIE into *ret (the caller then owns its strings).
 * Returns false when there is none. */
bool moves_take(struct moves *m, uint32_t cookie, struct move_half *ret);
/* The directory NODE, held by a half, turned up inside the watched trees
 * again (moved back in under another cookie): let go of it, so that the
 * half ending does not take its watches. Returns whether a half held it. */
bool moves_release_node(struct moves *m, uint32_t node, uint32_t serial);
/* Whether a half holds the directory NODE. */
bool moves_holds(const struct moves *m, uint32_t node, uint32_t serial);
/* Give every half without a deadline the deadline DEADLINE. */
void moves_arm(struct moves *m, uint64_t deadline);
/* Remove the oldest half whose deadline is at or before NOW into *ret. */
bool moves_take_expired(struct moves *m, uint64_t now, struct move_half *ret);
/* The earliest armed deadline, or 0 when none is armed. */
uint64_t moves_next_deadline(const struct moves *m);
void move_half_free(struct move_half *h);
void moves_fini(struct moves *m);

#endif
