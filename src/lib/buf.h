/* A growable byte buffer: the one string builder of the library. */
#ifndef VIGIL_BUF_H
#define VIGIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Make room for N more bytes (plus a NUL). Returns 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const char *s, size_t n);
int buf_putc(struct buf *b, char c);
/* Keep the buffer NUL-terminated after its length (needs a reserve first). */
static inline void buf_terminate(struct buf *b) { if (b->data) b->data[b->len] = '\0'; }
static inline void buf_clear(struct buf *b) { b->len = 0; }
void buf_free(struct buf *b);

/* Make room for one more element in the array *V of *CAP elements of SIZE
 * bytes holding LEN: doubles (from FIRST) when full. Returns 0 or -ENOMEM,
 * leaving the array as it was. */
int array_grow(void **v, size_t *cap, size_t len, size_t size, size_t first);

#endif
