/* Event names <-> masks, spelled and ordered as inotifywait has them. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "vigil.h"

/* The order in which inotifywait prints a mask's names. */
static const struct {
	uint32_t bit;
	const char *name;
} print_order[] = {
	{IN_ACCESS, "ACCESS"},
	{IN_MODIFY, "MODIFY"},
	{IN_ATTRIB, "ATTRIB"},
	{IN_CLOSE_WRITE, "CLOSE_WRITE"},
	{IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
	{IN_OPEN, "OPEN"},
	{IN_MOVED_FROM, "MOVED_FROM"},
	{IN_MOVED_TO, "MOVED_TO"},
	{IN_CREATE, "CREATE"},
	{IN_DELETE, "DELETE"},
	{IN_DELETE_SELF, "DELETE_SELF"},
	{IN_UNMOUNT, "UNMOUNT"},
	{IN_Q_OVERFLOW, "Q_OVERFLOW"},
	{IN_IGNORED, "IGNORED"},
	{IN_CLOSE, "CLOSE"}, /* either close bit */
	{IN_MOVE_SELF, "MOVE_SELF"},
	{IN_ISDIR, "ISDIR"},
	{IN_ONESHOT, "ONESHOT"},
};

/* Every name -e accepts. */
static const struct {
	const char *name;
	uint32_t mask;
} parse_names[] = {
	{"access", IN_ACCESS},
	{"modify", IN_MODIFY},
	{"attrib", IN_ATTRIB},
	{"close_write", IN_CLOSE_WRITE},
	{"close_nowrite", IN_CLOSE_NOWRITE},
	{"open", IN_OPEN},
	{"moved_from", IN_MOVED_FROM},
	{"moved_to", IN_MOVED_TO},
	{"create", IN_CREATE},
	{"delete", IN_DELETE},
	{"delete_self", IN_DELETE_SELF},
	{"unmount", IN_UNMOUNT},
	{"q_overflow", IN_Q_OVERFLOW},
	{"ignored", IN_IGNORED},
	{"close", IN_CLOSE},
	{"move_self", IN_MOVE_SELF},
	{"move", IN_MOVE},
	{"isdir", IN_ISDIR},
	{"oneshot", IN_ONESHOT},
	{"all_events", IN_ALL_EVENTS},
};

uint32_t vigil_mask_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(parse_names) / sizeof(parse_names[0]); i++)
		if (strlen(parse_names[i].name) == len &&
		    strncasecmp(parse_names[i].name, name, len) == 0)
			return parse_names[i].mask;
	return 0;
}

int vigil_mask_parse(const char *list, uint32_t *ret_mask,
		     size_t *ret_bad_offset)
{
	uint32_t mask = 0;
	const char *p = list;
	for (;;) {
		const char *end = strchrnul(p, ',');
		if (end > p) { /* empty names are skipped, as inotifywait does */
			uint32_t m = vigil_mask_from_name(p, (size_t)(end - p));
			if (!m) {
				if (ret_bad_offset)
					*ret_bad_offset = (size_t)(p - list);
				return -EINVAL;
			}
			mask |= m;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	*ret_mask = mask;
	return 0;
}

size_t vigil_mask_format(uint32_t mask, char sep, char *buf, size_t size)
{
	size_t len = 0;
	bool paired = (mask & IN_MOVE) == IN_MOVE;
	for (size_t i = 0; i < sizeof(print_order) / sizeof(print_order[0]); i++) {
		uint32_t bit = print_order[i].bit;
		const char *name = print_order[i].name;
		if (!(mask & bit))
			continue;
		if (paired && (bit & IN_MOVE)) {
			if (bit == IN_MOVED_TO)
				continue;
			name = "MOVE";
		}
		size_t n = strlen(name);
		if (len) {
			if (len < size)
				buf[len] = sep;
			len++;
		}
		for (size_t k = 0; k < n; k++, len++)
			if (len < size)
				buf[len] = name[k];
	}
	if (size)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}
