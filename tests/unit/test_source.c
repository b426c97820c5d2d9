/* Unit tests for src/lib/source_inotify.c: the kernel record decoder, and
 * one round trip through a real inotify instance. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "source.h"

#include "check.h"

#define HDR sizeof(struct inotify_event)

/* A byte stream as read() returns it, built record by record. */
struct stream {
	alignas(struct inotify_event) unsigned char b[4096];
	size_t len;
};

/* Append a record. NAME is written into a LEN-byte field padded with NULs
 * (LEN may be shorter than the name, to build malformed records). */
static void put(struct stream *s, int wd, uint32_t mask, uint32_t cookie,
		const char *name, uint32_t len)
{
	struct inotify_event h = {.wd = wd, .mask = mask, .cookie = cookie, .len = len};
	assert_true(s->len + HDR + len <= sizeof(s->b));
	memcpy(s->b + s->len, &h, HDR);
	memset(s->b + s->len + HDR, 0, len);
	if (name) {
		size_t n = strlen(name);
		memcpy(s->b + s->len + HDR, name, n < len ? n : len);
	}
	s->len += HDR + len;
}

/* The kernel's padding: name plus NUL, rounded up to the header's size. */
static uint32_t padded(const char *name)
{
	size_t n = strlen(name) + 1;
	return (uint32_t)((n + HDR - 1) / HDR * HDR);
}

static const struct source_record poison = {
	.wd = -77, .mask = 0xdead, .cookie = 0xbeef, .name = "poison",
	.name_len = 6, .size = 12345,
};

static void check_untouched(const struct source_record *r)
{
	check_eq(r->wd, poison.wd);
	check_eq(r->mask, poison.mask);
	check_eq(r->cookie, poison.cookie);
	assert_ptr_equal(r->name, poison.name);
	check_eq(r->size, poison.size);
}

static void size_zero_returns_zero(void **state)
{
	(void)state;
	struct source_record r = poison;
	char b[1] = {0};
	check_eq(source_inotify_parse(b, 0, &r), 0);
	check_untouched(&r);
}

static void record_without_name(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	put(&s, 3, IN_DELETE_SELF, 0, NULL, 0);
	struct source_record r = poison;
	check_eq(source_inotify_parse(s.b, s.len, &r), 1);
	check_eq(r.wd, 3);
	check_eq(r.mask, IN_DELETE_SELF);
	check_eq(r.cookie, 0);
	assert_non_null(r.name);
	assert_string_equal(r.name, "");
	check_eq(r.name_len, 0);
	check_eq(r.size, HDR);
}

static void record_with_padded_name(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	put(&s, 1, IN_CREATE | IN_ISDIR, 0, "dir", padded("dir"));
	struct source_record r = poison;
	check_eq(source_inotify_parse(s.b, s.len, &r), 1);
	check_eq(r.mask, IN_CREATE | IN_ISDIR);
	assert_string_equal(r.name, "dir");
	check_eq(r.name_len, 3);
	check_eq(r.size, HDR + padded("dir"));
	/* the name points into the buffer: no copy */
	assert_ptr_equal(r.name, (const char *)s.b + HDR);
}

static void name_filling_field_but_nul(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	/* exactly len - 1 name bytes and one NUL: the tightest legal record */
	put(&s, 1, IN_MODIFY, 0, "abcdefg", 8);
	struct source_record r;
	check_eq(source_inotify_parse(s.b, s.len, &r), 1);
	assert_string_equal(r.name, "abcdefg");
	check_eq(r.name_len, 7);
	check_eq(r.size, HDR + 8);
}

static void all_nul_name_field_is_empty_name(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	put(&s, 1, IN_ATTRIB, 0, NULL, 16);
	struct source_record r;
	check_eq(source_inotify_parse(s.b, s.len, &r), 1);
	check_eq(r.name_len, 0);
	assert_string_equal(r.name, "");
	check_eq(r.size, HDR + 16);
}

static void several_records_in_one_buffer(void **state)
{
	(void)state;
	static const struct {
		int wd;
		uint32_t mask, cookie;
		const char *name;
	} want[] = {
		{1, IN_CREATE, 0, "a"},
		{1, IN_MOVED_FROM, 4242, "old-name.txt"},
		{2, IN_MOVED_TO, 4242, "a name that is rather longer than sixteen"},
		{2, IN_DELETE_SELF, 0, NULL},
		{2, IN_IGNORED, 0, NULL},
		{7, IN_CLOSE_WRITE, 0, "x"},
	};
	enum { N = sizeof(want) / sizeof(want[0]) };
	struct stream s = {.len = 0};
	for (int i = 0; i < N; i++)
		put(&s, want[i].wd, want[i].mask, want[i].cookie, want[i].name,
		    want[i].name ? padded(want[i].name) : 0);

	size_t off = 0;
	int got = 0;
	for (;;) {
		struct source_record r;
		int ret = source_inotify_parse(s.b + off, s.len - off, &r);
		if (ret == 0)
			break;
		check_eq(ret, 1);
		assert_true(got < N);
		const char *name = want[got].name ? want[got].name : "";
		if (r.wd != want[got].wd || r.mask != want[got].mask ||
		    r.cookie != want[got].cookie || strcmp(r.name, name) != 0 ||
		    r.name_len != strlen(name))
			fail_msg("record %d: expected (%d, %#x, %u, '%s'), "
				 "got (%d, %#x, %u, '%s' len %zu)",
				 got, want[got].wd, want[got].mask, want[got].cookie, name,
				 r.wd, r.mask, r.cookie, r.name, r.name_len);
		check_eq(r.size, HDR + (want[got].name ? padded(want[got].name) : 0));
		off += r.size;
		got++;
	}
	check_eq(got, N);
	check_eq(off, s.len);
}

static void len_overruns_buffer(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	put(&s, 1, IN_CREATE, 0, "name", 16);
	struct source_record r = poison;
	/* one byte short, half the name, the header alone */
	check_eq(source_inotify_parse(s.b, s.len - 1, &r), -EBADMSG);
	check_eq(source_inotify_parse(s.b, HDR + 8, &r), -EBADMSG);
	check_eq(source_inotify_parse(s.b, HDR, &r), -EBADMSG);
	check_untouched(&r);
	/* and in full it is fine */
	check_eq(source_inotify_parse(s.b, s.len, &r), 1);
}

static void len_huge_does_not_wrap(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	put(&s, 1, IN_CREATE, 0, NULL, 0);
	struct inotify_event h;
	memcpy(&h, s.b, HDR);
	static const uint32_t lens[] = {UINT32_MAX, UINT32_MAX - HDR + 1,
					(uint32_t)INT32_MAX + 1, 4096};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		h.len = lens[i];
		memcpy(s.b, &h, HDR);
		struct source_record r = poison;
		int ret = source_inotify_parse(s.b, sizeof(s.b), &r);
		if (ret != -EBADMSG)
			fail_msg("len %u: expected %d, got %d", lens[i], -EBADMSG, ret);
		check_untouched(&r);
	}
}

static void short_header(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	put(&s, 1, IN_CREATE, 0, NULL, 0);
	for (size_t size = 1; size < HDR; size++) {
		struct source_record r = poison;
		int ret = source_inotify_parse(s.b, size, &r);
		if (ret != -EBADMSG)
			fail_msg("size %zu: expected %d, got %d", size, -EBADMSG, ret);
		check_untouched(&r);
	}
}

static void name_not_nul_terminated(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	/* a 4-byte field holding "abcd" and no NUL, then more bytes after it
	 * that a careless strlen would run into */
	put(&s, 1, IN_CREATE, 0, "abcdefgh", 4);
	memset(s.b + s.len, 'Q', 32);
	struct source_record r = poison;
	check_eq(source_inotify_parse(s.b, s.len, &r), -EBADMSG);
	check_eq(source_inotify_parse(s.b, s.len + 32, &r), -EBADMSG);
	check_untouched(&r);
}

static void bad_record_after_good_ones(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	put(&s, 1, IN_CREATE, 0, "ok", padded("ok"));
	size_t first = s.len;
	put(&s, 1, IN_CREATE, 0, "truncated", 32);
	struct source_record r;
	check_eq(source_inotify_parse(s.b, s.len - 1, &r), 1);
	check_eq(r.size, first);
	check_eq(source_inotify_parse(s.b + first, s.len - 1 - first, &r), -EBADMSG);
}

static void unaligned_buffer(void **state)
{
	(void)state;
	struct stream s = {.len = 0};
	s.len = 1; /* start at an odd address */
	put(&s, 9, IN_MODIFY, 5, "odd", padded("odd"));
	struct source_record r;
	check_eq(source_inotify_parse(s.b + 1, s.len - 1, &r), 1);
	check_eq(r.wd, 9);
	check_eq(r.mask, IN_MODIFY);
	check_eq(r.cookie, 5);
	assert_string_equal(r.name, "odd");
}

/* A fresh directory under $TMPDIR, into DIR. */
static void make_temp_dir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, size, "%s/vigil-test-source-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		fail_msg("mkdtemp '%s': %s", dir, strerror(errno));
}

/* One real round trip: what the kernel writes, the decoder reads. */
static void real_inotify_records_parse(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	make_temp_dir(dir, sizeof(dir));
	struct source src;
	int ret = source_inotify_open(&src);
	if (ret < 0) {
		rmdir(dir);
		fail_msg("source_inotify_open: %s", strerror(-ret));
	}
	assert_non_null(src.ops);
	assert_ptr_equal(src.ops->parse, source_inotify_parse);
	check_eq(fcntl(src.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	check_eq(fcntl(src.fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);

	alignas(struct inotify_event) char buf[4096];
	/* nothing queued yet: -EAGAIN, not a block */
	check_eq(src.ops->read(&src, buf, sizeof(buf)), -EAGAIN);

	int wd = -1;
	check_eq(src.ops->add_path(&src, dir, IN_CREATE | IN_DELETE, &wd), 0);
	assert_true(wd > 0);

	char file[PATH_MAX + 32];
	snprintf(file, sizeof(file), "%s/a-file", dir);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	check_eq(unlink(file), 0);

	/* inotify queues the event before the syscall returns */
	size_t pending = 0;
	check_eq(src.ops->pending(&src, &pending), 0);
	assert_true(pending >= 2 * HDR);
	ssize_t n = src.ops->read(&src, buf, sizeof(buf));
	check_eq(n, pending);

	struct source_record r;
	check_eq(source_inotify_parse(buf, (size_t)n, &r), 1);
	check_eq(r.wd, wd);
	check_eq(r.mask, IN_CREATE);
	assert_string_equal(r.name, "a-file");
	size_t off = r.size;
	check_eq(source_inotify_parse(buf + off, (size_t)n - off, &r), 1);
	check_eq(r.mask, IN_DELETE);
	assert_string_equal(r.name, "a-file");
	off += r.size;
	check_eq(off, n);
	check_eq(source_inotify_parse(buf + off, 0, &r), 0);

	check_eq(src.ops->remove(&src, wd), 0);
	check_eq(src.ops->remove(&src, wd), 0); /* already gone: not an error */
	src.ops->close(&src);
	check_eq(src.fd, -1);
	check_eq(rmdir(dir), 0);
}

/* The engine reading records from a source other than the kernel: the
 * inotify source, its read() answered by FED once. */
static struct stream fed;
static bool fed_done;
static const struct source_ops *fed_real;

static ssize_t fed_read(struct source *src, void *buf, size_t size)
{
	if (fed_done)
		return fed_real->read(src, buf, size);
	fed_done = true;
	assert_true(fed.len <= size);
	memcpy(buf, fed.b, fed.len);
	return (ssize_t)fed.len;
}

static int find_wd(void *ctx, int wd, const char *path)
{
	(void)path;
	*(int *)ctx = wd;
	return 1;
}

/* A rename half with no name (found by fuzz/fuzz_inotify): the paired
 * event's from_path_len is still the length of from_path. */
static void paired_half_without_name(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	make_temp_dir(dir, sizeof(dir));
	vigil *v;
	check_eq(vigil_new(VIGIL_PAIR_MOVES, &v), 0);
	check_eq(vigil_add(v, dir, IN_ALL_EVENTS, 0), 1);
	int wd = -1;
	check_eq(vigil_foreach_watch(v, find_wd, &wd), 1);
	struct source_ops ops = *v->src.ops;
	fed_real = v->src.ops;
	ops.read = fed_read;
	v->src.ops = &ops;
	fed.len = 0;
	fed_done = false;
	put(&fed, wd, IN_MOVED_FROM, 11, NULL, 0);
	put(&fed, wd, IN_MOVED_TO, 11, "f", padded("f"));

	const struct vigil_event *ev;
	check_eq(vigil_next(v, 0, &ev), 1);
	check_eq(ev->flags & VIGIL_EVENT_PAIRED, VIGIL_EVENT_PAIRED);
	assert_non_null(ev->from_path);
	check_eq(strlen(ev->from_path), ev->from_path_len);
	v->src.ops = fed_real;
	vigil_free(v);
	check_eq(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_zero_returns_zero),
		cmocka_unit_test(paired_half_without_name),
		cmocka_unit_test(record_without_name),
		cmocka_unit_test(record_with_padded_name),
		cmocka_unit_test(name_filling_field_but_nul),
		cmocka_unit_test(all_nul_name_field_is_empty_name),
		cmocka_unit_test(several_records_in_one_buffer),
		cmocka_unit_test(len_overruns_buffer),
		cmocka_unit_test(len_huge_does_not_wrap),
		cmocka_unit_test(short_header),
		cmocka_unit_test(name_not_nul_terminated),
		cmocka_unit_test(bad_record_after_good_ones),
		cmocka_unit_test(unaligned_buffer),
		cmocka_unit_test(real_inotify_records_parse),
	};
	return cmocka_run_group_tests_name("source", tests, NULL, NULL);
}
