/* Unit tests for src/run/rule.c: defaults, every key, durations, signals,
 * word splitting, rule_check() and the filters of rule_wants(). */
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

#include <cmocka.h>

#include "alloc_fail.h"
#include "rule.h"

#include "check.h"

#define MS 1000000ull
#define SEC 1000000000ull

static void check_str(const char *what, const char *actual, const char *expected)
{
	if (!actual || strcmp(actual, expected) != 0)
		fail_msg("%s:\n  expected '%s'\n  got      '%s'", what, expected,
			 actual ? actual : "(null)");
}

static int setup(void **state)
{
	struct rule *r = calloc(1, sizeof(*r));
	if (!r || rule_init(r, "t") < 0)
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	alloc_fail_off(); /* in case a failed test left it armed */
	rule_fini(*state);
	free(*state);
	return 0;
}

static void set_ok(struct rule *r, const char *key, const char *value)
{
	char *err = NULL;
	if (rule_set(r, key, value, &err) != 0)
		fail_msg("%s = '%s': %s", key, value ? value : "(flag)",
			 err ? err : "out of memory");
	assert_null(err);
}

/* rule_set(KEY, VALUE) must fail with exactly WANT. */
static void set_err(struct rule *r, const char *key, const char *value,
		    const char *want)
{
	char *err = NULL;
	char what[256];
	snprintf(what, sizeof(what), "%s = '%s'", key, value ? value : "(flag)");
	if (rule_set(r, key, value, &err) != -1)
		fail_msg("%s: accepted, expected '%s'", what, want);
	check_str(what, err, want);
	free(err);
}

static void check_err(const struct rule *r, const char *want)
{
	char *err = NULL;
	if (rule_check(r, &err) != -1)
		fail_msg("rule_check passed, expected '%s'", want);
	check_str("rule_check", err, want);
	free(err);
}

static void check_ok(const struct rule *r)
{
	char *err = NULL;
	if (rule_check(r, &err) != 0)
		fail_msg("rule_check: %s", err ? err : "out of memory");
}

/* ---- defaults and keys ---------------------------------------------- */

static void defaults(void **state)
{
	struct rule *r = *state;
	check_str("name", r->name, "t");
	check_eq(r->paths.len, 0);
	assert_false(r->recursive);
	check_eq(r->events, IN_CLOSE_WRITE | IN_MOVED_TO);
	assert_false(r->events_given);
	check_eq(r->kind, KIND_ANY);
	assert_false(r->hidden);
	check_eq(r->settle_ns, 100 * MS);
	check_eq(r->batch, 1);
	check_eq(r->batch_wait_ns, 1 * SEC);
	check_eq(r->jobs, 1);
	check_eq(r->min_interval_ns, 0);
	check_eq(r->on_busy, BUSY_QUEUE);
	check_eq(r->stop_signal, SIGTERM);
	check_eq(r->stop_timeout_ns, 10 * SEC);
	check_eq(r->timeout_ns, 0);
	assert_false(r->initial);
	check_eq(r->stdin_mode, STDIN_NONE);
	check_eq(r->loop_burst, 10);
	check_eq(r->loop_window_ns, 1 * SEC);
	check_eq(r->argv.len, 0);
	assert_null(r->state);
	check_eq(r->state_sync, 2); /* group */
	check_eq(r->retry, 0);
	check_eq(r->retry_delay_ns, 10 * SEC);
	check_eq(r->retry_max_delay_ns, 3600 * SEC);
	assert_true(rule_success(r, 0));
	assert_false(rule_success(r, 1 << 8));
	assert_false(rule_success(r, SIGKILL));
	assert_null(r->file);
	check_eq(r->line, 0);
}

static void key_table(void **state)
{
	(void)state;
	static const char *const values[] = {
		"path", "event", "events", "match", "exclude", "exclude-regex",
		"settle", "batch", "batch-wait", "jobs", "min-interval", "on-busy",
		"stop-signal", "stop-timeout", "timeout", "stdin", "loop-burst",
		"loop-window", "command", "backend", "poll-interval", "state", "state-sync", "retry", "retry-delay",
		"retry-max-delay", "success-exit-status",
	};
	static const char *const flags[] = {
		"recursive", "files", "dirs", "hidden", "initial",
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++)
		check_eq(rule_key_takes_value(values[i]), 1);
	for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++)
		check_eq(rule_key_takes_value(flags[i]), 0);
	check_eq(rule_key_takes_value("bogus"), -1);
	check_eq(rule_key_takes_value("Settle"), -1);
	check_eq(rule_key_takes_value("--settle"), -1);
	check_eq(rule_key_repeats("path"), 1);
	check_eq(rule_key_repeats("event"), 1);
	check_eq(rule_key_repeats("events"), 1);
	check_eq(rule_key_repeats("match"), 1);
	check_eq(rule_key_repeats("exclude"), 1);
	check_eq(rule_key_repeats("exclude-regex"), 1);
	check_eq(rule_key_repeats("settle"), 0);
	check_eq(rule_key_repeats("command"), 0);
	check_eq(rule_key_repeats("bogus"), -1);
}

static void lists(void **state)
{
	struct rule *r = *state;
	set_ok(r, "path", "/srv/in");
	set_ok(r, "path", "with space");
	check_eq(r->paths.len, 2);
	check_str("path 0", r->paths.v[0], "/srv/in");
	check_str("path 1", r->paths.v[1], "with space");
	assert_null(r->paths.v[2]);
	set_err(r, "path", "", "an empty path names nothing");

	set_ok(r, "match", "*.jpg");
	set_ok(r, "match", "raw/**/*.cr2");
	check_eq(r->match.len, 2);
	check_str("match 1", r->match.v[1], "raw/**/*.cr2");
	set_err(r, "match", "", "an empty glob matches nothing");
	set_err(r, "match", "[[:foo:]]",
		"'[[:foo:]]' is not a valid glob: an unknown [:class:], or a "
		"[.collating element.] that is not one character");
	set_ok(r, "exclude", "*.tmp");
	check_eq(r->exclude.len, 1);
	set_err(r, "exclude", "", "an empty glob matches nothing");

	set_ok(r, "exclude-regex", "\\.swp$");
	set_ok(r, "exclude-regex", "(^|/)\\.git(/|$)");
	check_eq(r->exclude_re.len, 2);
	assert_non_null(r->exclude_rx);
	set_err(r, "exclude-regex", "(a",
		"'(a' is not a valid regular expression: Unmatched ( or \\(");
	check_eq(r->exclude_re.len, 2);
	set_err(r, "path", NULL, "'path' needs a value");
}

static void events(void **state)
{
	struct rule *r = *state;
	set_ok(r, "event", "create");
	check_eq(r->events, IN_CREATE);   /* the first replaces the default */
	assert_true(r->events_given);
	set_ok(r, "events", "delete,MODIFY");
	check_eq(r->events, IN_CREATE | IN_DELETE | IN_MODIFY);
	set_err(r, "event", "create,bogus,delete",
		"'bogus' is not an event; give names such as close_write, "
		"moved_to, create or delete");
	set_err(r, "event", "", "'' names no events");
	set_err(r, "event", ",,", "',,' names no events");
	check_eq(r->events, IN_CREATE | IN_DELETE | IN_MODIFY);
}

static void flags(void **state)
{
	struct rule *r = *state;
	set_ok(r, "recursive", NULL);
	assert_true(r->recursive);
	set_ok(r, "recursive", "no");
	assert_false(r->recursive);
	static const char *const yes[] = { "yes", "true", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "0", "No", "FALSE" };
	for (size_t i = 0; i < 5; i++) {
		set_ok(r, "hidden", yes[i]);
		assert_true(r->hidden);
		set_ok(r, "hidden", no[i]);
		assert_false(r->hidden);
	}
	set_ok(r, "initial", NULL);
	assert_true(r->initial);
	set_err(r, "initial", "maybe",
		"'maybe' is not yes or no; give yes, no, true, false, 1 or 0");
	set_err(r, "recursive", "", "'' is not yes or no; give yes, no, true, false, 1 or 0");

	set_ok(r, "files", NULL);
	check_eq(r->kind, KIND_FILES);
	set_err(r, "dirs", NULL,
		"'files' and 'dirs' contradict each other; give one of them");
	set_ok(r, "dirs", "no");       /* not dirs: no contradiction */
	check_eq(r->kind, KIND_FILES);
	set_ok(r, "files", "no");
	check_eq(r->kind, KIND_ANY);
	set_ok(r, "dirs", NULL);
	check_eq(r->kind, KIND_DIRS);
	set_err(r, "files", "yes",
		"'files' and 'dirs' contradict each other; give one of them");
}

static void durations_keys(void **state)
{
	struct rule *r = *state;
	static const struct { const char *key; size_t off; } k[] = {
		{ "settle", offsetof(struct rule, settle_ns) },
		{ "batch-wait", offsetof(struct rule, batch_wait_ns) },
		{ "min-interval", offsetof(struct rule, min_interval_ns) },
		{ "stop-timeout", offsetof(struct rule, stop_timeout_ns) },
		{ "timeout", offsetof(struct rule, timeout_ns) },
		{ "loop-window", offsetof(struct rule, loop_window_ns) },
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(*k); i++) {
		uint64_t *field = (uint64_t *)((char *)r + k[i].off);
		set_ok(r, k[i].key, "1.5m");
		check_eq(*field, 90 * SEC);
		set_err(r, k[i].key, "5x",
			"'5x' is not a valid duration; give 500ms, 2s, 1.5m or 1h");
		check_eq(*field, 90 * SEC);
		if (strcmp(k[i].key, "loop-window") != 0) {
			set_ok(r, k[i].key, "0");
			check_eq(*field, 0);
		}
	}
	set_err(r, "loop-window", "0",
		"a loop window of 0 sees no loop; to turn the loop guard off, "
		"give loop-burst 0");
	set_err(r, "settle", NULL, "'settle' needs a value");
}

static void counts(void **state)
{
	struct rule *r = *state;
	set_ok(r, "batch", "50");
	check_eq(r->batch, 50);
	set_ok(r, "jobs", "8");
	check_eq(r->jobs, 8);
	set_ok(r, "loop-burst", "0");
	check_eq(r->loop_burst, 0);
	set_ok(r, "loop-burst", "1000000");
	check_eq(r->loop_burst, 1000000);
	set_err(r, "batch", "0", "'0' is not a whole number from 1 to 100000");
	set_err(r, "jobs", "0", "'0' is not a whole number from 1 to 4096");
	set_err(r, "jobs", "4097", "'4097' is not a whole number from 1 to 4096");
	set_err(r, "jobs", "-1", "'-1' is not a whole number from 1 to 4096");
	set_err(r, "jobs", "+2", "'+2' is not a whole number from 1 to 4096");
	set_err(r, "jobs", "2 ", "'2 ' is not a whole number from 1 to 4096");
	set_err(r, "jobs", "", "'' is not a whole number from 1 to 4096");
	set_err(r, "batch", "99999999999999999999999",
		"'99999999999999999999999' is not a whole number from 1 to 100000");
	set_err(r, "loop-burst", "1000001",
		"'1000001' is not a whole number from 0 to 1000000");
	check_eq(r->batch, 50);
	check_eq(r->jobs, 8);
}

static void choices(void **state)
{
	struct rule *r = *state;
	static const char *const busy[] = { "queue", "skip", "restart", "signal" };
	for (int i = 3; i >= 0; i--) {
		set_ok(r, "on-busy", busy[i]);
		check_eq(r->on_busy, i);
	}
	set_err(r, "on-busy", "kill", "'kill' is not one of queue, skip, restart or signal");
	set_err(r, "on-busy", "Queue", "'Queue' is not one of queue, skip, restart or signal");
	static const char *const in[] = { "none", "paths0", "lines", "json" };
	for (int i = 3; i >= 0; i--) {
		set_ok(r, "stdin", in[i]);
		check_eq(r->stdin_mode, i);
	}
	set_err(r, "stdin", "xml", "'xml' is not one of paths0, lines, json or none");

	set_ok(r, "stop-signal", "HUP");
	check_eq(r->stop_signal, SIGHUP);
	set_ok(r, "stop-signal", "SIGINT");
	check_eq(r->stop_signal, SIGINT);
	set_ok(r, "stop-signal", "9");
	check_eq(r->stop_signal, SIGKILL);
	set_err(r, "stop-signal", "SIGFOO",
		"'SIGFOO' is not a signal; give a name such as TERM, INT or HUP, "
		"or a number");
}

/* The keys of --state and --retry, and what success is. */
static void state_keys(void **state)
{
	struct rule *r = *state;
	set_ok(r, "state", "/var/lib/vigil/x");
	check_str("state", r->state, "/var/lib/vigil/x");
	set_err(r, "state", "", "an empty path names no state directory");
	static const char *const syncs[] = { "off", "normal", "group", "full" };
	for (int i = 0; i < 4; i++) {
		set_ok(r, "state-sync", syncs[i]);
		check_eq(r->state_sync, i);
	}
	set_err(r, "state-sync", "always", "'always' is not one of group, full, normal or off");
	set_ok(r, "retry", "5");
	check_eq(r->retry, 5);
	set_ok(r, "retry-delay", "250ms");
	check_eq(r->retry_delay_ns, 250 * MS);
	set_ok(r, "retry-max-delay", "1m");
	check_eq(r->retry_max_delay_ns, 60 * SEC);
	set_ok(r, "success-exit-status", "0,75 TERM,SIGHUP");
	assert_true(rule_success(r, 0));
	assert_true(rule_success(r, 75 << 8));
	assert_false(rule_success(r, 74 << 8));
	assert_true(rule_success(r, SIGTERM));
	assert_true(rule_success(r, SIGHUP));
	assert_false(rule_success(r, SIGKILL));
	set_ok(r, "success-exit-status", "255");
	assert_false(rule_success(r, 0));
	assert_true(rule_success(r, 255 << 8));
	set_err(r, "success-exit-status", "256",
		"'256' is neither an exit status (0 to 255) nor a signal name");
	set_err(r, "success-exit-status", "FOO",
		"'FOO' is neither an exit status (0 to 255) nor a signal name");
	set_err(r, "success-exit-status", ",",
		"',' is not a list of exit statuses and signals; give such as 0,75 or 0,TERM");
	assert_true(rule_success(r, 255 << 8)); /* a refused value changes nothing */
	assert_int_equal(rule_unset(r, "success-exit-status"), 0);
	assert_true(rule_success(r, 0));
	assert_int_equal(rule_unset(r, "state"), 0);
	assert_null(r->state);
}

static void unknown_key(void **state)
{
	struct rule *r = *state;
	set_err(r, "bogus", "1", "no such key 'bogus'");
	set_err(r, "", "1", "no such key ''");
}

static void command(void **state)
{
	struct rule *r = *state;
	set_ok(r, "command", "convert {} -resize 50% {dir}/small/{name}");
	check_eq(r->argv.len, 5);
	check_str("argv 0", r->argv.v[0], "convert");
	check_str("argv 4", r->argv.v[4], "{dir}/small/{name}");
	assert_null(r->argv.v[5]);
	set_ok(r, "command", "echo 'a b'");   /* replaces */
	check_eq(r->argv.len, 2);
	check_str("argv 1", r->argv.v[1], "a b");
	set_err(r, "command", "echo 'a", "unbalanced ' quote");
	check_eq(r->argv.len, 2);

	char *argv[] = { "rsync", "-a", "{}", "host:" };
	check_eq(rule_set_argv(r, argv, 4), 0);
	check_eq(r->argv.len, 4);
	check_str("argv 3", r->argv.v[3], "host:");
	assert_null(r->argv.v[4]);
}

static void unset(void **state)
{
	struct rule *r = *state;
	set_ok(r, "match", "*.a");
	set_ok(r, "exclude-regex", "x");
	set_ok(r, "event", "create");
	set_ok(r, "dirs", NULL);
	set_ok(r, "settle", "5s");
	set_ok(r, "command", "true");
	check_eq(rule_unset(r, "match"), 0);
	check_eq(rule_unset(r, "exclude-regex"), 0);
	check_eq(rule_unset(r, "events"), 0);
	check_eq(rule_unset(r, "files"), 0);
	check_eq(rule_unset(r, "settle"), 0);
	check_eq(rule_unset(r, "command"), 0);
	check_eq(rule_unset(r, "bogus"), -1);
	check_eq(r->match.len, 0);
	check_eq(r->exclude_re.len, 0);
	assert_null(r->exclude_rx);
	check_eq(r->events, IN_CLOSE_WRITE | IN_MOVED_TO);
	assert_false(r->events_given);
	check_eq(r->kind, KIND_ANY);
	check_eq(r->settle_ns, 100 * MS);
	check_eq(r->argv.len, 0);
	set_ok(r, "event", "delete");       /* replaces the default again */
	check_eq(r->events, IN_DELETE);
}

/* ---- durations and signals ------------------------------------------ */

static void durations(void **state)
{
	(void)state;
	static const struct { const char *s; uint64_t ns; } good[] = {
		{ "500ms", 500 * MS }, { "2s", 2 * SEC }, { "1.5m", 90 * SEC },
		{ "1h", 3600 * SEC }, { "2d", 172800 * SEC }, { "0", 0 },
		{ "3", 3 * SEC }, { "0.5", 500 * MS }, { "0ms", 0 },
		{ "0.001ms", 1000 }, { "0.000001ms", 1 }, { "0.0000001ms", 0 },
		{ "1.0000000001s", 1 * SEC }, { "1.999999999999s", 1999999999 },
		{ "0.1h", 360 * SEC }, { "007s", 7 * SEC },
		{ "1.333333333333333333333333333d", 115199999999999 },
		{ "53375d", 53375ull * 86400 * SEC },
		{ "4611686018.427387903", 4611686018427387903ull },
	};
	static const char *const bad[] = {
		"", "-1", "+1", "5x", "1.", ".5", "1e3", "1 s", " 1s", "1s ",
		"1S", "1sec", "ms", "s", "1.5.5", "1..5", "0x10", "inf", "nan",
		"1,5s", "1m30s", "99999999999999999999", "18446744073709551616",
		"53376d", "4611686018.427387904", "1s\n", "１s",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		uint64_t ns = 12345;
		if (parse_duration(good[i].s, &ns) != 0)
			fail_msg("'%s': refused", good[i].s);
		if (ns != good[i].ns)
			fail_msg("'%s': expected %llu ns, got %llu", good[i].s,
				 (unsigned long long)good[i].ns,
				 (unsigned long long)ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		uint64_t ns = 12345;
		if (parse_duration(bad[i], &ns) != -1)
			fail_msg("'%s': accepted as %llu ns", bad[i],
				 (unsigned long long)ns);
		check_eq(ns, 12345);
	}
}

static void signals(void **state)
{
	(void)state;
	static const struct { const char *s; int sig; } good[] = {
		{ "TERM", SIGTERM }, { "SIGTERM", SIGTERM }, { "term", SIGTERM },
		{ "sigterm", SIGTERM }, { "15", SIGTERM }, { "HUP", SIGHUP },
		{ "USR1", SIGUSR1 }, { "SIGKILL", SIGKILL }, { "1", 1 },
		{ "WINCH", SIGWINCH }, { "64", 64 },
	};
	static const char *const bad[] = {
		"", "0", "65", "-1", "FOO", "SIG", "15x", "TERM ", "SIGSIGTERM",
		"99999999999999", "+15",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		int sig = -1;
		if (parse_signal(good[i].s, &sig) != 0)
			fail_msg("'%s': refused", good[i].s);
		if (sig != good[i].sig)
			fail_msg("'%s': expected %d, got %d", good[i].s, good[i].sig, sig);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int sig = -1;
		if (parse_signal(bad[i], &sig) != -1)
			fail_msg("'%s': accepted as %d", bad[i], sig);
	}
	check_str("signal_name(SIGTERM)", signal_name(SIGTERM), "TERM");
	check_str("signal_name(SIGHUP)", signal_name(SIGHUP), "HUP");
	assert_null(signal_name(SIGRTMIN + 1));
	assert_null(signal_name(0));
}

/* ---- words ---------------------------------------------------------- */

struct words_case {
	const char *in;
	const char *out[8]; /* NULL-terminated */
	const char *err;
};

static void words(void **state)
{
	(void)state;
	static const struct words_case c[] = {
		{ "", { NULL }, NULL },
		{ "   \t ", { NULL }, NULL },
		{ "a b  c", { "a", "b", "c", NULL }, NULL },
		{ "\ta\t", { "a", NULL }, NULL },
		{ "'a b' c", { "a b", "c", NULL }, NULL },
		{ "'a\\'", { "a\\", NULL }, NULL },            /* '\' literal in '' */
		{ "'$HOME' \"$HOME\"", { "$HOME", "$HOME", NULL }, NULL },
		{ "\"a \\\" b\"", { "a \" b", NULL }, NULL },
		{ "\"a\\\\b\"", { "a\\b", NULL }, NULL },
		{ "\"a\\nb\"", { "a\\nb", NULL }, NULL },      /* other \ kept */
		{ "a\\ b", { "a b", NULL }, NULL },
		{ "a\\'b", { "a'b", NULL }, NULL },
		{ "\\\\", { "\\", NULL }, NULL },
		{ "''", { "", NULL }, NULL },                  /* an empty word */
		{ "'' \"\"", { "", "", NULL }, NULL },
		{ "a''b", { "ab", NULL }, NULL },
		{ "x'a b'\"c d\"y", { "xa bc dy", NULL }, NULL },
		{ "* ~ $(rm -rf /) `id` ;", { "*", "~", "$(rm", "-rf", "/)", "`id`", ";", NULL }, NULL },
		{ "{} {path} {dir}/{name}", { "{}", "{path}", "{dir}/{name}", NULL }, NULL },
		{ "# not a comment", { "#", "not", "a", "comment", NULL }, NULL },
		{ "caf\xc3\xa9 \xff\xfe", { "caf\xc3\xa9", "\xff\xfe", NULL }, NULL },
		{ "'a", { NULL }, "unbalanced ' quote" },
		{ "a 'b c", { NULL }, "unbalanced ' quote" },
		{ "\"a", { NULL }, "unbalanced \" quote" },
		{ "\"a\\\"", { NULL }, "unbalanced \" quote" },
		{ "a\\", { NULL }, "a trailing backslash escapes nothing" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		struct strv w = { 0 };
		char *err = NULL;
		int rc = split_words(c[i].in, &w, &err);
		char what[128];
		snprintf(what, sizeof(what), "split_words(\"%s\")", c[i].in);
		if (c[i].err) {
			if (rc != -1)
				fail_msg("%s: accepted", what);
			check_str(what, err, c[i].err);
			free(err);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", what, err ? err : "out of memory");
		size_t n = 0;
		while (c[i].out[n])
			n++;
		check_eq(w.len, n);
		for (size_t k = 0; k < n; k++)
			check_str(what, w.v[k], c[i].out[k]);
		if (w.len)
			assert_null(w.v[w.len]);
		else
			assert_null(w.v);
		strv_free(&w);
	}
}

/* ---- rule_check ----------------------------------------------------- */

static void check(void **state)
{
	struct rule *r = *state;
	check_err(r, "no 'path' to watch");
	set_ok(r, "path", "/in");
	check_err(r, "no 'command' to run");
	set_ok(r, "command", "'' x");
	check_err(r, "the command's first word is empty");
	set_ok(r, "command", "convert {} {dir}/small/{name} {rule}");
	check_ok(r);
	set_ok(r, "batch", "10");
	check_err(r, "'{dir}' has no single value for a batch of 10 paths; "
		     "pass them as a lone {} word or on 'stdin'");
	set_ok(r, "command", "rsync -a {} host:/{rule}/");
	check_ok(r);
	set_ok(r, "command", "rsync -a {path} host:");
	check_ok(r);
	set_ok(r, "command", "tar cf x.tar --file={}");
	check_err(r, "'{}' has no single value for a batch of 10 paths; "
		     "pass them as a lone {} word or on 'stdin'");
	set_ok(r, "command", "echo {event}");
	check_err(r, "'{event}' has no single value for a batch of 10 paths; "
		     "pass them as a lone {} word or on 'stdin'");
	set_ok(r, "command", "echo {from} {nothing} {");
	check_err(r, "'{from}' has no single value for a batch of 10 paths; "
		     "pass them as a lone {} word or on 'stdin'");
	set_ok(r, "command", "echo {nothing} '{\"json\": 1}' {");
	check_ok(r);
	set_ok(r, "batch", "1");
	set_ok(r, "on-busy", "restart");
	set_ok(r, "stdin", "json");
	check_ok(r);
}

/* ---- filters -------------------------------------------------------- */

struct wants_case {
	const char *rel;
	bool is_dir, want;
};

static void check_wants(const struct rule *r, const char *root,
			const struct wants_case *c, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		char full[512];
		snprintf(full, sizeof(full), "%s/%s", root, c[i].rel);
		bool got = rule_wants(r, c[i].rel, full, c[i].is_dir);
		if (got != c[i].want) {
			print_error("'%s'%s: expected %s, got %s\n", c[i].rel,
				    c[i].is_dir ? " (dir)" : "",
				    c[i].want ? "wanted" : "refused",
				    got ? "wanted" : "refused");
			bad++;
		}
	}
	if (bad)
		fail_msg("%d of %zu cases wrong", bad, n);
}

#define CHECK_WANTS(r, root, v) check_wants(r, root, v, sizeof(v) / sizeof(*v))

static void wants_plain(void **state)
{
	struct rule *r = *state;
	static const struct wants_case c[] = {
		{ "a.jpg", false, true },
		{ "sub/a.jpg", false, true },
		{ "sub", true, true },
		{ ".a.jpg", false, false },        /* hidden off */
		{ ".git/config", false, false },   /* below a hidden one */
		{ "x/.cache/y/z", false, false },
		{ "x.y/z", false, true },
		{ "", true, true },                /* the root itself */
	};
	CHECK_WANTS(r, "/w", c);
	set_ok(r, "hidden", NULL);
	assert_true(rule_wants(r, ".git/config", "/w/.git/config", false));
	assert_true(rule_wants(r, ".a.jpg", "/w/.a.jpg", false));
}

static void wants_match_exclude(void **state)
{
	struct rule *r = *state;
	set_ok(r, "match", "*.jpg");
	set_ok(r, "match", "raw/**/*.cr2");
	set_ok(r, "exclude", "tmp-*");
	set_ok(r, "exclude", "node_modules");
	set_ok(r, "exclude", "cache/**");
	set_ok(r, "exclude-regex", "\\.part\\.jpg$");
	set_ok(r, "exclude-regex", "^/w/old(/|$)");
	static const struct wants_case c[] = {
		{ "a.jpg", false, true },
		{ "a.png", false, false },          /* no match */
		{ "x/y/a.jpg", false, true },
		{ "raw/a.cr2", false, true },
		{ "raw/2024/05/a.cr2", false, true },
		{ "other/a.cr2", false, false },
		{ "tmp-a.jpg", false, false },      /* excluded by name */
		{ "tmp-d/a.jpg", false, false },    /* below an excluded dir */
		{ "x/tmp-d/y/a.jpg", false, false },
		{ "node_modules/p/a.jpg", false, false },
		{ "web/node_modules/a.jpg", false, false },
		{ "node_modules.jpg", false, true },
		{ "cache", true, false },           /* dirs do not match *.jpg */
		{ "cache/a.jpg", false, false },
		{ "x/cache/a.jpg", false, true },   /* cache/ only at the top */
		{ "a.part.jpg", false, false },     /* regex on the full path */
		{ "old/a.jpg", false, false },
		{ "old", true, false },
		{ "older/a.jpg", false, true },
		{ "d.jpg/a.jpg", false, true },
	};
	CHECK_WANTS(r, "/w", c);

	assert_true(rule_descends(r, "x", "/w/x"));
	assert_true(rule_descends(r, "", "/w"));
	assert_false(rule_descends(r, "tmp-d", "/w/tmp-d"));
	assert_false(rule_descends(r, "a/node_modules", "/w/a/node_modules"));
	/* "cache" then a trailing '**' excludes what is below cache only */
	assert_true(rule_descends(r, "cache", "/w/cache"));
	assert_false(rule_descends(r, "cache/x", "/w/cache/x"));
	assert_false(rule_descends(r, "old", "/w/old"));
	assert_false(rule_descends(r, ".git", "/w/.git"));
	assert_false(rule_descends(r, "a/.git", "/w/a/.git"));
	assert_true(rule_descends(r, "a.jpg.d", "/w/a.jpg.d")); /* match does not stop it */
}

static void wants_kind(void **state)
{
	struct rule *r = *state;
	set_ok(r, "files", NULL);
	assert_true(rule_wants(r, "a", "/w/a", false));
	assert_false(rule_wants(r, "d", "/w/d", true));
	assert_true(rule_descends(r, "d", "/w/d"));
	set_ok(r, "files", "no");
	set_ok(r, "dirs", NULL);
	assert_false(rule_wants(r, "a", "/w/a", false));
	assert_true(rule_wants(r, "d", "/w/d", true));
}

/* An exclude-regex on a directory above the path, when that check cannot
 * get its memory: the path is refused rather than let through. */
static void wants_out_of_memory(void **state)
{
	struct rule *r = *state;
	set_ok(r, "exclude-regex", "^/w/x$");
	alloc_fail_after(0);
	bool got = rule_wants(r, "y/a", "/w/y/a", false);
	alloc_fail_off();
	assert_false(got);
	assert_true(rule_wants(r, "y/a", "/w/y/a", false));
	assert_false(rule_wants(r, "x/a", "/w/x/a", false));
}

/* ---- memory and junk ------------------------------------------------ */

/* Every allocation in turn fails: each call fails cleanly (-1, *err NULL
 * or a message) and leaks nothing (valgrind). */
static void out_of_memory(void **state)
{
	(void)state;
	static const char *const kv[][2] = {
		{ "path", "/a" }, { "path", "/b" }, { "match", "*.x" },
		{ "exclude", "y" }, { "exclude-regex", "z$" }, { "event", "create" },
		{ "command", "a 'b c' \"d\" {}" }, { "settle", "5s" },
		{ "stdin", "bogus" }, { "jobs", "0" },
	};
	for (long budget = 0;; budget++) {
		struct rule r;
		alloc_fail_after(budget);
		int rc = rule_init(&r, "oom");
		for (size_t i = 0; rc == 0 && i < sizeof(kv) / sizeof(*kv); i++) {
			char *err = NULL;
			rc = rule_set(&r, kv[i][0], kv[i][1], &err);
			if (rc < 0 && err && i >= 8)
				rc = 0; /* the expected refusals */
			free(err);
		}
		char *argv[] = { "x", "y" };
		if (rc == 0)
			rc = rule_set_argv(&r, argv, 2);
		long refused = alloc_fail_refused();
		alloc_fail_off();
		rule_fini(&r);
		if (rc == 0 && !refused)
			break;
		assert_true(rc < 0);
		assert_true(budget < 1000);
	}
}

static void random_values(void **state)
{
	(void)state;
	static const char *const keys[] = {
		"path", "recursive", "event", "match", "exclude", "exclude-regex",
		"files", "dirs", "hidden", "settle", "batch", "batch-wait", "jobs",
		"min-interval", "on-busy", "stop-signal", "stop-timeout", "timeout",
		"initial", "stdin", "loop-burst", "loop-window", "command",
		"backend", "poll-interval",
	};
	static const char alpha[] = "0123456789.msdh 'a\"\\{}*[]!-,/:\xc3\xa9\xff\t";
	srand(4);
	struct rule r;
	assert_int_equal(rule_init(&r, "fuzz"), 0);
	for (int it = 0; it < 30000; it++) {
		if (it % 500 == 0) { /* keep the lists short: junk, not load */
			rule_fini(&r);
			assert_int_equal(rule_init(&r, "fuzz"), 0);
		}
		char v[32];
		size_t n = (size_t)(rand() % 31);
		for (size_t i = 0; i < n; i++)
			v[i] = rand() % 4 ? alpha[rand() % (sizeof(alpha) - 1)] :
					    (char)(1 + rand() % 255);
		v[n] = '\0';
		const char *key = keys[rand() % (sizeof(keys) / sizeof(*keys))];
		char *err = NULL;
		if (rule_set(&r, key, v, &err) < 0)
			assert_non_null(err);
		free(err);
		struct strv w;
		if (split_words(v, &w, &err) == 0)
			strv_free(&w);
		free(err);
		uint64_t ns;
		int sig;
		parse_duration(v, &ns);
		parse_signal(v, &sig);
		if (rule_check(&r, &err) < 0)
			free(err);
		rule_wants(&r, v, v, n & 1);
		rule_descends(&r, v, v);
	}
	rule_fini(&r);
	rule_fini(&r); /* a finished rule is all zeros: safe again */
}

int main(void)
{
	setlocale(LC_ALL, "C.UTF-8");
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(defaults),
		T(key_table),
		T(lists),
		T(events),
		T(flags),
		T(durations_keys),
		T(counts),
		T(choices),
		T(unknown_key),
		T(state_keys),
		T(command),
		T(unset),
		T(durations),
		T(signals),
		T(words),
		T(check),
		T(wants_plain),
		T(wants_match_exclude),
		T(wants_kind),
		T(wants_out_of_memory),
		T(out_of_memory),
		T(random_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
