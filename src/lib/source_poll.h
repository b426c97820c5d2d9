/* The poll source: what inotify cannot see (blind.h), found by comparing
 * snapshots of each polled directory, handed out as records with
 * inotify's meaning (struct inotify_event layout), so that the engine
 * takes them as it takes the kernel's.
 *
 * Watches are keyed by identity (device and inode) as inotify's are:
 * watching a directory polled already gives its wd back. A polled
 * directory is reached again each interval through its parent (by the
 * name its parent's snapshot has for it), from a top held open (O_PATH):
 * a directory whose parent is not polled, or a watched file. */
#ifndef VIGIL_SOURCE_POLL_H
#define VIGIL_SOURCE_POLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Polled wds start here: inotify's count up from 1, and reach this only
 * after a billion watches made in one instance. */
#define POLL_WD_BASE 0x40000000

/* The default interval. */
#define POLL_INTERVAL_NS (2000ull * 1000 * 1000)
/* An interval's work is spread over at most this many ticks. */
#define POLL_SLICES 10

struct poll_src;

int poll_src_new(uint64_t interval_ns, struct poll_src **ret);
void poll_src_free(struct poll_src *p);

/* Watch the object open at FD (any mode; not taken) with MASK (IN_* bits,
 * IN_MASK_ADD, IN_ONLYDIR, IN_ONESHOT), on mount MOUNT (a number of the
 * caller's, given back by poll_src_mount_of()): its wd in *RET_WD, the
 * same for an object polled already. A new directory is listed at once
 * (its snapshot). -ENOTDIR (IN_ONLYDIR), -ENOMEM, or the errno of reading
 * it. */
int poll_src_add(struct poll_src *p, int fd, uint32_t mask, int mount, int *ret_wd);
/* Stop polling WD (no IN_IGNORED, as the engine asked for it): 0, -EINVAL. */
int poll_src_remove(struct poll_src *p, int wd);
bool poll_src_has(const struct poll_src *p, int wd);
/* How many directories and files are polled (on MOUNT, or all when < 0). */
size_t poll_src_count(const struct poll_src *p, int mount);

void poll_src_set_interval(struct poll_src *p, uint64_t ns);
/* Nanoseconds between ticks (0 when nothing is polled): each tick polls its
 * share of the directories, so that each is polled once an interval. */
uint64_t poll_src_tick_ns(const struct poll_src *p);
/* When poll_src_tick() is next wanted, in CLOCK_MONOTONIC nanoseconds (0:
 * never, nothing is polled): a tick's time after the last, or sooner, when
 * a file that changed has had an interval's quiet and is to be stat'ed
 * again on its own for its CLOSE_WRITE. */
uint64_t poll_src_deadline(const struct poll_src *p);
/* Do the work due by now (poll_src_deadline()): records queue up. 0 or
 * -ENOMEM. */
int poll_src_tick(struct poll_src *p);
/* List again the directories added since the last call (or read), so that
 * what appeared between their snapshot and the caller's own listing of
 * them is queued now, before the caller's mark (seen.c). */
int poll_src_recheck(struct poll_src *p);
/* Every watch on MOUNT is gone (unmounted): IN_UNMOUNT and IN_IGNORED
 * for each, as the kernel says it. */
int poll_src_unmount(struct poll_src *p, int mount);

/* Bytes of records queued. */
size_t poll_src_queued(const struct poll_src *p);
/* Move whole records, up to SIZE bytes, into BUF: the bytes moved. */
size_t poll_src_take(struct poll_src *p, void *buf, size_t size);

#endif
