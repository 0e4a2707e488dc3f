/* decode_int.h - decode/ internals shared by the per-version decoders: exporters, drops, holds. */
#ifndef WEIR_DECODE_INT_H
#define WEIR_DECODE_INT_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "decode/template.h"
#include "lib/cursor.h"
#include "lib/intern.h"
#include "lib/log.h"
#include "weir/decoder.h"

#define DROP_NONE     DROP_REASON_COUNT /* "no drop" for functions returning a reason */
#define EXP_SAMPLERS  16                /* samplers remembered per exporter and domain */
#define HOLD_MAX_SETS 256               /* sets held per exporter: bounds every walk of them */

/* The header fields a data set needs to become records (also kept with held sets). */
struct msg_info {
	uint64_t arrival_ms;
	uint64_t export_ms; /* header export time (v5 adds unix_nsecs) */
	uint32_t uptime_ms; /* v5/v9 sysUpTime at export */
	uint32_t seq;
	uint8_t version; /* 5, 9, 10 */
};

struct sf_sources; /* sflow.c: sample sequence and drops per source id, one allocation */

struct sampler {
	uint32_t id;
	uint32_t rate;
	uint8_t algo;
};

/* One (exporter address, observation domain / source id, version): its templates and counters. */
struct exporter {
	struct exporter *next; /* hash chain */
	uint32_t hash;
	struct exporter_stats st; /* addr, domain, version and the counters */
	struct tmpl_store tmpl;
	uint64_t last_seen_ms;
	uint64_t sys_init_ms; /* IPFIX systemInitTimeMilliseconds (IE 160) */
	bool has_sys_init;
	uint32_t default_rate; /* sampling option data without a sampler id */
	uint8_t default_algo;
	uint8_t n_samplers;
	uint8_t sampler_next;
	struct sampler samplers[EXP_SAMPLERS];

	/* sequence tracking: previous message's number and the units it carried */
	bool seq_valid;
	bool seq_prev_known;
	bool seq_inclusive; /* IPFIX sequence counts the current message too (softflowd) */
	uint32_t seq_prev;
	uint32_t seq_prev_n;

	struct sf_sources *sflow; /* sFlow agents only, allocated with the first sample */

	/* data sets waiting for their template (hold.c) */
	uint8_t *hold;
	uint32_t hold_len;     /* bytes used */
	uint32_t hold_n;       /* sets held */
	uint64_t hold_ids;     /* bit (id % 64) set for every template id held */
	uint64_t hold_scan_ms; /* no expiry walk from hold_add() before this */
};

struct decode_state {
	struct decode_limits lim;
	struct exporter **buckets;
	uint32_t mask;
	uint32_t n_exporters;
	uint32_t n_holding; /* exporters with held sets */
	uint32_t seed;
	struct exporter *last; /* last-used shortcut */
	uint64_t evict_scan_ms;
	struct exporter_stats global; /* drops not attributable to an exporter */
	struct ratelimit rl;
	struct tmpl_field *fields;  /* scratch for a template being parsed: max_template_fields */
	struct intern_cache icache; /* in front of lim.intern (its pool NULL without one) */
};

#define TMPL_FIELDS_MAX 16384 /* more cannot fit a 65535-byte set */

/*
 * Where the trailing run of zero bytes of c starts: set padding (RFC 3954 §5.3, RFC 7011
 * §3.3.1) once a record boundary reaches it. Found once per set, so that padding detection
 * stays linear whatever the set holds.
 */
static inline const uint8_t *cur_zero_tail(const struct cursor *c)
{
	const uint8_t *p = c->end;
	while (p > c->p && p[-1] == 0)
		p--;
	return p;
}

/* Finds or creates an exporter entry; NULL when the table is full (persist.c uses it too). */
struct exporter *exp_find_create(struct decode_state *st, const struct wip *a, uint32_t domain,
                                 uint8_t version, uint64_t now);

/*
 * The exporter entry for the datagram's source, domain and version, created when new (bounded
 * by max_exporters; NULL when full, the drop counted). Counts the datagram.
 */
struct exporter *exp_get(struct decode_ctx *ctx, uint32_t domain, uint8_t version, size_t len);

/* Counts a drop for e (or globally when NULL) and logs it through the state's token bucket. */
void dec_drop(struct decode_ctx *ctx, struct exporter *e, enum drop_reason r, const char *what);

/*
 * Sequence accounting at the end of a message: seq from its header, n = the units it carries
 * (records for v5 and IPFIX, 1 for v9), known = false when n is unknown (held or dropped sets).
 */
void exp_seq(struct exporter *e, uint32_t seq, uint32_t n, bool known);

/* The rate of sampler id, 0 when unknown. */
uint32_t exp_sampler_rate(const struct exporter *e, uint32_t id);
void exp_sampler_set(struct exporter *e, uint32_t id, uint32_t rate, uint8_t algo);

/* The next free record of the batch; emits the batch first when it is full. */
static inline struct flow *dec_slot(struct decode_ctx *ctx)
{
	if (ctx->batch->n >= FLOW_BATCH_MAX) {
		ctx->emit(ctx->emit_arg, ctx->batch);
		assert(ctx->batch->n < FLOW_BATCH_MAX); /* emit() must consume the batch */
	}
	return &ctx->batch->rec[ctx->batch->n];
}

/*
 * records.c: decodes every record of one data set (set header removed) with template t.
 * Returns the records decoded (flow + options); *why is DROP_NONE, or the reason decoding
 * stopped early (a record overflowing the set).
 */
uint32_t rec_decode_set(struct decode_ctx *ctx, struct exporter *e, const struct tmpl *t,
                        const struct msg_info *m, struct cursor *set, enum drop_reason *why);

/* hold.c: keeps a copy of a data set whose template is missing. false = not held (counted). */
bool hold_add(struct decode_ctx *ctx, struct exporter *e, const struct msg_info *m, uint16_t id,
              const struct cursor *set);
/* Decodes the sets held for template t (just defined). Returns the records produced. */
uint32_t hold_release(struct decode_ctx *ctx, struct exporter *e, const struct tmpl *t);
/* Drops the sets held longer than hold_ms as DROP_NO_TEMPLATE (all of them when now = MAX). */
void hold_expire(struct decode_state *st, struct exporter *e, uint64_t now);
void hold_free(struct decode_state *st, struct exporter *e);

/* Template definition shared by v9 and IPFIX: counts it and releases held data. */
void dec_template(struct decode_ctx *ctx, struct exporter *e, uint8_t version, uint16_t id,
                  bool options, uint16_t scope_count, const struct tmpl_field *f, uint16_t n);

/*
 * A data set of v9 or IPFIX: decoded, held, or dropped. Returns its data records (flow and
 * options, emitted or not: what IPFIX sequence numbers count); *known as exp_seq().
 */
uint32_t dec_data_set(struct decode_ctx *ctx, struct exporter *e, const struct msg_info *m,
                      uint16_t id, struct cursor *set, bool *known);

/* Records handed on since a snapshot of e's counters: decode()'s return value. */
static inline uint64_t exp_delivered(const struct exporter *e, const struct decode_ctx *ctx)
{
	return e->st.records + (ctx->want_options ? e->st.option_records : 0);
}

extern const struct decoder_ops netflow5_ops;
extern const struct decoder_ops netflow9_ops;
extern const struct decoder_ops ipfix_ops;
extern const struct decoder_ops sflow_ops;

#endif
