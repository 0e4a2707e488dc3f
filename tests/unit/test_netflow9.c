/* test_netflow9.c - NetFlow v9: templates, options, sampling, holding, limits, persistence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "decode_helpers.h"
#include "lib/log.h"

#define SECS   1700000000u
#define UPTIME 500000u

/* T1: src, dst, sport, dport, proto, bytes, packets, first, last, in, out: 33 bytes. */
static const uint16_t t1[] = {8, 4, 12, 4,  7, 2,  11, 2,  4, 1,  1,
                              4, 2, 4,  22, 4, 21, 4,  10, 2, 14, 2};
#define T1_N   (sizeof(t1) / sizeof(t1[0]) / 2)
#define T1_LEN 33

static void v9_template(struct pkt *p, uint16_t id, const uint16_t *f, size_t n)
{
	size_t s = set_begin(p, 0);
	p_u16(p, id);
	p_u16(p, (uint16_t)n);
	for (size_t i = 0; i < 2 * n; i++)
		p_u16(p, f[i]);
	set_end(p, s);
}

/* An options template: scope and option (type, len) pairs. */
static void v9_options(struct pkt *p, uint16_t id, const uint16_t *scope, size_t ns,
                       const uint16_t *opt, size_t no)
{
	size_t s = set_begin(p, 1);
	p_u16(p, id);
	p_u16(p, (uint16_t)(ns * 4));
	p_u16(p, (uint16_t)(no * 4));
	for (size_t i = 0; i < 2 * ns; i++)
		p_u16(p, scope[i]);
	for (size_t i = 0; i < 2 * no; i++)
		p_u16(p, opt[i]);
	p_zero(p, 2); /* pads the flowset to 4 bytes */
	set_end(p, s);
}

static void t1_record(struct pkt *p, int i)
{
	p_v4(p, "10.1.1.1");
	p->b[p->n - 1] = (uint8_t)(i + 1);
	p_v4(p, "10.2.2.2");
	p_u16(p, 1000);
	p_u16(p, 443);
	p_u8(p, 6);
	p_u32(p, 1500 + i);
	p_u32(p, 3 + i);
	p_u32(p, UPTIME - 20000);
	p_u32(p, UPTIME - 5000);
	p_u16(p, 7);
	p_u16(p, 8);
}

static void t1_data(struct pkt *p, uint16_t id, int records, size_t pad)
{
	size_t s = set_begin(p, id);
	for (int i = 0; i < records; i++)
		t1_record(p, i);
	p_zero(p, pad);
	set_end(p, s);
}

static struct harness *fresh(void)
{
	return h_new(NULL);
}

static void template_and_data(void **state)
{
	struct harness *h = fresh();
	struct pkt p;
	char buf[WIP_STRLEN];

	nf9_header(&p, UPTIME, SECS, 1, 42);
	v9_template(&p, 256, t1, T1_N);
	t1_data(&p, 256, 2, 2);
	assert_int_equal(h_feed(h, &p), 2);
	assert_int_equal(h->n_out, 2);

	const struct flow *f = &h->out[1];
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "10.1.1.2");
	assert_string_equal(wip_str(&f->dst, buf, sizeof(buf)), "10.2.2.2");
	assert_int_equal(f->src_port, 1000);
	assert_int_equal(f->dst_port, 443);
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->bytes, 1501);
	assert_int_equal(f->packets, 4);
	assert_int_equal(f->in_if, 7);
	assert_int_equal(f->out_if, 8);
	assert_int_equal(f->ip_version, 4);
	assert_int_equal(f->domain, 42);
	assert_int_equal(f->export_seq, 1);
	assert_int_equal(f->export_version, 9);
	assert_int_equal(f->template_id, 256);
	assert_int_equal(f->flows, 1);
	assert_int_equal(f->first_ms, SECS * 1000ull - 20000);
	assert_int_equal(f->last_ms, SECS * 1000ull - 5000);
	assert_true(FLOW_HAS(f, FF_SRC_ADDR) && FLOW_HAS(f, FF_BYTES) && FLOW_HAS(f, FF_FIRST));
	assert_false(FLOW_HAS(f, FF_SAMPLING) || FLOW_HAS(f, FF_MPLS) || FLOW_HAS(f, FF_VLAN));
	assert_int_equal(f->present >> FF_COUNT, 0);

	struct exporter_stats s = h_stats(h, 42, 9);
	assert_int_equal(s.templates, 1);
	assert_int_equal(s.records, 2);
	/* the same template again is a refresh, not a redefinition */
	nf9_header(&p, UPTIME, SECS, 2, 42);
	v9_template(&p, 256, t1, T1_N);
	h_feed(h, &p);
	assert_int_equal(h_stats(h, 42, 9).templates, 1);
	h_free(h);
}

static void uptime_wraps(void **state)
{
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, 1000, SECS, 1, 0);
	v9_template(&p, 256, t1, T1_N);
	size_t s = set_begin(&p, 256);
	t1_record(&p, 0);
	put_u32(p.b + p.n - 12, 0xffffff00u); /* first: 256 ms before the counter wrapped */
	put_u32(p.b + p.n - 8, 900);
	set_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->out[0].first_ms, SECS * 1000ull - 1256);
	assert_int_equal(h->out[0].last_ms, SECS * 1000ull - 100);
	h_free(h);
}

static void data_before_template_is_held(void **state)
{
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	t1_data(&p, 256, 3, 0);
	assert_int_equal(h_feed(h, &p), 0);
	assert_int_equal(h->n_out, 0);
	assert_int_equal(h_stats(h, 0, 9).held, 1);

	nf9_header(&p, UPTIME + 1000, SECS + 1, 2, 0);
	v9_template(&p, 256, t1, T1_N);
	assert_int_equal(h_feed(h, &p), 3);
	assert_int_equal(h->n_out, 3);
	/* decoded with the header of the datagram that carried them */
	assert_int_equal(h->out[0].export_seq, 1);
	assert_int_equal(h->out[0].first_ms, SECS * 1000ull - 20000);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_NO_TEMPLATE], 0);
	h_free(h);
}

static void template_after_data_in_one_datagram(void **state)
{
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	t1_data(&p, 256, 2, 0);
	v9_template(&p, 256, t1, T1_N);
	assert_int_equal(h_feed(h, &p), 2);
	assert_int_equal(h->n_out, 2);
	h_free(h);
}

static void hold_bounds(void **state)
{
	struct decode_limits l;
	struct pkt p;

	decode_limits_default(&l);
	l.hold_bytes = 150; /* one 2-record set fits (32 + 72 bytes), a second does not */
	struct harness *h = h_new(&l);
	nf9_header(&p, UPTIME, SECS, 1, 0);
	t1_data(&p, 256, 2, 0);
	h_feed(h, &p);
	h_feed(h, &p);
	struct exporter_stats s = h_stats(h, 0, 9);
	assert_int_equal(s.held, 1);
	assert_int_equal(s.drops[DROP_HOLD_LIMIT], 1);

	/* held longer than hold_ms: dropped as no template, the template then finds nothing */
	decode_expire(h->st, h->ctx.now_ms + l.hold_ms + 1);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_NO_TEMPLATE], 1);
	nf9_header(&p, UPTIME, SECS, 3, 0);
	v9_template(&p, 256, t1, T1_N);
	assert_int_equal(h_feed(h, &p), 0);
	assert_int_equal(h->n_out, 0);
	h_free(h);

	/* expiry also happens when the next set is held */
	decode_limits_default(&l);
	h = h_new(&l);
	nf9_header(&p, UPTIME, SECS, 1, 0);
	t1_data(&p, 256, 2, 0);
	h_feed(h, &p);
	h->ctx.now_ms += l.hold_ms;
	h_feed(h, &p);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_NO_TEMPLATE], 1);
	decode_expire(h->st, UINT64_MAX); /* everything still held goes */
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_NO_TEMPLATE], 2);
	h_free(h);

	/* at most 256 sets per exporter, however small */
	h = fresh();
	for (int i = 0; i < 300; i++) {
		nf9_header(&p, UPTIME, SECS, (uint32_t)i, 0);
		t1_data(&p, (uint16_t)(256 + i % 4), 1, 0);
		h_feed(h, &p);
	}
	assert_int_equal(h_stats(h, 0, 9).held, 256);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_HOLD_LIMIT], 44);
	nf9_header(&p, UPTIME, SECS, 300, 0);
	v9_template(&p, 257, t1, T1_N); /* releases only its own sets */
	assert_int_equal(h_feed(h, &p), 64);
	h_free(h);

	/* holding disabled */
	decode_limits_default(&l);
	l.hold_bytes = 0;
	h = h_new(&l);
	nf9_header(&p, UPTIME, SECS, 1, 0);
	t1_data(&p, 256, 2, 0);
	h_feed(h, &p);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_NO_TEMPLATE], 1);
	h_free(h);
}

static void options_set_default_sampling(void **state)
{
	static const uint16_t scope[] = {2, 4};       /* interface */
	static const uint16_t opt[] = {34, 4, 35, 1}; /* interval, algorithm */
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	v9_options(&p, 300, scope, 1, opt, 2);
	size_t s = set_begin(&p, 300);
	p_u32(&p, 1);
	p_u32(&p, 100);
	p_u8(&p, 2);
	p_zero(&p, 3);
	set_end(&p, s);
	v9_template(&p, 256, t1, T1_N);
	t1_data(&p, 256, 1, 0);
	assert_int_equal(h_feed(h, &p), 1); /* options records are not emitted by default */
	assert_int_equal(h->out[0].sampling_rate, 100);
	assert_true(FLOW_HAS(&h->out[0], FF_SAMPLING));
	assert_int_equal(h_stats(h, 0, 9).option_records, 1);

	h_reset_out(h);
	h->ctx.want_options = true;
	assert_int_equal(h_feed(h, &p), 2);
	const struct flow *o = &h->out[0];
	assert_int_equal(o->event, FLOW_EV_OPTION);
	assert_int_equal(o->template_id, 300);
	assert_int_equal(o->in_if, 1);
	assert_true(FLOW_HAS(o, FF_IN_IF));
	assert_int_equal(o->sampling_rate, 100);
	assert_int_equal(o->sampling_algo, 2);
	assert_int_equal(h->out[1].event, FLOW_EV_FLOW);
	h_free(h);
}

static void sampler_ids(void **state)
{
	static const uint16_t scope[] = {1, 4};              /* system */
	static const uint16_t opt[] = {48, 2, 49, 1, 50, 4}; /* sampler id, mode, interval */
	static const uint16_t tmpl[] = {8, 4, 1, 4, 48, 1};
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	v9_options(&p, 300, scope, 1, opt, 3);
	size_t s = set_begin(&p, 300);
	for (uint16_t id = 5; id <= 6; id++) {
		p_u32(&p, 0);
		p_u16(&p, id);
		p_u8(&p, 2);
		p_u32(&p, id == 5 ? 10 : 1000);
	}
	set_end(&p, s);
	v9_template(&p, 257, tmpl, 3);
	s = set_begin(&p, 257);
	for (uint8_t id = 5; id <= 7; id++) {
		p_v4(&p, "10.0.0.1");
		p_u32(&p, 100);
		p_u8(&p, id);
	}
	set_end(&p, s);
	assert_int_equal(h_feed(h, &p), 3);
	assert_int_equal(h->out[0].sampler_id, 5);
	assert_int_equal(h->out[0].sampling_rate, 10);
	assert_int_equal(h->out[1].sampling_rate, 1000);
	assert_true(FLOW_HAS(&h->out[2], FF_SAMPLER_ID));
	assert_false(FLOW_HAS(&h->out[2], FF_SAMPLING)); /* unknown sampler: rate unknown */
	assert_int_equal(h->out[2].sampling_rate, 0);
	h_free(h);
}

static void bad_templates(void **state)
{
	struct harness *h = fresh();
	struct pkt p;
	size_t s;

	/* zero fields, then too many (600 > 512), then a good one: the set goes on */
	nf9_header(&p, UPTIME, SECS, 1, 0);
	s = set_begin(&p, 0);
	p_u16(&p, 256);
	p_u16(&p, 0);
	p_u16(&p, 257);
	p_u16(&p, 600);
	for (int i = 0; i < 600; i++) {
		p_u16(&p, 1);
		p_u16(&p, 4);
	}
	p_u16(&p, 258);
	p_u16(&p, (uint16_t)T1_N);
	for (size_t i = 0; i < 2 * T1_N; i++)
		p_u16(&p, t1[i]);
	set_end(&p, s);
	t1_data(&p, 258, 1, 0);
	assert_int_equal(h_feed(h, &p), 1);
	struct exporter_stats st = h_stats(h, 0, 9);
	assert_int_equal(st.drops[DROP_BAD_TEMPLATE], 2);
	assert_int_equal(st.templates, 1);

	/* a record longer than any set, and a v9 field of length 65535 */
	static const uint16_t huge[] = {1, 65000, 2, 1000};
	static const uint16_t ff[] = {1, 4, 82, 65535};
	nf9_header(&p, UPTIME, SECS, 2, 0);
	v9_template(&p, 259, huge, 2);
	v9_template(&p, 260, ff, 2);
	h_feed(h, &p);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_BAD_TEMPLATE], 4);

	/* a field count that runs past the flowset */
	nf9_header(&p, UPTIME, SECS, 3, 0);
	s = set_begin(&p, 0);
	p_u16(&p, 261);
	p_u16(&p, 100);
	p_u16(&p, 8);
	p_u16(&p, 4);
	set_end(&p, s);
	h_feed(h, &p);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_BAD_LENGTH], 1);
	h_free(h);
}

static void bad_flowsets(void **state)
{
	struct harness *h = fresh();
	struct pkt p;

	/* a good data set, then one shorter than its own header: records so far are kept */
	nf9_header(&p, UPTIME, SECS, 1, 0);
	v9_template(&p, 256, t1, T1_N);
	t1_data(&p, 256, 1, 0);
	p_u16(&p, 256);
	p_u16(&p, 2);
	p_zero(&p, 8);
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_BAD_SET], 1);

	/* a flowset length beyond the datagram */
	nf9_header(&p, UPTIME, SECS, 2, 0);
	p_u16(&p, 256);
	p_u16(&p, 400);
	t1_record(&p, 0);
	assert_int_equal(h_feed(h, &p), -1);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_BAD_LENGTH], 1);

	/* reserved flowset ids are skipped; a data set shorter than a record yields nothing */
	nf9_header(&p, UPTIME, SECS, 3, 0);
	size_t s = set_begin(&p, 77);
	p_zero(&p, 12);
	set_end(&p, s);
	s = set_begin(&p, 256);
	p_zero(&p, T1_LEN - 1);
	set_end(&p, s);
	assert_int_equal(h_feed(h, &p), 0);
	h_free(h);
}

static void bad_options_templates(void **state)
{
	struct harness *h = fresh();
	struct pkt p;
	size_t s;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	s = set_begin(&p, 1);
	p_u16(&p, 300);
	p_u16(&p, 3); /* not a multiple of 4 */
	p_u16(&p, 4);
	p_zero(&p, 8);
	set_end(&p, s);
	s = set_begin(&p, 1);
	p_u16(&p, 301);
	p_u16(&p, 4);
	p_u16(&p, 400); /* beyond the flowset */
	p_zero(&p, 8);
	set_end(&p, s);
	s = set_begin(&p, 1);
	p_u16(&p, 302);
	p_u16(&p, 0);
	p_u16(&p, 0); /* no fields at all */
	p_zero(&p, 2);
	set_end(&p, s);
	h_feed(h, &p);
	struct exporter_stats st = h_stats(h, 0, 9);
	assert_int_equal(st.drops[DROP_BAD_OPTIONS], 2);
	assert_int_equal(st.drops[DROP_BAD_TEMPLATE], 1);
	assert_int_equal(st.templates, 0);
	h_free(h);
}

static void template_flood(void **state)
{
	struct decode_limits l;
	struct pkt p;

	decode_limits_default(&l);
	l.max_templates = 4;
	struct harness *h = h_new(&l);
	nf9_header(&p, UPTIME, SECS, 1, 0);
	for (uint16_t id = 256; id < 262; id++)
		v9_template(&p, id, t1, T1_N);
	h_feed(h, &p);
	struct exporter_stats s = h_stats(h, 0, 9);
	assert_int_equal(s.templates, 4);
	assert_int_equal(s.drops[DROP_TEMPLATE_LIMIT], 2);

	/* redefining one already held is still allowed */
	static const uint16_t other[] = {8, 4, 1, 4};
	nf9_header(&p, UPTIME, SECS, 2, 0);
	v9_template(&p, 256, other, 2);
	h_feed(h, &p);
	assert_int_equal(h_stats(h, 0, 9).templates, 5);
	assert_int_equal(h_stats(h, 0, 9).drops[DROP_TEMPLATE_LIMIT], 2);
	h_free(h);
}

static void keyed_by_address_and_source_id(void **state)
{
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 1);
	v9_template(&p, 256, t1, T1_N);
	h_feed(h, &p);

	nf9_header(&p, UPTIME, SECS, 1, 2); /* other source id: its own templates */
	t1_data(&p, 256, 1, 0);
	assert_int_equal(h_feed(h, &p), 0);

	nf9_header(&p, UPTIME, SECS, 2, 1);
	t1_data(&p, 256, 1, 0);
	wip_parse(&h->ctx.src, "192.0.2.2"); /* other exporter, same source id */
	assert_int_equal(h_feed(h, &p), 0);

	wip_parse(&h->ctx.src, "192.0.2.1");
	h->ctx.src_port = 9999; /* another source port: still the same exporter */
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h_exporters(h), 3);
	h_free(h);
}

static void sequence_gaps(void **state)
{
	struct harness *h = fresh();
	struct pkt p;
	static const uint32_t seqs[] = {10, 11, 15, 16, 3, 4};

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		nf9_header(&p, UPTIME, SECS, seqs[i], 0);
		v9_template(&p, 256, t1, T1_N);
		h_feed(h, &p);
	}
	assert_int_equal(h_stats(h, 0, 9).seq_gaps, 3);
	h_free(h);
}

/* Every mapped element of the table, and the precedence rules between them. */
static void element_mapping(void **state)
{
	static const uint16_t tmpl[] = {
	    27,  16, 28,  16, 62, 16, 63, 16, 24, 4, 23,  4, 81,  6, 57,  6,  243, 2,
	    254, 2,  6,   2,  70, 3,  71, 3,  72, 3, 16,  2, 17,  4, 9,   1,  13,  1,
	    61,  1,  89,  1,  5,  1,  60, 1,  3,  4, 136, 1, 148, 8, 281, 16, 228, 2,
	    176, 1,  177, 1,  38, 1,  39, 1,  34, 4, 22,  4, 21,  4, 55,  1,  200, 3};
	struct harness *h = fresh();
	struct pkt p;
	char buf[WIP_STRLEN];

	nf9_header(&p, UPTIME, SECS, 1, 0);
	v9_template(&p, 256, tmpl, sizeof(tmpl) / sizeof(tmpl[0]) / 2);
	size_t s = set_begin(&p, 256);
	p_v6(&p, "2001:db8::1");
	p_v6(&p, "2001:db8::2");
	p_v6(&p, "2001:db8::fe");
	p_v6(&p, "2001:db8::bb");
	p_u32(&p, 9);    /* out packets */
	p_u32(&p, 9000); /* out bytes */
	p_bytes(&p, "\x02\x00\x00\x00\x00\x01", 6);
	p_bytes(&p, "\x02\x00\x00\x00\x00\x02", 6);
	p_u16(&p, 100);
	p_u16(&p, 200);
	p_u16(&p, 0x0112);              /* 2-byte TCP flags: the low 8 bits */
	p_bytes(&p, "\x01\x00\x10", 3); /* label 4096, not bottom */
	p_bytes(&p, "\x00\x20\x01", 3); /* label 2, bottom of stack */
	p_bytes(&p, "\x00\x00\x00", 3);
	p_u16(&p, 64512);
	p_u32(&p, 4200000000u);
	p_u8(&p, 48);
	p_u8(&p, 64);
	p_u8(&p, 1);
	p_u8(&p, 0x40);
	p_u8(&p, 0xb8);
	p_u8(&p, 6);
	p_u32(&p, 3);
	p_u8(&p, 2);
	p_u64(&p, 0x1122334455667788ull);
	p_v6(&p, "2001:db8::99");
	p_u16(&p, 8080);
	p_u8(&p, 3);
	p_u8(&p, 10);
	p_u8(&p, 1);
	p_u8(&p, 9);
	p_u32(&p, 512);
	p_u32(&p, UPTIME - 1000);
	p_u32(&p, UPTIME);
	p_u8(&p, 0xff);
	p_zero(&p, 3);
	set_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);

	const struct flow *f = &h->out[0];
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "2001:db8::1");
	assert_string_equal(wip_str(&f->dst, buf, sizeof(buf)), "2001:db8::2");
	assert_string_equal(wip_str(&f->nexthop, buf, sizeof(buf)), "2001:db8::fe");
	assert_string_equal(wip_str(&f->bgp_nexthop, buf, sizeof(buf)), "2001:db8::bb");
	assert_string_equal(wip_str(&f->post_nat_src, buf, sizeof(buf)), "2001:db8::99");
	assert_int_equal(f->bytes, 9000); /* post counters stand in when 1/2 are absent */
	assert_int_equal(f->packets, 9);
	assert_int_equal(f->src_mac[5], 1); /* postSource stands in for the source MAC */
	assert_int_equal(f->dst_mac[5], 2);
	assert_int_equal(f->vlan, 100);
	assert_int_equal(f->out_vlan, 200);
	assert_int_equal(f->tcp_flags, 0x12);
	assert_int_equal(f->mpls[0], 0x010010);
	assert_int_equal(f->mpls[1], 0x002001);
	assert_int_equal(f->mpls_depth, 2);
	assert_int_equal(f->src_as, 64512);
	assert_int_equal(f->dst_as, 4200000000u);
	assert_int_equal(f->src_mask, 48);
	assert_int_equal(f->dst_mask, 64);
	assert_int_equal(f->direction, 1);
	assert_int_equal(f->fwd_status, 0x40);
	assert_int_equal(f->tos, 0xb8);
	assert_int_equal(f->ip_version, 6);
	assert_int_equal(f->flows, 3);
	assert_int_equal(f->end_reason, 2);
	assert_int_equal(f->flow_id, 0x1122334455667788ull);
	assert_int_equal(f->post_nat_dst_port, 8080);
	assert_int_equal(f->icmp, 3 << 8 | 10);
	assert_int_equal(f->engine_type, 1);
	assert_int_equal(f->engine_id, 9);
	assert_int_equal(f->sampling_rate, 512);
	assert_int_equal(f->first_ms, SECS * 1000ull - 1000);
	assert_int_equal(f->last_ms, SECS * 1000ull);
	static const int bits[] = {
	    FF_SRC_ADDR,   FF_DST_ADDR,     FF_NEXTHOP,           FF_BGP_NEXTHOP,
	    FF_SRC_MASK,   FF_DST_MASK,     FF_TCP_FLAGS,         FF_TOS,
	    FF_SRC_AS,     FF_DST_AS,       FF_DIRECTION,         FF_VLAN,
	    FF_OUT_VLAN,   FF_SRC_MAC,      FF_DST_MAC,           FF_MPLS,
	    FF_FWD_STATUS, FF_ICMP,         FF_SAMPLING,          FF_END_REASON,
	    FF_FLOW_ID,    FF_POST_NAT_SRC, FF_POST_NAT_DST_PORT, FF_FIRST,
	    FF_LAST,       FF_BYTES,        FF_PACKETS,           FF_FLOWS,
	    FF_ENGINE};
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		assert_true(FLOW_HAS(f, bits[i]));
	assert_false(FLOW_HAS(f, FF_SRC_PORT) || FLOW_HAS(f, FF_IN_IF) || FLOW_HAS(f, FF_PROTO));
	assert_false(FLOW_HAS(f, FF_POST_NAT_DST) || FLOW_HAS(f, FF_REV_COUNTERS));
	h_free(h);
}

static void counter_precedence(void **state)
{
	/* delta (1) beats total (85) beats post (23); direct MACs beat post MACs */
	static const uint16_t a[] = {23, 4, 85, 8, 1, 4, 81, 6, 56, 6, 80, 6, 57, 6, 58, 2, 243, 2};
	static const uint16_t b[] = {23, 4, 85, 8, 2, 2, 86, 1};
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	v9_template(&p, 256, a, sizeof(a) / sizeof(a[0]) / 2);
	v9_template(&p, 257, b, sizeof(b) / sizeof(b[0]) / 2);
	size_t s = set_begin(&p, 256);
	p_u32(&p, 1);
	p_u64(&p, 2);
	p_u32(&p, 3);
	p_bytes(&p, "\x00\x00\x00\x00\x00\x81", 6);
	p_bytes(&p, "\x00\x00\x00\x00\x00\x56", 6);
	p_bytes(&p, "\x00\x00\x00\x00\x00\x80", 6);
	p_bytes(&p, "\x00\x00\x00\x00\x00\x57", 6);
	p_u16(&p, 10);
	p_u16(&p, 20);
	set_end(&p, s);
	s = set_begin(&p, 257);
	p_u32(&p, 1);
	p_u64(&p, 2);
	p_u16(&p, 3); /* 2-byte packet delta: reduced-size encoding */
	p_u8(&p, 4);
	p_zero(&p, 1);
	set_end(&p, s);
	assert_int_equal(h_feed(h, &p), 2);
	assert_int_equal(h->out[0].bytes, 3);
	assert_int_equal(h->out[0].src_mac[5], 0x56);
	assert_int_equal(h->out[0].dst_mac[5], 0x80);
	assert_int_equal(h->out[0].vlan, 10);
	assert_int_equal(h->out[1].bytes, 2);
	assert_int_equal(h->out[1].packets, 3);
	h_free(h);
}

static void padding_is_not_an_error(void **state)
{
	static const uint16_t scope[] = {2, 4};
	static const uint16_t opt[] = {34, 4};
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	size_t s = set_begin(&p, 0);
	p_u16(&p, 256);
	p_u16(&p, (uint16_t)T1_N);
	for (size_t i = 0; i < 2 * T1_N; i++)
		p_u16(&p, t1[i]);
	p_zero(&p, 4);
	set_end(&p, s);
	v9_options(&p, 300, scope, 1, opt, 1);
	t1_data(&p, 256, 2, 3);
	p_zero(&p, 2); /* trailing bytes after the last flowset */
	assert_int_equal(h_feed(h, &p), 2);
	struct exporter_stats st = h_stats(h, 0, 9);
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		assert_int_equal(st.drops[r], 0);
	assert_int_equal(st.templates, 2);
	h_free(h);
}

static void templates_survive_a_restart(void **state)
{
	static const uint16_t scope[] = {2, 4};
	static const uint16_t opt[] = {34, 4};
	char path[] = "/tmp/weir-test-templates-XXXXXX";
	int fd = mkstemp(path);
	struct harness *h = fresh();
	struct pkt p;

	assert_true(fd >= 0);
	close(fd);
	nf9_header(&p, UPTIME, SECS, 1, 7);
	v9_template(&p, 256, t1, T1_N);
	v9_options(&p, 300, scope, 1, opt, 1);
	h_feed(h, &p);
	assert_int_equal(decode_templates_save(h->st, path), 0);
	h_free(h);

	h = fresh();
	assert_int_equal(decode_templates_load(h->st, path), 0);
	nf9_header(&p, UPTIME, SECS, 2, 7);
	size_t s = set_begin(&p, 300);
	p_u32(&p, 1);
	p_u32(&p, 50);
	set_end(&p, s);
	t1_data(&p, 256, 2, 0);
	assert_int_equal(h_feed(h, &p), 2); /* decoded at once, nothing held */
	assert_int_equal(h->out[0].sampling_rate, 50);
	assert_int_equal(h->out[1].bytes, 1501);
	assert_int_equal(h_stats(h, 7, 9).held, 0);
	h_free(h);

	/* a damaged line is reported, the good ones still load */
	FILE *f = fopen(path, "a");
	fputs("192.0.2.1 7 9 data 999 0 5 8/0/4\n", f);
	fclose(f);
	h = fresh();
	assert_int_equal(decode_templates_load(h->st, path), -1);
	nf9_header(&p, UPTIME, SECS, 2, 7);
	t1_data(&p, 256, 1, 0);
	assert_int_equal(h_feed(h, &p), 1);
	h_free(h);
	unlink(path);
	h = fresh();
	assert_int_equal(decode_templates_load(h->st, "/nonexistent/weir"), -1);
	h_free(h);
}

static void every_truncation_is_safe(void **state)
{
	static const uint16_t scope[] = {2, 4};
	static const uint16_t opt[] = {34, 4};
	struct harness *h = fresh();
	struct pkt p;

	nf9_header(&p, UPTIME, SECS, 1, 0);
	v9_template(&p, 256, t1, T1_N);
	v9_options(&p, 300, scope, 1, opt, 1);
	t1_data(&p, 256, 3, 0);
	size_t full = p.n;
	for (size_t n = 0; n <= full; n++) {
		struct harness *x = fresh();
		p.n = n;
		int r = h_feed(x, &p);
		assert_true(r <= 3);
		assert_true(x->n_out <= 3);
		h_free(x);
	}
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(template_and_data),
	    cmocka_unit_test(uptime_wraps),
	    cmocka_unit_test(data_before_template_is_held),
	    cmocka_unit_test(template_after_data_in_one_datagram),
	    cmocka_unit_test(hold_bounds),
	    cmocka_unit_test(options_set_default_sampling),
	    cmocka_unit_test(sampler_ids),
	    cmocka_unit_test(bad_templates),
	    cmocka_unit_test(bad_flowsets),
	    cmocka_unit_test(bad_options_templates),
	    cmocka_unit_test(template_flood),
	    cmocka_unit_test(keyed_by_address_and_source_id),
	    cmocka_unit_test(sequence_gaps),
	    cmocka_unit_test(element_mapping),
	    cmocka_unit_test(counter_precedence),
	    cmocka_unit_test(padding_is_not_an_error),
	    cmocka_unit_test(templates_survive_a_restart),
	    cmocka_unit_test(every_truncation_is_safe),
	};
	log_setup(LL_ERR, stderr, false, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
