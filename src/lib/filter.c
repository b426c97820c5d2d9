#include "filter.h"

#include "vigil.h"

#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What glibc's regcomp() would spend on a pattern, estimated from its text
 * so that a pattern too costly to compile is refused before regcomp() runs.
 *
 * regcomp() builds a node for each character, bracket expression, anchor,
 * parenthesis, '|' and '*', and copies what a repetition repeats ('x+' is
 * x x*, 'x{2,4}' is x x ((x)? x)?), so repetitions of repetitions multiply
 * the nodes: 'a' and 24 '+' took 12 GiB and 40 s. Then it works out, for
 * every node, the set of nodes it reaches without reading a character (its
 * closure), recursively. Where such moves chain ('a{0,20000}', '(a*){5000}')
 * the sets grow with the chain, memory with its square, the recursion with
 * its length: '(a*){1,200}{1,200}' overflowed the stack. An anchor has
 * what it reaches copied for its condition, so anchors multiply the cost
 * ('(()^()){0,150}': 1.2 s), and more so past forks, alternatives that
 * both match nothing and so meet again ('$()?{20,275}': 4 s, 3.5 GiB).
 * And a repetition of what can match nothing ('(a*)*') is a loop that
 * leaves closures unfinished, to be walked again along every path:
 * '(){0,}{2,3}{1,51}' ran for minutes.
 *
 * So each fragment carries, as upper bounds:
 *   n       its nodes;
 *   head    the closure of its first node, within it;
 *   tail    how many of its nodes have closures that run on past its end,
 *   reach   and the largest of those, within it;
 *   most    the largest closure of any of its nodes;
 *   work    the sum of its nodes' closures;
 *   anchors its anchors;
 *   forks   its alternatives that both can match nothing;
 *   empty   whether it can match nothing;
 *   loop    whether it holds a repetition of something that can.
 * A pattern is refused when one of the RX_*_MAX limits is passed. They let
 * through what people write to match names by a wide margin ('^.{0,255}$',
 * '(/[^/]{1,255}){0,20}', '(a*)*'). They were set by timing regcomp() on
 * 82,000 generated patterns heavy in repetitions, anchors and empty
 * groups: the costliest that passes took 16 ms and 35 MiB, where refused
 * ones ran to minutes and gigabytes. An estimate, not a proof; when in
 * doubt it errs high. */
#define RX_NODES_MAX 50000
#define RX_WORK_MAX 4000000        /* ~8 bytes each */
#define RX_CLOSURE_MAX 3000        /* frames of recursion */
#define RX_ANCHOR_WORK_MAX 4000000 /* anchors times the largest closure squared */
#define RX_LOOP_CLOSURE_MAX 32     /* the largest closure, with a loop */
#define RX_FORK_CLOSURE_MAX 64     /* the same, with anchors and forks */
#define RX_DEPTH_MAX 500           /* parentheses within parentheses */
#define RX_CLAMP ((uint64_t)1 << 31)
#define RX_UNBOUNDED UINT64_MAX

struct rx {
	uint64_t n, head, tail, reach, most, work, anchors, forks;
	bool empty, loop;
};

struct rx_parse {
	const char *s;
	bool big;     /* a limit is passed: read on only for validity */
	bool many;    /* past RX_NODES_MAX: too costly even if invalid */
	bool deep;    /* too deep to read on */
	bool invalid; /* regcomp() will refuse it, once it has read it */
};

static uint64_t sat(uint64_t v)
{
	return v > RX_CLAMP ? RX_CLAMP : v;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t within(uint64_t v, uint64_t n)
{
	return v > n ? n : v;
}

/* Every closure is within the fragment's nodes: keep the bounds there,
 * and note a passed limit. */
static struct rx rx_done(struct rx_parse *p, struct rx r)
{
	r.n = sat(r.n);
	r.head = within(r.head, r.n);
	r.tail = within(r.tail, r.n);
	r.reach = within(r.reach, r.n);
	r.most = within(r.most, r.n);
	r.work = sat(r.work);
	r.anchors = within(r.anchors, r.n);
	r.forks = within(r.forks, r.n);
	if (r.n > RX_NODES_MAX)
		p->many = true;
	if (p->many || r.work > RX_WORK_MAX || r.most > RX_CLOSURE_MAX ||
	    r.anchors * r.most * r.most > RX_ANCHOR_WORK_MAX ||
	    (r.anchors && r.forks && r.most > RX_FORK_CLOSURE_MAX) ||
	    (r.loop && r.most > RX_LOOP_CLOSURE_MAX))
		p->big = true;
	return r;
}

/* A character or bracket expression: a node that reads. */
static const struct rx rx_char = {.n = 1, .head = 1, .most = 1, .work = 1};
/* A parenthesis: a node that moves on without reading. */
static const struct rx rx_eps = {
	.n = 1, .head = 1, .tail = 1, .reach = 1, .most = 1, .work = 1, .empty = true};
/* An anchor: the same, on a condition. */
static const struct rx rx_anchor = {.n = 1, .head = 1, .tail = 1, .reach = 1, .most = 1,
				    .work = 1, .anchors = 1, .empty = true};
/* Nothing, as an empty alternative. */
static const struct rx rx_none = {.empty = true};

/* A then B: A's tail now also reaches B's head. */
static struct rx rx_cat(struct rx_parse *p, struct rx a, struct rx b)
{
	struct rx r = {
		.n = a.n + b.n,
		.head = a.empty ? a.head + b.head : a.head,
		.tail = b.empty ? a.tail + b.tail : b.tail,
		.reach = b.empty ? max64(a.reach + b.head, b.reach) : b.reach,
		.most = max64(max64(a.most, b.most), a.reach + b.head),
		.work = a.work + b.work + a.tail * b.head,
		.anchors = a.anchors + b.anchors,
		.forks = a.forks + b.forks,
		.empty = a.empty && b.empty,
		.loop = a.loop || b.loop,
	};
	return rx_done(p, r);
}

/* A|B: a node that moves on to both. */
static struct rx rx_alt(struct rx_parse *p, struct rx a, struct rx b)
{
	uint64_t head = 1 + a.head + b.head;
	bool empty = a.empty || b.empty;
	struct rx r = {
		.n = a.n + b.n + 1,
		.head = head,
		.tail = a.tail + b.tail + empty,
		.reach = max64(max64(a.reach, b.reach), empty ? head : 0),
		.most = max64(max64(a.most, b.most), head),
		.work = a.work + b.work + head,
		.anchors = a.anchors + b.anchors,
		.forks = a.forks + b.forks + (a.empty && b.empty),
		.empty = empty,
		.loop = a.loop || b.loop,
	};
	return rx_done(p, r);
}

/* X*: a node before X, that X's end loops back to. */
static struct rx rx_star(struct rx_parse *p, struct rx x)
{
	uint64_t head = 1 + x.head;
	struct rx r = {
		.n = x.n + 1,
		.head = head,
		.tail = x.tail + 1,
		.reach = x.reach + head,
		.most = max64(x.most, x.reach + head),
		.work = x.work + head + x.tail * head,
		.anchors = x.anchors,
		.forks = x.forks,
		.empty = true,
		.loop = x.loop || x.empty,
	};
	return rx_done(p, r);
}

/* X{lo,hi} as glibc builds it: X lo times, then X* when there is no
 * upper bound (HI is RX_UNBOUNDED), or else hi - lo optional copies, each
 * nested in the next: ((X)? X)?. */
static struct rx rx_repeat(struct rx_parse *p, struct rx x, uint64_t lo, uint64_t hi)
{
	struct rx r = rx_none;
	if (lo > RE_DUP_MAX || (hi != RX_UNBOUNDED && hi > RE_DUP_MAX) || hi < lo) {
		p->invalid = true;
		return x;
	}
	if (!x.n)
		return x;
	if (!hi) {
		/* X{0}: X's nodes are made and left behind, linked to nothing */
		r.n = r.work = x.n;
		return rx_done(p, r);
	}
	/* the nodes, counted whole: past a limit the rest is not worked out,
	 * but the nodes still tell whether it is too costly even if invalid */
	uint64_t n = lo * x.n + (hi == RX_UNBOUNDED ? x.n + 1 : (hi - lo) * (x.n + 1));
	for (uint64_t i = 0; i < lo && !p->big; i++)
		r = rx_cat(p, r, x);
	if (hi == RX_UNBOUNDED) {
		r = rx_cat(p, r, rx_star(p, x));
	} else {
		struct rx opt = rx_none;
		for (uint64_t i = lo; i < hi && !p->big; i++)
			opt = rx_alt(p, rx_cat(p, opt, x), rx_none);
		r = rx_cat(p, r, opt);
	}
	r.n = n;
	return rx_done(p, r);
}

/* At a '{' after something to repeat, which glibc takes for an interval
 * or refuses: its bounds, advancing p->s past it, or false for one
 * regcomp() refuses. '{,n}' is '{0,n}' and '{,}' is '{0,}'. */
static bool interval(struct rx_parse *p, uint64_t *lo, uint64_t *hi)
{
	const char *s = p->s + 1;
	bool digits = false;
	*lo = *hi = 0;
	for (; *s >= '0' && *s <= '9'; s++, digits = true)
		*lo = sat(*lo * 10 + (uint64_t)(*s - '0'));
	if (*s == ',') {
		bool upper = false;
		for (s++; *s >= '0' && *s <= '9'; s++, upper = true)
			*hi = sat(*hi * 10 + (uint64_t)(*s - '0'));
		if (!upper)
			*hi = RX_UNBOUNDED;
	} else if (digits) {
		*hi = *lo;
	} else {
		return false;
	}
	if (*s != '}')
		return false;
	p->s = s + 1;
	return true;
}

/* A bracket expression from p->s ('['), advancing past its ']'. */
static void bracket(struct rx_parse *p)
{
	const char *s = p->s + 1;
	if (*s == '^')
		s++;
	if (*s == ']')
		s++; /* a ']' first is a character */
	for (; *s && *s != ']'; s++) {
		if (*s == '[' && (s[1] == ':' || s[1] == '=' || s[1] == '.')) {
			char end = s[1];
			const char *t = s + 2;
			while (*t && !(t[0] == end && t[1] == ']'))
				t++;
			if (!*t)
				break;
			s = t + 1;
		}
	}
	p->s = *s ? s + 1 : s;
}

static struct rx rx_alternatives(struct rx_parse *p, unsigned depth);

/* One atom and the repetitions that follow it. */
static struct rx rx_piece(struct rx_parse *p, unsigned depth)
{
	struct rx x;
	switch (*p->s) {
	case '(':
		if (depth >= RX_DEPTH_MAX) {
			p->big = p->deep = true;
			return rx_none;
		}
		p->s++;
		x = rx_alternatives(p, depth + 1);
		if (*p->s == ')')
			p->s++;
		else
			p->invalid = true; /* unmatched ( */
		x = rx_cat(p, rx_cat(p, rx_eps, x), rx_eps);
		break;
	case '[':
		bracket(p);
		x = rx_char;
		break;
	case '\\':
		p->s += p->s[1] ? 2 : 1;
		x = rx_char;
		break;
	case '^':
	case '$':
		p->s++;
		x = rx_anchor;
		break;
	default: /* also a ')' unmatched, and a repetition with nothing to repeat */
		p->s++;
		x = rx_char;
		break;
	}
	uint64_t lo, hi;
	while (!p->deep && !p->invalid) {
		char c = *p->s;
		if (c == '{') {
			if (interval(p, &lo, &hi))
				x = rx_repeat(p, x, lo, hi);
			else
				p->invalid = true;
			continue;
		}
		if (c == '*')
			x = rx_star(p, x);
		else if (c == '?')
			x = rx_alt(p, x, rx_none);
		else if (c == '+')
			x = rx_cat(p, x, rx_star(p, x));
		else
			break;
		p->s++;
	}
	return x;
}

/* Alternatives up to a ')' within parentheses, or to the end. */
static struct rx rx_alternatives(struct rx_parse *p, unsigned depth)
{
	struct rx r = rx_none;
	bool first = true;
	while (!p->deep && !p->invalid) {
		struct rx branch = rx_none;
		while (*p->s && *p->s != '|' && !(*p->s == ')' && depth) && !p->deep &&
		       !p->invalid)
			branch = rx_cat(p, branch, rx_piece(p, depth));
		r = first ? branch : rx_alt(p, r, branch);
		first = false;
		if (*p->s != '|')
			break;
		p->s++;
	}
	return r;
}

int vigil_regex_check(const char *pattern)
{
	if (!pattern)
		return -EINVAL;
	struct rx_parse p = {.s = pattern};
	rx_alternatives(&p, 0);
	/* regcomp() makes the nodes as it reads, the closures after */
	return p.many || p.deep || (p.big && !p.invalid) ? -E2BIG : 0;
}

int filter_add_regex(struct filter *f, bool include, const char *pattern,
		     bool icase)
{
	int e = vigil_regex_check(pattern);
	if (e < 0)
		return e;
	regex_t **list = include ? &f->include : &f->exclude;
	size_t *n = include ? &f->n_include : &f->n_exclude;
	regex_t *v = realloc(*list, (*n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*list = v;
	int flags = REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0);
	int r = regcomp(&v[*n], pattern, flags);
	if (r == REG_ESPACE)
		return -ENOMEM;
	if (r != 0)
		return -EINVAL;
	(*n)++;
	return 0;
}

static size_t trim_slashes(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] == '/')
		len--;
	return len;
}

int filter_add_path(struct filter *f, const char *path)
{
	size_t len = trim_slashes(path, strlen(path));
	if (!len)
		return -EINVAL;
	char **paths = realloc(f->paths, (f->n_paths + 1) * sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	f->paths = paths;
	size_t *lens = realloc(f->path_lens, (f->n_paths + 1) * sizeof(*lens));
	if (!lens)
		return -ENOMEM;
	f->path_lens = lens;
	char *copy = strndup(path, len);
	if (!copy)
		return -ENOMEM;
	f->paths[f->n_paths] = copy;
	f->path_lens[f->n_paths] = len;
	f->n_paths++;
	return 0;
}

bool filter_excludes(const struct filter *f, const char *path, size_t len)
{
	size_t tl = trim_slashes(path, len);
	for (size_t i = 0; i < f->n_paths; i++) {
		size_t pl = f->path_lens[i];
		if (tl >= pl && memcmp(path, f->paths[i], pl) == 0 &&
		    (tl == pl || path[pl] == '/' || f->paths[i][pl - 1] == '/'))
			return true;
	}
	for (size_t i = 0; i < f->n_exclude; i++)
		if (regexec(&f->exclude[i], path, 0, NULL, 0) == 0)
			return true;
	return false;
}

bool filter_delivers(const struct filter *f, const char *path, size_t len)
{
	if (filter_excludes(f, path, len))
		return false;
	if (!f->n_include)
		return true;
	for (size_t i = 0; i < f->n_include; i++)
		if (regexec(&f->include[i], path, 0, NULL, 0) == 0)
			return true;
	return false;
}

void filter_fini(struct filter *f)
{
	for (size_t i = 0; i < f->n_exclude; i++)
		regfree(&f->exclude[i]);
	for (size_t i = 0; i < f->n_include; i++)
		regfree(&f->include[i]);
	for (size_t i = 0; i < f->n_paths; i++)
		free(f->paths[i]);
	free(f->exclude);
	free(f->include);
	free(f->paths);
	free(f->path_lens);
	memset(f, 0, sizeof(*f));
}
