/* regexcost: what glibc's regcomp() spends on the patterns vigil lets
 * through, and on those it refuses.
 *
 *   regexcost [COUNT [SEED]]
 *
 * Makes COUNT patterns (default 20000) from SEED (default 1), heavy in what
 * makes regcomp() costly: repetitions of repetitions, optional pieces,
 * anchors, empty groups and alternatives. Asks vigil_regex_check() of each;
 * compiles each one it lets through in a child (REG_EXTENDED | REG_NOSUB,
 * as vigil does), and a sample of those it refuses, each under a limit of
 * 1 s and 1 GiB; patterns regcomp() calls invalid are left out of the
 * figures. Prints on stdout:
 *
 *   patterns N: let through N, and N that regcomp() calls invalid; refused N
 *   let through: compile ms median M, p99 M, max M (PATTERN); max RSS MiB R (PATTERN)
 *   refused, a sample of N valid: over 100 ms or 64 MiB N, over 1 s or 1024 MiB N; the cheapest M ms (PATTERN)
 *
 * The refused that compile cheaply are what the estimate refuses in
 * excess; those over the limit are what inotifywait, which compiles
 * whatever it is given, would spend seconds or gigabytes on.
 *
 * Errors: a message, exit status 1.
 */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

#define PROG "regexcost"
#include "msg.h"

#define die(...) (msg(__VA_ARGS__), exit(1))

#define PATTERN_MAX 256
#define LIMIT_S 1
#define LIMIT_MIB 1024
#define REFUSED_SAMPLE 300

static unsigned long long rng;

static unsigned pick(unsigned n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rng >> 33) % n);
}

struct buf {
	char s[PATTERN_MAX];
	size_t len;
};

static void put(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->len + n < sizeof(b->s)) {
		memcpy(b->s + b->len, s, n + 1);
		b->len += n;
	}
}

static void alternatives(struct buf *b, unsigned depth);

static void piece(struct buf *b, unsigned depth)
{
	static const char *const atoms[] = {"a", ".", "[a-z]", "\\.", "^", "$", "()", "(|^)", "($|)"};
	static const unsigned counts[] = {0, 1, 2, 3, 5, 10, 20, 50, 100, 255, 1000};
	if (depth < 6 && pick(100) < 35) {
		put(b, "(");
		alternatives(b, depth + 1);
		put(b, ")");
	} else {
		put(b, atoms[pick(sizeof(atoms) / sizeof(*atoms))]);
	}
	for (unsigned k = pick(3); k; k--) {
		char op[32];
		unsigned lo = counts[pick(sizeof(counts) / sizeof(*counts))];
		switch (pick(6)) {
		case 0: put(b, "*"); break;
		case 1: put(b, "+"); break;
		case 2: put(b, "?"); break;
		case 3: snprintf(op, sizeof(op), "{%u}", lo); put(b, op); break;
		case 4: snprintf(op, sizeof(op), "{%u,}", lo); put(b, op); break;
		default:
			snprintf(op, sizeof(op), "{%u,%u}", lo, lo + counts[pick(sizeof(counts) / sizeof(*counts))]);
			put(b, op);
		}
	}
}

static void alternatives(struct buf *b, unsigned depth)
{
	for (unsigned alt = 1 + (pick(3) == 0) * (1 + pick(2)), i = 0; i < alt; i++) {
		if (i)
			put(b, "|");
		for (unsigned n = pick(5); n; n--)
			piece(b, depth);
	}
}

struct cost {
	double ms;
	double mib;
	bool over;    /* killed at the limit, or out of memory */
	bool invalid; /* regcomp() refused it */
};

/* Compile PATTERN in a child under the limits. */
static struct cost compile(const char *pattern)
{
	struct cost c = {0};
	int fd[2];
	if (pipe(fd) < 0)
		die("cannot make a pipe: %s", errstr(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("cannot fork: %s", errstr(errno));
	if (pid == 0) {
		close(fd[0]);
		struct rlimit as = {(rlim_t)LIMIT_MIB << 20, (rlim_t)LIMIT_MIB << 20};
		setrlimit(RLIMIT_AS, &as);
		alarm(LIMIT_S);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		regex_t re;
		int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		double v[3] = {(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
			       (double)ru.ru_maxrss / 1024, rc != 0 && rc != REG_ESPACE};
		if (rc == REG_ESPACE)
			v[0] = -1;
		if (write(fd[1], v, sizeof(v)) != (ssize_t)sizeof(v))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	double v[3];
	ssize_t n = read(fd[0], v, sizeof(v));
	close(fd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(v) || v[0] < 0) {
		c.over = true;
		c.ms = LIMIT_S * 1e3;
		c.mib = LIMIT_MIB;
	} else {
		c.ms = v[0];
		c.mib = v[1];
		c.invalid = v[2] != 0;
	}
	return c;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc > 3 || (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(argc > 3 ? stderr : stdout, "usage: %s [COUNT [SEED]]\n", PROG);
		return argc > 3;
	}
	char *end = NULL;
	long count = argc > 1 ? strtol(argv[1], &end, 10) : 20000;
	if (argc > 1 && (*end || count < 1))
		die("'%s' is not a count of patterns", argv[1]);
	rng = argc > 2 ? strtoull(argv[2], &end, 10) : 1;
	if (argc > 2 && *end)
		die("'%s' is not a seed", argv[2]);
	double *ms = malloc((size_t)count * sizeof(*ms));
	if (!ms)
		die("out of memory");
	size_t passed = 0, refused = 0, sampled = 0, costly = 0, over = 0, invalid = 0;
	double max_ms = -1, max_mib = -1, cheap_ms = -1;
	char max_ms_p[PATTERN_MAX] = "", max_mib_p[PATTERN_MAX] = "", cheap_p[PATTERN_MAX] = "";
	for (long i = 0; i < count; i++) {
		struct buf b = {.len = 0};
		b.s[0] = '\0';
		alternatives(&b, 0);
		if (vigil_regex_check(b.s) == 0) {
			struct cost c = compile(b.s);
			if (c.invalid) {
				invalid++;
				continue;
			}
			ms[passed++] = c.ms;
			if (c.ms > max_ms)
				max_ms = c.ms, strcpy(max_ms_p, b.s);
			if (c.mib > max_mib)
				max_mib = c.mib, strcpy(max_mib_p, b.s);
			continue;
		}
		if (refused++ % 4 || sampled >= REFUSED_SAMPLE)
			continue;
		struct cost c = compile(b.s);
		if (c.invalid)
			continue;
		sampled++;
		over += c.over;
		costly += c.over || c.ms > 100 || c.mib > 64;
		if (cheap_ms < 0 || c.ms < cheap_ms)
			cheap_ms = c.ms, strcpy(cheap_p, b.s);
	}
	qsort(ms, passed, sizeof(*ms), by_value);
	printf("patterns %ld: let through %zu, and %zu that regcomp() calls invalid; refused %zu\n",
	       count, passed, invalid, refused);
	if (passed)
		printf("let through: compile ms median %.3f, p99 %.3f, max %.3f (%s); max RSS MiB %.1f (%s)\n",
		       ms[passed / 2], ms[passed * 99 / 100], max_ms, max_ms_p, max_mib, max_mib_p);
	if (sampled)
		printf("refused, a sample of %zu valid: over 100 ms or 64 MiB %zu, over %d s or %d MiB %zu; "
		       "the cheapest %.3f ms (%s)\n",
		       sampled, costly, LIMIT_S, LIMIT_MIB, over, cheap_ms, cheap_p);
	free(ms);
	return 0;
}
