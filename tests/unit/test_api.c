/* The public API (include/vigil.h) on real directories: only what a program
 * linking libvigil can call. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil.h"

struct fixture {
	char dir[256];
	vigil *v;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/vigil-api.XXXXXX", tmp ? tmp : "/tmp");
	if (!f || !mkdtemp(f->dir))
		return -1;
	if (vigil_new(0, &f->v) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	vigil_free(f->v);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void path_in(const struct fixture *f, const char *rel, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->dir, rel);
}

static void touch(const struct fixture *f, const char *rel)
{
	char p[512];
	path_in(f, rel, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void make_dir(const struct fixture *f, const char *rel)
{
	char p[512];
	path_in(f, rel, p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
}

/* The next event, waiting at most 5 s for it. */
static const struct vigil_event *next(vigil *v)
{
	const struct vigil_event *ev = NULL;
	int r = vigil_next(v, 5000, &ev);
	if (r != 1)
		fail_msg("expected an event, vigil_next returned %d", r);
	return ev;
}

static void new_rejects_unknown_flags(void **state)
{
	(void)state;
	vigil *v = NULL;
	assert_int_equal(vigil_new(1u << 30, &v), -EINVAL);
	assert_null(v);
}

static void free_accepts_null(void **state)
{
	(void)state;
	assert_null(vigil_free(NULL));
}

static void add_missing_path_is_enoent(void **state)
{
	struct fixture *f = *state;
	char p[512];
	path_in(f, "nope", p, sizeof(p));
	assert_int_equal(vigil_add(f->v, p, IN_ALL_EVENTS, 0), -ENOENT);
	assert_int_equal(vigil_watch_count(f->v), 0);
}

static void add_onlydir_on_a_file_is_enotdir(void **state)
{
	struct fixture *f = *state;
	char p[512];
	touch(f, "file");
	path_in(f, "file", p, sizeof(p));
	assert_int_equal(vigil_add(f->v, p, IN_ALL_EVENTS, VIGIL_ONLYDIR), -ENOTDIR);
}

static void next_times_out_with_zero(void **state)
{
	struct fixture *f = *state;
	const struct vigil_event *ev = NULL;
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, 0), 1);
	assert_int_equal(vigil_next(f->v, 0, &ev), 0);
	assert_int_equal(vigil_next(f->v, 20, &ev), 0);
	assert_null(ev);
}

static void event_fields(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, 0), 1);
	touch(f, "a file");
	const struct vigil_event *ev = next(f->v);
	char dir[300], path[300];
	snprintf(dir, sizeof(dir), "%s/", f->dir);
	snprintf(path, sizeof(path), "%s/a file", f->dir);
	assert_string_equal(ev->dir, dir);
	assert_string_equal(ev->name, "a file");
	assert_string_equal(ev->path, path);
	assert_int_equal(ev->path_len, strlen(path));
	assert_int_equal(ev->mask, IN_CREATE);
	assert_int_equal(ev->flags, 0);
	assert_null(ev->from_path);
	assert_true(ev->time.tv_sec > 0);
}

static void recursive_add_counts_watches(void **state)
{
	struct fixture *f = *state;
	make_dir(f, "a");
	make_dir(f, "a/b");
	make_dir(f, "c");
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, VIGIL_RECURSIVE), 4);
	assert_int_equal(vigil_watch_count(f->v), 4);
	touch(f, "a/b/deep");
	const struct vigil_event *ev = next(f->v);
	assert_string_equal(ev->name, "deep");
	assert_non_null(strstr(ev->dir, "/a/b/"));
}

/* A recursive add walks the tree in a thread with a working directory of
 * its own: the caller's stays where it was, and every directory ends up
 * watched for all that was asked, its own listing's events included (a
 * directory is watched without them while the walk lists it). */
static void recursive_add_keeps_working_directory(void **state)
{
	struct fixture *f = *state;
	make_dir(f, "a");
	make_dir(f, "a/b");
	make_dir(f, "c");
	char old[512], here[512], leaf[512];
	assert_non_null(getcwd(old, sizeof(old)));
	path_in(f, "a", here, sizeof(here));
	path_in(f, "c", leaf, sizeof(leaf));
	assert_int_equal(chdir(here), 0);
	assert_int_equal(vigil_add(f->v, f->dir, IN_ALL_EVENTS, VIGIL_RECURSIVE), 4);
	struct stat want, got;
	assert_int_equal(stat(here, &want), 0);
	assert_int_equal(stat(".", &got), 0);
	assert_true(got.st_dev == want.st_dev && got.st_ino == want.st_ino);
	assert_int_equal(chdir(old), 0);
	/* opening the leaf c is reported on c itself */
	int fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	size_t dir_len = strlen(leaf) + 1;
	for (;;) {
		const struct vigil_event *ev = next(f->v);
		if ((ev->mask & IN_OPEN) && !ev->name[0] && strlen(ev->dir) == dir_len &&
		    strncmp(ev->dir, leaf, dir_len - 1) == 0)
			break;
	}
}

static void new_directory_contents_are_synthetic(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, VIGIL_RECURSIVE), 1);
	/* made outside, moved in whole: only a listing can see its contents */
	char outside[300], inside[300];
	snprintf(outside, sizeof(outside), "%s.out", f->dir);
	assert_int_equal(mkdir(outside, 0755), 0);
	char file[320];
	snprintf(file, sizeof(file), "%s/inner", outside);
	close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	path_in(f, "moved", inside, sizeof(inside));
	assert_int_equal(rename(outside, inside), 0);
	const struct vigil_event *ev = next(f->v);
	assert_string_equal(ev->name, "inner");
	assert_int_equal(ev->mask, IN_CREATE);
	assert_true(ev->flags & VIGIL_EVENT_SYNTHETIC);
	assert_int_equal(vigil_watch_count(f->v), 2);
}

static void paired_move(void **state)
{
	struct fixture *f = *state;
	vigil *v;
	assert_int_equal(vigil_new(VIGIL_PAIR_MOVES, &v), 0);
	touch(f, "old");
	assert_int_equal(vigil_add(v, f->dir, IN_MOVE, 0), 1);
	char from[300], to[300];
	path_in(f, "old", from, sizeof(from));
	path_in(f, "new", to, sizeof(to));
	assert_int_equal(rename(from, to), 0);
	const struct vigil_event *ev = next(v);
	assert_int_equal(ev->mask, IN_MOVED_FROM | IN_MOVED_TO);
	assert_true(ev->flags & VIGIL_EVENT_PAIRED);
	assert_string_equal(ev->path, to);
	assert_string_equal(ev->from_path, from);
	assert_string_equal(ev->from_name, "old");
	assert_int_equal(ev->from_path_len, strlen(from));
	vigil_free(v);
}

static void remove_stops_events(void **state)
{
	struct fixture *f = *state;
	make_dir(f, "sub");
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, VIGIL_RECURSIVE), 2);
	assert_int_equal(vigil_remove(f->v, f->dir), 0);
	assert_int_equal(vigil_watch_count(f->v), 0);
	assert_int_equal(vigil_remove(f->v, f->dir), -ENOENT);
	touch(f, "sub/x");
	const struct vigil_event *ev = NULL;
	assert_int_equal(vigil_next(f->v, 50, &ev), 0);
}

/* glibc's regcomp() copies what a repetition repeats, so repetitions of
 * repetitions multiply: 'a' and 24 '+' took 12 GiB and 40 s (libFuzzer's
 * rules target found it, as a rules file's exclude-regex). Chains of
 * optional pieces cost the square of their length, anchors in them more,
 * and a repetition of what can match nothing walks its loops again and
 * again: each of the second list took from a second to minutes, or
 * gigabytes, or overflowed the stack (CI's fuzzing found the last kind).
 * Such patterns are refused at once; what people write passes. */
static void regex_too_costly_to_compile_is_refused(void **state)
{
	(void)state;
	static const char *const fine[] = {
		"\\.swp$", "^[0-9a-f]{64}$", "(foo|bar)+", "[]a]+", "[[:alpha:]]{1,255}",
		"((a+)+)+", "a{,5}", "(x{1,100}){1,100}", "a+++++++++++++", "a|", "",
		"^.{0,255}$", "(/[^/]{1,255}){0,20}", "(a*)*", "((a*|b*)*|(c*|d*)*)*",
		"(^|/)\\.git(/|$)", "(^|/)(\\.git|node_modules)(/|$)", "a{0,1000}",
		"()?{20,275}", "$(a?){300}",
		/* regcomp() refuses these itself, before it works out closures */
		"{", "x{1,2", "[a-z", "(", ")", "\\", "a{40000}", "a{2,1}",
		"(){,}{2,3}{1,51}x{y", "a{0,20000}{", "a{0,20000}(",
	};
	for (size_t i = 0; i < sizeof(fine) / sizeof(*fine); i++)
		assert_int_equal(vigil_regex_check(fine[i]), 0);
	static const char *const big[] = {
		"a++++++++++++++++++++++++", "(x{1,100}){1,1000}",
		"((((a+)+)+)+){1,255}{1,255}", "[[:alpha:]]{1,255}{1,255}",
		"(a|b|c){99}{99}{99}", "(a*){1,120}{1,120}", "a{0,20000}", "(){0,}{2,3}{1,51}",
		"(){,}{2,3}{1,51}", "(()^()){0,150}", "\\.b*?{255,}", "$()?{20,275}",
		/* invalid, but regcomp() makes the nodes before it sees the '{' */
		"a++++++++++++++++++++++++{",
	};
	for (size_t i = 0; i < sizeof(big) / sizeof(*big); i++)
		assert_int_equal(vigil_regex_check(big[i]), -E2BIG);
	char deep[2 * 600 + 2] = "";
	memset(deep, '(', 600);
	deep[600] = 'a';
	memset(deep + 601, ')', 600);
	assert_int_equal(vigil_regex_check(deep), -E2BIG);
	assert_int_equal(vigil_regex_check(NULL), -EINVAL);
}

static void filters(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vigil_filter_add(f->v, VIGIL_FILTER_EXCLUDE, "(", 0), -EINVAL);
	assert_int_equal(vigil_filter_add(f->v, 99, "x", 0), -EINVAL);
	assert_int_equal(vigil_filter_add(f->v, VIGIL_FILTER_EXCLUDE,
					  "a++++++++++++++++++++++++++++++++", 0), -E2BIG);
	assert_int_equal(vigil_filter_add(f->v, VIGIL_FILTER_INCLUDE, "(.{1,255}){1,255}", 0),
			 -E2BIG);
	assert_int_equal(vigil_filter_add(f->v, VIGIL_FILTER_EXCLUDE, "\\.TMP$",
					  VIGIL_FILTER_ICASE), 0);
	assert_int_equal(vigil_filter_add(f->v, VIGIL_FILTER_EXCLUDE, "/skip$", 0), 0);
	make_dir(f, "skip");
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, VIGIL_RECURSIVE), 1);
	/* the excluded directory costs no watch */
	assert_int_equal(vigil_watch_count(f->v), 1);
	touch(f, "x.tmp");
	touch(f, "kept");
	const struct vigil_event *ev = next(f->v);
	assert_string_equal(ev->name, "kept");
}

static void fd_is_pollable(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, 0), 1);
	int fd = vigil_fd(f->v);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	touch(f, "x");
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	const struct vigil_event *ev = NULL;
	assert_int_equal(vigil_next(f->v, 0, &ev), 1);
	assert_int_equal(vigil_next_deadline_ms(f->v), -1);
}

/* What waits to be read, in inotify's bytes: the kernel's queue behind the
 * epoll descriptor, then nothing once every event is taken. */
static void pending_counts_unread_records(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE, 0), 1);
	size_t bytes = 1;
	assert_int_equal(vigil_pending(f->v, &bytes), 0);
	assert_int_equal(bytes, 0);
	touch(f, "one");
	touch(f, "two");
	struct pollfd p = {.fd = vigil_fd(f->v), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(vigil_pending(f->v, &bytes), 0);
	/* two records, each 16 bytes and a padded name */
	assert_true(bytes >= 2 * 17);
	const struct vigil_event *ev = next(f->v);
	assert_string_equal(ev->name, "one");
	ev = next(f->v);
	assert_string_equal(ev->name, "two");
	assert_int_equal(vigil_pending(f->v, &bytes), 0);
	assert_int_equal(bytes, 0);
}

static void ignored_when_root_goes(void **state)
{
	struct fixture *f = *state;
	touch(f, "f");
	char p[512];
	path_in(f, "f", p, sizeof(p));
	assert_int_equal(vigil_add(f->v, p, IN_DELETE_SELF, 0), 1);
	assert_int_equal(unlink(p), 0);
	const struct vigil_event *ev = next(f->v);
	assert_int_equal(ev->mask, IN_DELETE_SELF);
	assert_string_equal(ev->dir, p);
	assert_string_equal(ev->name, "");
	ev = next(f->v);
	assert_true(ev->mask & IN_IGNORED);
	assert_int_equal(vigil_watch_count(f->v), 0);
}

struct wd_seen {
	vigil *v;
	size_t checked;
};

static int check_wd(void *ctx, int wd, const char *path)
{
	struct wd_seen *s = ctx;
	char slash[600];
	snprintf(slash, sizeof(slash), "%s/", path);
	assert_int_equal(vigil_watch_wd(s->v, path, strlen(path)), wd);
	assert_int_equal(vigil_watch_wd(s->v, slash, strlen(slash)), wd);
	s->checked++;
	return 0;
}

/* Every watch is found by the path vigil_foreach_watch() gives it, and by
 * the dir of an event in it; after a rename, by its new path only. */
static void watch_wd_follows_the_tree(void **state)
{
	struct fixture *f = *state;
	make_dir(f, "a");
	make_dir(f, "a/b");
	make_dir(f, "ab");
	assert_int_equal(vigil_add(f->v, f->dir, IN_CREATE | IN_MOVE, VIGIL_RECURSIVE), 4);
	struct wd_seen s = {.v = f->v};
	assert_int_equal(vigil_foreach_watch(f->v, check_wd, &s), 0);
	assert_int_equal(s.checked, 4);

	touch(f, "a/b/x");
	const struct vigil_event *ev = next(f->v);
	int b = vigil_watch_wd(f->v, ev->dir, ev->dir_len);
	assert_true(b > 0);
	char p[600], q[600];
	path_in(f, "a", p, sizeof(p));
	path_in(f, "c", q, sizeof(q));
	assert_int_equal(rename(p, q), 0);
	for (;;) {
		ev = next(f->v);
		if (ev->mask & IN_MOVED_TO)
			break;
	}
	path_in(f, "c/b", p, sizeof(p));
	assert_int_equal(vigil_watch_wd(f->v, p, strlen(p)), b);
	path_in(f, "a/b", p, sizeof(p));
	assert_int_equal(vigil_watch_wd(f->v, p, strlen(p)), -ENOENT);
	/* a name that only starts like a watched one */
	path_in(f, "c/bb", p, sizeof(p));
	assert_int_equal(vigil_watch_wd(f->v, p, strlen(p)), -ENOENT);
	snprintf(p, sizeof(p), "%sx", f->dir);
	assert_int_equal(vigil_watch_wd(f->v, p, strlen(p)), -ENOENT);
	assert_int_equal(vigil_watch_wd(f->v, "/", 1), -ENOENT);
	assert_int_equal(vigil_watch_wd(f->v, NULL, 0), -EINVAL);
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f && fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

/* The watch limit's text names the sysctl in force (the smaller of the
 * system-wide one and the user namespace's), its value, and twice it, or
 * as many more as are known to be needed; cut short, it says how long it
 * is whole, like snprintf. */
static void limit_text_names_the_sysctl_in_force(void **state)
{
	(void)state;
	long fs = read_long("/proc/sys/fs/inotify/max_user_watches");
	long user = read_long("/proc/sys/user/max_inotify_watches");
	const char *name = "fs.inotify.max_user_watches";
	long cur = fs;
	if (user >= 0 && (fs < 0 || user < fs)) {
		name = "user.max_inotify_watches";
		cur = user;
	}
	if (cur < 1)
		skip(); /* no limit to read here, or none to double */
	char want[512], got[512];
	snprintf(want, sizeof(want), "inotify watch limit reached (%s = %ld); raise it with "
		 "'sysctl -w %s=%ld', or for good in /etc/sysctl.d/", name, cur, name, cur * 2);
	int n = vigil_limit_text(VIGIL_LIMIT_INOTIFY_WATCHES, 0, got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(n, (int)strlen(want));
	snprintf(want, sizeof(want), "inotify watch limit reached (%s = %ld); raise it with "
		 "'sysctl -w %s=%ld', or for good in /etc/sysctl.d/", name, cur, name, cur * 4);
	vigil_limit_text(VIGIL_LIMIT_INOTIFY_WATCHES, (size_t)cur * 3, got, sizeof(got));
	assert_string_equal(got, want);
	char small[8];
	assert_int_equal(vigil_limit_text(VIGIL_LIMIT_INOTIFY_WATCHES, 0, small, sizeof(small)), n);
	assert_string_equal(small, "inotify");
	assert_int_equal(vigil_limit_text((enum vigil_limit)99, 0, got, sizeof(got)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_rejects_unknown_flags),
		cmocka_unit_test(free_accepts_null),
		cmocka_unit_test_setup_teardown(add_missing_path_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(add_onlydir_on_a_file_is_enotdir, setup, teardown),
		cmocka_unit_test_setup_teardown(next_times_out_with_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(event_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(recursive_add_counts_watches, setup, teardown),
		cmocka_unit_test_setup_teardown(recursive_add_keeps_working_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(new_directory_contents_are_synthetic, setup, teardown),
		cmocka_unit_test_setup_teardown(paired_move, setup, teardown),
		cmocka_unit_test_setup_teardown(remove_stops_events, setup, teardown),
		cmocka_unit_test(regex_too_costly_to_compile_is_refused),
		cmocka_unit_test_setup_teardown(filters, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_is_pollable, setup, teardown),
		cmocka_unit_test_setup_teardown(pending_counts_unread_records, setup, teardown),
		cmocka_unit_test_setup_teardown(ignored_when_root_goes, setup, teardown),
		cmocka_unit_test_setup_teardown(watch_wd_follows_the_tree, setup, teardown),
		cmocka_unit_test(limit_text_names_the_sysctl_in_force),
	};
	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
