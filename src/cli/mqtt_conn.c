/* A connection to an MQTT broker, through libmosquitto's non-blocking
 * calls (mosquitto_socket(), mosquitto_loop_read/write/misc()), never its
 * thread: the caller's loop waits on the socket with everything else and
 * has one deadline. See mqtt.h.
 *
 * libmosquitto is told that the program has threads
 * (mosquitto_threaded_set()), which here means one thing: what it queues
 * (a PUBACK for a message received, a PUBLISH, a PINGREQ) waits for
 * mosquitto_loop_write(), which only mqtt_conn_io() on a writable socket
 * and mqtt_conn_flush() call. So a message received is acknowledged only
 * after its owner has made it its own (vigil run: its journal committed).
 */
#include "mqtt.h"

#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "errf.h"

#define NS 1000000000ull
#define KEEPALIVE 60
/* loop_misc() sends the PINGREQ once KEEPALIVE has passed since the last
 * packet; called every quarter of it, a ping leaves in time */
#define MISC_NS (KEEPALIVE * NS / 4)
#define CONNECT_TIMEOUT_NS (30 * NS)
#define BACKOFF_FIRST_NS (NS / 2)
#define BACKOFF_MAX_NS (60 * NS)
/* messages in flight each way (MQTT 5's receive and send maximum) */
#define IN_FLIGHT 100

enum cstate { C_NEW, C_CONNECTING, C_UP, C_WAIT, C_CLOSED };

struct mqtt_conn {
	struct mosquitto *mosq;
	struct mqtt_url url;
	char server[300];
	char *subscribe;
	int version;          /* MQTT_PROTOCOL_V5 or MQTT_PROTOCOL_V311 */
	bool version_auto;
	bool clean;
	bool started;         /* connect_async() done once: reconnect after */
	enum cstate st;
	bool was_up;          /* this attempt got as far as CONNACK */
	bool resumed;         /* the broker had our session */
	uint64_t since;       /* when the attempt began */
	uint64_t retry_at;    /* C_WAIT: the next attempt */
	uint64_t backoff;
	uint64_t misc_at;
	unsigned gen;
	int fd;
	char *said;           /* the last state line said */
	char reason[256];     /* the last error libmosquitto logged */
	uint64_t now;         /* of the call in progress */
	int wake[2];          /* libmosquitto's socket pair (see drain_wake) */
	const struct mqtt_events *ev;
	void *ctx;
};

static int lib_users;

/* --- state lines ------------------------------------------------------------ */

/* Say LINE (up or not), unless it is what was said last. */
__attribute__((format(printf, 3, 4)))
static void say(struct mqtt_conn *c, bool up, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->said && strcmp(c->said, line) == 0)
		return;
	free(c->said);
	c->said = strdup(line);
	if (c->ev->state)
		c->ev->state(c->ctx, up, line);
}

static double secs(uint64_t ns)
{
	return (double)ns / (double)NS;
}

/* The attempt in progress failed (WHY): try again after the backoff. */
static void went_down(struct mqtt_conn *c, const char *why)
{
	if (c->st == C_WAIT || c->st == C_CLOSED)
		return;
	bool was_up = c->st == C_UP || c->was_up;
	if (was_up)
		c->backoff = BACKOFF_FIRST_NS;
	c->st = C_WAIT;
	c->retry_at = c->now + c->backoff;
	c->gen++;
	c->fd = -1;
	/* one line per change: the attempts that fail the same way after it
	 * are not said again */
	if (was_up)
		say(c, false, "lost the connection to '%s': %s; reconnecting, after %.1fs, then "
		    "less and less often (every %.0fs at most)", c->server, why,
		    secs(BACKOFF_FIRST_NS), secs(BACKOFF_MAX_NS));
	else
		say(c, false, "cannot connect to '%s': %s; trying again after %.1fs, then less and "
		    "less often (every %.0fs at most)", c->server, why, secs(BACKOFF_FIRST_NS),
		    secs(BACKOFF_MAX_NS));
	c->backoff = c->backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : c->backoff * 2;
	c->was_up = false;
}

/* Why libmosquitto's RC (with errno E) ended an attempt. */
static const char *why(struct mqtt_conn *c, int rc, int e)
{
	static char buf[320];
	switch (rc) {
	case MOSQ_ERR_ERRNO:
		return e ? cli_strerror(e) : "the connection was closed";
	case MOSQ_ERR_EAI:
		snprintf(buf, sizeof(buf), "cannot find the host '%s'", c->url.host);
		return buf;
	case MOSQ_ERR_TLS:
	case MOSQ_ERR_TLS_HANDSHAKE:
		if (c->reason[0]) {
			/* OpenSSL's own words: "... certificate verify failed" */
			const char *r = strrchr(c->reason, ':');
			snprintf(buf, sizeof(buf), "TLS: %s", r && r[1] ? r + 1 : c->reason);
			return buf;
		}
		return "TLS failed";
	case MOSQ_ERR_KEEPALIVE:
		return "no answer to a ping within the keepalive";
	case MOSQ_ERR_CONN_LOST:
	case MOSQ_ERR_NO_CONN:
		return "the connection was closed";
	case MOSQ_ERR_PROTOCOL:
	case MOSQ_ERR_MALFORMED_PACKET:
		return "the broker broke the protocol";
	default:
		return mosquitto_strerror(rc);
	}
}

/* --- libmosquitto's callbacks ---------------------------------------------- */

static void on_log(struct mosquitto *m, void *obj, int level, const char *s)
{
	(void)m;
	struct mqtt_conn *c = obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		snprintf(c->reason, sizeof(c->reason), "%s", s);
}

static const char *connack_words(struct mqtt_conn *c, int rc)
{
	static char buf[160];
	if (c->version == MQTT_PROTOCOL_V5) {
		switch (rc) {
		case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
			return "the broker refused the user name or password (see --mqtt-auth)";
		case MQTT_RC_NOT_AUTHORIZED:
			return "the broker says this client is not authorized (see --mqtt-auth)";
		default:
			snprintf(buf, sizeof(buf), "the broker refused the connection: %s",
				 mosquitto_reason_string(rc));
			return buf;
		}
	}
	switch (rc) {
	case 4:
		return "the broker refused the user name or password (see --mqtt-auth)";
	case 5:
		return "the broker says this client is not authorized (see --mqtt-auth)";
	default:
		snprintf(buf, sizeof(buf), "the broker refused the connection: %s",
			 mosquitto_connack_string(rc));
		for (char *p = buf; *p; p++)
			if (*p == '.' && !p[1])
				*p = '\0';
		return buf;
	}
}

/* "MQTT 5, session resumed" */
static const char *session(const struct mqtt_conn *c)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "MQTT %s, %s", c->version == MQTT_PROTOCOL_V5 ? "5" : "3.1.1",
		 c->clean ? "no session kept" : c->resumed ? "session resumed" : "new session");
	return buf;
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	(void)props;
	struct mqtt_conn *c = obj;
	if (rc != 0) {
		bool unsupported = c->version == MQTT_PROTOCOL_V5 ?
				   rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION : rc == 1;
		if (unsupported && c->version_auto && c->version == MQTT_PROTOCOL_V5) {
			/* a broker of MQTT 3.1.1 only: ask again in its words */
			c->version = MQTT_PROTOCOL_V311;
			mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
			say(c, false, "'%s' speaks MQTT 3.1.1, not 5: speaking 3.1.1", c->server);
			c->backoff = 0;
		}
		went_down(c, connack_words(c, rc));
		mosquitto_disconnect(m);
		return;
	}
	c->st = C_UP;
	c->was_up = true;
	c->resumed = flags & 1;
	c->backoff = BACKOFF_FIRST_NS;
	c->misc_at = c->now + MISC_NS;
	if (c->subscribe) {
		int mid;
		int r = mosquitto_subscribe_v5(m, &mid, c->subscribe, 1, 0, NULL);
		if (r != MOSQ_ERR_SUCCESS)
			say(c, false, "cannot subscribe to '%s' at '%s': %s", c->subscribe, c->server,
			    mosquitto_strerror(r));
		/* up once the broker grants it (on_subscribe) */
		return;
	}
	say(c, true, "connected to '%s' (%s)", c->server, session(c));
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
			 const mosquitto_property *props)
{
	(void)m, (void)mid, (void)props;
	struct mqtt_conn *c = obj;
	if (n < 1 || granted[0] > 2) {
		say(c, false, "'%s' refused the subscription to '%s' (%s); waiting for nothing",
		    c->server, c->subscribe,
		    n < 1 ? "no answer" : c->version == MQTT_PROTOCOL_V5 ?
		    mosquitto_reason_string(granted[0]) : "failure");
		return;
	}
	say(c, true, "connected to '%s' (%s), subscribed to '%s'", c->server, session(c),
	    c->subscribe);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *p)
{
	(void)m, (void)p;
	struct mqtt_conn *c = obj;
	int e = errno;
	if (c->st == C_CLOSED)
		return;
	if (rc == MQTT_RC_SESSION_TAKEN_OVER) {
		went_down(c, "another client connected with this client id (give each its own "
			  "--mqtt-client-id, or --state)");
		return;
	}
	if (rc >= 0x80) {
		char buf[160];
		snprintf(buf, sizeof(buf), "the broker closed the connection: %s",
			 mosquitto_reason_string(rc));
		went_down(c, buf);
		return;
	}
	went_down(c, rc == 0 ? "the broker closed the connection" : why(c, rc, e));
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason,
		       const mosquitto_property *props)
{
	(void)m, (void)props;
	struct mqtt_conn *c = obj;
	int e = errno;
	if (c->ev->acked)
		c->ev->acked(c->ctx, mid, reason);
	errno = e; /* libmosquitto reads its socket dry by errno (EAGAIN) */
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	(void)m, (void)props;
	struct mqtt_conn *c = obj;
	int e = errno;
	if (c->ev->message)
		c->ev->message(c->ctx, msg->topic, msg->payload, (size_t)msg->payloadlen);
	errno = e; /* libmosquitto reads its socket dry by errno (EAGAIN) */
}

/* --- set-up ----------------------------------------------------------------- */

/* The credentials in FILE: its first line (the password, with the URL's
 * USER; else USER:PASSWORD). As root, a file others may read or write is
 * refused. */
static int read_auth(const char *file, const char *user, char **ret_user, char **ret_pass,
		     char **err)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		*err = errf("cannot read the credentials in '%s': %s", file, cli_strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (geteuid() == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		*err = errf("'%s' can be read or written by others (mode %04o); as root, "
			    "vigil takes credentials only from a file of mode 0600 or "
			    "stricter", file, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = errf("'%s' is not a regular file; give a file holding the password",
			    file);
		close(fd);
		return -EINVAL;
	}
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		int e = errno;
		*err = errf("cannot read the credentials in '%s': %s", file, cli_strerror(e));
		return -e;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	size_t len = strlen(buf);
	if (len && buf[len - 1] == '\r')
		buf[--len] = '\0';
	char *u = NULL, *p;
	if (user) {
		u = strdup(user);
		p = strdup(buf);
	} else {
		char *colon = strchr(buf, ':');
		if (!colon || colon == buf) {
			*err = errf("'%s' holds no USER:PASSWORD on its first line (or name "
				    "the user in the URL, as mqtt://USER@HOST/..., and the file "
				    "holds the password)", file);
			explicit_bzero(buf, sizeof(buf));
			return -EINVAL;
		}
		u = strndup(buf, (size_t)(colon - buf));
		p = strdup(colon + 1);
	}
	explicit_bzero(buf, sizeof(buf));
	if (!u || !p) {
		free(u);
		if (p)
			explicit_bzero(p, strlen(p));
		free(p);
		*err = NULL;
		return -ENOMEM;
	}
	*ret_user = u;
	*ret_pass = p;
	return 0;
}

static int readable(const char *what, const char *file, char **err)
{
	if (access(file, R_OK) == 0)
		return 0;
	int e = errno;
	*err = errf("cannot read the %s '%s': %s", what, file, cli_strerror(e));
	return -e;
}

/* Every fd libmosquitto opens is close-on-exec, so that no job inherits
 * the broker's socket (which would keep the connection open past vigil's
 * death) or the socket pair it makes for itself. */
static void cloexec_from(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* The fds open now, as a bitmap of the first 4096. */
static void open_fds(unsigned char *map)
{
	memset(map, 0, 512);
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			map[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

/* libmosquitto opened fds between BEFORE and AFTER (mosquitto_new(), and
 * the first connect call, which makes its socket pair anew, perhaps under
 * the numbers of the old one): each is made close-on-exec, and the two
 * ends of its socket pair are kept (see drain_wake()). */
static void new_fds(struct mqtt_conn *c, const unsigned char *before, const unsigned char *after)
{
	int old[2] = {c->wake[0], c->wake[1]}, n = 0;
	int sock = c->mosq ? mosquitto_socket(c->mosq) : -1;
	c->wake[0] = c->wake[1] = -1;
	for (int fd = 0; fd < 4096; fd++) {
		bool open = after[fd / 8] & (1u << (fd % 8));
		bool was = before[fd / 8] & (1u << (fd % 8));
		if (!open || (was && fd != old[0] && fd != old[1]) || fd == sock)
			continue;
		cloexec_from(fd);
		int domain = 0;
		socklen_t len = sizeof(domain);
		if (n < 2 && getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		    domain == AF_UNIX)
			c->wake[n++] = fd;
	}
}

int mqtt_conn_new(const struct mqtt_url *url, const struct mqtt_opts *o, const char *subscribe,
		  const struct mqtt_events *ev, void *ctx, struct mqtt_conn **ret, char **err)
{
	*err = NULL;
	struct mqtt_conn *c = calloc(1, sizeof(*c));
	char *user = NULL, *pass = NULL;
	int r = -ENOMEM;
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->wake[0] = c->wake[1] = -1;
	c->ev = ev;
	c->ctx = ctx;
	c->clean = o->clean;
	c->backoff = BACKOFF_FIRST_NS;
	c->version = o->version == 4 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
	c->version_auto = o->version == 0;
	if (!(c->url.host = strdup(url->host)) || !(c->url.topic = strdup(url->topic)) ||
	    (url->user && !(c->url.user = strdup(url->user))) ||
	    (subscribe && !(c->subscribe = strdup(subscribe))))
		goto fail;
	c->url.tls = url->tls;
	c->url.port = url->port;
	mqtt_url_server(url, c->server, sizeof(c->server));
	if (o->auth_file && (r = read_auth(o->auth_file, url->user, &user, &pass, err)) < 0)
		goto fail;
	if ((o->ca_file && (r = readable("CA file", o->ca_file, err)) < 0) ||
	    (o->cert_file && (r = readable("certificate", o->cert_file, err)) < 0) ||
	    (o->key_file && (r = readable("key", o->key_file, err)) < 0))
		goto fail;
	if (!lib_users++)
		mosquitto_lib_init();
	unsigned char before[512], after[512];
	open_fds(before);
	c->mosq = mosquitto_new(o->client_id, o->clean, c);
	open_fds(after);
	new_fds(c, before, after);
	if (!c->mosq) {
		r = errno == EINVAL ? -EINVAL : -ENOMEM;
		if (r == -EINVAL)
			*err = errf("'%s' cannot be a client id", o->client_id);
		goto fail;
	}
	mosquitto_threaded_set(c->mosq, true);
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, c->version);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(c->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, IN_FLIGHT);
	mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, IN_FLIGHT);
	mosquitto_max_inflight_messages_set(c->mosq, IN_FLIGHT);
	mosquitto_log_callback_set(c->mosq, on_log);
	mosquitto_connect_v5_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(c->mosq, on_publish);
	mosquitto_message_v5_callback_set(c->mosq, on_message);
	mosquitto_subscribe_v5_callback_set(c->mosq, on_subscribe);
	if (user && mosquitto_username_pw_set(c->mosq, user, pass) != MOSQ_ERR_SUCCESS)
		goto fail;
	if (!user && url->user && mosquitto_username_pw_set(c->mosq, url->user, NULL))
		goto fail;
	if (url->tls) {
		int rc;
		if (o->ca_file || o->cert_file) {
			rc = mosquitto_tls_set(c->mosq, o->ca_file, o->ca_file ? NULL : "/etc/ssl/certs",
					       o->cert_file, o->key_file, NULL);
		} else {
			rc = mosquitto_int_option(c->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		}
		if (rc != MOSQ_ERR_SUCCESS) {
			*err = errf("cannot set up TLS for '%s': %s%s%s", c->server,
				    mosquitto_strerror(rc), c->reason[0] ? ": " : "", c->reason);
			r = -EINVAL;
			goto fail;
		}
	}
	if (!o->clean && c->version == MQTT_PROTOCOL_V5) {
		/* MQTT 5 keeps a session only as long as the client asks (0:
		 * not past the connection); this one is kept for good, as
		 * MQTT 3.1.1 keeps one. The properties are stored by the
		 * connect call that takes them, which is a blocking one; a
		 * keepalive it refuses (under 5s) stops it right there, and
		 * connect_async() then uses them. */
		mosquitto_property *props = NULL;
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, UINT32_MAX);
		int rc = mosquitto_connect_bind_v5(c->mosq, c->url.host, c->url.port, 1, NULL, props);
		mosquitto_property_free_all(&props);
		if (rc != MOSQ_ERR_INVAL)
			goto fail; /* it connected, or failed otherwise: cannot be */
	}
	if (pass)
		explicit_bzero(pass, strlen(pass));
	free(user);
	free(pass);
	*ret = c;
	return 0;
fail:
	if (pass)
		explicit_bzero(pass, strlen(pass));
	free(user);
	free(pass);
	if (!*err && r == -ENOMEM)
		*err = NULL;
	else if (!*err)
		*err = errf("cannot set up the connection to '%s'", c->server);
	mqtt_conn_free(c);
	return r < 0 ? r : -EINVAL;
}

void mqtt_conn_free(struct mqtt_conn *c)
{
	if (!c)
		return;
	if (c->mosq) {
		mosquitto_destroy(c->mosq);
		if (!--lib_users)
			mosquitto_lib_cleanup();
	}
	mqtt_url_fini(&c->url);
	free(c->subscribe);
	free(c->said);
	free(c);
}

/* --- the connection's life -------------------------------------------------- */

static void attempt(struct mqtt_conn *c)
{
	c->reason[0] = '\0';
	c->since = c->now;
	c->st = C_CONNECTING;
	c->was_up = false;
	unsigned char before[512], after[512];
	open_fds(before);
	errno = 0;
	int rc = c->started ? mosquitto_reconnect_async(c->mosq) :
		 mosquitto_connect_bind_async(c->mosq, c->url.host, c->url.port, KEEPALIVE, NULL);
	int e = errno;
	open_fds(after);
	new_fds(c, before, after);
	c->started = true;
	c->gen++;
	c->fd = mosquitto_socket(c->mosq);
	cloexec_from(c->fd);
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_CONN_PENDING) {
		c->fd = -1;
		went_down(c, why(c, rc, e));
		return;
	}
	c->misc_at = c->now + MISC_NS;
}

void mqtt_conn_start(struct mqtt_conn *c, uint64_t now)
{
	c->now = now;
	if (c->st == C_NEW)
		attempt(c);
}

int mqtt_conn_fd(const struct mqtt_conn *c, uint32_t *ret_events, unsigned *ret_gen)
{
	*ret_gen = c->gen;
	if (c->st != C_CONNECTING && c->st != C_UP) {
		*ret_events = 0;
		return -1;
	}
	int fd = mosquitto_socket(c->mosq);
	*ret_events = POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0);
	return fd;
}

/* After a call of libmosquitto that returned RC (with errno E): an error
 * that its callbacks have not said ends the attempt. */
static void after(struct mqtt_conn *c, int rc, int e)
{
	if (rc == MOSQ_ERR_SUCCESS || c->st == C_WAIT || c->st == C_CLOSED)
		return;
	if (rc == MOSQ_ERR_NO_CONN && mosquitto_socket(c->mosq) < 0)
		rc = MOSQ_ERR_CONN_LOST;
	went_down(c, why(c, rc, e));
	mosquitto_disconnect(c->mosq);
}

/* libmosquitto, told of threads, writes a byte to a socket pair of its
 * own for each packet it queues, to wake the thread that would run its
 * loop. There is none here: the pair fills, and each write then fails
 * with EAGAIN, which mosquitto_loop_read() takes for a socket read dry,
 * and so it reads one packet a call (one PUBACK a turn of vigil's loop,
 * and a journal commit for each). Emptied before each read, it takes
 * every write of a turn. */
static void drain_wake(struct mqtt_conn *c)
{
	char buf[512];
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			while (recv(c->wake[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
}

static void write_out(struct mqtt_conn *c)
{
	if ((c->st != C_CONNECTING && c->st != C_UP) || !mosquitto_want_write(c->mosq))
		return;
	/* libmosquitto writes each packet on its own: corked, those of one
	 * turn of the loop leave in as few segments as they fill (and the
	 * broker reads them, and answers, in as few) */
	int fd = mosquitto_socket(c->mosq), on = 1, off = 0;
	bool corked = fd >= 0 && c->st == C_UP &&
		      setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == 0;
	errno = 0;
	int rc = mosquitto_loop_write(c->mosq, 1);
	int e = errno;
	if (corked)
		setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	after(c, rc, e);
}

void mqtt_conn_io(struct mqtt_conn *c, uint32_t revents, uint64_t now)
{
	c->now = now;
	if (c->st != C_CONNECTING && c->st != C_UP)
		return;
	if (revents & (POLLOUT | POLLERR | POLLHUP))
		write_out(c);
	if ((revents & (POLLIN | POLLERR | POLLHUP)) && (c->st == C_CONNECTING || c->st == C_UP)) {
		/* errno cleared: libmosquitto reads packets until one ends on
		 * EAGAIN, which it tells by errno alone */
		for (int i = 0; i < 64 && (c->st == C_CONNECTING || c->st == C_UP); i++) {
			drain_wake(c);
			errno = 0;
			int rc = mosquitto_loop_read(c->mosq, IN_FLIGHT);
			int e = errno;
			after(c, rc, e);
			if (rc != MOSQ_ERR_SUCCESS || e == EAGAIN || e == EWOULDBLOCK)
				break;
		}
	}
}

uint64_t mqtt_conn_timer(struct mqtt_conn *c, uint64_t now)
{
	c->now = now;
	switch (c->st) {
	case C_WAIT:
		if (now >= c->retry_at)
			attempt(c);
		break;
	case C_CONNECTING:
		if (now - c->since >= CONNECT_TIMEOUT_NS) {
			went_down(c, "no answer within 30s");
			mosquitto_disconnect(c->mosq);
			break;
		}
		/* fall through */
	case C_UP:
		if (now >= c->misc_at) {
			errno = 0;
			int rc = mosquitto_loop_misc(c->mosq);
			after(c, rc, errno);
			c->misc_at = now + MISC_NS;
			write_out(c);
		}
		break;
	default:
		break;
	}
	switch (c->st) {
	case C_WAIT:
		return c->retry_at;
	case C_CONNECTING: {
		uint64_t t = c->since + CONNECT_TIMEOUT_NS;
		return t < c->misc_at ? t : c->misc_at;
	}
	case C_UP:
		return c->misc_at;
	default:
		return 0;
	}
}

void mqtt_conn_flush(struct mqtt_conn *c)
{
	write_out(c);
}

bool mqtt_conn_up(const struct mqtt_conn *c)
{
	return c->st == C_UP;
}

int mqtt_conn_publish(struct mqtt_conn *c, const char *topic, const void *payload, size_t len,
		      int *ret_mid)
{
	if (c->st != C_UP)
		return -ENOTCONN;
	if (len > 256u * 1024 * 1024)
		return -EMSGSIZE;
	int rc = mosquitto_publish_v5(c->mosq, ret_mid, topic, (int)len, payload, 1, false, NULL);
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		return 0;
	case MOSQ_ERR_NOMEM:
		return -ENOMEM;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return -EMSGSIZE;
	case MOSQ_ERR_INVAL:
	case MOSQ_ERR_MALFORMED_UTF8:
		return -EINVAL;
	default:
		/* the connection went while it was queued: it is sent on the
		 * next one */
		return 0;
	}
}

const char *mqtt_conn_state(const struct mqtt_conn *c)
{
	switch (c->st) {
	case C_UP: return "connected";
	case C_CONNECTING:
	case C_NEW: return "connecting";
	default: return "disconnected";
	}
}

const char *mqtt_conn_server(const struct mqtt_conn *c)
{
	return c->server;
}

void mqtt_conn_close(struct mqtt_conn *c)
{
	enum cstate was = c->st;
	/* what waits (acknowledgements, messages) goes first, as far as the
	 * socket takes it now */
	write_out(c);
	c->st = C_CLOSED; /* what follows is not a loss to say */
	if (was == C_UP || was == C_CONNECTING) {
		mosquitto_disconnect(c->mosq);
		if (was == C_UP && mosquitto_want_write(c->mosq))
			mosquitto_loop_write(c->mosq, 1);
	}
	c->fd = -1;
	c->gen++;
}
