/* --format: random strings against a fixed event and random events,
 * compared with the expansion vigil-wait(1) documents, inotifywait's:
 * %w %f %F %e %Xe %T %c %0 %n %%, any other %X passed through, a lone %
 * at the end kept.
 * Input: a flags byte, the format, --timefmt, then the event (fuzz_event.h). */
#include <time.h>

#include "fuzz_event.h"

/* A fixed event: a close_write in /tmp/d/ of "a b.txt". */
static const struct vigil_event fixed = {
	.path = "/tmp/d/a b.txt", .dir = "/tmp/d/", .name = "a b.txt",
	.path_len = 14, .dir_len = 7, .name_len = 7,
	.mask = IN_CLOSE_WRITE, .cookie = 0x1234,
	.time = {.tv_sec = 1700000000, .tv_nsec = 5},
};

struct sbuf {
	char *p;
	size_t len, cap;
};

static void put(struct sbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		if (!(b->p = realloc(b->p, b->cap)))
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void put_mask(struct sbuf *b, uint32_t mask, char sep)
{
	char names[512];
	size_t n = vigil_mask_format(mask, sep, names, sizeof(names));
	put(b, names, n);
}

static void model(struct sbuf *b, const struct out *o, const struct vigil_event *ev)
{
	const char *f = o->format;
	size_t n = strlen(f);
	for (size_t i = 0; i < n; i++) {
		if (f[i] != '%') {
			put(b, f + i, 1);
			continue;
		}
		if (i + 1 == n) {
			put(b, "%", 1);
			break;
		}
		char c = f[++i];
		char tmp[600];
		switch (c) {
		case '%': put(b, "%", 1); break;
		case 'w': put(b, ev->dir, ev->dir_len); break;
		case 'f': put(b, ev->name, ev->name_len); break;
		case 'F':
			if (ev->from_path)
				put(b, ev->from_path, ev->from_path_len);
			break;
		case 'e': put_mask(b, ev->mask, ','); break;
		case 'c':
			put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%x", ev->cookie));
			break;
		case '0': put(b, "", 1); break;
		case 'n': put(b, "\n", 1); break;
		case 'T': {
			struct tm tm;
			time_t t = ev->time.tv_sec;
			if (localtime_r(&t, &tm))
				put(b, tmp, strftime(tmp, 512, o->timefmt, &tm));
			break;
		}
		case 'p': /* who: %p the pid, %P the command, empty when not known */
		case 'P':
			if (f[i + 1] == 'e') {
				put_mask(b, ev->mask, c);
				i++;
			} else if (c == 'p' && ev->pid > 0) {
				put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%d", ev->pid));
			} else if (c == 'P' && ev->comm) {
				put(b, ev->comm, strlen(ev->comm));
			}
			break;
		default:
			if (f[i + 1] == 'e') {
				put_mask(b, ev->mask, c);
				i++;
			} else {
				put(b, f + i - 1, 2);
			}
		}
	}
	if (o->newline)
		put(b, "\n", 1);
}

static void check(struct out *o, const struct vigil_event *ev)
{
	struct sbuf want = {0};
	put(&want, "", 0);
	model(&want, o, ev);
	size_t len;
	char *got = fuzz_event_write(o, ev, &len);
	fuzz_assert(len == want.len && memcmp(got, want.p, len) == 0,
		    "--format '%s' wrote %zu bytes '%s', want %zu '%s'", o->format, len,
		    got, want.len, want.p);
	free(got);
	free(want.p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("TZ", "UTC", 1); /* %T the same wherever it runs */
	tzset();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_u8(&in);
	char *format = fuzz_str(&in, true, NULL);
	char *timefmt = fuzz_str(&in, true, NULL);
	struct out o = {
		.kind = OUT_FORMAT, .format = format,
		.timefmt = (flags & 1) ? timefmt : NULL, .newline = flags & 2,
	};
	/* as wait.c refuses it: format_check() would say so */
	if (o.timefmt || !strstr(format, "%T")) {
		check(&o, &fixed);
		struct fuzz_event e;
		fuzz_event_take(&in, flags & 4, &e);
		check(&o, &e.ev);
		fuzz_event_free(&e);
	}
	free(format);
	free(timefmt);
	return 0;
}
