/* gen.h - `weir gen`'s record model and its NetFlow v5 / v9 / IPFIX export encoders. */
#ifndef WEIR_CMD_GEN_H
#define WEIR_CMD_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default payload budget of a data datagram: fits a 1500-byte MTU with IP/UDP headers. */
#define GEN_BUDGET_DEFAULT 1400
/* Hard bounds: a UDP payload, and records per datagram (keeps the batch arrays fixed). */
#define GEN_DGRAM_MAX 65507
#define GEN_PER_MAX   512
#define GEN_V5_MAX    30 /* NetFlow v5 header count limit (Cisco) */
#define GEN_KEYS_MAX  16777215u
#define GEN_PKTS_MAX  1000000u /* keeps v5's 32-bit dOctets from wrapping */
#define GEN_AS_TRANS  23456u   /* RFC 6793: what a 2-byte AS field carries for a 4-byte AS */
#define GEN_TMPL_V4   256
#define GEN_TMPL_V6   257
#define GEN_TMPL_OPT  258

/*
 * One generated flow record. Addresses are in network order: IPv4 in a[0..3], IPv6 in a[0..15].
 * Times are ms since the epoch.
 */
struct gen_rec {
	uint8_t src[16];
	uint8_t dst[16];
	uint8_t nexthop[16];
	uint64_t bytes;
	uint64_t first_ms;
	uint64_t last_ms;
	uint32_t packets;
	uint32_t in_if;
	uint32_t out_if;
	uint32_t src_as;
	uint32_t dst_as;
	uint16_t src_port; /* 0 for ICMP */
	uint16_t dst_port; /* ICMP: type << 8 | code, as v5/v9 exporters put it */
	uint8_t proto;
	uint8_t tos;
	uint8_t tcp_flags;
	uint8_t src_mask;
	uint8_t dst_mask;
	uint8_t v6; /* 1: IPv6 addresses */
};

/*
 * Deterministic record source: `keys` distinct flow keys derived from the seed (key i has source
 * address 10.0.0.0 + i + 1, or 2001:db8::/32 with i in the low bits), picked uniformly by a
 * seeded PRNG. Same seed and options, same records.
 */
struct gen_model {
	uint64_t seed;
	uint64_t rng;
	uint32_t keys;
	uint32_t v6_pct;  /* share of keys that are IPv6, 0..100 */
	uint32_t packets; /* packets per record */
};

void gen_model_init(struct gen_model *m, uint64_t seed, uint32_t keys, uint32_t v6_pct,
                    uint32_t packets);
/* Fills the key fields (addresses, ports, proto, tos, interfaces, AS, masks) of key idx. */
void gen_key(const struct gen_model *m, uint32_t idx, struct gen_rec *r);
/* Draws the next record; its timestamps lie in [end_ms - 60 s, end_ms]. */
void gen_next(struct gen_model *m, uint64_t end_ms, struct gen_rec *r);

/*
 * Per exporter (and observation domain) state an encoder reads and advances. seq is the next
 * header sequence number with the format's meaning: v5 flows sent before, v9 export datagrams
 * sent before, IPFIX data records (options data included, RFC 7011 §3.1) sent before.
 */
struct gen_exporter {
	uint64_t boot_ms; /* sysUptime zero (v5, v9) */
	uint32_t domain;  /* v9 source id / IPFIX observation domain / v5 engine type.id */
	uint32_t seq;
	uint32_t sampling;    /* 1-in-N, announced by the options data record (v5: header) */
	uint32_t sample_seq;  /* sFlow: flow samples sent (the sample sequence number) */
	uint32_t counter_seq; /* sFlow: counter samples sent */
};

/* One export format: sizes for packing, and the encoders. */
struct gen_format {
	const char *name; /* "v5", "v9", "ipfix" */
	uint8_t version;  /* 5, 9, 10 */
	size_t max_records;
	/* Length of a data datagram with n4 IPv4 and n6 IPv6 records; 0 when not encodable. */
	size_t (*data_len)(size_t n4, size_t n6);
	/*
	 * Writes a data datagram with the n records (IPv4 ones first, then IPv6, each family in
	 * order) into buf. Returns its length, 0 when it does not fit in cap or cannot be encoded.
	 * Advances x->seq.
	 */
	size_t (*data)(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms,
	               const struct gen_rec *r, size_t n);
	/*
	 * Writes the template datagram (IPv4 and IPv6 templates, the options template and one
	 * options data record with the sampling interval). NULL for v5. Advances x->seq.
	 */
	size_t (*templates)(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms);
};

/* A template field: information element id and length. */
struct gen_field {
	uint16_t id;
	uint16_t len;
};

/*
 * The fields v9 and IPFIX records share, in record order, before each format's timestamps
 * (v9: FIRST/LAST_SWITCHED, IPFIX: flowStart/EndMilliseconds). gen_put_body writes them.
 */
#define GEN_BODY_FIELDS 16
extern const struct gen_field gen_body_v4[GEN_BODY_FIELDS];
extern const struct gen_field gen_body_v6[GEN_BODY_FIELDS];
#define GEN_BODY_V4_LEN 49
#define GEN_BODY_V6_LEN 85
uint8_t *gen_put_body(uint8_t *p, const struct gen_rec *r);
/* Writes a template record: id, field count, then the body fields followed by tail[0..ntail). */
uint8_t *gen_put_template(uint8_t *p, uint16_t id, const struct gen_field *body,
                          const struct gen_field *tail, size_t ntail);

extern const struct gen_format gen_fmt_v5;
extern const struct gen_format gen_fmt_v9;
extern const struct gen_format gen_fmt_ipfix;
extern const struct gen_format gen_fmt_sflow;

/* "v5", "5", "v9", "9", "ipfix", "10"; NULL when unknown. */
const struct gen_format *gen_format_find(const char *name);

/* Draws records for data datagrams; a drawn record that did not fit waits for the next one. */
struct gen_packer {
	struct gen_rec carry;
	bool has_carry;
};

/*
 * Fills r[] with the next records of m (at most max, at least one when max > 0) that fit in one
 * data datagram of at most budget bytes. Returns how many.
 */
size_t gen_pack(const struct gen_format *f, struct gen_model *m, struct gen_packer *pk,
                uint64_t end_ms, size_t budget, size_t max, struct gen_rec *r);

/* Records per datagram when every record is IPv4 (what --help reports as the default). */
size_t gen_per_dgram_v4(const struct gen_format *f, size_t budget);

/* Big-endian writers for the encoders. */
static inline uint8_t *gen_put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static inline uint8_t *gen_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *gen_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static inline uint8_t *gen_put64(uint8_t *p, uint64_t v)
{
	gen_put32(p, (uint32_t)(v >> 32));
	return gen_put32(p + 4, (uint32_t)v);
}

#endif
