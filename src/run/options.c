/* vigil run's command line: options into a rule (through rule_set(), as
 * a rules file's keys), or a rules file to load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "journal.h"
#include "run.h"

static const char run_help[] =
	"Usage: %s [OPTION]... PATH... -- COMMAND [ARG]...\n"
	"       %s [OPTION]... --subscribe URL -- COMMAND [ARG]...\n"
	"       %s --rules FILE [OPTION]...\n"
	"       %s --check FILE\n"
	"       %s --state DIR --list [STATE] | --retry-failed [PATH]...\n"
	"Run COMMAND on each file under PATH once it is complete, safely: file names\n"
	"reach it as whole arguments, never through a shell.\n"
	"\n"
	"What and where:\n"
	"  -r, --recursive          watch the directories below PATH too\n"
	"  -e, --events EVENT[,..]  events that make a file count (default:\n"
	"                           close_write,moved_to: a file that is complete)\n"
	"      --match GLOB         only names matching GLOB (repeatable; with a '/',\n"
	"                           the path below PATH, '**' any depth)\n"
	"      --exclude GLOB       not these (repeatable)\n"
	"      --exclude-regex RE   not paths matching the extended regex RE\n"
	"      --files, --dirs      only files, only directories\n"
	"      --hidden             also names starting with '.' (and what is below)\n"
	"When:\n"
	"      --settle DURATION    count a path once it has been quiet that long\n"
	"      --initial            also run on the matching files already there\n"
	"                           (with --state, a start always runs on those\n"
	"                           new or changed since their last job)\n"
	"      --backend auto|inotify|poll|fanotify|filesystem|mount\n"
	"                           auto (the default): inotify, and polling where it\n"
	"                           cannot see other machines' changes (NFS, SMB,\n"
	"                           sshfs, FUSE, ...); inotify anyway; poll\n"
	"                           everything; fanotify, which says who made each\n"
	"                           change (VIGIL_PID); filesystem or mount: fanotify\n"
	"                           with one mark for the whole filesystem or mount,\n"
	"                           nothing walked (needs CAP_SYS_ADMIN)\n"
	"      --poll-interval DURATION  how often a polled directory is looked at\n"
	"                           (default 2s)\n"
	"How many:\n"
	"      --batch N            up to N paths per job ('{}' alone: one argument each)\n"
	"      --batch-wait DURATION  how long a batch waits to fill\n"
	"      --jobs N             jobs at once (default 1)\n"
	"      --min-interval DURATION  at most one job start per DURATION\n"
	"      --on-busy queue|skip|restart|signal  when the jobs are all running\n"
	"      --stop-signal SIG    how a job is stopped (default TERM); --stop-timeout\n"
	"                           DURATION before SIGKILL (default 10s)\n"
	"      --timeout DURATION   stop a job that runs longer\n"
	"      --loop-burst N, --loop-window DURATION  the loop guard: a path that\n"
	"                           changes while its job runs or within DURATION\n"
	"                           after, N jobs in a row, is slowed (10, 1s)\n"
	"Failures and restarts:\n"
	"      --state DIR          keep the queue, the jobs in flight and the files\n"
	"                           handled in DIR (SQLite): a start catches up on\n"
	"                           what changed, runs again what a crash cut short\n"
	"      --state-sync group|full|normal|off  how commits reach the disk\n"
	"                           (default group: within an fsync, behind the loop)\n"
	"      --retry N            run a failed job's paths again, N times at most\n"
	"      --retry-delay DURATION  before the first retry, doubled each time, with\n"
	"                           jitter (default 10s), up to --retry-max-delay\n"
	"                           DURATION (default 1h)\n"
	"      --success-exit-status LIST  the exit statuses and signals that count as\n"
	"                           success (default 0)\n"
	"How the paths reach COMMAND:\n"
	"      {} {path} {dir} {name} {event} {from} {rule} in its arguments, the same\n"
	"      in VIGIL_PATH, VIGIL_DIR, ... (VIGIL_COUNT in batches; VIGIL_ATTEMPT), and\n"
	"      --stdin paths0|lines|json|none\n"
	"MQTT (URL: mqtt[s]://[USER@]HOST[:PORT]/TOPIC):\n"
	"      --publish URL        each settled file (or batch) is a message to TOPIC\n"
	"                           ({host}, {rule}, {name} in it), QoS 1, done once\n"
	"                           the broker has it; with or without a COMMAND\n"
	"      --subscribe URL      run on the files other vigils publish (TOPIC may\n"
	"                           hold '+' and '#'); PATH is then optional\n"
	"      --share GROUP        split the messages with the other workers of GROUP\n"
	"      --map REMOTE=LOCAL   the publisher's paths under REMOTE are under LOCAL\n"
	"                           here (repeatable); any other path is refused\n"
	"      --mqtt-auth FILE     the password (USER:PASSWORD without a user in URL)\n"
	"      --mqtt-ca FILE, --mqtt-cert FILE, --mqtt-key FILE  TLS (mqtts://)\n"
	"      --mqtt-client-id ID  the session's name (default vigil-HOST-RULE)\n"
	"      --mqtt-version 5|3.1.1|auto  (default auto: 5, or 3.1.1 where refused)\n"
	"Running:\n"
	"      --rules FILE         the rules in FILE (see vigil-rules(5)); SIGHUP\n"
	"                           reads it again\n"
	"      --check FILE         check FILE and exit\n"
	"      --list [waiting|running|done|failed]  with --state DIR (or --rules FILE):\n"
	"                           each path, its attempts, its last result; --json\n"
	"      --retry-failed [PATH]...  queue the failed paths again, beside a vigil\n"
	"                           running on the same state\n"
	"      --log-format text|json  job start and end lines on stderr\n"
	"      --capture none|stderr|all  the jobs' output streams that go into the\n"
	"                           log, a line each (default: stderr with json)\n"
	"  -q, --quiet              log only failures\n"
	"  -h, --help               show this help and exit\n"
	"Durations: 500ms, 2s, 1.5m, 1h. SIGTERM or SIGINT: no new jobs, running ones\n"
	"finish (up to --stop-timeout), a summary, exit 0 (1 when the state could not\n"
	"be written). SIGUSR1: the counters.\n";

/* Set KEY from the command line; a bad value is one line naming the
 * option ("'--settle': '5x' is not a valid duration; ..."). */
static int set_or_say(struct rule *r, const char *key, const char *value)
{
	char *err = NULL;
	if (rule_set(r, key, value, &err) == 0)
		return 0;
	if (!err)
		cli_error("out of memory");
	else if (strcmp(key, "path") == 0)
		cli_error("%s", err);
	else
		cli_error("'--%s': %s", key, err);
	free(err);
	return -1;
}

/* The short options in ARGV[*I], combined as getopt(3) has them: "-rq",
 * and -e takes the rest of the word or the next one ("-reclose_write",
 * "-re close_write"). 0, 1 after -h (the help is printed), -1 after an
 * error (said). *RULE_SET becomes true when one sets the rule. */
static int short_options(struct run *run, struct rule *cli, int argc, char **argv,
			 int *i, bool *rule_set)
{
	const char *a = argv[*i];
	for (const char *p = a + 1; *p; p++) {
		switch (*p) {
		case 'h':
			printf(run_help, cli_prog, cli_prog, cli_prog, cli_prog, cli_prog);
			return 1;
		case 'q':
			run->quiet = true;
			break;
		case 'r':
			if (set_or_say(cli, "recursive", NULL) < 0)
				return -1;
			*rule_set = true;
			break;
		case 'e': {
			const char *value = p[1] ? p + 1 : *i + 1 < argc ? argv[++*i] : NULL;
			if (!value) {
				cli_error("option requires an argument -- 'e'");
				return -1;
			}
			if (set_or_say(cli, "events", value) < 0)
				return -1;
			*rule_set = true;
			return 0;
		}
		default:
			cli_error("invalid option -- '%c'; see '%s --help'", *p, cli_prog);
			return -1;
		}
	}
	return 0;
}

/* --list [STATES], --retry-failed, --json. 0, or -1 (said). */
static int state_option(struct run *run, const char *key, const char *value, int argc,
			char **argv, int *i)
{
	static const char *const states[] = {"waiting", "running", "done", "failed"};
	if (strcmp(key, "json") == 0) {
		if (value) {
			cli_error("option '--json' takes no argument");
			return -1;
		}
		run->list_json = true;
		return 0;
	}
	enum run_mode mode = strcmp(key, "list") == 0 ? MODE_LIST : MODE_RETRY;
	if (run->mode != MODE_RUN && run->mode != mode) {
		cli_error("'--list' and '--retry-failed' go one at a time");
		return -1;
	}
	run->mode = mode;
	if (mode == MODE_RETRY) {
		if (value) {
			cli_error("option '--retry-failed' takes no argument; the paths follow it");
			return -1;
		}
		return 0;
	}
	/* --list, --list=failed, --list failed,done */
	if (!value && *i + 1 < argc && strchr("wrdf", argv[*i + 1][0]) &&
	    argv[*i + 1][0] != '\0') {
		size_t n = strcspn(argv[*i + 1], ",");
		for (size_t k = 0; k < 4; k++)
			if (strlen(states[k]) == n && strncmp(argv[*i + 1], states[k], n) == 0)
				value = argv[++*i];
	}
	if (!value) {
		run->list_states = J_ALL;
		return 0;
	}
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, ",");
		size_t k;
		for (k = 0; k < 4; k++)
			if (strlen(states[k]) == n && strncmp(p, states[k], n) == 0)
				break;
		if (k == 4) {
			cli_error("'%.*s' is not a state to list; give waiting, running, done or failed",
				  (int)n, p);
			return -1;
		}
		run->list_states |= 1u << k;
		p += n;
		p += strspn(p, ",");
	}
	return 0;
}

int run_options(struct run *run, int argc, char **argv, struct rule **ret, size_t *ret_n)
{
	struct rule cli = {0};
	bool cli_used = false, have_cli = true;
	const char *rules_file = NULL, *check_file = NULL;
	struct rule *rules = NULL;
	size_t n_rules = 0;
	int status = 1;
	int capture = -1; /* by default: stderr with a JSON log, else none */

	if (rule_init(&cli, "run") < 0) {
		cli_error("out of memory");
		return 1;
	}
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			if (rule_set_argv(&cli, argv + i + 1, (size_t)(argc - i - 1)) < 0)
				goto nomem;
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (set_or_say(&cli, "path", a) < 0)
				goto out;
			cli_used = true;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			printf(run_help, cli_prog, cli_prog, cli_prog, cli_prog, cli_prog);
			status = 0;
			goto out;
		}
		if (strcmp(a, "--quiet") == 0) {
			run->quiet = true;
			continue;
		}
		if (a[1] != '-') {
			int r = short_options(run, &cli, argc, argv, &i, &cli_used);
			if (r < 0)
				goto out;
			if (r > 0) {
				status = 0;
				goto out;
			}
			continue;
		}
		char key[64];
		const char *value = NULL;
		const char *eq = strchr(a + 2, '=');
		size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (kl >= sizeof(key)) {
			cli_error("unrecognized option '%s'; see '%s --help'", a, cli_prog);
			goto out;
		}
		memcpy(key, a + 2, kl);
		key[kl] = '\0';
		value = eq ? eq + 1 : NULL;
		if (strcmp(key, "list") == 0 || strcmp(key, "retry-failed") == 0 ||
		    strcmp(key, "json") == 0) {
			if (state_option(run, key, value, argc, argv, &i) < 0)
				goto out;
			continue;
		}
		bool run_opt = strcmp(key, "rules") == 0 || strcmp(key, "check") == 0 ||
			       strcmp(key, "log-format") == 0 || strcmp(key, "capture") == 0;
		int takes = run_opt ? 1 : rule_key_takes_value(key);
		if (takes < 0 || strcmp(key, "command") == 0 || strcmp(key, "path") == 0) {
			cli_error("unrecognized option '--%s'; see '%s --help'", key, cli_prog);
			goto out;
		}
		if (takes && !value) {
			if (i + 1 >= argc) {
				cli_error("option '--%s' requires an argument", key);
				goto out;
			}
			value = argv[++i];
		} else if (!takes && value) {
			cli_error("option '--%s' takes no argument", key);
			goto out;
		}
		if (strcmp(key, "rules") == 0) {
			rules_file = value;
		} else if (strcmp(key, "check") == 0) {
			check_file = value;
		} else if (strcmp(key, "log-format") == 0) {
			if (strcmp(value, "json") == 0) {
				run->json_log = true;
			} else if (strcmp(value, "text") != 0) {
				cli_error("'%s' is not a log format; give text or json", value);
				goto out;
			}
		} else if (strcmp(key, "capture") == 0) {
			if (strcmp(value, "none") == 0)
				capture = 0;
			else if (strcmp(value, "stderr") == 0)
				capture = CAPTURE_STDERR;
			else if (strcmp(value, "all") == 0)
				capture = CAPTURE_STDOUT | CAPTURE_STDERR;
			else {
				cli_error("'%s' is not what --capture takes; give none, stderr or all",
					  value);
				goto out;
			}
		} else {
			if (set_or_say(&cli, key, value) < 0)
				goto out;
			/* --state goes with --rules too: the rules' default */
			if (strcmp(key, "state") != 0)
				cli_used = true;
		}
	}

	run->capture = capture >= 0 ? (unsigned)capture : run->json_log ? CAPTURE_STDERR : 0;
	if (run->mode != MODE_RUN) {
		/* --list, --retry-failed: the state of the rules file's rules,
		 * or of --state; the paths given are what to look at */
		if (check_file || (rules_file && (cli_used || cli.argv.len))) {
			cli_error("'--%s' takes the state from '--state DIR' or from '--rules FILE'",
				  run->mode == MODE_LIST ? "list" : "retry-failed");
			goto out;
		}
		if (rules_file) {
			char *err = NULL;
			if (rules_load(rules_file, &rules, &n_rules, &err) < 0) {
				cli_error("%s", err ? err : "out of memory");
				free(err);
				goto out;
			}
			for (size_t k = 0; k < n_rules; k++)
				if (cli.state && !rules[k].state &&
				    rule_set(&rules[k], "state", cli.state, &err) < 0)
					goto nomem;
		} else if (!cli.state) {
			cli_error("'--%s' needs the state: give '--state DIR' (or '--rules FILE')",
				  run->mode == MODE_LIST ? "list" : "retry-failed");
			goto out;
		}
		run->rules_file = rules_file;
		status = state_command(run, rules ? rules : &cli, rules ? n_rules : 1,
				       rules ? NULL : &cli.paths);
		goto out;
	}
	if (check_file || rules_file) {
		const char *file = check_file ? check_file : rules_file;
		if (cli_used || cli.argv.len) {
			cli_error("rules come from '%s' or from the command line, not both", file);
			goto out;
		}
		char *err = NULL;
		if (rules_load(file, &rules, &n_rules, &err) < 0) {
			cli_error("%s", err ? err : "out of memory");
			free(err);
			goto out;
		}
		for (size_t k = 0; k < n_rules; k++) {
			if (cli.state && !rules[k].state &&
			    rule_set(&rules[k], "state", cli.state, &err) < 0)
				goto nomem;
			if (rule_check(&rules[k], &err) < 0) {
				if (err)
					cli_error("%s:%u: %s", file, rules[k].line, err);
				free(err);
				goto out;
			}
		}
		if (check_file) {
			printf("%s: %zu rule%s, all valid\n", file, n_rules, n_rules == 1 ? "" : "s");
			status = 0;
			goto out;
		}
		run->rules_file = rules_file;
	} else {
		char *err = NULL;
		if (!cli.paths.len && !cli.argv.len && !cli.subscribe && !cli.publish) {
			cli_error("nothing to watch and nothing to run; see '%s --help'", cli_prog);
			goto out;
		}
		if (!cli.argv.len && !cli.publish) {
			cli_error("no command given; put it after '--', as in "
				  "'%s DIR -- COMMAND {}'", cli_prog);
			goto out;
		}
		if (rule_check(&cli, &err) < 0) {
			cli_error("%s", err ? err : "out of memory");
			free(err);
			goto out;
		}
		rules = malloc(sizeof(*rules));
		if (!rules)
			goto nomem;
		rules[0] = cli;
		have_cli = false;
		n_rules = 1;
	}

	if (have_cli)
		rule_fini(&cli);
	*ret = rules;
	*ret_n = n_rules;
	return -1;
nomem:
	cli_error("out of memory");
out:
	if (rules)
		rules_free(rules, n_rules);
	if (have_cli)
		rule_fini(&cli);
	return status;
}
