/* Rules: their defaults, their keys and values, and the filters that say
 * whether a path is a rule's business. */
#include "rule.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include <vigil.h>

#include "errf.h"
#include "mqtt.h"

#define MS 1000000ull
#define SEC 1000000000ull

#define DEFAULT_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO)

/* Limits on counts: past these a value is a typo, not a wish. */
#define MAX_BATCH 100000u
#define MAX_JOBS 4096u
#define MAX_LOOP_BURST 1000000u
#define MAX_RETRY 1000000u

/* Durations stop here, so that the loop can add one to a clock reading
 * (int64 nanoseconds) without overflow. */
#define MAX_DURATION_NS ((uint64_t)INT64_MAX / 2)

static char *memdup0(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->len; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->len = 0;
}

/* Append LEN bytes of STR, keeping v[len] NULL. */
static int strv_push(struct strv *s, const char *str, size_t len)
{
	char **v = realloc(s->v, (s->len + 2) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	char *copy = memdup0(str, len);
	if (!copy)
		return -ENOMEM;
	v[s->len++] = copy;
	v[s->len] = NULL;
	return 0;
}

/* ---- words ---------------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A word grows in a buffer of its own; at most strlen(s) bytes long. */
int split_words(const char *s, struct strv *ret, char **err)
{
	struct strv words = { 0 };
	size_t len = strlen(s);
	char *buf = malloc(len + 1);
	*err = NULL;
	if (!buf)
		return -1;
	size_t i = 0;
	for (;;) {
		while (i < len && is_blank(s[i]))
			i++;
		if (i >= len)
			break;
		size_t n = 0;
		while (i < len && !is_blank(s[i])) {
			char c = s[i++];
			if (c == '\'') {
				const char *end = memchr(s + i, '\'', len - i);
				if (!end) {
					*err = errf("unbalanced ' quote");
					goto fail;
				}
				memcpy(buf + n, s + i, (size_t)(end - (s + i)));
				n += (size_t)(end - (s + i));
				i = (size_t)(end - s) + 1;
			} else if (c == '"') {
				for (;;) {
					if (i >= len) {
						*err = errf("unbalanced \" quote");
						goto fail;
					}
					c = s[i++];
					if (c == '"')
						break;
					if (c == '\\' && i < len &&
					    (s[i] == '"' || s[i] == '\\'))
						c = s[i++];
					buf[n++] = c;
				}
			} else if (c == '\\') {
				if (i >= len) {
					*err = errf("a trailing backslash escapes nothing");
					goto fail;
				}
				buf[n++] = s[i++];
			} else {
				buf[n++] = c;
			}
		}
		if (strv_push(&words, buf, n) < 0)
			goto fail;
	}
	free(buf);
	*ret = words;
	return 0;
fail:
	free(buf);
	strv_free(&words);
	return -1;
}

/* ---- values --------------------------------------------------------- */

int parse_duration(const char *s, uint64_t *ns)
{
	/* By hand rather than strtod(): no locale's decimal comma, no hex,
	 * no "inf", no rounding. */
	uint64_t whole = 0;
	size_t i = 0, frac = 0, frac_end = 0;
	if (s[i] < '0' || s[i] > '9')
		return -1;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -1;
		whole = whole * 10 + (uint64_t)(s[i] - '0');
	}
	if (s[i] == '.') {
		frac = ++i;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
		frac_end = i;
	}
	static const struct { const char *suffix; uint64_t ns; } units[] = {
		{ "", SEC }, { "ms", MS }, { "s", SEC }, { "m", 60 * SEC },
		{ "h", 3600 * SEC }, { "d", 86400 * SEC },
	};
	for (size_t u = 0; u < sizeof(units) / sizeof(*units); u++) {
		if (strcmp(s + i, units[u].suffix))
			continue;
		uint64_t unit = units[u].ns;
		if (whole > MAX_DURATION_NS / unit)
			return -1;
		/* The fraction's share, floor(unit * 0.f1f2...fk), exactly and
		 * in 64 bits: from the last digit back, part = (fi * unit +
		 * part) / 10, as floor((n + floor(x)) / 10) = floor((n + x) / 10). */
		uint64_t part = 0;
		for (size_t k = frac_end; k > frac; k--)
			part = ((uint64_t)(s[k - 1] - '0') * unit + part) / 10;
		uint64_t total = whole * unit;
		if (part > MAX_DURATION_NS - total)
			return -1;
		*ns = total + part;
		return 0;
	}
	return -1;
}

static const struct { const char *name; int sig; } signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },
	{ "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO }, { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int parse_signal(const char *s, int *ret_sig)
{
	if (s[0] >= '0' && s[0] <= '9') {
		int n = 0;
		for (size_t i = 0; s[i]; i++) {
			if (s[i] < '0' || s[i] > '9' || n > 1000)
				return -1;
			n = n * 10 + (s[i] - '0');
		}
		if (n < 1 || n > SIGRTMAX)
			return -1;
		*ret_sig = n;
		return 0;
	}
	const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (size_t i = 0; i < sizeof(signals) / sizeof(*signals); i++) {
		if (strcasecmp(name, signals[i].name) == 0) {
			*ret_sig = signals[i].sig;
			return 0;
		}
	}
	return -1;
}

const char *signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(*signals); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return NULL;
}

static int parse_count(const char *s, unsigned min, unsigned max,
		       unsigned *ret, char **err)
{
	unsigned long long n = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9' && n <= max; i++)
		n = n * 10 + (unsigned long long)(s[i] - '0');
	if (i == 0 || s[i] || n < min || n > max) {
		*err = errf("'%s' is not a whole number from %u to %u", s, min,
			    max);
		return -1;
	}
	*ret = (unsigned)n;
	return 0;
}

static int parse_bool(const char *s, bool *ret, char **err)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };
	if (!s) {
		*ret = true;
		return 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	*err = errf("'%s' is not yes or no; give yes, no, true, false, 1 or 0",
		    s);
	return -1;
}

static int set_duration(const char *s, uint64_t *ns, char **err)
{
	if (parse_duration(s, ns) < 0) {
		*err = errf("'%s' is not a valid duration; give 500ms, 2s, 1.5m or 1h",
			    s);
		return -1;
	}
	return 0;
}

/* VALUE among NAMES (N of them, spelled out in LIST for the message). */
static int set_choice(const char *value, const char *const *names, size_t n,
		      const char *list, int *ret, char **err)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(value, names[i]) == 0) {
			*ret = (int)i;
			return 0;
		}
	}
	*err = errf("'%s' is not one of %s", value, list);
	return -1;
}

/* ---- the rule ------------------------------------------------------- */

/* Every default, in one place; rule.h and vigil-rules(5) list them. */
static const struct rule rule_default = {
	.events = DEFAULT_EVENTS,
	.settle_ns = 100 * MS,
	.batch = 1,
	.batch_wait_ns = 1 * SEC,
	.jobs = 1,
	.on_busy = BUSY_QUEUE,
	.stop_signal = SIGTERM,
	.stop_timeout_ns = 10 * SEC,
	.loop_burst = 10,
	.loop_window_ns = 1 * SEC,
	.state_sync = 2, /* JSYNC_GROUP */
	.retry_delay_ns = 10 * SEC,
	.retry_max_delay_ns = 3600 * SEC,
	.success_status = {1}, /* 0 */
};

int rule_init(struct rule *r, const char *name)
{
	*r = rule_default;
	r->name = memdup0(name, strlen(name));
	return r->name ? 0 : -ENOMEM;
}

static void free_regexes(struct rule *r)
{
	for (size_t i = 0; r->exclude_rx && i < r->exclude_re.len; i++)
		regfree(&r->exclude_rx[i]);
	free(r->exclude_rx);
	r->exclude_rx = NULL;
	strv_free(&r->exclude_re);
}

void rule_fini(struct rule *r)
{
	free(r->name);
	strv_free(&r->paths);
	strv_free(&r->match);
	strv_free(&r->exclude);
	free_regexes(r);
	strv_free(&r->argv);
	free(r->state);
	free(r->publish);
	free(r->subscribe);
	free(r->share);
	strv_free(&r->map);
	free(r->mqtt_auth);
	free(r->mqtt_ca);
	free(r->mqtt_cert);
	free(r->mqtt_key);
	free(r->mqtt_client_id);
	*r = (struct rule){ 0 };
}

enum key {
	K_PATH, K_RECURSIVE, K_EVENT, K_MATCH, K_EXCLUDE, K_EXCLUDE_REGEX,
	K_FILES, K_DIRS, K_HIDDEN, K_SETTLE, K_BATCH, K_BATCH_WAIT, K_JOBS,
	K_MIN_INTERVAL, K_ON_BUSY, K_STOP_SIGNAL, K_STOP_TIMEOUT, K_TIMEOUT,
	K_INITIAL, K_STDIN, K_LOOP_BURST, K_LOOP_WINDOW, K_COMMAND, K_BACKEND,
	K_POLL_INTERVAL, K_STATE, K_STATE_SYNC, K_RETRY, K_RETRY_DELAY, K_RETRY_MAX_DELAY, K_SUCCESS,
	K_PUBLISH, K_SUBSCRIBE, K_SHARE, K_MAP, K_MQTT_AUTH, K_MQTT_CA, K_MQTT_CERT, K_MQTT_KEY,
	K_MQTT_CLIENT_ID, K_MQTT_VERSION,
};

static const struct {
	const char *name;
	enum key key;
	bool flag, repeats;
} keys[] = {
	{ "path", K_PATH, false, true },
	{ "recursive", K_RECURSIVE, true, false },
	{ "event", K_EVENT, false, true },
	{ "events", K_EVENT, false, true },
	{ "match", K_MATCH, false, true },
	{ "exclude", K_EXCLUDE, false, true },
	{ "exclude-regex", K_EXCLUDE_REGEX, false, true },
	{ "files", K_FILES, true, false },
	{ "dirs", K_DIRS, true, false },
	{ "hidden", K_HIDDEN, true, false },
	{ "settle", K_SETTLE, false, false },
	{ "batch", K_BATCH, false, false },
	{ "batch-wait", K_BATCH_WAIT, false, false },
	{ "jobs", K_JOBS, false, false },
	{ "min-interval", K_MIN_INTERVAL, false, false },
	{ "on-busy", K_ON_BUSY, false, false },
	{ "stop-signal", K_STOP_SIGNAL, false, false },
	{ "stop-timeout", K_STOP_TIMEOUT, false, false },
	{ "timeout", K_TIMEOUT, false, false },
	{ "initial", K_INITIAL, true, false },
	{ "stdin", K_STDIN, false, false },
	{ "loop-burst", K_LOOP_BURST, false, false },
	{ "loop-window", K_LOOP_WINDOW, false, false },
	{ "command", K_COMMAND, false, false },
	{ "backend", K_BACKEND, false, false },
	{ "poll-interval", K_POLL_INTERVAL, false, false },
	{ "state", K_STATE, false, false },
	{ "state-sync", K_STATE_SYNC, false, false },
	{ "retry", K_RETRY, false, false },
	{ "retry-delay", K_RETRY_DELAY, false, false },
	{ "retry-max-delay", K_RETRY_MAX_DELAY, false, false },
	{ "success-exit-status", K_SUCCESS, false, false },
	{ "publish", K_PUBLISH, false, false },
	{ "subscribe", K_SUBSCRIBE, false, false },
	{ "share", K_SHARE, false, false },
	{ "map", K_MAP, false, true },
	{ "mqtt-auth", K_MQTT_AUTH, false, false },
	{ "mqtt-ca", K_MQTT_CA, false, false },
	{ "mqtt-cert", K_MQTT_CERT, false, false },
	{ "mqtt-key", K_MQTT_KEY, false, false },
	{ "mqtt-client-id", K_MQTT_CLIENT_ID, false, false },
	{ "mqtt-version", K_MQTT_VERSION, false, false },
};

static int find_key(const char *key)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (strcmp(key, keys[i].name) == 0)
			return (int)i;
	return -1;
}

int rule_key_takes_value(const char *key)
{
	int i = find_key(key);
	return i < 0 ? -1 : !keys[i].flag;
}

int rule_key_repeats(const char *key)
{
	int i = find_key(key);
	return i < 0 ? -1 : keys[i].repeats;
}

static int add_regex(struct rule *r, const char *value, char **err)
{
	regex_t *v = realloc(r->exclude_rx,
			     (r->exclude_re.len + 1) * sizeof(*v));
	if (!v)
		return -1;
	r->exclude_rx = v;
	if (vigil_regex_check(value) < 0) {
		*err = errf("'%s' is too complex a regular expression: %s", value,
			    VIGIL_REGEX_TOO_COMPLEX);
		return -1;
	}
	int rc = regcomp(&v[r->exclude_re.len], value, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];
		regerror(rc, &v[r->exclude_re.len], why, sizeof(why));
		if (rc != REG_ESPACE)
			*err = errf("'%s' is not a valid regular expression: %s",
				    value, why);
		return -1;
	}
	if (strv_push(&r->exclude_re, value, strlen(value)) < 0) {
		regfree(&v[r->exclude_re.len]);
		return -1;
	}
	return 0;
}

static int set_kind(struct rule *r, enum kind_only kind, const char *value,
		    char **err)
{
	bool on;
	if (parse_bool(value, &on, err) < 0)
		return -1;
	enum kind_only other = kind == KIND_FILES ? KIND_DIRS : KIND_FILES;
	if (on && r->kind == other) {
		*err = errf("'files' and 'dirs' contradict each other; give one of them");
		return -1;
	}
	if (on)
		r->kind = kind;
	else if (r->kind == kind)
		r->kind = KIND_ANY;
	return 0;
}

/* "0,75,TERM": exit statuses and signal names, by commas or spaces. */
static int set_success(struct rule *r, const char *value, char **err)
{
	uint64_t status[4] = {0}, signals = 0;
	const char *p = value;
	while (*p) {
		size_t n = strcspn(p, ", ");
		if (n) {
			char word[32];
			if (n >= sizeof(word))
				goto bad;
			memcpy(word, p, n);
			word[n] = '\0';
			unsigned code;
			int sig;
			if (word[0] >= '0' && word[0] <= '9') {
				char *end;
				errno = 0;
				unsigned long v = strtoul(word, &end, 10);
				if (*end || errno || v > 255)
					goto bad_word;
				code = (unsigned)v;
				status[code / 64] |= 1ull << (code % 64);
			} else if (parse_signal(word, &sig) == 0 && sig <= 64) {
				signals |= 1ull << (sig - 1);
			} else {
			bad_word:
				*err = errf("'%s' is neither an exit status (0 to 255) nor a signal name",
					    word);
				return -1;
			}
		}
		p += n;
		p += strspn(p, ", ");
	}
	if (!status[0] && !status[1] && !status[2] && !status[3] && !signals) {
	bad:
		*err = errf("'%s' is not a list of exit statuses and signals; give such as 0,75 or 0,TERM",
			    value);
		return -1;
	}
	memcpy(r->success_status, status, sizeof(status));
	r->success_signals = signals;
	return 0;
}

bool rule_success(const struct rule *r, int status)
{
	if (WIFEXITED(status)) {
		unsigned code = (unsigned)WEXITSTATUS(status);
		return r->success_status[code / 64] >> (code % 64) & 1;
	}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		return sig >= 1 && sig <= 64 && (r->success_signals >> (sig - 1) & 1);
	}
	return false;
}

/* *DST becomes a copy of VALUE, which may not be empty (WHAT names it). */
static int set_string(char **dst, const char *value, const char *what, char **err)
{
	if (!*value) {
		*err = errf("an empty value names no %s", what);
		return -1;
	}
	char *copy = memdup0(value, strlen(value));
	if (!copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

/* Whether P (LEN bytes) is a path without '.', '..' or empty components
 * (a leading or trailing '/' aside). A message's path is absolute: a
 * relative prefix matches none (but a rules file's @ROOT@ marker, see
 * examples/README, is one until it is removed). */
static bool clean_path(const char *p, size_t len)
{
	if (!len)
		return false;
	for (size_t i = p[0] == '/'; i < len;) {
		size_t n = 0;
		while (i + n < len && p[i + n] != '/')
			n++;
		if ((n == 0 && i + n < len) || (n == 1 && p[i] == '.') ||
		    (n == 2 && p[i] == '.' && p[i + 1] == '.'))
			return false;
		i += n + 1;
	}
	return true;
}

/* A broker URL for ROLE into *DST. */
static int set_url(char **dst, const char *value, enum mqtt_role role, char **err)
{
	struct mqtt_url u;
	if (mqtt_url_parse(value, role, &u, err) < 0)
		return -1;
	mqtt_url_fini(&u);
	return set_string(dst, value, "broker", err);
}

int rule_set(struct rule *r, const char *key, const char *value, char **err)
{
	static const char *const busy[] = { "queue", "skip", "restart", "signal" };
	static const char *const in[] = { "none", "paths0", "lines", "json" };
	*err = NULL;
	int k = find_key(key);
	if (k < 0) {
		*err = errf("no such key '%s'", key);
		return -1;
	}
	if (!keys[k].flag && !value) {
		*err = errf("'%s' needs a value", key);
		return -1;
	}
	int choice, sig;
	uint32_t mask;
	size_t bad;
	uint64_t ns;
	switch (keys[k].key) {
	case K_PATH:
		if (!*value) {
			*err = errf("an empty path names nothing");
			return -1;
		}
		return strv_push(&r->paths, value, strlen(value)) < 0 ? -1 : 0;
	case K_RECURSIVE:
		return parse_bool(value, &r->recursive, err);
	case K_EVENT:
		if (vigil_mask_parse(value, &mask, &bad) < 0) {
			size_t n = strcspn(value + bad, ",");
			*err = errf("'%.*s' is not an event; give names such as close_write, moved_to, create or delete",
				    (int)n, value + bad);
			return -1;
		}
		if (!mask) {
			*err = errf("'%s' names no events", value);
			return -1;
		}
		r->events = r->events_given ? r->events | mask : mask;
		r->events_given = true;
		return 0;
	case K_MATCH:
	case K_EXCLUDE:
		if (!*value) {
			*err = errf("an empty glob matches nothing");
			return -1;
		}
		if (!glob_valid(value)) {
			*err = errf("'%s' is not a valid glob: an unknown [:class:], or a [.collating element.] that is not one character",
				    value);
			return -1;
		}
		return strv_push(keys[k].key == K_MATCH ? &r->match : &r->exclude,
				 value, strlen(value)) < 0 ? -1 : 0;
	case K_EXCLUDE_REGEX:
		return add_regex(r, value, err);
	case K_FILES:
		return set_kind(r, KIND_FILES, value, err);
	case K_DIRS:
		return set_kind(r, KIND_DIRS, value, err);
	case K_HIDDEN:
		return parse_bool(value, &r->hidden, err);
	case K_INITIAL:
		return parse_bool(value, &r->initial, err);
	case K_SETTLE:
		return set_duration(value, &r->settle_ns, err);
	case K_BATCH_WAIT:
		return set_duration(value, &r->batch_wait_ns, err);
	case K_MIN_INTERVAL:
		return set_duration(value, &r->min_interval_ns, err);
	case K_STOP_TIMEOUT:
		return set_duration(value, &r->stop_timeout_ns, err);
	case K_TIMEOUT:
		return set_duration(value, &r->timeout_ns, err);
	case K_LOOP_WINDOW:
		if (set_duration(value, &ns, err) < 0)
			return -1;
		if (!ns) {
			*err = errf("a loop window of 0 sees no loop; to turn the loop guard off, give loop-burst 0");
			return -1;
		}
		r->loop_window_ns = ns;
		return 0;
	case K_BACKEND: {
		static const char *const backends[] = { "auto", "inotify", "poll", "fanotify",
							"filesystem", "mount" };
		if (set_choice(value, backends, 6,
			       "auto, inotify, poll, fanotify, filesystem or mount", &choice, err) < 0)
			return -1;
		r->backend = (enum rule_backend)choice;
		return 0;
	}
	case K_POLL_INTERVAL:
		if (value[0] == '-') {
			*err = errf("'%s' is negative; give a positive duration such as 2s or 500ms",
				    value);
			return -1;
		}
		if (set_duration(value, &ns, err) < 0)
			return -1;
		if (ns < MS || ns / MS > UINT32_MAX) {
			*err = errf("'%s' is %s; give 1ms or more, such as 2s", value,
				    ns >= MS ? "too long" : ns ? "under a millisecond" : "zero");
			return -1;
		}
		r->poll_ms = (unsigned)(ns / MS);
		return 0;
	case K_BATCH:
		return parse_count(value, 1, MAX_BATCH, &r->batch, err);
	case K_JOBS:
		r->jobs_given = true;
		return parse_count(value, 1, MAX_JOBS, &r->jobs, err);
	case K_LOOP_BURST:
		return parse_count(value, 0, MAX_LOOP_BURST, &r->loop_burst, err);
	case K_ON_BUSY:
		if (set_choice(value, busy, 4, "queue, skip, restart or signal",
			       &choice, err) < 0)
			return -1;
		r->on_busy = (enum on_busy)choice;
		return 0;
	case K_STDIN:
		if (set_choice(value, in, 4, "paths0, lines, json or none",
			       &choice, err) < 0)
			return -1;
		r->stdin_mode = (enum stdin_mode)choice;
		return 0;
	case K_STOP_SIGNAL:
		if (parse_signal(value, &sig) < 0) {
			*err = errf("'%s' is not a signal; give a name such as TERM, INT or HUP, or a number",
				    value);
			return -1;
		}
		r->stop_signal = sig;
		return 0;
	case K_COMMAND: {
		struct strv words;
		if (split_words(value, &words, err) < 0)
			return -1;
		strv_free(&r->argv);
		r->argv = words;
		return 0;
	}
	case K_STATE: {
		if (!*value) {
			*err = errf("an empty path names no state directory");
			return -1;
		}
		char *dir = memdup0(value, strlen(value));
		if (!dir)
			return -1;
		free(r->state);
		r->state = dir;
		return 0;
	}
	case K_STATE_SYNC: {
		static const char *const syncs[] = { "off", "normal", "group", "full" };
		if (set_choice(value, syncs, 4, "group, full, normal or off", &choice, err) < 0)
			return -1;
		r->state_sync = choice;
		return 0;
	}
	case K_RETRY:
		return parse_count(value, 0, MAX_RETRY, &r->retry, err);
	case K_RETRY_DELAY:
		return set_duration(value, &r->retry_delay_ns, err);
	case K_RETRY_MAX_DELAY:
		return set_duration(value, &r->retry_max_delay_ns, err);
	case K_SUCCESS:
		return set_success(r, value, err);
	case K_PUBLISH:
		return set_url(&r->publish, value, MQTT_PUBLISH, err);
	case K_SUBSCRIBE:
		return set_url(&r->subscribe, value, MQTT_SUBSCRIBE, err);
	case K_SHARE:
		if (!*value || strpbrk(value, "/+#")) {
			*err = errf("'%s' is not a group name; give a name without '/', '+' or '#'",
				    value);
			return -1;
		}
		return set_string(&r->share, value, "group", err);
	case K_MAP: {
		const char *eq = strchr(value, '=');
		if (!eq || !clean_path(value, (size_t)(eq - value)) ||
		    !clean_path(eq + 1, strlen(eq + 1))) {
			*err = errf("'%s' is not REMOTE_PREFIX=LOCAL_PREFIX, two paths without "
				    "'.', '..' or '//' in them", value);
			return -1;
		}
		return strv_push(&r->map, value, strlen(value)) < 0 ? -1 : 0;
	}
	case K_MQTT_AUTH:
		return set_string(&r->mqtt_auth, value, "file", err);
	case K_MQTT_CA:
		return set_string(&r->mqtt_ca, value, "file", err);
	case K_MQTT_CERT:
		return set_string(&r->mqtt_cert, value, "file", err);
	case K_MQTT_KEY:
		return set_string(&r->mqtt_key, value, "file", err);
	case K_MQTT_CLIENT_ID:
		return set_string(&r->mqtt_client_id, value, "client id", err);
	case K_MQTT_VERSION:
		if (strcmp(value, "auto") == 0)
			r->mqtt_version = 0;
		else if (strcmp(value, "5") == 0)
			r->mqtt_version = 5;
		else if (strcmp(value, "3.1.1") == 0)
			r->mqtt_version = 4;
		else {
			*err = errf("'%s' is not an MQTT version; give 5, 3.1.1 or auto", value);
			return -1;
		}
		return 0;
	}
	return -1;
}

int rule_unset(struct rule *r, const char *key)
{
	const struct rule d = rule_default;
	int k = find_key(key);
	if (k < 0)
		return -1;
	switch (keys[k].key) {
	case K_PATH: strv_free(&r->paths); break;
	case K_RECURSIVE: r->recursive = d.recursive; break;
	case K_EVENT:
		r->events = d.events;
		r->events_given = false;
		break;
	case K_MATCH: strv_free(&r->match); break;
	case K_EXCLUDE: strv_free(&r->exclude); break;
	case K_EXCLUDE_REGEX: free_regexes(r); break;
	case K_FILES:
	case K_DIRS: r->kind = d.kind; break;
	case K_HIDDEN: r->hidden = d.hidden; break;
	case K_SETTLE: r->settle_ns = d.settle_ns; break;
	case K_BATCH: r->batch = d.batch; break;
	case K_BATCH_WAIT: r->batch_wait_ns = d.batch_wait_ns; break;
	case K_JOBS:
		r->jobs = d.jobs;
		r->jobs_given = false;
		break;
	case K_MIN_INTERVAL: r->min_interval_ns = d.min_interval_ns; break;
	case K_ON_BUSY: r->on_busy = d.on_busy; break;
	case K_STOP_SIGNAL: r->stop_signal = d.stop_signal; break;
	case K_STOP_TIMEOUT: r->stop_timeout_ns = d.stop_timeout_ns; break;
	case K_TIMEOUT: r->timeout_ns = d.timeout_ns; break;
	case K_INITIAL: r->initial = d.initial; break;
	case K_STDIN: r->stdin_mode = d.stdin_mode; break;
	case K_LOOP_BURST: r->loop_burst = d.loop_burst; break;
	case K_LOOP_WINDOW: r->loop_window_ns = d.loop_window_ns; break;
	case K_COMMAND: strv_free(&r->argv); break;
	case K_BACKEND: r->backend = d.backend; break;
	case K_POLL_INTERVAL: r->poll_ms = d.poll_ms; break;
	case K_STATE:
		free(r->state);
		r->state = NULL;
		break;
	case K_STATE_SYNC: r->state_sync = d.state_sync; break;
	case K_RETRY: r->retry = d.retry; break;
	case K_RETRY_DELAY: r->retry_delay_ns = d.retry_delay_ns; break;
	case K_RETRY_MAX_DELAY: r->retry_max_delay_ns = d.retry_max_delay_ns; break;
	case K_SUCCESS:
		memcpy(r->success_status, d.success_status, sizeof(d.success_status));
		r->success_signals = d.success_signals;
		break;
	case K_PUBLISH: free(r->publish); r->publish = NULL; break;
	case K_SUBSCRIBE: free(r->subscribe); r->subscribe = NULL; break;
	case K_SHARE: free(r->share); r->share = NULL; break;
	case K_MAP: strv_free(&r->map); break;
	case K_MQTT_AUTH: free(r->mqtt_auth); r->mqtt_auth = NULL; break;
	case K_MQTT_CA: free(r->mqtt_ca); r->mqtt_ca = NULL; break;
	case K_MQTT_CERT: free(r->mqtt_cert); r->mqtt_cert = NULL; break;
	case K_MQTT_KEY: free(r->mqtt_key); r->mqtt_key = NULL; break;
	case K_MQTT_CLIENT_ID: free(r->mqtt_client_id); r->mqtt_client_id = NULL; break;
	case K_MQTT_VERSION: r->mqtt_version = 0; break;
	}
	return 0;
}

int rule_set_argv(struct rule *r, char *const *argv, size_t n)
{
	struct strv words = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (strv_push(&words, argv[i], strlen(argv[i])) < 0) {
			strv_free(&words);
			return -ENOMEM;
		}
	}
	strv_free(&r->argv);
	r->argv = words;
	return 0;
}

/* The first placeholder in WORD other than {rule}, or NULL: "{}" or
 * "{path}" as the whole word is not one when LONE_OK (in a batch, it
 * becomes one word per path). Its length goes in *LEN. */
static const char *per_path_placeholder(const char *word, bool lone_ok,
					size_t *len)
{
	static const char *const names[] = {
		"{}", "{path}", "{dir}", "{name}", "{event}", "{from}",
	};
	if (lone_ok && (strcmp(word, "{}") == 0 || strcmp(word, "{path}") == 0))
		return NULL;
	for (const char *p = strchr(word, '{'); p; p = strchr(p + 1, '{')) {
		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
			size_t n = strlen(names[i]);
			if (strncmp(p, names[i], n) == 0) {
				*len = n;
				return p;
			}
		}
	}
	return NULL;
}

int rule_check(const struct rule *r, char **err)
{
	*err = NULL;
	if (!r->paths.len && !r->subscribe) {
		*err = errf("no 'path' to watch (nor a broker to 'subscribe' to)");
		return -1;
	}
	if (!r->argv.len && !r->publish) {
		*err = errf("no 'command' to run (nor a broker to 'publish' to)");
		return -1;
	}
#ifndef VIGIL_MQTT
	if (r->publish || r->subscribe) {
		*err = errf("'%s': %s", r->publish ? "publish" : "subscribe", MQTT_NOT_BUILT);
		return -1;
	}
#endif
	if (!r->subscribe && (r->share || r->map.len)) {
		*err = errf("'%s' is for a subscription; give 'subscribe' too",
			    r->share ? "share" : "map");
		return -1;
	}
	if (!r->publish && !r->subscribe &&
	    (r->mqtt_auth || r->mqtt_ca || r->mqtt_cert || r->mqtt_key || r->mqtt_client_id ||
	     r->mqtt_version)) {
		*err = errf("the mqtt-* keys are for a broker; give 'publish' or 'subscribe' too");
		return -1;
	}
	if (r->mqtt_key && !r->mqtt_cert) {
		*err = errf("'mqtt-key' goes with 'mqtt-cert', the certificate it is the key of");
		return -1;
	}
	if (!r->argv.len && r->stdin_mode != STDIN_NONE) {
		*err = errf("'stdin' feeds the command, and this rule has none");
		return -1;
	}
	if (r->publish && r->batch > 1) {
		const char *topic = strchr(strstr(r->publish, "://") + 3, '/') + 1;
		size_t n;
		const char *p = per_path_placeholder(topic, false, &n);
		if (p) {
			*err = errf("'%.*s' in the topic has no single value for a batch of %u paths; "
				    "{host} and {rule} do", (int)n, p, r->batch);
			return -1;
		}
	}
	if (r->argv.len && !r->argv.v[0][0]) {
		*err = errf("the command's first word is empty");
		return -1;
	}
	if (!r->events) {
		*err = errf("no events to wait for");
		return -1;
	}
#ifndef VIGIL_SQLITE
	if (r->state) {
		*err = errf("'state': this vigil was built without SQLite, which keeps the state; "
			    "build it with libsqlite3-dev (meson -Dsqlite=enabled)");
		return -1;
	}
#endif
	if (r->batch > 1) {
		for (size_t i = 0; i < r->argv.len; i++) {
			size_t n;
			const char *p = per_path_placeholder(r->argv.v[i], true, &n);
			if (p) {
				*err = errf("'%.*s' has no single value for a batch of %u paths; pass them as a lone {} word or on 'stdin'",
					    (int)n, p, r->batch);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- filters -------------------------------------------------------- */

static bool hidden_component(const char *rel)
{
	for (const char *p = rel; *p; p++)
		if (*p == '.' && (p == rel || p[-1] == '/'))
			return true;
	return false;
}

static bool regex_refuses(const struct rule *r, const char *full)
{
	for (size_t i = 0; i < r->exclude_re.len; i++)
		if (regexec(&r->exclude_rx[i], full, 0, NULL, 0) == 0)
			return true;
	return false;
}

/* Whether an exclude refuses REL (and FULL) or any directory above it,
 * up to the root; with SELF false, only the directories above it. */
static bool excluded(const struct rule *r, const char *rel, const char *full,
		     bool self)
{
	size_t rlen = strlen(rel), flen = strlen(full);
	for (size_t end = 1; end <= rlen; end++) {
		bool boundary = end == rlen ? self :
				rel[end] == '/' && rel[end - 1] != '/';
		if (!boundary)
			continue;
		for (size_t i = 0; i < r->exclude.len; i++)
			if (glob_match_len(r->exclude.v[i], rel, end))
				return true;
	}
	if (!r->exclude_re.len)
		return false;
	if (self && regex_refuses(r, full))
		return true;
	if (rlen > flen || !strchr(rel, '/'))
		return false;
	/* The directories above: FULL cut at each '/' of REL. */
	char *copy = memdup0(full, flen);
	if (!copy)
		return true;
	size_t root = flen - rlen;
	bool refused = false;
	for (size_t end = root + 1; end < flen && !refused; end++) {
		if (copy[end] != '/' || copy[end - 1] == '/')
			continue;
		copy[end] = '\0';
		refused = regex_refuses(r, copy);
		copy[end] = '/';
	}
	free(copy);
	return refused;
}

bool rule_wants(const struct rule *r, const char *rel, const char *full,
		bool is_dir)
{
	if (!r->hidden && hidden_component(rel))
		return false;
	if (r->kind == KIND_FILES && is_dir)
		return false;
	if (r->kind == KIND_DIRS && !is_dir)
		return false;
	if (excluded(r, rel, full, true))
		return false;
	if (!r->match.len)
		return true;
	size_t len = strlen(rel);
	for (size_t i = 0; i < r->match.len; i++)
		if (glob_match_len(r->match.v[i], rel, len))
			return true;
	return false;
}

bool rule_descends(const struct rule *r, const char *rel, const char *full)
{
	if (!r->hidden && hidden_component(rel))
		return false;
	return !excluded(r, rel, full, true);
}
