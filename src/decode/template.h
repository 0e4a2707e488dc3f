/* template.h - NetFlow v9 / IPFIX templates compiled into per-record programs, per exporter. */
#ifndef WEIR_DECODE_TEMPLATE_H
#define WEIR_DECODE_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/fields.h"
#include "weir/decoder.h"

#define TMPL_VARLEN  0xffff /* RFC 7011 §7: field length of a variable-length IE */
#define TMPL_MIN_ID  256    /* ids below are set ids (RFC 3954 §5.2, RFC 7011 §3.3.2) */
#define TMPL_REC_MAX 65515  /* a record must fit a set: 65535 - message and set headers */

/* One field specifier as received (RFC 7011 §3.2; pen 0 = IANA). */
struct tmpl_field {
	uint32_t pen;
	uint16_t id;
	uint16_t len;
};

/* Post-processing a record of this template needs after its program ran (TP_* bits). */
enum {
	TP_UPTIME = 1 << 0,   /* sysUpTime-relative first/last (IE 21/22) */
	TP_DELTA = 1 << 1,    /* export-time-relative first/last (IE 158/159) */
	TP_SAMPLING = 1 << 2, /* inline sampling rate (IE 34/50/305/306/309/310) */
	TP_SYSINIT = 1 << 3,  /* systemInitTimeMilliseconds (IE 160) */
	TP_MPLS = 1 << 4,     /* label stack depth */
	TP_SAMPLER = 1 << 5,  /* a sampler id to look up (IE 48/302) */
};

/*
 * A compiled template. Fixed-length templates run only the mapped ops, each reading at its
 * precomputed offset; templates with variable-length fields run every field in order.
 */
struct tmpl {
	uint16_t id;
	uint16_t n_fields;
	uint16_t scope_count; /* options templates: the leading scope fields */
	uint16_t min_len;     /* record length, or its minimum when varlen */
	uint16_t n_ops;
	uint8_t version; /* 9 or 10 (scope field namespace, save file) */
	uint8_t ip_version;
	uint8_t post; /* TP_* */
	bool options;
	bool varlen;
	const struct tmpl_field *fields;
	const struct tmpl_op *ops;
};

/* Templates of one exporter and domain: a two-level table indexed by template id. */
struct tmpl_store {
	struct tmpl **pages[256];
	struct tmpl *last; /* last-used shortcut */
	uint32_t count;
};

void tmpl_store_init(struct tmpl_store *s);
void tmpl_store_free(struct tmpl_store *s);

static inline const struct tmpl *tmpl_find(struct tmpl_store *s, uint16_t id)
{
	if (s->last && s->last->id == id)
		return s->last;
	struct tmpl **page = s->pages[id >> 8];
	if (!page || !page[id & 0xff])
		return NULL;
	s->last = page[id & 0xff];
	return s->last;
}

/*
 * Defines (or redefines) template id. Returns 1 when it is new or changed, 0 when identical to
 * the one already held, -1 with *why set when it is rejected (bad field, too many fields,
 * record too long, template limit). Never keeps a pointer to fields.
 */
int tmpl_define(struct tmpl_store *s, const struct decode_limits *lim, uint8_t version, uint16_t id,
                bool options, uint16_t scope_count, const struct tmpl_field *fields, uint16_t n,
                enum drop_reason *why);

/* RFC 7011 §8.1: withdraws one template; or all data (options=false) / options templates. */
void tmpl_withdraw(struct tmpl_store *s, uint16_t id);
void tmpl_withdraw_all(struct tmpl_store *s, bool options);

/* Calls fn for every template, in id order. */
void tmpl_foreach(const struct tmpl_store *s, void (*fn)(void *arg, const struct tmpl *t),
                  void *arg);

#endif
