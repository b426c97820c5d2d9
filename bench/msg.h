/* Messages for the bench helpers: "PROG: text" on stderr, lowercase errors
 * as vigil writes them. Each program defines PROG before including this. */
#ifndef BENCH_MSG_H
#define BENCH_MSG_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void msg(const char *fmt, ...)
{
	va_list ap;
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* strerror() capitalises; vigil's messages do not, nor do these. */
static const char *errstr(int err)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

#endif
