/* vigil usage: the report, as tables in the manner of ps, or as one JSON
 * document. What is printed, and how, is documented in vigil-usage(1). */
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "format.h"
#include "usage.h"
#include "vigil.h"

static int digits(unsigned long long v)
{
	int n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

const char *usage_user_name(const struct usage_report *r, uid_t uid, char *buf, size_t size)
{
	for (size_t i = 0; i < r->n_users; i++)
		if (r->users[i].uid == uid && r->users[i].name)
			return r->users[i].name;
	snprintf(buf, size, "%lu", (unsigned long)uid);
	return buf;
}

/* Text for people: a control character would end or garble the line. */
static void put_text(FILE *f, const char *s, size_t len, char nul_as)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		fputc(c == '\0' ? nul_as : c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

/* The events of a watch's mask. vigil_mask_format() writes an event's mask
 * as inotifywait prints events (CLOSE for either close bit, MOVE for both
 * moves); a watch asks for each bit by its own name, so each is written
 * alone. ABBREV: the twelve events as one ALL_EVENTS. */
static void mask_names(uint32_t mask, bool abbrev, void (*put)(void *, const char *), void *ctx)
{
	if (abbrev && (mask & IN_ALL_EVENTS) == IN_ALL_EVENTS) {
		put(ctx, "ALL_EVENTS");
		mask &= ~(uint32_t)IN_ALL_EVENTS;
	}
	for (int i = 0; i < 32; i++) {
		uint32_t bit = (uint32_t)1 << i;
		char name[32];
		if (!(mask & bit))
			continue;
		vigil_mask_format(bit, ',', name, sizeof(name));
		name[strcspn(name, ",")] = '\0';
		if (!name[0])
			snprintf(name, sizeof(name), bit == IN_EXCL_UNLINK ? "EXCL_UNLINK" : "0x%x",
				 (unsigned)bit);
		put(ctx, name);
	}
}

struct names_buf {
	char s[512];
	size_t len;
};

static void put_name_buf(void *ctx, const char *name)
{
	struct names_buf *b = ctx;
	if (b->len < sizeof(b->s))
		b->len += (size_t)snprintf(b->s + b->len, sizeof(b->s) - b->len, "%s%s",
					   b->len ? "," : "", name);
}

static void events_text(uint32_t mask, struct names_buf *b)
{
	b->len = 0;
	b->s[0] = '\0';
	mask_names(mask, true, put_name_buf, b);
	if (!b->len)
		snprintf(b->s, sizeof(b->s), "-");
}

static void print_percent(FILE *f, size_t used, long limit)
{
	if (limit < 0)
		fprintf(f, " %4s", "-");
	else if (limit == 0)
		fprintf(f, " %3d%%", used ? 100 : 0);
	else
		fprintf(f, " %3llu%%", (unsigned long long)used * 100 / (unsigned long long)limit);
}

static void print_limit(FILE *f, const struct usage_limit *l)
{
	if (l->value < 0)
		fprintf(f, "%s = (unreadable)\n", l->sysctl);
	else if (strcmp(l->sysctl, l->fs_sysctl) != 0 && l->fs_value >= 0)
		fprintf(f, "%s = %ld (lower than %s = %ld)\n", l->sysctl, l->value, l->fs_sysctl,
			l->fs_value);
	else
		fprintf(f, "%s = %ld\n", l->sysctl, l->value);
}

/* Widen *W to fit V's digits. */
static void fit(int *w, unsigned long long v)
{
	int n = digits(v);
	if (n > *w)
		*w = n;
}

static void fit_text(int *w, const char *s)
{
	int n = (int)strlen(s);
	if (n > *w)
		*w = n;
}

static int print_procs(const struct usage_report *r, FILE *f)
{
	char ubuf[24];
	int w_pid = 3, w_user = 4, w_inst = 9, w_watch = 7;
	for (size_t i = 0; i < r->n_shown; i++) {
		const struct usage_proc *p = r->shown[i];
		fit(&w_pid, (unsigned long long)p->pid);
		fit_text(&w_user, usage_user_name(r, p->uid, ubuf, sizeof(ubuf)));
		fit(&w_inst, p->instances);
		fit(&w_watch, p->watches);
	}
	fprintf(f, "%*s %-*s %*s %*s COMMAND\n", w_pid, "PID", w_user, "USER", w_inst,
		"INSTANCES", w_watch, "WATCHES");
	for (size_t i = 0; i < r->n_shown; i++) {
		const struct usage_proc *p = r->shown[i];
		fprintf(f, "%*d %-*s %*zu %*zu ", w_pid, (int)p->pid, w_user,
			usage_user_name(r, p->uid, ubuf, sizeof(ubuf)), w_inst, p->instances,
			w_watch, p->watches);
		put_text(f, p->cmdline, p->cmdline_len, ' ');
		fputc('\n', f);
	}
	return w_pid;
}

static void print_watches(const struct usage_report *r, FILE *f, int w_pid)
{
	int w_fd = 2, w_wd = 2, w_dev = 6, w_ino = 5, w_ev = 6;
	struct names_buf ev;
	char dev[32];
	for (size_t i = 0; i < r->n_shown; i++) {
		const struct usage_proc *p = r->shown[i];
		for (size_t j = 0; j < p->n_inst; j++) {
			fit(&w_fd, (unsigned long long)p->inst[j].fd);
			for (size_t k = 0; k < p->inst[j].n_watches; k++) {
				const struct usage_watch *w = &p->inst[j].watches[k];
				snprintf(dev, sizeof(dev), "%u:%u", major(w->dev), minor(w->dev));
				fit_text(&w_dev, dev);
				fit(&w_wd, (unsigned long long)w->wd);
				fit(&w_ino, w->ino);
				events_text(w->mask, &ev);
				fit_text(&w_ev, ev.s);
			}
		}
	}
	fprintf(f, "\n%*s %*s %*s %-*s %*s %-*s PATH\n", w_pid, "PID", w_fd, "FD", w_wd, "WD",
		w_dev, "DEVICE", w_ino, "INODE", w_ev, "EVENTS");
	for (size_t i = 0; i < r->n_shown; i++) {
		const struct usage_proc *p = r->shown[i];
		for (size_t j = 0; j < p->n_inst; j++) {
			for (size_t k = 0; k < p->inst[j].n_watches; k++) {
				const struct usage_watch *w = &p->inst[j].watches[k];
				const struct usage_target *t = &r->scan.targets[w->target];
				snprintf(dev, sizeof(dev), "%u:%u", major(w->dev), minor(w->dev));
				events_text(w->mask, &ev);
				fprintf(f, "%*d %*d %*d %-*s %*llu %-*s ", w_pid, (int)p->pid, w_fd,
					p->inst[j].fd, w_wd, w->wd, w_dev, dev, w_ino,
					(unsigned long long)w->ino, w_ev, ev.s);
				if (t->path) {
					put_text(f, t->path, strlen(t->path), '?');
					fputs(t->deleted ? " (deleted)\n" : "\n", f);
				} else {
					fputs("(unknown)\n", f);
				}
			}
		}
	}
}

static void print_users(const struct usage_report *r, FILE *f)
{
	char ubuf[24];
	int w_user = 4, w_inst = 9, w_watch = 7;
	for (size_t i = 0; i < r->n_users; i++) {
		const struct usage_user *u = &r->users[i];
		fit_text(&w_user, usage_user_name(r, u->uid, ubuf, sizeof(ubuf)));
		fit(&w_inst, u->instances);
		fit(&w_watch, u->watches);
	}
	fprintf(f, "\n%-*s %*s USE%% %*s USE%%\n", w_user, "USER", w_inst, "INSTANCES", w_watch,
		"WATCHES");
	for (size_t i = 0; i < r->n_users; i++) {
		const struct usage_user *u = &r->users[i];
		fprintf(f, "%-*s %*zu", w_user, usage_user_name(r, u->uid, ubuf, sizeof(ubuf)),
			w_inst, u->instances);
		print_percent(f, u->instances, r->scan.instances.value);
		fprintf(f, " %*zu", w_watch, u->watches);
		print_percent(f, u->watches, r->scan.watches.value);
		fputc('\n', f);
	}
}

/* The blind mounts under watch, if any. */
static void print_blind(const struct usage_report *r, FILE *f)
{
	if (!r->n_blind)
		return;
	int w = (int)strlen("MOUNT");
	for (size_t i = 0; i < r->n_blind; i++)
		if ((int)strlen(r->blind[i].point) > w)
			w = (int)strlen(r->blind[i].point);
	fprintf(f, "\nMounts where inotify cannot see other machines' changes:\n");
	fprintf(f, "%-*s  %-12s  %7s  %6s  %s\n", w, "MOUNT", "TYPE", "WATCHES", "POLLED", "SOURCE");
	for (size_t i = 0; i < r->n_blind; i++) {
		const struct usage_blind *b = &r->blind[i];
		fprintf(f, "%-*s  %-12s  %7zu  %6zu  %s\n", w, b->point, b->fstype, b->watches,
			b->polled, b->source);
	}
	fprintf(f, "(WATCHES: inotify watches there, which see only this machine's changes;\n"
		   " POLLED: directories vigil polls there)\n");
}

/* The fanotify groups and marks of the processes shown, if any. */
static bool print_fanotify(const struct usage_report *r, FILE *f)
{
	int w_pid = 3, w_user = 4;
	char ubuf[32];
	bool any = false;
	for (size_t i = 0; i < r->n_shown; i++) {
		const struct usage_proc *p = r->shown[i];
		if (!p->fan_groups)
			continue;
		any = true;
		fit(&w_pid, (unsigned long long)p->pid);
		fit_text(&w_user, usage_user_name(r, p->uid, ubuf, sizeof(ubuf)));
	}
	if (!any)
		return false;
	fprintf(f, "\nfanotify groups and marks:\n%*s %-*s %6s %11s %11s %16s COMMAND\n",
		w_pid, "PID", w_user, "USER", "GROUPS", "INODE_MARKS", "MOUNT_MARKS",
		"FILESYSTEM_MARKS");
	for (size_t i = 0; i < r->n_shown; i++) {
		const struct usage_proc *p = r->shown[i];
		if (!p->fan_groups)
			continue;
		fprintf(f, "%*d %-*s %6zu %11zu %11zu %16zu ", w_pid, (int)p->pid, w_user,
			usage_user_name(r, p->uid, ubuf, sizeof(ubuf)), p->fan_groups, p->fan_inode,
			p->fan_mount, p->fan_fs);
		put_text(f, p->cmdline, p->cmdline_len, ' ');
		fputc('\n', f);
	}
	return true;
}

void usage_print_text(const struct usage_report *r, FILE *f)
{
	int w_pid = print_procs(r, f);
	if (r->watches)
		print_watches(r, f, w_pid);
	print_users(r, f);
	print_blind(r, f);
	bool fan = print_fanotify(r, f);
	fputc('\n', f);
	print_limit(f, &r->scan.instances);
	print_limit(f, &r->scan.watches);
	print_limit(f, &r->scan.queued);
	if (fan && r->scan.fan_groups_max >= 0)
		fprintf(f, "fs.fanotify.max_user_groups = %ld\n", r->scan.fan_groups_max);
	if (fan && r->scan.fan_marks_max >= 0)
		fprintf(f, "fs.fanotify.max_user_marks = %ld\n", r->scan.fan_marks_max);
}

/* JSON */

struct names_json {
	FILE *f;
	bool first;
};

static void put_name_json(void *ctx, const char *name)
{
	struct names_json *j = ctx;
	fputs(j->first ? "" : ", ", j->f);
	json_string(j->f, name, strlen(name));
	j->first = false;
}

static void json_user(FILE *f, const struct usage_report *r, uid_t uid)
{
	fprintf(f, "\"uid\": %lu, \"user\": ", (unsigned long)uid);
	for (size_t i = 0; i < r->n_users; i++) {
		if (r->users[i].uid == uid && r->users[i].name) {
			json_string(f, r->users[i].name, strlen(r->users[i].name));
			return;
		}
	}
	fputs("null", f);
}

static void json_watch(FILE *f, const struct usage_report *r, const struct usage_watch *w)
{
	static const char *const how[] = {"null", "\"handle\"", "\"search\""};
	const struct usage_target *t = &r->scan.targets[w->target];
	struct names_json j = {f, true};
	fprintf(f, "{\"wd\": %d, \"device\": \"%u:%u\", \"inode\": %llu, \"mask\": %lu, \"events\": [",
		w->wd, major(w->dev), minor(w->dev), (unsigned long long)w->ino,
		(unsigned long)w->mask);
	mask_names(w->mask, false, put_name_json, &j);
	fputs("], \"path\": ", f);
	if (t->path)
		json_string(f, t->path, strlen(t->path));
	else
		fputs("null", f);
	fprintf(f, ", \"deleted\": %s, \"found_by\": %s}", t->deleted ? "true" : "false",
		how[t->found]);
}

static void json_proc(FILE *f, const struct usage_report *r, const struct usage_proc *p)
{
	fprintf(f, "    {\"pid\": %d, ", (int)p->pid);
	json_user(f, r, p->uid);
	fputs(", \"command\": ", f);
	/* the argv joined by spaces, as the table shows it */
	char *cmd = malloc(p->cmdline_len + 1);
	if (cmd) {
		for (size_t i = 0; i < p->cmdline_len; i++)
			cmd[i] = p->cmdline[i] ? p->cmdline[i] : ' ';
		json_string(f, cmd, p->cmdline_len);
		free(cmd);
	}
	fputs(", \"argv\": [", f);
	for (size_t i = 0, at = 0; i < p->argc; i++) {
		size_t n = strlen(p->cmdline + at);
		fputs(i ? ", " : "", f);
		json_string(f, p->cmdline + at, n);
		at += n + 1;
	}
	fprintf(f, "], \"instances\": %zu, \"watches\": %zu, \"fanotify\": {\"groups\": %zu, "
		"\"inode_marks\": %zu, \"mount_marks\": %zu, \"filesystem_marks\": %zu}, "
		"\"fds\": [", p->instances, p->watches, p->fan_groups, p->fan_inode, p->fan_mount,
		p->fan_fs);
	for (size_t j = 0; j < p->n_inst; j++) {
		const struct usage_instance *in = &p->inst[j];
		fprintf(f, "%s\n      {\"fd\": %d, \"watches\": %zu", j ? "," : "", in->fd,
			in->n_watches);
		if (in->canon_pid != p->pid || in->canon_fd != in->fd)
			fprintf(f, ", \"same_as\": {\"pid\": %d, \"fd\": %d}", (int)in->canon_pid,
				in->canon_fd);
		if (r->watches) {
			fputs(", \"list\": [", f);
			for (size_t k = 0; k < in->n_watches; k++) {
				fputs(k ? ",\n        " : "\n        ", f);
				json_watch(f, r, &in->watches[k]);
			}
			fputs(in->n_watches ? "\n      ]" : "]", f);
		}
		fputc('}', f);
	}
	fputs(p->n_inst ? "\n    ]}" : "]}", f);
}

static void json_limit(FILE *f, const char *key, const struct usage_limit *l, bool last)
{
	fprintf(f, "    \"%s\": {\"sysctl\": \"%s\", \"value\": ", key, l->sysctl);
	if (l->value >= 0)
		fprintf(f, "%ld", l->value);
	else
		fputs("null", f);
	fprintf(f, "}%s\n", last ? "" : ",");
}

void usage_print_json(const struct usage_report *r, FILE *f)
{
	fputs("{\n  \"processes\": [", f);
	for (size_t i = 0; i < r->n_shown; i++) {
		fputs(i ? ",\n" : "\n", f);
		json_proc(f, r, r->shown[i]);
	}
	fputs(r->n_shown ? "\n  ],\n  \"users\": [" : "],\n  \"users\": [", f);
	for (size_t i = 0; i < r->n_users; i++) {
		const struct usage_user *u = &r->users[i];
		fputs(i ? ",\n    {" : "\n    {", f);
		json_user(f, r, u->uid);
		fprintf(f, ", \"instances\": %zu, \"watches\": %zu, \"near_limits\": [%s%s%s]}",
			u->instances, u->watches, u->near_instances ? "\"instances\"" : "",
			u->near_instances && u->near_watches ? ", " : "",
			u->near_watches ? "\"watches\"" : "");
	}
	fputs(r->n_users ? "\n  ],\n  \"limits\": {\n" : "],\n  \"limits\": {\n", f);
	json_limit(f, "instances", &r->scan.instances, false);
	json_limit(f, "watches", &r->scan.watches, false);
	json_limit(f, "queued_events", &r->scan.queued, true);
	fputs("  },\n  \"blind_mounts\": [", f);
	for (size_t i = 0; i < r->n_blind; i++) {
		const struct usage_blind *b = &r->blind[i];
		fputs(i ? ",\n    {\"mount\": " : "\n    {\"mount\": ", f);
		json_string(f, b->point, strlen(b->point));
		fputs(", \"fstype\": ", f);
		json_string(f, b->fstype, strlen(b->fstype));
		fputs(", \"source\": ", f);
		json_string(f, b->source, strlen(b->source));
		fprintf(f, ", \"inotify_watches\": %zu, \"polled\": %zu, \"processes\": %zu}",
			b->watches, b->polled, b->procs);
	}
	fprintf(f, "%s],\n  \"unreadable\": %zu\n}\n", r->n_blind ? "\n  " : "",
		r->scan.denied);
}
