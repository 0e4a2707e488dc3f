/* pcapfile.c - UDP datagrams out of pcap/pcapng savefiles: link, IPv4/IPv6 and UDP headers. */
#include "ingest/pcapfile.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cursor.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define ETH_P_IPV4    0x0800
#define ETH_P_IPV6    0x86dd
#define ETH_P_8021Q   0x8100
#define ETH_P_8021AD  0x88a8
#define ETH_P_QINQ    0x9100
#define MAX_VLAN_TAGS 4
#define IPPROTO_UDP_  17

#define REASM_SLOTS      4     /* datagrams reassembled at the same time */
#define REASM_MAX        65535 /* largest reassembled IP payload */
#define REASM_TIMEOUT_MS 30000 /* of capture time, like the Linux default */

/* One datagram being reassembled; seen[] has a bit per 8-byte block, to refuse overlaps. */
struct reasm {
	bool used;
	bool v6;
	uint8_t proto;
	uint32_t id;
	struct wip src;
	struct wip dst;
	uint64_t first_ms;
	uint32_t total; /* payload length, known once the last fragment came; 0 before */
	uint32_t got;
	uint32_t hi; /* highest fragment end seen, so that none lies past the last fragment */
	uint8_t seen[REASM_MAX / 64 + 1];
	uint8_t data[REASM_MAX];
};

struct pcapfile {
	pcap_t *pcap;
	int dlt;
	uint16_t dst_port;
	struct pcapfile_stats st;
	struct reasm *reasm; /* REASM_SLOTS, allocated at the first fragment */
};

bool pcap_dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_NULL:
	case DLT_EN10MB:
	case DLT_RAW:
	case DLT_LOOP:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_IPV4:
	case DLT_IPV6:
		return true;
	default:
		return false;
	}
}

/* RFC 768: c holds exactly the IP payload. A UDP length past it means a cut datagram. */
static enum frame_kind parse_udp(struct cursor *c, bool v6, struct pcap_udp *out)
{
	uint16_t ulen;

	if (!cur_u16(c, &out->src_port) || !cur_u16(c, &out->dst_port) || !cur_u16(c, &ulen) ||
	    !cur_skip(c, 2))
		return FRAME_MALFORMED;
	if (ulen == 0 && v6) /* jumbogram (RFC 2675 §4): the IP payload length rules */
		ulen = (uint16_t)(cur_left(c) + 8 > UINT16_MAX ? UINT16_MAX : cur_left(c) + 8);
	if (ulen < 8 || (size_t)ulen - 8 > cur_left(c))
		return FRAME_MALFORMED;
	out->payload = c->p;
	out->len = (size_t)ulen - 8;
	return FRAME_UDP;
}

/* RFC 791. The header length and total length bound the payload (Ethernet pads short frames). */
static enum frame_kind parse_ipv4(struct cursor *c, struct pcap_udp *out)
{
	struct cursor ip;
	uint16_t total, frag, id;
	uint8_t proto;
	size_t hlen;

	if (cur_left(c) < 20 || (c->p[0] >> 4) != 4)
		return FRAME_MALFORMED;
	hlen = (size_t)(c->p[0] & 15) * 4;
	total = get_u16(c->p + 2);
	if (total == 0) /* segmentation offload: the capture holds what was sent */
		total = (uint16_t)(cur_left(c) > UINT16_MAX ? UINT16_MAX : cur_left(c));
	if (hlen < 20 || total < hlen || !cur_sub(c, total, &ip))
		return FRAME_MALFORMED;
	id = get_u16(ip.p + 4);
	frag = get_u16(ip.p + 6);
	proto = ip.p[9];
	wip_from_v4(&out->src, get_u32(ip.p + 12));
	wip_from_v4(&out->dst, get_u32(ip.p + 16));
	if (!cur_skip(&ip, hlen))
		return FRAME_MALFORMED;
	if (frag & 0x3fff) { /* MF set or a non-zero offset */
		out->frag = (struct pcap_frag){.data = ip.p,
		                               .len = cur_left(&ip),
		                               .offset = (uint32_t)(frag & 0x1fff) * 8,
		                               .id = id,
		                               .proto = proto,
		                               .more = (frag & 0x2000) != 0};
		return FRAME_FRAGMENT;
	}
	if (proto != IPPROTO_UDP_)
		return FRAME_OTHER;
	return parse_udp(&ip, false, out);
}

/* RFC 8200 §4: walks the extension headers up to an upper-layer header (FRAME_UDP, whatever it
 * is), or to a fragment header (FRAME_FRAGMENT, out->frag filled). */
static enum frame_kind ipv6_skip_ext(struct cursor *c, uint8_t *next, struct pcap_udp *out)
{
	for (int hops = 0; hops < 16; hops++) {
		uint8_t nh, hl;
		size_t len;

		switch (*next) {
		case 0:   /* hop-by-hop options */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
			if (cur_left(c) < 2)
				return FRAME_MALFORMED;
			nh = c->p[0];
			hl = c->p[1];
			len = ((size_t)hl + 1) * 8;
			break;
		case 51: /* AH, RFC 4302: length in 4-byte units minus 2 */
			if (cur_left(c) < 2)
				return FRAME_MALFORMED;
			nh = c->p[0];
			hl = c->p[1];
			len = ((size_t)hl + 2) * 4;
			break;
		case 44: /* fragment: an atomic fragment (offset 0, no M flag) is whole */
			if (cur_left(c) < 8)
				return FRAME_MALFORMED;
			nh = c->p[0];
			len = 8;
			if (get_u16(c->p + 2) & 0xfff9) {
				uint16_t fo = get_u16(c->p + 2);
				out->frag = (struct pcap_frag){.data = c->p + 8,
				                               .len = cur_left(c) - 8,
				                               .offset = fo & 0xfff8u,
				                               .id = get_u32(c->p + 4),
				                               .proto = nh,
				                               .more = (fo & 1) != 0,
				                               .v6 = true};
				return FRAME_FRAGMENT;
			}
			break;
		default:
			return FRAME_UDP; /* an upper-layer header: the caller looks at it */
		}
		if (!cur_skip(c, len))
			return FRAME_MALFORMED;
		*next = nh;
	}
	return FRAME_MALFORMED;
}

static enum frame_kind parse_ipv6(struct cursor *c, struct pcap_udp *out)
{
	struct cursor ip;
	uint16_t plen;
	uint8_t next;
	enum frame_kind k;

	if (cur_left(c) < 40 || (c->p[0] >> 4) != 6)
		return FRAME_MALFORMED;
	plen = get_u16(c->p + 4);
	next = c->p[6];
	wip_from_v6(&out->src, c->p + 8);
	wip_from_v6(&out->dst, c->p + 24);
	cur_skip(c, 40);
	if (plen == 0) /* jumbogram or offload: take what was captured */
		ip = *c;
	else if (!cur_sub(c, plen, &ip))
		return FRAME_MALFORMED;
	k = ipv6_skip_ext(&ip, &next, out);
	if (k != FRAME_UDP)
		return k;
	if (next != IPPROTO_UDP_)
		return FRAME_OTHER;
	return parse_udp(&ip, true, out);
}

static enum frame_kind parse_ip(struct cursor *c, struct pcap_udp *out)
{
	if (cur_left(c) < 1)
		return FRAME_MALFORMED;
	switch (c->p[0] >> 4) {
	case 4:
		return parse_ipv4(c, out);
	case 6:
		return parse_ipv6(c, out);
	default:
		return FRAME_OTHER;
	}
}

/* An Ethernet type, after any 802.1Q / 802.1ad tags that follow it. */
static enum frame_kind parse_ethertype(uint16_t type, struct cursor *c, struct pcap_udp *out)
{
	for (int tags = 0; type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ;
	     tags++) {
		if (tags == MAX_VLAN_TAGS || !cur_skip(c, 2) || !cur_u16(c, &type))
			return FRAME_MALFORMED;
	}
	switch (type) {
	case ETH_P_IPV4:
		return parse_ipv4(c, out);
	case ETH_P_IPV6:
		return parse_ipv6(c, out);
	default:
		return FRAME_OTHER;
	}
}

/* BSD loopback: the address family in the capturing host's byte order (DLT_NULL) or big
 * endian (DLT_LOOP). AF_INET6 differs between systems. */
static enum frame_kind parse_null(int dlt, struct cursor *c, struct pcap_udp *out)
{
	uint32_t fam;

	if (!cur_u32(c, &fam))
		return FRAME_MALFORMED;
	if (dlt == DLT_NULL && fam > 0xffff)
		fam = __builtin_bswap32(fam);
	switch (fam) {
	case 2:
		return parse_ipv4(c, out);
	case 10: /* Linux */
	case 24: /* NetBSD, OpenBSD */
	case 28: /* FreeBSD */
	case 30: /* macOS */
		return parse_ipv6(c, out);
	default:
		return FRAME_OTHER;
	}
}

enum frame_kind pcap_frame_udp(int dlt, const uint8_t *p, size_t caplen, struct pcap_udp *out)
{
	struct cursor c;
	uint16_t type;

	cur_init(&c, p, caplen);
	switch (dlt) {
	case DLT_EN10MB:
		if (!cur_skip(&c, 12) || !cur_u16(&c, &type))
			return FRAME_MALFORMED;
		return parse_ethertype(type, &c, out);
	case DLT_LINUX_SLL: /* packet type, ARPHRD, address length, 8-byte address, protocol */
		if (!cur_skip(&c, 14) || !cur_u16(&c, &type))
			return FRAME_MALFORMED;
		return parse_ethertype(type, &c, out);
	case DLT_LINUX_SLL2: /* protocol, reserved, ifindex, ARPHRD, type, length, address */
		if (!cur_u16(&c, &type) || !cur_skip(&c, 18))
			return FRAME_MALFORMED;
		return parse_ethertype(type, &c, out);
	case DLT_NULL:
	case DLT_LOOP:
		return parse_null(dlt, &c, out);
	case DLT_RAW:
		return parse_ip(&c, out);
	case DLT_IPV4:
		return parse_ipv4(&c, out);
	case DLT_IPV6:
		return parse_ipv6(&c, out);
	default:
		return FRAME_OTHER;
	}
}

struct pcapfile *pcapfile_open(const char *path, uint16_t dst_port, char *err, size_t errlen)
{
	char pcap_err[PCAP_ERRBUF_SIZE] = "";
	struct pcapfile *pf;
	pcap_t *p;
	int dlt;

	p = pcap_open_offline(path, pcap_err);
	if (!p) {
		snprintf(err, errlen, "%s: %s", path, pcap_err);
		return NULL;
	}
	dlt = pcap_datalink(p);
	if (!pcap_dlt_supported(dlt)) {
		const char *name = pcap_datalink_val_to_name(dlt);
		snprintf(err, errlen, "%s: unsupported link type %s (%d)", path, name ? name : "?",
		         dlt);
		pcap_close(p);
		return NULL;
	}
	pf = calloc(1, sizeof(*pf));
	if (!pf) {
		snprintf(err, errlen, "%s: out of memory", path);
		pcap_close(p);
		return NULL;
	}
	pf->pcap = p;
	pf->dlt = dlt;
	pf->dst_port = dst_port;
	return pf;
}

static bool reasm_match(const struct reasm *r, const struct pcap_udp *u)
{
	return r->used && r->id == u->frag.id && r->v6 == u->frag.v6 && r->proto == u->frag.proto &&
	       !memcmp(&r->src, &u->src, sizeof(r->src)) &&
	       !memcmp(&r->dst, &u->dst, sizeof(r->dst));
}

/* The slot of the fragment's datagram: its own, a free one, or the oldest one (dropped). */
static struct reasm *reasm_slot(struct pcapfile *pf, const struct pcap_udp *u, uint64_t now)
{
	struct reasm *free_slot = NULL, *oldest = NULL;

	for (int i = 0; i < REASM_SLOTS; i++) {
		struct reasm *r = &pf->reasm[i];
		if (r->used && now > r->first_ms + REASM_TIMEOUT_MS) {
			r->used = false;
			pf->st.frag_dropped++;
		}
		if (!r->used) {
			free_slot = free_slot ? free_slot : r;
			continue;
		}
		if (reasm_match(r, u))
			return r;
		if (!oldest || r->first_ms < oldest->first_ms)
			oldest = r;
	}
	struct reasm *r = free_slot;
	if (!r) {
		r = oldest;
		pf->st.frag_dropped++;
	}
	r->used = true;
	r->v6 = u->frag.v6;
	r->proto = u->frag.proto;
	r->id = u->frag.id;
	r->src = u->src;
	r->dst = u->dst;
	r->first_ms = now;
	r->total = r->got = r->hi = 0;
	memset(r->seen, 0, sizeof(r->seen));
	return r;
}

/* An exact copy of bytes already held, as a capture on two interfaces (tcpdump -i any on a
 * router) holds every forwarded fragment twice: RFC 8200 §4.5 lets it be dropped alone rather
 * than taken as an overlap. Held blocks were written whole, but for the tail of the last piece's
 * final block, and a piece reaching into that tail ends past the total: refused before this. */
static bool reasm_dup(const struct reasm *r, const struct pcap_frag *f, size_t end)
{
	for (size_t b = f->offset / 8; b < (end + 7) / 8; b++) {
		if (!(r->seen[b / 8] & (1u << (b % 8))))
			return false;
	}
	return memcmp(r->data + f->offset, f->data, f->len) == 0;
}

/* Adds a fragment: 1 when the datagram is whole, 0 when parts are missing, -1 when the
 * fragment is inconsistent (overlap, beyond the end, a middle piece not a multiple of 8).
 * Whole means got == total with every piece inside [0, total): no overlap, so no hole. */
static int reasm_add(struct reasm *r, const struct pcap_frag *f)
{
	size_t end = (size_t)f->offset + f->len;

	if (end > REASM_MAX || (f->more && (f->len == 0 || f->len % 8)))
		return -1;
	if (!f->more) {
		if ((r->total && r->total != end) || r->hi > end)
			return -1;
		r->total = (uint32_t)end;
	} else if (r->total && end > r->total) {
		return -1;
	}
	if (end > r->hi)
		r->hi = (uint32_t)end;
	if (reasm_dup(r, f, end)) /* an empty last piece is one too: it brings no bytes */
		return r->total && r->got == r->total;
	for (size_t b = f->offset / 8; b < (end + 7) / 8; b++) {
		if (r->seen[b / 8] & (1u << (b % 8)))
			return -1;
		r->seen[b / 8] |= (uint8_t)(1u << (b % 8));
	}
	memcpy(r->data + f->offset, f->data, f->len);
	r->got += (uint32_t)f->len;
	return r->total && r->got == r->total;
}

/*
 * Feeds a fragment to reassembly. Returns FRAME_UDP with *out pointing into the reassembly
 * buffer when it completed a UDP datagram, FRAME_OTHER for another protocol, FRAME_MALFORMED
 * for a broken whole, FRAME_FRAGMENT while parts are missing.
 */
static enum frame_kind reassemble(struct pcapfile *pf, struct pcap_udp *out, uint64_t now)
{
	struct cursor c;
	struct reasm *r;
	uint8_t next;
	int rc;

	if (!pf->reasm) {
		pf->reasm = calloc(REASM_SLOTS, sizeof(*pf->reasm));
		if (!pf->reasm)
			return FRAME_MALFORMED;
	}
	r = reasm_slot(pf, out, now);
	rc = reasm_add(r, &out->frag);
	if (rc <= 0) {
		if (rc < 0) {
			r->used = false;
			pf->st.frag_dropped++;
		}
		return FRAME_FRAGMENT;
	}
	r->used = false; /* the data stays until the slot is taken again, by a later call */
	pf->st.reassembled++;
	cur_init(&c, r->data, r->total);
	next = r->proto;
	if (r->v6) {
		enum frame_kind k = ipv6_skip_ext(&c, &next, out);
		if (k != FRAME_UDP)
			return k == FRAME_FRAGMENT ? FRAME_MALFORMED : k;
	}
	if (next != IPPROTO_UDP_)
		return FRAME_OTHER;
	return parse_udp(&c, r->v6, out);
}

/* End of file: datagrams still missing parts never complete. */
static void reasm_flush(struct pcapfile *pf)
{
	for (int i = 0; pf->reasm && i < REASM_SLOTS; i++) {
		if (pf->reasm[i].used)
			pf->st.frag_dropped++;
		pf->reasm[i].used = false;
	}
}

static void count_frame(struct pcapfile_stats *st, enum frame_kind k)
{
	switch (k) {
	case FRAME_OTHER:
		st->other++;
		break;
	case FRAME_MALFORMED:
		st->malformed++;
		break;
	default:
		break;
	}
}

int pcapfile_next(struct pcapfile *pf, struct pcap_udp *out, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	while ((rc = pcap_next_ex(pf->pcap, &h, &data)) == 1) {
		uint64_t ts = h->ts.tv_sec < 0
		                  ? 0
		                  : (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;
		enum frame_kind k;

		pf->st.frames++;
		k = pcap_frame_udp(pf->dlt, data, h->caplen, out);
		if (k == FRAME_FRAGMENT) {
			pf->st.fragments++;
			k = reassemble(pf, out, ts);
			if (k == FRAME_FRAGMENT)
				continue;
		}
		if (k != FRAME_UDP) {
			count_frame(&pf->st, k);
			continue;
		}
		if (pf->dst_port && out->dst_port != pf->dst_port) {
			pf->st.filtered++;
			continue;
		}
		out->ts_ms = ts;
		pf->st.udp++;
		return 1;
	}
	if (rc == PCAP_ERROR_BREAK) {
		reasm_flush(pf);
		return 0;
	}
	snprintf(err, errlen, "%s", pcap_geterr(pf->pcap));
	return -1;
}

const struct pcapfile_stats *pcapfile_stats(const struct pcapfile *pf)
{
	return &pf->st;
}

void pcapfile_close(struct pcapfile *pf)
{
	if (!pf)
		return;
	pcap_close(pf->pcap);
	free(pf->reasm);
	free(pf);
}
