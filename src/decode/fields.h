/* fields.h - which NetFlow v9 / IPFIX information element lands where in struct flow. */
#ifndef WEIR_DECODE_FIELDS_H
#define WEIR_DECODE_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

/* What a compiled template step does with its field. */
enum op_kind {
	OP_SKIP = 0, /* not mapped: advance by length */
	OP_U8,  /* reduced-size unsigned integer (RFC 7011 §6.2) into a flow field of 1 byte */
	OP_U16, /* ... of 2 bytes */
	OP_U32, /* ... of 4 bytes */
	OP_U64, /* ... of 8 bytes */
	OP_AUX, /* unsigned integer kept aside for post-processing (struct rec_aux) */
	OP_V4,  /* IPv4 address into a struct wip */
	OP_V6,  /* IPv6 address into a struct wip */
	OP_MAC, /* 6-byte MAC address */
	OP_ICMP_TYPE, /* high byte of flow.icmp */
	OP_ICMP_CODE, /* low byte of flow.icmp */
	OP_T_SEC,     /* dateTimeSeconds into a ms field */
	OP_T_MS,      /* dateTimeMilliseconds */
	OP_T_US,      /* dateTimeMicroseconds: NTP format (RFC 7011 §6.1.9) */
	OP_T_NS,      /* dateTimeNanoseconds: NTP format (RFC 7011 §6.1.10) */
	OP_KIND_COUNT
};

/* Values of a record kept aside (OP_AUX) until the whole record is read. */
enum aux_idx {
	AUX_UP_FIRST = 0, /* flowStartSysUpTime (22), ms */
	AUX_UP_LAST,      /* flowEndSysUpTime (21), ms */
	AUX_DELTA_FIRST,  /* flowStartDeltaMicroseconds (158) */
	AUX_DELTA_LAST,   /* flowEndDeltaMicroseconds (159) */
	AUX_SYSINIT,      /* systemInitTimeMilliseconds (160) */
	AUX_RATE,         /* samplingInterval (34), samplerRandomInterval (50) */
	AUX_PKT_INTERVAL, /* samplingPacketInterval (305) */
	AUX_PKT_SPACE,    /* samplingPacketSpace (306) */
	AUX_SMP_SIZE,     /* samplingSize (309) */
	AUX_SMP_POP,      /* samplingPopulation (310) */
	AUX_COUNT
};

struct rec_aux {
	uint32_t present; /* 1 << AUX_* */
	uint64_t v[AUX_COUNT];
};

/*
 * A scratch presence bit for mapped fields that have no FF_* bit (ip_version, sampling_algo):
 * set by the program, cleared before the record is handed on.
 */
#define FF_SCRATCH 63

/* One step of a compiled template. */
struct tmpl_op {
	uint16_t src;  /* offset in the record (fixed-length templates) */
	uint16_t len;  /* wire length, TMPL_VARLEN for a variable-length field */
	uint16_t dst;  /* byte offset in struct flow, or the AUX_* index */
	uint8_t kind;  /* enum op_kind */
	uint8_t bit;   /* FF_* bit to set (OP_AUX: unused) */
	uint8_t group; /* fields of one group compete: the lowest rank is kept */
	uint8_t rank;
};

#define PEN_IANA          0
#define PEN_REVERSE       29305 /* RFC 5103 reverse information elements */
#define V9_SCOPE_SYSTEM   1     /* RFC 3954 §6.1 scope field types */
#define V9_SCOPE_IF       2
#define V9_SCOPE_LINECARD 3
#define V9_SCOPE_CACHE    4
#define V9_SCOPE_TEMPLATE 5

/*
 * Maps an information element of wire length len to a step (op->kind, dst, bit, group, rank).
 * v9_scope: the id is a NetFlow v9 scope field type, not an IE. Returns false when the element
 * is not mapped or its length does not fit the destination; the caller skips it by length.
 */
bool fld_map(uint32_t pen, uint16_t id, uint16_t len, bool v9_scope, struct tmpl_op *op);

/* The IP version implied by an address element (4, 6) or 0. */
uint8_t fld_ip_version(uint32_t pen, uint16_t id);

#endif
