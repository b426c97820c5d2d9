/* Where inotify is blind (blind.h).
 *
 * The lists, and where they come from:
 *  - The kernel's <linux/magic.h>: NFS, SMB and CIFS, SMB2/3, 9p (V9FS),
 *    FUSE, Ceph, Coda, AFS (OpenAFS) and kAFS, NCP, OCFS2.
 *  - GNU coreutils, src/stat.c: each magic number there is marked "local"
 *    or "remote"; tail -f polls the remote ones because inotify cannot be
 *    trusted there (gnulib's fs-is-local, made from those marks). Remote
 *    besides the above: GFS/GFS2, GPFS, Lustre, PanFS, IBRIX, StorNext
 *    (snfs), Oracle ACFS, BeeGFS (fhgfs), VirtualBox (vboxsf), VMware
 *    (vmhgfs), Parallels (prl_fs), and VxFS (clustered or not: coreutils
 *    cannot tell, nor can we). coreutils marks 9p "local"; its shares
 *    (QEMU's virtio-9p, WSL2's drives) are changed by the host, so it is
 *    blind here.
 *  - statfs(2) lists the same numbers.
 *  - FUSE is one magic number for every FUSE filesystem, so the type in
 *    /proc/self/mountinfo decides: "fuse" and every "fuse.SUBTYPE" (sshfs,
 *    rclone, s3fs, gcsfuse, bindfs, glusterfs, ceph-fuse, davfs2, ...) and
 *    "virtiofs" (the host's files) are blind; "fuseblk" (ntfs-3g, exfat on
 *    a local block device, written only through this mount) is not.
 *  - By type name, for magic numbers not in the lists above: orangefs and
 *    pvfs2, beegfs, lustre, gpfs, glusterfs and the others named above.
 * Not blind, though coreutils marks it remote: overlayfs (what changes
 * through it is seen; its layers changed behind its back are a local
 * misconfiguration, not another machine). */
#include "blind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* blind by magic number (no <linux/magic.h> needed for the ones it lacks) */
static const unsigned long blind_magics[] = {
	0x6969,     /* nfs, nfs4 */
	0x517B,     /* smb (smbfs) */
	0xFF534D42, /* cifs */
	0xFE534D42, /* smb2, smb3 */
	0x01021997, /* v9fs (9p) */
	0x00C36400, /* ceph */
	0x73757245, /* coda */
	0x5346414F, /* afs (OpenAFS) */
	0x6B414653, /* kafs */
	0x564C,     /* ncp */
	0x7461636F, /* ocfs2 */
	0x01161970, /* gfs, gfs2 */
	0x47504653, /* gpfs */
	0x0BD00BD0, /* lustre */
	0xAAD7AAEA, /* panfs */
	0x013111A8, /* ibrix */
	0xBEEFDEAD, /* snfs (StorNext) */
	0x61636673, /* acfs */
	0x19830326, /* fhgfs, beegfs */
	0x786F4256, /* vboxsf */
	0xBACBACBC, /* vmhgfs */
	0x7C7C6673, /* prl_fs */
	0xA501FCF5, /* vxfs */
	0x20030528, /* orangefs */
};

/* local for certain: the common disk and memory filesystems, decided
 * without reading mountinfo */
static const unsigned long local_magics[] = {
	0xEF53,     /* ext2, ext3, ext4 */
	0x58465342, /* xfs */
	0x9123683E, /* btrfs */
	0x01021994, /* tmpfs */
	0x858458F6, /* ramfs */
	0x2FC12FC1, /* zfs */
	0xF2F52010, /* f2fs */
	0x4d44,     /* msdos, vfat */
	0x2011BAB0, /* exfat */
	0x5346544E, /* ntfs (ntfs3) */
	0x794C7630, /* overlayfs (see above) */
	0x73717368, /* squashfs */
	0x9660,     /* iso9660 */
	0x15013346, /* udf */
	0x52654973, /* reiserfs */
	0x3153464A, /* jfs */
	0xCAFE4A11, /* bpf */
	0x9FA0,     /* proc */
	0x62656572, /* sysfs */
	0x1373,     /* devfs */
	0x24051905, /* ubifs */
	0x72B6,     /* jffs2 */
	0x28CD3D45, /* cramfs */
	0x6165676C, /* pstore */
	0x63677270, /* cgroup2 */
	0x27E0EB,   /* cgroup */
	0x64626720, /* debugfs */
	0x74726163, /* tracefs */
	0x0187,     /* autofs */
	0x958458F6, /* hugetlbfs */
	0x42494E4D, /* binfmt_misc */
	0x73636673, /* securityfs */
	0x6E736673, /* nsfs */
	0x19800202, /* mqueue */
	0x1CD1,     /* devpts */
};

#define FUSE_MAGIC 0x65735546UL

int blind_magic(unsigned long f_type)
{
	f_type &= 0xFFFFFFFFUL;
	if (f_type == FUSE_MAGIC)
		return -1;
	for (size_t i = 0; i < sizeof(blind_magics) / sizeof(*blind_magics); i++)
		if (f_type == blind_magics[i])
			return 1;
	for (size_t i = 0; i < sizeof(local_magics) / sizeof(*local_magics); i++)
		if (f_type == local_magics[i])
			return 0;
	return -1;
}

bool blind_fstype(const char *t)
{
	static const char *const names[] = {
		"nfs", "nfs4", "smbfs", "cifs", "smb3", "9p", "virtiofs",
		"ceph", "coda", "afs", "ncpfs", "ocfs2", "gfs", "gfs2", "gpfs",
		"lustre", "panfs", "ibrix", "snfs", "cvfs", "acfs", "beegfs",
		"fhgfs", "vboxsf", "vmhgfs", "prl_fs", "vxfs", "orangefs",
		"pvfs2", "glusterfs", "davfs", "fuse",
	};
	if (strncmp(t, "fuse.", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strcmp(t, names[i]) == 0)
			return true;
	return false;
}

/* A mountinfo field, with \ooo escapes (space, tab, newline, backslash)
 * decoded, malloc'd. */
static char *field_dup(const char *s, size_t n)
{
	char *r = malloc(n + 1), *o = r;
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			*o++ = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return r;
}

/* The next space-separated field of [*P, END): its start, *RET_N its length. */
static const char *next_field(const char **p, const char *end, size_t *ret_n)
{
	const char *s = *p;
	while (s < end && *s == ' ')
		s++;
	const char *e = s;
	while (e < end && *e != ' ')
		e++;
	*p = e;
	*ret_n = (size_t)(e - s);
	return s;
}

void mount_entry_free(struct mount_entry *m)
{
	free(m->point);
	free(m->fstype);
	free(m->source);
	m->point = m->fstype = m->source = NULL;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" */
int mount_entry_parse(const char *text, size_t len, struct mount_entry *ret)
{
	const char *p = text, *end = text + len, *f[5];
	size_t n[5];
	for (int i = 0; i < 5; i++) {
		f[i] = next_field(&p, end, &n[i]);
		if (!n[i])
			return -EINVAL;
	}
	/* optional fields until "-" */
	const char *t;
	size_t tn;
	do {
		t = next_field(&p, end, &tn);
		if (!tn)
			return -EINVAL;
	} while (!(tn == 1 && *t == '-'));
	const char *type = next_field(&p, end, &tn);
	size_t sn;
	const char *src = next_field(&p, end, &sn);
	if (!tn)
		return -EINVAL;
	char num[32];
	if (n[0] >= sizeof(num) || n[2] >= sizeof(num))
		return -EINVAL;
	memcpy(num, f[0], n[0]);
	num[n[0]] = '\0';
	char *e;
	long id = strtol(num, &e, 10);
	if (*e || id < 0)
		return -EINVAL;
	memcpy(num, f[2], n[2]);
	num[n[2]] = '\0';
	unsigned maj, min;
	if (sscanf(num, "%u:%u", &maj, &min) != 2)
		return -EINVAL;
	struct mount_entry m = {.id = (int)id, .dev = makedev(maj, min)};
	m.point = field_dup(f[4], n[4]);
	m.fstype = field_dup(type, tn);
	m.source = field_dup(src, sn);
	if (!m.point || !m.fstype || !m.source) {
		mount_entry_free(&m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

/* The whole of mountinfo, through FD (from its start) or a fresh open,
 * NUL-terminated, malloc'd. */
static int read_mountinfo(int fd, char **ret, size_t *ret_len)
{
	int own = -1;
	if (fd < 0) {
		fd = own = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	size_t cap = 16384, len = 0;
	char *b = malloc(cap);
	int err = 0;
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	for (off_t off = 0;;) {
		if (cap - len < 4096) {
			char *g = realloc(b, cap * 2);
			if (!g) {
				err = -ENOMEM;
				goto out;
			}
			b = g;
			cap *= 2;
		}
		ssize_t r = pread(fd, b + len, cap - len - 1, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		off += r;
	}
	b[len] = '\0';
out:
	if (own >= 0)
		close(own);
	if (err < 0) {
		free(b);
		return err;
	}
	*ret = b;
	*ret_len = len;
	return 0;
}

int mount_find(int fd, int id, dev_t dev, struct mount_entry *ret)
{
	char *text;
	size_t len;
	int err = read_mountinfo(fd, &text, &len);
	if (err < 0)
		return err;
	err = -ENOENT;
	for (char *p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		struct mount_entry m;
		if (mount_entry_parse(p, n, &m) == 0) {
			if (id >= 0 ? m.id == id : m.dev == dev) {
				*ret = m;
				err = 0;
				break;
			}
			mount_entry_free(&m);
		}
		p += n + 1;
	}
	free(text);
	return err;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int mount_ids(int fd, int **ret, size_t *ret_n)
{
	char *text;
	size_t len;
	int err = read_mountinfo(fd, &text, &len);
	if (err < 0)
		return err;
	size_t n = 0, cap = 0;
	int *ids = NULL;
	for (char *p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		char *e;
		long id = strtol(p, &e, 10);
		if (e != p && id >= 0) {
			if (n == cap) {
				size_t c = cap ? cap * 2 : 64;
				int *g = realloc(ids, c * sizeof(*g));
				if (!g) {
					free(ids);
					free(text);
					return -ENOMEM;
				}
				ids = g;
				cap = c;
			}
			ids[n++] = (int)id;
		}
		p += l + 1;
	}
	free(text);
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_int);
	*ret = ids;
	*ret_n = n;
	return 0;
}
