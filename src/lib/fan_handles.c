/* The file handles a fanotify source has met (fan_handles.h). */
#include "fan_handles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static uint32_t hash_key(uint64_t fsid, int type, const unsigned char *b, size_t len)
{
	/* FNV-1a over the whole key */
	uint32_t x = 2166136261u;
	for (int i = 0; i < 8; i++) {
		x ^= (uint8_t)(fsid >> (i * 8));
		x *= 16777619u;
	}
	x ^= (uint32_t)type;
	x *= 16777619u;
	for (size_t i = 0; i < len; i++) {
		x ^= b[i];
		x *= 16777619u;
	}
	return x;
}

static uint32_t hash_id(int32_t id)
{
	uint32_t x = (uint32_t)id;
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static uint32_t entry_hash(const struct fan_handles *h, const struct fan_index *ix, uint32_t i)
{
	return ix == &h->by_key ? h->v[i].hash : hash_id(h->v[i].id);
}

/* Linear probing from the hash's slot (its high bits, scaled). */
static uint32_t home(uint32_t hash, uint32_t cap)
{
	return (uint32_t)(((uint64_t)hash * cap) >> 32);
}

static bool fits(uint32_t len, uint32_t cap)
{
	return (uint64_t)len * 4 <= (uint64_t)cap * 3;
}

static void index_put(const struct fan_handles *h, struct fan_index *ix, uint32_t i)
{
	uint32_t j = home(entry_hash(h, ix, i), ix->cap);
	while (ix->slot[j] != FAN_NONE)
		j = j + 1 == ix->cap ? 0 : j + 1;
	ix->slot[j] = i;
	ix->len++;
}

static int index_grow(struct fan_handles *h, struct fan_index *ix)
{
	if (ix->cap && fits(ix->len + 1, ix->cap))
		return 0;
	uint32_t cap = ix->cap ? ix->cap + ix->cap / 2 : 64;
	uint32_t *slot = malloc((size_t)cap * sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	struct fan_index old = *ix;
	memset(slot, 0xff, (size_t)cap * sizeof(*slot));
	*ix = (struct fan_index){.slot = slot, .cap = cap};
	for (uint32_t j = 0; j < old.cap; j++)
		if (old.slot[j] != FAN_NONE)
			index_put(h, ix, old.slot[j]);
	free(old.slot);
	return 0;
}

/* Remove entry I from IX, shifting back what probed past it. */
static void index_del(const struct fan_handles *h, struct fan_index *ix, uint32_t i)
{
	if (!ix->cap)
		return;
	uint32_t j = home(entry_hash(h, ix, i), ix->cap);
	while (ix->slot[j] != i) {
		if (ix->slot[j] == FAN_NONE)
			return;
		j = j + 1 == ix->cap ? 0 : j + 1;
	}
	ix->slot[j] = FAN_NONE;
	ix->len--;
	for (uint32_t k = j + 1 == ix->cap ? 0 : j + 1; ix->slot[k] != FAN_NONE;
	     k = k + 1 == ix->cap ? 0 : k + 1) {
		uint32_t want = home(entry_hash(h, ix, ix->slot[k]), ix->cap);
		/* can it move to the hole at j: is j between want and k? */
		bool moves = j <= k ? (want <= j || want > k) : (want <= j && want > k);
		if (moves) {
			ix->slot[j] = ix->slot[k];
			ix->slot[k] = FAN_NONE;
			j = k;
		}
	}
}

void fan_handles_init(struct fan_handles *h)
{
	memset(h, 0, sizeof(*h));
	h->free_head = FAN_NONE;
}

static void entry_free_key(struct fan_entry *e)
{
	if (e->len > FAN_INLINE)
		free(e->key.ext);
}

void fan_handles_fini(struct fan_handles *h)
{
	for (uint32_t i = 0; i < h->len; i++)
		if (h->v[i].id)
			entry_free_key(&h->v[i]);
	free(h->v);
	free(h->by_key.slot);
	free(h->by_id.slot);
	fan_handles_init(h);
}

uint32_t fan_handles_find(const struct fan_handles *h, uint64_t fsid, int type,
			  const unsigned char *bytes, size_t len)
{
	if (!h->by_key.cap)
		return FAN_NONE;
	uint32_t hash = hash_key(fsid, type, bytes, len);
	for (uint32_t j = home(hash, h->by_key.cap);; j = j + 1 == h->by_key.cap ? 0 : j + 1) {
		uint32_t i = h->by_key.slot[j];
		if (i == FAN_NONE)
			return FAN_NONE;
		const struct fan_entry *e = &h->v[i];
		if (e->hash == hash && e->fsid == fsid && e->type == type && e->len == len &&
		    memcmp(fan_key(e), bytes, len) == 0)
			return i;
	}
}

uint32_t fan_handles_by_id(const struct fan_handles *h, int id)
{
	if (!h->by_id.cap || id <= 0)
		return FAN_NONE;
	for (uint32_t j = home(hash_id(id), h->by_id.cap);; j = j + 1 == h->by_id.cap ? 0 : j + 1) {
		uint32_t i = h->by_id.slot[j];
		if (i == FAN_NONE || h->v[i].id == id)
			return i;
	}
}

uint32_t fan_handles_add(struct fan_handles *h, uint64_t fsid, int type,
			 const unsigned char *bytes, size_t len, enum fan_state state)
{
	if (len > 128 || h->last_id == INT32_MAX ||
	    index_grow(h, &h->by_key) < 0 || index_grow(h, &h->by_id) < 0)
		return FAN_NONE;
	uint32_t i = h->free_head;
	if (i == FAN_NONE) {
		if (h->len == h->cap) {
			size_t cap = h->cap;
			if (array_grow((void **)&h->v, &cap, h->len, sizeof(*h->v), 64) < 0 ||
			    cap > UINT32_MAX - 1)
				return FAN_NONE;
			h->cap = (uint32_t)cap;
		}
		i = h->len++;
	} else {
		h->free_head = h->v[i].next_free;
	}
	struct fan_entry *e = &h->v[i];
	memset(e, 0, sizeof(*e));
	if (len > FAN_INLINE) {
		if (!(e->key.ext = malloc(len))) {
			e->next_free = h->free_head;
			h->free_head = i;
			return FAN_NONE;
		}
		memcpy(e->key.ext, bytes, len);
	} else {
		memcpy(e->key.inl, bytes, len);
	}
	e->fsid = fsid;
	e->type = type;
	e->len = (uint8_t)len;
	e->hash = hash_key(fsid, type, bytes, len);
	e->state = (uint8_t)state;
	e->id = ++h->last_id;
	index_put(h, &h->by_key, i);
	index_put(h, &h->by_id, i);
	h->count++;
	return i;
}

void fan_handles_del(struct fan_handles *h, uint32_t i)
{
	struct fan_entry *e = &h->v[i];
	if (!e->id)
		return;
	index_del(h, &h->by_key, i);
	index_del(h, &h->by_id, i);
	entry_free_key(e);
	memset(e, 0, sizeof(*e));
	e->next_free = h->free_head;
	h->free_head = i;
	h->count--;
}

void fan_handles_drop(struct fan_handles *h, enum fan_state state)
{
	for (uint32_t i = 0; i < h->len; i++)
		if (h->v[i].id && h->v[i].state == state)
			fan_handles_del(h, i);
}
