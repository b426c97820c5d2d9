/* Broker URLs: mqtt[s]://[user@]host[:port]/TOPIC. See mqtt.h. */
#include "mqtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errf.h"

/* Whether the LEN bytes at S are UTF-8 (no overlong forms, no surrogates). */
static bool utf8_ok(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07;
		else
			return false;
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

bool mqtt_topic_ok(const char *topic, size_t len)
{
	if (len == 0 || len > 65535 || memchr(topic, '\0', len) || memchr(topic, '+', len) ||
	    memchr(topic, '#', len))
		return false;
	return utf8_ok((const unsigned char *)topic, len);
}

/* A topic filter's wildcards: '+' a whole level, '#' a whole last level. */
static const char *filter_problem(const char *t)
{
	size_t len = strlen(t);
	for (size_t i = 0; i < len; i++) {
		bool start = i == 0 || t[i - 1] == '/';
		bool end = i + 1 == len || t[i + 1] == '/';
		if (t[i] == '+' && !(start && end))
			return "'+' stands for a whole level only, as in 'a/+/c'";
		if (t[i] == '#' && !(start && i + 1 == len))
			return "'#' stands for the whole rest only, as the last level, as in 'a/#'";
	}
	return NULL;
}

int mqtt_url_parse(const char *s, enum mqtt_role role, struct mqtt_url *ret, char **err)
{
	struct mqtt_url u = {0};
	*err = NULL;
	const char *p;
	if (strncmp(s, "mqtt://", 7) == 0) {
		p = s + 7;
	} else if (strncmp(s, "mqtts://", 8) == 0) {
		p = s + 8;
		u.tls = true;
	} else {
		*err = errf("'%s' is not a broker URL; give mqtt://HOST[:PORT]/TOPIC, or "
			    "mqtts:// for TLS", s);
		return -1;
	}
	u.port = u.tls ? 8883 : 1883;
	const char *slash = strchr(p, '/');
	if (!slash || !slash[1]) {
		*err = errf("'%s' names no topic; give mqtt://HOST[:PORT]/TOPIC", s);
		return -1;
	}
	const char *at = memchr(p, '@', (size_t)(slash - p));
	if (at) {
		if (memchr(p, ':', (size_t)(at - p))) {
			*err = errf("'%s' holds a password; give it in a file, with --mqtt-auth "
				    "FILE, never on the command line", s);
			return -1;
		}
		if (at == p) {
			*err = errf("'%s' has an empty user name before '@'", s);
			return -1;
		}
		if (!(u.user = strndup(p, (size_t)(at - p))))
			goto nomem;
		p = at + 1;
	}
	const char *host_end, *port = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(slash - p));
		if (!close || close == p + 1 || (close[1] != ':' && close + 1 != slash)) {
			*err = errf("'%s' has an IPv6 address that is not closed right; give "
				    "mqtt://[::1]:1883/TOPIC", s);
			goto fail;
		}
		u.host = strndup(p + 1, (size_t)(close - p - 1));
		host_end = close + 1;
	} else {
		host_end = memchr(p, ':', (size_t)(slash - p));
		if (!host_end)
			host_end = slash;
		u.host = strndup(p, (size_t)(host_end - p));
	}
	if (!u.host)
		goto nomem;
	if (!*u.host) {
		*err = errf("'%s' names no host", s);
		goto fail;
	}
	for (const char *h = u.host; *h; h++) {
		if (*h <= ' ' || *h == 0x7f || strchr("/?#@[]\\", *h)) {
			*err = errf("'%s' has a host name with '%c' in it", s, *h);
			goto fail;
		}
	}
	if (*host_end == ':') {
		port = host_end + 1;
		long n = 0;
		const char *d = port;
		for (; d < slash && *d >= '0' && *d <= '9' && n <= 65535; d++)
			n = n * 10 + (*d - '0');
		if (d == port || d != slash || n < 1 || n > 65535) {
			*err = errf("'%s' has a port that is not a number from 1 to 65535", s);
			goto fail;
		}
		u.port = (int)n;
	}
	if (!(u.topic = strdup(slash + 1)))
		goto nomem;
	size_t tlen = strlen(u.topic);
	if (tlen > 65535 || !utf8_ok((const unsigned char *)u.topic, tlen)) {
		*err = errf("'%s': a topic is UTF-8 text of at most 65535 bytes", s);
		goto fail;
	}
	if (role == MQTT_PUBLISH && (strchr(u.topic, '+') || strchr(u.topic, '#'))) {
		*err = errf("'%s': a topic to publish to has no '+' or '#' (those are for "
			    "subscribing)", s);
		goto fail;
	}
	if (role == MQTT_SUBSCRIBE) {
		const char *why = filter_problem(u.topic);
		if (why) {
			*err = errf("'%s': %s", s, why);
			goto fail;
		}
		if (strncmp(u.topic, "$share/", 7) == 0) {
			*err = errf("'%s': give the group with --share GROUP, and the topic "
				    "alone", s);
			goto fail;
		}
	}
	*ret = u;
	return 0;
nomem:
	*err = NULL;
fail:
	mqtt_url_fini(&u);
	return -1;
}

void mqtt_url_fini(struct mqtt_url *u)
{
	free(u->user);
	free(u->host);
	free(u->topic);
	*u = (struct mqtt_url){0};
}

const char *mqtt_url_server(const struct mqtt_url *u, char *buf, size_t size)
{
	bool v6 = strchr(u->host, ':') != NULL;
	snprintf(buf, size, "%s://%s%s%s%s%s:%d", u->tls ? "mqtts" : "mqtt",
		 u->user ? u->user : "", u->user ? "@" : "", v6 ? "[" : "", u->host,
		 v6 ? "]" : "", u->port);
	return buf;
}
