/* Building delivered events: paths, filters, and the queue they wait in. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

uint32_t engine_root_index(const struct vigil *v, uint32_t node)
{
	uint32_t top = tree_root_of(&v->tree, node);
	return top == NODE_NONE ? NODE_NONE : tree_node(&v->tree, top)->root;
}

int engine_node_dir(struct vigil *v, uint32_t node, const char **ret_dir,
		    size_t *ret_len)
{
	struct buf *b = &v->dir_cache;
	if (v->dir_cache_node != node || v->dir_cache_gen != v->tree_gen || !b->data) {
		buf_clear(b);
		int r = tree_path(&v->tree, node, b);
		if (r < 0)
			return r;
		uint32_t ri = engine_root_index(v, node);
		bool is_dir = ri == NODE_NONE || v->roots[ri].is_dir;
		if (is_dir && !(b->len && b->data[b->len - 1] == '/') &&
		    (r = buf_putc(b, '/')) < 0)
			return r;
		v->dir_cache_node = node;
		v->dir_cache_gen = v->tree_gen;
	}
	*ret_dir = b->data;
	*ret_len = b->len;
	return 0;
}

int engine_entry_path(struct vigil *v, uint32_t node, const char *name,
		      size_t len, struct buf *out)
{
	const char *dir;
	size_t dir_len;
	int r = engine_node_dir(v, node, &dir, &dir_len);
	if (r < 0)
		return r;
	buf_clear(out);
	if ((r = buf_append(out, dir, dir_len)) < 0)
		return r;
	return buf_append(out, name, len);
}

static int push_strings(struct buf *t, const char *dir, size_t dir_len,
			const char *name, size_t name_len, size_t *ret_dir,
			size_t *ret_name, size_t *ret_path, size_t *ret_path_len)
{
	int r = buf_reserve(t, dir_len + 1 + name_len + 1 + dir_len + name_len + 1);
	if (r < 0)
		return r;
	*ret_dir = t->len;
	buf_append(t, dir, dir_len);
	buf_putc(t, '\0');
	*ret_name = t->len;
	buf_append(t, name, name_len);
	buf_putc(t, '\0');
	*ret_path = t->len;
	size_t path_len = dir_len + name_len;
	buf_append(t, dir, dir_len);
	buf_append(t, name, name_len);
	/* the watched directory itself: its path without the trailing '/' */
	if (!name_len && path_len > 1 && dir[dir_len - 1] == '/') {
		path_len--;
		t->len--;
	}
	buf_putc(t, '\0');
	*ret_path_len = path_len;
	return 0;
}

int engine_emit(struct vigil *v, const char *dir, size_t dir_len,
		const char *name, size_t name_len, uint32_t mask,
		uint32_t cookie, uint32_t flags, int error,
		const struct move_half *half)
{
	if (v->mute && !(flags & (VIGIL_EVENT_OVERFLOW | VIGIL_EVENT_ERROR)))
		return 0;
	if (filter_active(&v->filter) && !(flags & (VIGIL_EVENT_OVERFLOW | VIGIL_EVENT_ERROR))) {
		struct buf *s = &v->scratch;
		buf_clear(s);
		int r;
		if ((r = buf_append(s, dir, dir_len)) < 0 || (r = buf_append(s, name, name_len)) < 0)
			return r;
		if (!filter_delivers(&v->filter, s->data, s->len))
			return 0;
	}
	struct equeue *q = &v->q;
	if (q->head + q->len == q->cap) {
		if (q->head) {
			memmove(q->v, q->v + q->head, q->len * sizeof(q->v[0]));
			q->head = 0;
		} else if (array_grow((void **)&q->v, &q->cap, q->len, sizeof(*q->v), 64) < 0) {
			return -ENOMEM;
		}
	}
	struct qevent *e = &q->v[q->head + q->len];
	memset(e, 0, sizeof(*e));
	int r = push_strings(&q->text, dir, dir_len, name, name_len, &e->dir,
			     &e->name, &e->path, &e->path_len);
	if (r < 0)
		return r;
	e->dir_len = dir_len;
	e->name_len = name_len;
	if (half) {
		r = push_strings(&q->text, half->dir, half->dir_len, half->name,
				 half->name_len, &e->from_dir, &e->from_name,
				 &e->from_path, &e->from_path_len);
		if (r < 0)
			return r;
		e->has_from = true;
	}
	e->comm = SIZE_MAX;
	if (v->cur_pid > 0 && !(flags & (VIGIL_EVENT_SYNTHETIC | VIGIL_EVENT_OVERFLOW |
					 VIGIL_EVENT_ERROR))) {
		e->pid = v->cur_pid;
		const char *comm = v->src.ops->comm ? v->src.ops->comm(&v->src, e->pid) : NULL;
		if (comm) {
			e->comm = q->text.len;
			if ((r = buf_append(&q->text, comm, strlen(comm) + 1)) < 0)
				return r;
		}
	}
	e->mask = mask;
	e->cookie = cookie;
	e->flags = flags | (half ? VIGIL_EVENT_PAIRED : 0);
	e->error = error;
	e->time = v->read_time;
	q->len++;
	return 0;
}

int engine_emit_at(struct vigil *v, uint32_t node, const char *name, size_t len,
		   uint32_t mask, uint32_t cookie, uint32_t flags)
{
	const char *dir;
	size_t dir_len;
	int r = engine_node_dir(v, node, &dir, &dir_len);
	if (r < 0)
		return r;
	return engine_emit(v, dir, dir_len, name, len, mask, cookie, flags, 0, NULL);
}

int engine_emit_error(struct vigil *v, const char *path, size_t len, int error)
{
	return engine_emit(v, path, len, "", 0, 0, 0, VIGIL_EVENT_ERROR, error, NULL);
}

int engine_emit_left_out(struct vigil *v, const char *path, size_t len,
			 size_t dirs)
{
	int r = engine_emit_error(v, path, len, -ENOSPC);
	if (r == 0)
		v->q.v[v->q.head + v->q.len - 1].dirs = dirs;
	return r;
}

void equeue_fini(struct equeue *q)
{
	free(q->v);
	buf_free(&q->text);
	memset(q, 0, sizeof(*q));
}
