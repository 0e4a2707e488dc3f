/* test_gen.c - weir gen's model and encoders: well-formed datagrams, and a decode round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmd/gen.h"
#include "lib/cursor.h"
#include "weir/decoder.h"
#include "weir/flow.h"

#define END_MS UINT64_C(1715677200000) /* 2024-05-14 09:00:00 UTC */
#define BOOT   (END_MS - 3600000)
/* Compares every field of a gen_rec (not the trailing padding struct copies may skip). */
#define REC_BYTES (offsetof(struct gen_rec, v6) + 1)

static void exporter_init(struct gen_exporter *x, uint32_t domain)
{
	memset(x, 0, sizeof(*x));
	x->boot_ms = BOOT;
	x->domain = domain;
	x->sampling = 1;
}

static void model_is_deterministic_and_bounded(void **state)
{
	struct gen_model a, b, c;
	struct gen_rec ra, rb, rc;
	int same_as_c = 0, v6 = 0;

	gen_model_init(&a, 7, 1000, 30, 1);
	gen_model_init(&b, 7, 1000, 30, 1);
	gen_model_init(&c, 8, 1000, 30, 1);
	for (int i = 0; i < 2000; i++) {
		gen_next(&a, END_MS, &ra);
		gen_next(&b, END_MS, &rb);
		gen_next(&c, END_MS, &rc);
		assert_memory_equal(&ra, &rb, REC_BYTES);
		same_as_c += !memcmp(ra.src, rc.src, 16) && ra.bytes == rc.bytes;
		assert_true(ra.last_ms <= END_MS && ra.first_ms <= ra.last_ms);
		assert_true(ra.first_ms >= END_MS - 60000);
		assert_int_equal(ra.packets, 1);
		assert_true(ra.bytes >= 40 && ra.bytes <= 1500);
		assert_true(ra.in_if >= 1 && ra.in_if <= 48);
		if (ra.v6) {
			v6++;
			assert_int_equal(get_u32(ra.src), 0x20010db8);
		} else {
			assert_int_equal(ra.src[0], 10);
			assert_int_equal(ra.dst[0], 10);
		}
		if (ra.proto == 6)
			assert_int_not_equal(ra.tcp_flags, 0);
		else
			assert_int_equal(ra.tcp_flags, 0);
	}
	assert_true(same_as_c < 20);
	assert_true(v6 > 400 && v6 < 800); /* 30% of the keys */
}

static void keys_are_distinct(void **state)
{
	struct gen_model m;
	struct gen_rec r, first;

	gen_model_init(&m, 1, 5000, 0, 1);
	gen_key(&m, 0, &first);
	for (uint32_t i = 1; i < 5000; i++) {
		gen_key(&m, i, &r);
		assert_int_equal(get_u32(r.src), 0x0a000000u + i + 1);
	}
	/* The same key twice gives the same fields. */
	gen_key(&m, 0, &r);
	assert_memory_equal(&r, &first, REC_BYTES);
}

static void packets_option_scales_counters(void **state)
{
	struct gen_model m;
	struct gen_rec r;

	gen_model_init(&m, 3, 100, 0, 10);
	for (int i = 0; i < 500; i++) {
		gen_next(&m, END_MS, &r);
		assert_int_equal(r.packets, 10);
		assert_int_equal(r.bytes % 10, 0);
		assert_true(r.last_ms - r.first_ms < 30000);
	}
}

static void v5_datagram_layout(void **state)
{
	struct gen_model m;
	struct gen_exporter x;
	struct gen_rec r[GEN_V5_MAX];
	uint8_t buf[2048];

	gen_model_init(&m, 1, 100, 0, 1);
	exporter_init(&x, 0x0102);
	x.sampling = 64;
	for (int i = 0; i < GEN_V5_MAX; i++)
		gen_next(&m, END_MS, &r[i]);
	r[0].src_as = 4200000001u;
	size_t len = gen_fmt_v5.data(buf, sizeof(buf), &x, END_MS + 500, r, 30);
	assert_int_equal(len, 24 + 48 * 30);
	assert_int_equal(get_u16(buf), 5);
	assert_int_equal(get_u16(buf + 2), 30);
	assert_int_equal(get_u32(buf + 4), 3600500);       /* sysUptime */
	assert_int_equal(get_u32(buf + 8), END_MS / 1000); /* unix_secs */
	assert_int_equal(get_u32(buf + 12), 500000000);    /* unix_nsecs */
	assert_int_equal(get_u32(buf + 16), 0);
	assert_int_equal(buf[20], 1);
	assert_int_equal(buf[21], 2);
	assert_int_equal(get_u16(buf + 22), 0x4000 | 64);
	const uint8_t *p = buf + 24;
	assert_memory_equal(p, r[0].src, 4);
	assert_int_equal(get_u32(p + 16), 1);
	assert_int_equal(get_u32(p + 20), r[0].bytes);
	assert_int_equal(get_u32(p + 24), r[0].first_ms - BOOT);
	assert_int_equal(get_u16(p + 32), r[0].src_port);
	assert_int_equal(p[38], r[0].proto);
	assert_int_equal(get_u16(p + 40), GEN_AS_TRANS);
	/* The sequence counts flows; a second datagram starts at 30. */
	len = gen_fmt_v5.data(buf, sizeof(buf), &x, END_MS, r, 2);
	assert_int_equal(get_u32(buf + 16), 30);
	assert_int_equal(x.seq, 32);
	/* Refusals: too small a buffer, more than 30 records, an IPv6 record. */
	assert_int_equal(gen_fmt_v5.data(buf, 100, &x, END_MS, r, 2), 0);
	r[1].v6 = 1;
	assert_int_equal(gen_fmt_v5.data(buf, sizeof(buf), &x, END_MS, r, 2), 0);
	assert_int_equal(gen_fmt_v5.data_len(31, 0), 0);
	assert_null(gen_fmt_v5.templates);
}

/* Sums the field lengths of the template record at p; returns the number of fields. */
static size_t template_len(const uint8_t *p, size_t *reclen)
{
	size_t n = get_u16(p + 2);

	*reclen = 0;
	for (size_t i = 0; i < n; i++)
		*reclen += get_u16(p + 4 + 4 * i + 2);
	return n;
}

static void v9_template_datagram(void **state)
{
	struct gen_exporter x;
	uint8_t buf[1024];
	size_t reclen;

	exporter_init(&x, 42);
	x.sampling = 100;
	size_t len = gen_fmt_v9.templates(buf, sizeof(buf), &x, END_MS + 250);
	assert_true(len > 20 && len % 4 == 0);
	assert_int_equal(get_u16(buf), 9);
	assert_int_equal(get_u16(buf + 2), 4); /* 2 templates, options template, options data */
	assert_int_equal(get_u32(buf + 4), 3600000); /* sysUptime at the whole second */
	assert_int_equal(get_u32(buf + 12), 0);
	assert_int_equal(get_u32(buf + 16), 42);
	assert_int_equal(x.seq, 1);

	const uint8_t *p = buf + 20;
	assert_int_equal(get_u16(p), 0);
	size_t fs = get_u16(p + 2);
	assert_int_equal(get_u16(p + 4), GEN_TMPL_V4);
	assert_int_equal(template_len(p + 4, &reclen), 18);
	assert_int_equal(reclen, GEN_BODY_V4_LEN + 8);
	assert_int_equal(get_u16(p + 4 + 76), GEN_TMPL_V6);
	assert_int_equal(template_len(p + 4 + 76, &reclen), 18);
	assert_int_equal(reclen, GEN_BODY_V6_LEN + 8);
	assert_int_equal(fs, 4 + 2 * 76);
	p += fs;
	assert_int_equal(get_u16(p), 1); /* options template FlowSet */
	assert_int_equal(get_u16(p + 2) % 4, 0);
	assert_int_equal(get_u16(p + 4), GEN_TMPL_OPT);
	assert_int_equal(get_u16(p + 6), 4);   /* scope bytes */
	assert_int_equal(get_u16(p + 8), 8);   /* option bytes */
	assert_int_equal(get_u16(p + 14), 34); /* SAMPLING_INTERVAL */
	p += get_u16(p + 2);
	assert_int_equal(get_u16(p), GEN_TMPL_OPT);
	assert_int_equal(get_u32(p + 8), 100);
	assert_int_equal(p + get_u16(p + 2), buf + len);
	assert_int_equal(gen_fmt_v9.templates(buf, 100, &x, END_MS), 0);
}

/* Walks the data sets of a v9 or IPFIX datagram; returns the records by template length. */
static size_t count_records(const uint8_t *buf, size_t len, size_t hdr, size_t rec4, size_t rec6)
{
	struct cursor c;
	size_t n = 0;

	cur_init(&c, buf + hdr, len - hdr);
	while (cur_left(&c) > 0) {
		uint16_t id, slen;
		assert_true(cur_u16(&c, &id));
		assert_true(cur_u16(&c, &slen));
		assert_true(slen >= 4 && (size_t)slen - 4 <= cur_left(&c));
		size_t rec = id == GEN_TMPL_V4 ? rec4 : rec6;
		assert_true(id == GEN_TMPL_V4 || id == GEN_TMPL_V6);
		n += (slen - 4u) / rec;
		assert_true((slen - 4u) % rec < 4); /* padding only */
		assert_true(cur_skip(&c, slen - 4u));
	}
	return n;
}

static void pack_and_encode(const struct gen_format *f, uint32_t v6, size_t want_v4_only)
{
	struct gen_model m;
	struct gen_packer pk = {0};
	struct gen_exporter x;
	struct gen_rec r[GEN_PER_MAX];
	uint8_t buf[GEN_BUDGET_DEFAULT];
	size_t hdr = f->version == 9 ? 20 : 16, total = 0;
	size_t tlen = f->version == 9 ? 8 : 16; /* the two timestamps */
	uint32_t seq = 0;

	gen_model_init(&m, 5, 1000, v6, 1);
	exporter_init(&x, 3);
	assert_int_equal(gen_per_dgram_v4(f, GEN_BUDGET_DEFAULT), want_v4_only);
	for (int d = 0; d < 200; d++) {
		size_t n = gen_pack(f, &m, &pk, END_MS, GEN_BUDGET_DEFAULT, GEN_PER_MAX, r);
		assert_true(n > 0);
		if (!v6)
			assert_int_equal(n, want_v4_only);
		size_t len = f->data(buf, sizeof(buf), &x, END_MS, r, n);
		assert_true(len > 0 && len <= GEN_BUDGET_DEFAULT);
		assert_int_equal(get_u16(buf), f->version);
		if (f->version == 10) {
			assert_int_equal(get_u16(buf + 2), len);
			assert_int_equal(get_u32(buf + 8), seq);
			seq += (uint32_t)n;
		} else {
			assert_int_equal(get_u16(buf + 2), n);
			assert_int_equal(get_u32(buf + 12), seq);
			seq++;
		}
		assert_int_equal(
		    count_records(buf, len, hdr, GEN_BODY_V4_LEN + tlen, GEN_BODY_V6_LEN + tlen),
		    n);
		total += n;
	}
	assert_int_equal(x.seq, seq);
	assert_true(total >= 200);
}

static void v9_data_datagrams(void **state)
{
	pack_and_encode(&gen_fmt_v9, 0, 24);
	pack_and_encode(&gen_fmt_v9, 50, 24);
}

static void ipfix_data_datagrams(void **state)
{
	pack_and_encode(&gen_fmt_ipfix, 0, 21);
	pack_and_encode(&gen_fmt_ipfix, 35, 21);
	pack_and_encode(&gen_fmt_ipfix, 100, 21);
}

static void ipfix_template_message(void **state)
{
	struct gen_exporter x;
	uint8_t buf[1024];
	size_t reclen;

	exporter_init(&x, 9);
	x.seq = 100;
	size_t len = gen_fmt_ipfix.templates(buf, sizeof(buf), &x, END_MS);
	assert_int_equal(get_u16(buf), 10);
	assert_int_equal(get_u16(buf + 2), len);
	assert_int_equal(get_u32(buf + 4), END_MS / 1000);
	assert_int_equal(get_u32(buf + 8), 100);
	assert_int_equal(get_u32(buf + 12), 9);
	assert_int_equal(x.seq, 101); /* the options data record counts (RFC 7011 §3.1) */
	const uint8_t *p = buf + 16;
	assert_int_equal(get_u16(p), 2);
	assert_int_equal(template_len(p + 4, &reclen), 18);
	assert_int_equal(reclen, GEN_BODY_V4_LEN + 16);
	assert_int_equal(template_len(p + 80, &reclen), 18);
	assert_int_equal(reclen, GEN_BODY_V6_LEN + 16);
	p += get_u16(p + 2);
	assert_int_equal(get_u16(p), 3);
	assert_int_equal(get_u16(p + 4), GEN_TMPL_OPT);
	assert_int_equal(get_u16(p + 6), 3); /* fields */
	assert_int_equal(get_u16(p + 8), 1); /* scope fields */
	assert_int_equal(get_u16(p + 10), 149);
	p += get_u16(p + 2);
	assert_int_equal(get_u16(p), GEN_TMPL_OPT);
	assert_int_equal(get_u16(p + 2), 13);
	assert_int_equal(get_u32(p + 4), 9);
	assert_int_equal(get_u32(p + 8), 1);
	assert_int_equal(p + 13, buf + len);
}

static void pack_carries_what_did_not_fit(void **state)
{
	struct gen_model m, ref;
	struct gen_packer pk = {0};
	struct gen_rec r[GEN_PER_MAX], want;

	gen_model_init(&m, 11, 1000, 50, 1);
	gen_model_init(&ref, 11, 1000, 50, 1);
	for (int d = 0; d < 50; d++) {
		size_t n = gen_pack(&gen_fmt_ipfix, &m, &pk, END_MS, GEN_BUDGET_DEFAULT, 30, r);
		for (size_t i = 0; i < n; i++) {
			gen_next(&ref, END_MS, &want);
			assert_memory_equal(&r[i], &want, REC_BYTES);
		}
	}
	/* max bounds the count; budget does not shrink below one record. */
	assert_int_equal(gen_pack(&gen_fmt_ipfix, &m, &pk, END_MS, GEN_BUDGET_DEFAULT, 3, r), 3);
	assert_int_equal(gen_pack(&gen_fmt_ipfix, &m, &pk, END_MS, 10, 30, r), 1);
}

/* --- round trip through the decoders --- */

struct sums {
	size_t records, options;
	uint64_t bytes, packets;
	struct flow *keep; /* first records, in order */
	size_t keep_max;
};

static void sum_batch(void *arg, struct flow_batch *b)
{
	struct sums *s = arg;

	for (size_t i = 0; i < b->n; i++) {
		const struct flow *f = &b->rec[i];
		if (f->event != FLOW_EV_FLOW) {
			s->options++;
			continue;
		}
		if (s->records < s->keep_max)
			s->keep[s->records] = *f;
		s->records++;
		s->bytes += f->bytes;
		s->packets += f->packets;
	}
	b->n = 0;
}

static void seq_gaps_of(void *arg, const struct exporter_stats *s)
{
	*(uint64_t *)arg += s->seq_gaps;
}

static void check_flow(const struct flow *f, const struct gen_rec *r, uint8_t version)
{
	struct wip w;

	if (r->v6)
		wip_from_v6(&w, r->src);
	else
		wip_from_v4(&w, get_u32(r->src));
	assert_memory_equal(&f->src, &w, sizeof(w));
	assert_int_equal(f->src_port, r->src_port);
	assert_int_equal(f->dst_port, r->dst_port);
	assert_int_equal(f->proto, r->proto);
	assert_int_equal(f->tos, r->tos);
	assert_int_equal(f->tcp_flags, r->tcp_flags);
	assert_int_equal(f->in_if, r->in_if);
	assert_int_equal(f->out_if, r->out_if);
	assert_int_equal(f->src_mask, r->src_mask);
	assert_int_equal(f->bytes, r->bytes);
	assert_int_equal(f->packets, r->packets);
	assert_int_equal(f->first_ms, r->first_ms);
	assert_int_equal(f->last_ms, r->last_ms);
	assert_int_equal(f->dst_as, r->dst_as);
	assert_int_equal(f->export_version, version);
}

static void round_trip(const struct gen_format *f, uint32_t v6, uint32_t packets)
{
	enum { DGRAMS = 60, KEEP = 40 };
	struct decode_limits lim;
	struct decode_state *st;
	struct flow_batch *batch = malloc(sizeof(*batch));
	struct flow *keep = calloc(KEEP, sizeof(*keep));
	struct gen_rec *sent = calloc(KEEP + GEN_PER_MAX, sizeof(*sent));
	struct sums sums = {.keep = keep, .keep_max = KEEP};
	struct gen_model m;
	struct gen_packer pk = {0};
	struct gen_exporter x;
	struct gen_rec r[GEN_PER_MAX];
	uint8_t buf[GEN_BUDGET_DEFAULT];
	uint64_t bytes = 0, pkts = 0, gaps = 0;
	size_t records = 0, nsent = 0;

	assert_non_null(batch);
	batch->n = 0;
	decode_limits_default(&lim);
	st = decode_state_new(&lim);
	assert_non_null(st);
	struct decode_ctx ctx = {.st = st,
	                         .now_ms = END_MS + 1000,
	                         .batch = batch,
	                         .emit = sum_batch,
	                         .emit_arg = &sums};
	wip_from_v4(&ctx.src, 0x7f000002);
	gen_model_init(&m, 9, 200, v6, packets);
	exporter_init(&x, 5);
	for (int d = 0; d < DGRAMS; d++) {
		size_t len;
		if (f->templates && d % 20 == 0) {
			len = f->templates(buf, sizeof(buf), &x, END_MS + 300);
			assert_true(decode_datagram(&ctx, buf, len) >= 0);
			sum_batch(&sums, batch);
		}
		size_t n = gen_pack(f, &m, &pk, END_MS, GEN_BUDGET_DEFAULT, GEN_PER_MAX, r);
		len = f->data(buf, sizeof(buf), &x, END_MS + 300, r, n);
		assert_int_equal(decode_datagram(&ctx, buf, len), (int)n);
		sum_batch(&sums, batch);
		/* The encoder puts a datagram's IPv4 records first: keep them in that order. */
		for (int fam = 0; fam < 2; fam++)
			for (size_t i = 0; i < n && nsent < KEEP; i++)
				if (r[i].v6 == fam)
					sent[nsent++] = r[i];
		records += n;
		for (size_t i = 0; i < n; i++) {
			bytes += r[i].bytes;
			pkts += r[i].packets;
		}
	}
	assert_int_equal(sums.records, records);
	assert_int_equal(sums.bytes, bytes);
	assert_int_equal(sums.packets, pkts);
	assert_int_equal(sums.options, 0); /* want_options is off */
	for (size_t i = 0; i < KEEP; i++)
		check_flow(&keep[i], &sent[i], f->version);
	decode_stats_foreach(st, seq_gaps_of, &gaps);
	assert_int_equal(gaps, 0);
	decode_state_free(st);
	free(sent);
	free(keep);
	free(batch);
}

static void round_trip_v5(void **state)
{
	round_trip(&gen_fmt_v5, 0, 1);
	round_trip(&gen_fmt_v5, 0, 7);
}

static void round_trip_v9(void **state)
{
	round_trip(&gen_fmt_v9, 0, 1);
	round_trip(&gen_fmt_v9, 40, 3);
}

static void round_trip_ipfix(void **state)
{
	round_trip(&gen_fmt_ipfix, 0, 1);
	round_trip(&gen_fmt_ipfix, 40, 5);
	round_trip(&gen_fmt_ipfix, 100, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(model_is_deterministic_and_bounded),
	    cmocka_unit_test(keys_are_distinct),
	    cmocka_unit_test(packets_option_scales_counters),
	    cmocka_unit_test(v5_datagram_layout),
	    cmocka_unit_test(v9_template_datagram),
	    cmocka_unit_test(v9_data_datagrams),
	    cmocka_unit_test(ipfix_template_message),
	    cmocka_unit_test(ipfix_data_datagrams),
	    cmocka_unit_test(pack_carries_what_did_not_fit),
	    cmocka_unit_test(round_trip_v5),
	    cmocka_unit_test(round_trip_v9),
	    cmocka_unit_test(round_trip_ipfix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
