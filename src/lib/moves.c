#include "moves.h"

#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void move_half_free(struct move_half *h)
{
	free(h->dir);
	free(h->name);
	free(h->path);
	h->dir = h->name = h->path = NULL;
}

int moves_add(struct moves *m, struct move_half *h)
{
	if (array_grow((void **)&m->v, &m->cap, m->len, sizeof(*m->v), 8) < 0) {
		move_half_free(h);
		return -ENOMEM;
	}
	m->v[m->len++] = *h;
	return 0;
}

/* Keeps the order of arrival, so the oldest half is always first. */
static void take_at(struct moves *m, size_t i, struct move_half *ret)
{
	*ret = m->v[i];
	memmove(&m->v[i], &m->v[i + 1], (m->len - i - 1) * sizeof(m->v[0]));
	m->len--;
}

bool moves_take(struct moves *m, uint32_t cookie, struct move_half *ret)
{
	for (size_t i = 0; i < m->len; i++) {
		if (m->v[i].cookie == cookie) {
			take_at(m, i, ret);
			return true;
		}
	}
	return false;
}

/* The half holding the directory NODE, or NULL. */
static struct move_half *holder(const struct moves *m, uint32_t node, uint32_t serial)
{
	for (size_t i = 0; i < m->len; i++)
		if (m->v[i].node == node && m->v[i].node_serial == serial)
			return &m->v[i];
	return NULL;
}

bool moves_holds(const struct moves *m, uint32_t node, uint32_t serial)
{
	return holder(m, node, serial) != NULL;
}

bool moves_release_node(struct moves *m, uint32_t node, uint32_t serial)
{
	struct move_half *h = holder(m, node, serial);
	if (h)
		h->node = UINT32_MAX; /* NODE_NONE */
	return h != NULL;
}

void moves_arm(struct moves *m, uint64_t deadline)
{
	for (size_t i = 0; i < m->len; i++)
		if (!m->v[i].deadline)
			m->v[i].deadline = deadline;
}

bool moves_take_expired(struct moves *m, uint64_t now, struct move_half *ret)
{
	for (size_t i = 0; i < m->len; i++) {
		if (m->v[i].deadline && m->v[i].deadline <= now) {
			take_at(m, i, ret);
			return true;
		}
	}
	return false;
}

uint64_t moves_next_deadline(const struct moves *m)
{
	uint64_t best = 0;
	for (size_t i = 0; i < m->len; i++)
		if (m->v[i].deadline && (!best || m->v[i].deadline < best))
			best = m->v[i].deadline;
	return best;
}

void moves_fini(struct moves *m)
{
	for (size_t i = 0; i < m->len; i++)
		move_half_free(&m->v[i]);
	free(m->v);
	memset(m, 0, sizeof(*m));
}
