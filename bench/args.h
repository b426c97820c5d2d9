/* Command-line numbers for the bench helpers, checked the same way in each:
 * decimal digits only, no sign, no overflow; a message naming the option
 * otherwise. Each program defines PROG and includes msg.h first. */
#ifndef BENCH_ARGS_H
#define BENCH_ARGS_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

/* A count of at least MIN: 0 and *ret, or -1 with a message. */
static inline int parse_count(const char *s, const char *what, uint64_t min, uint64_t *ret)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9') {
		msg("%s must be a number, not '%s'", what, s);
		return -1;
	}
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0') {
		msg("%s must be a number, not '%s'", what, s);
		return -1;
	}
	if (errno == ERANGE || v > UINT64_MAX / 2) {
		msg("%s '%s' is too large", what, s);
		return -1;
	}
	if (v < min) {
		msg("%s must be at least %" PRIu64 ", not '%s'", what, min, s);
		return -1;
	}
	*ret = v;
	return 0;
}

/* A positive number of seconds (fractions allowed): 0 and *ret, or -1. */
static inline int parse_seconds(const char *s, const char *what, double *ret)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !(v > 0) || v > 1e6) {
		msg("%s must be a positive number of seconds, not '%s'", what, s);
		return -1;
	}
	*ret = v;
	return 0;
}

#endif
