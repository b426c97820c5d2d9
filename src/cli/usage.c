/* vigil usage: who holds inotify instances and watches on this machine,
 * against the limits: the options, the totals per user, the warnings.
 * usage_scan.c reads /proc, usage_paths.c finds the paths, usage_print.c
 * writes the tables or the JSON. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "usage.h"

static const char usage_help[] =
	"Usage: %s [OPTION]...\n"
	"Show who holds inotify instances and watches on this machine: per process,\n"
	"the instances and watches it holds, most watches first; per user, the\n"
	"totals against fs.inotify.max_user_instances and max_user_watches.\n"
	"\n"
	"  -h, --help              show this help and exit\n"
	"  -p, --pid PID           only process PID (repeatable)\n"
	"  -u, --user USER         only the processes of USER, a name or a uid\n"
	"                          (repeatable)\n"
	"  -w, --watches           also list every watch: device, inode, events and\n"
	"                          path (found through the kernel's file handle, which\n"
	"                          needs CAP_DAC_READ_SEARCH, else by --search)\n"
	"  -s, --search DIR        look for the watched inodes below DIR, on DIR's\n"
	"                          filesystem only (repeatable; needs -w)\n"
	"      --all-filesystems   let --search enter other filesystems mounted below\n"
	"                          DIR too (never proc, sysfs or autofs)\n"
	"      --json              print it all as one JSON document\n"
	"\n"
	"Mounts where inotify cannot see other machines' changes (NFS, SMB, FUSE,\n"
	"...) are listed with the inotify watches held there, which see only this\n"
	"machine's changes, and the directories vigil polls there.\n"
	"A user over 90%% of a limit gets a line on stderr saying how to raise it.\n"
	"Processes that cannot be read (other users', when not root) are not counted;\n"
	"one line on stderr says how many there were.\n"
	"\n"
	"Exit status: 0 the report was printed; 1 an error.\n";

enum { OPT_ALL_FS = 256, OPT_JSON };

static const struct option usage_options[] = {
	{"help", no_argument, NULL, 'h'},
	{"pid", required_argument, NULL, 'p'},
	{"user", required_argument, NULL, 'u'},
	{"watches", no_argument, NULL, 'w'},
	{"search", required_argument, NULL, 's'},
	{"all-filesystems", no_argument, NULL, OPT_ALL_FS},
	{"json", no_argument, NULL, OPT_JSON},
	{0},
};

static bool add_pid(struct usage_scan *s, const char *arg)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0 || v > INT32_MAX) {
		cli_error("'%s' is not a process id", arg);
		return false;
	}
	for (size_t i = 0; i < s->n_pids; i++)
		if (s->pids[i] == (pid_t)v)
			return true;
	pid_t *grown = realloc((void *)s->pids, (s->n_pids + 1) * sizeof(*grown));
	if (!grown)
		return false;
	grown[s->n_pids++] = (pid_t)v;
	s->pids = grown;
	return true;
}

static bool add_user(struct usage_scan *s, const char *arg)
{
	struct passwd *pw = getpwnam(arg);
	uid_t uid;
	if (pw) {
		uid = pw->pw_uid;
	} else {
		char *end;
		errno = 0;
		unsigned long v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || v >= (uid_t)-1) {
			cli_error("'%s' is not a user", arg);
			return false;
		}
		uid = (uid_t)v;
	}
	for (size_t i = 0; i < s->n_uids; i++)
		if (s->uids[i] == uid)
			return true;
	uid_t *grown = realloc((void *)s->uids, (s->n_uids + 1) * sizeof(*grown));
	if (!grown)
		return false;
	grown[s->n_uids++] = uid;
	s->uids = grown;
	return true;
}

static struct usage_user *user_of(struct usage_report *r, uid_t uid)
{
	for (size_t i = 0; i < r->n_users; i++)
		if (r->users[i].uid == uid)
			return &r->users[i];
	struct usage_user *grown = realloc(r->users, (r->n_users + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	r->users = grown;
	struct passwd *pw = getpwuid(uid);
	struct usage_user *u = &r->users[r->n_users++];
	*u = (struct usage_user){.uid = uid, .name = pw ? strdup(pw->pw_name) : NULL};
	return u;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct usage_proc *x = *(struct usage_proc *const *)a;
	const struct usage_proc *y = *(struct usage_proc *const *)b;
	if (x->watches != y->watches)
		return x->watches > y->watches ? -1 : 1;
	if (x->instances != y->instances)
		return x->instances > y->instances ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_user(const void *a, const void *b)
{
	const struct usage_user *x = a, *y = b;
	if (x->watches != y->watches)
		return x->watches > y->watches ? -1 : 1;
	if (x->instances != y->instances)
		return x->instances > y->instances ? -1 : 1;
	return (x->uid > y->uid) - (x->uid < y->uid);
}

static int cmp_inst(const void *a, const void *b)
{
	const struct usage_instance *x = a, *y = b;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

static int cmp_watch(const void *a, const void *b)
{
	const struct usage_watch *x = a, *y = b;
	return (x->wd > y->wd) - (x->wd < y->wd);
}

/* Over 90% of LIMIT. */
static bool near(size_t used, long limit)
{
	return limit >= 0 && (unsigned long long)used * 10 > (unsigned long long)limit * 9;
}

/* Order the shown processes and sum up the users: an instance counts once,
 * under the holder the scan names for it (see usage_instance). */
static bool tally(struct usage_report *r)
{
	struct usage_scan *s = &r->scan;
	r->shown = malloc((s->n_procs ? s->n_procs : 1) * sizeof(*r->shown));
	if (!r->shown)
		return false;
	for (size_t i = 0; i < s->n_uids; i++)
		if (!user_of(r, s->uids[i]))
			return false;
	for (size_t i = 0; i < s->n_procs; i++) {
		struct usage_proc *p = &s->procs[i];
		if (p->n_inst) /* qsort() takes no NULL, even for 0 items */
			qsort(p->inst, p->n_inst, sizeof(*p->inst), cmp_inst);
		for (size_t j = 0; j < p->n_inst && p->inst[j].watches; j++)
			qsort(p->inst[j].watches, p->inst[j].n_watches,
			      sizeof(*p->inst[j].watches), cmp_watch);
		if (p->shown)
			r->shown[r->n_shown++] = p;
	}
	qsort(r->shown, r->n_shown, sizeof(*r->shown), cmp_proc);

	/* whose totals to show: the users asked for, or those of the
	 * processes shown (all users with an instance, when not narrowed) */
	for (size_t i = 0; i < r->n_shown; i++)
		if (!user_of(r, r->shown[i]->uid))
			return false;
	for (size_t i = 0; i < s->n_procs; i++) {
		struct usage_proc *p = &s->procs[i];
		struct usage_user *u = NULL;
		for (size_t k = 0; k < r->n_users && !u; k++)
			if (r->users[k].uid == p->uid)
				u = &r->users[k];
		for (size_t j = 0; j < p->n_inst && u; j++) {
			if (p->inst[j].canon_pid != p->pid || p->inst[j].canon_fd != p->inst[j].fd)
				continue;
			u->instances++;
			u->watches += p->inst[j].n_watches;
		}
	}
	for (size_t i = 0; i < r->n_users; i++) {
		r->users[i].near_instances = near(r->users[i].instances, s->instances.value);
		r->users[i].near_watches = near(r->users[i].watches, s->watches.value);
	}
	if (r->n_users)
		qsort(r->users, r->n_users, sizeof(*r->users), cmp_user);
	return true;
}

/* ---- the command ---- */

/* One line per limit a user is over 90% of: which, and how to raise it. */
static void warn_limit(const struct usage_report *r, const struct usage_user *u, const char *what,
		       size_t used, const struct usage_limit *l)
{
	char ubuf[24];
	long more = 2 * ((long)used > l->value ? (long)used : l->value);
	cli_error("'%s' is %s the inotify %s limit: %zu of %ld (%s); raise it for now with "
		  "'sysctl -w %s=%ld' and for good with the line '%s = %ld' in "
		  "/etc/sysctl.d/60-inotify.conf",
		  usage_user_name(r, u->uid, ubuf, sizeof(ubuf)), used >= (size_t)l->value ? "at" : "near",
		  what, used, l->value, l->sysctl, l->sysctl, more, l->sysctl, more);
}

static bool check_search_dir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		cli_error("cannot search '%s': %s", dir, cli_strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_error("cannot search '%s': %s", dir, cli_strerror(ENOTDIR));
		return false;
	}
	return true;
}

int cmd_usage(int argc, char **argv)
{
	struct usage_report r = {0};
	char **search = NULL;
	size_t n_search = 0;
	bool all_fs = false, json = false;
	int status = 1, opt, e;
	pid_t bad = 0;

	argv[0] = (char *)cli_prog; /* getopt's messages */
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "hp:u:ws:", usage_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf(usage_help, cli_prog);
			status = 0;
			goto out;
		case 'p':
			if (!add_pid(&r.scan, optarg))
				goto out;
			break;
		case 'u':
			if (!add_user(&r.scan, optarg))
				goto out;
			break;
		case 'w':
			r.watches = true;
			break;
		case 's': {
			char **grown = realloc(search, (n_search + 1) * sizeof(*search));
			if (!grown)
				goto out;
			search = grown;
			search[n_search++] = optarg;
			break;
		}
		case OPT_ALL_FS:
			all_fs = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			goto out; /* getopt said why */
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'; see 'vigil usage --help'", argv[optind]);
		goto out;
	}
	if (n_search && !r.watches) {
		cli_error("'--search' needs '--watches'");
		goto out;
	}
	if (all_fs && !n_search) {
		cli_error("'--all-filesystems' needs '--search'");
		goto out;
	}
	for (size_t i = 0; i < n_search; i++)
		if (!check_search_dir(search[i]))
			goto out;

	r.scan.details = r.watches;
	if ((e = usage_scan_run(&r.scan, &bad)) < 0) {
		if (bad && e == -ENOENT)
			cli_error("no process %d", (int)bad);
		else if (bad)
			cli_error("cannot read process %d: %s", (int)bad, cli_strerror(-e));
		else
			cli_error("cannot read /proc: %s", cli_strerror(-e));
		goto out;
	}
	if (r.watches)
		usage_find_paths(&r.scan, search, n_search, all_fs);
	if (!tally(&r)) {
		cli_error("%s", cli_strerror(ENOMEM));
		goto out;
	}
	usage_blind_mounts(&r);
	if (json)
		usage_print_json(&r, stdout);
	else
		usage_print_text(&r, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			cli_error("cannot write the report: %s", cli_strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < r.n_users; i++) {
		if (r.users[i].near_instances)
			warn_limit(&r, &r.users[i], "instance", r.users[i].instances,
				   &r.scan.instances);
		if (r.users[i].near_watches)
			warn_limit(&r, &r.users[i], "watch", r.users[i].watches, &r.scan.watches);
	}
	if (r.scan.denied)
		cli_error("cannot read %zu other process%s (permission denied); their instances "
			  "and watches are not counted",
			  r.scan.denied, r.scan.denied == 1 ? "" : "es");
	status = 0;
out:
	free((void *)r.scan.pids);
	free((void *)r.scan.uids);
	usage_scan_free(&r.scan);
	for (size_t i = 0; i < r.n_users; i++)
		free(r.users[i].name);
	free(r.users);
	free(r.shown);
	usage_blind_free(&r);
	free(search);
	return status;
}
