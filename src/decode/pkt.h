/* pkt.h - the shared link/network/transport header parser (sFlow raw headers, pcap metering). */
#ifndef WEIR_PKT_H
#define WEIR_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

/* What the first byte of the buffer is. */
enum pkt_link {
	PKT_LINK_ETH = 0, /* Ethernet II / 802.3 (DLT_EN10MB, sFlow header_protocol 1) */
	PKT_LINK_IPV4,    /* bare IPv4 (sFlow header_protocol 11) */
	PKT_LINK_IPV6,    /* bare IPv6 (sFlow header_protocol 12) */
	PKT_LINK_RAW,     /* IPv4 or IPv6 by the version nibble (DLT_RAW) */
	PKT_LINK_SLL,     /* Linux cooked capture (DLT_LINUX_SLL) */
	PKT_LINK_NULL,    /* BSD loopback: 4-byte host-order family (DLT_NULL) */
};

/* Bits of pkt_info.have: how far the headers decoded. */
#define PKT_HAVE_ETH   0x01u /* MACs */
#define PKT_HAVE_VLAN  0x02u
#define PKT_HAVE_QINQ  0x04u /* inner_vlan */
#define PKT_HAVE_MPLS  0x08u
#define PKT_HAVE_IP    0x10u /* addresses, proto, tos, ip_len */
#define PKT_HAVE_PORTS 0x20u
#define PKT_HAVE_FLAGS 0x40u /* TCP flags */
#define PKT_HAVE_ICMP  0x80u

/* Why parsing stopped before the transport header (none when it got there or there is none). */
enum pkt_stop {
	PKT_OK = 0,
	PKT_TRUNCATED, /* the buffer ends inside a header: fields so far are valid */
	PKT_NOT_IP,    /* an ethertype that is neither IP nor a tag/label we walk */
	PKT_BAD_IP,    /* version/IHL inconsistent */
	PKT_EXT_LIMIT, /* more IPv6 extension headers than PKT_EXT_MAX */
	PKT_FRAGMENT,  /* a non-first fragment: no transport header */
	PKT_TAG_LIMIT, /* more VLAN tags or MPLS labels than we walk */
};

#define PKT_EXT_MAX  8 /* IPv6 extension headers walked before giving up */
#define PKT_TAGS_MAX 4 /* VLAN tags walked */

struct pkt_info {
	uint32_t have; /* PKT_HAVE_* */
	uint8_t stop;  /* enum pkt_stop */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint16_t vlan;       /* outer 802.1Q/802.1ad VLAN id */
	uint16_t inner_vlan; /* the customer tag of QinQ */
	uint8_t vlan_pcp;
	uint8_t mpls_depth;
	uint32_t mpls[FLOW_MPLS_MAX]; /* label stack entries without TTL: label<<4 | exp<<1 | bos */
	uint8_t ip_version;
	uint8_t proto;
	uint8_t tos; /* IPv4 TOS / IPv6 traffic class */
	uint8_t ttl;
	uint8_t tcp_flags;
	bool fragment;   /* a fragment (first or not) */
	uint16_t ip_len; /* IPv4 total length / IPv6 40 + payload length (0 = jumbo/unknown) */
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t icmp; /* type << 8 | code */
	struct wip src;
	struct wip dst;
	uint32_t l3_off; /* offset of the IP header in the buffer */
	uint32_t l4_off; /* offset of the transport header (PKT_HAVE_PORTS/ICMP), 0 = none */
};

/*
 * Parses the headers at p[0..len) as far as they go. Never reads past p + len and never
 * writes into it. Returns the stop reason (also in out->stop); the fields marked in out->have
 * are valid whatever it returns.
 */
enum pkt_stop pkt_parse(const uint8_t *p, size_t len, enum pkt_link link, struct pkt_info *out);

const char *pkt_stop_name(enum pkt_stop s);

/* Copies the decoded headers into a flow record and sets its presence bits. */
void pkt_to_flow(const struct pkt_info *pi, struct flow *f);

#endif
