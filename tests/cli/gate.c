/* gate: hold the first open of a directory, change the world, let it go on.
 *
 *   gate [-t SECONDS] DIR COMMAND [ARG]...
 *
 * Marks DIR with a fanotify permission event (FAN_OPEN_PERM), prints
 * "ready" and waits. The first open of DIR by another process is held in
 * the kernel, after its permission check passed, while COMMAND runs (with
 * no shell); once COMMAND has ended the open is allowed to complete, and
 * gate exits 0. So a test can make DIR unreadable, say, at the very moment
 * a walk has opened it and not yet watched it: the race a loop of chmods
 * would only hit by luck. Any other open of DIR before that is let through
 * at once. Needs CAP_SYS_ADMIN (the tests run as root).
 *
 * A failure is one line on stderr and exit status 1, also when nothing
 * opened DIR within SECONDS (default 20), so a test cannot hang on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char *what, const char *arg)
{
	fprintf(stderr, "gate: %s '%s': %s\n", what, arg, strerror(errno));
	exit(1);
}

/* run ARGV and wait for it; its status, or -1 */
static int run(char **argv)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "gate: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void answer(int fan, const struct fanotify_event_metadata *ev)
{
	struct fanotify_response r = { .fd = ev->fd, .response = FAN_ALLOW };
	if (write(fan, &r, sizeof r) != (ssize_t)sizeof r)
		fail("cannot answer the open of", "fanotify");
	close(ev->fd);
}

int main(int argc, char **argv)
{
	int secs = 20;
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		char *end;
		long v = strtol(argv[2], &end, 10);
		if (*end || v <= 0 || v > 3600) {
			fprintf(stderr, "gate: '%s' is not a number of seconds\n", argv[2]);
			return 2;
		}
		secs = (int)v;
		argv += 2;
		argc -= 2;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: gate [-t SECONDS] DIR COMMAND [ARG]...\n");
		return 2;
	}
	const char *dir = argv[1];
	int fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
	if (fan < 0)
		fail("cannot watch", dir);
	if (fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ONDIR, AT_FDCWD, dir) < 0)
		fail("cannot mark", dir);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct pollfd p = { .fd = fan, .events = POLLIN };
		int n = poll(&p, 1, secs * 1000);
		if (n == 0) {
			fprintf(stderr, "gate: nothing opened '%s' in %d s\n", dir, secs);
			return 1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("cannot wait on", dir);
		}
		char buf[4096] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
		ssize_t len = read(fan, buf, sizeof buf);
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fail("cannot read the events of", dir);
		}
		const struct fanotify_event_metadata *ev = (const void *)buf;
		for (; FAN_EVENT_OK(ev, len); ev = FAN_EVENT_NEXT(ev, len)) {
			if (ev->vers != FANOTIFY_METADATA_VERSION) {
				errno = EPROTO;
				fail("cannot read the events of", dir);
			}
			if (ev->fd < 0 || !(ev->mask & FAN_OPEN_PERM))
				continue;
			if (ev->pid == getpid()) {
				answer(fan, ev);
				continue;
			}
			int st = run(argv + 2);
			answer(fan, ev);
			if (st != 0) {
				fprintf(stderr, "gate: '%s' ended with status %d\n", argv[2], st);
				return 1;
			}
			return 0;
		}
	}
}
