#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <time.h>

#include "journal.h"

#define NONE UINT32_MAX
#define NS 1000000000ll

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
	bool own;            /* changed while its job ran, or right after:
			      * maybe by the job (the loop guard) */
	bool loaded;         /* from the journal, at a start */
	bool found;          /* by the catch-up walk */
	bool remote;         /* named by a broker's message (--subscribe) */
};

/* The head of an element of a keyed table (below): its path (NULL when
 * the slot is free), the path's hash, the next in its bucket's chain or
 * in the free list. */
struct keyed {
	char *path;
	uint32_t hash, hnext;
};

/* What is known of a path jobs have run on. */
struct known {
	struct keyed k;
	bool has_file;       /* the file, at the end of its last job: */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool busy;           /* in a job now */
	bool failed;         /* its last job failed, and no attempt is left */
	bool found;          /* by the catch-up walk */
	bool remote;         /* named by a broker's message (--subscribe) */
	uint32_t events;     /* its last job's (a running one's) */
	char *from;          /* a running job's, with a journal only */
	uint32_t attempts, failures;
	int status;          /* the last job's wait status, or -1 */
	int64_t time;        /* realtime ns: its last change of state */
	int64_t retry_at;    /* realtime ns: waiting for a retry until then */
	uint64_t ended;      /* monotonic ns: the end of its last job, or 0 */
	uint32_t loops;      /* jobs in a row followed by an own change */
	uint64_t hold_ns;    /* looping: how long its next job waits */
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

	struct table known; /* struct known */
	size_t n_failed;

	unsigned refs;      /* store_ref() */
	struct journal *j;  /* NULL: nothing is written through */
	int64_t rule;

	unsigned retries;
	uint64_t retry_delay_ns, retry_max_ns;
	unsigned loop_burst; /* the loop guard (store_set_guard()) */
	uint64_t loop_window_ns;
	uint64_t held_until; /* the earliest a held path may go, or 0 */
	char **tripped;      /* paths just found looping, to be said */
	size_t n_tripped;
	uint64_t rand;      /* xorshift state, for the jitter */
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

int store_new(struct store **ret)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->refs = 1;
	s->e_free = NONE;
	s->known = (struct table){.elem = sizeof(struct known), .free = NONE};
	s->settling = s->ready = (struct list){NONE, NONE, 0};
	if (getrandom(&s->rand, sizeof(s->rand), GRND_NONBLOCK) != sizeof(s->rand))
		s->rand = (uint64_t)realtime_ns();
	s->rand |= 1;
	*ret = s;
	return 0;
}

void store_journal(struct store *s, struct journal *j, int64_t rule)
{
	s->j = j;
	s->rule = rule;
}

void store_set_guard(struct store *s, unsigned burst, uint64_t window_ns)
{
	s->loop_burst = burst;
	s->loop_window_ns = window_ns;
}

char *store_tripped(struct store *s)
{
	return s->n_tripped ? s->tripped[--s->n_tripped] : NULL;
}

uint64_t store_held_until(const struct store *s)
{
	return s->held_until;
}

void store_set_retry(struct store *s, unsigned retries, uint64_t delay_ns,
		     uint64_t max_delay_ns)
{
	s->retries = retries;
	s->retry_delay_ns = delay_ns;
	s->retry_max_ns = max_delay_ns;
}

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

static struct known *known_at(const struct store *s, uint32_t i)
{
	return (struct known *)slot(&s->known, i);
}

static struct known *find_known(const struct store *s, const char *path, uint32_t h)
{
	uint32_t i = table_find(&s->known, path, h);
	return i == NONE ? NULL : known_at(s, i);
}

/* What is known of PATH, made if need be: NULL when memory runs out. */
static struct known *get_known(struct store *s, const char *path, uint32_t h)
{
	uint32_t i = table_find(&s->known, path, h);
	if (i == NONE) {
		if (table_add(&s->known, path, h, &i) < 0)
			return NULL;
		known_at(s, i)->status = -1;
	}
	return known_at(s, i);
}

static void known_remove(struct store *s, struct known *k)
{
	if (k->failed)
		s->n_failed--;
	free(k->from);
	table_remove(&s->known, (uint32_t)(((char *)k - s->known.v) / s->known.elem));
}


struct store *store_ref(struct store *s)
{
	s->refs++;
	return s;
}

void store_free(struct store *s)
{
	if (!s || --s->refs > 0)
		return;
	for (size_t i = 0; i < s->e_len; i++) {
		free(s->e[i].path);
		free(s->e[i].from);
	}
	for (size_t i = 0; i < s->known.len; i++)
		if (known_at(s, (uint32_t)i)->k.path)
			free(known_at(s, (uint32_t)i)->from);
	table_fini(&s->known);
	while (s->n_tripped)
		free(s->tripped[--s->n_tripped]);
	free(s->tripped);
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


/* --- the journal ----------------------------------------------------------- */

/* Write the state of PATH (hash H) through to the journal: its row, or
 * none when nothing is known of it and it does not wait. A failure stays
 * in the journal, which the caller's commit reports. */
static void jsync(struct store *s, const char *path, uint32_t h)
{
	if (!s->j)
		return;
	uint32_t i = find_entry(s, path, h);
	struct known *k = find_known(s, path, h);
	if (i == NONE && !k) {
		journal_forget(s->j, s->rule, path, strlen(path));
		return;
	}
	const struct entry *e = i == NONE ? NULL : &s->e[i];
	struct jrow row = {.path = path, .path_len = strlen(path), .status = -1};
	const char *from = NULL;
	if (k) {
		row.state = k->busy ? J_RUNNING : e ? J_WAITING : k->failed ? J_FAILED : J_DONE;
		row.events = k->events;
		row.attempts = k->attempts;
		row.failures = k->failures;
		row.status = k->status;
		row.time = k->time;
		row.retry_at = e ? k->retry_at : 0;
		row.has_file = k->has_file;
		row.dev = k->dev;
		row.ino = k->ino;
		row.size = k->size;
		row.mtime = k->mtime.tv_sec * NS + k->mtime.tv_nsec;
		row.ctime = k->ctime.tv_sec * NS + k->ctime.tv_nsec;
		from = k->busy ? k->from : NULL;
	} else {
		row.state = J_WAITING;
		row.time = realtime_ns();
	}
	/* what waits is what runs next (a running path that waits too runs
	 * again: a re-run after a crash sees the file as it is by then) */
	if (e && !(k && k->busy)) {
		row.events = e->events;
		from = e->from;
	}
	if (from) {
		row.from = from;
		row.from_len = strlen(from);
	}
	row.remote = (e && e->remote) || (k && k->remote);
	journal_put(s->j, s->rule, &row);
}

/* --- waiting paths ---------------------------------------------------------- */

/* store_touch(); with FRESH, a change made at NOW (a new version of the
 * file: its attempts start again); REMOTE: named by a broker's message. */
static int touch(struct store *s, const char *path, uint32_t events, const char *from,
		 uint64_t now, uint64_t due, bool fresh, bool remote)
{
	uint32_t h = hash_str(path);
	uint32_t i = find_entry(s, path, h);
	char *from_copy = NULL;
	if (from && !(from_copy = strdup(from)))
		return -ENOMEM;
	struct known *k = fresh ? find_known(s, path, h) : NULL;
	/* made while its job ran, or right after it: maybe by it */
	bool own = k && (k->busy || (k->ended && now - k->ended <= s->loop_window_ns));
	if (k && !k->busy) {
		/* new or changed: its attempts start again */
		k->attempts = k->failures = 0;
		k->retry_at = 0;
		if (k->failed)
			s->n_failed--;
		k->failed = false;
	}
	if (i != NONE) {
		struct entry *e = &s->e[i];
		list_unlink(s, i);
		bool news = (e->events | events) != e->events || from_copy;
		e->events |= events;
		if (from_copy) {
			free(e->from);
			e->from = from_copy;
		}
		e->due = due;
		e->own |= own;
		news |= remote && !e->remote;
		e->remote |= remote;
		settling_insert(s, i);
		if (news || k)
			jsync(s, path, h);
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
		.own = own, .remote = remote,
	};
	uint32_t *b = &s->waiting.buckets[h & (s->waiting.n_buckets - 1)];
	e->hnext = *b;
	*b = i;
	settling_insert(s, i);
	jsync(s, path, h);
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

int store_touch(struct store *s, const char *path, uint32_t events,
		const char *from, uint64_t due)
{
	return touch(s, path, events, from, due, due, events != 0, false);
}

bool store_has(const struct store *s, const char *path)
{
	return find_entry(s, path, hash_str(path)) != NONE;
}

/* PATH went away (deleted, or renamed): forget it if it waits, and, with
 * KNOWN, what is known of it (unless a job runs on it: its end says).
 * Returns whether it waited; *RET_FROM (if not NULL) gets its 'from', to
 * be freed. */
static bool forget(struct store *s, const char *path, bool known, char **ret_from)
{
	uint32_t h = hash_str(path);
	uint32_t i = find_entry(s, path, h);
	struct known *k = known ? find_known(s, path, h) : NULL;
	if (k && !k->busy)
		known_remove(s, k);
	if (i == NONE) {
		if (k)
			jsync(s, path, h);
		return false;
	}
	list_unlink(s, i);
	entry_unindex(s, i);
	if (ret_from) {
		*ret_from = s->e[i].from;
		s->e[i].from = NULL;
	}
	entry_release(s, i);
	jsync(s, path, h);
	return true;
}

/* Whether PATH lies below directory DIR (DIR + '/' + something). */
static bool below(const char *path, const char *dir, size_t dlen)
{
	return strncmp(path, dir, dlen) == 0 && path[dlen] == '/' && path[dlen + 1];
}

/* What is known of OLD is now known of NEW (a rename): the file is the
 * same, though its ctime moved. */
static int move_known(struct store *s, const char *old, const char *new)
{
	struct known *k = find_known(s, old, hash_str(old));
	if (!k || k->busy)
		return 0;
	struct known copy = *k;
	k->from = NULL;
	known_remove(s, k);
	jsync(s, old, hash_str(old));
	uint32_t h = hash_str(new);
	struct known *n = find_known(s, new, h);
	if (n && n->busy) { /* replaced under a running job: its end says */
		free(copy.from);
		return 0;
	}
	if (!n && !(n = get_known(s, new, h))) {
		free(copy.from);
		return -ENOMEM;
	}
	if (n->failed)
		s->n_failed--;
	free(n->from);
	copy.k = n->k;
	*n = copy;
	if (n->failed)
		s->n_failed++;
	struct stat st;
	if (n->has_file && lstat(new, &st) == 0 && st.st_dev == n->dev && st.st_ino == n->ino &&
	    st.st_size == n->size && st.st_mtim.tv_sec == n->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == n->mtime.tv_nsec)
		n->ctime = st.st_ctim;
	jsync(s, new, h);
	return 0;
}

/* Directory OLD was renamed to NEW: every waiting path below OLD moves
 * below NEW (keeping its place and deadline), and what is known of the
 * paths below it. With NEW NULL the directory left: they are forgotten.
 * Returns how many waited, or -ENOMEM. */
static long move_below(struct store *s, const char *old, const char *new)
{
	size_t olen = strlen(old);
	long n = 0;
	int r = 0;
	for (uint32_t i = 0; i < s->e_len; i++) {
		struct entry *e = &s->e[i];
		if (!e->path || !below(e->path, old, olen))
			continue;
		char *moved = NULL;
		if (new && asprintf(&moved, "%s%s", new, e->path + olen) < 0)
			return -ENOMEM;
		entry_unindex(s, i);
		char *was = e->path;
		uint32_t was_h = e->hash;
		if (!new) {
			e->path = NULL;
			list_unlink(s, i);
			entry_release(s, i);
		} else {
			e->path = moved;
			e->hash = hash_str(moved);
			uint32_t *b = &s->waiting.buckets[e->hash & (s->waiting.n_buckets - 1)];
			e->hnext = *b;
			*b = i;
		}
		jsync(s, was, was_h);
		if (new)
			jsync(s, moved, hash_str(moved));
		free(was);
		n++;
	}
	for (uint32_t i = 0; i < s->known.len; i++) {
		struct known *k = known_at(s, i);
		if (!k->k.path || k->busy || !below(k->k.path, old, olen))
			continue;
		char *path = strdup(k->k.path), *moved = NULL;
		if (!path || (new && asprintf(&moved, "%s%s", new, path + olen) < 0)) {
			free(path);
			return -ENOMEM;
		}
		if (new) {
			r = move_known(s, path, moved);
		} else {
			known_remove(s, k);
			jsync(s, path, hash_str(path));
		}
		free(path);
		free(moved);
		if (r < 0)
			return r;
	}
	return n;
}

/* Queue PATH for change C: 1 if it is new in the queue, 0, -ENOMEM. */
static int queue(struct store *s, const struct change *c, const char *path,
		 uint32_t events, const char *from)
{
	bool had = store_has(s, path);
	if (touch(s, path, events && c->is_dir ? events | IN_ISDIR : events, from, c->now,
		  c->now + c->settle_ns, events != 0, c->remote) < 0)
		return -ENOMEM;
	return !had;
}

int store_apply(struct store *s, const struct change *c)
{
	int r = 0;
	switch (c->kind) {
	case CHANGE_RENAME: {
		char *from = NULL;
		bool was = forget(s, c->from, false, &from);
		free(from);
		/* what waited below a renamed directory waits under its new
		 * path; what is known of a file goes with it */
		if (c->is_dir ? move_below(s, c->from, c->path) < 0 :
				move_known(s, c->from, c->path) < 0)
			r = -ENOMEM;
		if (c->wanted && (was || c->events)) {
			int q = queue(s, c, c->path, IN_MOVED_TO, c->from);
			r = r < 0 ? r : q;
		}
		return r;
	}
	case CHANGE_GONE:
		forget(s, c->path, true, NULL);
		if (c->is_dir)
			move_below(s, c->path, NULL);
		if (c->wanted && c->events)
			return queue(s, c, c->path, c->events, NULL);
		return 0;
	case CHANGE_LEFT:
		forget(s, c->path, true, NULL);
		return 0;
	case CHANGE_TOUCH:
		if (!c->wanted)
			return 0;
		if (c->events)
			return queue(s, c, c->path, c->events, c->from);
		if (c->settle_ns && store_has(s, c->path))
			return queue(s, c, c->path, 0, NULL); /* still changing: wait on */
		return 0;
	}
	return 0;
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

void store_resettle(struct store *s, uint64_t old_ns, uint64_t new_ns)
{
	/* one shift for all keeps the settling list in deadline order */
	for (uint32_t i = s->settling.head; i != NONE; i = s->e[i].next) {
		struct entry *e = &s->e[i];
		if (new_ns >= old_ns)
			e->due += new_ns - old_ns;
		else
			e->due = e->due > old_ns - new_ns ? e->due - (old_ns - new_ns) : 0;
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

size_t store_failed(const struct store *s)
{
	return s->n_failed;
}

void store_done(struct store *s, const char *path)
{
	uint32_t h = hash_str(path);
	struct known *k = find_known(s, path, h);
	if (!k || !k->busy)
		return;
	k->busy = false;
	free(k->from);
	k->from = NULL;
	/* it never ran: it does not count */
	if (k->attempts)
		k->attempts--;
	jsync(s, path, h);
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

/* The loop guard on entry E about to be taken (K: what is known of it):
 * whether it is held back, until *UNTIL. */
static bool held(struct store *s, const struct entry *e, struct known *k, uint64_t now)
{
	if (!s->loop_burst || !k)
		return false;
	if (!e->own) {
		k->loops = 0; /* a change of its own: the loop, if any, broke */
		k->hold_ns = 0;
		return false;
	}
	if (k->loops < s->loop_burst)
		return false;
	if (!k->hold_ns) {
		/* found now: said once; each next job waits twice as long
		 * as the last, up to a minute */
		char *p = strdup(e->path);
		char **v = p ? realloc(s->tripped, (s->n_tripped + 1) * sizeof(*v)) : NULL;
		if (v) {
			s->tripped = v;
			s->tripped[s->n_tripped++] = p;
		} else {
			free(p);
		}
		k->hold_ns = s->loop_window_ns;
	}
	uint64_t until = k->ended + k->hold_ns;
	if (now >= until)
		return false;
	s->held_until = !s->held_until || until < s->held_until ? until : s->held_until;
	return true;
}

size_t store_take(struct store *s, size_t n, size_t bytes, uint64_t now,
		  struct store_path *ret)
{
	size_t k = 0, used = 0;
	uint32_t i, next;
	s->held_until = 0;
	for (i = s->ready.head; k < n && i != NONE; i = next) {
		struct entry *e = &s->e[i];
		next = e->next;
		struct known *kn = find_known(s, e->path, e->hash);
		if (kn && kn->busy)
			continue; /* its job is not over: it waits for it */
		if (held(s, e, kn, now))
			continue;
		size_t len = strlen(e->path) + 1 + sizeof(char *); /* as an argv word */
		if (k && used + len > bytes)
			break;
		char *from = NULL;
		if ((!kn && !(kn = get_known(s, e->path, e->hash))) ||
		    (s->j && e->from && !(from = strdup(e->from))))
			break; /* out of memory: what is taken goes */
		used += len;
		uint32_t h = e->hash;
		if (s->loop_burst && e->own) {
			kn->loops++;
			if (kn->hold_ns && kn->loops > s->loop_burst) {
				uint64_t max = 60 * (uint64_t)NS;
				kn->hold_ns = kn->hold_ns > max / 2 ? max : kn->hold_ns * 2;
			}
		}
		kn->remote |= e->remote;
		take_entry(s, i, &ret[k]);
		kn->busy = true;
		kn->attempts++;
		kn->events = ret[k].events;
		kn->retry_at = 0;
		free(kn->from);
		kn->from = from;
		kn->time = s->j ? realtime_ns() : 0;
		ret[k].attempt = kn->attempts;
		jsync(s, ret[k].path, h);
		k++;
	}
	return k;
}

bool store_pop(struct store *s, struct store_path *ret)
{
	if (s->ready.head == NONE)
		return false;
	uint32_t h = s->e[s->ready.head].hash;
	take_entry(s, s->ready.head, ret);
	struct known *k = find_known(s, ret->path, h);
	ret->attempt = k ? k->attempts + 1 : 1;
	jsync(s, ret->path, h);
	return true;
}

void store_path_fini(struct store_path *p)
{
	free(p->path);
	free(p->from);
	p->path = p->from = NULL;
}

/* --- the files jobs ran on ------------------------------------------------- */

static void set_file(struct known *k, const struct stat *st)
{
	k->has_file = true;
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	k->size = st->st_size;
	k->mtime = st->st_mtim;
	k->ctime = st->st_ctim;
}

int store_record(struct store *s, const char *path, const struct stat *st)
{
	uint32_t h = hash_str(path);
	struct known *k = find_known(s, path, h);
	if (!st) {
		if (k && !k->busy)
			known_remove(s, k);
		else if (k)
			k->has_file = false;
		return 0;
	}
	if (!k && !(k = get_known(s, path, h)))
		return -ENOMEM;
	set_file(k, st);
	return 0;
}

/* The delay before retry N (1, 2, ...): DELAY * 2^(N-1), capped, less a
 * random part of up to its half. */
static uint64_t backoff(struct store *s, uint32_t n)
{
	uint64_t d = s->retry_delay_ns;
	for (uint32_t i = 1; i < n && d < s->retry_max_ns; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	if (s->retry_max_ns && d > s->retry_max_ns)
		d = s->retry_max_ns;
	s->rand ^= s->rand << 13;
	s->rand ^= s->rand >> 7;
	s->rand ^= s->rand << 17;
	return d - (d / 2 ? s->rand % (d / 2 + 1) : 0);
}

int store_finish(struct store *s, const char *path, const struct stat *st,
		 enum outcome outcome, int status, uint64_t now, struct finish *ret)
{
	uint32_t h = hash_str(path);
	struct known *k = find_known(s, path, h);
	enum finished what = FINISHED_DONE;
	int r = 0;
	if (ret)
		*ret = (struct finish){.what = what};
	if (!k) /* cannot be: taken paths are known */
		return 0;
	k->busy = false;
	free(k->from);
	k->from = NULL;
	k->time = s->j ? realtime_ns() : 0;
	k->ended = now;
	if (st)
		set_file(k, st);
	else
		k->has_file = false;
	bool waits = find_entry(s, path, h) != NONE; /* changed while it ran */
	switch (outcome) {
	case OUTCOME_OK:
	case OUTCOME_REPLACED:
		k->status = status;
		k->failures = 0;
		break;
	case OUTCOME_STOPPED:
		/* cut short: it runs again (at the next start, as vigil is
		 * stopping); the attempt counts, as one a crash cuts short */
		what = FINISHED_AGAIN;
		if (!waits && touch(s, path, k->events, NULL, now, now, false, k->remote) < 0)
			r = -ENOMEM;
		break;
	case OUTCOME_FAILED:
		k->status = status;
		k->failures++;
		if (waits) {
			/* a new version waits already: that is the next attempt */
			what = FINISHED_AGAIN;
		} else if (k->failures <= s->retries) {
			uint64_t delay = backoff(s, k->failures);
			what = FINISHED_RETRY;
			if (ret) {
				ret->due = now + delay;
				ret->retry = k->failures;
			}
			k->retry_at = realtime_ns() + (int64_t)delay;
			if (touch(s, path, k->events, NULL, now, now + delay, false, k->remote) < 0)
				r = -ENOMEM;
			k = find_known(s, path, h);
		} else {
			what = FINISHED_FAILED;
			if (!k->failed)
				s->n_failed++;
			k->failed = true;
		}
		break;
	}
	if (!st && what == FINISHED_DONE && !waits) {
		/* handled, and gone: nothing to remember */
		known_remove(s, k);
	}
	jsync(s, path, h);
	if (ret)
		ret->what = what;
	return r;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Whether the file ST differs from what K knew of it. */
static bool differs(const struct known *k, const struct stat *st)
{
	return !k->has_file || k->dev != st->st_dev || k->ino != st->st_ino ||
	       k->size != st->st_size || k->mtime.tv_sec != st->st_mtim.tv_sec ||
	       k->mtime.tv_nsec != st->st_mtim.tv_nsec || k->ctime.tv_sec != st->st_ctim.tv_sec ||
	       k->ctime.tv_nsec != st->st_ctim.tv_nsec;
}

bool store_unchanged(const struct store *s, const char *path, const struct stat *st)
{
	const struct known *k = find_known(s, path, hash_str(path));
	return k && !k->busy && !k->failed && k->has_file && !differs(k, st) &&
	       find_entry(s, path, k->k.hash) == NONE;
}

bool store_changed(const struct store *s, const char *path,
		   const struct stat *st, const struct timespec *since)
{
	const struct known *k = find_known(s, path, hash_str(path));
	if (!k || !k->has_file)
		return !ts_before(&st->st_ctim, since);
	return differs(k, st);
}

/* --- a start with a journal ------------------------------------------------ */

struct load {
	struct store *s;
	uint64_t now, settle_ns;
	int64_t real;
	long waiting;
	int error;
};

static int load_row(void *ctx, const struct jrow *row)
{
	struct load *l = ctx;
	struct store *s = l->s;
	char *path = strndup(row->path, row->path_len);
	char *from = row->from ? strndup(row->from, row->from_len) : NULL;
	if (!path || (row->from && !from)) {
		free(path);
		free(from);
		return l->error = -ENOMEM;
	}
	uint32_t h = hash_str(path);
	struct known *k = get_known(s, path, h);
	if (!k) {
		free(path);
		free(from);
		return l->error = -ENOMEM;
	}
	k->events = row->events;
	k->attempts = row->attempts;
	k->failures = row->failures;
	k->status = row->status;
	k->time = row->time;
	k->retry_at = row->retry_at;
	k->has_file = row->has_file;
	k->dev = (dev_t)row->dev;
	k->ino = (ino_t)row->ino;
	k->size = (off_t)row->size;
	k->mtime = (struct timespec){row->mtime / NS, row->mtime % NS};
	k->ctime = (struct timespec){row->ctime / NS, row->ctime % NS};
	k->failed = row->state == J_FAILED;
	k->remote = row->remote;
	if (k->failed)
		s->n_failed++;
	int r = 0;
	if (row->state == J_WAITING || row->state == J_RUNNING) {
		/* what ran runs again at once (it had settled); what waited
		 * settles again, or waits for its retry */
		uint64_t due = row->state == J_RUNNING ? l->now : l->now + l->settle_ns;
		if (row->state == J_WAITING && row->retry_at > l->real)
			due = l->now + (uint64_t)(row->retry_at - l->real);
		r = touch(s, path, row->events, from, l->now, due, false, row->remote);
		if (r == 0) {
			s->e[find_entry(s, path, h)].loaded = true;
			l->waiting++;
		}
	}
	free(path);
	free(from);
	return r < 0 ? (l->error = r) : 0;
}

long store_load(struct store *s, uint64_t now, uint64_t settle_ns)
{
	if (!s->j)
		return 0;
	struct load l = {.s = s, .now = now, .settle_ns = settle_ns, .real = realtime_ns()};
	int r = journal_each(s->j, s->rule, J_ALL, false, load_row, &l);
	if (r < 0)
		return l.error ? l.error : r;
	return l.waiting;
}

bool store_catch_up(struct store *s, const char *path, const struct stat *st)
{
	uint32_t h = hash_str(path);
	uint32_t i = find_entry(s, path, h);
	struct known *k = find_known(s, path, h);
	if (k)
		k->found = true;
	if (i != NONE) {
		s->e[i].found = true;
		return false;
	}
	return !k || differs(k, st);
}

size_t store_forget_unfound(struct store *s, bool (*wanted)(void *ctx, const char *path),
			    void *ctx)
{
	size_t n = 0;
	for (uint32_t i = 0; i < s->e_len; i++) {
		struct entry *e = &s->e[i];
		if (!e->path)
			continue;
		/* a row is data, not an order: a path the rule does not see
		 * now is not run on, whatever the database says. A broker's
		 * message named a remote one, which the walk cannot find: it
		 * waits still if the rule takes it now. */
		if (e->loaded && !e->found &&
		    (e->remote ? !wanted(ctx, e->path) :
		     (!(e->events & (IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF)) ||
		      !wanted(ctx, e->path)))) {
			char *path = strdup(e->path);
			if (!path)
				continue;
			forget(s, path, true, NULL); /* and what is known of it */
			free(path);
			n++;
			continue;
		}
		e->found = e->loaded = false;
	}
	for (uint32_t i = 0; i < s->known.len; i++) {
		struct known *k = known_at(s, i);
		if (!k->k.path)
			continue;
		if (k->found || k->busy || find_entry(s, k->k.path, k->k.hash) != NONE) {
			k->found = false;
			continue;
		}
		/* a remote path handled: known while its file is there (a
		 * message sent again is then not run again) */
		struct stat st;
		if (k->remote && lstat(k->k.path, &st) == 0 && wanted(ctx, k->k.path))
			continue;
		char *path = strdup(k->k.path);
		if (!path)
			continue;
		uint32_t h = k->k.hash;
		known_remove(s, k);
		jsync(s, path, h);
		free(path);
		n++;
	}
	return n;
}

struct requests {
	struct store *s;
	uint64_t now;
	long n;
	int error;
	bool (*wanted)(void *ctx, const char *path);
	void *ctx;
};

static int request_row(void *ctx, const struct jrow *row)
{
	struct requests *q = ctx;
	struct store *s = q->s;
	char *path = strndup(row->path, row->path_len);
	if (!path)
		return q->error = -ENOMEM;
	uint32_t h = hash_str(path);
	struct known *k = find_known(s, path, h);
	if (!k || !q->wanted(q->ctx, path)) {
		/* not a path this rule knows, or sees now: the request is
		 * dropped, and the row is what the store says */
		if (!k)
			journal_forget(s->j, s->rule, path, strlen(path));
		else
			jsync(s, path, h);
		free(path);
		return 0;
	}
	int r = -ENOMEM;
	if (k) {
		if (k->failed)
			s->n_failed--;
		k->failed = false;
		k->failures = 0;
		k->retry_at = 0;
		k->events = k->events ? k->events : row->events;
		/* queued at once: it settled long ago; the row's request
		 * mark goes when it is written back */
		r = touch(s, path, k->events, NULL, q->now, q->now, false, k->remote);
		if (r == 0) {
			jsync(s, path, h);
			q->n++;
		}
	}
	free(path);
	return r < 0 ? (q->error = r) : 0;
}

long store_requests(struct store *s, uint64_t now,
		    bool (*wanted)(void *ctx, const char *path), void *ctx)
{
	if (!s->j)
		return 0;
	struct requests q = {.s = s, .now = now, .wanted = wanted, .ctx = ctx};
	int r = journal_each(s->j, s->rule, 1u << J_WAITING, true, request_row, &q);
	if (r < 0)
		return q.error ? q.error : r;
	return q.n;
}
