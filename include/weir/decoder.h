/* decoder.h - the contract between ingest and the per-format decoders. */
#ifndef WEIR_DECODER_H
#define WEIR_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/flow.h"

struct cursor;
struct decode_state;
struct intern;
struct if_counters;

/* Why a datagram, set or record was dropped. Each has a per-exporter counter. */
enum drop_reason {
	DROP_TRUNCATED = 0,   /* shorter than its header says */
	DROP_BAD_VERSION,     /* no decoder for the version field */
	DROP_BAD_LENGTH,      /* a length field that lies */
	DROP_BAD_SET,         /* set/flowset header invalid or shorter than its header */
	DROP_BAD_TEMPLATE,    /* zero fields, too many fields, bad field length */
	DROP_BAD_OPTIONS,     /* options template with bad scope */
	DROP_NO_TEMPLATE,     /* data for a template never seen (after holding expired) */
	DROP_TEMPLATE_LIMIT,  /* template flood: per-exporter bound reached */
	DROP_HOLD_LIMIT,      /* data held for a missing template exceeded its bound */
	DROP_NOT_ALLOWED,     /* exporter not in nfacctd_allow_file */
	DROP_RECORD_OVERFLOW, /* record longer than the remaining set */
	DROP_BAD_SAMPLE,      /* sFlow sample length/format inconsistent */
	DROP_EXPORTER_LIMIT,  /* new exporter while max_exporters are held (none idle) */
	DROP_REASON_COUNT
};

const char *drop_reason_name(enum drop_reason r);

/* Bounds for the per-worker decode state (from the config). */
struct decode_limits {
	uint32_t max_exporters;       /* distinct (address, domain) pairs */
	uint32_t max_templates;       /* per exporter and domain */
	uint32_t max_template_fields; /* per template */
	uint32_t hold_bytes;          /* data held per exporter while its template is missing */
	uint32_t hold_ms;             /* ... and for how long */
	uint32_t log_per_sec;         /* rate limit of malformed-input log lines */
	bool time_new; /* nfacctd_time_new: informational; records keep the exporter's times and the
	                  aggregation bins by arrival_ms (pmacct) */
	const struct allow_list *allow; /* NULL = every exporter allowed */
	uint32_t default_sampling_rate; /* applied when a record has none; 0 = none */
	bool sflow_renormalize;         /* sfacctd_renormalize: sFlow counters times the rate */
	struct intern *intern;          /* pool for AS path / community texts; NULL = not kept */
};

void decode_limits_default(struct decode_limits *l);

/*
 * Passed to a decoder for one datagram. The decoder appends records to *batch; when it is full
 * it calls emit(), which consumes the records and leaves the batch empty.
 */
struct decode_ctx {
	struct decode_state *st;
	struct wip src;    /* UDP source address of the datagram */
	uint16_t src_port; /* informational only: templates are never keyed by port */
	uint64_t now_ms;   /* arrival time */
	struct flow_batch *batch;
	void (*emit)(void *arg, struct flow_batch *b);
	void *emit_arg;
	bool want_options; /* also emit options data records (event = FLOW_EV_OPTION) */
	/* sFlow counter samples, when set (sfacctd_counter_file, metrics); the record is the
	 * callee's only for the call */
	void (*counters)(void *arg, const struct if_counters *k);
	void *counters_arg;
};

/* The interface counters of one sFlow counter sample (generic and ethernet records). */
#define IF_DOT3_COUNT 13
struct if_counters {
	struct wip agent;
	uint32_t sub_agent;
	uint32_t dgram_seq;  /* datagram sequence number */
	uint32_t sample_seq; /* counter sample sequence number (per source id) */
	uint32_t source_id;  /* type << 24 | index */
	uint32_t uptime_ms;
	uint64_t arrival_ms;
	bool has_generic;
	bool has_ethernet;
	/* counters_generic_interface (sFlow v5 §5.6); if_index is the source index without it */
	uint32_t if_index, if_type, if_direction, if_status, promisc;
	uint64_t if_speed;
	uint64_t in_octets, out_octets;
	uint32_t in_ucast, in_mcast, in_bcast, in_discards, in_errors, in_unknown;
	uint32_t out_ucast, out_mcast, out_bcast, out_discards, out_errors;
	/* counters_ethernet: dot3Stats alignment, FCS, single/multiple collision, SQE test,
	 * deferred, late/excessive collision, internal MAC tx, carrier sense, too long, internal
	 * MAC rx, symbol errors */
	uint32_t dot3[IF_DOT3_COUNT];
};

struct decoder_ops {
	const char *name;
	/* True when the datagram looks like this format (version field). */
	bool (*probe)(const uint8_t *p, size_t len);
	/* Decodes one datagram. Returns the number of records produced, -1 when dropped. */
	int (*decode)(struct decode_ctx *ctx, struct cursor *c);
};

/* The decoder table, NULL terminated (src/decode/decode.c). */
extern const struct decoder_ops *const decoder_table[];

struct decode_state *decode_state_new(const struct decode_limits *l);
void decode_state_free(struct decode_state *st);

/* Picks the decoder from the version field and runs it. Never reads past p + len. */
int decode_datagram(struct decode_ctx *ctx, const uint8_t *p, size_t len);

/* Decodes held data whose hold time expired (as drops) -- call about once a second. */
void decode_expire(struct decode_state *st, uint64_t now_ms);

/* Counters of one exporter and observation domain. */
struct exporter_stats {
	struct wip addr;
	uint32_t domain;
	uint8_t version;
	uint64_t packets;
	uint64_t bytes;
	uint64_t records;
	uint64_t option_records;
	uint64_t seq_gaps;  /* datagrams (v9, sFlow) or records (v5, IPFIX) lost per sequence */
	uint64_t templates; /* templates (re)defined */
	uint64_t held;      /* data sets held waiting for a template */
	/* sFlow only (seq_gaps counts its datagrams per agent and sub-agent): */
	uint64_t sample_seq_gaps;      /* samples lost per source id sample sequence */
	uint64_t sample_seq_untracked; /* samples of source ids beyond the per-agent bound */
	uint64_t sflow_drops; /* samples the agent dropped for lack of resources (flow sample
	                       * drops, delta of its running total per source id) */
	uint64_t drops[DROP_REASON_COUNT];
};

/*
 * Calls fn for every exporter/domain of the state; first, when any is non-zero, for the drops
 * that belong to no exporter (address ::, version 0).
 */
void decode_stats_foreach(const struct decode_state *st,
                          void (*fn)(void *arg, const struct exporter_stats *s), void *arg);
/* Prints the counters as a table (SIGUSR1, exit, `weir decode --stats`). */
void decode_stats_print(const struct decode_state *st, FILE *out);

/* nfacctd_templates_file: saves/loads every template of the state. 0 ok, -1 errno set. */
int decode_templates_save(const struct decode_state *st, const char *path);
int decode_templates_load(struct decode_state *st, const char *path);

#endif
