/* Writing events: inotifywait's default line, --format, --csv, --json. */
#ifndef VIGIL_FORMAT_H
#define VIGIL_FORMAT_H

#include <stdbool.h>
#include <stdio.h>

#include "vigil.h"

enum out_kind { OUT_NATIVE, OUT_FORMAT, OUT_CSV, OUT_JSON };

struct out {
	enum out_kind kind;
	const char *format;  /* OUT_FORMAT */
	const char *timefmt; /* for %T, NULL when not given */
	bool newline;        /* end each --format line with '\n' */
	FILE *f;
};

/* Check a --format string: false (with a message) when it cannot work. */
bool format_check(const char *format, const char *timefmt);
void out_event(struct out *o, const struct vigil_event *ev);
/* A JSON string literal for LEN bytes of S. Invalid UTF-8 bytes are written
 * as the escapes \udc80..\udcff (one per byte, as Python's surrogateescape
 * reads them), so any name round-trips to the same bytes. */
void json_string(FILE *f, const char *s, size_t len);
/* A JSON array of the names of MASK's bits, as vigil_mask_format() spells
 * them: ["CREATE","ISDIR"]. The "events" of --json and of MQTT messages. */
void json_events(FILE *f, uint32_t mask);

#endif
