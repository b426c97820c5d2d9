/* MQTT, what comes from elsewhere: a message read (mqtt_read()), each file
 * of it written again (mqtt_file_json()) and read back to the same bytes;
 * and broker URLs (mqtt_url_parse()), whose parts are printed back.
 * Input: the first byte picks (0 a message, 1 a URL to publish to, 2 one
 * to subscribe to); the rest is the text. */
#include <errno.h>

#include "fuzz.h"
#include "mqtt.h"

static void message(const char *s, size_t len)
{
	struct mqtt_read r;
	const char *why;
	int e = mqtt_read(s, len, &r, &why);
	fuzz_assert(e == 0 || e == -EINVAL || e == -ENOMEM, "mqtt_read: %d", e);
	if (e < 0) {
		fuzz_assert(why && *why, "a refusal without a reason");
		return;
	}
	fuzz_assert(r.n > 0, "read, with no file");
	for (size_t i = 0; i < r.n; i++) {
		const struct mqtt_file *f = &r.files[i];
		fuzz_assert(f->path_len && !memchr(f->path, '\0', f->path_len), "a bad path read");
		char *out = NULL;
		size_t olen = 0;
		FILE *o = open_memstream(&out, &olen);
		fuzz_assert(o, "open_memstream");
		mqtt_file_json(o, f, "h", "r");
		fclose(o);
		struct mqtt_read back;
		e = mqtt_read(out, olen, &back, &why);
		fuzz_assert(e == 0, "its own writing not read back (%s): %s", why, out);
		fuzz_assert(back.n == 1 && back.files[0].path_len == f->path_len &&
			    memcmp(back.files[0].path, f->path, f->path_len) == 0,
			    "the path changed: %s", out);
		fuzz_assert((back.files[0].from == NULL) == (f->from == NULL) &&
			    (!f->from || (back.files[0].from_len == f->from_len &&
					  memcmp(back.files[0].from, f->from, f->from_len) == 0)),
			    "from changed: %s", out);
		mqtt_read_fini(&back);
		free(out);
	}
	mqtt_read_fini(&r);
}

static void url(const char *s, enum mqtt_role role)
{
	struct mqtt_url u;
	char *err = NULL;
	if (mqtt_url_parse(s, role, &u, &err) < 0) {
		free(err);
		return;
	}
	fuzz_assert(u.host && *u.host && u.topic && *u.topic && u.port > 0 && u.port < 65536,
		    "parts of '%s'", s);
	fuzz_assert(role == MQTT_SUBSCRIBE || (!strchr(u.topic, '+') && !strchr(u.topic, '#')),
		    "a wildcard to publish to in '%s'", s);
	char buf[600];
	mqtt_url_server(&u, buf, sizeof(buf));
	fuzz_assert(!strchr(buf, ':') || strchr(buf, ':') != buf, "server of '%s'", s);
	mqtt_url_fini(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		message(s, size - 1);
		break;
	case 1:
		url(s, MQTT_PUBLISH);
		break;
	default:
		url(s, MQTT_SUBSCRIBE);
	}
	free(s);
	return 0;
}
