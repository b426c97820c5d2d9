/* What the fuzz targets share: taking typed values off the input, and
 * failing loudly. Each target is one LLVMFuzzerTestOneInput (see README). */
#ifndef VIGIL_FUZZ_H
#define VIGIL_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken promise: say which, and crash so that libFuzzer keeps the input. */
#define fuzz_assert(cond, ...)                                                \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			abort();                                              \
		}                                                             \
	} while (0)

/* The input, taken from the front. Past its end, numbers are 0 and
 * strings empty, so every input means something. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4 && in->left; i++, in->p++, in->left--)
		v |= (uint32_t)*in->p << (8 * i);
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

/* A string up to a 0xff byte (not included) or the end: a malloc'ed copy,
 * NUL-terminated, its length in *LEN. NUL bytes may be inside unless
 * NO_NUL, when they are dropped. */
static inline char *fuzz_str(struct fuzz_in *in, bool no_nul, size_t *len)
{
	const uint8_t *end = memchr(in->p, 0xff, in->left);
	size_t n = end ? (size_t)(end - in->p) : in->left;
	char *s = malloc(n + 1);
	if (!s)
		abort();
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!no_nul || in->p[i])
			s[k++] = (char)in->p[i];
	s[k] = '\0';
	in->p += n + (end != NULL);
	in->left -= n + (end != NULL);
	if (len)
		*len = k;
	return s;
}

/* A length byte, then that many bytes (any, NUL included): a malloc'ed
 * copy, NUL-terminated, its length in *LEN. */
static inline char *fuzz_bytes(struct fuzz_in *in, size_t *len)
{
	size_t n = fuzz_u8(in);
	if (n > in->left)
		n = in->left;
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n;
	in->left -= n;
	*len = n;
	return s;
}

/* The rest of the input as a NUL-terminated copy. */
static inline char *fuzz_rest(struct fuzz_in *in, size_t *len)
{
	char *s = malloc(in->left + 1);
	if (!s)
		abort();
	memcpy(s, in->p, in->left);
	s[in->left] = '\0';
	*len = in->left;
	in->p += in->left;
	in->left = 0;
	return s;
}

#endif
