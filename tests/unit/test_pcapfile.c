/* test_pcapfile.c - pcap/pcapng savefiles built by the test: link types, IP headers, reassembly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/pcapfile.h"
#include "lib/cursor.h"

/* LINKTYPE_* values as a savefile stores them; libpcap maps them to its DLT_* values. */
#define LT_NULL       0
#define LT_EN10MB     1
#define LT_RAW        101
#define LT_IEEE802_11 105
#define LT_LOOP       108
#define LT_LINUX_SLL  113
#define LT_IPV4       228
#define LT_IPV6       229
#define LT_LINUX_SLL2 276

#define SRC4    0xc0000201u /* 192.0.2.1 */
#define DST4    0xc6336402u /* 198.51.100.2 */
#define TS_SEC  1700000000u
#define MAX_GOT 16

static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

/* A frame (or a piece of one) under construction. */
struct frame {
	uint8_t b[4096];
	size_t n;
};

/* A savefile being written to a mkstemp file. */
struct savefile {
	char path[32];
	FILE *f;
};

/* A datagram pcapfile_next() returned, copied: its payload is only valid until the next call. */
struct got {
	struct pcap_udp u;
	uint8_t data[4096];
};

static void put(struct frame *f, const void *p, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put8(struct frame *f, uint8_t v)
{
	put(f, &v, 1);
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2];
	put_u16(b, v);
	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	uint8_t b[4];
	put_u32(b, v);
	put(f, b, 4);
}

/* The test payloads: n bytes counting up from seed, so a misplaced byte shows. */
static void put_pattern(struct frame *f, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		put8(f, (uint8_t)(seed + i));
}

static void check_pattern(const uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], (uint8_t)(seed + i));
}

static void put_udp(struct frame *f, uint16_t dport, size_t n, uint8_t seed)
{
	put16(f, 40000);
	put16(f, dport);
	put16(f, (uint16_t)(8 + n));
	put16(f, 0);
	put_pattern(f, n, seed);
}

/* An IPv4 header with optlen bytes of options (NOPs, then EOL) before plen bytes of payload. */
static void put_ipv4(struct frame *f, uint8_t proto, uint16_t id, uint16_t frag, size_t optlen,
                     size_t plen)
{
	put8(f, (uint8_t)(0x40 | (20 + optlen) / 4));
	put8(f, 0);
	put16(f, (uint16_t)(20 + optlen + plen));
	put16(f, id);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, SRC4);
	put32(f, DST4);
	for (size_t i = 0; i < optlen; i++)
		put8(f, i + 1 < optlen ? 1 : 0);
}

static void put_ipv6(struct frame *f, uint8_t next, size_t plen)
{
	put32(f, 0x60000000);
	put16(f, (uint16_t)plen);
	put8(f, next);
	put8(f, 64);
	put(f, src6, 16);
	put(f, dst6, 16);
}

static void ipv4_udp(struct frame *f, uint16_t dport, size_t n, uint8_t seed)
{
	put_ipv4(f, 17, 1, 0, 0, 8 + n);
	put_udp(f, dport, n, seed);
}

static void ipv6_udp(struct frame *f, uint16_t dport, size_t n, uint8_t seed)
{
	put_ipv6(f, 17, 8 + n);
	put_udp(f, dport, n, seed);
}

static void put_eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	put(f, macs, sizeof(macs));
	put16(f, type);
}

/* Linux cooked v1: packet type, ARPHRD, address length, 8-byte address, protocol. */
static void put_sll(struct frame *f, uint16_t proto)
{
	static const uint8_t addr[8] = {2, 0, 0, 0, 0, 1, 0, 0};
	put16(f, 0);
	put16(f, 1);
	put16(f, 6);
	put(f, addr, sizeof(addr));
	put16(f, proto);
}

/* Linux cooked v2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address. */
static void put_sll2(struct frame *f, uint16_t proto)
{
	static const uint8_t addr[8] = {2, 0, 0, 0, 0, 1, 0, 0};
	put16(f, proto);
	put16(f, 0);
	put32(f, 3);
	put16(f, 1);
	put8(f, 0);
	put8(f, 6);
	put(f, addr, sizeof(addr));
}

/* DLT_NULL: the address family in the capturing host's byte order. */
static void put_null(struct frame *f, uint32_t family)
{
	put(f, &family, 4);
}

static void write_all(FILE *f, const void *p, size_t n)
{
	assert_int_equal(fwrite(p, 1, n, f), n);
}

static void sf_create_raw(struct savefile *s)
{
	int fd;

	strcpy(s->path, "/tmp/weir-pcapXXXXXX");
	fd = mkstemp(s->path);
	assert_true(fd >= 0);
	s->f = fdopen(fd, "wb");
	assert_non_null(s->f);
}

/* A classic pcap file in this host's byte order (libpcap reads either). */
static void sf_create(struct savefile *s, uint32_t linktype)
{
	const uint32_t magic = 0xa1b2c3d4, zero = 0, snaplen = 262144;
	const uint16_t major = 2, minor = 4;

	sf_create_raw(s);
	write_all(s->f, &magic, 4);
	write_all(s->f, &major, 2);
	write_all(s->f, &minor, 2);
	write_all(s->f, &zero, 4);
	write_all(s->f, &zero, 4);
	write_all(s->f, &snaplen, 4);
	write_all(s->f, &linktype, 4);
}

static void sf_record(struct savefile *s, uint64_t ts_ms, const void *p, size_t caplen, size_t len)
{
	const uint32_t hdr[4] = {(uint32_t)(ts_ms / 1000), (uint32_t)(ts_ms % 1000) * 1000,
	                         (uint32_t)caplen, (uint32_t)len};
	write_all(s->f, hdr, sizeof(hdr));
	write_all(s->f, p, caplen);
}

static void sf_frame(struct savefile *s, uint64_t ts_ms, const struct frame *f)
{
	sf_record(s, ts_ms, f->b, f->n, f->n);
}

static struct pcapfile *sf_open(struct savefile *s, uint16_t port)
{
	char err[256] = "";
	struct pcapfile *pf;

	assert_int_equal(fclose(s->f), 0);
	s->f = NULL;
	pf = pcapfile_open(s->path, port, err, sizeof(err));
	if (!pf)
		fail_msg("pcapfile_open: %s", err);
	return pf;
}

static void sf_done(struct savefile *s, struct pcapfile *pf)
{
	pcapfile_close(pf);
	unlink(s->path);
}

/* Every datagram up to the end of the file; the file must read without error. */
static size_t read_all(struct pcapfile *pf, struct got *g, size_t max)
{
	char err[256];
	struct pcap_udp u;
	size_t n = 0;
	int rc;

	while ((rc = pcapfile_next(pf, &u, err, sizeof(err))) == 1) {
		assert_true(n < max);
		assert_true(u.len <= sizeof(g[n].data));
		g[n].u = u;
		memcpy(g[n].data, u.payload, u.len);
		n++;
	}
	assert_int_equal(rc, 0);
	return n;
}

/* One-link-type file of frames: returns the datagrams read with no port filter. */
static size_t read_frames(uint32_t linktype, const struct frame *f, size_t nf, struct got *g,
                          struct pcapfile_stats *st)
{
	struct savefile s;
	struct pcapfile *pf;
	size_t n;

	sf_create(&s, linktype);
	for (size_t i = 0; i < nf; i++)
		sf_frame(&s, (uint64_t)TS_SEC * 1000 + i, &f[i]);
	pf = sf_open(&s, 0);
	n = read_all(pf, g, MAX_GOT);
	*st = *pcapfile_stats(pf);
	sf_done(&s, pf);
	assert_int_equal(st->frames, nf);
	assert_int_equal(st->udp, n);
	return n;
}

static void assert_addr(const struct wip *w, const char *want)
{
	char buf[WIP_STRLEN];
	assert_string_equal(wip_str(w, buf, sizeof(buf)), want);
}

static void assert_v4_dgram(const struct got *g, uint16_t dport, size_t n, uint8_t seed)
{
	assert_addr(&g->u.src, "192.0.2.1");
	assert_addr(&g->u.dst, "198.51.100.2");
	assert_int_equal(g->u.src_port, 40000);
	assert_int_equal(g->u.dst_port, dport);
	assert_int_equal(g->u.len, n);
	check_pattern(g->data, n, seed);
}

static void assert_v6_dgram(const struct got *g, uint16_t dport, size_t n, uint8_t seed)
{
	assert_addr(&g->u.src, "2001:db8::1");
	assert_addr(&g->u.dst, "2001:db8::2");
	assert_int_equal(g->u.src_port, 40000);
	assert_int_equal(g->u.dst_port, dport);
	assert_int_equal(g->u.len, n);
	check_pattern(g->data, n, seed);
}

static void ethernet_ipv4_udp(void **state)
{
	struct got g[MAX_GOT];
	struct savefile s;
	struct frame f = {.n = 0};
	struct pcapfile *pf;

	put_eth(&f, 0x0800);
	ipv4_udp(&f, 2055, 100, 7);
	put_pattern(&f, 6, 0xee); /* Ethernet trailer: the IP total length must bound the data */
	sf_create(&s, LT_EN10MB);
	sf_record(&s, (uint64_t)TS_SEC * 1000 + 123, f.b, f.n, f.n);
	pf = sf_open(&s, 0);
	assert_int_equal(read_all(pf, g, MAX_GOT), 1);
	assert_v4_dgram(&g[0], 2055, 100, 7);
	assert_int_equal(g[0].u.ts_ms, (uint64_t)TS_SEC * 1000 + 123);
	assert_int_equal(pcapfile_stats(pf)->frames, 1);
	assert_int_equal(pcapfile_stats(pf)->udp, 1);
	sf_done(&s, pf);
}

static void vlan_tags(void **state)
{
	struct frame f[6] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	put_eth(&f[0], 0x8100); /* 802.1Q */
	put16(&f[0], 10);
	put16(&f[0], 0x0800);
	ipv4_udp(&f[0], 2055, 20, 1);
	put_eth(&f[1], 0x88a8); /* 802.1ad outer, 802.1Q inner, IPv6 */
	put16(&f[1], 20);
	put16(&f[1], 0x8100);
	put16(&f[1], 300);
	put16(&f[1], 0x86dd);
	ipv6_udp(&f[1], 4739, 30, 2);
	put_eth(&f[2], 0x9100); /* old QinQ */
	put16(&f[2], 5);
	put16(&f[2], 0x0800);
	ipv4_udp(&f[2], 6343, 40, 3);
	put_eth(&f[3], 0x8100); /* five tags: more than the parser follows */
	for (int i = 0; i < 5; i++) {
		put16(&f[3], 1);
		put16(&f[3], i < 4 ? 0x8100 : 0x0800);
	}
	ipv4_udp(&f[3], 2055, 8, 4);
	put_eth(&f[4], 0x8100); /* the tag is cut off */
	put16(&f[4], 10);
	put_eth(&f[5], 0x0800); /* IPv4 ethertype, IPv6 packet */
	ipv6_udp(&f[5], 2055, 8, 5);

	assert_int_equal(read_frames(LT_EN10MB, f, 6, g, &st), 3);
	assert_v4_dgram(&g[0], 2055, 20, 1);
	assert_v6_dgram(&g[1], 4739, 30, 2);
	assert_v4_dgram(&g[2], 6343, 40, 3);
	assert_int_equal(st.malformed, 3);
}

static void linux_cooked(void **state)
{
	struct frame f[3] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	put_sll(&f[0], 0x0800);
	ipv4_udp(&f[0], 2055, 50, 9);
	put_sll(&f[1], 0x86dd);
	ipv6_udp(&f[1], 2055, 51, 10);
	put_sll(&f[2], 0x8100); /* a VLAN tag the interface did not strip */
	put16(&f[2], 10);
	put16(&f[2], 0x0800);
	ipv4_udp(&f[2], 2055, 52, 11);
	assert_int_equal(read_frames(LT_LINUX_SLL, f, 3, g, &st), 3);
	assert_v4_dgram(&g[0], 2055, 50, 9);
	assert_v6_dgram(&g[1], 2055, 51, 10);
	assert_v4_dgram(&g[2], 2055, 52, 11);

	memset(f, 0, sizeof(f));
	put_sll2(&f[0], 0x0800);
	ipv4_udp(&f[0], 9995, 60, 12);
	put_sll2(&f[1], 0x86dd);
	ipv6_udp(&f[1], 9995, 61, 13);
	put_sll2(&f[2], 0x0806); /* ARP */
	put_pattern(&f[2], 28, 0);
	assert_int_equal(read_frames(LT_LINUX_SLL2, f, 3, g, &st), 2);
	assert_v4_dgram(&g[0], 9995, 60, 12);
	assert_v6_dgram(&g[1], 9995, 61, 13);
	assert_int_equal(st.other, 1);
}

/* NULL: host order (either way round), every system's AF_INET6; LOOP: network order. */
static void bsd_loopback(void **state)
{
	static const uint32_t v6fam[] = {10, 24, 28, 30};
	struct frame f[7] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	put_null(&f[0], 2);
	ipv4_udp(&f[0], 2055, 10, 0);
	for (int i = 0; i < 4; i++) {
		put_null(&f[1 + i], v6fam[i]);
		ipv6_udp(&f[1 + i], 2055, 11, (uint8_t)i);
	}
	put_null(&f[5], __builtin_bswap32(2)); /* written on a host of the other byte order */
	ipv4_udp(&f[5], 2055, 12, 5);
	put_null(&f[6], 7); /* an address family that is not IP */
	ipv4_udp(&f[6], 2055, 13, 6);
	assert_int_equal(read_frames(LT_NULL, f, 7, g, &st), 6);
	assert_v4_dgram(&g[0], 2055, 10, 0);
	for (int i = 0; i < 4; i++)
		assert_v6_dgram(&g[1 + i], 2055, 11, (uint8_t)i);
	assert_v4_dgram(&g[5], 2055, 12, 5);
	assert_int_equal(st.other, 1);

	memset(f, 0, sizeof(f));
	put32(&f[0], 2);
	ipv4_udp(&f[0], 2055, 14, 7);
	put32(&f[1], 30);
	ipv6_udp(&f[1], 2055, 15, 8);
	put16(&f[2], 0); /* a cut family */
	assert_int_equal(read_frames(LT_LOOP, f, 3, g, &st), 2);
	assert_v4_dgram(&g[0], 2055, 14, 7);
	assert_v6_dgram(&g[1], 2055, 15, 8);
	assert_int_equal(st.malformed, 1);
}

static void raw_ip(void **state)
{
	struct frame f[3] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	ipv4_udp(&f[0], 2055, 70, 1);
	ipv6_udp(&f[1], 2055, 71, 2);
	put8(&f[2], 0x50); /* neither version */
	put_pattern(&f[2], 40, 0);
	assert_int_equal(read_frames(LT_RAW, f, 3, g, &st), 2);
	assert_v4_dgram(&g[0], 2055, 70, 1);
	assert_v6_dgram(&g[1], 2055, 71, 2);
	assert_int_equal(st.other, 1);

	memset(f, 0, sizeof(f));
	ipv4_udp(&f[0], 2055, 72, 3);
	ipv6_udp(&f[1], 2055, 73, 4); /* the IPV4 link type carries nothing else */
	assert_int_equal(read_frames(LT_IPV4, f, 2, g, &st), 1);
	assert_v4_dgram(&g[0], 2055, 72, 3);
	assert_int_equal(st.malformed, 1);

	memset(f, 0, sizeof(f));
	ipv6_udp(&f[0], 2055, 74, 5);
	ipv4_udp(&f[1], 2055, 75, 6);
	assert_int_equal(read_frames(LT_IPV6, f, 2, g, &st), 1);
	assert_v6_dgram(&g[0], 2055, 74, 5);
	assert_int_equal(st.malformed, 1);
}

static void ipv4_header_forms(void **state)
{
	struct frame f[6] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	put_ipv4(&f[0], 17, 1, 0, 4, 8 + 20); /* one option word */
	put_udp(&f[0], 2055, 20, 1);
	put_ipv4(&f[1], 17, 1, 0, 40, 8 + 21); /* the largest header, 60 bytes */
	put_udp(&f[1], 2055, 21, 2);
	put_ipv4(&f[2], 17, 1, 0x4000, 0, 8 + 22); /* DF is no fragment */
	put_udp(&f[2], 2055, 22, 3);
	put_ipv4(&f[3], 17, 1, 0, 0, 8 + 23); /* total length 0: segmentation offload */
	put_udp(&f[3], 2055, 23, 4);
	f[3].b[2] = f[3].b[3] = 0;
	ipv4_udp(&f[4], 2055, 24, 5); /* header length 16 */
	f[4].b[0] = 0x44;
	ipv4_udp(&f[5], 2055, 25, 6); /* total length shorter than the header length */
	f[5].b[0] = 0x4f;
	assert_int_equal(read_frames(LT_RAW, f, 6, g, &st), 4);
	for (int i = 0; i < 4; i++)
		assert_v4_dgram(&g[i], 2055, 20 + (size_t)i, (uint8_t)(i + 1));
	assert_int_equal(st.malformed, 2);
}

/* Hop-by-hop, routing, destination options, an atomic fragment and AH before the UDP header. */
static void ipv6_extension_headers(void **state)
{
	struct frame f[5] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	put_ipv6(&f[0], 0, 8 + 16 + 8 + 8 + 24 + 8 + 33);
	put8(&f[0], 43); /* hop-by-hop: 8 bytes */
	put8(&f[0], 0);
	put_pattern(&f[0], 6, 0);
	put8(&f[0], 60); /* routing: 16 bytes */
	put8(&f[0], 1);
	put_pattern(&f[0], 14, 0);
	put8(&f[0], 44); /* destination options: 8 bytes */
	put8(&f[0], 0);
	put_pattern(&f[0], 6, 0);
	put8(&f[0], 51); /* atomic fragment: offset 0, no M flag */
	put8(&f[0], 0);
	put16(&f[0], 0);
	put32(&f[0], 0x12345678);
	put8(&f[0], 17); /* AH, RFC 4302: (4 + 2) * 4 = 24 bytes */
	put8(&f[0], 4);
	put_pattern(&f[0], 22, 0);
	put_udp(&f[0], 2055, 33, 9);

	put_ipv6(&f[1], 60, 8 + 20); /* destination options, then TCP */
	put8(&f[1], 6);
	put8(&f[1], 0);
	put_pattern(&f[1], 6, 0);
	put_pattern(&f[1], 20, 0);
	put_ipv6(&f[2], 59, 0);      /* no next header */
	put_ipv6(&f[3], 60, 17 * 8); /* 17 headers: more than the walk follows */
	for (int i = 0; i < 17; i++) {
		put8(&f[3], i < 16 ? 60 : 17);
		put8(&f[3], 0);
		put_pattern(&f[3], 6, 0);
	}
	put_ipv6(&f[4], 0, 8); /* hop-by-hop saying it is 16 bytes in an 8-byte payload */
	put8(&f[4], 17);
	put8(&f[4], 1);
	put_pattern(&f[4], 6, 0);
	assert_int_equal(read_frames(LT_RAW, f, 5, g, &st), 1);
	assert_v6_dgram(&g[0], 2055, 33, 9);
	assert_int_equal(st.other, 2);
	assert_int_equal(st.malformed, 2);
	assert_int_equal(st.fragments, 0);
}

/* An IPv4 fragment on Ethernet at byte offset off, carrying len bytes of data. */
static void v4_frag_at(struct frame *f, uint16_t id, size_t off, const uint8_t *data, size_t len,
                       bool more)
{
	memset(f, 0, sizeof(*f));
	put_eth(f, 0x0800);
	put_ipv4(f, 17, id, (uint16_t)((more ? 0x2000 : 0) | off / 8), 0, len);
	put(f, data, len);
}

/* The fragment of ip[off, off + len), ip being a whole IP payload. */
static void v4_fragment(struct frame *f, const struct frame *ip, uint16_t id, size_t off,
                        size_t len, bool more)
{
	v4_frag_at(f, id, off, ip->b + off, len, more);
}

/* The IP payload of a UDP datagram: header and pattern. */
static void udp_payload(struct frame *ip, uint16_t dport, size_t n, uint8_t seed)
{
	memset(ip, 0, sizeof(*ip));
	put_udp(ip, dport, n, seed);
}

static void ipv4_fragments_reassembled(void **state)
{
	struct frame ip1, ip2, ip3, f[9];
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	udp_payload(&ip1, 2055, 3000, 1); /* 3008 bytes of IP payload */
	udp_payload(&ip2, 2055, 1500, 2);
	udp_payload(&ip3, 2055, 2000, 3);
	v4_fragment(&f[0], &ip1, 1, 0, 1480, true); /* in order */
	v4_fragment(&f[1], &ip1, 1, 1480, 1480, true);
	v4_fragment(&f[2], &ip1, 1, 2960, 48, false);
	v4_fragment(&f[3], &ip2, 2, 1480, 28, false); /* last first, interleaved with id 3 */
	v4_fragment(&f[4], &ip3, 3, 1000, 1008, false);
	v4_fragment(&f[5], &ip3, 3, 0, 1000, true);
	v4_fragment(&f[6], &ip2, 2, 0, 1480, true);
	v4_fragment(&f[7], &ip1, 4, 0, 1480, true); /* never completes */
	memset(&f[8], 0, sizeof(f[8]));
	put_eth(&f[8], 0x0800);
	ipv4_udp(&f[8], 2055, 5, 4);

	assert_int_equal(read_frames(LT_EN10MB, f, 9, g, &st), 4);
	assert_v4_dgram(&g[0], 2055, 3000, 1);
	assert_v4_dgram(&g[1], 2055, 2000, 3);
	assert_v4_dgram(&g[2], 2055, 1500, 2);
	assert_v4_dgram(&g[3], 2055, 5, 4);
	assert_int_equal(g[0].u.ts_ms,
	                 (uint64_t)TS_SEC * 1000 + 2); /* the time of the last piece */
	assert_int_equal(st.fragments, 8);
	assert_int_equal(st.reassembled, 3);
	assert_int_equal(st.frag_dropped, 1);
	assert_int_equal(st.malformed, 0);
}

/* An IPv6 fragment (raw IP): hop-by-hop before the fragment header, as RFC 8200 §4.5 puts it. */
static void v6_fragment(struct frame *f, const struct frame *data, uint8_t next, uint32_t id,
                        size_t off, size_t len, bool more)
{
	memset(f, 0, sizeof(*f));
	put_ipv6(f, 0, 8 + 8 + len);
	put8(f, 44);
	put8(f, 0);
	put_pattern(f, 6, 0);
	put8(f, next);
	put8(f, 0);
	put16(f, (uint16_t)(off | (more ? 1 : 0)));
	put32(f, id);
	put(f, data->b + off, len);
}

static void ipv6_fragments_reassembled(void **state)
{
	struct frame d1, d2, f[5];
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	udp_payload(&d1, 4739, 2500, 5); /* straight UDP */
	memset(&d2, 0, sizeof(d2)); /* destination options in the fragmentable part, then UDP */
	put8(&d2, 17);
	put8(&d2, 0);
	put_pattern(&d2, 6, 0);
	put_udp(&d2, 4739, 1800, 6);

	/* The same identification: the next header tells the two datagrams apart. */
	v6_fragment(&f[0], &d1, 17, 0x10000001, 1232, 2508 - 1232, false);
	v6_fragment(&f[1], &d2, 60, 0x10000001, 0, 1232, true);
	v6_fragment(&f[2], &d1, 17, 0x10000001, 0, 1232, true);
	v6_fragment(&f[3], &d2, 60, 0x10000001, 1232, 8 + 1808 - 1232, false);
	memset(&f[4], 0, sizeof(f[4])); /* a whole UDP datagram afterwards is untouched */
	ipv6_udp(&f[4], 4739, 10, 7);
	assert_int_equal(read_frames(LT_RAW, f, 5, g, &st), 3);
	assert_v6_dgram(&g[0], 4739, 2500, 5);
	assert_v6_dgram(&g[1], 4739, 1800, 6);
	assert_v6_dgram(&g[2], 4739, 10, 7);
	assert_int_equal(st.fragments, 4);
	assert_int_equal(st.reassembled, 2);
	assert_int_equal(st.frag_dropped, 0);
}

/* Every broken fragment sequence drops its datagram and counts it once. */
static void bad_fragments_dropped(void **state)
{
	struct frame ip, f[13];
	struct got g[MAX_GOT];
	struct pcapfile_stats st;
	size_t n = 0;

	udp_payload(&ip, 2055, 100, 1);
	v4_fragment(&f[n++], &ip, 10, 0, 16, true); /* overlap */
	v4_fragment(&f[n++], &ip, 10, 8, 16, true);
	v4_fragment(&f[n++], &ip, 11, 0, 12, true);  /* a middle piece not a multiple of 8 */
	v4_fragment(&f[n++], &ip, 12, 16, 8, false); /* two different ends */
	v4_fragment(&f[n++], &ip, 12, 24, 8, false);
	v4_fragment(&f[n++], &ip, 13, 0, 8, true); /* past 65535 bytes */
	v4_frag_at(&f[n++], 13, 65528, ip.b, 16, false);
	v4_fragment(&f[n++], &ip, 14, 16, 8, true); /* data past an empty last piece: a hole */
	v4_fragment(&f[n++], &ip, 14, 8, 0, false);
	v4_fragment(&f[n++], &ip, 15, 0, 0, true);   /* an empty middle piece */
	v4_fragment(&f[n++], &ip, 16, 16, 8, false); /* last piece, then a middle one past it */
	v4_fragment(&f[n++], &ip, 16, 24, 8, true);
	v4_fragment(&f[n++], &ip, 17, 0, 8, true); /* still missing parts at the end of the file */

	assert_int_equal(read_frames(LT_EN10MB, f, n, g, &st), 0);
	assert_int_equal(st.fragments, n);
	assert_int_equal(st.reassembled, 0);
	assert_int_equal(st.frag_dropped, 8);
}

/* A capture on two interfaces holds each fragment twice: exact copies are ignored, a piece
 * with other bytes at the same place is an overlap. An empty last piece can complete a whole. */
static void duplicate_fragments(void **state)
{
	struct frame ip, ip2, f[10];
	struct got g[MAX_GOT];
	struct pcapfile_stats st;
	size_t n = 0;

	udp_payload(&ip, 2055, 36, 1); /* 44 bytes */
	v4_fragment(&f[n++], &ip, 1, 0, 16, true);
	v4_fragment(&f[n++], &ip, 1, 0, 16, true);
	v4_fragment(&f[n++], &ip, 1, 16, 28, false);
	v4_fragment(&f[n++], &ip, 2, 16, 28, false); /* the last piece twice, first */
	v4_fragment(&f[n++], &ip, 2, 16, 28, false);
	v4_fragment(&f[n++], &ip, 2, 0, 16, true);
	v4_fragment(&f[n++], &ip, 3, 0, 16, true); /* same place, other bytes */
	v4_fragment(&f[n++], &ip, 3, 0, 16, true);
	f[n - 1].b[f[n - 1].n - 1] ^= 1;
	udp_payload(&ip2, 2055, 32, 2); /* 40 bytes, then an empty last piece */
	v4_fragment(&f[n++], &ip2, 4, 0, 40, true);
	v4_fragment(&f[n++], &ip2, 4, 40, 0, false);

	assert_int_equal(read_frames(LT_EN10MB, f, n, g, &st), 3);
	assert_v4_dgram(&g[0], 2055, 36, 1);
	assert_v4_dgram(&g[1], 2055, 36, 1);
	assert_v4_dgram(&g[2], 2055, 32, 2);
	assert_int_equal(st.reassembled, 3);
	assert_int_equal(st.frag_dropped, 1);
}

/* A whole rebuilt from fragments is checked like any datagram. */
static void reassembled_non_udp(void **state)
{
	struct frame ip, f[4];
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	udp_payload(&ip, 2055, 40, 1);
	v4_fragment(&f[0], &ip, 1, 0, 24, true); /* TCP */
	v4_fragment(&f[1], &ip, 1, 24, 24, false);
	f[0].b[14 + 9] = f[1].b[14 + 9] = 6;
	put_u16(ip.b + 4, 200); /* a UDP length past the rebuilt payload */
	v4_fragment(&f[2], &ip, 2, 0, 24, true);
	v4_fragment(&f[3], &ip, 2, 24, 24, false);
	assert_int_equal(read_frames(LT_EN10MB, f, 4, g, &st), 0);
	assert_int_equal(st.reassembled, 2);
	assert_int_equal(st.other, 1);
	assert_int_equal(st.malformed, 1);
}

/* Four datagrams at a time: a fifth takes the oldest slot; 30 s of capture time ends a slot. */
static void reassembly_slots_and_timeout(void **state)
{
	struct frame ip[6], fr;
	struct got g[MAX_GOT];
	struct savefile s;
	struct pcapfile *pf;
	uint64_t t = (uint64_t)TS_SEC * 1000;

	for (int i = 1; i <= 5; i++)
		udp_payload(&ip[i], 2055, 100, (uint8_t)(10 * i));
	sf_create(&s, LT_EN10MB);
	for (int i = 1; i <= 5; i++) {
		v4_fragment(&fr, &ip[i], (uint16_t)i, 0, 56, true);
		sf_frame(&s, t + (uint64_t)i, &fr);
	}
	for (int i = 5; i >= 1; i--) {
		v4_fragment(&fr, &ip[i], (uint16_t)i, 56, 52, false);
		sf_frame(&s, t + 10, &fr);
	}
	/* id 20 starts at t + 20 ms, id 21 at t + 10 s; at t + 35 s only id 20 is too old. */
	v4_fragment(&fr, &ip[1], 20, 0, 56, true);
	sf_frame(&s, t + 20, &fr);
	v4_fragment(&fr, &ip[2], 21, 0, 56, true);
	sf_frame(&s, t + 10000, &fr);
	v4_fragment(&fr, &ip[2], 21, 56, 52, false);
	sf_frame(&s, t + 35000, &fr);
	v4_fragment(&fr, &ip[1], 20, 56, 52, false);
	sf_frame(&s, t + 36000, &fr);
	pf = sf_open(&s, 0);
	assert_int_equal(read_all(pf, g, MAX_GOT), 5);
	for (int i = 0; i < 4; i++)
		assert_v4_dgram(&g[i], 2055, 100, (uint8_t)(10 * (5 - i)));
	assert_v4_dgram(&g[4], 2055, 100, 20);
	/* id 1 evicted, its last piece alone, id 20 expired, its last piece alone */
	assert_int_equal(pcapfile_stats(pf)->frag_dropped, 4);
	assert_int_equal(pcapfile_stats(pf)->reassembled, 5);
	sf_done(&s, pf);
}

static void truncated_and_empty_frames(void **state)
{
	struct frame f = {.n = 0};
	struct got g[MAX_GOT];
	struct savefile s;
	struct pcapfile *pf;
	const uint8_t none[1] = {0};

	put_eth(&f, 0x0800);
	ipv4_udp(&f, 2055, 200, 1);
	sf_create(&s, LT_EN10MB);
	sf_record(&s, 1000, f.b, f.n - 1, f.n); /* the snap length cut the payload */
	sf_record(&s, 1000, f.b, 14 + 24, f.n); /* ... the UDP header */
	sf_record(&s, 1000, f.b, 14 + 10, f.n); /* ... the IP header */
	sf_record(&s, 1000, f.b, 10, f.n);      /* ... the Ethernet header */
	sf_record(&s, 1000, none, 0, 0);        /* an empty packet */
	sf_record(&s, 1000, none, 0, 60);       /* nothing of it captured */
	put_u16(f.b + 14 + 20 + 4, 209);        /* UDP length one past the IP payload */
	sf_frame(&s, 1000, &f);
	put_u16(f.b + 14 + 20 + 4, 7); /* UDP length shorter than its header */
	sf_frame(&s, 1000, &f);
	put_u16(f.b + 14 + 20 + 4, 8 + 50); /* UDP length inside the IP payload: it rules */
	sf_frame(&s, 1000, &f);
	pf = sf_open(&s, 0);
	assert_int_equal(read_all(pf, g, MAX_GOT), 1);
	assert_v4_dgram(&g[0], 2055, 50, 1);
	assert_int_equal(pcapfile_stats(pf)->frames, 9);
	assert_int_equal(pcapfile_stats(pf)->malformed, 8);
	sf_done(&s, pf);

	/* Empty frames of every link type. */
	static const uint32_t lts[] = {LT_NULL,       LT_LOOP, LT_RAW,  LT_LINUX_SLL,
	                               LT_LINUX_SLL2, LT_IPV4, LT_IPV6, LT_EN10MB};
	for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
		sf_create(&s, lts[i]);
		sf_record(&s, 1000, none, 0, 0);
		pf = sf_open(&s, 0);
		assert_int_equal(read_all(pf, g, MAX_GOT), 0);
		assert_int_equal(pcapfile_stats(pf)->malformed, 1);
		sf_done(&s, pf);
	}
}

/* UDP length 0 means a jumbogram (RFC 2675 §4) in IPv6 only: the IP payload length rules. */
static void udp_length_zero(void **state)
{
	struct frame f[2] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	ipv6_udp(&f[0], 2055, 30, 1);
	put_u16(f[0].b + 40 + 4, 0);
	ipv4_udp(&f[1], 2055, 30, 2);
	put_u16(f[1].b + 20 + 4, 0);
	assert_int_equal(read_frames(LT_RAW, f, 2, g, &st), 1);
	assert_v6_dgram(&g[0], 2055, 30, 1);
	assert_int_equal(st.malformed, 1);
}

static void non_udp_skipped(void **state)
{
	struct frame f[6] = {0};
	struct got g[MAX_GOT];
	struct pcapfile_stats st;

	put_eth(&f[0], 0x0800);
	put_ipv4(&f[0], 6, 1, 0, 0, 20); /* TCP */
	put_pattern(&f[0], 20, 0);
	put_eth(&f[1], 0x0800);
	put_ipv4(&f[1], 1, 1, 0, 0, 8); /* ICMP */
	put_pattern(&f[1], 8, 0);
	put_eth(&f[2], 0x0806); /* ARP */
	put_pattern(&f[2], 28, 0);
	put_eth(&f[3], 0x86dd);
	put_ipv6(&f[3], 58, 8); /* ICMPv6 */
	put_pattern(&f[3], 8, 0);
	put_eth(&f[4], 0x88cc); /* LLDP */
	put_pattern(&f[4], 30, 0);
	put_eth(&f[5], 0x0800);
	ipv4_udp(&f[5], 2055, 16, 3);
	assert_int_equal(read_frames(LT_EN10MB, f, 6, g, &st), 1);
	assert_v4_dgram(&g[0], 2055, 16, 3);
	assert_int_equal(st.other, 5);
	assert_int_equal(st.malformed, 0);
}

static void port_filter(void **state)
{
	static const uint16_t ports[] = {2055, 4739, 6343, 2055};
	struct frame f, ip;
	struct got g[MAX_GOT];
	struct savefile s;
	struct pcapfile *pf;

	sf_create(&s, LT_EN10MB);
	for (int i = 0; i < 4; i++) {
		memset(&f, 0, sizeof(f));
		put_eth(&f, 0x0800);
		ipv4_udp(&f, ports[i], 10, (uint8_t)i);
		sf_frame(&s, 1000, &f);
	}
	udp_payload(&ip, 4739, 100, 9); /* rebuilt, then filtered */
	v4_fragment(&f, &ip, 5, 0, 64, true);
	sf_frame(&s, 1000, &f);
	v4_fragment(&f, &ip, 5, 64, 44, false);
	sf_frame(&s, 1000, &f);
	pf = sf_open(&s, 2055);
	assert_int_equal(read_all(pf, g, MAX_GOT), 2);
	assert_v4_dgram(&g[0], 2055, 10, 0);
	assert_v4_dgram(&g[1], 2055, 10, 3);
	assert_int_equal(pcapfile_stats(pf)->filtered, 3);
	assert_int_equal(pcapfile_stats(pf)->reassembled, 1);
	assert_int_equal(pcapfile_stats(pf)->udp, 2);
	sf_done(&s, pf);
}

static void pcapng_file(void **state)
{
	/* Section header, interface description (LINUX_SLL2, microseconds), one enhanced packet. */
	const uint32_t shb[7] = {0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0xffffffff, 0xffffffff, 28};
	const uint32_t idb[5] = {1, 20, LT_LINUX_SLL2, 262144, 20};
	const uint64_t us = (uint64_t)TS_SEC * 1000000 + 456789;
	struct frame f = {.n = 0};
	struct got g[MAX_GOT];
	struct savefile s;
	struct pcapfile *pf;
	const uint8_t pad[4] = {0};

	put_sll2(&f, 0x86dd);
	ipv6_udp(&f, 6343, 77, 4);
	size_t padded = (f.n + 3) & ~(size_t)3;
	uint32_t blen = (uint32_t)(28 + padded + 4);
	const uint32_t epb[7] = {
	    6, blen, 0, (uint32_t)(us >> 32), (uint32_t)us, (uint32_t)f.n, (uint32_t)f.n};

	sf_create_raw(&s);
	write_all(s.f, shb, sizeof(shb));
	write_all(s.f, idb, sizeof(idb));
	write_all(s.f, epb, sizeof(epb));
	write_all(s.f, f.b, f.n);
	write_all(s.f, pad, padded - f.n);
	write_all(s.f, &blen, 4);
	pf = sf_open(&s, 0);
	assert_int_equal(read_all(pf, g, MAX_GOT), 1);
	assert_v6_dgram(&g[0], 6343, 77, 4);
	assert_int_equal(g[0].u.ts_ms, (uint64_t)TS_SEC * 1000 + 456);
	sf_done(&s, pf);
}

static void open_and_read_errors(void **state)
{
	char err[256] = "";
	struct frame f = {.n = 0};
	struct savefile s;
	struct pcapfile *pf;
	struct pcap_udp u;

	assert_null(pcapfile_open("/nonexistent/x.pcap", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/x.pcap"));

	sf_create(&s, LT_IEEE802_11);
	assert_int_equal(fclose(s.f), 0);
	err[0] = '\0';
	assert_null(pcapfile_open(s.path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "unsupported link type"));
	unlink(s.path);

	sf_create_raw(&s);
	write_all(s.f, "not a capture file at all", 25);
	assert_int_equal(fclose(s.f), 0);
	err[0] = '\0';
	assert_null(pcapfile_open(s.path, 0, err, sizeof(err)));
	assert_true(err[0] != '\0');
	unlink(s.path);

	/* A file cut inside a record: what came before is read, then an error. */
	put_eth(&f, 0x0800);
	ipv4_udp(&f, 2055, 30, 1);
	sf_create(&s, LT_EN10MB);
	sf_frame(&s, 1000, &f);
	sf_record(&s, 1000, f.b, 10, f.n);
	assert_int_equal(fseek(s.f, -5, SEEK_END), 0);
	assert_int_equal(ftruncate(fileno(s.f), ftell(s.f)), 0);
	pf = sf_open(&s, 0);
	assert_int_equal(pcapfile_next(pf, &u, err, sizeof(err)), 1);
	err[0] = '\0';
	assert_int_equal(pcapfile_next(pf, &u, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	sf_done(&s, pf);
}

/* pcap_frame_udp() on every prefix of good frames, each in a buffer of exactly that size:
 * ASan catches any read past caplen, and no prefix passes as a whole datagram. */
static void frame_parser_bounds(void **state)
{
	struct {
		int dlt;
		struct frame f;
	} c[8];
	struct pcap_udp u;

	memset(c, 0, sizeof(c));
	c[0].dlt = DLT_EN10MB;
	put_eth(&c[0].f, 0x8100);
	put16(&c[0].f, 10);
	put16(&c[0].f, 0x0800);
	put_ipv4(&c[0].f, 17, 1, 0, 8, 8 + 12);
	put_udp(&c[0].f, 2055, 12, 1);
	c[1].dlt = DLT_LINUX_SLL;
	put_sll(&c[1].f, 0x86dd);
	ipv6_udp(&c[1].f, 2055, 12, 1);
	c[2].dlt = DLT_LINUX_SLL2;
	put_sll2(&c[2].f, 0x0800);
	ipv4_udp(&c[2].f, 2055, 12, 1);
	c[3].dlt = DLT_NULL;
	put_null(&c[3].f, 30);
	ipv6_udp(&c[3].f, 2055, 12, 1);
	c[4].dlt = DLT_LOOP;
	put32(&c[4].f, 2);
	ipv4_udp(&c[4].f, 2055, 12, 1);
	c[5].dlt = DLT_RAW;
	put_ipv6(&c[5].f, 0, 8 + 8 + 8 + 12);
	put8(&c[5].f, 44);
	put8(&c[5].f, 0);
	put_pattern(&c[5].f, 6, 0);
	put8(&c[5].f, 17);
	put8(&c[5].f, 0);
	put16(&c[5].f, 0);
	put32(&c[5].f, 1);
	put_udp(&c[5].f, 2055, 12, 1);
	c[6].dlt = DLT_IPV4;
	ipv4_udp(&c[6].f, 2055, 12, 1);
	c[7].dlt = DLT_IPV6;
	ipv6_udp(&c[7].f, 2055, 12, 1);

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_true(pcap_dlt_supported(c[i].dlt));
		for (size_t len = 0; len <= c[i].f.n; len++) {
			uint8_t *p = malloc(len ? len : 1);
			assert_non_null(p);
			memcpy(p, c[i].f.b, len);
			enum frame_kind k = pcap_frame_udp(c[i].dlt, p, len, &u);
			if (len < c[i].f.n) {
				assert_int_not_equal(k, FRAME_UDP);
			} else {
				assert_int_equal(k, FRAME_UDP);
				assert_int_equal(u.len, 12);
				assert_ptr_equal(u.payload, p + len - 12);
			}
			free(p);
		}
	}
	assert_false(pcap_dlt_supported(DLT_IEEE802_11));
	assert_int_equal(pcap_frame_udp(DLT_IEEE802_11, c[0].f.b, c[0].f.n, &u), FRAME_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ethernet_ipv4_udp),
	    cmocka_unit_test(vlan_tags),
	    cmocka_unit_test(linux_cooked),
	    cmocka_unit_test(bsd_loopback),
	    cmocka_unit_test(raw_ip),
	    cmocka_unit_test(ipv4_header_forms),
	    cmocka_unit_test(ipv6_extension_headers),
	    cmocka_unit_test(ipv4_fragments_reassembled),
	    cmocka_unit_test(ipv6_fragments_reassembled),
	    cmocka_unit_test(bad_fragments_dropped),
	    cmocka_unit_test(duplicate_fragments),
	    cmocka_unit_test(reassembled_non_udp),
	    cmocka_unit_test(reassembly_slots_and_timeout),
	    cmocka_unit_test(truncated_and_empty_frames),
	    cmocka_unit_test(udp_length_zero),
	    cmocka_unit_test(non_udp_skipped),
	    cmocka_unit_test(port_filter),
	    cmocka_unit_test(pcapng_file),
	    cmocka_unit_test(open_and_read_errors),
	    cmocka_unit_test(frame_parser_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
