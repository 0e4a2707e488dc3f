/* test_pkt.c - the shared header parser: link types, tags, labels, IPv6 extensions, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode/pkt.h"
#include "decode_helpers.h"

static void eth_hdr(struct pkt *p, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	p->n = 0;
	p_bytes(p, macs, 12);
	p_u16(p, type);
}

static void ipv4_hdr(struct pkt *p, uint8_t proto, uint16_t frag, uint8_t ihl_words)
{
	p_u8(p, (uint8_t)(0x40 | ihl_words));
	p_u8(p, 0x10);
	p_u16(p, 100);
	p_u16(p, 1);
	p_u16(p, frag);
	p_u8(p, 64);
	p_u8(p, proto);
	p_u16(p, 0);
	p_v4(p, "10.0.0.1");
	p_v4(p, "10.0.0.2");
	p_zero(p, (size_t)(ihl_words - 5) * 4);
}

static void ipv6_hdr(struct pkt *p, uint8_t nh, uint16_t plen)
{
	p_u32(p, 6u << 28 | 0x2eu << 20 | 0x12345);
	p_u16(p, plen);
	p_u8(p, nh);
	p_u8(p, 64);
	p_v6(p, "2001:db8::1");
	p_v6(p, "2001:db8::2");
}

static void ipv4_tcp_over_vlan(void **state)
{
	struct pkt p;
	struct pkt_info pi;
	char buf[WIP_STRLEN];

	eth_hdr(&p, 0x8100);
	p_u16(&p, 0xa00a); /* pcp 5, vlan 10 */
	p_u16(&p, 0x0800);
	ipv4_hdr(&p, 6, 0x4000, 6); /* with 4 bytes of options */
	p_u16(&p, 1000);
	p_u16(&p, 80);
	p_zero(&p, 9);
	p_u8(&p, 0x19); /* FIN PSH ACK */
	p_zero(&p, 6);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_ETH, &pi), PKT_OK);
	assert_int_equal(
	    pi.have &
	        (PKT_HAVE_ETH | PKT_HAVE_VLAN | PKT_HAVE_IP | PKT_HAVE_PORTS | PKT_HAVE_FLAGS),
	    PKT_HAVE_ETH | PKT_HAVE_VLAN | PKT_HAVE_IP | PKT_HAVE_PORTS | PKT_HAVE_FLAGS);
	assert_int_equal(pi.vlan, 10);
	assert_int_equal(pi.vlan_pcp, 5);
	assert_int_equal(pi.ip_version, 4);
	assert_int_equal(pi.ip_len, 100);
	assert_int_equal(pi.l3_off, 18);
	assert_int_equal(pi.tos, 0x10);
	assert_string_equal(wip_str(&pi.dst, buf, sizeof(buf)), "10.0.0.2");
	assert_int_equal(pi.src_port, 1000);
	assert_int_equal(pi.dst_port, 80);
	assert_int_equal(pi.tcp_flags, 0x19);
	assert_false(pi.fragment);

	struct flow f;
	memset(&f, 0, sizeof(f));
	pkt_to_flow(&pi, &f);
	assert_true(FLOW_HAS(&f, FF_VLAN) && FLOW_HAS(&f, FF_TCP_FLAGS) &&
	            FLOW_HAS(&f, FF_SRC_MAC));
	assert_int_equal(f.dst_port, 80);
}

static void qinq_and_mpls(void **state)
{
	struct pkt p;
	struct pkt_info pi;

	eth_hdr(&p, 0x88a8);
	p_u16(&p, 100);
	p_u16(&p, 0x8100);
	p_u16(&p, 200);
	p_u16(&p, 0x8847);
	p_u32(&p, 16u << 12 | 64);
	p_u32(&p, 17u << 12 | 0x100 | 64);
	ipv4_hdr(&p, 17, 0, 5);
	p_u16(&p, 53);
	p_u16(&p, 5353);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_ETH, &pi), PKT_OK);
	assert_int_equal(pi.vlan, 100);
	assert_int_equal(pi.inner_vlan, 200);
	assert_true(pi.have & PKT_HAVE_QINQ);
	assert_int_equal(pi.mpls_depth, 2);
	assert_int_equal(pi.mpls[1], 17 << 4 | 1);
	assert_int_equal(pi.dst_port, 5353);

	/* a label stack that never ends */
	eth_hdr(&p, 0x8847);
	for (int i = 0; i < FLOW_MPLS_MAX + 2; i++)
		p_u32(&p, (uint32_t)i << 12);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_ETH, &pi), PKT_TAG_LIMIT);
	/* too many VLAN tags */
	eth_hdr(&p, 0x8100);
	for (int i = 0; i < PKT_TAGS_MAX + 2; i++) {
		p_u16(&p, 1);
		p_u16(&p, 0x8100);
	}
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_ETH, &pi), PKT_TAG_LIMIT);
	/* not IP */
	eth_hdr(&p, 0x0806);
	p_zero(&p, 28);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_ETH, &pi), PKT_NOT_IP);
	assert_true(pi.have & PKT_HAVE_ETH);
}

static void ipv6_extension_headers(void **state)
{
	struct pkt p;
	struct pkt_info pi;

	/* hop-by-hop, routing, fragment (first), AH, then ICMPv6 */
	p.n = 0;
	ipv6_hdr(&p, 0, 48);
	p_u8(&p, 43);
	p_u8(&p, 0);
	p_zero(&p, 6);
	p_u8(&p, 44);
	p_u8(&p, 0);
	p_zero(&p, 6);
	p_u8(&p, 51);
	p_u8(&p, 0);
	p_u16(&p, 1); /* offset 0, M=1 */
	p_u32(&p, 7);
	p_u8(&p, 58);
	p_u8(&p, 1); /* AH: (1 + 2) * 4 = 12 bytes */
	p_zero(&p, 10);
	p_u8(&p, 128);
	p_u8(&p, 0);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_IPV6, &pi), PKT_OK);
	assert_int_equal(pi.proto, 58);
	assert_int_equal(pi.icmp, 128 << 8);
	assert_int_equal(pi.tos, 0x2e);
	assert_int_equal(pi.ip_len, 88);
	assert_true(pi.fragment);

	/* a non-first fragment has no transport header */
	p.n = 0;
	ipv6_hdr(&p, 44, 16);
	p_u8(&p, 17);
	p_u8(&p, 0);
	p_u16(&p, 185 << 3);
	p_u32(&p, 7);
	p_zero(&p, 8);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_RAW, &pi), PKT_FRAGMENT);
	assert_int_equal(pi.proto, 17);
	assert_false(pi.have & PKT_HAVE_PORTS);

	/* a chain of destination options longer than PKT_EXT_MAX */
	p.n = 0;
	ipv6_hdr(&p, 60, 200);
	for (int i = 0; i < PKT_EXT_MAX + 4; i++) {
		p_u8(&p, 60);
		p_u8(&p, 0);
		p_zero(&p, 6);
	}
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_RAW, &pi), PKT_EXT_LIMIT);
	assert_true(pi.have & PKT_HAVE_IP);
}

static void ipv4_fragments_and_bad_headers(void **state)
{
	struct pkt p;
	struct pkt_info pi;

	p.n = 0;
	ipv4_hdr(&p, 17, 0x0010, 5); /* offset 16: no ports */
	p_zero(&p, 8);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_IPV4, &pi), PKT_FRAGMENT);
	assert_true(pi.fragment);
	assert_false(pi.have & PKT_HAVE_PORTS);

	p.n = 0;
	ipv4_hdr(&p, 17, 0x2000, 5); /* MF, offset 0: first fragment has ports */
	p_u16(&p, 1);
	p_u16(&p, 2);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_IPV4, &pi), PKT_OK);
	assert_true(pi.fragment);
	assert_int_equal(pi.dst_port, 2);

	p.n = 0;
	ipv4_hdr(&p, 17, 0, 5);
	p.b[0] = 0x43; /* IHL below 5 */
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_IPV4, &pi), PKT_BAD_IP);
	p.b[0] = 0x4f; /* IHL beyond the buffer */
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_IPV4, &pi), PKT_TRUNCATED);
	assert_true(pi.have & PKT_HAVE_IP);
	p.b[0] = 0x55;
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_RAW, &pi), PKT_BAD_IP);
}

/* Every prefix of a full frame parses without reading past its end (ASan) and loses fields
 * monotonically. */
static void every_truncation(void **state)
{
	struct pkt p;
	struct pkt_info pi;
	uint32_t prev = ~0u;

	eth_hdr(&p, 0x8100);
	p_u16(&p, 5);
	p_u16(&p, 0x86dd);
	ipv6_hdr(&p, 0, 28);
	p_u8(&p, 6);
	p_u8(&p, 0);
	p_zero(&p, 6);
	p_u16(&p, 22);
	p_u16(&p, 40000);
	p_zero(&p, 9);
	p_u8(&p, 0x02);
	p_zero(&p, 6);
	for (size_t n = p.n + 1; n-- > 0;) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, p.b, n);
		enum pkt_stop s = pkt_parse(copy, n, PKT_LINK_ETH, &pi);
		/* the TCP header needs only its first 14 bytes for the flags */
		assert_true(s == PKT_OK ? n >= p.n - 6 : s == PKT_TRUNCATED);
		assert_int_equal(pi.have & ~prev, 0);
		prev = pi.have;
		free(copy);
	}
	assert_int_equal(prev, 0);
}

static void other_links(void **state)
{
	struct pkt p;
	struct pkt_info pi;

	p.n = 0;
	p_u16(&p, 0); /* SLL: packet type, ARPHRD, addr len, addr[8], protocol */
	p_u16(&p, 1);
	p_u16(&p, 6);
	p_zero(&p, 8);
	p_u16(&p, 0x0800);
	ipv4_hdr(&p, 1, 0, 5);
	p_u8(&p, 3);
	p_u8(&p, 3);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_SLL, &pi), PKT_OK);
	assert_int_equal(pi.icmp, 0x0303);

	p.n = 0;
	p_u32(&p, 0x02000000); /* DLT_NULL family, host order: ignored, the nibble decides */
	ipv4_hdr(&p, 6, 0, 5);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_NULL, &pi), PKT_TRUNCATED);
	assert_true(pi.have & PKT_HAVE_IP);

	/* 802.3 with LLC/SNAP carrying IPv4 */
	eth_hdr(&p, 60);
	p_u8(&p, 0xaa);
	p_u8(&p, 0xaa);
	p_u8(&p, 3);
	p_zero(&p, 3);
	p_u16(&p, 0x0800);
	ipv4_hdr(&p, 50, 0, 5);
	assert_int_equal(pkt_parse(p.b, p.n, PKT_LINK_ETH, &pi), PKT_OK);
	assert_int_equal(pi.proto, 50);
	assert_string_equal(pkt_stop_name(PKT_EXT_LIMIT), "ipv6_ext_limit");
	assert_string_equal(pkt_stop_name((enum pkt_stop)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ipv4_tcp_over_vlan),
	    cmocka_unit_test(qinq_and_mpls),
	    cmocka_unit_test(ipv6_extension_headers),
	    cmocka_unit_test(ipv4_fragments_and_bad_headers),
	    cmocka_unit_test(every_truncation),
	    cmocka_unit_test(other_links),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
