#include "seen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

static uint32_t seen_hash(int wd, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ ((uint32_t)wd * 0x9e3779b1u);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h ^ (h >> 16);
}

static int table_grow(struct seen *s)
{
	size_t cap = s->table_cap ? s->table_cap * 2 : 256;
	uint32_t *t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->len; i++) {
		size_t j = s->v[i].hash & (cap - 1);
		while (t[j])
			j = (j + 1) & (cap - 1);
		t[j] = (uint32_t)(i + 1);
	}
	free(s->table);
	s->table = t;
	s->table_cap = cap;
	return 0;
}

static struct seen_entry *lookup(struct seen *s, int wd, const char *name,
				 size_t len, uint32_t h)
{
	if (!s->table_cap)
		return NULL;
	struct seen_entry *found = NULL;
	size_t mask = s->table_cap - 1;
	for (size_t j = h & mask; s->table[j]; j = (j + 1) & mask) {
		struct seen_entry *e = &s->v[s->table[j] - 1];
		if (e->hash == h && e->wd == wd && e->name_len == len &&
		    memcmp(s->names.data + e->name_off, name, len) == 0)
			found = e; /* the newest one wins: keep probing */
	}
	return found;
}

int seen_add(struct seen *s, int wd, const char *name, size_t len,
	     uint32_t mask)
{
	if (s->len >= UINT32_MAX - 1)
		return -ENOMEM;
	if ((s->len + 1) * 2 > s->table_cap && table_grow(s) < 0)
		return -ENOMEM;
	if (array_grow((void **)&s->v, &s->cap, s->len, sizeof(*s->v), 64) < 0)
		return -ENOMEM;
	size_t off = s->names.len;
	int r = buf_append(&s->names, name, len);
	if (r < 0)
		return r;
	uint32_t h = seen_hash(wd, name, len);
	s->v[s->len] = (struct seen_entry){
		.wd = wd, .mask = mask, .mark = UINT64_MAX, .generation = s->generation,
		.hash = h, .name_len = (uint32_t)len, .name_off = off,
	};
	size_t tmask = s->table_cap - 1, j = h & tmask;
	while (s->table[j])
		j = (j + 1) & tmask;
	s->table[j] = (uint32_t)(++s->len);
	return 0;
}

int seen_found_dir(struct seen *s, int wd, const char *name, size_t len, uint64_t pos,
		   uint64_t mark)
{
	const struct seen_entry *e = lookup(s, wd, name, len, seen_hash(wd, name, len));
	if (e && e->mask && e->mark > pos)
		return 0; /* a listing reported it: that entry tells */
	int r = seen_add(s, wd, name, len, IN_ISDIR);
	if (r < 0)
		return r;
	s->v[s->len - 1].mark = mark; /* its own: seen_seal() leaves it */
	if (mark > s->max_mark)
		s->max_mark = mark;
	return 0;
}

void seen_set_ino(struct seen *s, uint64_t ino)
{
	if (s->len)
		s->v[s->len - 1].ino = ino;
}

void seen_seal(struct seen *s, uint64_t mark)
{
	for (size_t i = s->sealed; i < s->len; i++)
		if (s->v[i].mark == UINT64_MAX)
			s->v[i].mark = mark;
	s->sealed = s->len;
	if (mark > s->max_mark)
		s->max_mark = mark;
}

bool seen_absorb(struct seen *s, int wd, const char *name, size_t len,
		 uint32_t mask, uint64_t pos)
{
	if (!s->len)
		return false;
	struct seen_entry *e = lookup(s, wd, name, len, seen_hash(wd, name, len));
	if (!e || !e->mask || e->mark <= pos)
		return false;
	/* Without IN_ISDIR, of a name the listing found a directory: a file
	 * that had the name before that directory came. Its events precede
	 * the listing, and a way out of the directory after the listing
	 * would have ended the entry first. A reader has the directory: the
	 * file is no news, and its DELETE would take the directory away. */
	if ((e->mask & IN_ISDIR) && !(mask & IN_ISDIR))
		return true;
	if (mask & (IN_DELETE | IN_MOVED_FROM)) {
		e->mask = 0;
		return false;
	}
	uint32_t absorbed = mask & e->mask & ~(uint32_t)IN_ISDIR;
	if (!absorbed)
		return false;
	e->mask &= ~absorbed;
	if (!(e->mask & ~(uint32_t)IN_ISDIR))
		e->mask = 0;
	return true;
}

const struct seen_entry *seen_listed(struct seen *s, int wd, const char *name, size_t len,
				     uint64_t pos)
{
	if (!s->len)
		return NULL;
	const struct seen_entry *e = lookup(s, wd, name, len, seen_hash(wd, name, len));
	/* IN_ISDIR alone: found, not reported (seen_found_dir()). A mark at
	 * POS is not passed: nothing queued after the listing is read yet */
	return e && (e->mask & ~(uint32_t)IN_ISDIR) && e->mark >= pos ? e : NULL;
}

void seen_expire(struct seen *s, uint64_t pos)
{
	if (!s->len || s->sealed < s->len || pos < s->max_mark)
		return;
	s->len = s->sealed = 0;
	s->max_mark = 0;
	buf_clear(&s->names);
	memset(s->table, 0, s->table_cap * sizeof(*s->table));
}

void seen_fini(struct seen *s)
{
	free(s->v);
	free(s->table);
	buf_free(&s->names);
	memset(s, 0, sizeof(*s));
}
