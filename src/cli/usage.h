/* vigil usage: who holds inotify instances and watches on this machine.
 *
 * usage_scan.c reads /proc (each process's inotify fds and their fdinfo)
 * and the limits; usage_paths.c finds the path of each watched inode;
 * usage_print.c writes the tables or the JSON; usage.c is the command:
 * options, filters, the totals per user and the warnings. */
#ifndef VIGIL_USAGE_H
#define VIGIL_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* One watch, as /proc/PID/fdinfo/FD shows it. */
struct usage_watch {
	int wd;
	uint32_t mask;         /* the mask asked for, with IN_ONESHOT and
				  IN_EXCL_UNLINK when given */
	dev_t dev;             /* the filesystem (s_dev), as makedev() encodes it */
	uint64_t ino;
	unsigned char *handle; /* the kernel's file handle, NULL when it gave none */
	unsigned handle_bytes;
	int handle_type;
	size_t target;         /* index into usage_scan.targets once paths are
				  looked for */
};

/* Watches (inotify), or directories polled (vigil's poller), on one
 * filesystem: by device for the one, by mount ID for the other. */
struct usage_fs {
	dev_t dev;
	int mnt_id;            /* -1 for inotify's */
	size_t n;
};

struct usage_instance {
	pid_t pid;             /* the process holding it as fd */
	int fd;
	struct usage_watch *watches; /* NULL unless details were asked for */
	size_t n_watches;
	uint64_t fingerprint;  /* of the file flags and every watch line */
	struct usage_fs *fs;   /* its watches per filesystem */
	size_t n_fs;
	/* The same open file (kcmp) may be held by several fds and processes:
	 * the kernel charges it once. canon_pid/canon_fd name the holder it
	 * is counted under (lowest pid, then fd); itself when unshared. */
	pid_t canon_pid;
	int canon_fd;
};

struct usage_proc {
	pid_t pid;
	uid_t uid;             /* effective: whom inotify_init charged, unless the
				  process changed user since */
	bool shown;            /* passes --pid and --user (else only counted) */
	char *cmdline;         /* NUL-separated argv, or "[comm]" */
	size_t cmdline_len;
	size_t argc;           /* 0 for "[comm]" */
	struct usage_instance *inst;
	size_t n_inst;
	size_t instances, watches; /* distinct instances, their watches */
	struct usage_fs *polled; /* directories vigil polls, per mount */
	size_t n_polled;
	/* fanotify: groups held (as fds), and their marks by kind, from the
	 * "fanotify ino:", "fanotify mnt_id:" and "fanotify sdev:" lines of
	 * their fdinfo */
	size_t fan_groups, fan_inode, fan_mount, fan_fs;
};

/* A watched inode and where it was found. */
enum usage_found { USAGE_FOUND_NONE, USAGE_FOUND_HANDLE, USAGE_FOUND_SEARCH };
struct usage_target {
	dev_t dev;
	uint64_t ino;
	char *path;            /* NULL when not found */
	bool deleted;          /* unlinked, still held open somewhere */
	enum usage_found found;
};

/* A limit in force: the lower of fs.inotify.NAME and user.NAME of this
 * user namespace (see util.c). value is -1 when neither could be read. */
struct usage_limit {
	long value;
	char sysctl[48];       /* "fs.inotify.max_user_watches", or the user.* one */
	long fs_value;         /* fs.inotify.NAME, -1 when unreadable */
	char fs_sysctl[48];
};

struct usage_scan {
	/* what to read: processes passing both lists are shown; only the
	 * users they (or --user) name are counted */
	const pid_t *pids;
	size_t n_pids;
	const uid_t *uids;
	size_t n_uids;
	bool details;          /* keep every watch (for -w), not just counts */

	struct usage_proc *procs;
	size_t n_procs, cap_procs;
	size_t denied;         /* processes that could not be read */
	struct usage_target *targets;
	size_t n_targets;
	struct usage_limit instances, watches, queued;
	long fan_groups_max, fan_marks_max; /* fs.fanotify.max_user_*, -1 unread */
};
/* Count the marks of one fanotify fd's fdinfo (TEXT, NUL-terminated) into P. */
void usage_parse_fanotify(const char *text, struct usage_proc *p);

/* Read every process the filters leave (a vanished one is skipped). A pid
 * asked for that is not there is -ENOENT with *ret_bad set to it; one that
 * cannot be read, -EACCES. Other failures (no /proc) are negative errno. */
int usage_scan_run(struct usage_scan *s, pid_t *ret_bad);
/* The fdinfo of one inotify fd: TEXT is LEN bytes and NUL-terminated.
 * Counts its watches into INST (which the caller zeroed), keeps each of them
 * when DETAILS, and sets its fingerprint. 0, or -ENOMEM (INST's watches
 * freed). */
int usage_parse_fdinfo(const char *text, size_t len, bool details,
		       struct usage_instance *inst);
void usage_scan_free(struct usage_scan *s);

/* One line of /proc/self/mountinfo. */
struct usage_mount {
	unsigned long id;
	dev_t dev;
	char *point, *source;
	char fstype[32];
	bool whole;  /* mounts the filesystem's root, not a directory below */
};
/* This process's mounts, into *RET (nothing when unreadable). */
void usage_read_mounts(struct usage_mount **ret, size_t *ret_n);
void usage_mounts_free(struct usage_mount *v, size_t n);

/* Resolve the path of every watch of the shown processes into s->targets:
 * through the file handle when allowed (CAP_DAC_READ_SEARCH), then by
 * walking each directory of SEARCH (on its own filesystem only, unless
 * ALL_FS; never into proc, sysfs or autofs). */
void usage_find_paths(struct usage_scan *s, char *const *search, size_t n_search,
		      bool all_fs);

/* The totals the kernel charges a user with. */
struct usage_user {
	uid_t uid;
	char *name;            /* NULL: not in the user database */
	size_t instances, watches;
	bool near_instances, near_watches; /* over 90% of the limit */
};

/* What is printed: the processes passing the filters, most watches first,
 * and the users they (or --user) name. */
struct usage_report {
	struct usage_scan scan;
	struct usage_proc **shown;
	size_t n_shown;
	struct usage_user *users;
	size_t n_users;
	bool watches;          /* -w: list every watch */
	struct usage_blind *blind;
	size_t n_blind;
};

/* A mount where inotify is blind to other machines' changes, with what
 * watches it (usage_blind.c). */
struct usage_blind {
	char *point, *fstype, *source;
	size_t watches;        /* inotify watches there: blind */
	size_t polled;         /* directories polled there by vigil */
	size_t procs;          /* processes doing either */
	size_t last;           /* the last process counted, + 1 */
};
/* The blind mounts the shown processes watch or poll, into R->blind. */
int usage_blind_mounts(struct usage_report *r);
void usage_blind_free(struct usage_report *r);

void usage_print_text(const struct usage_report *r, FILE *f);
void usage_print_json(const struct usage_report *r, FILE *f);
/* The user's name, or its number written into BUF. */
const char *usage_user_name(const struct usage_report *r, uid_t uid, char *buf, size_t size);

#endif
