/* vigil wait: inotifywait, with a sound engine underneath. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "mqtt.h"
#include "wait_publish.h"
#include "watchargs.h"
#include "vigil.h"

static const char wait_help[] =
	"Usage: %s [OPTION]... FILE...\n"
	"Print filesystem events on FILEs as they happen (-m), or wait for one.\n"
	"Options and output are those of inotifywait.\n"
	"\n"
	"  -h, --help              show this help and exit\n"
	"  @FILE                   exclude FILE (and, if a directory, all below it)\n"
	"      --fromfile FILE     read the FILEs to watch from FILE, one per line\n"
	"                          ('-' for stdin; a line starting with @ excludes)\n"
	"  -m, --monitor           keep printing events instead of exiting after one\n"
	"  -d, --daemon            like -m, in the background once the watches are\n"
	"                          set, printing to the -o file; messages to syslog\n"
	"  -s, --syslog            send messages to syslog instead of stderr\n"
	"  -r, --recursive         watch directories recursively, including ones\n"
	"                          created or moved in later (none is missed)\n"
	"      --keep-going        when a FILE, or directories below one, cannot be\n"
	"                          watched (the watch limit), say which and watch\n"
	"                          the rest instead of exiting\n"
	"  -P, --no-dereference    do not follow a symbolic link given as FILE\n"
	"  -e, --event EVENT[,..]  listen for these events only (repeatable)\n"
	"  -t, --timeout SECONDS   exit with status 2 after SECONDS without an event\n"
	"                          (0: never; negative: set up the watches and exit)\n"
	"      --exclude REGEX     do not report, and do not watch, paths matching\n"
	"                          the POSIX extended REGEX (repeatable: all apply)\n"
	"      --excludei REGEX    like --exclude, case-insensitive\n"
	"      --include REGEX     report only files matching REGEX (repeatable)\n"
	"      --includei REGEX    like --include, case-insensitive\n"
	"  -q, --quiet             do not print the set-up messages; twice: print\n"
	"                          no events either\n"
	"  -o, --outfile FILE      write events to FILE instead of stdout\n"
	"  -c, --csv               print events as CSV: watched,EVENTS,name\n"
	"      --format FMT        print events as FMT: %%w watched directory, %%f\n"
	"                          name, %%e events, %%Xe events separated by X, %%T\n"
	"                          time (see --timefmt), %%c cookie, %%F old path of\n"
	"                          a paired move, %%p pid and %%P command name of the\n"
	"                          process that made the change (fanotify only;\n"
	"                          empty when not known), %%0 NUL, %%n newline, %%%% a %%\n"
	"      --no-newline        do not end each --format line with a newline\n"
	"      --timefmt FMT       strftime(3) format for %%T\n"
	"      --json              print one JSON object per event (path, dir, name,\n"
	"                          events, cookie, from, synthetic, time, pid, comm)\n"
	"      --pair-moves        report a rename as one MOVE event; its old path is\n"
	"                          %%F, or \"from\" in --json\n"
	"      --publish URL       send each event, as its --json object with \"host\",\n"
	"                          to the MQTT broker at mqtt[s]://[USER@]HOST[:PORT]/\n"
	"                          TOPIC ({host} in TOPIC), QoS 1, instead of printing\n"
	"                          it; without -m, exit once the broker has it\n"
	"      --mqtt-auth FILE, --mqtt-ca FILE, --mqtt-cert FILE, --mqtt-key FILE,\n"
	"      --mqtt-client-id ID, --mqtt-version 5|3.1.1|auto  as for vigil run\n"
	"      --no-names          do not keep the names each watched directory holds\n"
	"                          (with -r: about 31 bytes and the name per file);\n"
	"                          after an overflow, what appeared in and vanished\n"
	"                          from a known directory is then not reported\n"
	WATCHARGS_BACKEND_HELP
	"\n"
	"Debugging:\n"
	"      --debug-watches     on exit, print every watch held, one per line as\n"
	"                          'WD PATH', then the kernel's as 'kernel WD INODE'\n"
	"                          (hexadecimal; with inotify only), on stderr (to\n"
	"                          check vigil's view of the tree against the disk)\n"
	"\n"
	"Events: access modify attrib close_write close_nowrite close open moved_to\n"
	"moved_from move move_self create delete delete_self unmount (default: all).\n"
	"Entries found in a new directory before its watch was in place are reported\n"
	"as CREATE (or as CLOSE_WRITE or MOVED_TO when only those were asked for).\n"
	"On a polled directory, CLOSE_WRITE means the file has not changed for one\n"
	"interval; open, access and close_nowrite are never seen there.\n"
	"\n"
	"Exit status: 0 an event was received; 1 an event not asked for (such as\n"
	"the watched file's removal) or an error; 2 the timeout passed; 141 the\n"
	"reader of the pipe on standard output went away.\n";

enum {
	OPT_FORMAT = OPT_WATCHARGS_END, OPT_TIMEFMT, OPT_NO_NEWLINE, OPT_JSON,
	OPT_PAIR, OPT_NO_NAMES, OPT_DEBUG_WATCHES, OPT_PUBLISH, OPT_MQTT_AUTH, OPT_MQTT_CA,
	OPT_MQTT_CERT, OPT_MQTT_KEY, OPT_MQTT_CLIENT_ID, OPT_MQTT_VERSION,
};

static const struct option wait_options[] = {
	{"help", no_argument, NULL, 'h'},
	{"monitor", no_argument, NULL, 'm'},
	{"daemon", no_argument, NULL, 'd'},
	{"syslog", no_argument, NULL, 's'},
	{"timeout", required_argument, NULL, 't'},
	{"quiet", no_argument, NULL, 'q'},
	{"outfile", required_argument, NULL, 'o'},
	{"csv", no_argument, NULL, 'c'},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"timefmt", required_argument, NULL, OPT_TIMEFMT},
	{"no-newline", no_argument, NULL, OPT_NO_NEWLINE},
	{"json", no_argument, NULL, OPT_JSON},
	{"pair-moves", no_argument, NULL, OPT_PAIR},
	{"no-names", no_argument, NULL, OPT_NO_NAMES},
	{"debug-watches", no_argument, NULL, OPT_DEBUG_WATCHES},
	{"publish", required_argument, NULL, OPT_PUBLISH},
	{"mqtt-auth", required_argument, NULL, OPT_MQTT_AUTH},
	{"mqtt-ca", required_argument, NULL, OPT_MQTT_CA},
	{"mqtt-cert", required_argument, NULL, OPT_MQTT_CERT},
	{"mqtt-key", required_argument, NULL, OPT_MQTT_KEY},
	{"mqtt-client-id", required_argument, NULL, OPT_MQTT_CLIENT_ID},
	{"mqtt-version", required_argument, NULL, OPT_MQTT_VERSION},
	WATCHARGS_LONG_OPTIONS,
	{0},
};

static int print_watch(void *ctx, int wd, const char *path)
{
	fprintf(ctx, "%d %s\n", wd, path);
	return 0;
}

/* The inotify descriptor behind vigil_fd(), an epoll set (its fdinfo
 * names each descriptor it holds as "tfd: N"), or -1. */
static int inotify_fd(int epfd)
{
	char p[64], line[512], target[64];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", epfd);
	FILE *in = fopen(p, "re");
	int found = -1, tfd;
	while (in && found < 0 && fgets(line, sizeof(line), in)) {
		if (sscanf(line, "tfd: %d", &tfd) != 1)
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", tfd);
		ssize_t n = readlink(p, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = '\0', strcmp(target, "anon_inode:inotify") == 0))
			found = tfd;
	}
	if (in)
		fclose(in);
	return found;
}

/* --debug-watches, the kernel's side: each watch of our instance as
 * "kernel WD INODE" (hexadecimal, as fdinfo has them), read at the same
 * moment as vigil's view, so the two compare without a race. */
static void print_kernel_watches(FILE *f, int fd)
{
	char p[64], line[512];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	FILE *in = fopen(p, "re");
	if (!in) {
		fprintf(f, "kernel: cannot read '%s': %s\n", p, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), in)) {
		unsigned wd;
		unsigned long ino;
		if (sscanf(line, "inotify wd:%x ino:%lx", &wd, &ino) == 2)
			fprintf(f, "kernel %x %lx\n", wd, ino);
	}
	fclose(in);
}

/* Standard output, when its reader can go away while no event comes (a
 * pipe, a socket): watched, so that vigil leaves with it; else -1. */
static int reader_fd(FILE *f)
{
	struct stat st;
	int fd = fileno(f);
	if (fd < 0 || fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return -1;
	return fd;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds until DEADLINE (CLOCK_MONOTONIC ns), rounded up: 0 once it
 * has passed, -1 when there is none (DEADLINE 0). */
static int ms_until(uint64_t deadline)
{
	if (!deadline)
		return -1;
	uint64_t now = now_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Wait up to MS (-1: no limit) until V may have something to do, or the
 * reader of OUT_FD goes away: -EPIPE then, else 0. */
static int wait_reader(vigil *v, int out_fd, int ms)
{
	int md = vigil_next_deadline_ms(v);
	if (md >= 0 && (ms < 0 || md < ms))
		ms = md;
	struct pollfd p[2] = {{.fd = vigil_fd(v), .events = POLLIN}, {.fd = out_fd}};
	if (poll(p, 2, ms) < 0 && errno != EINTR)
		return -errno;
	return p[1].revents & (POLLERR | POLLHUP) ? -EPIPE : 0;
}

/* The option conflicts inotifywait refuses, in its words and order. */
static bool check_conflicts(const struct out *out, bool csv, bool json,
			    const char *timefmt, bool daemon, const char *outfile)
{
	if (csv && out->format) {
		cli_say(("-c and --format cannot both be specified."),
			("'--csv' and '--format' cannot both be given"));
		return false;
	}
	if (json && (csv || out->format)) {
		cli_error("'--json' and '%s' cannot both be given", csv ? "--csv" : "--format");
		return false;
	}
	if (!out->newline && !out->format) {
		cli_say(("--no-newline cannot be specified without --format."),
			("'--no-newline' needs '--format'"));
		return false;
	}
	if (timefmt && !out->format) {
		cli_say(("--timefmt cannot be specified without --format."),
			("'--timefmt' needs '--format'"));
		return false;
	}
	if (out->format && !format_check(out->format, timefmt))
		return false;
	if (daemon && !outfile) {
		cli_say(("-o must be specified with -d."),
			("'--daemon' needs '--outfile'"));
		return false;
	}
	return true;
}

/* -o: appended to, created private (0600) as inotifywait does. */
static FILE *open_outfile(const char *name)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f) {
		cli_say(("Failed to open output file %s", name),
			("cannot open '%s': %s", name, cli_strerror(errno)));
		if (fd >= 0)
			close(fd);
	}
	return f;
}

/* -d: go to the background once the watches are set, so that a failure is
 * still this process's exit status. Events go to the -o file (already
 * open as OUT), messages to syslog. */
static bool daemonize(FILE *out)
{
	fflush(stderr);
	if (daemon(0, 0) < 0) {
		cli_say(("Failed to daemonize!"),
			("cannot go to the background: %s", cli_strerror(errno)));
		return false;
	}
	if (dup2(fileno(out), STDOUT_FILENO) < 0)
		return false;
	cli_use_syslog();
	return true;
}

int cmd_wait(int argc, char **argv)
{
	bool monitor = false, pair = false, csv = false, json = false, no_names = false;
	bool debug_watches = false, daemon = false, use_syslog = false;
	bool outfile_twice = false, unmounted = false;
	int quiet = 0;
	double timeout = 0;
	const char *outfile = NULL, *timefmt = NULL;
	struct out out = {.kind = OUT_NATIVE, .newline = true};
	struct watchargs args = {0};
	vigil *v = NULL;
	int status = 1, opt, r;
	const char *publish = NULL;
	struct mqtt_opts mqtt = {0};
	bool mqtt_opt = false;
	struct wait_pub *pub = NULL;

	if (cli_compat == CLI_NATIVE)
		argv[0] = (char *)cli_prog; /* getopt's messages */
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "hmdsrPe:t:qo:cIFSM", wait_options, NULL)) != -1) {
		if ((r = watchargs_option(&args, opt, optarg)) != 0) {
			if (r < 0)
				goto out;
			continue;
		}
		switch (opt) {
		case 'h':
			printf(wait_help, cli_prog);
			status = 0;
			goto out;
		case 'm':
			monitor = true;
			break;
		case 'd':
			daemon = monitor = use_syslog = true;
			break;
		case 's':
			use_syslog = true;
			break;
		case 't':
			if (!cli_parse_seconds(optarg, &timeout)) {
				cli_say(("'%s' is not a valid timeout value.\n"
					 "Please specify a long int value.", optarg),
					("'%s' is not a valid timeout; give seconds", optarg));
				goto out;
			}
			break;
		case 'q':
			quiet++;
			break;
		case 'o':
			outfile_twice = outfile != NULL;
			outfile = optarg;
			if (outfile_twice) {
				cli_say(("Multiple --outfile options given."),
					("'--outfile' given twice; give one file"));
				goto out;
			}
			break;
		case 'c':
			csv = true;
			out.kind = OUT_CSV;
			break;
		case OPT_FORMAT:
			out.format = optarg;
			break;
		case OPT_TIMEFMT:
			timefmt = optarg;
			break;
		case OPT_NO_NEWLINE:
			out.newline = false;
			break;
		case OPT_JSON:
			json = true;
			out.kind = OUT_JSON;
			break;
		case OPT_PAIR:
			pair = true;
			break;
		case OPT_NO_NAMES:
			no_names = true;
			break;
		case OPT_DEBUG_WATCHES:
			debug_watches = true;
			break;
		case OPT_PUBLISH:
			publish = optarg;
			break;
		case OPT_MQTT_AUTH:
			mqtt.auth_file = optarg;
			mqtt_opt = true;
			break;
		case OPT_MQTT_CA:
			mqtt.ca_file = optarg;
			mqtt_opt = true;
			break;
		case OPT_MQTT_CERT:
			mqtt.cert_file = optarg;
			mqtt_opt = true;
			break;
		case OPT_MQTT_KEY:
			mqtt.key_file = optarg;
			mqtt_opt = true;
			break;
		case OPT_MQTT_CLIENT_ID:
			mqtt.client_id = optarg;
			mqtt_opt = true;
			break;
		case OPT_MQTT_VERSION:
			mqtt_opt = true;
			if (strcmp(optarg, "5") == 0)
				mqtt.version = 5;
			else if (strcmp(optarg, "3.1.1") == 0)
				mqtt.version = 4;
			else if (strcmp(optarg, "auto") != 0) {
				cli_error("'%s' is not an MQTT version; give 5, 3.1.1 or auto", optarg);
				goto out;
			}
			break;
		default:
			goto out; /* getopt said why */
		}
	}
	if (!check_conflicts(&out, csv, json, timefmt, daemon, outfile))
		goto out;
	if (publish) {
#ifndef VIGIL_MQTT
		cli_error("'--publish': %s", MQTT_NOT_BUILT);
		goto out;
#endif
		if (csv || out.format || outfile || daemon) {
			cli_error("'--publish' sends each event as --json has it, instead of printing it; "
				  "'%s' has nothing to do with it", csv ? "--csv" : out.format ?
				  "--format" : outfile ? "--outfile" : "--daemon");
			goto out;
		}
	} else if (mqtt_opt) {
		cli_error("the --mqtt-* options are for a broker; give '--publish URL' too");
		goto out;
	}
	if (out.format)
		out.kind = OUT_FORMAT;
	out.timefmt = timefmt;
	if (watchargs_finish(&args, argc, argv, optind) < 0)
		goto out;
	uint32_t mask = args.mask ? args.mask : IN_ALL_EVENTS;
	if (publish && wait_pub_new(publish, &mqtt, &pub) < 0)
		goto out;

	out.f = stdout;
	if (outfile && !(out.f = open_outfile(outfile)))
		goto out;
	static char obuf[64 * 1024];
	setvbuf(out.f, obuf, _IOFBF, sizeof(obuf));

	unsigned backend;
	if (watchargs_backend(&args, &backend) < 0)
		goto out;
	if ((r = vigil_new((pair ? VIGIL_PAIR_MOVES : 0) | (no_names ? VIGIL_NO_NAMES : 0) | backend, &v)) < 0) {
		cli_instance_error(r);
		goto out;
	}
	if (watchargs_filters(&args, v) < 0 || watchargs_poll_setup(&args, v) < 0)
		goto out;
	if (use_syslog && !daemon)
		cli_use_syslog();

	if (!quiet)
		cli_raw("%s", watchargs_setting_up(&args));
	if (watchargs_watch(&args, v, mask) < 0)
		goto out;
	watchargs_mounts(&args, v, quiet);
	if (!quiet)
		cli_raw("Watches established.");
	if (timeout < 0) {
		status = 0;
		goto out;
	}
	if (daemon && !daemonize(out.f))
		goto out;

	uint64_t wait_ns = timeout > 0 ? (timeout >= 1e9 ? UINT64_C(1000000000) * 1000000000u
							 : (uint64_t)(timeout * 1e9 + 0.5))
				       : 0;
	uint64_t deadline = 0; /* set when waiting starts, cleared by an event */
	int out_fd = out.f == stdout && !daemon && quiet < 2 && !pub ? reader_fd(out.f) : -1;
	for (;;) {
		const struct vigil_event *ev;
		r = vigil_next(v, 0, &ev);
		if (r == 0) {
			if ((r = cli_flush(out.f, "events", outfile)) != 0) {
				status = r;
				goto out;
			}
			if (!deadline && wait_ns)
				deadline = now_ns() + wait_ns;
			/* The engine waits, pacing its reads in a storm. With a
			 * reader that can leave, this waits on both first, then
			 * gives the engine a moment to read what woke it. */
			int ms = ms_until(deadline);
			if (ms && pub) {
				/* the broker's socket and timers beside the engine's */
				if ((r = wait_pub_wait(pub, v, ms)) < 0)
					goto out;
				ms = ms_until(deadline);
				if (ms != 0)
					ms = r > 0 ? 1 : 0; /* the engine's turn, or again */
				r = 0;
			} else if (ms && out_fd >= 0) {
				if ((r = wait_reader(v, out_fd, ms)) == -EPIPE) {
					status = CLI_READER_GONE;
					goto out;
				}
				ms = ms_until(deadline);
				if (r == 0 && ms != 0)
					ms = 1;
			}
			if (r >= 0)
				r = ms ? vigil_next(v, ms, &ev) : 0;
			if (r == 0) {
				if (ms_until(deadline) == 0) {
					status = 2;
					goto out;
				}
				continue;
			}
		}
		if (r == -EINTR)
			continue;
		if (r < 0) {
			cli_say(("%s", strerror(-r)),
				("cannot read events: %s", cli_strerror(-r)));
			goto out;
		}
		deadline = 0;
		if (watchargs_mounts(&args, v, quiet))
			unmounted = true;
		if (unmounted && !vigil_watch_count(v)) {
			/* a polled mount went away with everything watched */
			cli_error("nothing left to watch");
			goto out;
		}
		if (ev->flags & VIGIL_EVENT_ERROR) {
			cli_event_error(ev);
			continue;
		}
		if (ev->flags & VIGIL_EVENT_OVERFLOW) {
			/* inotifywait says nothing here; losing events silently is
			 * what vigil is for not doing */
			if (quiet < 2)
				cli_error("the kernel event queue overflowed and events were lost; "
					  "re-scanned the watched trees");
			if (!(mask & IN_Q_OVERFLOW))
				continue;
		}
		bool asked = (ev->mask & mask & (IN_ALL_EVENTS | IN_Q_OVERFLOW | IN_IGNORED)) != 0;
		if (asked && pub)
			wait_pub_event(pub, ev);
		else if (asked && quiet < 2)
			out_event(&out, ev);
		if (!monitor) {
			status = asked ? 0 : 1;
			goto out;
		}
	}
out:
	/* what was published is the broker's before vigil goes (a signal
	 * ends the wait) */
	while (pub && !wait_pub_done(pub) && wait_pub_wait(pub, NULL, -1) >= 0)
		;
	wait_pub_free(pub);
	if (v && debug_watches) {
		vigil_foreach_watch(v, print_watch, stderr);
		/* the fanotify backends hold no inotify instance: no kernel
		 * watches to list (their marks carry no watch descriptor) */
		int ifd = inotify_fd(vigil_fd(v));
		if (ifd >= 0)
			print_kernel_watches(stderr, ifd);
	}
	if (out.f && (r = cli_flush(out.f, "events", outfile)) != 0 &&
	    (status == 0 || status == 2 || r == CLI_READER_GONE))
		status = r;
	if (out.f && out.f != stdout)
		fclose(out.f);
	vigil_free(v);
	watchargs_free(&args);
	return status;
}
