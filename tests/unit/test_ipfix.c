/* test_ipfix.c - IPFIX: templates, withdrawal, variable length, enterprise IEs, times, sampling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "decode_helpers.h"
#include "lib/log.h"

#define EXPORT  1700000000u
#define NTP_OFF 2208988800ull
#define VAR     0xffff

struct tf {
	uint16_t id, len;
	uint32_t pen;
};

static void ix_field(struct pkt *p, const struct tf *f)
{
	p_u16(p, (uint16_t)(f->id | (f->pen ? 0x8000 : 0)));
	p_u16(p, f->len);
	if (f->pen)
		p_u32(p, f->pen);
}

static void ix_template(struct pkt *p, uint16_t id, const struct tf *f, size_t n)
{
	size_t s = set_begin(p, 2);
	p_u16(p, id);
	p_u16(p, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		ix_field(p, &f[i]);
	set_end(p, s);
}

static void ix_options(struct pkt *p, uint16_t id, uint16_t scope, const struct tf *f, size_t n)
{
	size_t s = set_begin(p, 3);
	p_u16(p, id);
	p_u16(p, (uint16_t)n);
	p_u16(p, scope);
	for (size_t i = 0; i < n; i++)
		ix_field(p, &f[i]);
	set_end(p, s);
}

/* A template withdrawal record (RFC 7011 §8.1) in a set of its own. */
static void ix_withdraw(struct pkt *p, uint16_t set_id, uint16_t id)
{
	size_t s = set_begin(p, set_id);
	p_u16(p, id);
	p_u16(p, 0);
	set_end(p, s);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* T: src6, dst6, sport, dport, proto, bytes(8), packets(8), start/end ms: 69 bytes. */
static const struct tf t6[] = {{27, 16, 0}, {28, 16, 0}, {7, 2, 0},   {11, 2, 0}, {4, 1, 0},
                               {1, 8, 0},   {2, 8, 0},   {152, 8, 0}, {153, 8, 0}};

static void t6_record(struct pkt *p, int i)
{
	p_v6(p, "2001:db8::1");
	p_v6(p, "2001:db8::2");
	p_u16(p, (uint16_t)(5000 + i));
	p_u16(p, 53);
	p_u8(p, 17);
	p_u64(p, 100 + (uint64_t)i);
	p_u64(p, 1);
	p_u64(p, 1700000000123ull);
	p_u64(p, 1700000000456ull);
}

static void t6_data(struct pkt *p, uint16_t id, int n)
{
	size_t s = set_begin(p, id);
	for (int i = 0; i < n; i++)
		t6_record(p, i);
	set_end(p, s);
}

static void template_and_data(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	char buf[WIP_STRLEN];

	ipfix_header(&p, EXPORT, 0, 99);
	ix_template(&p, 256, t6, N(t6));
	t6_data(&p, 256, 2);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 2);
	const struct flow *f = &h->out[1];
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "2001:db8::1");
	assert_int_equal(f->src_port, 5001);
	assert_int_equal(f->dst_port, 53);
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->bytes, 101);
	assert_int_equal(f->packets, 1);
	assert_int_equal(f->first_ms, 1700000000123ull);
	assert_int_equal(f->last_ms, 1700000000456ull);
	assert_int_equal(f->ip_version, 6);
	assert_int_equal(f->domain, 99);
	assert_int_equal(f->export_version, 10);
	assert_int_equal(f->template_id, 256);
	assert_int_equal(h_stats(h, 99, 10).records, 2);
	h_free(h);
}

static void message_lengths(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, 256, t6, N(t6));
	t6_data(&p, 256, 1);
	ipfix_end(&p);
	p_zero(&p, 7); /* bytes past the message length are not part of it */
	assert_int_equal(h_feed(h, &p), 1);

	put_u16(p.b + 2, 12); /* shorter than the header */
	assert_int_equal(h_feed(h, &p), -1);
	put_u16(p.b + 2, (uint16_t)(p.n + 1)); /* longer than the datagram */
	assert_int_equal(h_feed(h, &p), -1);
	struct exporter_stats g = h_stats(h, 0, 0);
	assert_int_equal(g.drops[DROP_BAD_LENGTH], 1);
	assert_int_equal(g.drops[DROP_TRUNCATED], 1);
	h_free(h);
}

static void variable_length_fields(void **state)
{
	static const struct tf t[] = {
	    {8, 4, 0}, {82, VAR, 0}, {7, 2, 0}, {3, VAR, 43874}, {11, 2, 0}};
	struct harness *h = h_new(NULL);
	struct pkt p;
	char name[300];

	memset(name, 'x', sizeof(name));
	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, 256, t, N(t));
	size_t s = set_begin(&p, 256);
	/* 1-byte length form */
	p_v4(&p, "10.0.0.1");
	p_u8(&p, 5);
	p_bytes(&p, "eth0\0", 5);
	p_u16(&p, 1111);
	p_u8(&p, 0);
	p_u16(&p, 2222);
	/* 3-byte form: 255 then a 2-byte length */
	p_v4(&p, "10.0.0.2");
	p_u8(&p, 255);
	p_u16(&p, 300);
	p_bytes(&p, name, 300);
	p_u16(&p, 3333);
	p_u8(&p, 255);
	p_u16(&p, 3);
	p_bytes(&p, "dns", 3);
	p_u16(&p, 4444);
	/* a length running past the set */
	p_v4(&p, "10.0.0.3");
	p_u8(&p, 200);
	p_zero(&p, 10);
	set_end(&p, s);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 2);
	assert_int_equal(h->out[0].src_port, 1111);
	assert_int_equal(h->out[0].dst_port, 2222);
	assert_int_equal(h->out[1].src_port, 3333);
	assert_int_equal(h->out[1].dst_port, 4444);
	assert_int_equal(wip_v4(&h->out[1].src), 0x0a000002);
	assert_int_equal(h_stats(h, 1, 10).drops[DROP_RECORD_OVERFLOW], 1);
	h_free(h);
}

static void enterprise_fields(void **state)
{
	static const struct tf t[] = {{1, 4, 0},   {2, 4, 0},     {1, 8, 29305}, {2, 8, 29305},
	                              {100, 4, 9}, {5, 1, 29305}, {1, 4, 12345}, {0x7fff, 2, 9999}};
	struct harness *h = h_new(NULL);
	struct pkt p;

	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, 256, t, N(t));
	size_t s = set_begin(&p, 256);
	p_u32(&p, 1000);
	p_u32(&p, 10);
	p_u64(&p, 7000);
	p_u64(&p, 70);
	p_u32(&p, 0xdeadbeef);
	p_u8(&p, 0xb8);
	p_u32(&p, 123456);
	p_u16(&p, 1);
	set_end(&p, s);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 1);
	const struct flow *f = &h->out[0];
	assert_int_equal(f->bytes, 1000); /* an enterprise IE 1 is not octetDeltaCount */
	assert_int_equal(f->packets, 10);
	assert_int_equal(f->rev_bytes, 7000);
	assert_int_equal(f->rev_packets, 70);
	assert_true(FLOW_HAS(f, FF_REV_COUNTERS));
	assert_false(FLOW_HAS(f, FF_TOS)); /* reverse TOS is not the forward one */
	h_free(h);
}

static void withdrawals(void **state)
{
	static const struct tf opt[] = {{143, 4, 0}, {34, 4, 0}};
	struct harness *h = h_new(NULL);
	struct pkt p;

	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, 256, t6, N(t6));
	ix_template(&p, 257, t6, N(t6));
	ix_options(&p, 300, 1, opt, N(opt));
	ipfix_end(&p);
	h_feed(h, &p);

	ipfix_header(&p, EXPORT, 0, 1);
	ix_withdraw(&p, 2, 256);
	t6_data(&p, 256, 1);
	t6_data(&p, 257, 1);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 1); /* 256 is gone: its data is held */
	assert_int_equal(h_stats(h, 1, 10).held, 1);

	/* withdraw all data templates: options templates stay */
	ipfix_header(&p, EXPORT, 1, 1);
	ix_withdraw(&p, 2, 2);
	t6_data(&p, 257, 1);
	size_t s = set_begin(&p, 300);
	p_u32(&p, 1);
	p_u32(&p, 10);
	set_end(&p, s);
	ipfix_end(&p);
	h->ctx.want_options = true;
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->out[h->n_out - 1].event, FLOW_EV_OPTION);
	assert_int_equal(h_stats(h, 1, 10).held, 2);

	/* withdraw all options templates */
	ipfix_header(&p, EXPORT, 2, 1);
	ix_withdraw(&p, 3, 3);
	s = set_begin(&p, 300);
	p_u32(&p, 1);
	p_u32(&p, 10);
	set_end(&p, s);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 0);
	assert_int_equal(h_stats(h, 1, 10).held, 3);

	/* withdrawing an id below 256 is an error */
	ipfix_header(&p, EXPORT, 3, 1);
	ix_withdraw(&p, 2, 17);
	ipfix_end(&p);
	h_feed(h, &p);
	assert_int_equal(h_stats(h, 1, 10).drops[DROP_BAD_TEMPLATE], 1);
	h_free(h);
}

static void bad_templates(void **state)
{
	static const struct tf opt[] = {{143, 4, 0}, {34, 4, 0}};
	struct decode_limits l;
	struct pkt p;
	size_t s;

	decode_limits_default(&l);
	l.max_template_fields = 8;
	struct harness *h = h_new(&l);

	ipfix_header(&p, EXPORT, 0, 1);
	ix_options(&p, 300, 0, opt, N(opt)); /* no scope field */
	ix_options(&p, 301, 3, opt, N(opt)); /* more scope fields than fields */
	ix_template(&p, 100, t6, N(t6));     /* a set id, not a template id */
	ix_template(&p, 256, t6, N(t6));     /* 9 fields > 8 */
	ix_template(&p, 257, t6, 5);         /* fine */
	s = set_begin(&p, 2);                /* enterprise bit without the enterprise number */
	p_u16(&p, 258);
	p_u16(&p, 1);
	p_u16(&p, 0x8001);
	p_u16(&p, 4);
	set_end(&p, s);
	s = set_begin(&p, 3); /* options template without its scope count */
	p_u16(&p, 302);
	p_u16(&p, 2);
	set_end(&p, s);
	ipfix_end(&p);
	h_feed(h, &p);
	struct exporter_stats st = h_stats(h, 1, 10);
	assert_int_equal(st.drops[DROP_BAD_OPTIONS], 3);
	assert_int_equal(st.drops[DROP_BAD_TEMPLATE], 2);
	assert_int_equal(st.drops[DROP_BAD_LENGTH], 1);
	assert_int_equal(st.templates, 1);
	h_free(h);
}

static void bad_sets(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, 256, t6, N(t6));
	size_t s = set_begin(&p, 5); /* reserved set id: counted, skipped */
	p_zero(&p, 4);
	set_end(&p, s);
	t6_data(&p, 256, 1);
	p_u16(&p, 256);
	p_u16(&p, 3); /* shorter than a set header */
	p_zero(&p, 4);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 1);
	struct exporter_stats st = h_stats(h, 1, 10);
	assert_int_equal(st.drops[DROP_BAD_SET], 2);

	ipfix_header(&p, EXPORT, 1, 1);
	p_u16(&p, 256);
	p_u16(&p, 200); /* longer than the message */
	t6_record(&p, 0);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), -1);
	assert_int_equal(h_stats(h, 1, 10).drops[DROP_BAD_LENGTH], 1);

	/* several data sets and set padding in one message */
	ipfix_header(&p, EXPORT, 2, 1);
	t6_data(&p, 256, 2);
	s = set_begin(&p, 256);
	t6_record(&p, 5);
	p_zero(&p, 3);
	set_end(&p, s);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 3);
	h_free(h);
}

/* One record of a template holding only time fields; returns the decoded flow. */
static struct flow time_record(struct harness *h, const struct tf *t, size_t n, const void *rec,
                               size_t len)
{
	static uint16_t id = 256;
	struct pkt p;

	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, ++id, t, n);
	size_t s = set_begin(&p, id);
	p_bytes(&p, rec, len);
	set_end(&p, s);
	ipfix_end(&p);
	h_reset_out(h);
	assert_int_equal(h_feed(h, &p), 1);
	return h->out[0];
}

static void timestamps(void **state)
{
	struct harness *h = h_new(NULL);
	uint8_t r[32];
	struct flow f;

	static const struct tf secs[] = {{150, 4, 0}, {151, 4, 0}};
	put_u32(r, 1700000001);
	put_u32(r + 4, 1700000002);
	f = time_record(h, secs, 2, r, 8);
	assert_int_equal(f.first_ms, 1700000001000ull);
	assert_int_equal(f.last_ms, 1700000002000ull);

	/* micro/nanoseconds: NTP timestamps, fraction 0.5 and 0.25 */
	static const struct tf ntp[] = {{154, 8, 0}, {157, 8, 0}};
	put_u32(r, (uint32_t)(1700000000 + NTP_OFF));
	put_u32(r + 4, 0x80000000u);
	put_u32(r + 8, (uint32_t)(1700000003 + NTP_OFF));
	put_u32(r + 12, 0x40000000u);
	f = time_record(h, ntp, 2, r, 16);
	assert_int_equal(f.first_ms, 1700000000500ull);
	assert_int_equal(f.last_ms, 1700000003250ull);
	assert_true(FLOW_HAS(&f, FF_FIRST) && FLOW_HAS(&f, FF_LAST));

	/* exporters that send plain units since 1970 instead */
	put_u64(r, 1700000000123456ull);
	put_u64(r + 8, 1700000000999000000ull);
	f = time_record(h, ntp, 2, r, 16);
	assert_int_equal(f.first_ms, 1700000000123ull);
	assert_int_equal(f.last_ms, 1700000000999ull);

	/* sysUpTime-relative without a known init time: the export time is the last event */
	static const struct tf up[] = {{22, 4, 0}, {21, 4, 0}};
	put_u32(r, 10000);
	put_u32(r + 4, 12500);
	f = time_record(h, up, 2, r, 8);
	assert_int_equal(f.last_ms, EXPORT * 1000ull);
	assert_int_equal(f.first_ms, EXPORT * 1000ull - 2500);

	/* ... with systemInitTimeMilliseconds in the record */
	static const struct tf upi[] = {{160, 8, 0}, {22, 4, 0}, {21, 4, 0}};
	put_u64(r, 1600000000000ull);
	put_u32(r + 8, 10000);
	put_u32(r + 12, 12500);
	f = time_record(h, upi, 3, r, 16);
	assert_int_equal(f.first_ms, 1600000010000ull);
	assert_int_equal(f.last_ms, 1600000012500ull);

	/* ... and learned from an options record, for the records that follow */
	static const struct tf opt[] = {{143, 4, 0}, {160, 8, 0}};
	struct pkt p;
	ipfix_header(&p, EXPORT, 0, 1);
	ix_options(&p, 300, 1, opt, 2);
	size_t s = set_begin(&p, 300);
	p_u32(&p, 1);
	p_u64(&p, 1500000000000ull);
	set_end(&p, s);
	ipfix_end(&p);
	h_feed(h, &p);
	put_u32(r, 10000);
	put_u32(r + 4, 12500);
	f = time_record(h, up, 2, r, 8);
	assert_int_equal(f.first_ms, 1500000010000ull);
	assert_int_equal(f.last_ms, 1500000012500ull);

	/* deltas from the export time, in microseconds */
	static const struct tf delta[] = {{158, 4, 0}, {159, 4, 0}};
	put_u32(r, 3000000);
	put_u32(r + 4, 1000000);
	f = time_record(h, delta, 2, r, 8);
	assert_int_equal(f.first_ms, EXPORT * 1000ull - 3000);
	assert_int_equal(f.last_ms, EXPORT * 1000ull - 1000);
	h_free(h);

	/* nfacctd_time_new: the exporter's times are kept (the aggregation bins by arrival) */
	struct decode_limits l;
	decode_limits_default(&l);
	l.time_new = true;
	h = h_new(&l);
	put_u32(r, 1700000001);
	put_u32(r + 4, 1700000002);
	f = time_record(h, secs, 2, r, 8);
	assert_int_equal(f.first_ms, 1700000001000ull);
	assert_int_equal(f.last_ms, 1700000002000ull);
	h_free(h);
}

static void sampling_options(void **state)
{
	/* Cisco: scope selectorId; random n-out-of-N (RFC 5476 samplingSize/Population) */
	static const struct tf cisco[] = {{302, 4, 0}, {305, 4, 0}, {304, 2, 0},
	                                  {309, 4, 0}, {310, 4, 0}, {335, VAR, 0}};
	static const struct tf data[] = {{8, 4, 0}, {1, 4, 0}, {302, 4, 0}};
	/* softflowd: scope meteringProcessId; systematic count-based interval/space */
	static const struct tf soft[] = {{143, 4, 0}, {305, 4, 0}, {306, 4, 0}};
	static const struct tf plain[] = {{8, 4, 0}, {1, 4, 0}};
	struct harness *h = h_new(NULL);
	struct pkt p;
	size_t s;

	ipfix_header(&p, EXPORT, 0, 1);
	ix_options(&p, 300, 1, cisco, N(cisco));
	s = set_begin(&p, 300);
	p_u32(&p, 1);
	p_u32(&p, 1);
	p_u16(&p, 3);
	p_u32(&p, 1);
	p_u32(&p, 256);
	p_u8(&p, 3);
	p_bytes(&p, "map", 3);
	set_end(&p, s);
	ix_template(&p, 256, data, N(data));
	s = set_begin(&p, 256);
	for (uint32_t id = 1; id <= 2; id++) {
		p_v4(&p, "10.0.0.1");
		p_u32(&p, 100);
		p_u32(&p, id);
	}
	set_end(&p, s);
	ipfix_end(&p);
	h->ctx.want_options = true;
	assert_int_equal(h_feed(h, &p), 3);
	assert_int_equal(h->out[0].event, FLOW_EV_OPTION);
	assert_int_equal(h->out[0].sampler_id, 1);
	assert_int_equal(h->out[0].sampling_rate, 256);
	assert_int_equal(h->out[0].sampling_algo, 3);
	assert_int_equal(h->out[1].sampling_rate, 256);
	assert_true(FLOW_HAS(&h->out[1], FF_SAMPLING));
	assert_false(FLOW_HAS(&h->out[2], FF_SAMPLING)); /* selector 2 is unknown */

	ipfix_header(&p, EXPORT, 3, 2);
	ix_options(&p, 300, 1, soft, N(soft));
	s = set_begin(&p, 300);
	p_u32(&p, 0);
	p_u32(&p, 1);
	p_u32(&p, 9);
	set_end(&p, s);
	ix_template(&p, 256, plain, N(plain));
	s = set_begin(&p, 256);
	p_v4(&p, "10.0.0.1");
	p_u32(&p, 100);
	set_end(&p, s);
	ipfix_end(&p);
	h_reset_out(h);
	assert_int_equal(h_feed(h, &p), 2);
	assert_int_equal(h->out[0].sampling_rate, 10); /* (1 + 9) / 1 */
	assert_false(FLOW_HAS(&h->out[0], FF_SAMPLER_ID));
	assert_int_equal(h->out[1].sampling_rate, 10); /* the domain's default now */
	h_free(h);
}

static void element_mapping(void **state)
{
	static const struct tf t[] = {{8, 4, 0},   {12, 4, 0},  {15, 4, 0},  {18, 4, 0},
	                              {10, 4, 0},  {14, 4, 0},  {176, 1, 0}, {177, 1, 0},
	                              {225, 4, 0}, {226, 4, 0}, {227, 2, 0}, {228, 2, 0},
	                              {89, 4, 0},  {243, 2, 0}, {254, 2, 0}, {86, 4, 0},
	                              {85, 4, 0},  {56, 6, 0},  {80, 6, 0},  {48, 1, 0}};
	struct harness *h = h_new(NULL);
	struct pkt p;
	char buf[WIP_STRLEN];

	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, 256, t, N(t));
	size_t s = set_begin(&p, 256);
	p_v4(&p, "10.0.0.1");
	p_v4(&p, "10.0.0.2");
	p_v4(&p, "10.0.0.254");
	p_v4(&p, "10.0.0.253");
	p_u32(&p, 100000);
	p_u32(&p, 200000);
	p_u8(&p, 8);
	p_u8(&p, 0);
	p_v4(&p, "198.51.100.1");
	p_v4(&p, "198.51.100.2");
	p_u16(&p, 40000);
	p_u16(&p, 40001);
	p_u32(&p, 0xc3); /* forwardingStatus, unsigned32 (RFC 7270): consumed, for us */
	p_u16(&p, 30);
	p_u16(&p, 40);
	p_u32(&p, 77);
	p_u32(&p, 7700);
	p_bytes(&p, "\x00\x11\x22\x33\x44\x55", 6);
	p_bytes(&p, "\x66\x77\x88\x99\xaa\xbb", 6);
	p_u8(&p, 4);
	set_end(&p, s);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 1);
	const struct flow *f = &h->out[0];
	assert_string_equal(wip_str(&f->nexthop, buf, sizeof(buf)), "10.0.0.254");
	assert_string_equal(wip_str(&f->bgp_nexthop, buf, sizeof(buf)), "10.0.0.253");
	assert_string_equal(wip_str(&f->post_nat_src, buf, sizeof(buf)), "198.51.100.1");
	assert_string_equal(wip_str(&f->post_nat_dst, buf, sizeof(buf)), "198.51.100.2");
	assert_int_equal(f->post_nat_src_port, 40000);
	assert_int_equal(f->post_nat_dst_port, 40001);
	assert_int_equal(f->in_if, 100000);
	assert_int_equal(f->out_if, 200000);
	assert_int_equal(f->icmp, 8 << 8);
	assert_int_equal(f->fwd_status, 0xc3);
	assert_int_equal(f->vlan, 30);
	assert_int_equal(f->out_vlan, 40);
	assert_int_equal(f->packets, 77); /* totals stand in for absent deltas */
	assert_int_equal(f->bytes, 7700);
	assert_int_equal(f->src_mac[0], 0x00);
	assert_int_equal(f->dst_mac[5], 0xbb);
	assert_int_equal(f->sampler_id, 4);
	assert_int_equal(f->ip_version, 4);
	assert_true(FLOW_HAS(f, FF_POST_NAT_SRC) && FLOW_HAS(f, FF_POST_NAT_DST));
	assert_true(FLOW_HAS(f, FF_BGP_NEXTHOP) && FLOW_HAS(f, FF_ICMP));
	h_free(h);
}

static void sequence_numbers(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	/* RFC 7011: records sent before this message. 0 (+2), 2 (+3), 5 lost 4 -> 9 */
	static const uint32_t rfc[][2] = {{0, 2}, {2, 3}, {9, 1}, {10, 1}, {3, 1}, {4, 1}};
	ipfix_header(&p, EXPORT, 0, 1);
	ix_template(&p, 256, t6, N(t6));
	ipfix_end(&p);
	h_feed(h, &p);
	for (size_t i = 0; i < N(rfc); i++) {
		ipfix_header(&p, EXPORT, rfc[i][0], 1);
		t6_data(&p, 256, (int)rfc[i][1]);
		ipfix_end(&p);
		h_feed(h, &p);
	}
	assert_int_equal(h_stats(h, 1, 10).seq_gaps, 4);

	/* softflowd counts the current message too: no gaps */
	static const uint32_t incl[][2] = {{2, 2}, {5, 3}, {6, 1}, {8, 2}, {11, 3}};
	ipfix_header(&p, EXPORT, 0, 2);
	ix_template(&p, 256, t6, N(t6));
	ipfix_end(&p);
	h_feed(h, &p);
	for (size_t i = 0; i < N(incl); i++) {
		ipfix_header(&p, EXPORT, incl[i][0], 2);
		t6_data(&p, 256, (int)incl[i][1]);
		ipfix_end(&p);
		h_feed(h, &p);
	}
	assert_int_equal(h_stats(h, 2, 10).seq_gaps, 0);
	h_free(h);
}

static void templates_survive_a_restart(void **state)
{
	static const struct tf t[] = {{8, 4, 0}, {82, VAR, 0}, {1, 8, 29305}, {7, 2, 0}};
	char path[] = "/tmp/weir-test-ipfix-XXXXXX";
	int fd = mkstemp(path);
	struct harness *h = h_new(NULL);
	struct pkt p;

	assert_true(fd >= 0);
	close(fd);
	ipfix_header(&p, EXPORT, 0, 3);
	ix_template(&p, 256, t, N(t));
	ipfix_end(&p);
	h_feed(h, &p);
	wip_parse(&h->ctx.src, "2001:db8::5");
	h_feed(h, &p);
	assert_int_equal(decode_templates_save(h->st, path), 0);
	h_free(h);

	h = h_new(NULL);
	assert_int_equal(decode_templates_load(h->st, path), 0);
	assert_int_equal(h_exporters(h), 2);
	wip_parse(&h->ctx.src, "2001:db8::5");
	ipfix_header(&p, EXPORT, 0, 3);
	size_t s = set_begin(&p, 256);
	p_v4(&p, "10.0.0.1");
	p_u8(&p, 2);
	p_bytes(&p, "lo", 2);
	p_u64(&p, 55);
	p_u16(&p, 80);
	set_end(&p, s);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->out[0].rev_bytes, 55);
	assert_int_equal(h->out[0].src_port, 80);
	h_free(h);
	unlink(path);
}

/* Truncations and byte flips of a valid message never crash or read out of bounds (ASan). */
static void hostile_mutations(void **state)
{
	static const struct tf t[] = {
	    {8, 4, 0}, {82, VAR, 0}, {1, 8, 29305}, {22, 4, 0}, {70, 3, 0}};
	static const struct tf opt[] = {{302, 4, 0}, {309, 4, 0}, {310, 4, 0}, {160, 8, 0}};
	struct harness *h = h_new(NULL);
	struct pkt p, m;
	uint32_t rnd = 12345;

	ipfix_header(&p, EXPORT, 0, 1);
	ix_options(&p, 300, 1, opt, N(opt));
	size_t s = set_begin(&p, 300);
	p_u32(&p, 1);
	p_u32(&p, 1);
	p_u32(&p, 100);
	p_u64(&p, 1600000000000ull);
	set_end(&p, s);
	ix_template(&p, 256, t, N(t));
	s = set_begin(&p, 256);
	for (int i = 0; i < 3; i++) {
		p_v4(&p, "10.0.0.1");
		p_u8(&p, 3);
		p_bytes(&p, "abc", 3);
		p_u64(&p, 5);
		p_u32(&p, 1000);
		p_bytes(&p, "\x00\x10\x01", 3);
	}
	set_end(&p, s);
	ipfix_end(&p);
	assert_int_equal(h_feed(h, &p), 3);

	for (size_t n = 0; n < p.n; n++) {
		memcpy(m.b, p.b, n);
		m.n = n;
		h_feed(h, &m);
	}
	for (int i = 0; i < 20000; i++) {
		memcpy(m.b, p.b, p.n);
		m.n = p.n;
		for (int k = 0; k < 3; k++) {
			rnd = rnd * 1103515245 + 12345;
			m.b[(rnd >> 8) % p.n] = (uint8_t)(rnd >> 16);
		}
		h_feed(h, &m);
		if (i % 1000 == 0)
			decode_expire(h->st, h->ctx.now_ms + i);
	}
	decode_expire(h->st, UINT64_MAX);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(template_and_data),
	    cmocka_unit_test(message_lengths),
	    cmocka_unit_test(variable_length_fields),
	    cmocka_unit_test(enterprise_fields),
	    cmocka_unit_test(withdrawals),
	    cmocka_unit_test(bad_templates),
	    cmocka_unit_test(bad_sets),
	    cmocka_unit_test(timestamps),
	    cmocka_unit_test(sampling_options),
	    cmocka_unit_test(element_mapping),
	    cmocka_unit_test(sequence_numbers),
	    cmocka_unit_test(templates_survive_a_restart),
	    cmocka_unit_test(hostile_mutations),
	};
	log_setup(LL_ERR, stderr, false, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
