/* vigil_limit_text(): what to tell a user who reached one of the kernel's
 * limits on watches or instances, with the sysctl in force, its value and
 * how to raise it: the one text of the command and the Python package. */
#include <errno.h>
#include <stdio.h>

#include "vigil.h"

static const struct {
	const char *problem;
	const char *api;       /* /proc/sys/fs/API/FS_NAME */
	const char *fs_name;
	const char *user_name; /* /proc/sys/user/USER_NAME */
} limits[] = {
	[VIGIL_LIMIT_INOTIFY_WATCHES] = {"inotify watch limit reached", "inotify",
					 "max_user_watches", "max_inotify_watches"},
	[VIGIL_LIMIT_INOTIFY_INSTANCES] = {"inotify instance limit reached", "inotify",
					   "max_user_instances", "max_inotify_instances"},
	[VIGIL_LIMIT_FANOTIFY_MARKS] = {"fanotify mark limit reached", "fanotify",
					"max_user_marks", "max_fanotify_marks"},
	[VIGIL_LIMIT_FANOTIFY_GROUPS] = {"fanotify group limit reached", "fanotify",
					 "max_user_groups", "max_fanotify_groups"},
};

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int vigil_limit_text(enum vigil_limit limit, size_t need, char *buf, size_t size)
{
	if ((unsigned)limit >= sizeof(limits) / sizeof(limits[0]))
		return -EINVAL;
	const char *problem = limits[limit].problem, *api = limits[limit].api;
	const char *fs_name = limits[limit].fs_name, *user_name = limits[limit].user_name;
	/* the limit in force is the smaller of the system-wide sysctl and the
	 * one of this user namespace (they differ in containers): name
	 * whichever it is */
	char path[128], name[64];
	snprintf(path, sizeof(path), "/proc/sys/fs/%s/%s", api, fs_name);
	long cur = read_long(path);
	snprintf(name, sizeof(name), "fs.%s.%s", api, fs_name);
	snprintf(path, sizeof(path), "/proc/sys/user/%s", user_name);
	long ns = read_long(path);
	if (ns >= 0 && (cur < 0 || ns < cur)) {
		cur = ns;
		snprintf(name, sizeof(name), "user.%s", user_name);
	}
	long raise = cur > 0 ? cur * 2 : 1024;
	if (cur >= 0 && need > (size_t)(raise - cur))
		raise = cur + (long)need;
	int n;
	if (cur >= 0)
		n = snprintf(buf, size, "%s (%s = %ld); raise it with 'sysctl -w %s=%ld', "
			     "or for good in /etc/sysctl.d/", problem, name, cur, name, raise);
	else
		n = snprintf(buf, size, "%s (%s); raise it with 'sysctl -w %s=N'", problem,
			     name, name);
	return n < 0 ? -EINVAL : n;
}
