/* pkt.c - Ethernet/802.1Q/QinQ/MPLS/IPv4/IPv6(+extension headers)/TCP/UDP/ICMP header parser. */
#include "decode/pkt.h"

#include <string.h>

#include "lib/cursor.h"

#define ETH_IPV4  0x0800
#define ETH_IPV6  0x86dd
#define ETH_VLAN  0x8100
#define ETH_QINQ  0x88a8
#define ETH_QINQ2 0x9100 /* pre-standard QinQ */
#define ETH_MPLS  0x8847
#define ETH_MPLSM 0x8848

static const char *const stop_names[] = {
    [PKT_OK] = "ok",
    [PKT_TRUNCATED] = "truncated",
    [PKT_NOT_IP] = "not_ip",
    [PKT_BAD_IP] = "bad_ip",
    [PKT_EXT_LIMIT] = "ipv6_ext_limit",
    [PKT_FRAGMENT] = "fragment",
    [PKT_TAG_LIMIT] = "tag_limit",
};

const char *pkt_stop_name(enum pkt_stop s)
{
	if ((unsigned)s >= sizeof(stop_names) / sizeof(stop_names[0]))
		return "unknown";
	return stop_names[s];
}

/* The transport header at c; l3 is where the IP header began (for l4_off). */
static enum pkt_stop pkt_l4(struct cursor *c, struct pkt_info *pi, const uint8_t *l3)
{
	const uint8_t *h = c->p;

	pi->l4_off = pi->l3_off + (uint32_t)(h - l3);

	switch (pi->proto) {
	case 6: /* TCP: ports, then flags at offset 13 */
		if (cur_left(c) < 4)
			return PKT_TRUNCATED;
		pi->src_port = get_u16(h);
		pi->dst_port = get_u16(h + 2);
		pi->have |= PKT_HAVE_PORTS;
		if (cur_left(c) < 14)
			return PKT_TRUNCATED;
		pi->tcp_flags = h[13] & 0x3f;
		pi->have |= PKT_HAVE_FLAGS;
		return PKT_OK;
	case 17:  /* UDP */
	case 132: /* SCTP */
	case 136: /* UDP-Lite */
		if (cur_left(c) < 4)
			return PKT_TRUNCATED;
		pi->src_port = get_u16(h);
		pi->dst_port = get_u16(h + 2);
		pi->have |= PKT_HAVE_PORTS;
		return PKT_OK;
	case 1:  /* ICMP */
	case 58: /* ICMPv6 */
		if (cur_left(c) < 2)
			return PKT_TRUNCATED;
		pi->icmp = get_u16(h);
		pi->have |= PKT_HAVE_ICMP;
		return PKT_OK;
	default:
		return PKT_OK;
	}
}

/* RFC 791 */
static enum pkt_stop pkt_ipv4(struct cursor *c, struct pkt_info *pi)
{
	const uint8_t *h = c->p;
	size_t ihl;

	if (cur_left(c) < 20)
		return PKT_TRUNCATED;
	ihl = (size_t)(h[0] & 0x0f) * 4;
	if (h[0] >> 4 != 4 || ihl < 20)
		return PKT_BAD_IP;
	pi->ip_version = 4;
	pi->tos = h[1];
	pi->ip_len = get_u16(h + 2);
	pi->ttl = h[8];
	pi->proto = h[9];
	wip_from_v4(&pi->src, get_u32(h + 12));
	wip_from_v4(&pi->dst, get_u32(h + 16));
	pi->have |= PKT_HAVE_IP;
	uint16_t frag = get_u16(h + 6);
	pi->fragment = (frag & 0x3fff) != 0;
	if (frag & 0x1fff)
		return PKT_FRAGMENT; /* only the first fragment has a transport header */
	if (!cur_skip(c, ihl))
		return PKT_TRUNCATED;
	return pkt_l4(c, pi, h);
}

/* RFC 8200 §4: walks extension headers to the upper-layer header, bounded by PKT_EXT_MAX. */
static enum pkt_stop pkt_ipv6_ext(struct cursor *c, struct pkt_info *pi, uint8_t nh,
                                  const uint8_t *l3)
{
	for (int n = 0;; n++) {
		uint8_t hdr[2];
		size_t len;

		switch (nh) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
			if (!cur_bytes(c, hdr, 2))
				return PKT_TRUNCATED;
			len = ((size_t)hdr[1] + 1) * 8 - 2;
			break;
		case 51: /* AH: length in 4-byte units minus 2 (RFC 4302) */
			if (!cur_bytes(c, hdr, 2))
				return PKT_TRUNCATED;
			len = ((size_t)hdr[1] + 2) * 4 - 2;
			break;
		case 44: /* fragment */
			if (cur_left(c) < 8)
				return PKT_TRUNCATED;
			hdr[0] = c->p[0];
			pi->fragment = true;
			if (get_u16(c->p + 2) & 0xfff8) {
				pi->proto = hdr[0];
				return PKT_FRAGMENT;
			}
			len = 6;
			cur_skip(c, 2);
			break;
		default:
			pi->proto = nh;
			return pkt_l4(c, pi, l3);
		}
		if (n >= PKT_EXT_MAX) {
			pi->proto = nh;
			return PKT_EXT_LIMIT;
		}
		if (!cur_skip(c, len)) {
			pi->proto = nh;
			return PKT_TRUNCATED;
		}
		nh = hdr[0];
	}
}

static enum pkt_stop pkt_ipv6(struct cursor *c, struct pkt_info *pi)
{
	const uint8_t *h = c->p;
	uint32_t vtf;

	if (cur_left(c) < 40)
		return PKT_TRUNCATED;
	vtf = get_u32(h);
	if (vtf >> 28 != 6)
		return PKT_BAD_IP;
	pi->ip_version = 6;
	pi->tos = (uint8_t)(vtf >> 20);
	/* 0 = a jumbogram (RFC 2675) or too long for 16 bits: users take the wire length */
	uint32_t plen = get_u16(h + 4);
	pi->ip_len = plen && plen <= 65535 - 40 ? (uint16_t)(plen + 40) : 0;
	pi->proto = h[6];
	pi->ttl = h[7];
	wip_from_v6(&pi->src, h + 8);
	wip_from_v6(&pi->dst, h + 24);
	pi->have |= PKT_HAVE_IP;
	cur_skip(c, 40);
	return pkt_ipv6_ext(c, pi, pi->proto, h);
}

/* IP by the version nibble, or the version the link layer named (0 = by nibble). */
static enum pkt_stop pkt_ip(struct cursor *c, struct pkt_info *pi, const uint8_t *start,
                            int version)
{
	if (!version) {
		if (cur_left(c) < 1)
			return PKT_TRUNCATED;
		version = c->p[0] >> 4;
	}
	pi->l3_off = (uint32_t)(c->p - start);
	if (version == 4)
		return pkt_ipv4(c, pi);
	if (version == 6)
		return pkt_ipv6(c, pi);
	return PKT_BAD_IP;
}

/* RFC 3032: labels until the bottom of stack; IP follows, told by its first nibble. */
static enum pkt_stop pkt_mpls(struct cursor *c, struct pkt_info *pi, const uint8_t *start)
{
	uint32_t e;

	pi->have |= PKT_HAVE_MPLS;
	do {
		if (!cur_u32(c, &e))
			return PKT_TRUNCATED;
		if (pi->mpls_depth >= FLOW_MPLS_MAX)
			return PKT_TAG_LIMIT;
		pi->mpls[pi->mpls_depth++] = e >> 8;
	} while (!(e & 0x100));
	if (cur_left(c) < 1)
		return PKT_TRUNCATED;
	if (c->p[0] >> 4 != 4 && c->p[0] >> 4 != 6)
		return PKT_NOT_IP; /* pseudowire control word or Ethernet over MPLS */
	return pkt_ip(c, pi, start, 0);
}

/* The network layer named by an ethertype: IP, MPLS, or something we do not meter. */
static enum pkt_stop pkt_ethertype(struct cursor *c, struct pkt_info *pi, const uint8_t *start,
                                   uint16_t type)
{
	switch (type) {
	case ETH_IPV4:
		return pkt_ip(c, pi, start, 4);
	case ETH_IPV6:
		return pkt_ip(c, pi, start, 6);
	case ETH_MPLS:
	case ETH_MPLSM:
		return pkt_mpls(c, pi, start);
	default:
		return PKT_NOT_IP;
	}
}

/* IEEE 802.3 / Ethernet II with up to PKT_TAGS_MAX 802.1Q/802.1ad tags; LLC/SNAP is skipped. */
static enum pkt_stop pkt_eth(struct cursor *c, struct pkt_info *pi, const uint8_t *start)
{
	uint16_t type, tci;
	int tags = 0;

	if (cur_left(c) < 14)
		return PKT_TRUNCATED;
	memcpy(pi->dst_mac, c->p, 6);
	memcpy(pi->src_mac, c->p + 6, 6);
	pi->have |= PKT_HAVE_ETH;
	cur_skip(c, 12);
	cur_u16(c, &type);
	while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ2) {
		if (tags++ >= PKT_TAGS_MAX)
			return PKT_TAG_LIMIT;
		if (!cur_u16(c, &tci) || !cur_u16(c, &type))
			return PKT_TRUNCATED;
		if (tags == 1) {
			pi->vlan = tci & 0x0fff;
			pi->vlan_pcp = (uint8_t)(tci >> 13);
			pi->have |= PKT_HAVE_VLAN;
		} else if (tags == 2) {
			pi->inner_vlan = tci & 0x0fff;
			pi->have |= PKT_HAVE_QINQ;
		}
	}
	if (type <= 1500) { /* 802.3 length: LLC, maybe SNAP with an ethertype */
		uint8_t llc[8];
		if (!cur_bytes(c, llc, 3))
			return PKT_TRUNCATED;
		if (llc[0] != 0xaa || llc[1] != 0xaa)
			return PKT_NOT_IP;
		if (!cur_bytes(c, llc + 3, 5))
			return PKT_TRUNCATED;
		type = get_u16(llc + 6);
	}
	return pkt_ethertype(c, pi, start, type);
}

/* Linux cooked capture v1: 16-byte header ending in the ethertype. */
static enum pkt_stop pkt_sll(struct cursor *c, struct pkt_info *pi, const uint8_t *start)
{
	uint16_t type;

	if (!cur_skip(c, 14) || !cur_u16(c, &type))
		return PKT_TRUNCATED;
	return pkt_ethertype(c, pi, start, type);
}

/*
 * gcc expands a constant-size memset of struct pkt_info inline as rep stosq; glibc's vector
 * code is 2 ns faster, on a path that runs once per sFlow sample or captured packet. The
 * volatile pointer keeps the call a call.
 */
static void *(*volatile pkt_memset)(void *, int, size_t) = memset;

enum pkt_stop pkt_parse(const uint8_t *p, size_t len, enum pkt_link link, struct pkt_info *out)
{
	struct cursor c;
	enum pkt_stop s;

	pkt_memset(out, 0, sizeof(*out));
	cur_init(&c, p, len);
	switch (link) {
	case PKT_LINK_ETH:
		s = pkt_eth(&c, out, p);
		break;
	case PKT_LINK_IPV4:
		s = pkt_ip(&c, out, p, 4);
		break;
	case PKT_LINK_IPV6:
		s = pkt_ip(&c, out, p, 6);
		break;
	case PKT_LINK_SLL:
		s = pkt_sll(&c, out, p);
		break;
	case PKT_LINK_NULL:
		s = cur_skip(&c, 4) ? pkt_ip(&c, out, p, 0) : PKT_TRUNCATED;
		break;
	default:
		s = pkt_ip(&c, out, p, 0);
		break;
	}
	out->stop = (uint8_t)s;
	return s;
}

void pkt_to_flow(const struct pkt_info *pi, struct flow *f)
{
	if (pi->have & PKT_HAVE_ETH) {
		memcpy(f->src_mac, pi->src_mac, 6);
		memcpy(f->dst_mac, pi->dst_mac, 6);
		FLOW_SET(f, FF_SRC_MAC);
		FLOW_SET(f, FF_DST_MAC);
	}
	if (pi->have & PKT_HAVE_VLAN) {
		f->vlan = pi->vlan;
		FLOW_SET(f, FF_VLAN);
	}
	if (pi->have & PKT_HAVE_MPLS) {
		memcpy(f->mpls, pi->mpls, sizeof(f->mpls));
		f->mpls_depth = pi->mpls_depth;
		FLOW_SET(f, FF_MPLS);
	}
	if (pi->have & PKT_HAVE_IP) {
		f->ip_version = pi->ip_version;
		f->src = pi->src;
		f->dst = pi->dst;
		f->proto = pi->proto;
		f->tos = pi->tos;
		FLOW_SET(f, FF_SRC_ADDR);
		FLOW_SET(f, FF_DST_ADDR);
		FLOW_SET(f, FF_PROTO);
		FLOW_SET(f, FF_TOS);
	}
	if (pi->have & PKT_HAVE_PORTS) {
		f->src_port = pi->src_port;
		f->dst_port = pi->dst_port;
		FLOW_SET(f, FF_SRC_PORT);
		FLOW_SET(f, FF_DST_PORT);
	}
	if (pi->have & PKT_HAVE_FLAGS) {
		f->tcp_flags = pi->tcp_flags;
		FLOW_SET(f, FF_TCP_FLAGS);
	}
	if (pi->have & PKT_HAVE_ICMP) {
		f->icmp = pi->icmp;
		FLOW_SET(f, FF_ICMP);
	}
}
