/* vigil wait --publish URL: each event, as --json prints it (and "host"),
 * a QoS 1 message, in place of a line on stdout. Events that come while
 * the broker is away wait in memory, in order; at the end (one event
 * without -m) vigil waits until the broker has them. Without --state there
 * is no journal: what is not yet the broker's when vigil is killed is
 * lost (vigil run --publish --state keeps it). */
#include "wait_publish.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"

struct queued {
	char *msg;
	size_t len;
};

struct wait_pub {
	struct mqtt_conn *c;
	char *topic;
	struct queued *q;     /* waiting for the broker, oldest first */
	size_t n_q, cap_q, head;
	size_t in_flight;     /* sent, not yet acknowledged */
};

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void acked(void *ctx, int mid, int reason)
{
	(void)mid, (void)reason;
	struct wait_pub *p = ctx;
	if (p->in_flight)
		p->in_flight--;
}

static void send_queued(struct wait_pub *p)
{
	while (p->head < p->n_q && mqtt_conn_up(p->c)) {
		struct queued *q = &p->q[p->head];
		int mid;
		int r = mqtt_conn_publish(p->c, p->topic, q->msg, q->len, &mid);
		if (r == -ENOTCONN || r == -ENOMEM)
			break;
		if (r < 0)
			cli_error("cannot publish to '%s': %s", p->topic, r == -EMSGSIZE ?
				  "the message is too large" : "not a topic a broker takes");
		else
			p->in_flight++;
		free(q->msg);
		p->head++;
	}
	if (p->head == p->n_q)
		p->head = p->n_q = 0;
	mqtt_conn_flush(p->c);
}

static void state(void *ctx, bool up, const char *line)
{
	struct wait_pub *p = ctx;
	cli_error("%s", line);
	if (up)
		send_queued(p);
}

static const struct mqtt_events events = {.acked = acked, .state = state};

int wait_pub_new(const char *url, const struct mqtt_opts *opts, struct wait_pub **ret)
{
	struct mqtt_url u;
	char *err = NULL, *id = NULL;
	if (mqtt_url_parse(url, MQTT_PUBLISH, &u, &err) < 0) {
		cli_error("'--publish': %s", err ? err : "out of memory");
		free(err);
		return -1;
	}
	struct wait_pub *p = calloc(1, sizeof(*p));
	struct mqtt_opts o = *opts;
	o.clean = true; /* no session: a wait is not resumed */
	if (!o.client_id && asprintf(&id, "vigil-%s-wait-%d", mqtt_hostname(), (int)getpid()) < 0)
		id = NULL;
	if (!o.client_id)
		o.client_id = id;
	/* {host} in the topic */
	char *topic = NULL;
	size_t len = 0;
	FILE *f = p && o.client_id ? open_memstream(&topic, &len) : NULL;
	if (f) {
		for (const char *t = u.topic; *t;) {
			if (strncmp(t, "{host}", 6) == 0) {
				fputs(mqtt_hostname(), f);
				t += 6;
			} else {
				putc(*t++, f);
			}
		}
		if (fclose(f) != 0)
			topic = NULL;
	}
	if (!topic) {
		cli_error("out of memory");
		goto fail;
	}
	p->topic = topic;
	if (!mqtt_topic_ok(topic, strlen(topic))) {
		cli_error("'--publish': '%s' is not a topic a broker takes", topic);
		goto fail;
	}
	if (mqtt_conn_new(&u, &o, NULL, &events, p, &p->c, &err) < 0) {
		cli_error("%s", err ? err : "out of memory");
		free(err);
		goto fail;
	}
	mqtt_conn_start(p->c, mono());
	mqtt_url_fini(&u);
	free(id);
	*ret = p;
	return 0;
fail:
	mqtt_url_fini(&u);
	free(id);
	wait_pub_free(p);
	return -1;
}

void wait_pub_free(struct wait_pub *p)
{
	if (!p)
		return;
	if (p->c) {
		mqtt_conn_close(p->c);
		mqtt_conn_free(p->c);
	}
	for (size_t i = p->head; i < p->n_q; i++)
		free(p->q[i].msg);
	free(p->q);
	free(p->topic);
	free(p);
}

void wait_pub_event(struct wait_pub *p, const struct vigil_event *ev)
{
	struct out o = {.kind = OUT_JSON, .newline = true};
	char *msg = NULL;
	size_t len = 0;
	o.f = open_memstream(&msg, &len);
	if (!o.f) {
		cli_error("out of memory: an event is not published");
		return;
	}
	out_event(&o, ev);
	if (fclose(o.f) != 0 || len < 3) {
		free(msg);
		cli_error("out of memory: an event is not published");
		return;
	}
	/* the --json line, its "}\n" replaced by the host and "}" */
	len -= 2;
	char *host = NULL;
	size_t hlen = 0;
	FILE *f = open_memstream(&host, &hlen);
	if (f) {
		fputs(",\"host\":", f);
		json_string(f, mqtt_hostname(), strlen(mqtt_hostname()));
		putc('}', f);
		if (fclose(f) != 0)
			host = NULL;
	}
	char *whole = host ? realloc(msg, len + hlen + 1) : NULL;
	if (!whole) {
		free(msg);
		free(host);
		cli_error("out of memory: an event is not published");
		return;
	}
	memcpy(whole + len, host, hlen + 1);
	free(host);
	if (p->n_q == p->cap_q) {
		size_t cap = p->cap_q ? p->cap_q * 2 : 64;
		struct queued *v = reallocarray(p->q, cap, sizeof(*v));
		if (!v) {
			free(whole);
			cli_error("out of memory: an event is not published");
			return;
		}
		p->q = v;
		p->cap_q = cap;
	}
	p->q[p->n_q++] = (struct queued){.msg = whole, .len = len + hlen};
	send_queued(p);
}

int wait_pub_wait(struct wait_pub *p, vigil *v, int ms)
{
	uint64_t now = mono();
	uint64_t next = mqtt_conn_timer(p->c, now);
	send_queued(p);
	if (next) {
		uint64_t t = next <= now ? 0 : (next - now + 999999) / 1000000;
		if (ms < 0 || t < (uint64_t)ms)
			ms = (int)t;
	}
	int md = v ? vigil_next_deadline_ms(v) : -1;
	if (md >= 0 && (ms < 0 || md < ms))
		ms = md;
	uint32_t want;
	unsigned gen;
	int fd = mqtt_conn_fd(p->c, &want, &gen);
	struct pollfd fds[2] = {{.fd = fd, .events = (short)want}, {.fd = v ? vigil_fd(v) : -1, .events = POLLIN}};
	int n = poll(fds, 2, ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (fd >= 0 && fds[0].revents) {
		mqtt_conn_io(p->c, (uint32_t)fds[0].revents, mono());
		send_queued(p);
	}
	return v && (fds[1].revents & POLLIN) ? 1 : 0;
}

bool wait_pub_done(const struct wait_pub *p)
{
	return p->head == p->n_q && !p->in_flight;
}
