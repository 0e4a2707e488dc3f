/* rowtext.h - the key primitives of an aggregated row as (pmacct name, text value) pairs. */
#ifndef WEIR_ROWTEXT_H
#define WEIR_ROWTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

#define ROWTEXT_MAX  48
#define ROWTEXT_NAME 32
#define ROWTEXT_VAL  192

struct rowtext {
	size_t n;
	char name[ROWTEXT_MAX][ROWTEXT_NAME]; /* "as_dst", "ip_src", ... */
	char value[ROWTEXT_MAX][ROWTEXT_VAL]; /* as the print plugin writes it, unquoted */
};

/*
 * Fills rt with the primitives that `fields` (FF_* / FMT_F_* bits of sink_rows) selects, in the
 * print plugin's column order and with its names and value forms (fmt_json), leaving out the
 * counters (bytes, packets, flows) and the stamps. Returns the number of pairs, -1 when the
 * row could not be formatted.
 */
int rowtext_get(const struct flow *f, uint64_t fields, struct rowtext *rt);

#endif
