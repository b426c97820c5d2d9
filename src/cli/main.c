/* vigil: dispatch to a subcommand, or act as inotifywait under that name. */
#include <libgen.h>
#include <string.h>

#include "cli.h"
#include "vigil.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *prog;
	const char *summary;
} commands[] = {
	{"wait", cmd_wait, "vigil wait",
	 "print events as they happen, or wait for one (inotifywait)"},
	{"stats", cmd_stats, "vigil stats", "count events per file, print a table (inotifywatch)"},
	{"run", cmd_run, "vigil run", "run a command on each file once it is complete"},
	{"usage", cmd_usage, "vigil usage", "who holds inotify instances and watches, against the limits"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: vigil COMMAND [OPTION]... [ARG]...\n"
		   "Watch files on Linux and act on every change.\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  -h, --help     show this help and exit\n"
		   "  -V, --version  show the version and exit\n"
		   "\n'vigil help COMMAND' or 'vigil COMMAND --help' tells more.\n"
		   "Invoked as 'inotifywait', vigil is 'vigil wait'; as 'inotifywatch',\n"
		   "'vigil stats'; as 'fsnotifywait' and 'fsnotifywatch', the same with\n"
		   "fanotify by default.\n");
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *self = argc > 0 ? basename(argv[0]) : "vigil";
	/* inotify-tools 4.x's fsnotify* names: the same tools, over fanotify */
	cli_fsnotify = strcmp(self, "fsnotifywait") == 0 || strcmp(self, "fsnotifywatch") == 0;
	if (strcmp(self, "inotifywait") == 0 || strcmp(self, "fsnotifywait") == 0) {
		cli_prog = self;
		cli_compat = CLI_INOTIFYWAIT;
		return cmd_wait(argc, argv);
	}
	if (strcmp(self, "inotifywatch") == 0 || strcmp(self, "fsnotifywatch") == 0) {
		cli_prog = self;
		cli_compat = CLI_INOTIFYWATCH;
		return cmd_stats(argc, argv);
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	const char *arg = argv[1];
	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
		printf("vigil %s\n", vigil_version());
		return 0;
	}
	if (strcmp(arg, "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		const struct command *c = find(argv[2]);
		if (!c) {
			cli_error("'%s' is not a vigil command; see 'vigil --help'", argv[2]);
			return 1;
		}
		char *hargv[] = {argv[2], "--help", NULL};
		cli_prog = c->prog;
		return c->fn(2, hargv);
	}
	const struct command *c = find(arg);
	if (!c) {
		cli_error("'%s' is not a vigil command; see 'vigil --help'", arg);
		return 1;
	}
	cli_prog = c->prog;
	return c->fn(argc - 1, argv + 1);
}
