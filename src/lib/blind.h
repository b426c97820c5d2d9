/* Where inotify is blind: filesystems whose files other machines (or a
 * host, or the other nodes of a cluster) change without this kernel
 * hearing of it. inotify reports only what passes through this machine's
 * VFS; on these, what anyone else writes is never an event. */
#ifndef VIGIL_BLIND_H
#define VIGIL_BLIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* By the magic number fstatfs() gives: 1 blind, 0 local, -1 to be decided by
 * the type name in /proc/self/mountinfo (FUSE, whose type is fuse.SUBTYPE,
 * fuseblk or virtiofs; or a magic number not in our lists). */
int blind_magic(unsigned long f_type);

/* By the filesystem type as /proc/self/mountinfo names it ("nfs4",
 * "fuse.sshfs", "fuseblk"): whether it is blind. */
bool blind_fstype(const char *fstype);

/* One line of /proc/self/mountinfo. */
struct mount_entry {
	int id;
	dev_t dev;
	char *point;   /* where it is mounted (escapes decoded) */
	char *fstype;  /* "fuse.sshfs", "nfs4", ... */
	char *source;  /* "host:/export", ... */
};

/* Parse one line of mountinfo TEXT (LEN bytes, no newline) into RET
 * (strings malloc'd): 0, -EINVAL for a malformed line, -ENOMEM. */
int mount_entry_parse(const char *text, size_t len, struct mount_entry *ret);
void mount_entry_free(struct mount_entry *m);

/* Read /proc/self/mountinfo (through FD when >= 0, from its start) and find
 * the mount ID (or, with ID < 0, the first whose device is DEV): 0 and
 * *ret, -ENOENT, or another negative errno. */
int mount_find(int fd, int id, dev_t dev, struct mount_entry *ret);

/* The IDs of every mount, sorted, into *RET (malloc'd), their number in
 * *RET_N: 0 or a negative errno. */
int mount_ids(int fd, int **ret, size_t *ret_n);

#endif
