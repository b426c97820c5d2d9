#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

enum { SETTLING, READY };

struct entry {
	char *path; /* NULL when the slot is free */
	char *from;
	uint32_t events;
	uint32_t hash;
	int pid;
	char comm[16];
	uint64_t due;
	uint32_t hnext;      /* chain of its bucket, or the free list */
	uint32_t prev, next; /* in the settling or the ready list */
	int state;
};

/* The head of an element of a keyed table (below): its path (NULL when
 * the slot is free), the path's hash, the next in its bucket's chain or
 * in the free list. */
struct keyed {
	char *path;
	uint32_t hash, hnext;
};

/* The state of a file a job ran on. */
struct fstate {
	struct keyed k;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/* A string-keyed index over an array: buckets of chains through hnext. */
struct index {
	uint32_t *buckets;
	size_t n_buckets; /* a power of two, or 0 */
};

struct list {
	uint32_t head, tail;
	size_t len;
};

/* Elements of ELEM bytes, each starting with a struct keyed, found by
 * path. */
struct table {
	char *v;
	size_t elem, len, cap, used;
	uint32_t free;
	struct index ix;
};

struct store {
	struct entry *e;
	size_t e_len, e_cap;
	uint32_t e_free;
	struct index waiting;
	struct list settling, ready;

	struct table busy;  /* struct keyed: the paths in a job */
	struct table files; /* struct fstate */
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int store_new(struct store **ret)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->e_free = NONE;
	s->busy = (struct table){.elem = sizeof(struct keyed), .free = NONE};
	s->files = (struct table){.elem = sizeof(struct fstate), .free = NONE};
	s->settling = s->ready = (struct list){NONE, NONE, 0};
	*ret = s;
	return 0;
}

/* Both arrays are indexed by path: buckets of chains through hnext. Growing
 * rehashes every used slot (path is the first member of both structs);
 * free slots keep hnext as their free-list link. */
static int index_grow(struct index *ix, size_t want, void *arr, size_t elem,
		      size_t n, size_t hash_off, size_t next_off)
{
	if (want * 2 <= ix->n_buckets * 3) /* load below 1.5 */
		return 0;
	size_t nb = ix->n_buckets ? ix->n_buckets * 2 : 64;
	uint32_t *b = malloc(nb * sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(b, 0xff, nb * sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		char *p = (char *)arr + i * elem;
		if (!*(char **)p) /* path is the first member of both */
			continue;
		uint32_t h = *(uint32_t *)(p + hash_off);
		uint32_t *next = (uint32_t *)(p + next_off);
		*next = b[h & (nb - 1)];
		b[h & (nb - 1)] = (uint32_t)i;
	}
	free(ix->buckets);
	ix->buckets = b;
	ix->n_buckets = nb;
	return 0;
}

static uint32_t find_entry(const struct store *s, const char *path, uint32_t h)
{
	if (!s->waiting.n_buckets)
		return NONE;
	for (uint32_t i = s->waiting.buckets[h & (s->waiting.n_buckets - 1)]; i != NONE;
	     i = s->e[i].hnext)
		if (s->e[i].hash == h && strcmp(s->e[i].path, path) == 0)
			return i;
	return NONE;
}

/* --- keyed tables ---------------------------------------------------------- */

static struct keyed *slot(const struct table *t, uint32_t i)
{
	return (struct keyed *)(t->v + i * t->elem);
}

static uint32_t table_find(const struct table *t, const char *path, uint32_t h)
{
	if (!t->ix.n_buckets)
		return NONE;
	for (uint32_t i = t->ix.buckets[h & (t->ix.n_buckets - 1)]; i != NONE;
	     i = slot(t, i)->hnext)
		if (slot(t, i)->hash == h && strcmp(slot(t, i)->path, path) == 0)
			return i;
	return NONE;
}

/* A new element for PATH (hash H), zeroed past its head: its index in
 * *RET. 0 or -ENOMEM. */
static int table_add(struct table *t, const char *path, uint32_t h, uint32_t *ret)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	if (t->free == NONE && t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char *v = cap <= NONE ? reallocarray(t->v, cap, t->elem) : NULL;
		if (!v) {
			free(copy);
			return -ENOMEM;
		}
		t->v = v;
		t->cap = cap;
	}
	if (index_grow(&t->ix, t->used + 1, t->v, t->elem, t->len,
		       offsetof(struct keyed, hash), offsetof(struct keyed, hnext)) < 0) {
		free(copy);
		return -ENOMEM;
	}
	uint32_t i;
	if (t->free != NONE) {
		i = t->free;
		t->free = slot(t, i)->hnext;
	} else {
		i = (uint32_t)t->len++;
	}
	uint32_t *b = &t->ix.buckets[h & (t->ix.n_buckets - 1)];
	memset(slot(t, i), 0, t->elem);
	*slot(t, i) = (struct keyed){.path = copy, .hash = h, .hnext = *b};
	*b = i;
	t->used++;
	*ret = i;
	return 0;
}

static void table_remove(struct table *t, uint32_t i)
{
	struct keyed *k = slot(t, i);
	uint32_t *p = &t->ix.buckets[k->hash & (t->ix.n_buckets - 1)];
	while (*p != i)
		p = &slot(t, *p)->hnext;
	*p = k->hnext;
	free(k->path);
	memset(k, 0, t->elem);
	k->hnext = t->free;
	t->free = i;
	t->used--;
}

static void table_fini(struct table *t)
{
	for (size_t i = 0; i < t->len; i++)
		free(slot(t, (uint32_t)i)->path);
	free(t->v);
	free(t->ix.buckets);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->e_len; i++) {
		free(s->e[i].path);
		free(s->e[i].from);
	}
	table_fini(&s->busy);
	table_fini(&s->files);
	free(s->e);
	free(s->waiting.buckets);
	free(s);
}

/* --- the two lists --------------------------------------------------------- */

static struct list *list_of(struct store *s, uint32_t i)
{
	return s->e[i].state == READY ? &s->ready : &s->settling;
}

static void list_unlink(struct store *s, uint32_t i)
{
	struct list *l = list_of(s, i);
	struct entry *e = &s->e[i];
	if (e->prev != NONE)
		s->e[e->prev].next = e->next;
	else
		l->head = e->next;
	if (e->next != NONE)
		s->e[e->next].prev = e->prev;
	else
		l->tail = e->prev;
	l->len--;
}

static void list_append(struct store *s, uint32_t i, int state)
{
	struct entry *e = &s->e[i];
	e->state = state;
	struct list *l = list_of(s, i);
	e->next = NONE;
	e->prev = l->tail;
	if (l->tail != NONE)
		s->e[l->tail].next = i;
	else
		l->head = i;
	l->tail = i;
	l->len++;
}

/* Settling is kept in deadline order. Deadlines are "now + settle" of one
 * rule, so a new one almost always goes last: look from the tail. */
static void settling_insert(struct store *s, uint32_t i)
{
	struct entry *e = &s->e[i];
	uint32_t after = s->settling.tail;
	while (after != NONE && s->e[after].due > e->due)
		after = s->e[after].prev;
	e->state = SETTLING;
	e->prev = after;
	e->next = after == NONE ? s->settling.head : s->e[after].next;
	if (e->next != NONE)
		s->e[e->next].prev = i;
	else
		s->settling.tail = i;
	if (after != NONE)
		s->e[after].next = i;
	else
		s->settling.head = i;
	s->settling.len++;
}

/* --- waiting paths ------------------------------------------------------- */

static void entry_unindex(struct store *s, uint32_t i)
{
	uint32_t *p = &s->waiting.buckets[s->e[i].hash & (s->waiting.n_buckets - 1)];
	while (*p != i)
		p = &s->e[*p].hnext;
	*p = s->e[i].hnext;
}

static void entry_release(struct store *s, uint32_t i)
{
	struct entry *e = &s->e[i];
	free(e->path);
	free(e->from);
	memset(e, 0, sizeof(*e));
	e->hnext = s->e_free;
	s->e_free = i;
}

int store_touch(struct store *s, const char *path, uint32_t events,
		const char *from, uint64_t due)
{
	uint32_t h = hash_str(path);
	uint32_t i = find_entry(s, path, h);
	char *from_copy = NULL;
	if (from && !(from_copy = strdup(from)))
		return -ENOMEM;
	if (i != NONE) {
		struct entry *e = &s->e[i];
		list_unlink(s, i);
		e->events |= events;
		if (from_copy) {
			free(e->from);
			e->from = from_copy;
		}
		e->due = due;
		settling_insert(s, i);
		return 0;
	}
	char *copy = strdup(path);
	if (!copy)
		goto nomem;
	if (s->e_free == NONE && s->e_len == s->e_cap) {
		size_t cap = s->e_cap ? s->e_cap * 2 : 64;
		if (cap > NONE)
			goto nomem;
		struct entry *v = realloc(s->e, cap * sizeof(*v));
		if (!v)
			goto nomem;
		s->e = v;
		s->e_cap = cap;
	}
	if (index_grow(&s->waiting, s->settling.len + s->ready.len + 1, s->e,
		       sizeof(*s->e), s->e_len, offsetof(struct entry, hash),
		       offsetof(struct entry, hnext)) < 0)
		goto nomem;
	if (s->e_free != NONE) {
		i = s->e_free;
		s->e_free = s->e[i].hnext;
	} else {
		i = (uint32_t)s->e_len++;
	}
	struct entry *e = &s->e[i];
	*e = (struct entry){
		.path = copy, .from = from_copy, .events = events, .hash = h, .due = due,
	};
	uint32_t *b = &s->waiting.buckets[h & (s->waiting.n_buckets - 1)];
	e->hnext = *b;
	*b = i;
	settling_insert(s, i);
	return 0;
nomem:
	free(copy);
	free(from_copy);
	return -ENOMEM;
}

void store_who(struct store *s, const char *path, int pid, const char *comm)
{
	uint32_t i = find_entry(s, path, hash_str(path));
	if (i == NONE)
		return;
	struct entry *e = &s->e[i];
	e->pid = pid;
	snprintf(e->comm, sizeof(e->comm), "%s", pid > 0 && comm ? comm : "");
}

bool store_has(const struct store *s, const char *path)
{
	return find_entry(s, path, hash_str(path)) != NONE;
}

bool store_forget(struct store *s, const char *path, char **ret_from)
{
	uint32_t i = find_entry(s, path, hash_str(path));
	if (i == NONE)
		return false;
	list_unlink(s, i);
	entry_unindex(s, i);
	if (ret_from) {
		*ret_from = s->e[i].from;
		s->e[i].from = NULL;
	}
	entry_release(s, i);
	return true;
}

/* Whether PATH lies below directory DIR (DIR + '/' + something). */
static bool below(const char *path, const char *dir, size_t dlen)
{
	return strncmp(path, dir, dlen) == 0 && path[dlen] == '/' && path[dlen + 1];
}

long store_move_below(struct store *s, const char *old, const char *new)
{
	size_t olen = strlen(old);
	long n = 0;
	for (uint32_t i = 0; i < s->e_len; i++) {
		struct entry *e = &s->e[i];
		if (!e->path || !below(e->path, old, olen))
			continue;
		char *moved = NULL;
		if (new && asprintf(&moved, "%s%s", new, e->path + olen) < 0)
			return -ENOMEM;
		entry_unindex(s, i);
		if (!new) {
			list_unlink(s, i);
			entry_release(s, i);
		} else {
			free(e->path);
			e->path = moved;
			e->hash = hash_str(moved);
			uint32_t *b = &s->waiting.buckets[e->hash & (s->waiting.n_buckets - 1)];
			e->hnext = *b;
			*b = i;
		}
		n++;
	}
	return n;
}

uint64_t store_next_due(const struct store *s)
{
	return s->settling.head == NONE ? 0 : s->e[s->settling.head].due;
}

void store_settle(struct store *s, uint64_t now)
{
	uint32_t i;
	while ((i = s->settling.head) != NONE && s->e[i].due <= now) {
		list_unlink(s, i);
		list_append(s, i, READY);
	}
}

size_t store_waiting(const struct store *s)
{
	return s->settling.len + s->ready.len;
}

size_t store_ready(const struct store *s)
{
	return s->ready.len;
}

void store_done(struct store *s, const char *path)
{
	uint32_t i = table_find(&s->busy, path, hash_str(path));
	if (i != NONE)
		table_remove(&s->busy, i);
}

/* Hand ready entry I over to RET, out of the queue. */
static void take_entry(struct store *s, uint32_t i, struct store_path *ret)
{
	struct entry *e = &s->e[i];
	list_unlink(s, i);
	entry_unindex(s, i);
	*ret = (struct store_path){.path = e->path, .from = e->from, .events = e->events,
				   .pid = e->pid};
	memcpy(ret->comm, e->comm, sizeof(ret->comm));
	e->path = e->from = NULL;
	entry_release(s, i);
}

size_t store_take(struct store *s, size_t n, size_t bytes, struct store_path *ret)
{
	size_t k = 0, used = 0;
	uint32_t i, next;
	for (i = s->ready.head; k < n && i != NONE; i = next) {
		struct entry *e = &s->e[i];
		next = e->next;
		if (table_find(&s->busy, e->path, e->hash) != NONE)
			continue; /* its job is not over: it waits for it */
		size_t len = strlen(e->path) + 1 + sizeof(char *); /* as an argv word */
		uint32_t b;
		if (k && used + len > bytes)
			break;
		if (table_add(&s->busy, e->path, e->hash, &b) < 0)
			break; /* out of memory: what is taken goes */
		used += len;
		take_entry(s, i, &ret[k++]);
	}
	return k;
}

bool store_pop(struct store *s, struct store_path *ret)
{
	if (s->ready.head == NONE)
		return false;
	take_entry(s, s->ready.head, ret);
	return true;
}

void store_path_fini(struct store_path *p)
{
	free(p->path);
	free(p->from);
	p->path = p->from = NULL;
}

/* --- the files jobs ran on ------------------------------------------------- */

int store_record(struct store *s, const char *path, const struct stat *st)
{
	uint32_t h = hash_str(path);
	uint32_t i = table_find(&s->files, path, h);
	if (!st) {
		if (i != NONE)
			table_remove(&s->files, i);
		return 0;
	}
	if (i == NONE && table_add(&s->files, path, h, &i) < 0)
		return -ENOMEM;
	struct fstate *f = (struct fstate *)slot(&s->files, i);
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	f->ctime = st->st_ctim;
	return 0;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

bool store_changed(const struct store *s, const char *path,
		   const struct stat *st, const struct timespec *since)
{
	uint32_t i = table_find(&s->files, path, hash_str(path));
	if (i == NONE)
		return !ts_before(&st->st_ctim, since);
	const struct fstate *f = (const struct fstate *)slot(&s->files, i);
	return f->dev != st->st_dev || f->ino != st->st_ino || f->size != st->st_size ||
	       f->mtime.tv_sec != st->st_mtim.tv_sec || f->mtime.tv_nsec != st->st_mtim.tv_nsec ||
	       f->ctime.tv_sec != st->st_ctim.tv_sec || f->ctime.tv_nsec != st->st_ctim.tv_nsec;
}
