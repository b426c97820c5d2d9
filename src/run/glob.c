/* Globs for rules: fnmatch(3) on a name, and '**' across whole components
 * of a relative path, which fnmatch(3) has no word for. Both levels are
 * written here, with one bound on their cost whatever the libc: each uses
 * the single-backtrack scheme, where a star remembers where it started
 * and a mismatch after it makes the star take one more character (or
 * component) instead of trying every split, so "**" repeated, or
 * "*a*a*a*b", costs at most the glob's length times the path's. The
 * brackets, classes and escapes follow glibc's fnmatch() (the unit tests
 * compare the two). */
#include "rule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* A character: a well-formed UTF-8 sequence, or else one byte, which gets
 * a value above U+10FFFF so that it equals no real character but still
 * ranges with other invalid bytes ("[\x80-\xff]"). */
#define INVALID_BASE 0x110000u

static size_t next_char(const char *s, size_t len, uint32_t *ret)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char c = u[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80) {
		*ret = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		goto invalid;
	}
	if (n > len)
		goto invalid;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			goto invalid;
		cp = cp << 6 | (u[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto invalid;
	*ret = cp;
	return n;
invalid:
	*ret = INVALID_BASE + c;
	return 1;
}

/* Whether C is in the class NAME (LEN bytes): 1, 0, or -1 when there is no
 * such class. */
static int in_class(const char *name, size_t len, uint32_t c)
{
	static const char *const classes[] = {
		"alnum", "alpha", "blank", "cntrl", "digit", "graph",
		"lower", "print", "punct", "space", "upper", "xdigit",
	};
	char buf[8];
	for (size_t i = 0; i < sizeof(classes) / sizeof(*classes); i++) {
		if (strlen(classes[i]) != len || memcmp(classes[i], name, len))
			continue;
		if (c >= INVALID_BASE)
			return 0;
		memcpy(buf, name, len);
		buf[len] = '\0';
		return iswctype((wint_t)c, wctype(buf)) != 0;
	}
	return -1;
}

/* At P (LEN bytes), a "[:", "[." or "[=" closed by ":]", ".]" or "=]": its
 * whole length; 0 when there is none. A class name is lowercase letters,
 * or else (as in glibc) the "[:" is no class but two ordinary characters. */
static size_t element_len(const char *p, size_t len)
{
	if (len < 2 || p[0] != '[' || (p[1] != ':' && p[1] != '.' && p[1] != '='))
		return 0;
	for (size_t j = 2; j + 1 < len; j++) {
		if (p[j] == p[1] && p[j + 1] == ']')
			return j + 2;
		if (p[1] == ':' && (p[j] < 'a' || p[j] > 'z'))
			return 0;
	}
	return 0;
}

/* One character of a bracket expression at P[*I]: an escaped or plain
 * character, or a "[.c.]" or "[=c=]" standing for c. False for a
 * collating element of more than one character. */
static bool bracket_char(const char *p, size_t plen, size_t *i, uint32_t *ret)
{
	size_t el = element_len(p + *i, plen - *i);
	if (el) {
		size_t n = el - 4;
		if (!n || next_char(p + *i + 2, n, ret) != n)
			return false;
		*i += el;
		return true;
	}
	if (p[*i] == '\\' && *i + 1 < plen)
		(*i)++;
	*i += next_char(p + *i, plen - *i, ret);
	return true;
}

enum bracket { B_INVALID = -2, B_LITERAL = -1, B_NO = 0, B_YES = 1 };

/* The bracket expression at P[0] == '[' against the character C: whether
 * it matches, with *USED set to its length; B_LITERAL when it is not
 * closed, so that the '[' is an ordinary character (as fnmatch has it);
 * B_INVALID for what makes glibc's fnmatch() fail the whole pattern: an
 * unknown class, a collating element of more than one character, an
 * unclosed "[.". An unclosed "[:" or "[=" is two ordinary characters of
 * the set, as in glibc. */
static enum bracket bracket(const char *p, size_t plen, uint32_t c,
			    size_t *used)
{
	size_t i = 1;
	bool neg = false, hit = false;
	if (i < plen && (p[i] == '!' || p[i] == '^')) {
		neg = true;
		i++;
	}
	for (bool first = true;; first = false) {
		if (i >= plen)
			return B_LITERAL;
		if (p[i] == ']' && !first) {
			i++;
			break;
		}
		size_t el = element_len(p + i, plen - i);
		if (el && p[i + 1] == ':') {
			int in = in_class(p + i + 2, el - 4, c);
			if (in < 0)
				return B_INVALID;
			hit |= in > 0;
			i += el;
			continue;
		}
		if (!el && p[i] == '[' && i + 1 < plen && p[i + 1] == '.')
			return B_INVALID;
		uint32_t lo, hi;
		if (!bracket_char(p, plen, &i, &lo))
			return B_INVALID;
		hi = lo;
		if (i + 1 < plen && p[i] == '-' && p[i + 1] != ']') {
			i++;
			/* a "[:" here is the '[' that ends the range, then a
			 * ':' (glibc's reading); "[.c.]" is c */
			el = element_len(p + i, plen - i);
			if (!el && p[i] == '[' && i + 1 < plen && p[i + 1] == '.')
				return B_INVALID;
			if (el && p[i + 1] == ':')
				hi = (unsigned char)p[i++];
			else if (!bracket_char(p, plen, &i, &hi))
				return B_INVALID;
		}
		if (lo <= c && c <= hi)
			hit = true;
	}
	*used = i;
	return hit != neg ? B_YES : B_NO;
}

/* One component: P (PLEN bytes) against S (SLEN bytes), '/' not special. */
static bool match_component(const char *p, size_t plen, const char *s,
			    size_t slen)
{
	size_t pi = 0, si = 0;
	bool star = false;
	size_t star_pi = 0, star_si = 0;
	while (si < slen) {
		if (pi < plen) {
			uint32_t c, pc;
			size_t cl = next_char(s + si, slen - si, &c), used;
			switch (p[pi]) {
			case '*':
				while (pi < plen && p[pi] == '*')
					pi++;
				star = true;
				star_pi = pi;
				star_si = si;
				continue;
			case '?':
				pi++;
				si += cl;
				continue;
			case '[':
				switch (bracket(p + pi, plen - pi, c, &used)) {
				case B_YES:
					pi += used;
					si += cl;
					continue;
				case B_NO:
					goto mismatch;
				case B_INVALID:
					return false;
				case B_LITERAL:
					break;
				}
				break;
			case '\\':
				/* a trailing backslash matches nothing, as in glibc */
				if (pi + 1 == plen)
					goto mismatch;
				pi++;
				break;
			}
			size_t pl = next_char(p + pi, plen - pi, &pc);
			if (pc == c && pl == cl) {
				pi += pl;
				si += cl;
				continue;
			}
		}
mismatch:
		if (!star)
			return false;
		uint32_t skip;
		star_si += next_char(s + star_si, slen - star_si, &skip);
		si = star_si;
		pi = star_pi;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

/* The component of S (LEN bytes) at or after *POS, skipping slashes: its
 * start and length, *POS moved past it. False when none is left. */
static bool component(const char *s, size_t len, size_t *pos, size_t *start,
		      size_t *clen)
{
	size_t i = *pos;
	while (i < len && s[i] == '/')
		i++;
	if (i >= len)
		return false;
	*start = i;
	while (i < len && s[i] != '/')
		i++;
	*clen = i - *start;
	*pos = i;
	return true;
}

static bool is_starstar(const char *g, size_t start, size_t len)
{
	return len == 2 && g[start] == '*' && g[start + 1] == '*';
}

static bool match_path(const char *g, size_t glen, const char *rel,
		       size_t rlen)
{
	size_t ti = 0, ri = 0;     /* offsets of the next token, component */
	bool star = false, any_done = false;
	size_t star_ti = 0, star_ri = 0;
	for (;;) {
		size_t ts = 0, tl = 0, te = ti, rs = 0, rl = 0, re = ri;
		bool tok = component(g, glen, &te, &ts, &tl);
		bool ss = tok && is_starstar(g, ts, tl);
		/* A trailing "**" is "*" then "**": one component or more. */
		size_t after = te, dummy1, dummy2;
		bool last = ss && !component(g, glen, &after, &dummy1, &dummy2);
		if (ss && (any_done || !last)) {
			star = true;
			any_done = false;
			ti = star_ti = te;
			star_ri = ri;
			continue;
		}
		if (!component(rel, rlen, &re, &rs, &rl))
			return !tok;
		if (tok && (ss || match_component(g + ts, tl, rel + rs, rl))) {
			if (ss)
				any_done = true; /* stay on it: now it is "**" */
			else
				ti = te;
			ri = re;
			continue;
		}
		if (!star)
			return false;
		component(rel, rlen, &star_ri, &rs, &rl);
		ri = star_ri;
		ti = star_ti;
		any_done = false;
	}
}

bool glob_valid(const char *glob)
{
	size_t len = strlen(glob), used;
	for (size_t i = 0; i < len; i++) {
		if (glob[i] == '\\')
			i++;
		else if (glob[i] == '[' &&
			 bracket(glob + i, len - i, 0, &used) == B_INVALID)
			return false;
	}
	return true;
}

bool glob_match_len(const char *glob, const char *rel, size_t len)
{
	size_t glen = strlen(glob);
	if (memchr(glob, '/', glen))
		return match_path(glob, glen, rel, len);
	size_t name = len;
	while (name > 0 && rel[name - 1] == '/')
		len = --name;
	while (name > 0 && rel[name - 1] != '/')
		name--;
	return match_component(glob, glen, rel + name, len - name);
}

bool glob_match(const char *glob, const char *rel, const char *name)
{
	if (memchr(glob, '/', strlen(glob)))
		return match_path(glob, strlen(glob), rel, strlen(rel));
	return match_component(glob, strlen(glob), name, strlen(name));
}

/* --- a glob as an ERE, for the engine's exclude filter --------------------- */

/* The engine's filter is a POSIX ERE run in the C locale, where it reads
 * bytes; a glob reads UTF-8 characters. The translation below is exact
 * where it is made, with one deliberate gap: a '?' or a bracket matches a
 * whole character, and a byte of a name that is not UTF-8 is not one for
 * the ERE. Such a name is then not matched by the ERE (its directory is
 * still watched, and rule_wants() still excludes it): the ERE may match
 * less than the glob, never more. */

/* One character that is not '/': ASCII, or a well-formed UTF-8 sequence
 * (the ranges leave out overlong forms, surrogates and what is past
 * U+10FFFF, as next_char() does). */
#define MB_CHAR "[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|" \
	"[\xe1-\xec\xee\xef][\x80-\xbf][\x80-\xbf]|\xed[\x80-\x9f][\x80-\xbf]|" \
	"\xf0[\x90-\xbf][\x80-\xbf][\x80-\xbf]|[\xf1-\xf3][\x80-\xbf][\x80-\xbf][\x80-\xbf]|" \
	"\xf4[\x80-\x8f][\x80-\xbf][\x80-\xbf]"

/* The ASCII set of a bracket expression at P[0] == '[' (closed, valid: the
 * caller checked), into SET; *NEG for "[!" or "[^". False when a member
 * is not ASCII. Classes are expanded with iswctype(), which in the C
 * locale that vigil runs in knows only ASCII, as the ERE's classes do. */
static bool bracket_set(const char *p, size_t plen, bool set[128], bool *neg)
{
	size_t i = 1;
	memset(set, 0, 128 * sizeof(*set));
	*neg = i < plen && (p[i] == '!' || p[i] == '^');
	if (*neg)
		i++;
	for (bool first = true;; first = false) {
		if (p[i] == ']' && !first)
			return true;
		size_t el = element_len(p + i, plen - i);
		if (el && p[i + 1] == ':') {
			for (uint32_t c = 1; c < 128; c++)
				if (in_class(p + i + 2, el - 4, c) > 0)
					set[c] = true;
			i += el;
			continue;
		}
		uint32_t lo, hi;
		if (!bracket_char(p, plen, &i, &lo) || lo >= 128)
			return false;
		hi = lo;
		if (i + 1 < plen && p[i] == '-' && p[i + 1] != ']') {
			i++;
			el = element_len(p + i, plen - i);
			if (el && p[i + 1] == ':')
				hi = (unsigned char)p[i++];
			else if (!bracket_char(p, plen, &i, &hi) || hi >= 128)
				return false;
		}
		for (uint32_t c = lo; c <= hi; c++)
			set[c] = true;
	}
}

/* SET as the members of an ERE bracket expression, but '-', which the
 * caller puts last: ']' first, '[' where no '.', ':' or '=' can follow it.
 * A '^' comes first only when SET holds nothing but '^', '[' and '-'. */
static void put_members(FILE *f, const bool set[128])
{
	if (set[']'])
		putc(']', f);
	for (int c = 1; c < 128; c++)
		if (set[c] && !strchr("]^[-", c))
			putc(c, f);
	if (set['^'])
		putc('^', f);
	if (set['['])
		putc('[', f);
}

/* One bracket expression of a glob as ERE: false when it cannot be
 * translated exactly, or matches nothing. */
static bool put_bracket(FILE *f, const char *p, size_t plen)
{
	bool set[128], neg;
	if (!bracket_set(p, plen, set, &neg))
		return false;
	set['/'] = false; /* a component holds none */
	set[0] = false;
	if (neg) {
		/* any character but these: an ASCII one not in SET, or any
		 * multibyte one */
		set['/'] = true;
		fputs("([^", f);
		put_members(f, set);
		fputs(set['-'] ? "\x80-\xff-]|" MB_CHAR ")" : "\x80-\xff]|" MB_CHAR ")", f);
		return true;
	}
	size_t n = 0;
	bool plain = false; /* a member that may go before '^' */
	for (int c = 1; c < 128; c++) {
		n += set[c];
		plain |= set[c] && !strchr("^[-", c);
	}
	if (!n)
		return false;
	if (set['^'] && n == 1) {
		fputs("\\^", f);
	} else if (set['^'] && !plain) { /* "[^...]" would negate: '^' goes last */
		fprintf(f, "[%s%s^]", set['-'] ? "-" : "", set['['] ? "[" : "");
	} else {
		putc('[', f);
		put_members(f, set);
		fputs(set['-'] ? "-]" : "]", f);
	}
	return true;
}

/* One component P (PLEN bytes) of a glob as an ERE that matches what it
 * matches (see the top of this part for the gap); false when it cannot
 * be translated exactly. */
static bool put_component(FILE *f, const char *p, size_t plen)
{
	for (size_t i = 0; i < plen;) {
		uint32_t c;
		size_t used;
		switch (p[i]) {
		case '*':
			while (i < plen && p[i] == '*')
				i++;
			fputs("[^/]*", f);
			continue;
		case '?':
			fputs("([^/\x80-\xff]|" MB_CHAR ")", f);
			i++;
			continue;
		case '[':
			if (bracket(p + i, plen - i, 0, &used) != B_LITERAL) {
				if (!put_bracket(f, p + i, used))
					return false;
				i += used;
				continue;
			}
			break; /* not closed: a '[' like any other */
		case '\\':
			if (i + 1 == plen)
				return false; /* matches nothing */
			i++;
			break;
		}
		size_t n = next_char(p + i, plen - i, &c);
		if (c >= INVALID_BASE)
			return false; /* not UTF-8: a byte the ERE would not pair as the glob does */
		if (c < 128 && strchr("\\^$.|()*+?{}[]", (int)c))
			putc('\\', f);
		fwrite(p + i, 1, n, f);
		i += n;
	}
	return true;
}

int glob_exclude_ere(const char *glob, char **ret)
{
	char *out = NULL;
	size_t len = 0, glen = strlen(glob);
	if (!glob_valid(glob))
		return 0; /* it never matches */
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return -ENOMEM;
	bool ok = true;
	if (!memchr(glob, '/', glen)) {
		fputs("(.*/)?", f);
		ok = glen && put_component(f, glob, glen);
	} else {
		size_t pos = 0, start, clen, n = 0;
		bool prev_ss = false;
		while (ok && component(glob, glen, &pos, &start, &clen)) {
			size_t after = pos, s2, l2;
			bool last = !component(glob, glen, &after, &s2, &l2);
			bool ss = is_starstar(glob, start, clen);
			if (ss && prev_ss)
				ok = false; /* "**" / "**": rare, not worth the care */
			else if (ss)
				fputs(last ? "([^/]+/)*[^/]+" : "([^/]+/)*", f);
			else
				ok = put_component(f, glob + start, clen);
			if (ok && !ss && !last)
				putc('/', f);
			prev_ss = ss;
			n++;
		}
		ok = ok && n; /* "/" alone matches nothing */
	}
	fputs("(/.*)?$", f);
	if (fclose(f) != 0) {
		free(out);
		return -ENOMEM;
	}
	if (!ok) {
		free(out);
		return 0;
	}
	*ret = out;
	return 1;
}
