/* test_capture.c - which captured frames carry a whole UDP datagram (export decoding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode/pkt.h"
#include "decode_helpers.h"
#include "ingest/capture.h"

/* IPv4 header of total length tot_len; frag = flags and offset. */
static void ipv4_hdr(struct pkt *p, uint8_t proto, uint16_t tot_len, uint16_t frag)
{
	p_u8(p, 0x45);
	p_u8(p, 0);
	p_u16(p, tot_len);
	p_u16(p, 1);
	p_u16(p, frag);
	p_u8(p, 64);
	p_u8(p, proto);
	p_u16(p, 0);
	p_v4(p, "192.0.2.1");
	p_v4(p, "192.0.2.2");
}

static void ipv6_hdr(struct pkt *p, uint8_t nh, uint16_t plen)
{
	p_u32(p, 6u << 28);
	p_u16(p, plen);
	p_u8(p, nh);
	p_u8(p, 64);
	p_v6(p, "2001:db8::1");
	p_v6(p, "2001:db8::2");
}

static void udp_hdr(struct pkt *p, uint16_t dport, uint16_t ulen)
{
	p_u16(p, 40000);
	p_u16(p, dport);
	p_u16(p, ulen);
	p_u16(p, 0);
}

static enum cap_udp payload_of(const struct pkt *p, size_t caplen, enum pkt_link link,
                               const uint8_t **d, size_t *len)
{
	struct pkt_info pi;

	pkt_parse(p->b, caplen, link, &pi);
	*d = NULL;
	*len = 0;
	return capture_udp_payload(p->b, caplen, &pi, d, len);
}

static void ipv4_whole_cut_and_lying(void **state)
{
	struct pkt p = {0};
	const uint8_t *d;
	size_t len;

	ipv4_hdr(&p, 17, 20 + 8 + 10, 0x4000); /* DF is not a fragment */
	udp_hdr(&p, 2055, 8 + 10);
	p_u16(&p, 5); /* a NetFlow v5 version field, then padding */
	p_zero(&p, 8);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_WHOLE);
	assert_ptr_equal(d, p.b + 28);
	assert_int_equal(len, 10);
	/* snaplen cut the datagram: partial, whatever is cut */
	for (size_t caplen = 24; caplen < p.n; caplen++)
		assert_int_equal(payload_of(&p, caplen, PKT_LINK_RAW, &d, &len), CAP_UDP_PARTIAL);
	/* Ethernet trailer padding behind the IP packet is not part of the datagram */
	p_zero(&p, 6);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_WHOLE);
	assert_int_equal(len, 10);
	/* a UDP length beyond the IP packet, or shorter than the UDP header */
	p.b[24] = 0, p.b[25] = 30;
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_NONE);
	p.b[25] = 7;
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_NONE);
	(void)state;
}

static void ipv4_fragments_and_other_protocols(void **state)
{
	struct pkt p = {0};
	const uint8_t *d;
	size_t len;

	ipv4_hdr(&p, 17, 20 + 8 + 8, 0x2000); /* first fragment (MF) */
	udp_hdr(&p, 2055, 8 + 3000);
	p_zero(&p, 8);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_PARTIAL);
	p.n = 0;
	ipv4_hdr(&p, 17, 20 + 16, 0x0100); /* a later fragment: no UDP header */
	p_zero(&p, 16);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_NONE);
	p.n = 0;
	ipv4_hdr(&p, 6, 20 + 20, 0); /* TCP */
	p_zero(&p, 20);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_NONE);
	(void)state;
}

static void ipv6_extension_headers(void **state)
{
	struct pkt p = {0};
	const uint8_t *d;
	size_t len;

	ipv6_hdr(&p, 17, 8 + 4);
	udp_hdr(&p, 6343, 8 + 4);
	p_u32(&p, 5);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_WHOLE);
	assert_ptr_equal(d, p.b + 48);
	assert_int_equal(len, 4);

	/* hop-by-hop (8 bytes), destination options (16 bytes), then UDP */
	p.n = 0;
	ipv6_hdr(&p, 0, 8 + 16 + 8 + 4);
	p_u8(&p, 60);
	p_u8(&p, 0);
	p_zero(&p, 6);
	p_u8(&p, 17);
	p_u8(&p, 1);
	p_zero(&p, 14);
	udp_hdr(&p, 4739, 8 + 4);
	p_u32(&p, 10);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_WHOLE);
	assert_ptr_equal(d, p.b + 40 + 24 + 8);
	assert_int_equal(len, 4);
	assert_int_equal(payload_of(&p, p.n - 1, PKT_LINK_RAW, &d, &len), CAP_UDP_PARTIAL);

	/* a first fragment (offset 0, M set) */
	p.n = 0;
	ipv6_hdr(&p, 44, 8 + 8 + 4);
	p_u8(&p, 17);
	p_u8(&p, 0);
	p_u16(&p, 1); /* offset 0, M */
	p_u32(&p, 77);
	udp_hdr(&p, 4739, 8 + 2000);
	p_u32(&p, 10);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_RAW, &d, &len), CAP_UDP_PARTIAL);
	(void)state;
}

static void ethernet_vlan(void **state)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	struct pkt p = {0};
	const uint8_t *d;
	size_t len;

	p_bytes(&p, macs, 12);
	p_u16(&p, 0x8100);
	p_u16(&p, 20);
	p_u16(&p, 0x0800);
	ipv4_hdr(&p, 17, 20 + 8 + 4, 0);
	udp_hdr(&p, 9995, 8 + 4);
	p_u16(&p, 9);
	p_u16(&p, 0);
	assert_int_equal(payload_of(&p, p.n, PKT_LINK_ETH, &d, &len), CAP_UDP_WHOLE);
	assert_ptr_equal(d, p.b + 18 + 28);
	assert_int_equal(len, 4);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ipv4_whole_cut_and_lying),
	    cmocka_unit_test(ipv4_fragments_and_other_protocols),
	    cmocka_unit_test(ipv6_extension_headers),
	    cmocka_unit_test(ethernet_vlan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
