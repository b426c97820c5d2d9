#include "held.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define TABLE_MIN 256
#define NAMES_MIN 4096

void held_init(struct held *h)
{
	memset(h, 0, sizeof(*h));
	h->free_head = HELD_NONE;
}

void held_fini(struct held *h)
{
	free(h->v);
	free(h->table);
	free(h->dirs);
	free(h->names);
	held_init(h);
}

size_t held_bytes(const struct held *h)
{
	return (size_t)h->cap * sizeof(*h->v) + (size_t)h->table_cap * sizeof(*h->table) +
	       (size_t)h->dirs_cap * sizeof(*h->dirs) + h->names_cap;
}

static uint32_t hash_of(uint32_t node, const char *s, size_t len)
{
	uint32_t x = 2166136261u ^ (node * 0x9e3779b1u);
	for (size_t i = 0; i < len; i++) {
		x ^= (unsigned char)s[i];
		x *= 16777619u;
	}
	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return x;
}

static uint32_t entry_hash(const struct held *h, uint32_t i)
{
	return h->v[i].hash;
}

/* The chain of NODE, made fresh if the node in that slot is a new one. */
static struct held_dir *dir_of(struct held *h, uint32_t node, uint32_t serial, bool make)
{
	if (node >= h->dirs_cap) {
		if (!make)
			return NULL;
		uint32_t cap = h->dirs_cap ? h->dirs_cap : 64;
		while (cap <= node)
			cap *= 2;
		struct held_dir *d = realloc(h->dirs, (size_t)cap * sizeof(*d));
		if (!d)
			return NULL;
		for (uint32_t i = h->dirs_cap; i < cap; i++)
			d[i] = (struct held_dir){HELD_NONE, 0};
		h->dirs = d;
		h->dirs_cap = cap;
	}
	struct held_dir *d = &h->dirs[node];
	if (d->serial != serial) {
		if (d->first != HELD_NONE)
			held_clear(h, node, d->serial);
		d->first = HELD_NONE;
		d->serial = serial;
	}
	return d;
}

/* The table slot holding NODE's NAME, or the empty slot it would go in. */
static inline __attribute__((always_inline)) uint32_t find_slot(const struct held *h, uint32_t node, const char *name,
			  size_t len, uint32_t hash)
{
	uint32_t mask = h->table_cap - 1;
	for (uint32_t j = hash & mask;; j = (j + 1) & mask) {
		uint32_t i = h->table[j];
		if (i == HELD_NONE)
			return j;
		const struct held_entry *e = &h->v[i];
		if (e->hash == hash && e->node == node && e->name_len == len &&
		    memcmp(h->names + e->name_off, name, len) == 0)
			return j;
	}
}

static int table_grow(struct held *h)
{
	uint32_t cap = h->table_cap ? h->table_cap * 2 : TABLE_MIN;
	uint32_t *t = malloc((size_t)cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0xff, (size_t)cap * sizeof(*t));
	uint32_t *old = h->table;
	uint32_t old_cap = h->table_cap;
	h->table = t;
	h->table_cap = cap;
	for (uint32_t j = 0; j < old_cap; j++) {
		uint32_t i = old[j];
		if (i == HELD_NONE)
			continue;
		uint32_t k = entry_hash(h, i) & (cap - 1);
		while (t[k] != HELD_NONE)
			k = (k + 1) & (cap - 1);
		t[k] = i;
	}
	free(old);
	return 0;
}

/* Copy the live names into a buffer of their size once the dead ones are
 * more than half (as the tree does). */
static void names_squeeze(struct held *h)
{
	if (h->names_dead <= h->names_len / 2 || h->names_dead < NAMES_MIN)
		return;
	uint32_t live = h->names_len - h->names_dead, cap = NAMES_MIN;
	while (cap < live)
		cap *= 2;
	char *p = malloc(cap);
	if (!p)
		return;
	uint32_t len = 0;
	for (uint32_t i = 0; i < h->len; i++) {
		struct held_entry *e = &h->v[i];
		if (e->name_off == HELD_NONE)
			continue;
		memcpy(p + len, h->names + e->name_off, e->name_len);
		e->name_off = len;
		len += e->name_len;
	}
	free(h->names);
	h->names = p;
	h->names_len = len;
	h->names_cap = cap;
	h->names_dead = 0;
}

static int names_put(struct held *h, const char *name, size_t len, uint32_t *ret_off)
{
	uint64_t need = (uint64_t)h->names_len + len;
	if (need > UINT32_MAX - 1)
		return -ENOMEM;
	if (need > h->names_cap) {
		uint64_t cap = h->names_cap ? h->names_cap : NAMES_MIN;
		while (cap < need)
			cap *= 2;
		if (cap > UINT32_MAX - 1)
			cap = UINT32_MAX - 1;
		char *p = realloc(h->names, (size_t)cap);
		if (!p)
			return -ENOMEM;
		h->names = p;
		h->names_cap = (uint32_t)cap;
	}
	char *to = h->names + h->names_len;
	if (len <= 16) { /* most names: no call */
		for (size_t i = 0; i < len; i++)
			to[i] = name[i];
	} else {
		memcpy(to, name, len);
	}
	*ret_off = h->names_len;
	h->names_len += (uint32_t)len;
	return 0;
}

bool held_has(struct held *h, uint32_t node, uint32_t serial, const char *name,
	      size_t len)
{
	if (!h->table_cap || node >= h->dirs_cap || h->dirs[node].serial != serial)
		return false;
	uint32_t j = find_slot(h, node, name, len, hash_of(node, name, len));
	return h->table[j] != HELD_NONE;
}

int held_add(struct held *h, uint32_t node, uint32_t serial, const char *name,
	     size_t len)
{
	struct held_dir *d = dir_of(h, node, serial, true);
	if (!d)
		return -ENOMEM;
	if ((h->count + 1) * 2 > h->table_cap && table_grow(h) < 0)
		return -ENOMEM;
	uint32_t hash = hash_of(node, name, len);
	uint32_t j = find_slot(h, node, name, len, hash);
	if (h->table[j] != HELD_NONE)
		return 0; /* held already */
	uint32_t i = h->free_head;
	if (i == HELD_NONE) {
		size_t cap = h->cap;
		if (array_grow((void **)&h->v, &cap, h->len, sizeof(*h->v), 64) < 0)
			return -ENOMEM;
		h->cap = (uint32_t)cap;
		i = h->len++;
	} else {
		h->free_head = h->v[i].next;
	}
	uint32_t off;
	if (names_put(h, name, len, &off) < 0) {
		h->v[i] = (struct held_entry){.name_off = HELD_NONE, .next = h->free_head};
		h->free_head = i;
		return -ENOMEM;
	}
	h->v[i] = (struct held_entry){.node = node, .next = d->first, .prev = HELD_NONE,
				      .name_off = off, .name_len = (uint32_t)len, .hash = hash};
	if (d->first != HELD_NONE)
		h->v[d->first].prev = i;
	d->first = i;
	h->table[j] = i;
	h->count++;
	return 0;
}

/* Take entry I (in table slot J) out, backward-shifting what follows. */
static void remove_at(struct held *h, uint32_t i, uint32_t j)
{
	uint32_t mask = h->table_cap - 1;
	h->table[j] = HELD_NONE;
	for (uint32_t k = (j + 1) & mask; h->table[k] != HELD_NONE; k = (k + 1) & mask) {
		uint32_t home = entry_hash(h, h->table[k]) & mask;
		/* move it back into the hole if its home is not between the
		 * hole and where it is */
		if (((k - home) & mask) >= ((k - j) & mask)) {
			h->table[j] = h->table[k];
			h->table[k] = HELD_NONE;
			j = k;
		}
	}
	struct held_entry *e = &h->v[i];
	if (e->prev != HELD_NONE)
		h->v[e->prev].next = e->next;
	else
		h->dirs[e->node].first = e->next;
	if (e->next != HELD_NONE)
		h->v[e->next].prev = e->prev;
	h->names_dead += e->name_len;
	e->name_off = HELD_NONE;
	e->next = h->free_head;
	h->free_head = i;
	h->count--;
	if (h->names_dead > h->names_len / 2 && h->names_dead >= NAMES_MIN)
		names_squeeze(h);
}

void held_del(struct held *h, uint32_t node, uint32_t serial, const char *name,
	      size_t len)
{
	if (!h->table_cap || node >= h->dirs_cap || h->dirs[node].serial != serial)
		return;
	uint32_t j = find_slot(h, node, name, len, hash_of(node, name, len));
	if (h->table[j] != HELD_NONE)
		remove_at(h, h->table[j], j);
}

void held_clear(struct held *h, uint32_t node, uint32_t serial)
{
	if (node >= h->dirs_cap || h->dirs[node].serial != serial)
		return;
	while (h->dirs[node].first != HELD_NONE) {
		uint32_t i = h->dirs[node].first;
		const struct held_entry *e = &h->v[i];
		uint32_t j = find_slot(h, node, h->names + e->name_off, e->name_len, e->hash);
		remove_at(h, i, j);
	}
}

uint32_t held_first(struct held *h, uint32_t node, uint32_t serial)
{
	if (node >= h->dirs_cap || h->dirs[node].serial != serial)
		return HELD_NONE;
	return h->dirs[node].first;
}
