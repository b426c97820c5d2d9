/* MQTT for vigil wait and vigil run: broker URLs, the messages vigil
 * publishes and reads, and a connection driven by the caller's own loop.
 *
 *   mqtt_url.c      mqtt[s]://[user@]host[:port]/TOPIC, and topic checks
 *   mqtt_message.c  a file event as JSON, and such JSON read back
 *   mqtt_conn.c     a connection (libmosquitto, without its thread):
 *                   connect, reconnect with backoff, TLS, credentials,
 *                   publish at QoS 1, subscribe; built with -Dmqtt only
 *
 * Nothing here prints or exits: failures come back as one line to say.
 */
#ifndef VIGIL_MQTT_H
#define VIGIL_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* --- mqtt_url.c ------------------------------------------------------------ */

struct mqtt_url {
	bool tls;       /* mqtts:// */
	char *user;     /* from user@, or NULL */
	char *host;     /* an IPv6 address without its brackets */
	int port;       /* 1883, or 8883 with TLS, unless given */
	char *topic;    /* everything after the first '/' past the host, as
			 * written: no %-decoding ('#' is a topic's wildcard here,
			 * not a URL's fragment) */
};

enum mqtt_role { MQTT_PUBLISH, MQTT_SUBSCRIBE };

/* Parse S for ROLE: a topic to publish to holds no '+' or '#'; one to
 * subscribe to holds them only as whole levels ('#' last). The topic may
 * hold placeholders ("{host}", "{rule}", ...), which are not checked
 * here. 0 with *RET (mqtt_url_fini() it), or -1 with *ERR the line to say
 * (to be freed; NULL when memory ran out). */
int mqtt_url_parse(const char *s, enum mqtt_role role, struct mqtt_url *ret, char **err);
void mqtt_url_fini(struct mqtt_url *u);
/* The URL again, for messages, without a password (there never is one):
 * "mqtt://host:1883". Static storage of the caller's (SIZE bytes). */
const char *mqtt_url_server(const struct mqtt_url *u, char *buf, size_t size);
/* Whether TOPIC (LEN bytes) can be published to: 1 to 65535 bytes of
 * UTF-8 without NUL, '+' or '#'. */
bool mqtt_topic_ok(const char *topic, size_t len);

/* --- mqtt_message.c -------------------------------------------------------- */

/* A file as a message says it. */
struct mqtt_file {
	const char *path;
	size_t path_len;
	const char *from;     /* a rename's old path, or NULL */
	size_t from_len;
	uint32_t events;      /* IN_* (IN_ISDIR for a directory) */
	bool has_stat;        /* size and mtime below */
	int64_t size;
	struct timespec mtime;
};

/* One file's JSON object, without a newline, on F:
 *   {"path":"/in/a.csv","events":["CLOSE_WRITE"],"size":12,
 *    "mtime":"2026-12-06T10:00:01.123456789Z","host":"h","rule":"r"}
 * with "from" after "events" when there is one, "size" and "mtime" only
 * with HAS_STAT, "host" and "rule" only when not NULL. Bytes that are not
 * UTF-8 are written as \udcXX (what Python's surrogateescape reads back). */
void mqtt_file_json(FILE *f, const struct mqtt_file *file, const char *host, const char *rule);

/* What a message holds, read back: up to a few thousand files (a batch's
 * "files", or one file's object). The strings are the message's bytes,
 * decoded (\udcXX back to byte XX), each NUL-terminated. */
struct mqtt_read {
	struct mqtt_file *files;
	size_t n;
	char *buf;            /* what the strings point into */
};
/* Read the LEN bytes of MSG: 0 with *RET (mqtt_read_fini() it), -ENOMEM,
 * or -EINVAL with *WHY the reason (static text: "not JSON", "no
 * \"path\"", ...). A path holding a NUL is refused. Unknown keys are
 * passed over; an event name not known is an error. */
int mqtt_read(const char *msg, size_t len, struct mqtt_read *ret, const char **why);
void mqtt_read_fini(struct mqtt_read *r);

/* This machine's name, for {host} and "host" (static; "localhost" when
 * it has none). */
const char *mqtt_hostname(void);

/* --- mqtt_conn.c ------------------------------------------------------------ */

/* What a connection needs besides its URL. */
struct mqtt_opts {
	const char *client_id;  /* NULL: made from the host name and ROLE_NAME */
	const char *auth_file;  /* --mqtt-auth: the password (the URL's user),
				 * or USER:PASSWORD on its first line */
	const char *ca_file, *cert_file, *key_file; /* TLS */
	int version;            /* 0: 5, or 3.1.1 when the broker refuses 5;
				 * 5; 4 (3.1.1) */
	bool clean;             /* a clean start: no session kept (wait) */
};

/* What a connection tells its owner, from within mqtt_conn_io() and
 * mqtt_conn_timer(). */
struct mqtt_events {
	/* the broker has message MID (PUBACK); REASON is MQTT 5's code (0,
	 * 16 "no matching subscribers": both taken) */
	void (*acked)(void *ctx, int mid, int reason);
	/* a message on a subscribed topic */
	void (*message)(void *ctx, const char *topic, const void *payload, size_t len);
	/* connected (and subscribed); or not: LINE is one line to say, once
	 * per change of state */
	void (*state)(void *ctx, bool up, const char *line);
};

struct mqtt_conn;

#ifdef VIGIL_MQTT

/* A connection to URL, not yet made: mqtt_conn_start() begins. With
 * SUBSCRIBE (a topic filter: "$share/GROUP/..." for a shared
 * subscription), it subscribes at QoS 1 at each connect. The messages it
 * receives are acknowledged only at mqtt_conn_flush(): the caller first
 * makes them its own (its journal). 0 with *RET, or a negative errno with
 * *ERR the line to say (to be freed). */
int mqtt_conn_new(const struct mqtt_url *url, const struct mqtt_opts *o,
		  const char *subscribe, const struct mqtt_events *ev, void *ctx,
		  struct mqtt_conn **ret, char **err);
void mqtt_conn_free(struct mqtt_conn *c);
/* Connect (in the background): the first attempt is made now. */
void mqtt_conn_start(struct mqtt_conn *c, uint64_t now);
/* The socket to wait on, and for what (POLLIN | POLLOUT, which are
 * EPOLLIN | EPOLLOUT too), or -1. GEN changes whenever the socket is a new
 * one (a reconnect may give the same number). */
int mqtt_conn_fd(const struct mqtt_conn *c, uint32_t *ret_events, unsigned *ret_gen);
/* The socket was ready for REVENTS: read and write what there is. */
void mqtt_conn_io(struct mqtt_conn *c, uint32_t revents, uint64_t now);
/* Keepalive, the next reconnect: the next deadline (monotonic ns), or 0. */
uint64_t mqtt_conn_timer(struct mqtt_conn *c, uint64_t now);
/* Write what waits: the acknowledgements of what was received (once it
 * is the caller's), the messages published. */
void mqtt_conn_flush(struct mqtt_conn *c);
/* Whether messages can be published now. */
bool mqtt_conn_up(const struct mqtt_conn *c);
/* Publish LEN bytes of PAYLOAD to TOPIC at QoS 1: its id in *RET_MID,
 * acked() once the broker has it (it is sent again after a reconnect
 * until then). -ENOTCONN when not up; -EINVAL (a topic the broker would
 * refuse), -EMSGSIZE, -ENOMEM. */
int mqtt_conn_publish(struct mqtt_conn *c, const char *topic, const void *payload,
		      size_t len, int *ret_mid);
/* "connected", "connecting", "disconnected": for systemd's STATUS=. */
const char *mqtt_conn_state(const struct mqtt_conn *c);
/* The server, as said in lines: "mqtt://127.0.0.1:1883". */
const char *mqtt_conn_server(const struct mqtt_conn *c);
/* Disconnect cleanly (what waits is written first, as far as the socket
 * takes it without waiting). */
void mqtt_conn_close(struct mqtt_conn *c);

#else /* built without libmosquitto: the options are refused before any
       * connection is made (rule_check(), vigil wait), so that these only
       * stand in */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static inline int mqtt_conn_new(const struct mqtt_url *url, const struct mqtt_opts *o,
				const char *subscribe, const struct mqtt_events *ev, void *ctx,
				struct mqtt_conn **ret, char **err)
{
	(void)url, (void)o, (void)subscribe, (void)ev, (void)ctx, (void)ret;
	*err = strdup("this vigil was built without MQTT (libmosquitto)");
	return -ENOTSUP;
}
static inline void mqtt_conn_free(struct mqtt_conn *c) { (void)c; }
static inline void mqtt_conn_start(struct mqtt_conn *c, uint64_t now) { (void)c, (void)now; }
static inline int mqtt_conn_fd(const struct mqtt_conn *c, uint32_t *ev, unsigned *gen)
{
	(void)c, (void)ev, (void)gen;
	return -1;
}
static inline void mqtt_conn_io(struct mqtt_conn *c, uint32_t r, uint64_t now)
{
	(void)c, (void)r, (void)now;
}
static inline uint64_t mqtt_conn_timer(struct mqtt_conn *c, uint64_t now)
{
	(void)c, (void)now;
	return 0;
}
static inline void mqtt_conn_flush(struct mqtt_conn *c) { (void)c; }
static inline bool mqtt_conn_up(const struct mqtt_conn *c) { (void)c; return false; }
static inline int mqtt_conn_publish(struct mqtt_conn *c, const char *topic, const void *p,
				    size_t len, int *mid)
{
	(void)c, (void)topic, (void)p, (void)len, (void)mid;
	return -ENOTSUP;
}
static inline const char *mqtt_conn_state(const struct mqtt_conn *c) { (void)c; return ""; }
static inline const char *mqtt_conn_server(const struct mqtt_conn *c) { (void)c; return ""; }
static inline void mqtt_conn_close(struct mqtt_conn *c) { (void)c; }

#endif

/* The line that says MQTT is not built in, for an option that needs it. */
#define MQTT_NOT_BUILT "this vigil was built without MQTT (libmosquitto); build it with " \
		       "libmosquitto-dev installed (meson -Dmqtt=enabled)"

#endif
