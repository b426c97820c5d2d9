/* kmask: which events a watcher asks of the kernel.
 *
 *   kmask LINE COMMAND...
 *
 * Runs COMMAND (stdout on /dev/null, stderr on a pipe), waits for LINE on
 * its stderr, reads the "inotify wd:" lines of every inotify fd it holds in
 * /proc/PID/fdinfo, stops it, and prints one line on stdout:
 *
 *   WATCHES UNION DISTINCT EVENTS
 *
 * UNION is the OR of all watches' masks in hex (as fdinfo shows them),
 * DISTINCT the number of different masks, EVENTS the union's event names
 * (comma-separated, inotifywait's spelling; "-" for none). Every event in
 * a watch's mask costs the writers that cause it (the kernel queues it) and
 * the watcher (it reads and drops it), whether it is reported or not.
 *
 * Errors: a message, exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#define PROG "kmask"
#include "msg.h"
#include "child.h"
#include "proc.h"

struct seen {
	uint32_t all;
	uint32_t masks[64];
	size_t n;
	bool more; /* over 64 distinct masks */
};

static void add(void *ctx, const struct proc_watch *w)
{
	struct seen *s = ctx;
	s->all |= w->mask;
	for (size_t i = 0; i < s->n; i++)
		if (s->masks[i] == w->mask)
			return;
	if (s->n < sizeof(s->masks) / sizeof(s->masks[0]))
		s->masks[s->n++] = w->mask;
	else
		s->more = true;
}

static const struct {
	uint32_t bit;
	const char *name;
} names[] = {
	{IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
	{IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
	{IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
	{IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
	{IN_MOVE_SELF, "MOVE_SELF"}, {IN_UNMOUNT, "UNMOUNT"}, {IN_Q_OVERFLOW, "Q_OVERFLOW"},
	{IN_IGNORED, "IGNORED"}, {IN_ONLYDIR, "ONLYDIR"}, {IN_DONT_FOLLOW, "DONT_FOLLOW"},
	{IN_EXCL_UNLINK, "EXCL_UNLINK"}, {IN_MASK_ADD, "MASK_ADD"}, {IN_ISDIR, "ISDIR"},
	{IN_ONESHOT, "ONESHOT"},
};

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		puts("usage: kmask LINE COMMAND...\n"
		     "Start COMMAND, wait for LINE on its stderr, and print the events its\n"
		     "inotify watches ask for: WATCHES UNION DISTINCT EVENTS.");
		return 0;
	}
	if (argc < 3) {
		msg("usage: kmask LINE COMMAND... (try 'kmask --help')");
		return 1;
	}
	child_catch_signals();
	struct child c;
	if (child_start(&c, argv + 2, "/dev/null") < 0)
		return 1;
	if (child_wait_line(&c, argv[1], 600, NULL) < 0) {
		child_close(&c);
		return 1;
	}
	struct seen s = {0};
	long n = proc_inotify_watches(c.pid, add, &s);
	child_close(&c);
	if (n < 0) {
		msg("cannot read the fds of '%s'", argv[2]);
		return 1;
	}
	printf("%ld %x %zu%s ", n, s.all, s.n, s.more ? "+" : "");
	const char *sep = "";
	uint32_t rest = s.all;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(s.all & names[i].bit))
			continue;
		printf("%s%s", sep, names[i].name);
		sep = ",";
		rest &= ~names[i].bit;
	}
	if (rest)
		printf("%s0x%x", sep, rest);
	else if (!*sep)
		putchar('-');
	putchar('\n');
	return 0;
}
