/* key.h - a plugin's aggregation key: pmacct primitives laid out once as a packed byte string. */
#ifndef WEIR_AGG_KEY_H
#define WEIR_AGG_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

#define AGG_KEY_MAX    384
#define AGG_FIELDS_MAX 48

enum agg_sum { AGG_SUM_NONE = 0, AGG_SUM_HOST, AGG_SUM_PORT, AGG_SUM_AS, AGG_SUM_NET, AGG_SUM_MAC };

/* How one primitive is copied between struct flow and the key. */
struct agg_kfield {
	uint16_t koff;     /* offset in the key */
	uint16_t size;     /* bytes */
	uint16_t foff;     /* offset in struct flow (source side) */
	uint16_t foff_alt; /* sum_*: the destination side's member */
	uint16_t moff;     /* KO_NET: offset of the mask byte */
	uint16_t moff_alt;
	uint8_t op; /* enum in key.c */
	uint8_t ff; /* FF_* presence bit of the source, or 0xff: always present */
	uint8_t ff_alt;
};

struct agg_key {
	size_t len; /* bytes of the packed key, including the time bin when `binned` */
	size_t n;
	struct agg_kfield f[AGG_FIELDS_MAX];
	uint64_t fields;  /* FF_* / FMT_F_* bits the rows print */
	uint64_t present; /* FF_* bits set on unpacked rows */
	bool tcpflags;    /* tcp_flags are ORed into the entry */
	bool binned;      /* the key ends with a u32 bin start (seconds) */
	enum agg_sum sum; /* sum_*: each flow is accounted once per direction */
};

/*
 * Lays out the key for a pmacct `aggregate` list. Unknown primitives, mixing sum_* with other
 * address/port/AS primitives, and keys over AGG_KEY_MAX are refused with a message in err.
 * binned adds the time bin to the key.
 */
int agg_key_parse(struct agg_key *k, const char *list, bool binned, char *err, size_t errlen);

/* Writes f's key to out (k->len bytes). side 1 = the destination direction of a sum_* key. */
void agg_key_pack(const struct agg_key *k, const struct flow *f, int side, uint32_t bin,
                  uint8_t *out);

/* Rebuilds a row from a key: the key's members set, the rest zero. Returns the bin (0 if none). */
uint32_t agg_key_unpack(const struct agg_key *k, const uint8_t *key, struct flow *row);

/*
 * Copies the next item of a comma list at *p, without surrounding blanks, into item (cut to
 * len - 1) and advances *p; false once the list is done.
 */
bool agg_list_next(const char **p, char *item, size_t len);

/* The bin of a packed key without unpacking it. */
uint32_t agg_key_bin(const struct agg_key *k, const uint8_t *key);

#endif
