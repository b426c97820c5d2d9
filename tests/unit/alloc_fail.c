#include "alloc_fail.h"

#include <stddef.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static long budget = -1; /* -1: never fail */
static long refused;

void alloc_fail_after(long n)
{
	budget = n;
	refused = 0;
}

void alloc_fail_off(void)
{
	budget = -1;
}

long alloc_fail_refused(void)
{
	return refused;
}

static int allowed(void)
{
	if (budget < 0)
		return 1;
	if (budget > 0) {
		budget--;
		return 1;
	}
	refused++;
	return 0;
}

void *__wrap_malloc(size_t size)
{
	return allowed() ? __real_malloc(size) : NULL;
}

void *__wrap_calloc(size_t n, size_t size)
{
	return allowed() ? __real_calloc(n, size) : NULL;
}

void *__wrap_realloc(void *p, size_t size)
{
	return allowed() ? __real_realloc(p, size) : NULL;
}
