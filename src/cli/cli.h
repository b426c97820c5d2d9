/* What the subcommands share. The CLI talks to the engine only through
 * include/vigil.h. */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* The name messages start with: "vigil wait", or "inotifywait" when vigil
 * was invoked under that name. */
extern const char *cli_prog;

/* "PROG: message\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line explaining why PATH could not be watched (ERR negative errno),
 * naming the sysctl to raise when a limit was hit. */
void cli_watch_error(const char *path, int err);
/* The same for creating the instance. */
void cli_instance_error(int err);

/* Parse a non-negative number of seconds (fractions allowed); false if bad. */
bool cli_parse_seconds(const char *s, double *ret);

int cmd_wait(int argc, char **argv);

#endif
