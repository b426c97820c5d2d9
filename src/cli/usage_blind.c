/* vigil usage: the mounts where inotify is blind to other machines'
 * changes (vigil_fstype_blind()), with the inotify watches held there,
 * which see only what this machine does, and the directories vigil polls
 * there, from the census each vigil keeps in its epoll set (usage_scan.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"
#include "vigil.h"

/* The blind mount for DEV (inotify's) or MNT_ID (a census's), added to R
 * if new; NULL when it is not a blind mount, or on no memory. */
static struct usage_blind *blind_for(struct usage_report *r, const struct usage_mount *mounts,
				     size_t n_mounts, dev_t dev, int mnt_id)
{
	const struct usage_mount *m = NULL;
	for (size_t i = 0; i < n_mounts && !m; i++)
		if (mnt_id >= 0 ? mounts[i].id == (unsigned long)mnt_id : mounts[i].dev == dev)
			m = &mounts[i];
	if (!m || !vigil_fstype_blind(m->fstype))
		return NULL;
	for (size_t i = 0; i < r->n_blind; i++)
		if (strcmp(r->blind[i].point, m->point) == 0)
			return &r->blind[i];
	struct usage_blind *g = realloc(r->blind, (r->n_blind + 1) * sizeof(*g));
	if (!g)
		return NULL;
	r->blind = g;
	struct usage_blind *b = &g[r->n_blind];
	*b = (struct usage_blind){.point = strdup(m->point), .fstype = strdup(m->fstype),
				  .source = strdup(m->source)};
	if (!b->point || !b->fstype || !b->source) {
		free(b->point);
		free(b->fstype);
		free(b->source);
		return NULL;
	}
	r->n_blind++;
	return b;
}

int usage_blind_mounts(struct usage_report *r)
{
	struct usage_mount *mounts;
	size_t n_mounts;
	usage_read_mounts(&mounts, &n_mounts);
	for (size_t k = 0; k < r->n_shown; k++) {
		const struct usage_proc *p = r->shown[k];
		for (size_t i = 0; i < p->n_inst; i++) {
			const struct usage_instance *in = &p->inst[i];
			if (in->canon_pid != p->pid || in->canon_fd != in->fd)
				continue; /* counted under its other holder */
			for (size_t j = 0; j < in->n_fs; j++) {
				struct usage_blind *b = blind_for(r, mounts, n_mounts, in->fs[j].dev, -1);
				if (b) {
					b->watches += in->fs[j].n;
					b->procs += b->last != k + 1;
					b->last = k + 1;
				}
			}
		}
		for (size_t j = 0; j < p->n_polled; j++) {
			struct usage_blind *b = blind_for(r, mounts, n_mounts, 0, p->polled[j].mnt_id);
			if (b) {
				b->polled += p->polled[j].n;
				b->procs += b->last != k + 1;
				b->last = k + 1;
			}
		}
	}
	usage_mounts_free(mounts, n_mounts);
	return 0;
}

void usage_blind_free(struct usage_report *r)
{
	for (size_t i = 0; i < r->n_blind; i++) {
		free(r->blind[i].point);
		free(r->blind[i].fstype);
		free(r->blind[i].source);
	}
	free(r->blind);
	r->blind = NULL;
	r->n_blind = 0;
}
