/* vigil usage: the path of each watched inode.
 *
 * The kernel keeps no path for a watch, only the inode, and, in fdinfo,
 * a file handle for it. With CAP_DAC_READ_SEARCH, open_by_handle_at() on a
 * mount of that filesystem opens the inode itself and /proc/self/fd says
 * where it is now, exactly. Without it, the only way is to look: walk the
 * directories given with --search and compare inode numbers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "usage.h"

struct finder {
	struct usage_scan *s;
	struct usage_mount *mounts;
	size_t n_mounts;
	int *mount_fds;       /* per mount: -1 not opened yet, -2 unusable */
	const struct usage_watch **first; /* per target: a watch of it */
	uint32_t *slots;      /* (dev, ino) -> target index + 1 */
	size_t n_slots;
	size_t left;          /* targets not found yet */
	bool all_fs;
	char *path;           /* the walk's current path */
	size_t path_len, path_cap;
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw" */
void usage_read_mounts(struct usage_mount **ret, size_t *ret_n)
{
	FILE *in = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0, n_cap = 0, n = 0;
	struct usage_mount *v = NULL;
	*ret = NULL;
	*ret_n = 0;
	if (!in)
		return;
	while (getline(&line, &cap, in) > 0) {
		unsigned long id, parent;
		unsigned maj, min;
		int root_at, root_end, point_at, point_end, type_at, type_end, src_at, src_end;
		if (sscanf(line, "%lu %lu %u:%u %n%*s%n %n%*s%n", &id, &parent, &maj, &min,
			   &root_at, &root_end, &point_at, &point_end) != 4)
			continue;
		char *sep = strstr(line + point_end, " - ");
		if (!sep)
			continue;
		type_at = type_end = src_at = src_end = -1;
		sscanf(sep + 3, "%n%*s%n %n%*s%n", &type_at, &type_end, &src_at, &src_end);
		if (type_end < 0)
			continue;
		if (n == n_cap) {
			size_t ncap = n_cap ? n_cap * 2 : 32;
			void *grown = realloc(v, ncap * sizeof(*v));
			if (!grown)
				break;
			v = grown;
			n_cap = ncap;
		}
		struct usage_mount *m = &v[n];
		line[root_end] = line[point_end] = '\0';
		sep[3 + type_end] = '\0';
		if (src_end >= 0)
			sep[3 + src_end] = '\0';
		unescape(line + root_at);
		unescape(line + point_at);
		if (src_end >= 0)
			unescape(sep + 3 + src_at);
		*m = (struct usage_mount){.id = id, .dev = makedev(maj, min),
					  .whole = strcmp(line + root_at, "/") == 0,
					  .point = strdup(line + point_at),
					  .source = strdup(src_end >= 0 ? sep + 3 + src_at : "")};
		if (!m->point || !m->source) {
			free(m->point);
			free(m->source);
			break;
		}
		snprintf(m->fstype, sizeof(m->fstype), "%s", sep + 3 + type_at);
		n++;
	}
	free(line);
	fclose(in);
	*ret = v;
	*ret_n = n;
}

void usage_mounts_free(struct usage_mount *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].point);
		free(v[i].source);
	}
	free(v);
}

static const struct usage_mount *mount_by_id(const struct finder *f, unsigned long id)
{
	for (size_t i = 0; i < f->n_mounts; i++)
		if (f->mounts[i].id == id)
			return &f->mounts[i];
	return NULL;
}

/* The mount an open fd is on, and whether that is known. */
static bool fd_mount(int fd, struct statx *stx)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_MNT_ID, stx) < 0)
		return false;
	return stx->stx_mask & STATX_MNT_ID;
}

/* A descriptor of a mount of filesystem DEV, for open_by_handle_at(): one
 * that mounts the whole filesystem if there is one, since the handle's
 * inode may lie outside a bind-mounted directory. -1 when none is here
 * (the filesystem is mounted only in another mount namespace). */
static int mount_fd_for(struct finder *f, dev_t dev)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < f->n_mounts; i++) {
			struct usage_mount *m = &f->mounts[i];
			if (m->dev != dev || m->whole != (pass == 0) || f->mount_fds[i] == -2)
				continue;
			if (f->mount_fds[i] >= 0)
				return f->mount_fds[i];
			/* (not O_PATH: open_by_handle_at() refuses those) */
			int fd = open(m->point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			struct statx stx;
			/* over-mounted: the path leads to another mount now */
			if (fd >= 0 && fd_mount(fd, &stx) && stx.stx_mnt_id != m->id) {
				close(fd);
				fd = -1;
			}
			f->mount_fds[i] = fd >= 0 ? fd : -2;
			if (fd >= 0)
				return fd;
		}
	}
	return -1;
}

static size_t slot_of(const struct finder *f, dev_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)dev * 0xc2b2ae3d27d4eb4full);
	return (size_t)(h ^ h >> 29) & (f->n_slots - 1);
}

static struct usage_target *lookup(const struct finder *f, dev_t dev, uint64_t ino)
{
	for (size_t i = slot_of(f, dev, ino);; i = (i + 1) & (f->n_slots - 1)) {
		uint32_t t = f->slots[i];
		if (!t)
			return NULL;
		struct usage_target *x = &f->s->targets[t - 1];
		if (x->dev == dev && x->ino == ino)
			return x;
	}
}

/* One target per watched inode, however many watches it has. */
static int collect_targets(struct finder *f)
{
	struct usage_scan *s = f->s;
	size_t n = 0;
	for (size_t i = 0; i < s->n_procs; i++)
		for (size_t j = 0; j < s->procs[i].n_inst; j++)
			if (s->procs[i].shown)
				n += s->procs[i].inst[j].n_watches;
	for (f->n_slots = 16; f->n_slots < 2 * n; f->n_slots *= 2)
		;
	f->slots = calloc(f->n_slots, sizeof(*f->slots));
	s->targets = malloc((n ? n : 1) * sizeof(*s->targets));
	f->first = malloc((n ? n : 1) * sizeof(*f->first));
	if (!f->slots || !s->targets || !f->first)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_procs; i++) {
		struct usage_proc *p = &s->procs[i];
		for (size_t j = 0; j < p->n_inst && p->shown; j++) {
			for (size_t k = 0; k < p->inst[j].n_watches; k++) {
				struct usage_watch *w = &p->inst[j].watches[k];
				struct usage_target *t = lookup(f, w->dev, w->ino);
				if (!t) {
					size_t slot = slot_of(f, w->dev, w->ino);
					while (f->slots[slot])
						slot = (slot + 1) & (f->n_slots - 1);
					t = &s->targets[s->n_targets];
					*t = (struct usage_target){.dev = w->dev, .ino = w->ino};
					f->first[s->n_targets] = w;
					f->slots[slot] = (uint32_t)++s->n_targets;
				} else if (!f->first[t - s->targets]->handle) {
					f->first[t - s->targets] = w;
				}
				w->target = (size_t)(t - s->targets);
			}
		}
	}
	f->left = s->n_targets;
	return 0;
}

/* Open target T by its handle and ask /proc/self/fd where it is. Returns
 * false once the kernel says handles are not ours to open (EPERM). */
static bool by_handle(struct finder *f, struct usage_target *t, const struct usage_watch *w)
{
	int mfd = mount_fd_for(f, t->dev);
	if (mfd < 0)
		return true;
	struct file_handle *fh = malloc(sizeof(*fh) + w->handle_bytes);
	if (!fh)
		return true;
	fh->handle_bytes = w->handle_bytes;
	fh->handle_type = w->handle_type;
	memcpy(fh->f_handle, w->handle, w->handle_bytes);
	int fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	int err = errno;
	free(fh);
	if (fd < 0)
		return err != EPERM;

	struct stat st, now;
	char link[32], path[PATH_MAX];
	ssize_t n = -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) == 0 && st.st_ino == t->ino)
		n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0 || path[0] != '/')
		return true;
	path[n] = '\0';
	static const char gone[] = " (deleted)";
	size_t glen = sizeof(gone) - 1;
	if (st.st_nlink == 0) {
		if ((size_t)n > glen && strcmp(path + n - glen, gone) == 0)
			path[n - glen] = '\0';
		t->deleted = true;
	} else if (lstat(path, &now) < 0 || now.st_ino != t->ino) {
		/* a dentry not connected to the tree (no path), or moved as
		 * we looked: a search may still find it */
		return true;
	}
	if ((t->path = strdup(path))) {
		t->found = USAGE_FOUND_HANDLE;
		f->left--;
	}
	return true;
}

static bool path_push(struct finder *f, const char *name, size_t *ret_old)
{
	size_t n = strlen(name), need = f->path_len + 1 + n + 1;
	if (need > f->path_cap) {
		size_t cap = f->path_cap ? f->path_cap : 256;
		while (cap < need)
			cap *= 2;
		char *grown = realloc(f->path, cap);
		if (!grown)
			return false;
		f->path = grown;
		f->path_cap = cap;
	}
	*ret_old = f->path_len;
	if (f->path_len == 0 || f->path[f->path_len - 1] != '/')
		f->path[f->path_len++] = '/';
	memcpy(f->path + f->path_len, name, n + 1);
	f->path_len += n;
	return true;
}

static void path_pop(struct finder *f, size_t old)
{
	f->path_len = old;
	f->path[old] = '\0';
}

static void found(struct finder *f, dev_t dev, uint64_t ino)
{
	struct usage_target *t = lookup(f, dev, ino);
	if (t && !t->path && (t->path = strdup(f->path))) {
		t->found = USAGE_FOUND_SEARCH;
		f->left--;
	}
}

/* Where the filesystem a walk is on: its device as fdinfo has it (s_dev,
 * which is not st_dev on btrfs) and whether readdir's d_ino can be trusted
 * (overlayfs may report other numbers than stat). */
struct fs_here {
	uint64_t mnt_id;       /* 0 when statx cannot tell */
	dev_t dev;
	const char *fstype;
	bool stat_each;
};

/* The filesystem directory FD is on (PARENT's, when on the same mount),
 * and the directory's inode number. */
static bool fs_of(const struct finder *f, int fd, const struct fs_here *parent,
		  struct fs_here *ret, uint64_t *ret_ino)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx) < 0)
		return false;
	*ret_ino = stx.stx_ino;
	uint64_t id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
	if (parent && id && id == parent->mnt_id) {
		*ret = *parent;
		return true;
	}
	const struct usage_mount *m = id ? mount_by_id(f, id) : NULL;
	*ret = (struct fs_here){.mnt_id = id, .fstype = m ? m->fstype : "",
				.dev = m ? m->dev : makedev(stx.stx_dev_major, stx.stx_dev_minor),
				.stat_each = m && strcmp(m->fstype, "overlay") == 0};
	return true;
}

static void walk(struct finder *f, int dfd, const struct fs_here *here)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while (f->left > 0 && (de = readdir(d))) {
		const char *name = de->d_name;
		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		unsigned char type = de->d_type;
		uint64_t ino = de->d_ino;
		if (type == DT_UNKNOWN || (here->stat_each && type != DT_DIR)) {
			struct stat st;
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
			ino = st.st_ino;
		}
		size_t old;
		if (!path_push(f, name, &old))
			break;
		if (type != DT_DIR) {
			found(f, here->dev, ino);
			path_pop(f, old);
			continue;
		}
		int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct fs_here there;
		uint64_t dir_ino;
		bool enter = sub >= 0 && fs_of(f, sub, here, &there, &dir_ino);
		if (enter && there.dev != here->dev) {
			/* another filesystem is mounted here (a bind mount of
			 * this one is walked like any directory) */
			enter = f->all_fs && strcmp(there.fstype, "proc") != 0 &&
				strcmp(there.fstype, "sysfs") != 0 &&
				strcmp(there.fstype, "autofs") != 0;
		}
		if (enter) {
			found(f, there.dev, dir_ino);
			walk(f, sub, &there);
		} else if (sub >= 0) {
			close(sub);
		} else {
			found(f, here->dev, ino); /* a directory we may not enter */
		}
		path_pop(f, old);
	}
	closedir(d);
}

static void search(struct finder *f, const char *dir)
{
	char *abs = realpath(dir, NULL);
	int fd = abs ? open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	struct fs_here here;
	uint64_t ino;
	size_t len = abs ? strlen(abs) : 0;
	if (fd < 0 || !fs_of(f, fd, NULL, &here, &ino))
		goto out;
	/* on its own filesystem, a walk can only find what lies there */
	bool useful = f->all_fs;
	for (size_t i = 0; i < f->s->n_targets && !useful; i++)
		useful = !f->s->targets[i].path && f->s->targets[i].dev == here.dev;
	if (!useful)
		goto out;
	if (len + 1 > f->path_cap) {
		char *grown = realloc(f->path, len + 256);
		if (!grown)
			goto out;
		f->path = grown;
		f->path_cap = len + 256;
	}
	memcpy(f->path, abs, len + 1);
	f->path_len = len;
	found(f, here.dev, ino);
	walk(f, fd, &here);
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(abs);
}

void usage_find_paths(struct usage_scan *s, char *const *search_dirs, size_t n_search,
		      bool all_fs)
{
	struct finder f = {.s = s, .all_fs = all_fs};
	if (collect_targets(&f) < 0)
		goto out;
	usage_read_mounts(&f.mounts, &f.n_mounts);
	f.mount_fds = malloc((f.n_mounts ? f.n_mounts : 1) * sizeof(*f.mount_fds));
	if (!f.mount_fds)
		goto out;
	for (size_t i = 0; i < f.n_mounts; i++)
		f.mount_fds[i] = -1;
	bool handles = true;
	for (size_t i = 0; i < s->n_targets && handles; i++)
		if (f.first[i]->handle)
			handles = by_handle(&f, &s->targets[i], f.first[i]);
	for (size_t i = 0; i < n_search && f.left > 0; i++)
		search(&f, search_dirs[i]);
out:
	for (size_t i = 0; i < f.n_mounts; i++)
		if (f.mount_fds && f.mount_fds[i] >= 0)
			close(f.mount_fds[i]);
	usage_mounts_free(f.mounts, f.n_mounts);
	free(f.mount_fds);
	free(f.first);
	free(f.slots);
	free(f.path);
}
