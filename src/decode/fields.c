/* fields.c - the IE id -> struct flow table used when a template is compiled. */
#include "decode/fields.h"

#include <stddef.h>

#include "decode/template.h"
#include "weir/flow.h"

/* Groups of elements that fill the same flow field; within one the lowest rank wins. */
enum {
	G_NONE = 0,
	G_BYTES,
	G_PACKETS,
	G_SRC_MAC,
	G_DST_MAC,
	G_VLAN,
	G_OUT_VLAN,
	G_NEXTHOP,
	G_BGP_NEXTHOP,
	G_FIRST,
	G_LAST,
	G_SAMPLER,
	G_RATE,
	G_REV_BYTES,
	G_REV_PACKETS,
	G_POST_NAT_SRC,
	G_POST_NAT_DST,
};

struct ie_map {
	uint16_t id;
	uint8_t kind;
	uint8_t bit;
	uint16_t dst;
	uint8_t group;
	uint8_t rank;
	uint8_t minlen, maxlen; /* wire lengths accepted (reduced-size encoding) */
};

#define F(field) ((uint16_t)offsetof(struct flow, field))
#define MPLS(i)  ((uint16_t)(offsetof(struct flow, mpls) + (i) * sizeof(uint32_t)))

/* IANA elements (RFC 7012 registry; RFC 3954 §8 ids are the same numbers). */
static const struct ie_map iana[] = {
    {1, OP_U64, FF_BYTES, F(bytes), G_BYTES, 0, 1, 8},
    {2, OP_U64, FF_PACKETS, F(packets), G_PACKETS, 0, 1, 8},
    {3, OP_U64, FF_FLOWS, F(flows), G_NONE, 0, 1, 8},
    {4, OP_U8, FF_PROTO, F(proto), G_NONE, 0, 1, 1},
    {5, OP_U8, FF_TOS, F(tos), G_NONE, 0, 1, 1},
    {6, OP_U8, FF_TCP_FLAGS, F(tcp_flags), G_NONE, 0, 1, 2}, /* low 8 bits of 2 */
    {7, OP_U16, FF_SRC_PORT, F(src_port), G_NONE, 0, 1, 2},
    {8, OP_V4, FF_SRC_ADDR, F(src), G_NONE, 0, 4, 4},
    {9, OP_U8, FF_SRC_MASK, F(src_mask), G_NONE, 0, 1, 1},
    {10, OP_U32, FF_IN_IF, F(in_if), G_NONE, 0, 1, 4},
    {11, OP_U16, FF_DST_PORT, F(dst_port), G_NONE, 0, 1, 2},
    {12, OP_V4, FF_DST_ADDR, F(dst), G_NONE, 0, 4, 4},
    {13, OP_U8, FF_DST_MASK, F(dst_mask), G_NONE, 0, 1, 1},
    {14, OP_U32, FF_OUT_IF, F(out_if), G_NONE, 0, 1, 4},
    {15, OP_V4, FF_NEXTHOP, F(nexthop), G_NEXTHOP, 0, 4, 4},
    {16, OP_U32, FF_SRC_AS, F(src_as), G_NONE, 0, 1, 4},
    {17, OP_U32, FF_DST_AS, F(dst_as), G_NONE, 0, 1, 4},
    {18, OP_V4, FF_BGP_NEXTHOP, F(bgp_nexthop), G_BGP_NEXTHOP, 0, 4, 4},
    {21, OP_AUX, 0, AUX_UP_LAST, G_LAST, 2, 1, 4},
    {22, OP_AUX, 0, AUX_UP_FIRST, G_FIRST, 2, 1, 4},
    {23, OP_U64, FF_BYTES, F(bytes), G_BYTES, 2, 1, 8},
    {24, OP_U64, FF_PACKETS, F(packets), G_PACKETS, 2, 1, 8},
    {27, OP_V6, FF_SRC_ADDR, F(src), G_NONE, 0, 16, 16},
    {28, OP_V6, FF_DST_ADDR, F(dst), G_NONE, 0, 16, 16},
    {29, OP_U8, FF_SRC_MASK, F(src_mask), G_NONE, 0, 1, 1},
    {30, OP_U8, FF_DST_MASK, F(dst_mask), G_NONE, 0, 1, 1},
    {32, OP_U16, FF_ICMP, F(icmp), G_NONE, 0, 2, 2},
    {34, OP_AUX, 0, AUX_RATE, G_RATE, 0, 1, 4},
    {35, OP_U8, FF_SCRATCH, F(sampling_algo), G_NONE, 0, 1, 1},
    {38, OP_U8, FF_ENGINE, F(engine_type), G_NONE, 0, 1, 1},
    {39, OP_U8, FF_ENGINE, F(engine_id), G_NONE, 0, 1, 1},
    {48, OP_U32, FF_SAMPLER_ID, F(sampler_id), G_SAMPLER, 0, 1, 4},
    {49, OP_U8, FF_SCRATCH, F(sampling_algo), G_NONE, 0, 1, 1},
    {50, OP_AUX, 0, AUX_RATE, G_RATE, 1, 1, 4},
    {56, OP_MAC, FF_SRC_MAC, F(src_mac), G_SRC_MAC, 0, 6, 6},
    {57, OP_MAC, FF_DST_MAC, F(dst_mac), G_DST_MAC, 1, 6, 6},
    {58, OP_U16, FF_VLAN, F(vlan), G_VLAN, 0, 1, 2},
    {59, OP_U16, FF_OUT_VLAN, F(out_vlan), G_OUT_VLAN, 0, 1, 2},
    {60, OP_U8, FF_SCRATCH, F(ip_version), G_NONE, 0, 1, 1},
    {61, OP_U8, FF_DIRECTION, F(direction), G_NONE, 0, 1, 1},
    {62, OP_V6, FF_NEXTHOP, F(nexthop), G_NEXTHOP, 0, 16, 16},
    {63, OP_V6, FF_BGP_NEXTHOP, F(bgp_nexthop), G_BGP_NEXTHOP, 0, 16, 16},
    {70, OP_U32, FF_MPLS, MPLS(0), G_NONE, 0, 3, 4},
    {71, OP_U32, FF_MPLS, MPLS(1), G_NONE, 0, 3, 4},
    {72, OP_U32, FF_MPLS, MPLS(2), G_NONE, 0, 3, 4},
    {73, OP_U32, FF_MPLS, MPLS(3), G_NONE, 0, 3, 4},
    {74, OP_U32, FF_MPLS, MPLS(4), G_NONE, 0, 3, 4},
    {75, OP_U32, FF_MPLS, MPLS(5), G_NONE, 0, 3, 4},
    {76, OP_U32, FF_MPLS, MPLS(6), G_NONE, 0, 3, 4},
    {77, OP_U32, FF_MPLS, MPLS(7), G_NONE, 0, 3, 4},
    {78, OP_U32, FF_MPLS, MPLS(8), G_NONE, 0, 3, 4},
    {79, OP_U32, FF_MPLS, MPLS(9), G_NONE, 0, 3, 4},
    {80, OP_MAC, FF_DST_MAC, F(dst_mac), G_DST_MAC, 0, 6, 6},
    {81, OP_MAC, FF_SRC_MAC, F(src_mac), G_SRC_MAC, 1, 6, 6},
    {85, OP_U64, FF_BYTES, F(bytes), G_BYTES, 1, 1, 8},
    {86, OP_U64, FF_PACKETS, F(packets), G_PACKETS, 1, 1, 8},
    {89, OP_U8, FF_FWD_STATUS, F(fwd_status), G_NONE, 0, 1, 4}, /* unsigned32 since RFC 7270 */
    {136, OP_U8, FF_END_REASON, F(end_reason), G_NONE, 0, 1, 1},
    {139, OP_U16, FF_ICMP, F(icmp), G_NONE, 0, 2, 2},
    {148, OP_U64, FF_FLOW_ID, F(flow_id), G_NONE, 0, 1, 8},
    {150, OP_T_SEC, FF_FIRST, F(first_ms), G_FIRST, 1, 4, 4},
    {151, OP_T_SEC, FF_LAST, F(last_ms), G_LAST, 1, 4, 4},
    {152, OP_T_MS, FF_FIRST, F(first_ms), G_FIRST, 0, 8, 8},
    {153, OP_T_MS, FF_LAST, F(last_ms), G_LAST, 0, 8, 8},
    {154, OP_T_US, FF_FIRST, F(first_ms), G_FIRST, 0, 8, 8},
    {155, OP_T_US, FF_LAST, F(last_ms), G_LAST, 0, 8, 8},
    {156, OP_T_NS, FF_FIRST, F(first_ms), G_FIRST, 0, 8, 8},
    {157, OP_T_NS, FF_LAST, F(last_ms), G_LAST, 0, 8, 8},
    {158, OP_AUX, 0, AUX_DELTA_FIRST, G_FIRST, 3, 1, 4},
    {159, OP_AUX, 0, AUX_DELTA_LAST, G_LAST, 3, 1, 4},
    {160, OP_AUX, 0, AUX_SYSINIT, G_NONE, 0, 8, 8},
    {176, OP_ICMP_TYPE, FF_ICMP, 0, G_NONE, 0, 1, 1},
    {177, OP_ICMP_CODE, FF_ICMP, 0, G_NONE, 0, 1, 1},
    {178, OP_ICMP_TYPE, FF_ICMP, 0, G_NONE, 0, 1, 1},
    {179, OP_ICMP_CODE, FF_ICMP, 0, G_NONE, 0, 1, 1},
    {225, OP_V4, FF_POST_NAT_SRC, F(post_nat_src), G_POST_NAT_SRC, 0, 4, 4},
    {226, OP_V4, FF_POST_NAT_DST, F(post_nat_dst), G_POST_NAT_DST, 0, 4, 4},
    {227, OP_U16, FF_POST_NAT_SRC_PORT, F(post_nat_src_port), G_NONE, 0, 1, 2},
    {228, OP_U16, FF_POST_NAT_DST_PORT, F(post_nat_dst_port), G_NONE, 0, 1, 2},
    {243, OP_U16, FF_VLAN, F(vlan), G_VLAN, 1, 1, 2},
    {254, OP_U16, FF_OUT_VLAN, F(out_vlan), G_OUT_VLAN, 1, 1, 2},
    {281, OP_V6, FF_POST_NAT_SRC, F(post_nat_src), G_POST_NAT_SRC, 0, 16, 16},
    {282, OP_V6, FF_POST_NAT_DST, F(post_nat_dst), G_POST_NAT_DST, 0, 16, 16},
    {302, OP_U32, FF_SAMPLER_ID, F(sampler_id), G_SAMPLER, 1, 1, 8}, /* low 32 bits */
    {304, OP_U8, FF_SCRATCH, F(sampling_algo), G_NONE, 0, 1, 2},
    {305, OP_AUX, 0, AUX_PKT_INTERVAL, G_NONE, 0, 1, 4},
    {306, OP_AUX, 0, AUX_PKT_SPACE, G_NONE, 0, 1, 4},
    {309, OP_AUX, 0, AUX_SMP_SIZE, G_NONE, 0, 1, 4},
    {310, OP_AUX, 0, AUX_SMP_POP, G_NONE, 0, 1, 4},
};

/* RFC 5103 reverse elements: PEN 29305 with the forward element's id. */
static const struct ie_map reverse[] = {
    {1, OP_U64, FF_REV_COUNTERS, F(rev_bytes), G_REV_BYTES, 0, 1, 8},
    {2, OP_U64, FF_REV_COUNTERS, F(rev_packets), G_REV_PACKETS, 0, 1, 8},
    {85, OP_U64, FF_REV_COUNTERS, F(rev_bytes), G_REV_BYTES, 1, 1, 8},
    {86, OP_U64, FF_REV_COUNTERS, F(rev_packets), G_REV_PACKETS, 1, 1, 8},
};

/* NetFlow v9 options scope field types (RFC 3954 §6.1). */
static const struct ie_map v9_scope[] = {
    {V9_SCOPE_IF, OP_U32, FF_IN_IF, F(in_if), G_NONE, 0, 1, 4},
};

static const struct ie_map *find(const struct ie_map *t, size_t n, uint16_t id)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].id == id)
			return &t[i];
	return NULL;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

bool fld_map(uint32_t pen, uint16_t id, uint16_t len, bool is_v9_scope, struct tmpl_op *op)
{
	const struct ie_map *m = NULL;

	if (is_v9_scope)
		m = find(v9_scope, NELEM(v9_scope), id);
	else if (pen == PEN_IANA)
		m = find(iana, NELEM(iana), id);
	else if (pen == PEN_REVERSE)
		m = find(reverse, NELEM(reverse), id);
	if (!m || len == TMPL_VARLEN || len < m->minlen || len > m->maxlen)
		return false;
	op->len = len;
	op->kind = m->kind;
	op->bit = m->bit;
	op->dst = m->dst;
	op->group = m->group;
	op->rank = m->rank;
	return true;
}

uint8_t fld_ip_version(uint32_t pen, uint16_t id)
{
	if (pen != PEN_IANA)
		return 0;
	switch (id) {
	case 8:
	case 12:
		return 4;
	case 27:
	case 28:
		return 6;
	default:
		return 0;
	}
}
