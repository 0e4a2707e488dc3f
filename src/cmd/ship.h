/* ship.h - `weir ship`'s parser of print-plugin JSON lines (weir's and pmacct's). */
#ifndef WEIR_SHIP_H
#define WEIR_SHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHIP_TAGS     48
#define SHIP_TAG_NAME 32
#define SHIP_TAG_VAL  128

/* One row: its key primitives as tags, its counters, and its time bin when it has one. */
struct ship_row {
	size_t n_tags;
	char tag[SHIP_TAGS][SHIP_TAG_NAME];
	char val[SHIP_TAGS][SHIP_TAG_VAL];
	uint64_t bytes, packets, flows;
	bool has_ts;
	uint64_t ts_ms; /* stamp_inserted (else timestamp_start), ms since the epoch (UTC) */
};

/*
 * Parses one line: a flat JSON object as the print plugin writes it (numbers and strings;
 * pmacct's "event_type", timestamps and stamps are not tags). Returns 1 with row filled, 0 for
 * a line to skip (blank, or not a purge/flow event), -1 when the line is not such an object.
 * Never reads past line + len.
 */
int ship_parse_line(const char *line, size_t len, struct ship_row *row);

/* "2024-05-14 09:00:00[.ffffff]" (UTC) or "1715677200[.ffffff]" to ms; false otherwise. */
bool ship_parse_time(const char *s, uint64_t *ms);

#endif
