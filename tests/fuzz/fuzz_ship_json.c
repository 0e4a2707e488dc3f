/* fuzz_ship_json.c - libFuzzer target: `weir ship`'s JSON line parser, its time parser, and the
 * AS name parsers (Team Cymru text, DNS answers) on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/ship.h"
#include "enrich/asname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ship_row *row; /* 8 KB: allocated once, not per input */
	char name[128], ts[64];
	uint64_t ms;

	if (!row && !(row = malloc(sizeof(*row))))
		return 0;
	int rc = ship_parse_line((const char *)data, size, row);
	if (rc == 1) {
		/* a parsed row is bounded and NUL terminated */
		if (row->n_tags > SHIP_TAGS)
			abort();
		for (size_t i = 0; i < row->n_tags; i++)
			if (!memchr(row->tag[i], '\0', SHIP_TAG_NAME) ||
			    !memchr(row->val[i], '\0', SHIP_TAG_VAL))
				abort();
	} else if (rc != 0 && rc != -1) {
		abort();
	}
	size_t n = size < sizeof(ts) - 1 ? size : sizeof(ts) - 1;
	memcpy(ts, data, n);
	ts[n] = '\0';
	ship_parse_time(ts, &ms);
	if (asname_from_cymru(57811, (const char *)data, size, name, sizeof(name)) &&
	    strncmp(name, "AS57811 ", 8))
		abort();
	if (asname_dns_parse(data, size, size > 1 ? (uint16_t)(data[0] << 8 | data[1]) : 0,
	                     "as57811.asn.cymru.com", 57811, name, sizeof(name)) == 1 &&
	    strncmp(name, "AS57811 ", 8))
		abort();
	return 0;
}
