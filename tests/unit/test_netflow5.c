/* test_netflow5.c - NetFlow v5 decoding: records, timestamps, sampling, drops, sequence gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode_helpers.h"
#include "lib/log.h"
#include "lib/prefix.h"

#define SECS   1700000000u
#define NSECS  500000000u
#define UPTIME 100000u

static void nf5_packet(struct pkt *p, uint16_t count, uint16_t records, uint32_t seq,
                       uint8_t engine_type, uint8_t engine_id, uint16_t sampling)
{
	p->n = 0;
	p_u16(p, 5);
	p_u16(p, count);
	p_u32(p, UPTIME);
	p_u32(p, SECS);
	p_u32(p, NSECS);
	p_u32(p, seq);
	p_u8(p, engine_type);
	p_u8(p, engine_id);
	p_u16(p, sampling);
	for (uint16_t i = 0; i < records; i++) {
		p_v4(p, "10.0.0.1");
		p->b[p->n - 1] = (uint8_t)(1 + i % 250);
		p_v4(p, "192.0.2.9");
		p_v4(p, "10.0.0.254");
		p_u16(p, 3);
		p_u16(p, 4);
		p_u32(p, 10 + i);
		p_u32(p, 1000 + i);
		p_u32(p, 40000);
		p_u32(p, 90000);
		p_u16(p, 1234);
		p_u16(p, i == 1 ? 0x0303 : 80);
		p_u8(p, 0);
		p_u8(p, 0x1b);
		p_u8(p, i == 1 ? 1 : 6);
		p_u8(p, 0x10);
		p_u16(p, 65001);
		p_u16(p, 65002);
		p_u8(p, 24);
		p_u8(p, 16);
		p_u16(p, 0);
	}
}

static void decodes_every_field(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	char buf[WIP_STRLEN];

	nf5_packet(&p, 2, 2, 7, 1, 2, 0);
	assert_int_equal(h_feed(h, &p), 2);
	assert_int_equal(h->n_out, 2);

	const struct flow *f = &h->out[0];
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "10.0.0.1");
	assert_string_equal(wip_str(&f->dst, buf, sizeof(buf)), "192.0.2.9");
	assert_string_equal(wip_str(&f->nexthop, buf, sizeof(buf)), "10.0.0.254");
	assert_string_equal(wip_str(&f->exporter, buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(f->in_if, 3);
	assert_int_equal(f->out_if, 4);
	assert_int_equal(f->packets, 10);
	assert_int_equal(f->bytes, 1000);
	assert_int_equal(f->src_port, 1234);
	assert_int_equal(f->dst_port, 80);
	assert_int_equal(f->tcp_flags, 0x1b);
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->tos, 0x10);
	assert_int_equal(f->src_as, 65001);
	assert_int_equal(f->dst_as, 65002);
	assert_int_equal(f->src_mask, 24);
	assert_int_equal(f->dst_mask, 16);
	assert_int_equal(f->engine_type, 1);
	assert_int_equal(f->engine_id, 2);
	assert_int_equal(f->domain, 2);
	assert_int_equal(f->export_seq, 7);
	assert_int_equal(f->export_version, 5);
	assert_int_equal(f->ip_version, 4);
	assert_int_equal(f->flows, 1);
	assert_int_equal(f->template_id, 0);
	assert_int_equal(f->event, FLOW_EV_FLOW);
	assert_int_equal(f->arrival_ms, h->ctx.now_ms);
	assert_true(FLOW_HAS(f, FF_ENGINE));
	assert_true(FLOW_HAS(f, FF_FIRST) && FLOW_HAS(f, FF_LAST));
	assert_false(FLOW_HAS(f, FF_SAMPLING));
	assert_false(FLOW_HAS(f, FF_ICMP));
	assert_false(FLOW_HAS(f, FF_FLOWS));
	/* header time (secs + nsecs) minus (sysUpTime - First) */
	assert_int_equal(f->first_ms, SECS * 1000ull + 500 - (UPTIME - 40000));
	assert_int_equal(f->last_ms, SECS * 1000ull + 500 - (UPTIME - 90000));

	/* ICMP: type/code travel in the destination port */
	assert_true(FLOW_HAS(&h->out[1], FF_ICMP));
	assert_int_equal(h->out[1].icmp, 0x0303);

	struct exporter_stats s = h_stats(h, 1 << 8 | 2, 5);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.bytes, 24 + 2 * 48);
	assert_int_equal(s.records, 2);
	h_free(h);
}

static void sampling_from_header(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	nf5_packet(&p, 1, 1, 0, 0, 0, 1u << 14 | 100);
	assert_int_equal(h_feed(h, &p), 1);
	assert_true(FLOW_HAS(&h->out[0], FF_SAMPLING));
	assert_int_equal(h->out[0].sampling_rate, 100);
	assert_int_equal(h->out[0].sampling_algo, 1);
	h_free(h);

	/* no interval in the header: the configured default applies */
	struct decode_limits l;
	decode_limits_default(&l);
	l.default_sampling_rate = 64;
	h = h_new(&l);
	nf5_packet(&p, 1, 1, 0, 0, 0, 0);
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->out[0].sampling_rate, 64);
	assert_true(FLOW_HAS(&h->out[0], FF_SAMPLING));
	h_free(h);
}

/* pmacct's nfacctd_time_new bins by arrival; timestamp_start/_end stay the exporter's. */
static void time_new_keeps_exporter_times(void **state)
{
	struct decode_limits l;
	decode_limits_default(&l);
	l.time_new = true;
	struct harness *h = h_new(&l);
	struct pkt p;

	nf5_packet(&p, 1, 1, 0, 0, 0, 0);
	h->ctx.now_ms = 1234567;
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->out[0].arrival_ms, 1234567);
	assert_true(h->out[0].first_ms != 1234567);
	assert_true(FLOW_HAS(&h->out[0], FF_FIRST));
	h_free(h);
}

static void truncated_header_creates_no_exporter(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	nf5_packet(&p, 1, 1, 0, 0, 0, 0);
	for (size_t n = 2; n < 24; n++) {
		p.n = n;
		assert_int_equal(h_feed(h, &p), -1);
	}
	assert_int_equal(h_exporters(h), 0);
	assert_int_equal(h_stats(h, 0, 0).drops[DROP_TRUNCATED], 22);
	h_free(h);
}

static void count_that_lies_is_dropped(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	nf5_packet(&p, 3, 2, 0, 0, 0, 0); /* says 3 records, carries 2 */
	assert_int_equal(h_feed(h, &p), -1);
	assert_int_equal(h->n_out, 0);
	assert_int_equal(h_stats(h, 0, 5).drops[DROP_TRUNCATED], 1);

	/* every truncation of a valid datagram: no crash, no record from a partial one */
	nf5_packet(&p, 2, 2, 0, 0, 0, 0);
	size_t full = p.n;
	for (size_t n = 0; n < full; n++) {
		p.n = n;
		assert_int_equal(h_feed(h, &p), -1);
	}
	assert_int_equal(h->n_out, 0);
	h_free(h);
}

static void sequence_gaps_and_resets(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	nf5_packet(&p, 2, 2, 100, 0, 0, 0);
	h_feed(h, &p);
	nf5_packet(&p, 2, 2, 102, 0, 0, 0); /* expected 102: fine */
	h_feed(h, &p);
	nf5_packet(&p, 2, 2, 110, 0, 0, 0); /* expected 104: 6 flows lost */
	h_feed(h, &p);
	nf5_packet(&p, 2, 2, 5, 0, 0, 0); /* backwards: exporter restart, not a gap */
	h_feed(h, &p);
	nf5_packet(&p, 2, 2, 7, 0, 0, 0);
	h_feed(h, &p);
	struct exporter_stats s = h_stats(h, 0, 5);
	assert_int_equal(s.seq_gaps, 6);
	assert_int_equal(s.records, 10);
	assert_int_equal(s.packets, 5);
	h_free(h);
}

static void engines_are_separate_exporters(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	nf5_packet(&p, 1, 1, 0, 0, 1, 0);
	h_feed(h, &p);
	nf5_packet(&p, 1, 1, 0, 0, 2, 0);
	h_feed(h, &p);
	assert_int_equal(h_exporters(h), 2);
	h_free(h);
}

static void full_batches_are_emitted(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	int total = 0;

	nf5_packet(&p, 30, 30, 0, 0, 0, 0);
	for (int i = 0; i < 100; i++) {
		put_u32(p.b + 16, (uint32_t)(i * 30));
		/* decode without moving the batch out, so it fills up */
		total += decode_datagram(&h->ctx, p.b, p.n);
	}
	assert_int_equal(total, 3000);
	assert_int_equal(h->emits, 2); /* 2 x 1024, the rest still in the batch */
	assert_int_equal(h->batch.n, 3000 - 2048);
	assert_int_equal(h_stats(h, 0, 5).seq_gaps, 0);
	h_free(h);
}

static void unknown_version_and_allow_list(void **state)
{
	char err[256];
	const char list[] = "192.0.2.0/24\n";
	struct allow_list *al = allow_list_parse("allow", list, sizeof(list) - 1, err, sizeof(err));
	struct decode_limits l;
	struct pkt p;

	assert_non_null(al);
	decode_limits_default(&l);
	l.allow = al;
	struct harness *h = h_new(&l);

	nf5_packet(&p, 1, 1, 0, 0, 0, 0);
	assert_int_equal(h_feed(h, &p), 1); /* 192.0.2.1 is allowed */
	put_u16(p.b, 6);
	assert_int_equal(h_feed(h, &p), -1);
	put_u16(p.b, 5);
	wip_parse(&h->ctx.src, "198.51.100.1");
	assert_int_equal(h_feed(h, &p), -1);
	assert_int_equal(h_exporters(h), 1); /* the refused sender has no state */

	struct exporter_stats g = h_stats(h, 0, 0);
	assert_int_equal(g.drops[DROP_NOT_ALLOWED], 1);
	assert_int_equal(g.drops[DROP_BAD_VERSION], 1);
	/* the known exporter's junk is also counted on it */
	assert_int_equal(h_stats(h, 0, 5).drops[DROP_BAD_VERSION], 1);
	h_free(h);
	allow_list_free(al);
}

static void exporter_limit(void **state)
{
	struct decode_limits l;
	struct pkt p;

	decode_limits_default(&l);
	l.max_exporters = 2;
	struct harness *h = h_new(&l);
	nf5_packet(&p, 1, 1, 0, 0, 0, 0);
	for (int i = 0; i < 5; i++) {
		char a[32];
		snprintf(a, sizeof(a), "203.0.113.%d", i + 1);
		wip_parse(&h->ctx.src, a);
		h_feed(h, &p);
	}
	assert_int_equal(h_exporters(h), 2);
	assert_int_equal(h_stats(h, 0, 0).drops[DROP_EXPORTER_LIMIT], 3);

	/* an exporter silent for over an hour makes room for a new one */
	h->ctx.now_ms += 2 * 3600 * 1000;
	wip_parse(&h->ctx.src, "203.0.113.99");
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h_exporters(h), 2);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(decodes_every_field),
	    cmocka_unit_test(sampling_from_header),
	    cmocka_unit_test(time_new_keeps_exporter_times),
	    cmocka_unit_test(truncated_header_creates_no_exporter),
	    cmocka_unit_test(count_that_lies_is_dropped),
	    cmocka_unit_test(sequence_gaps_and_resets),
	    cmocka_unit_test(engines_are_separate_exporters),
	    cmocka_unit_test(full_batches_are_emitted),
	    cmocka_unit_test(unknown_version_and_allow_list),
	    cmocka_unit_test(exporter_limit),
	};
	log_setup(LL_ERR, stderr, false, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
