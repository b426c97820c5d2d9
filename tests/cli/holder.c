/* holder: hold inotify instances and watches for vigil usage's tests.
 *
 *   holder [-i | -m HEXMASK | -d | -f | PATH]...
 *
 * The arguments are done in order:
 *   -i          create an inotify instance (PATH creates one if none yet)
 *   -m HEXMASK  watch the PATHs that follow for this mask (default: 0xfff,
 *               every event)
 *   -d          dup() the latest instance: one instance, two fds
 *   -f          once everything is set up, fork: the child holds the same
 *               fds (one instance each, two processes)
 *   PATH        watch PATH in the latest instance, and keep it open (O_PATH)
 *               so that it lives on, "(deleted)", once it is removed
 * Then it prints "ready" (with -f, "ready CHILD_PID") and waits until its
 * standard input ends; with stdin from /dev/null, it exits at once.
 * SIGTERM ends it too, and with -f it ends and reaps the child first, so
 * that once the holder is waited for, nothing it started is left.
 * A failure is one line on stderr and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void fail(const char *what, const char *arg)
{
	fprintf(stderr, "holder: %s '%s': %s\n", what, arg, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	uint32_t mask = IN_ALL_EVENTS;
	int ifd = -1;
	pid_t child = 0;
	bool fork_after = false;

	/* only what the test means us to hold: not its shell's other fds */
	close_range(3, ~0u, 0);
	/* no SA_RESTART: the read below returns, and the child is seen to */
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-i") == 0) {
			if ((ifd = inotify_init1(IN_CLOEXEC)) < 0)
				fail("cannot create an instance for", a);
		} else if (strcmp(a, "-m") == 0 && i + 1 < argc) {
			char *end;
			mask = (uint32_t)strtoul(argv[++i], &end, 16);
			if (*end || !mask) {
				errno = EINVAL;
				fail("bad mask", argv[i]);
			}
		} else if (strcmp(a, "-d") == 0) {
			if (ifd < 0 || dup(ifd) < 0)
				fail("cannot dup", "-d");
		} else if (strcmp(a, "-f") == 0) {
			fork_after = true;
		} else {
			if (ifd < 0 && (ifd = inotify_init1(IN_CLOEXEC)) < 0)
				fail("cannot create an instance for", a);
			if (inotify_add_watch(ifd, a, mask) < 0)
				fail("cannot watch", a);
			if (open(a, O_PATH | O_CLOEXEC) < 0)
				fail("cannot open", a);
		}
	}
	if (fork_after && (child = fork()) < 0)
		fail("cannot fork", "-f");
	if (child > 0)
		printf("ready %d\n", (int)child);
	else if (!fork_after)
		printf("ready\n");
	fflush(stdout);

	char buf[256];
	while (!stop) {
		ssize_t n = read(0, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	if (child > 0) {
		if (stop)
			kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return 0;
}
