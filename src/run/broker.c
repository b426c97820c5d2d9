/* MQTT in vigil run: a rule's messages out (publish: each settled file or
 * batch, as a job's message, done once the broker has it), and the events
 * other machines publish in (subscribe: each file a message names, mapped
 * to this machine's path, into the rule's store as a local event is).
 *
 * The connections are in the loop like any fd. A message received is the
 * store's, and with a state the journal's, before it is acknowledged:
 * broker_flush() runs after the loop commits. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "mqtt.h"
#include "run.h"

struct rbroker {
	enum src_kind kind;   /* SRC_BROKER: first, for epoll's data.ptr */
	struct run *run;
	struct rrule *rule;
	struct mqtt_conn *c;
	struct mqtt_url url;
	bool sub;
	/* what epoll has of it */
	int fd;
	unsigned gen;
	uint32_t events;
};

/* --- the connections, in the loop --------------------------------------------- */

/* Keep epoll's view of B's socket as the connection wants it. */
static void sync_fd(struct run *run, struct rbroker *b)
{
	uint32_t events;
	unsigned gen;
	int fd = mqtt_conn_fd(b->c, &events, &gen);
	if (fd == b->fd && gen == b->gen && events == b->events)
		return;
	if (b->fd >= 0 && (fd != b->fd || gen != b->gen))
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, b->fd, NULL); /* gone with its close */
	if (fd >= 0) {
		struct epoll_event e = {.events = events, .data.ptr = b};
		if (fd == b->fd && gen == b->gen) {
			if (epoll_ctl(run->epfd, EPOLL_CTL_MOD, fd, &e) < 0 && errno == ENOENT)
				epoll_ctl(run->epfd, EPOLL_CTL_ADD, fd, &e);
		} else if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, fd, &e) < 0 && errno == EEXIST) {
			epoll_ctl(run->epfd, EPOLL_CTL_MOD, fd, &e);
		}
	}
	b->fd = fd;
	b->gen = gen;
	b->events = events;
}

static struct rjob *job_of(struct rrule *rr, int mid)
{
	for (size_t i = 0; i < rr->n_jobs; i++)
		if (rr->jobs[i]->msg == MSG_SENT && rr->jobs[i]->mid == mid)
			return rr->jobs[i];
	return NULL;
}

/* Job RJ's message is settled (MSG_DONE, MSG_FAILED, MSG_LOST): the job
 * ends if its command has. */
static void message_over(struct run *run, struct rjob *rj, uint64_t now)
{
	if (rj->msg != MSG_LOST)
		log_published(run, rj, rj->msg == MSG_FAILED, now);
	if (rj->j.pid > 0 && !rj->proc_over)
		return; /* its command's end ends it */
	job_done(run, rj, rj->proc_over ? rj->status : 0, now);
	finish_job(run, rj);
}

static void on_acked(void *ctx, int mid, int reason)
{
	(void)reason; /* "no matching subscribers" is the broker's too */
	struct rbroker *b = ctx;
	struct rjob *rj = job_of(b->rule, mid);
	if (!rj)
		return;
	rj->msg = MSG_DONE;
	message_over(b->run, rj, mono());
}

static void send_now(struct run *run, struct rrule *rr, struct rjob *rj, uint64_t now);

static void on_state(void *ctx, bool up, const char *line)
{
	struct rbroker *b = ctx;
	struct run *run = b->run;
	rule_say(run, b->rule, "%s", line);
	if (run->status_due == 0)
		run->status_due = mono();
	if (!up || b->sub)
		return;
	/* what waited for the broker goes now, oldest first */
	uint64_t now = mono();
	struct rrule *rr = b->rule;
	for (size_t i = 0; i < rr->n_jobs; i++)
		if (rr->jobs[i]->msg == MSG_WAIT)
			send_now(run, rr, rr->jobs[i], now);
}

static void on_message(void *ctx, const char *topic, const void *payload, size_t len);

static const struct mqtt_events events_pub = {.acked = on_acked, .state = on_state};
static const struct mqtt_events events_sub = {.message = on_message, .state = on_state};

/* {host} and {rule} in T (a subscription's topic). */
static char *expand_rule(const struct rrule *rr, const char *t)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	while (*t) {
		if (strncmp(t, "{host}", 6) == 0) {
			fputs(mqtt_hostname(), f);
			t += 6;
		} else if (strncmp(t, "{rule}", 6) == 0) {
			fputs(rr->r.name, f);
			t += 6;
		} else {
			putc(*t++, f);
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int connect_one(struct run *run, struct rrule *rr, const char *url, bool sub,
		       bool both, struct rbroker **ret)
{
	struct rbroker *b = calloc(1, sizeof(*b));
	char *err = NULL, *id = NULL, *topic = NULL, *filter = NULL;
	int r = -1;
	if (!b)
		goto nomem;
	*b = (struct rbroker){.kind = SRC_BROKER, .run = run, .rule = rr, .sub = sub, .fd = -1};
	if (mqtt_url_parse(url, sub ? MQTT_SUBSCRIBE : MQTT_PUBLISH, &b->url, &err) < 0) {
		if (!err)
			goto nomem;
		rule_say(run, rr, "%s", err);
		goto out;
	}
	/* a persistent session, named for this host, rule and role (and
	 * state, so that two vigils of one host keep two): the same after a
	 * restart, so that what the broker kept for it comes back */
	const char *role = sub ? "sub" : "pub";
	if (rr->r.mqtt_client_id) {
		if (asprintf(&id, "%s%s", rr->r.mqtt_client_id, both && !sub ? "-pub" : "") < 0)
			id = NULL;
	} else {
		char state[16] = "";
		if (rr->r.state) {
			char *real = realpath(rr->r.state, NULL);
			const char *p = real ? real : rr->r.state;
			uint32_t h = 2166136261u; /* FNV-1a */
			for (; *p; p++)
				h = (h ^ (unsigned char)*p) * 16777619u;
			snprintf(state, sizeof(state), "-%08x", h);
			free(real);
		}
		if (asprintf(&id, "vigil-%s-%s-%s%s", mqtt_hostname(), rr->r.name, role, state) < 0)
			id = NULL;
	}
	if (!id)
		goto nomem;
	if (sub) {
		if (!(topic = expand_rule(rr, b->url.topic)))
			goto nomem;
		if (rr->r.share ? asprintf(&filter, "$share/%s/%s", rr->r.share, topic) < 0 :
				  !(filter = strdup(topic)))
			goto nomem;
	}
	struct mqtt_opts o = {
		.client_id = id, .auth_file = rr->r.mqtt_auth, .ca_file = rr->r.mqtt_ca,
		.cert_file = rr->r.mqtt_cert, .key_file = rr->r.mqtt_key,
		.version = rr->r.mqtt_version,
	};
	int e = mqtt_conn_new(&b->url, &o, filter, sub ? &events_sub : &events_pub, b, &b->c, &err);
	if (e < 0) {
		if (!err)
			goto nomem;
		rule_say(run, rr, "%s", err);
		goto out;
	}
	mqtt_conn_start(b->c, mono());
	sync_fd(run, b);
	*ret = b;
	b = NULL;
	r = 0;
	goto out;
nomem:
	rule_say(run, rr, "out of memory");
out:
	if (b) {
		mqtt_url_fini(&b->url);
		free(b);
	}
	free(err);
	free(id);
	free(topic);
	free(filter);
	return r;
}

int broker_setup(struct run *run, struct rrule *rr)
{
	bool both = rr->r.publish && rr->r.subscribe;
	if (rr->r.subscribe && connect_one(run, rr, rr->r.subscribe, true, both, &rr->sub) < 0)
		return -1;
	if (rr->r.publish && connect_one(run, rr, rr->r.publish, false, both, &rr->pub) < 0)
		return -1;
	return 0;
}

static void free_one(struct run *run, struct rbroker *b, bool flush)
{
	if (!b)
		return;
	if (run && b->fd >= 0)
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, b->fd, NULL);
	if (flush)
		mqtt_conn_close(b->c);
	mqtt_conn_free(b->c);
	mqtt_url_fini(&b->url);
	free(b);
}

void broker_retire(struct run *run, struct rrule *rr, bool flush, uint64_t now)
{
	free_one(run, rr->sub, flush);
	rr->sub = NULL;
	if (!rr->pub)
		return;
	free_one(run, rr->pub, flush);
	rr->pub = NULL;
	/* messages not yet the broker's: sent again, by the rule that takes
	 * over the store, or at the next start */
	for (size_t i = rr->n_jobs; i-- > 0;) {
		if (i >= rr->n_jobs)
			continue;
		struct rjob *rj = rr->jobs[i];
		if (rj->msg == MSG_WAIT || rj->msg == MSG_SENT) {
			rj->msg = MSG_LOST;
			rj->j.stop = STOP_SHUTDOWN;
			message_over(run, rj, now);
		}
	}
}

void broker_free(struct rrule *rr)
{
	free_one(NULL, rr->sub, false);
	free_one(NULL, rr->pub, false);
	rr->sub = rr->pub = NULL;
}

void broker_io(struct run *run, struct rbroker *b, uint32_t revents, uint64_t now)
{
	mqtt_conn_io(b->c, revents, now);
	sync_fd(run, b);
}

uint64_t broker_timers(struct run *run, uint64_t now)
{
	uint64_t next = 0;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rbroker *v[2] = {run->rules[i]->sub, run->rules[i]->pub};
		for (int k = 0; k < 2; k++) {
			if (!v[k])
				continue;
			next = min_deadline(next, mqtt_conn_timer(v[k]->c, now));
			sync_fd(run, v[k]);
		}
	}
	return next;
}

void broker_flush(struct run *run)
{
	/* a journal that cannot be written has not got what came: the
	 * broker sends it again, to the next start or another worker */
	if (run->state_error)
		return;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rbroker *v[2] = {run->rules[i]->sub, run->rules[i]->pub};
		for (int k = 0; k < 2; k++) {
			if (!v[k])
				continue;
			mqtt_conn_flush(v[k]->c);
			sync_fd(run, v[k]);
		}
	}
}

void broker_status(const struct run *run, FILE *f)
{
	for (size_t i = 0; i < run->n_rules; i++) {
		const struct rrule *rr = run->rules[i];
		const struct rbroker *v[2] = {rr->sub, rr->pub};
		for (int k = 0; k < 2; k++)
			if (v[k])
				fprintf(f, "; [%s] %s %s %s", rr->r.name, k ? "publishing to" :
					"subscribed at", mqtt_conn_server(v[k]->c),
					mqtt_conn_state(v[k]->c));
	}
}

/* --- publish ---------------------------------------------------------------- */

/* The placeholders of a topic: {host}, {rule}, and for one path {},
 * {path}, {dir}, {name}, {event}. */
static char *expand_topic(const struct rrule *rr, const struct rjob *rj, const char *t)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	const struct store_path *p = &rj->j.paths[0];
	const char *slash = strrchr(p->path, '/');
	while (*t) {
		const char *close = *t == '{' ? strchr(t, '}') : NULL;
		size_t n = close ? (size_t)(close - t + 1) : 0;
#define IS(s) (n == sizeof(s) - 1 && memcmp(t, s, n) == 0)
		if (IS("{host}")) {
			fputs(mqtt_hostname(), f);
		} else if (IS("{rule}")) {
			fputs(rr->r.name, f);
		} else if (IS("{}") || IS("{path}")) {
			fputs(p->path, f);
		} else if (IS("{name}")) {
			fputs(slash ? slash + 1 : p->path, f);
		} else if (IS("{dir}")) {
			if (slash)
				fwrite(p->path, 1, slash == p->path ? 1 : (size_t)(slash - p->path), f);
			else
				putc('.', f);
		} else if (IS("{event}")) {
			char ev[256];
			size_t k = vigil_mask_format(p->events, ',', ev, sizeof(ev));
			fwrite(ev, 1, k < sizeof(ev) ? k : sizeof(ev) - 1, f);
		} else {
			putc(*t++, f);
			continue;
		}
#undef IS
		t += n;
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The message of job RJ: one file's object, or a batch's. */
static char *message_of(const struct rrule *rr, const struct rjob *rj, size_t *ret_len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, ret_len);
	if (!f)
		return NULL;
	const char *host = mqtt_hostname(), *rule = rr->r.name;
	bool batch = rj->j.n_paths > 1;
	/* paths go out whole: a relative one means nothing elsewhere */
	char cwd[PATH_MAX];
	bool relative = false;
	for (size_t i = 0; i < rj->j.n_paths; i++)
		relative |= rj->j.paths[i].path[0] != '/' ||
			    (rj->j.paths[i].from && rj->j.paths[i].from[0] != '/');
	if (relative && !getcwd(cwd, sizeof(cwd)))
		relative = false;
	if (batch) {
		fputs("{\"host\":", f);
		json_string(f, host, strlen(host));
		fputs(",\"rule\":", f);
		json_string(f, rule, strlen(rule));
		fputs(",\"files\":[", f);
	}
	for (size_t i = 0; i < rj->j.n_paths; i++) {
		const struct store_path *p = &rj->j.paths[i];
		struct stat st;
		char *path = NULL, *from = NULL;
		if (relative && p->path[0] != '/' && asprintf(&path, "%s/%s", cwd, p->path) < 0)
			path = NULL;
		if (relative && p->from && p->from[0] != '/' &&
		    asprintf(&from, "%s/%s", cwd, p->from) < 0)
			from = NULL;
		const char *pp = path ? path : p->path, *pf = from ? from : p->from;
		struct mqtt_file file = {
			.path = pp, .path_len = strlen(pp), .from = pf,
			.from_len = pf ? strlen(pf) : 0, .events = p->events,
		};
		if (lstat(p->path, &st) == 0) {
			file.has_stat = true;
			file.size = st.st_size;
			file.mtime = st.st_mtim;
		}
		if (i)
			putc(',', f);
		mqtt_file_json(f, &file, batch ? NULL : host, batch ? NULL : rule);
		free(path);
		free(from);
	}
	if (batch)
		fputs("]}", f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void send_now(struct run *run, struct rrule *rr, struct rjob *rj, uint64_t now)
{
	size_t len;
	char *msg = message_of(rr, rj, &len);
	if (!msg) {
		rule_say(run, rr, "out of memory: a message waits");
		return;
	}
	int r = mqtt_conn_publish(rr->pub->c, rj->topic, msg, len, &rj->mid);
	free(msg);
	if (r == -ENOTCONN || r == -ENOMEM) {
		rj->msg = MSG_WAIT;
		if (r == -ENOMEM)
			rule_say(run, rr, "out of memory: a message waits");
		return;
	}
	if (r < 0) {
		rj->msg = MSG_FAILED;
		rule_say(run, rr, "cannot publish on '%s' to '%s': %s", rj->j.paths[0].path,
			 rj->topic, r == -EMSGSIZE ? "the message is too large" :
			 "not a topic a broker takes (UTF-8, without '+', '#' or NUL)");
		message_over(run, rj, now);
		return;
	}
	rj->msg = MSG_SENT;
}

void broker_send(struct run *run, struct rrule *rr, struct rjob *rj, uint64_t now)
{
	free(rj->topic);
	rj->topic = expand_topic(rr, rj, rr->pub->url.topic);
	if (!rj->topic) {
		rule_say(run, rr, "out of memory: cannot publish");
		rj->msg = MSG_FAILED;
		message_over(run, rj, now);
		return;
	}
	if (!mqtt_topic_ok(rj->topic, strlen(rj->topic))) {
		rj->msg = MSG_FAILED;
		rule_say(run, rr, "cannot publish on '%s': '%s' is not a topic a broker takes "
			 "(UTF-8, without '+', '#' or NUL)", rj->j.paths[0].path, rj->topic);
		message_over(run, rj, now);
		return;
	}
	rj->msg = MSG_WAIT;
	if (mqtt_conn_up(rr->pub->c))
		send_now(run, rr, rj, now);
}

/* --- subscribe -------------------------------------------------------------- */

/* Whether P lies at or below directory D (LEN bytes, no trailing '/'
 * but for "/"): the rest in *REST. */
static bool under(const char *p, const char *d, size_t len, const char **rest)
{
	if (len == 1 && d[0] == '/') {
		*rest = p + 1;
		return p[0] == '/';
	}
	if (strncmp(p, d, len) != 0 || (p[len] != '/' && p[len] != '\0'))
		return false;
	*rest = p[len] == '/' ? p + len + 1 : p + len;
	return true;
}

/* The prefixes of a "REMOTE=LOCAL" mapping, without trailing '/'. */
static void prefixes(const char *map, size_t *rlen, const char **local, size_t *llen)
{
	const char *eq = strchr(map, '=');
	*rlen = (size_t)(eq - map);
	while (*rlen > 1 && map[*rlen - 1] == '/')
		(*rlen)--;
	*local = eq + 1;
	*llen = strlen(*local);
	while (*llen > 1 && (*local)[*llen - 1] == '/')
		(*llen)--;
}

/* Whether P is an absolute path without '.', '..' or empty components. */
static bool clean(const char *p)
{
	if (p[0] != '/')
		return false;
	if (!p[1])
		return true;
	for (const char *c = p + 1;;) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!*end)
			return true;
		c = end + 1;
	}
}

/* The path on this machine of remote path P: a copy, or NULL with *WHY. */
static char *map_path(const struct rrule *rr, const char *p, const char **why)
{
	if (!clean(p)) {
		*why = "not an absolute path without '.', '..' or '//' in it";
		return NULL;
	}
	if (!rr->r.map.len) {
		if (rr->r.paths.len && !wants(rr, p, false) && !wants(rr, p, true)) {
			*why = "outside the rule's paths, or not what it runs on";
			return NULL;
		}
		char *copy = strdup(p);
		if (!copy)
			*why = "out of memory";
		return copy;
	}
	/* the longest prefix that holds it */
	size_t best = 0, best_rlen = 0;
	bool found = false;
	for (size_t i = 0; i < rr->r.map.len; i++) {
		size_t rlen, llen;
		const char *local, *rest;
		prefixes(rr->r.map.v[i], &rlen, &local, &llen);
		if (under(p, rr->r.map.v[i], rlen, &rest) && (!found || rlen > best_rlen)) {
			found = true;
			best = i;
			best_rlen = rlen;
		}
	}
	if (!found) {
		*why = "outside every --map prefix";
		return NULL;
	}
	size_t rlen, llen;
	const char *local, *rest;
	prefixes(rr->r.map.v[best], &rlen, &local, &llen);
	under(p, rr->r.map.v[best], rlen, &rest);
	char *out;
	bool root = llen == 1 && local[0] == '/';
	if (asprintf(&out, "%.*s%s%s", (int)llen, local, *rest && !root ? "/" : "", rest) < 0) {
		*why = "out of memory";
		return NULL;
	}
	return out;
}

/* Whether RR's filters take local path P (IS_DIR), named by a message. */
static bool remote_wants(const struct rrule *rr, const char *p, bool is_dir)
{
	if (rr->r.map.len) {
		for (size_t i = 0; i < rr->r.map.len; i++) {
			size_t rlen, llen;
			const char *local, *rest;
			prefixes(rr->r.map.v[i], &rlen, &local, &llen);
			if (under(p, local, llen, &rest) && *rest &&
			    rule_wants(&rr->r, rest, p, is_dir))
				return true;
		}
		return false;
	}
	if (rr->r.paths.len)
		return wants(rr, p, is_dir);
	const char *slash = strrchr(p, '/');
	return rule_wants(&rr->r, slash ? slash + 1 : p, p, is_dir);
}

bool broker_takes(const struct rrule *rr, const char *path)
{
	return rr->r.subscribe && clean(path) &&
	       (remote_wants(rr, path, false) || remote_wants(rr, path, true));
}

static void remote_file(struct run *run, struct rrule *rr, const char *topic,
			const struct mqtt_file *file, uint64_t now)
{
	const char *why;
	char *path = map_path(rr, file->path, &why), *from = NULL;
	if (!path) {
		rr->n_refused++;
		char *text = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&text, &n);
		if (f) {
			put_text_bytes(f, file->path, file->path_len);
			if (fclose(f) != 0)
				text = NULL;
		}
		rule_say(run, rr, "a message on '%s' names %s: %s; not run", topic,
			 text ? text : "a path", why);
		free(text);
		return;
	}
	uint32_t m = file->events ? file->events : IN_CLOSE_WRITE;
	bool is_dir = m & IN_ISDIR;
	if (file->from && (m & IN_MOVED_FROM) && (m & IN_MOVED_TO))
		from = map_path(rr, file->from, &why);
	struct change c = {.kind = CHANGE_TOUCH, .path = path, .is_dir = is_dir,
			   .events = m & rr->r.events, .now = now, .settle_ns = rr->r.settle_ns,
			   .remote = true};
	if (from) {
		c.kind = CHANGE_RENAME;
		c.from = from;
		c.events = rr->r.events & IN_MOVED_TO;
	} else if (m & (IN_MOVED_FROM | IN_DELETE)) {
		c.kind = CHANGE_GONE;
	}
	c.wanted = (c.kind != CHANGE_GONE || c.events) && remote_wants(rr, path, is_dir);
	struct stat st;
	if (c.kind == CHANGE_TOUCH && c.events && c.wanted && lstat(path, &st) == 0 &&
	    store_unchanged(rr->store, path, &st)) {
		/* handled, and unchanged since: a message sent again */
		rr->n_again++;
	} else {
		apply_change(run, rr, &c);
	}
	free(path);
	free(from);
}

static void on_message(void *ctx, const char *topic, const void *payload, size_t len)
{
	struct rbroker *b = ctx;
	struct run *run = b->run;
	struct rrule *rr = b->rule;
	struct mqtt_read msg;
	const char *why;
	if (rr->retired)
		return;
	int r = mqtt_read(payload, len, &msg, &why);
	if (r < 0) {
		rr->n_refused++;
		rule_say(run, rr, "a message on '%s' is not one of vigil's (%s); passed over", topic,
			 r == -ENOMEM ? "out of memory" : why);
		return;
	}
	uint64_t now = mono();
	for (size_t i = 0; i < msg.n; i++)
		remote_file(run, rr, topic, &msg.files[i], now);
	mqtt_read_fini(&msg);
}
