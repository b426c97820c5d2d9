/* A growable set of positive ints (watch descriptors, directory ids), a
 * bit each: zeroed to start empty, bitset_free() when done. */
#ifndef VIGIL_BITSET_H
#define VIGIL_BITSET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bitset {
	uint8_t *bits;
	size_t cap; /* bytes */
};

/* Put N in the set (ON), or take it out. 0, or -ENOMEM when the set had to
 * grow to hold N and could not: N is then not in it. N <= 0 is never in
 * the set (and taking out what is not there needs no memory). */
static inline int bitset_put(struct bitset *s, int n, bool on)
{
	if (n <= 0)
		return 0;
	size_t byte = (size_t)n / 8;
	if (byte >= s->cap) {
		if (!on)
			return 0;
		size_t cap = s->cap ? s->cap : 64;
		while (cap <= byte)
			cap *= 2;
		uint8_t *b = realloc(s->bits, cap);
		if (!b)
			return -ENOMEM;
		memset(b + s->cap, 0, cap - s->cap);
		s->bits = b;
		s->cap = cap;
	}
	if (on)
		s->bits[byte] |= (uint8_t)(1u << (n % 8));
	else
		s->bits[byte] &= (uint8_t)~(1u << (n % 8));
	return 0;
}

static inline bool bitset_has(const struct bitset *s, int n)
{
	size_t byte = (size_t)n / 8;
	return n > 0 && byte < s->cap && (s->bits[byte] >> (n % 8) & 1);
}

static inline void bitset_free(struct bitset *s)
{
	free(s->bits);
	s->bits = NULL;
	s->cap = 0;
}

#endif
