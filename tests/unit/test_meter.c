/* test_meter.c - the capture flow cache: keys, timeouts, FIN/RST, eviction, batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode_helpers.h"
#include "ingest/meter.h"

struct out {
	struct flow_batch batch;
	struct flow *f;
	size_t n, cap;
	int emits;
};

static void collect(void *arg, struct flow_batch *b)
{
	struct out *o = arg;
	if (o->n + b->n > o->cap) {
		o->cap = (o->n + b->n) * 2 + 16;
		o->f = realloc(o->f, o->cap * sizeof(*o->f));
	}
	memcpy(o->f + o->n, b->rec, b->n * sizeof(*b->rec));
	o->n += b->n;
	b->n = 0;
	o->emits++;
}

static void drain(struct out *o)
{
	if (o->batch.n)
		collect(o, &o->batch);
}

static struct meter *setup(struct out *o, uint32_t entries)
{
	struct meter_conf c = {
	    .max_entries = entries, .active_ms = 60000, .inactive_ms = 15000, .in_if = 3};
	struct meter *m = meter_new(&c);
	memset(o, 0, sizeof(*o));
	meter_set_output(m, &o->batch, collect, o);
	return m;
}

/* An Ethernet/IPv4 frame: TCP or UDP from 10.0.0.s:sport to 192.0.2.1:80. */
static size_t frame(uint8_t *b, uint8_t s, uint16_t sport, uint8_t proto, uint8_t flags,
                    uint16_t ip_len)
{
	struct pkt p;
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

	p.n = 0;
	p_bytes(&p, macs, 12);
	p_u16(&p, 0x0800);
	p_u8(&p, 0x45);
	p_u8(&p, 0);
	p_u16(&p, ip_len);
	p_zero(&p, 4);
	p_u8(&p, 64);
	p_u8(&p, proto);
	p_u16(&p, 0);
	p_u8(&p, 10);
	p_u8(&p, 0);
	p_u8(&p, 0);
	p_u8(&p, s);
	p_v4(&p, "192.0.2.1");
	p_u16(&p, sport);
	p_u16(&p, 80);
	p_zero(&p, 9);
	p_u8(&p, flags);
	p_zero(&p, 6);
	memcpy(b, p.b, p.n);
	return p.n;
}

static void aggregates_packets_by_key(void **state)
{
	struct out o;
	struct meter *m = setup(&o, 64);
	uint8_t b[128];
	size_t n;
	char buf[WIP_STRLEN];

	for (int i = 0; i < 3; i++) {
		n = frame(b, 1, 1000, 6, 0x10, 100);
		meter_packet(m, b, n, 114, PKT_LINK_ETH, 1000 + i * 100);
	}
	n = frame(b, 2, 1000, 17, 0, 60);
	meter_packet(m, b, n, 74, PKT_LINK_ETH, 1500);
	assert_int_equal(meter_stats(m)->in_use, 2);
	meter_flush(m, 5000);
	drain(&o);
	assert_int_equal(o.n, 2);
	const struct flow *f = &o.f[0];
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "10.0.0.1");
	assert_int_equal(f->packets, 3);
	assert_int_equal(f->bytes, 300);
	assert_int_equal(f->first_ms, 1000);
	assert_int_equal(f->last_ms, 1200);
	assert_int_equal(f->tcp_flags, 0x10);
	assert_int_equal(f->in_if, 3);
	assert_int_equal(f->dst_port, 80);
	assert_true(FLOW_HAS(f, FF_SRC_MAC) && FLOW_HAS(f, FF_TCP_FLAGS) && FLOW_HAS(f, FF_FIRST));
	assert_int_equal(o.f[1].proto, 17);
	assert_false(FLOW_HAS(&o.f[1], FF_TCP_FLAGS));
	assert_int_equal(meter_stats(m)->inactive, 2);
	meter_free(m);
	free(o.f);
}

static void fin_rst_and_timeouts(void **state)
{
	struct out o;
	struct meter *m = setup(&o, 64);
	uint8_t b[128];
	size_t n;

	n = frame(b, 1, 1000, 6, 0x02, 60);
	meter_packet(m, b, n, 74, PKT_LINK_ETH, 0);
	n = frame(b, 1, 1000, 6, 0x11, 60); /* FIN ACK ends it at once */
	meter_packet(m, b, n, 74, PKT_LINK_ETH, 10);
	drain(&o);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.f[0].tcp_flags, 0x13);
	assert_int_equal(meter_stats(m)->ended_tcp, 1);

	/* active timeout: a flow older than 60 s is cut at its next packet */
	n = frame(b, 2, 2000, 17, 0, 60);
	for (uint64_t t = 0; t <= 70000; t += 5000)
		meter_packet(m, b, n, 74, PKT_LINK_ETH, t);
	drain(&o);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.f[1].packets, 12);
	assert_int_equal(meter_stats(m)->active, 1);

	/* inactive timeout */
	meter_expire(m, 70000 + 14999);
	drain(&o);
	assert_int_equal(o.n, 2);
	meter_expire(m, 70000 + 15000);
	drain(&o);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.f[2].packets, 3);
	assert_int_equal(meter_stats(m)->in_use, 0);
	meter_free(m);
	free(o.f);
}

static void bounded_cache_evicts_idlest(void **state)
{
	struct out o;
	struct meter *m = setup(&o, 4);
	uint8_t b[128];
	size_t n;
	uint64_t pk = 0;

	/* 1000 flows through a 4-entry cache, every flow seen twice, interleaved */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 1000; i++) {
			n = frame(b, (uint8_t)(i % 250), (uint16_t)(1000 + i / 250), 17, 0, 50);
			meter_packet(m, b, n, 64, PKT_LINK_ETH, (uint64_t)round * 1000 + i);
		}
	assert_true(meter_stats(m)->in_use <= 4);
	assert_true(meter_stats(m)->evicted >= 1996);
	meter_flush(m, 10000);
	drain(&o);
	for (size_t i = 0; i < o.n; i++)
		pk += o.f[i].packets;
	assert_int_equal(pk, 2000);
	assert_int_equal(meter_stats(m)->exported, o.n);
	assert_true(o.emits >= 2); /* more than one batch */
	meter_free(m);
	free(o.f);
}

/* Many keys through the index: deletion keeps every remaining key findable. */
static void index_survives_churn(void **state)
{
	struct out o;
	struct meter *m = setup(&o, 512);
	uint8_t b[128];
	size_t n;

	for (int i = 0; i < 500; i++) {
		n = frame(b, (uint8_t)(i % 200), (uint16_t)(i / 200 + 1), 6, 0x10, 40);
		meter_packet(m, b, n, 54, PKT_LINK_ETH, (uint64_t)i);
	}
	/* end every third flow by RST, then touch all of them again */
	for (int i = 0; i < 500; i += 3) {
		n = frame(b, (uint8_t)(i % 200), (uint16_t)(i / 200 + 1), 6, 0x04, 40);
		meter_packet(m, b, n, 54, PKT_LINK_ETH, 1000);
	}
	for (int i = 0; i < 500; i++) {
		n = frame(b, (uint8_t)(i % 200), (uint16_t)(i / 200 + 1), 6, 0x10, 40);
		meter_packet(m, b, n, 54, PKT_LINK_ETH, 2000);
	}
	assert_int_equal(meter_stats(m)->flows, 500 + 167);
	assert_int_equal(meter_stats(m)->in_use, 500);
	meter_free(m);
	free(o.f);
}

static void skips_what_is_not_ip(void **state)
{
	struct out o;
	struct meter *m = setup(&o, 8);
	uint8_t b[128] = {0};

	b[12] = 0x08;
	b[13] = 0x06; /* ARP */
	meter_packet(m, b, 42, 42, PKT_LINK_ETH, 1);
	meter_packet(m, b, 0, 0, PKT_LINK_ETH, 1); /* zero-length pcap record */
	b[13] = 0x00;
	b[14] = 0x41; /* IPv4 with IHL 1 */
	meter_packet(m, b, 40, 40, PKT_LINK_ETH, 1);
	assert_int_equal(meter_stats(m)->not_ip, 1);
	assert_int_equal(meter_stats(m)->malformed, 2);
	assert_int_equal(meter_stats(m)->flows, 0);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	meter_stats_print(m, f);
	fclose(f);
	assert_non_null(strstr(text, "1 not IP, 2 malformed"));
	free(text);
	meter_free(m);
	free(o.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(aggregates_packets_by_key),   cmocka_unit_test(fin_rst_and_timeouts),
	    cmocka_unit_test(bounded_cache_evicts_idlest), cmocka_unit_test(index_survives_churn),
	    cmocka_unit_test(skips_what_is_not_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
