/* floor_setup: the least a recursive watcher can do to set up, for
 * benchmarks.
 *
 *   floor_setup [--wait] [--plain] [--mask HEX] DIR
 *
 * Watches DIR and every directory below it: for each, one
 * inotify_add_watch() (first, so that nothing created meanwhile is missed),
 * one open(), getdents64() until the end, one close(); depth-first, by full
 * path, with a stack of the paths still to visit. Entries whose d_type is
 * unknown are looked at with fstatat(); symbolic links are not followed.
 *
 * Listing a watched directory is itself an event, three of them (OPEN,
 * ACCESS, CLOSE_NOWRITE), on it and on its parent; with MASK asking for
 * those (the default, IN_ALL_EVENTS), the kernel would queue the walk's own
 * footsteps, which costs more than a second inotify_add_watch() per
 * directory (on a 2-core VM, 100,000 directories: 1.08 s against 0.94 s).
 * So the walk watches each directory without them, keeps its path, and
 * once the walk is over widens every watch to MASK, as vigil's crawl does.
 * --plain watches with MASK at once instead, and keeps no paths.
 *
 * Then it says "Watches established." on stderr, as vigil and inotifywait
 * do, and prints one line on stdout:
 *
 *   SETUP_US HWM_KIB WATCHES
 *
 * SETUP_US is from the start of main() to the end of the walk; HWM_KIB its
 * peak RSS (the kept paths are most of it). With --wait it then sleeps until
 * a signal, holding the watches, so that watchtime can time it (from the
 * exec) and measure it exactly as it does the watchers.
 *
 * Directories that vanish during the walk are skipped; any other error
 * stops it with a message (exit status 1).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "floor_setup"
#include "msg.h"

/* What listing a directory causes. */
#define FOOTSTEPS (IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE)

/* The paths still to visit, NUL-terminated, one after the other. */
struct stack {
	char *text;
	size_t len, cap;
	size_t *off;
	size_t n, ncap;
};

/* Push DIR (DLEN bytes) "/" NAME, or DIR alone when NAME is NULL. */
static int push(struct stack *s, const char *dir, size_t dlen, const char *name)
{
	size_t nlen = name ? strlen(name) : 0, need = dlen + (name ? 1 : 0) + nlen + 1;
	if (s->len + need > s->cap) {
		size_t cap = s->cap ? s->cap : 1 << 16;
		while (cap < s->len + need)
			cap *= 2;
		char *t = realloc(s->text, cap);
		if (!t)
			return -1;
		s->text = t;
		s->cap = cap;
	}
	if (s->n == s->ncap) {
		size_t ncap = s->ncap ? 2 * s->ncap : 1024;
		size_t *o = realloc(s->off, ncap * sizeof(*o));
		if (!o)
			return -1;
		s->off = o;
		s->ncap = ncap;
	}
	s->off[s->n++] = s->len;
	char *p = s->text + s->len;
	memcpy(p, dir, dlen);
	if (name) {
		p[dlen] = '/';
		memcpy(p + dlen + 1, name, nlen);
	}
	p[need - 1] = '\0';
	s->len += need;
	return 0;
}

static long long mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

int main(int argc, char **argv)
{
	long long t0 = mono_us();
	bool wait = false, plain = false;
	uint32_t mask = IN_ALL_EVENTS;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			puts("usage: floor_setup [--wait] [--plain] [--mask HEX] DIR\n"
			     "Watch DIR and every directory below it, as cheaply as can be;\n"
			     "print SETUP_US HWM_KIB WATCHES (--wait: then hold them until a signal).");
			return 0;
		} else if (strcmp(argv[i], "--wait") == 0) {
			wait = true;
		} else if (strcmp(argv[i], "--plain") == 0) {
			plain = true;
		} else if (strcmp(argv[i], "--mask") == 0 && i + 1 < argc) {
			char *end;
			mask = (uint32_t)strtoul(argv[++i], &end, 16);
			if (*end || !mask) {
				msg("--mask must be a non-zero hex number, not '%s'", argv[i]);
				return 1;
			}
		} else {
			msg("unknown option '%s' (try 'floor_setup --help')", argv[i]);
			return 1;
		}
	}
	if (argc - i != 1) {
		msg("usage: floor_setup [--wait] [--plain] [--mask HEX] DIR");
		return 1;
	}
	int ifd = inotify_init1(IN_CLOEXEC);
	if (ifd < 0) {
		msg("cannot make an inotify instance: %s", errstr(errno));
		return 1;
	}
	fputs("Setting up watches.\n", stderr);

	const char *root = argv[i];
	size_t rlen = strlen(root);
	while (rlen > 1 && root[rlen - 1] == '/')
		rlen--;
	bool quiet = !plain && (mask & FOOTSTEPS);
	uint32_t walk_mask = quiet ? mask & ~(uint32_t)FOOTSTEPS : mask;
	struct stack s = {0}, watched = {0}; /* watched: the paths to widen */
	char *cur = NULL;
	size_t curcap = 0;
	static char dents[1 << 16] __attribute__((aligned(8)));
	long watches = 0;
	if (push(&s, root, rlen, NULL) < 0)
		goto nomem;
	while (s.n) {
		/* pop the last path into cur: pushing children reuses its room */
		size_t off = s.off[--s.n], len = strlen(s.text + off);
		if (len + 1 > curcap) {
			free(cur);
			curcap = 2 * (len + 1);
			if (!(cur = malloc(curcap)))
				goto nomem;
		}
		memcpy(cur, s.text + off, len + 1);
		s.len = off;

		if (inotify_add_watch(ifd, cur, walk_mask | IN_DONT_FOLLOW | IN_ONLYDIR) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			msg("cannot watch '%s': %s", cur, errstr(errno));
			return 1;
		}
		watches++;
		/* below the root, so that the list stays small whatever it is */
		if (quiet && push(&watched, cur + rlen, len - rlen, NULL) < 0)
			goto nomem;
		int fd = open(cur, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;
			msg("cannot open '%s': %s", cur, errstr(errno));
			return 1;
		}
		ssize_t n;
		while ((n = getdents64(fd, dents, sizeof(dents))) > 0) {
			for (ssize_t p = 0; p < n;) {
				struct dirent64 *d = (struct dirent64 *)(dents + p);
				p += d->d_reclen;
				if (is_dot(d->d_name))
					continue;
				bool dir = d->d_type == DT_DIR;
				if (d->d_type == DT_UNKNOWN) {
					struct stat st;
					dir = fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					      S_ISDIR(st.st_mode);
				}
				if (dir && push(&s, cur, len, d->d_name) < 0)
					goto nomem;
			}
		}
		if (n < 0) {
			msg("cannot list '%s': %s", cur, errstr(errno));
			return 1;
		}
		close(fd);
	}
	/* Widen each watch, by the same path (a floor: a directory renamed
	 * meanwhile is not looked for). cur holds the root, then each path. */
	for (size_t k = 0; k < watched.n; k++) {
		const char *rel = watched.text + watched.off[k];
		size_t len = rlen + strlen(rel);
		if (len + 1 > curcap) {
			free(cur);
			curcap = 2 * (len + 1);
			if (!(cur = malloc(curcap)))
				goto nomem;
		}
		memcpy(cur, root, rlen);
		memcpy(cur + rlen, rel, len - rlen + 1);
		inotify_add_watch(ifd, cur, mask | IN_DONT_FOLLOW | IN_ONLYDIR);
	}
	long long t1 = mono_us();
	free(cur);
	free(s.text);
	free(s.off);
	free(watched.text);
	free(watched.off);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	fputs("Watches established.\n", stderr);
	printf("%lld %ld %ld\n", t1 - t0, ru.ru_maxrss, watches);
	fflush(stdout);
	if (wait)
		for (;;)
			pause(); /* until a signal ends it */
	return 0;
nomem:
	msg("out of memory");
	return 1;
}
