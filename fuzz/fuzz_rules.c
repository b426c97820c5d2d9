/* Rules files (vigil-rules(5)) through rules_parse(), what rules_load()
 * does once it has read the file: any text gives rules that pass
 * rule_check(), or one message line naming the file; then each rule's
 * filters are asked about a few paths (globs, excludes, hidden).
 * Input: the file's text. */
#include "fuzz.h"
#include "rule.h"

static const char *const paths[][2] = {
	{"a.txt", "/w/a.txt"},
	{"src/main.c", "/w/src/main.c"},
	{".git/HEAD", "/w/.git/HEAD"},
	{"node_modules/x/y.js", "/w/node_modules/x/y.js"},
	{"photos/IMG_0001.JPG", "/w/photos/IMG_0001.JPG"},
	{"a//b/", "/w/a//b/"},
	{"\xc3\xa9t\xe9/\xff.txt", "/w/\xc3\xa9t\xe9/\xff.txt"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule *rules = NULL;
	size_t n = 0;
	char *err = NULL;
	const char *path = "rules.ini";
	if (rules_parse(path, (const char *)data, size, &rules, &n, &err) < 0) {
		fuzz_assert(err, "a failure without a message");
		fuzz_assert(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
			    "the message does not start with the file: '%s'", err);
		fuzz_assert(!strchr(err, '\n'), "the message is not one line: '%s'", err);
		free(err);
		return 0;
	}
	fuzz_assert(!err && n >= 1, "success with %zu rules, message '%s'", n, err ? err : "");
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		char *msg = NULL;
		fuzz_assert(rule_check(r, &msg) == 0, "[%s] fails rule_check: %s", r->name, msg);
		fuzz_assert(r->file == path && r->line >= 1, "[%s] does not say where it is", r->name);
		fuzz_assert(strcmp(r->name, "defaults") != 0, "[defaults] is a rule");
		for (size_t k = 0; k < i; k++)
			fuzz_assert(strcmp(rules[k].name, r->name) != 0, "[%s] twice", r->name);
		fuzz_assert(r->exclude_re.len == 0 || r->exclude_rx, "[%s] regexes not compiled", r->name);
		for (size_t p = 0; p < sizeof(paths) / sizeof(*paths); p++) {
			rule_wants(r, paths[p][0], paths[p][1], p % 2);
			rule_descends(r, paths[p][0], paths[p][1]);
		}
	}
	rules_free(rules, n);
	return 0;
}
