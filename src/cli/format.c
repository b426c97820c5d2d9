#include "format.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cli.h"

bool format_check(const char *format, const char *timefmt)
{
	if (!timefmt && strstr(format, "%T")) {
		cli_say(("%%T is in --format string, but --timefmt was not specified."),
			("'%%T' in '--format' needs '--timefmt'"));
		return false;
	}
	return true;
}

static void put_events(FILE *f, uint32_t mask, char sep)
{
	char buf[256];
	size_t n = vigil_mask_format(mask, sep, buf, sizeof(buf));
	fwrite(buf, 1, n < sizeof(buf) ? n : sizeof(buf) - 1, f);
}

static void put_time(FILE *f, const char *timefmt, const struct timespec *ts)
{
	struct tm tm;
	char buf[512];
	time_t t = ts->tv_sec;
	if (!localtime_r(&t, &tm))
		return;
	size_t n = strftime(buf, sizeof(buf), timefmt, &tm);
	fwrite(buf, 1, n, f);
}

static void put_format(struct out *o, const struct vigil_event *ev)
{
	FILE *f = o->f;
	for (const char *p = o->format; *p; p++) {
		if (*p != '%') {
			putc(*p, f);
			continue;
		}
		char c = *++p;
		switch (c) {
		case '\0':
			putc('%', f);
			p--;
			break;
		case '%':
			putc('%', f);
			break;
		case 'w':
			fwrite(ev->dir, 1, ev->dir_len, f);
			break;
		case 'f':
			fwrite(ev->name, 1, ev->name_len, f);
			break;
		case 'F':
			if (ev->from_path)
				fwrite(ev->from_path, 1, ev->from_path_len, f);
			break;
		case 'e':
			put_events(f, ev->mask, ',');
			break;
		case 'T':
			put_time(f, o->timefmt, &ev->time);
			break;
		case 'c': /* in hex, as inotifywait prints it */
			fprintf(f, "%x", ev->cookie);
			break;
		case 'p': /* who: empty when not known (inotify never says) */
		case 'P':
			if (p[1] == 'e') { /* %pe, %Pe: events separated by p, P */
				put_events(f, ev->mask, c);
				p++;
			} else if (c == 'p' && ev->pid > 0) {
				fprintf(f, "%d", ev->pid);
			} else if (c == 'P' && ev->comm) {
				fputs(ev->comm, f);
			}
			break;
		case '0':
			putc('\0', f);
			break;
		case 'n':
			putc('\n', f);
			break;
		default:
			if (p[1] == 'e') { /* %Xe: names separated by X */
				put_events(f, ev->mask, c);
				p++;
			} else { /* unknown: passed through, as inotifywait does */
				putc('%', f);
				putc(c, f);
			}
		}
	}
	if (o->newline)
		putc('\n', f);
}

/* inotifywait's CSV: quoted when holding '"', ',' or a newline, or when
 * starting or ending with a space; '"' doubled. */
static void csv_field(FILE *f, const char *s, size_t len)
{
	bool quote = len && (s[0] == ' ' || s[len - 1] == ' ');
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == '"' || s[i] == ',' || s[i] == '\n';
	if (!quote) {
		fwrite(s, 1, len, f);
		return;
	}
	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			putc('"', f);
		putc(s[i], f);
	}
	putc('"', f);
}

/* Length of the valid UTF-8 sequence at S (at most LEN bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void json_string(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	putc('"', f);
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
			i++;
		} else if (c < 0x20) {
			switch (c) {
			case '\n': fputs("\\n", f); break;
			case '\t': fputs("\\t", f); break;
			case '\r': fputs("\\r", f); break;
			case '\b': fputs("\\b", f); break;
			case '\f': fputs("\\f", f); break;
			default: fprintf(f, "\\u%04x", c);
			}
			i++;
		} else if (c < 0x80) {
			putc(c, f);
			i++;
		} else {
			size_t n = utf8_len(s + i, len - i);
			if (n) {
				fwrite(s + i, 1, n, f);
				i += n;
			} else {
				fprintf(f, "\\udc%02x", c);
				i++;
			}
		}
	}
	putc('"', f);
}

void json_events(FILE *f, uint32_t mask)
{
	char buf[256];
	size_t n = vigil_mask_format(mask, ',', buf, sizeof(buf));
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	putc('[', f);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && buf[j] != ',')
			j++;
		if (i)
			putc(',', f);
		json_string(f, buf + i, j - i);
		i = j + 1;
	}
	putc(']', f);
}

static void put_json(FILE *f, const struct vigil_event *ev)
{
	fputs("{\"path\":", f);
	json_string(f, ev->path, ev->path_len);
	fputs(",\"dir\":", f);
	json_string(f, ev->dir, ev->dir_len);
	fputs(",\"name\":", f);
	json_string(f, ev->name, ev->name_len);
	fputs(",\"events\":", f);
	json_events(f, ev->mask);
	fprintf(f, ",\"cookie\":%u", ev->cookie);
	if (ev->from_path) {
		fputs(",\"from\":", f);
		json_string(f, ev->from_path, ev->from_path_len);
	}
	fprintf(f, ",\"synthetic\":%s", (ev->flags & VIGIL_EVENT_SYNTHETIC) ? "true" : "false");
	if (ev->flags & VIGIL_EVENT_OVERFLOW)
		fputs(",\"overflow\":true", f);
	if (ev->flags & VIGIL_EVENT_POLLED)
		fputs(",\"polled\":true", f);
	if (ev->flags & VIGIL_EVENT_UNRESOLVED)
		fputs(",\"unresolved\":true", f);
	/* who: null when not known (inotify and polling never know) */
	if (ev->pid > 0)
		fprintf(f, ",\"pid\":%d", ev->pid);
	else
		fputs(",\"pid\":null", f);
	fputs(",\"comm\":", f);
	if (ev->comm)
		json_string(f, ev->comm, strlen(ev->comm));
	else
		fputs("null", f);
	struct tm tm;
	time_t t = ev->time.tv_sec;
	char ts[64];
	if (gmtime_r(&t, &tm) && strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm))
		fprintf(f, ",\"time\":\"%s.%09ldZ\"", ts, ev->time.tv_nsec);
	fputs("}\n", f);
}

void out_event(struct out *o, const struct vigil_event *ev)
{
	FILE *f = o->f;
	switch (o->kind) {
	case OUT_NATIVE:
		fwrite(ev->dir, 1, ev->dir_len, f);
		putc(' ', f);
		put_events(f, ev->mask, ',');
		putc(' ', f);
		fwrite(ev->name, 1, ev->name_len, f);
		putc('\n', f);
		break;
	case OUT_CSV:
		csv_field(f, ev->dir, ev->dir_len);
		putc(',', f);
		{
			char buf[256];
			size_t n = vigil_mask_format(ev->mask, ',', buf, sizeof(buf));
			csv_field(f, buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
		}
		putc(',', f);
		csv_field(f, ev->name, ev->name_len);
		putc('\n', f);
		break;
	case OUT_FORMAT:
		put_format(o, ev);
		break;
	case OUT_JSON:
		put_json(f, ev);
		break;
	}
}
