/* A random event for the writers' targets, and the output they write. */
#ifndef VIGIL_FUZZ_EVENT_H
#define VIGIL_FUZZ_EVENT_H

#include "format.h"
#include "fuzz.h"

struct fuzz_event {
	struct vigil_event ev;
	char *dir, *name, *path, *from;
};

/* dir, name and from (when FROM is set) as fuzz_bytes(), then
 * mask, cookie, flags and time; path is dir + name. */
static inline void fuzz_event_take(struct fuzz_in *in, bool from, struct fuzz_event *e)
{
	size_t dl, nl, fl = 0;
	e->dir = fuzz_bytes(in, &dl);
	e->name = fuzz_bytes(in, &nl);
	e->from = from ? fuzz_bytes(in, &fl) : NULL;
	e->path = malloc(dl + nl + 1);
	if (!e->path)
		abort();
	memcpy(e->path, e->dir, dl);
	memcpy(e->path + dl, e->name, nl + 1);
	e->ev = (struct vigil_event){
		.path = e->path, .dir = e->dir, .name = e->name,
		.path_len = dl + nl, .dir_len = dl, .name_len = nl,
		.from_path = e->from, .from_path_len = fl,
	};
	e->ev.mask = fuzz_u32(in);
	e->ev.cookie = fuzz_u32(in);
	e->ev.flags = fuzz_u8(in) & (VIGIL_EVENT_SYNTHETIC | VIGIL_EVENT_PAIRED |
				     VIGIL_EVENT_OVERFLOW | VIGIL_EVENT_ERROR);
	/* a time as CLOCK_REALTIME gives them: from 1970 to 2106 */
	e->ev.time.tv_sec = (time_t)fuzz_u32(in);
	e->ev.time.tv_nsec = (long)(fuzz_u32(in) % 1000000000u);
}

static inline void fuzz_event_free(struct fuzz_event *e)
{
	free(e->dir);
	free(e->name);
	free(e->path);
	free(e->from);
}

/* What OUT writes for EV, in a buffer of *LEN bytes (NUL-terminated). */
static inline char *fuzz_event_write(struct out *o, const struct vigil_event *ev, size_t *len)
{
	char *text = NULL;
	o->f = open_memstream(&text, len);
	if (!o->f)
		abort();
	out_event(o, ev);
	if (fclose(o->f) != 0)
		abort();
	return text;
}

#endif
