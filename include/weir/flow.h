/* flow.h - the normalized flow record and the batch every pipeline stage passes on. */
#ifndef WEIR_FLOW_H
#define WEIR_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An IP address of either family. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) so that one
 * 16-byte compare or hash serves both families.
 */
struct wip {
	uint8_t a[16];
};

/* Bits of flow.present: a field whose bit is clear was not reported by the exporter. */
enum flow_field {
	FF_SRC_ADDR = 0,
	FF_DST_ADDR,
	FF_NEXTHOP,
	FF_BGP_NEXTHOP,
	FF_SRC_MASK,
	FF_DST_MASK,
	FF_SRC_PORT,
	FF_DST_PORT,
	FF_PROTO,
	FF_TCP_FLAGS,
	FF_TOS,
	FF_IN_IF,
	FF_OUT_IF,
	FF_SRC_AS,
	FF_DST_AS,
	FF_DIRECTION,
	FF_VLAN,
	FF_OUT_VLAN,
	FF_SRC_MAC,
	FF_DST_MAC,
	FF_MPLS,
	FF_FWD_STATUS,
	FF_ICMP,
	FF_SAMPLING, /* sampling_rate is known (from the record, options data or config) */
	FF_SAMPLER_ID,
	FF_END_REASON,
	FF_FLOW_ID,
	FF_POST_NAT_SRC,
	FF_POST_NAT_DST,
	FF_POST_NAT_SRC_PORT,
	FF_POST_NAT_DST_PORT,
	FF_FIRST, /* first_ms */
	FF_LAST,  /* last_ms */
	FF_BYTES,
	FF_PACKETS,
	FF_FLOWS,
	FF_ENGINE,       /* engine_type / engine_id (v5) */
	FF_REV_COUNTERS, /* rev_bytes / rev_packets (RFC 5103 biflow) */
	FF_BGP,          /* BGP attributes known: as_path, std_comm, local_pref, peer ASes */
	FF_COUNT
};

#define FLOW_HAS(f, bit) (((f)->present >> (bit)) & 1u)
#define FLOW_SET(f, bit) ((f)->present |= (UINT64_C(1) << (bit)))

/* What a record is: a flow, or an options data record (sampler, interface table ...). */
enum flow_event {
	FLOW_EV_FLOW = 0,
	FLOW_EV_OPTION = 1,
	FLOW_EV_COUNTER = 2, /* sFlow counter sample */
};

#define FLOW_MPLS_MAX 10

/*
 * One normalized record. Times are milliseconds since the epoch (UTC). Counters are as
 * exported (not renormalized); enrich/ multiplies by sampling_rate when configured.
 */
struct flow {
	uint64_t present; /* FF_* bits */
	uint64_t bytes;
	uint64_t packets;
	uint64_t flows;
	uint64_t rev_bytes;
	uint64_t rev_packets;
	uint64_t first_ms;   /* timestamp_start */
	uint64_t last_ms;    /* timestamp_end */
	uint64_t arrival_ms; /* when the export datagram arrived (or its pcap time) */
	uint64_t flow_id;

	struct wip src;
	struct wip dst;
	struct wip nexthop;
	struct wip bgp_nexthop;
	struct wip exporter; /* peer_ip_src: the UDP source, or the sFlow agent address */
	struct wip post_nat_src;
	struct wip post_nat_dst;

	uint32_t domain;     /* NetFlow v9 source id / IPFIX observation domain / sFlow sub-agent */
	uint32_t export_seq; /* sequence number of the export datagram header */
	uint32_t sampling_rate; /* 1-in-N; 0 = unknown */
	uint32_t sampler_id;
	uint32_t in_if;
	uint32_t out_if;
	uint32_t src_as;
	uint32_t dst_as;
	uint32_t mpls[FLOW_MPLS_MAX]; /* label stack entries as on the wire (label<<4|exp<<1|bos) */

	uint16_t src_port;
	uint16_t dst_port;
	uint16_t post_nat_src_port;
	uint16_t post_nat_dst_port;
	uint16_t vlan;
	uint16_t out_vlan;
	uint16_t icmp;        /* type << 8 | code */
	uint16_t template_id; /* the template that produced the record (0 for v5) */

	uint8_t src_mac[6];
	uint8_t dst_mac[6];

	uint8_t ip_version; /* 4 or 6; 0 when the record carries no address */
	uint8_t proto;
	uint8_t tcp_flags;
	uint8_t tos;
	uint8_t src_mask;
	uint8_t dst_mask;
	uint8_t direction; /* 0 ingress, 1 egress (IE 61) */
	uint8_t fwd_status;
	uint8_t end_reason;
	uint8_t mpls_depth;
	uint8_t engine_type;
	uint8_t engine_id;
	uint8_t sampling_algo;
	uint8_t export_version; /* 5, 9, 10 (IPFIX), 105 (sFlow v5) */
	uint8_t event;          /* enum flow_event */

	/* Set by enrich/ (pre_tag_map, networks_file); zero from the decoders. */
	uint64_t tag;
	uint64_t tag2;
	const char *label; /* pre_tag_map set_label; NULL = none; owned by the map */
	uint32_t peer_src_as;
	uint32_t peer_dst_as;
	/*
	 * BGP attributes (sFlow extended_gateway today; bgp/ later), FF_BGP when known. The texts
	 * are interned (src/lib/intern.h): one stable copy per distinct text, so keys compare
	 * pointers. as_path: ASNs separated by spaces (AS_SETs flattened, as sfacctd); std_comm:
	 * "asn:value" separated by spaces. NULL = none.
	 */
	const char *as_path;
	const char *std_comm;
	uint32_t local_pref;
	uint32_t med;
	/*
	 * as_src_name / as_dst_name: set by the aggregate writer on the rows it hands a sink, from
	 * src_as/dst_as through the AS-name resolver; NULL = none. Never part of a key.
	 */
	const char *as_src_name;
	const char *as_dst_name;
};

/* The unit every stage passes on: records decoded from one or more datagrams. */
#define FLOW_BATCH_MAX 1024

struct flow_batch {
	size_t n;
	struct flow rec[FLOW_BATCH_MAX];
};

/* Address helpers (src/lib/addr.c). */
void wip_from_v4(struct wip *w, uint32_t host_order);
void wip_from_v6(struct wip *w, const uint8_t b[16]);
bool wip_is_v4(const struct wip *w);
uint32_t wip_v4(const struct wip *w); /* host order; valid when wip_is_v4() */
/* Text form: dotted quad for IPv4-mapped, RFC 5952 otherwise. buf >= WIP_STRLEN. */
#define WIP_STRLEN 46
const char *wip_str(const struct wip *w, char *buf, size_t len);
/* Parses "1.2.3.4" or an IPv6 literal; false when it is neither. */
bool wip_parse(struct wip *w, const char *s);

#endif
