/* What read() of an inotify fd returns: any bytes, decoded by
 * source_inotify_parse() record by record, then the same records fed to
 * the engine as what the kernel said next, over a small real tree watched
 * recursively (the engine checks what it hears against the disk). What it
 * delivers must be well-formed events.
 * Input: a flags byte (see check_engine()), then the bytes read. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "fuzz.h"

static char root[64];

static const char *const dirs[] = {"a", "a/c", "b"};
static const char *const files[] = {"a/f", "g"};

static void remove_tree(void)
{
	char p[128];
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", root, files[i]);
		unlink(p);
	}
	for (size_t i = 3; i-- > 0;) {
		snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
		rmdir(p);
	}
	rmdir(root);
}

/* The tree: root/{a/{c/,f},b/,g}; wds 1.. in listing order. Removed at
 * exit (a crash leaves it, as the reproducer may want it). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/vigil-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (strlen(root) >= sizeof(root) - 1 || !mkdtemp(root))
		abort();
	atexit(remove_tree);
	char p[128];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
		if (mkdir(p, 0700) < 0)
			abort();
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", root, files[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			abort();
		close(fd);
	}
	return 0;
}

/* The decoder alone: each record within the bytes, its name NUL-ended
 * inside it; stops at the first malformed one. */
static void check_parse(const uint8_t *data, size_t size)
{
	struct source_record rec;
	size_t off = 0;
	for (;;) {
		memset(&rec, 0xa5, sizeof(rec));
		int r = source_inotify_parse(data + off, size - off, &rec);
		if (r == 0) {
			fuzz_assert(off == size, "0 with %zu bytes left", size - off);
			return;
		}
		if (r < 0) {
			fuzz_assert(r == -EBADMSG, "%d at %zu", r, off);
			return;
		}
		fuzz_assert(r == 1, "%d", r);
		fuzz_assert(rec.size >= sizeof(struct inotify_event) && rec.size <= size - off,
			    "record of %zu bytes at %zu of %zu", rec.size, off, size);
		if (rec.name_len) {
			const char *base = (const char *)data + off + sizeof(struct inotify_event);
			fuzz_assert(rec.name == base && rec.name_len < rec.size - sizeof(struct inotify_event) &&
				    strlen(rec.name) == rec.name_len, "name at %zu", off);
		} else {
			fuzz_assert(rec.name && !rec.name[0], "empty name at %zu", off);
		}
		off += rec.size;
	}
}

/* The engine's source: the kernel's side of inotify played here, so that
 * a run costs no inotify instance (closing one waits for an RCU grace
 * period: 100 runs a second at most). A watch is known by the object's
 * device and inode, and adding one twice gives the same wd, as the kernel
 * does; what read() returns is the input. */
struct fake_watch {
	dev_t dev;
	ino_t ino;
	int wd;
};
static struct fake_watch watches[256];
static size_t n_watches;
static int next_wd;
static char *feed;
static size_t feed_len;

int __wrap_inotify_init1(int flags);
int __wrap_inotify_init1(int flags)
{
	(void)flags;
	return open("/dev/null", O_RDONLY | O_CLOEXEC); /* something to poll */
}

static int fake_add(const struct stat *st, uint32_t mask, int *ret_wd)
{
	if ((mask & IN_ONLYDIR) && !S_ISDIR(st->st_mode))
		return -ENOTDIR;
	for (size_t i = 0; i < n_watches; i++) {
		if (watches[i].dev == st->st_dev && watches[i].ino == st->st_ino) {
			*ret_wd = watches[i].wd;
			return 0;
		}
	}
	if (n_watches == sizeof(watches) / sizeof(*watches))
		return -ENOSPC; /* the user's watch limit */
	watches[n_watches++] = (struct fake_watch){st->st_dev, st->st_ino, ++next_wd};
	*ret_wd = next_wd;
	return 0;
}

static int fake_add_fd(struct source *s, int fd, uint32_t mask, int *ret_wd)
{
	(void)s;
	struct stat st;
	return fstat(fd, &st) < 0 ? -errno : fake_add(&st, mask, ret_wd);
}

static int fake_add_at(struct source *s, int dirfd, const char *name, uint32_t mask,
		       int *ret_wd)
{
	(void)s;
	struct stat st;
	int flags = (mask & IN_DONT_FOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
	return fstatat(dirfd, name, &st, flags) < 0 ? -errno : fake_add(&st, mask, ret_wd);
}

static int fake_add_path(struct source *s, const char *path, uint32_t mask, int *ret_wd)
{
	return fake_add_at(s, AT_FDCWD, path, mask, ret_wd);
}

static int fake_remove(struct source *s, int wd)
{
	(void)s;
	for (size_t i = 0; i < n_watches; i++)
		if (watches[i].wd == wd)
			watches[i] = watches[--n_watches];
	return 0;
}

static ssize_t fake_read(struct source *s, void *buf, size_t size)
{
	(void)s;
	if (!feed_len)
		return -EAGAIN;
	size_t n = feed_len < size ? feed_len : size;
	memcpy(buf, feed, n);
	feed += n;
	feed_len -= n;
	return (ssize_t)n;
}

static int fake_pending(struct source *s, size_t *ret_bytes)
{
	(void)s;
	*ret_bytes = feed_len;
	return 0;
}

static void fake_close(struct source *s)
{
	close(s->fd);
	s->fd = -1;
}

static const struct source_ops fake_ops = {
	.name = "fuzz",
	.add_fd = fake_add_fd,
	.add_at = fake_add_at,
	.add_path = fake_add_path,
	.remove = fake_remove,
	.read = fake_read,
	.pending = fake_pending,
	.parse = source_inotify_parse,
	.close = fake_close,
};

/* The kernel's names are one component: no '/', not "." or "..".
 * Others would make the engine walk out of the tree. */
static void kernel_names(char *buf, size_t size)
{
	struct source_record rec;
	for (size_t off = 0; source_inotify_parse(buf + off, size - off, &rec) > 0; off += rec.size) {
		char *name = (char *)rec.name;
		for (size_t i = 0; i < rec.name_len; i++)
			if (name[i] == '/')
				name[i] = '_';
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			name[0] = '_';
	}
}

static void check_event(const struct vigil_event *ev)
{
	if (getenv("FUZZ_VERBOSE")) /* to see what a reproducer does */
		fprintf(stderr, "event mask %#x flags %#x path '%s' dir '%s' name '%s' from '%s' ('%s' '%s')\n",
			ev->mask, ev->flags, ev->path, ev->dir, ev->name,
			ev->from_path ? ev->from_path : "", ev->from_dir ? ev->from_dir : "",
			ev->from_name ? ev->from_name : "");
	fuzz_assert(strlen(ev->path) == ev->path_len && strlen(ev->dir) == ev->dir_len &&
		    strlen(ev->name) == ev->name_len, "lengths of '%s' '%s' '%s'",
		    ev->path, ev->dir, ev->name);
	if (ev->flags & (VIGIL_EVENT_OVERFLOW | VIGIL_EVENT_ERROR))
		return;
	fuzz_assert(strncmp(ev->path, root, strlen(root)) == 0, "'%s' outside the tree", ev->path);
	if (ev->name_len)
		fuzz_assert(ev->path_len == ev->dir_len + ev->name_len &&
			    memcmp(ev->path, ev->dir, ev->dir_len) == 0 &&
			    memcmp(ev->path + ev->dir_len, ev->name, ev->name_len) == 0,
			    "path '%s' is not dir '%s' + name '%s'", ev->path, ev->dir, ev->name);
	if (ev->from_path)
		fuzz_assert(strlen(ev->from_path) == ev->from_path_len &&
			    (ev->flags & VIGIL_EVENT_PAIRED), "from '%s'", ev->from_path);
}

/* FLAGS: 1 pair moves, 2 an exclude filter, 4 an include filter. */
static void check_engine(const uint8_t *data, size_t size, unsigned flags)
{
	vigil *v;
	if (vigil_new(flags & 1 ? VIGIL_PAIR_MOVES : 0, &v) < 0)
		return; /* at the instance limit: nothing to learn */
	v->src.ops = &fake_ops;
	n_watches = 0;
	next_wd = 0;
	/* filters: directories excluded are not watched, and the engine asks
	 * them about every path it builds */
	if ((flags & 2) && vigil_filter_add(v, VIGIL_FILTER_EXCLUDE, "/b$", 0) < 0)
		abort();
	if ((flags & 4) && vigil_filter_add(v, VIGIL_FILTER_INCLUDE, "/[a-c]$|f", 0) < 0)
		abort();
	uint32_t mask = IN_ALL_EVENTS & ~(uint32_t)(IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE);
	if (vigil_add(v, root, mask, VIGIL_RECURSIVE) < 0)
		goto out;
	char *copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	kernel_names(copy, size);
	feed = copy;
	feed_len = size;
	const struct vigil_event *ev;
	int r;
	for (int i = 0; i < 100000 && (r = vigil_next(v, 0, &ev)) == 1; i++)
		check_event(ev);
	fuzz_assert(r >= 0 || r == -ENOSPC, "vigil_next: %d", r);
	free(copy);
	feed_len = 0;
out:
	vigil_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	check_parse(data + 1, size - 1);
	check_engine(data + 1, size - 1, data[0]);
	return 0;
}
