/* floor_read: the least a watcher can do with events, for benchmarks.
 *
 *   floor_read [--count N] [--idle SECONDS] [--echo] [--mask HEX] DIR...
 *
 * Watches each DIR (not recursively) with MASK (default: every event), says
 * "Watches established." on stderr as vigil and inotifywait do, then reads
 * the inotify fd in a plain blocking read() loop into a 256 KiB buffer and
 * counts the records, nothing else. It stops after N events (--count), or
 * after SECONDS without one (--idle; default 1 s when --count is not given,
 * 0 for never), or on SIGINT or SIGTERM, and prints one line on stdout:
 *
 *   EVENTS OVERFLOWS USER_US SYS_US
 *
 * OVERFLOWS counts IN_Q_OVERFLOW records (not in EVENTS): the kernel queue
 * filled up and events were lost. USER_US and SYS_US are its own CPU time
 * (getrusage), start-up included.
 *
 * With --echo it also writes the name of each event and a newline to stdout,
 * one write() per read(): the least a watcher that reports events must do,
 * the floor for latency. (The final line is not printed then.)
 *
 * This is the kernel's price for the events: whatever a watcher does on top
 * (paths, filters, formatting, output) is measured against it. The idle
 * timer is a signal every quarter second, not a syscall per read, so that
 * it costs nothing under load; with --idle 0 and no --count nothing ticks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#define PROG "floor_read"
#include "msg.h"
#include "args.h"

#define BUF_SIZE (256 * 1024)
#define TICK_US 250000

static volatile sig_atomic_t stop, ticks_idle;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_tick(int sig)
{
	(void)sig;
	ticks_idle++;
}

static void usage(FILE *f)
{
	fputs("usage: floor_read [--count N] [--idle SECONDS] [--echo] [--mask HEX] DIR...\n"
	      "Watch DIRs and count events in a plain read() loop until N of them, or\n"
	      "SECONDS without one (default 1; 0: never); print\n"
	      "EVENTS OVERFLOWS USER_US SYS_US.\n",
	      f);
}

static long long us(struct timeval tv)
{
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

int main(int argc, char **argv)
{
	uint64_t count = 0;
	double idle = -1;
	bool echo = false;
	uint32_t mask = IN_ALL_EVENTS;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--echo") == 0) {
			echo = true;
			continue;
		}
		if (strcmp(a, "--count") != 0 && strcmp(a, "--idle") != 0 && strcmp(a, "--mask") != 0) {
			msg("unknown option '%s' (try 'floor_read --help')", a);
			return 1;
		}
		if (i + 1 == argc) {
			msg("option '%s' needs a value", a);
			return 1;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--count") == 0) {
			if (parse_count(v, "--count", 1, &count) < 0)
				return 1;
		} else if (strcmp(a, "--idle") == 0) {
			if (strcmp(v, "0") == 0)
				idle = 0;
			else if (parse_seconds(v, "--idle", &idle) < 0)
				return 1;
		} else {
			char *end;
			errno = 0;
			unsigned long m = strtoul(v, &end, 16);
			if (!*v || *end || errno || m == 0 || m > UINT32_MAX) {
				msg("--mask must be a non-zero hex number, not '%s'", v);
				return 1;
			}
			mask = (uint32_t)m;
		}
	}
	if (i == argc) {
		msg("missing DIR (try 'floor_read --help')");
		return 1;
	}
	if (idle < 0)
		idle = count ? 0 : 1;

	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_tick;
	sigaction(SIGALRM, &sa, NULL);

	int fd = inotify_init1(IN_CLOEXEC);
	if (fd < 0) {
		msg("cannot make an inotify instance: %s", errstr(errno));
		return 1;
	}
	fputs("Setting up watches.\n", stderr);
	for (; i < argc; i++) {
		if (inotify_add_watch(fd, argv[i], mask) < 0) {
			msg("cannot watch '%s': %s", argv[i], errstr(errno));
			return 1;
		}
	}
	fputs("Watches established.\n", stderr);

	int idle_ticks = (int)(idle * 1000000 / TICK_US + 0.999);
	if (idle > 0) {
		struct itimerval it = {{0, TICK_US}, {0, TICK_US}};
		setitimer(ITIMER_REAL, &it, NULL);
	}
	static char buf[BUF_SIZE] __attribute__((aligned(__alignof__(struct inotify_event))));
	static char names[BUF_SIZE];
	uint64_t events = 0, overflows = 0;
	int status = 0;
	while (!stop && (!count || events < count) && (!idle_ticks || ticks_idle < idle_ticks)) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg("cannot read events: %s", errstr(errno));
			status = 1;
			break;
		}
		ticks_idle = 0;
		size_t out = 0;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			if (e->mask & IN_Q_OVERFLOW)
				overflows++;
			else
				events++;
			if (echo && e->len) {
				size_t l = strnlen(e->name, e->len);
				memcpy(names + out, e->name, l);
				out += l;
				names[out++] = '\n';
			}
			p += sizeof(*e) + e->len;
		}
		if (out && write(STDOUT_FILENO, names, out) < 0) {
			msg("cannot write: %s", errstr(errno));
			status = 1;
			break;
		}
	}
	if (!echo) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		printf("%" PRIu64 " %" PRIu64 " %lld %lld\n", events, overflows,
		       us(ru.ru_utime), us(ru.ru_stime));
	}
	return status;
}
