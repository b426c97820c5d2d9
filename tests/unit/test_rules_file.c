/* Unit tests for src/run/rules_file.c: rules files, their errors, and the
 * root permission check. Each test works in a fresh temp dir, as its
 * current directory, so that messages read "rules.ini:3: ...". */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "rule.h"

#include "check.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct fix {
	char dir[PATH_MAX];
	struct rule *rules;
	size_t n;
};

static void check_str(const char *what, const char *actual, const char *expected)
{
	if (!actual || strcmp(actual, expected) != 0)
		fail_msg("%s:\n  expected '%s'\n  got      '%s'", what, expected,
			 actual ? actual : "(null)");
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/vigil-rules-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir) || chdir(f->dir) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	alloc_fail_off(); /* in case a failed test left it armed */
	rules_free(f->rules, f->n);
	if (chdir("/") == 0) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			print_error("cannot remove '%s'\n", f->dir);
	}
	free(f);
	return 0;
}

static void write_bytes(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void write_file(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

/* TEXT as rules.ini must load; the rules go in F. */
static void load_ok(struct fix *f, const char *text)
{
	write_file("rules.ini", text);
	char *err = NULL;
	rules_free(f->rules, f->n);
	f->rules = NULL;
	f->n = 0;
	if (rules_load("rules.ini", &f->rules, &f->n, &err) != 0)
		fail_msg("rules_load: %s", err ? err : "out of memory");
	assert_null(err);
}

/* PATH must fail to load with exactly WANT, and leave *ret alone. */
static void path_err(const char *path, const char *want)
{
	struct rule *rules = (struct rule *)0x1;
	size_t n = 77;
	char *err = NULL;
	if (rules_load(path, &rules, &n, &err) != -1)
		fail_msg("'%s' loaded, expected '%s'", path, want);
	check_str("rules_load", err, want);
	assert_ptr_equal(rules, (struct rule *)0x1);
	check_eq(n, 77);
	free(err);
}

static void load_err(const char *text, const char *want)
{
	write_file("rules.ini", text);
	path_err("rules.ini", want);
}

static const struct rule *find(const struct fix *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->rules[i].name, name) == 0)
			return &f->rules[i];
	fail_msg("no rule [%s]", name);
	return NULL;
}

static void check_words(const char *what, const struct strv *v, ...)
{
	va_list ap;
	va_start(ap, v);
	size_t i = 0;
	for (const char *w; (w = va_arg(ap, const char *)); i++) {
		if (i >= v->len)
			fail_msg("%s: %zu words, expected more ('%s')", what, v->len, w);
		check_str(what, v->v[i], w);
	}
	va_end(ap);
	if (i != v->len)
		fail_msg("%s: %zu words, expected %zu", what, v->len, i);
}

/* ---- what loads ----------------------------------------------------- */

static void two_rules(void **state)
{
	struct fix *f = *state;
	load_ok(f,
		"# photos and backups\n"
		"\n"
		"[photos]\n"
		"path = /srv/inbox '/srv/other inbox'\n"
		"recursive\n"
		"match = *.jpg *.jpeg\n"
		"  ; an indented comment\n"
		"settle = 2s\n"
		"command = convert {} -resize 50% {dir}/small/{name}\n"
		"\n"
		"[backup.daily-1_x]\n"
		"path=/etc\n"
		"events = close_write, moved_to,create\n"
		"min-interval = 5m\n"
		"command = \"/usr/local/bin/backup now\" --tag 'it''s' \\\n"
		"    --quiet\n");
	check_eq(f->n, 2);
	const struct rule *p = &f->rules[0], *b = &f->rules[1];
	check_str("name", p->name, "photos");
	check_str("file", p->file, "rules.ini");
	check_eq(p->line, 3);
	check_words("paths", &p->paths, "/srv/inbox", "/srv/other inbox", NULL);
	assert_true(p->recursive);
	check_words("match", &p->match, "*.jpg", "*.jpeg", NULL);
	check_eq(p->settle_ns, 2 * SEC);
	check_words("argv", &p->argv, "convert", "{}", "-resize", "50%",
		    "{dir}/small/{name}", NULL);
	check_eq(p->events, IN_CLOSE_WRITE | IN_MOVED_TO);

	check_str("name", b->name, "backup.daily-1_x");
	check_eq(b->line, 11);
	check_words("paths", &b->paths, "/etc", NULL);
	assert_false(b->recursive);
	check_eq(b->events, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
	check_eq(b->min_interval_ns, 300 * SEC);
	check_eq(b->settle_ns, 100 * MS);
	check_words("argv", &b->argv, "/usr/local/bin/backup now", "--tag",
		    "its", "--quiet", NULL);
}

static void defaults_section(void **state)
{
	struct fix *f = *state;
	load_ok(f,
		"[defaults]\n"
		"settle = 2s\n"
		"exclude = *.tmp *.part\n"
		"files\n"
		"events = create\n"
		"command = true\n"
		"\n"
		"[a]\n"
		"path = /a\n"
		"exclude = *.bak\n"       /* replaces the defaults' list */
		"exclude = *.old\n"       /* then adds */
		"\n"
		"[b]\n"
		"path = /b\n"
		"settle = 0\n"
		"exclude =\n"             /* empties it */
		"dirs\n"                  /* replaces 'files' */
		"event = delete\n"
		"event = modify\n"
		"command = echo {}\n"
		"\n"
		"[c]\n"
		"path = /c\n"
		"\n"
		"[d]\n"
		"path = /d\n"
		"dirs = no\n"             /* the kind, not a second 'files' */
		"files\n");
	check_eq(f->n, 4);
	const struct rule *a = find(f, "a"), *b = find(f, "b"), *c = find(f, "c");
	check_eq(find(f, "d")->kind, KIND_FILES);
	check_eq(a->settle_ns, 2 * SEC);
	check_words("a exclude", &a->exclude, "*.bak", "*.old", NULL);
	check_eq(a->kind, KIND_FILES);
	check_eq(a->events, IN_CREATE);
	check_words("a argv", &a->argv, "true", NULL);

	check_eq(b->settle_ns, 0);
	check_eq(b->exclude.len, 0);
	check_eq(b->kind, KIND_DIRS);
	check_eq(b->events, IN_DELETE | IN_MODIFY);
	check_words("b argv", &b->argv, "echo", "{}", NULL);

	check_words("c exclude", &c->exclude, "*.tmp", "*.part", NULL);
	check_eq(c->events, IN_CREATE);
	check_eq(c->line, 22);
}

static void every_key(void **state)
{
	struct fix *f = *state;
	load_ok(f,
		"[all]\n"
		"path = /p\n"
		"recursive = yes\n"
		"event = close_write\n"
		"match = '*.jpg'\n"
		"exclude = \"tmp *\"\n"
		"exclude-regex = '\\.swp$'\n"
		"files = true\n"
		"hidden = 1\n"
		"settle = 500ms\n"
		"batch = 20\n"
		"batch-wait = 3s\n"
		"jobs = 4\n"
		"min-interval = 1h\n"
		"on-busy = restart\n"
		"stop-signal = SIGHUP\n"
		"stop-timeout = 30s\n"
		"timeout = 2d\n"
		"initial = no\n"
		"stdin = paths0\n"
		"loop-burst = 7\n"
		"loop-window = 1.5m\n"
		"command = rsync -a {} host:\n");
	const struct rule *r = &f->rules[0];
	check_words("paths", &r->paths, "/p", NULL);
	assert_true(r->recursive);
	check_eq(r->events, IN_CLOSE_WRITE);
	check_words("match", &r->match, "*.jpg", NULL);
	check_words("exclude", &r->exclude, "tmp *", NULL);
	check_words("exclude-regex", &r->exclude_re, "\\.swp$", NULL);
	check_eq(r->kind, KIND_FILES);
	assert_true(r->hidden);
	check_eq(r->settle_ns, 500 * MS);
	check_eq(r->batch, 20);
	check_eq(r->batch_wait_ns, 3 * SEC);
	check_eq(r->jobs, 4);
	check_eq(r->min_interval_ns, 3600 * SEC);
	check_eq(r->on_busy, BUSY_RESTART);
	check_eq(r->stop_signal, SIGHUP);
	check_eq(r->stop_timeout_ns, 30 * SEC);
	check_eq(r->timeout_ns, 2 * 86400 * SEC);
	assert_false(r->initial);
	check_eq(r->stdin_mode, STDIN_PATHS0);
	check_eq(r->loop_burst, 7);
	check_eq(r->loop_window_ns, 90 * SEC);
	check_words("argv", &r->argv, "rsync", "-a", "{}", "host:", NULL);
}

static void line_forms(void **state)
{
	struct fix *f = *state;
	/* CRLF, tabs, a comment that ends in a backslash (it does not
	 * continue), a continued line that starts with '#', an even run of
	 * backslashes (an escaped one, no continuation), bytes that are not
	 * UTF-8 in a path. */
	static const char text[] =
		"\t[ x ]  \r\n"
		"# a comment \\\r\n"
		"path = /a\\\\\r\n"
		"path = /\xff\xfe/caf\xc3\xa9\n"
		"command = echo \\\n"
		"# not a comment \\\n"
		"\tlast\n"
		"   ;;;\n"
		"match=a=b\n";
	load_ok(f, text);
	const struct rule *r = &f->rules[0];
	check_str("name", r->name, "x");
	check_words("paths", &r->paths, "/a\\", "/\xff\xfe/caf\xc3\xa9", NULL);
	check_words("argv", &r->argv, "echo", "#", "not", "a", "comment",
		    "last", NULL);
	check_words("match", &r->match, "a=b", NULL);
}

/* ---- what does not -------------------------------------------------- */

static void errors(void **state)
{
	(void)state;
	static const struct { const char *text, *err; } c[] = {
		{ "[a]\npath = /a\ncommand = x\n\n\n\n\n\n\n\n\nsettle = 5x\n",
		  "rules.ini:12: 'settle': '5x' is not a valid duration; give 500ms, 2s, 1.5m or 1h" },
		{ "[a]\npath = /a\ncolour = blue\n",
		  "rules.ini:3: 'colour': no such key" },
		{ "[a]\npath = /a\nconvert {} out\n",
		  "rules.ini:3: 'convert {} out': no such key (a setting is key = value)" },
		{ "[a]\nSettle = 2s\n", "rules.ini:2: 'Settle': no such key" },
		{ "path = /a\n[a]\n",
		  "rules.ini:1: 'path' comes before any [section]; put it under [defaults] or a [rule]" },
		{ "[a]\npath = /a\ncommand = x\n[b]\npath = /b\ncommand = y\n[a]\n",
		  "rules.ini:7: [a] is given twice (first on line 1)" },
		{ "[a]\npath = /a\n\n[b]\npath = /b\ncommand = x\n",
		  "rules.ini:1: [a]: no 'command' to run (nor a broker to 'publish' to)" },
		{ "[a]\ncommand = x\n",
		  "rules.ini:1: [a]: no 'path' to watch (nor a broker to 'subscribe' to)" },
		{ "[a]\npath = /a\ncommand = convert 'a\n",
		  "rules.ini:3: 'command': unbalanced ' quote" },
		{ "[a]\npath = \"/a\n", "rules.ini:2: 'path': unbalanced \" quote" },
		{ "[a]\npath = /a\nsettle = 1s\nsettle = 2s\n",
		  "rules.ini:4: 'settle' is given twice (first on line 3)" },
		{ "[a]\nevent = create\nevents = delete\nrecursive\nrecursive = no\n",
		  "rules.ini:5: 'recursive' is given twice (first on line 4)" },
		{ "[a]\npath = /a\nsettle = 2s # two seconds\n",
		  "rules.ini:3: 'settle' takes one value, not 4 words (quote a value with spaces; a comment takes a line of its own)" },
		{ "[a]\nsettle\n", "rules.ini:2: 'settle' needs a value" },
		{ "[a]\nsettle =\n", "rules.ini:2: 'settle' needs a value" },
		{ "[a]\nsettle = ''\n",
		  "rules.ini:2: 'settle': '' is not a valid duration; give 500ms, 2s, 1.5m or 1h" },
		{ "[a]\nfiles\ndirs\n",
		  "rules.ini:3: 'dirs': 'files' and 'dirs' contradict each other; give one of them" },
		{ "[a]\njobs = 0\n",
		  "rules.ini:2: 'jobs': '0' is not a whole number from 1 to 4096" },
		{ "[a]\nrecursive = maybe\n",
		  "rules.ini:2: 'recursive': 'maybe' is not yes or no; give yes, no, true, false, 1 or 0" },
		{ "[a]\nexclude-regex = (a\n",
		  "rules.ini:2: 'exclude-regex': '(a' is not a valid regular expression: Unmatched ( or \\(" },
		{ "[a]\npath = /a\ncommand = tar cf {name}.tar {}\nbatch = 5\n",
		  "rules.ini:1: [a]: '{name}' has no single value for a batch of 5 paths; pass them as a lone {} word or on 'stdin'" },
		{ "[a b]\n", "rules.ini:1: 'a b': a rule name may hold only letters, digits, '-', '_' and '.'" },
		{ "[]\n", "rules.ini:1: '': a rule name may hold only letters, digits, '-', '_' and '.'" },
		{ "[a/b]\n", "rules.ini:1: 'a/b': a rule name may hold only letters, digits, '-', '_' and '.'" },
		{ "[abc\n", "rules.ini:1: '[abc': a section header ends with ']'" },
		{ "[abc] # x\n", "rules.ini:1: '[abc] # x': a section header ends with ']'" },
		{ "[a]\npath = /a\ncommand = x\n[defaults]\n",
		  "rules.ini:4: [defaults] must come before the first rule" },
		{ "[defaults]\n[defaults]\n", "rules.ini:2: [defaults] is given twice" },
		{ "[defaults]\nsettle = 1s\nsettle = 2s\n",
		  "rules.ini:3: 'settle' is given twice (first on line 2)" },
		{ "[defaults]\nsettle = forever\n[a]\n",
		  "rules.ini:2: 'settle': 'forever' is not a valid duration; give 500ms, 2s, 1.5m or 1h" },
		{ "", "rules.ini: no rules; a rule is a [section] with a 'path' and a 'command'" },
		{ "# only a comment\n[defaults]\nsettle = 1s\n",
		  "rules.ini: no rules; a rule is a [section] with a 'path' and a 'command'" },
		{ "[a]\npath = /a\ncommand = x \\\n  y \\\n  'z\n",
		  "rules.ini:3: 'command': unbalanced ' quote" },
		{ "[a]\npath = /a\ncommand = x \\\n",
		  "rules.ini:3: the file ends in a continued line; remove the last backslash" },
		{ "[a]\npath = /a\ncommand = x \\",
		  "rules.ini:3: the file ends in a continued line; remove the last backslash" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++)
		load_err(c[i].text, c[i].err);
}

static void nul_byte(void **state)
{
	(void)state;
	static const char text[] = "[a]\npath = /a\0b\ncommand = x\n";
	write_bytes("rules.ini", text, sizeof(text) - 1);
	path_err("rules.ini", "rules.ini:2: a NUL byte; a rules file is text");
	static const char comment[] = "[a]\n# \0\n";
	write_bytes("rules.ini", comment, sizeof(comment) - 1);
	path_err("rules.ini", "rules.ini:2: a NUL byte; a rules file is text");
}

static void unreadable(void **state)
{
	(void)state;
	path_err("nope.ini", "cannot open 'nope.ini': no such file or directory");
	assert_int_equal(mkdir("d.ini", 0755), 0);
	path_err("d.ini", "cannot read 'd.ini': is a directory");
	if (geteuid() != 0) {
		write_file("secret.ini", "[a]\n");
		assert_int_equal(chmod("secret.ini", 0), 0);
		path_err("secret.ini", "cannot open 'secret.ini': permission denied");
	}
}

/* ---- root ----------------------------------------------------------- */

static const char good[] = "[a]\npath = /a\ncommand = x\n";

static void root_permissions(void **state)
{
	struct fix *f = *state;
	if (geteuid() != 0)
		skip();
	char real[PATH_MAX], want[PATH_MAX + 128];
	assert_non_null(realpath(f->dir, real));

	load_ok(f, good);                                 /* 0644 */
	assert_int_equal(chmod("rules.ini", 0666), 0);
	path_err("rules.ini", "'rules.ini' is writable by others; a root rules file must be writable only by root");
	assert_int_equal(chmod("rules.ini", 0620), 0);
	path_err("rules.ini", "'rules.ini' is writable by others; a root rules file must be writable only by root");
	assert_int_equal(chmod("rules.ini", 0400), 0);
	load_ok(f, good);
	assert_int_equal(chown("rules.ini", 1000, 0), 0);
	path_err("rules.ini", "'rules.ini' is owned by uid 1000; a root rules file must be writable only by root");
	assert_int_equal(chown("rules.ini", 0, 0), 0);

	/* a directory above it, writable by its group */
	assert_int_equal(mkdir("sub", 0775), 0);
	assert_int_equal(chmod("sub", 0775), 0);
	write_file("sub/r.ini", good);
	snprintf(want, sizeof(want), "'%s/sub' is writable by others; a root rules file must be writable only by root", real);
	path_err("sub/r.ini", want);
	assert_int_equal(chmod("sub", 0755), 0);
	assert_int_equal(chown("sub", 1000, 1000), 0);
	snprintf(want, sizeof(want), "'%s/sub' is owned by uid 1000; a root rules file must be writable only by root", real);
	path_err("sub/r.ini", want);
	assert_int_equal(chown("sub", 0, 0), 0);

	/* a directory with the sticky bit, like /tmp, may be writable by all */
	assert_int_equal(chmod("sub", 01777), 0);
	char *err = NULL;
	struct rule *rules;
	size_t n;
	if (rules_load("sub/r.ini", &rules, &n, &err) != 0)
		fail_msg("sticky dir: %s", err);
	rules_free(rules, n);
	assert_int_equal(chmod("sub", 0755), 0);

	/* the last symlink is followed: the target and its directories count */
	assert_int_equal(mkdir("open", 0777), 0);
	assert_int_equal(chmod("open", 0777), 0);
	write_file("open/r.ini", good);
	assert_int_equal(symlink("open/r.ini", "link.ini"), 0);
	snprintf(want, sizeof(want), "'%s/open' is writable by others; a root rules file must be writable only by root", real);
	path_err("link.ini", want);
	assert_int_equal(symlink("../rules.ini", "open/back.ini"), 0);
	if (rules_load("open/back.ini", &rules, &n, &err) != 0)
		fail_msg("a link in an open dir to a safe file: %s", err);
	rules_free(rules, n);
}

/* ---- memory and junk ------------------------------------------------ */

static void out_of_memory(void **state)
{
	(void)state;
	write_file("rules.ini",
		   "[defaults]\nsettle = 2s\nexclude = a b\nevents = create\n"
		   "[x]\npath = /a /b\nmatch = *.c\nexclude = c\nexclude-regex = d$\n"
		   "command = a 'b c' \\\n  d\n"
		   "[y]\npath = /c\ncommand = e\n");
	for (long budget = 0;; budget++) {
		struct rule *rules = NULL;
		size_t n = 0;
		char *err = NULL;
		alloc_fail_after(budget);
		int rc = rules_load("rules.ini", &rules, &n, &err);
		long refused = alloc_fail_refused();
		alloc_fail_off();
		if (rc == 0) {
			check_eq(n, 2);
			rules_free(rules, n);
			if (!refused)
				break;
		} else {
			assert_null(err); /* out of memory, nothing else */
		}
		assert_true(budget < 2000);
	}
}

static void random_files(void **state)
{
	(void)state;
	static const char *const bits[] = {
		"[a]\n", "[defaults]\n", "path = /x\n", "command = echo {}\n",
		"settle = 1s\n", "match = *\n", "\\\n", "'", "\"", "#", ";", "=",
		"\r\n", " ", "\n", "events = create\n", "batch = 3\n", "files\n",
		"dirs\n", "exclude =\n", "[b]\n", "\xff", "recursive = no\n",
	};
	srand(5);
	for (int it = 0; it < 2000; it++) {
		char text[512];
		size_t len = 0;
		int parts = rand() % 12;
		for (int i = 0; i < parts; i++) {
			if (rand() % 3) {
				const char *b = bits[rand() % (sizeof(bits) / sizeof(*bits))];
				size_t bl = strlen(b);
				memcpy(text + len, b, bl);
				len += bl;
			} else {
				for (int k = rand() % 8; k > 0; k--)
					text[len++] = (char)(rand() % 256);
			}
		}
		write_bytes("rules.ini", text, len);
		struct rule *rules = NULL;
		size_t n = 0;
		char *err = NULL;
		if (rules_load("rules.ini", &rules, &n, &err) == 0) {
			assert_true(n > 0);
			rules_free(rules, n);
		} else {
			assert_non_null(err);
			free(err);
		}
	}
}

int main(void)
{
	setlocale(LC_ALL, "C.UTF-8");
	umask(022);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(two_rules),
		T(defaults_section),
		T(every_key),
		T(line_forms),
		T(errors),
		T(nul_byte),
		T(unreadable),
		T(root_permissions),
		T(out_of_memory),
		T(random_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
