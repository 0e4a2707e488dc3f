/* test_sflow.c - sFlow v5 decoding: every sample and record type, counters, drops, sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "decode_helpers.h"
#include "http/prom.h"
#include "ingest/sfcounters.h"
#include "lib/log.h"

#define SF_VER 105

/* --- builders: offsets of open length fields are patched by sf_end() --- */

static void sf_dgram(struct pkt *p, const char *agent, uint32_t sub, uint32_t seq, uint32_t n)
{
	p->n = 0;
	p_u32(p, 5);
	if (strchr(agent, ':')) {
		p_u32(p, 2);
		p_v6(p, agent);
	} else {
		p_u32(p, 1);
		p_v4(p, agent);
	}
	p_u32(p, sub);
	p_u32(p, seq);
	p_u32(p, 123456);
	p_u32(p, n);
}

/* data_format + a length patched by sf_end(): samples and records alike. */
static size_t sf_begin(struct pkt *p, uint32_t format)
{
	p_u32(p, format);
	p_u32(p, 0);
	return p->n;
}

static void sf_end(struct pkt *p, size_t body)
{
	put_u32(p->b + body - 4, (uint32_t)(p->n - body));
}

static size_t flow_sample(struct pkt *p, uint32_t seq, uint32_t rate, uint32_t in, uint32_t out,
                          uint32_t n_records)
{
	size_t s = sf_begin(p, 1);
	p_u32(p, seq);
	p_u32(p, 0 << 24 | 7); /* source id: ifIndex 7 */
	p_u32(p, rate);
	p_u32(p, seq * rate);
	p_u32(p, 0);
	p_u32(p, in);
	p_u32(p, out);
	p_u32(p, n_records);
	return s;
}

static size_t flow_sample_exp(struct pkt *p, uint32_t seq, uint32_t rate, uint32_t out_fmt,
                              uint32_t out, uint32_t n_records)
{
	size_t s = sf_begin(p, 3);
	p_u32(p, seq);
	p_u32(p, 0);
	p_u32(p, 70000); /* an index beyond 24 bits in the compact form's terms */
	p_u32(p, rate);
	p_u32(p, seq * rate);
	p_u32(p, 3);
	p_u32(p, 0);
	p_u32(p, 11);
	p_u32(p, out_fmt);
	p_u32(p, out);
	p_u32(p, n_records);
	return s;
}

/* A compact flow sample without records: its source id (type << 24 | index) and drops given. */
static void flow_sample_src(struct pkt *p, uint32_t seq, uint32_t source_id, uint32_t drops)
{
	size_t s = sf_begin(p, 1);
	p_u32(p, seq);
	p_u32(p, source_id);
	p_u32(p, 1);
	p_u32(p, seq);
	p_u32(p, drops);
	p_u32(p, 1);
	p_u32(p, 2);
	p_u32(p, 0);
	sf_end(p, s);
}

/* An expanded flow sample without records: source type and index as full words. */
static void flow_sample_exp_src(struct pkt *p, uint32_t seq, uint32_t type, uint32_t index,
                                uint32_t drops)
{
	size_t s = sf_begin(p, 3);
	p_u32(p, seq);
	p_u32(p, type);
	p_u32(p, index);
	p_u32(p, 1);
	p_u32(p, seq);
	p_u32(p, drops);
	for (int i = 0; i < 4; i++)
		p_u32(p, 1);
	p_u32(p, 0);
	sf_end(p, s);
}

/* A compact counter sample without records. */
static void counter_sample_src(struct pkt *p, uint32_t seq, uint32_t source_id)
{
	size_t s = sf_begin(p, 2);
	p_u32(p, seq);
	p_u32(p, source_id);
	p_u32(p, 0);
	sf_end(p, s);
}

struct agent_find {
	struct wip agent;
	uint32_t sub;
	struct exporter_stats s;
	int found;
};

static void agent_find_cb(void *arg, const struct exporter_stats *s)
{
	struct agent_find *f = arg;
	if (s->version == SF_VER && s->domain == f->sub &&
	    memcmp(&s->addr, &f->agent, sizeof(f->agent)) == 0) {
		f->s = *s;
		f->found++;
	}
}

/* The counters of one agent and sub-agent (h_stats() does not look at the address). */
static struct exporter_stats sf_stats(const struct harness *h, const char *agent, uint32_t sub)
{
	struct agent_find f = {.sub = sub};
	wip_parse(&f.agent, agent);
	decode_stats_foreach(h->st, agent_find_cb, &f);
	assert_int_equal(f.found, 1);
	return f.s;
}

/* A raw header record: frame bytes given, XDR-padded. */
static void rec_header(struct pkt *p, uint32_t proto, uint32_t frame_len, const uint8_t *h,
                       size_t n)
{
	size_t r = sf_begin(p, 1);
	p_u32(p, proto);
	p_u32(p, frame_len);
	p_u32(p, 4);
	p_u32(p, (uint32_t)n);
	p_bytes(p, h, n);
	p_zero(p, (4 - n % 4) % 4);
	sf_end(p, r);
}

static const uint8_t eth_vlan_v4_tcp[] = {
    0x02, 0,    0,    0,    0,    0x01, 0x02, 0,    0,    0,    0,    0x02, 0x81, 0x00,
    0x20, 0x14, /* pcp 1, vlan 20 */
    0x08, 0x00, 0x45, 0x28, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
    10,   1,    2,    3,    192,  0,    2,    10,   0xa4, 0x10, 0x01, 0xbb, 0,    0,
    0,    1,    0,    0,    0,    0,    0x50, 0x12, 0xff, 0xff, 0,    0,    0,    0};

static void raw_header_flow_sample(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	char buf[WIP_STRLEN];
	size_t s;

	sf_dgram(&p, "198.51.100.7", 3, 42, 1);
	s = flow_sample(&p, 1, 512, 5, 6, 1);
	rec_header(&p, 1, 1518, eth_vlan_v4_tcp, sizeof(eth_vlan_v4_tcp));
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->n_out, 1);

	const struct flow *f = &h->out[0];
	assert_string_equal(wip_str(&f->exporter, buf, sizeof(buf)), "198.51.100.7");
	assert_int_equal(f->domain, 3);
	assert_int_equal(f->export_seq, 42);
	assert_int_equal(f->export_version, SF_VER);
	assert_int_equal(f->event, FLOW_EV_FLOW);
	assert_int_equal(f->bytes, 1518);
	assert_int_equal(f->packets, 1);
	assert_int_equal(f->sampling_rate, 512);
	assert_true(FLOW_HAS(f, FF_SAMPLING));
	assert_int_equal(f->in_if, 5);
	assert_int_equal(f->out_if, 6);
	assert_int_equal(f->vlan, 20);
	assert_true(FLOW_HAS(f, FF_VLAN));
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "10.1.2.3");
	assert_string_equal(wip_str(&f->dst, buf, sizeof(buf)), "192.0.2.10");
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->tos, 0x28);
	assert_int_equal(f->src_port, 42000);
	assert_int_equal(f->dst_port, 443);
	assert_int_equal(f->tcp_flags, 0x12);
	assert_int_equal(f->src_mac[5], 2);
	assert_int_equal(f->dst_mac[5], 1);
	assert_int_equal(f->arrival_ms, h->ctx.now_ms);

	/* the UDP source is not the exporter: one exporter entry, keyed by the agent */
	struct exporter_stats st = h_stats(h, 3, SF_VER);
	assert_string_equal(wip_str(&st.addr, buf, sizeof(buf)), "198.51.100.7");
	assert_int_equal(st.records, 1);
	assert_int_equal(h_exporters(h), 1);
	h_free(h);
}

/* Every byte of a record is defined by decode, whatever its batch slot held before. */
static void records_fully_defined(void **state)
{
	struct harness *dirty = h_new(NULL), *clean = h_new(NULL);
	struct pkt p;
	size_t s;

	sf_dgram(&p, "198.51.100.7", 3, 42, 2);
	s = flow_sample(&p, 1, 512, 5, 6, 1);
	rec_header(&p, 1, 1518, eth_vlan_v4_tcp, sizeof(eth_vlan_v4_tcp));
	sf_end(&p, s);
	s = flow_sample(&p, 2, 0, 5, 6, 0);
	sf_end(&p, s);
	memset(dirty->batch.rec, 0xa5, sizeof(dirty->batch.rec));
	assert_int_equal(h_feed(dirty, &p), 2);
	assert_int_equal(h_feed(clean, &p), 2);
	assert_int_equal(dirty->n_out, 2);
	assert_int_equal(clean->n_out, 2);
	for (size_t i = 0; i < 2; i++)
		assert_memory_equal(&dirty->out[i], &clean->out[i], sizeof(struct flow));
	assert_null(dirty->out[1].as_path);
	assert_null(dirty->out[1].label);
	assert_int_equal(dirty->out[1].tag, 0);
	h_free(dirty);
	h_free(clean);
}

/* QinQ + 2 MPLS labels + IPv6 with hop-by-hop and destination options + UDP. */
static const uint8_t qinq_mpls_v6_udp[] = {
    0x02, 0,    0,    0,    0,    0x01, 0x02, 0,    0,    0,    0,    0x02, 0x88,
    0xa8, 0x00, 0x64,                   /* S-tag 100 */
    0x81, 0x00, 0x00, 0xc8,             /* C-tag 200 */
    0x88, 0x47, 0x00, 0x01, 0x00, 0x40, /* label 16 */
    0x00, 0x02, 0x01, 0x40,             /* label 32, bottom of stack */
    0x6b, 0x80, 0x00, 0x00, 0x00, 0x18, 0x00, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    1,    0x20, 0x01,
    0x0d, 0xb8, 0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    2,    0x3c, 0x00, 0x01, 0x04, 0,    0,    0,    0,                /* hop-by-hop -> dest opts */
    0x11, 0x00, 0x01, 0x04, 0,    0,    0,    0,    0x00, 0x35, 0x04, /* dest opts -> UDP */
    0x00, 0x00, 0x08, 0x00, 0x00};

static void expanded_sample_qinq_mpls_ipv6(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	char buf[WIP_STRLEN];
	size_t s;

	sf_dgram(&p, "2001:db8::99", 0, 1, 1);
	s = flow_sample_exp(&p, 9, 1, 1, 17, 1); /* output format 1: discarded */
	rec_header(&p, 1, 200, qinq_mpls_v6_udp, sizeof(qinq_mpls_v6_udp));
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);

	const struct flow *f = &h->out[0];
	assert_string_equal(wip_str(&f->exporter, buf, sizeof(buf)), "2001:db8::99");
	assert_int_equal(f->vlan, 100);
	assert_int_equal(f->mpls_depth, 2);
	assert_int_equal(f->mpls[0], 16 << 4);
	assert_int_equal(f->mpls[1], 32 << 4 | 1);
	assert_int_equal(f->ip_version, 6);
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "2001:db8::1");
	assert_int_equal(f->tos, 0xb8);
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->src_port, 53);
	assert_int_equal(f->dst_port, 1024);
	assert_int_equal(f->in_if, 11);
	assert_int_equal(f->out_if, 17);
	assert_true(FLOW_HAS(f, FF_FWD_STATUS));
	assert_int_equal(f->fwd_status, 128);
	h_free(h);
}

static void truncated_header_decodes_what_it_has(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	char buf[WIP_STRLEN];
	size_t s;

	/* cut inside the TCP header: addresses and ports, no flags */
	sf_dgram(&p, "192.0.2.5", 0, 1, 1);
	s = flow_sample(&p, 1, 1, 1, 2, 1);
	rec_header(&p, 1, 60, eth_vlan_v4_tcp, 18 + 20 + 6);
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);
	assert_string_equal(wip_str(&h->out[0].dst, buf, sizeof(buf)), "192.0.2.10");
	assert_true(FLOW_HAS(&h->out[0], FF_SRC_PORT));
	assert_false(FLOW_HAS(&h->out[0], FF_TCP_FLAGS));
	assert_int_equal(h->out[0].bytes, 60);
	h_free(h);
}

static void sampled_records_and_extended_data(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	char buf[WIP_STRLEN];
	size_t s, r;
	uint8_t mac[8] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0, 0};

	sf_dgram(&p, "192.0.2.5", 1, 2, 2);
	s = flow_sample(&p, 1, 100, 1, 2, 5);
	r = sf_begin(&p, 2); /* sampled ethernet */
	p_u32(&p, 1000);
	p_bytes(&p, mac, 8);
	mac[5] = 0xef;
	p_bytes(&p, mac, 8);
	p_u32(&p, 0x0800);
	sf_end(&p, r);
	r = sf_begin(&p, 3); /* sampled IPv4 */
	p_u32(&p, 986);
	p_u32(&p, 17);
	p_v4(&p, "10.9.8.7");
	p_v4(&p, "10.6.5.4");
	p_u32(&p, 5000);
	p_u32(&p, 53);
	p_u32(&p, 0);
	p_u32(&p, 0x48);
	sf_end(&p, r);
	r = sf_begin(&p, 1001); /* extended switch */
	p_u32(&p, 300);
	p_u32(&p, 0);
	p_u32(&p, 301);
	p_u32(&p, 0);
	sf_end(&p, r);
	r = sf_begin(&p, 1002); /* extended router */
	p_u32(&p, 1);
	p_v4(&p, "10.0.0.254");
	p_u32(&p, 24);
	p_u32(&p, 16);
	sf_end(&p, r);
	r = sf_begin(&p, 1003); /* extended gateway: path of 2 segments, 2 communities */
	p_u32(&p, 1);
	p_v4(&p, "10.0.0.253");
	p_u32(&p, 65000);
	p_u32(&p, 65001);
	p_u32(&p, 65002);
	p_u32(&p, 2);
	p_u32(&p, 2);
	p_u32(&p, 2);
	p_u32(&p, 65010);
	p_u32(&p, 65011);
	p_u32(&p, 1);
	p_u32(&p, 1);
	p_u32(&p, 65099);
	p_u32(&p, 2);
	p_u32(&p, 0xfde80001);
	p_u32(&p, 0xfde80002);
	p_u32(&p, 100);
	sf_end(&p, r);
	sf_end(&p, s);
	/* second sample: sampled IPv6 only */
	s = flow_sample(&p, 2, 100, 1, 2, 1);
	r = sf_begin(&p, 4);
	p_u32(&p, 1280);
	p_u32(&p, 58);
	p_v6(&p, "2001:db8::a");
	p_v6(&p, "2001:db8::b");
	p_u32(&p, 0);
	p_u32(&p, 0);
	p_u32(&p, 0);
	p_u32(&p, 0x10);
	sf_end(&p, r);
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 2);

	const struct flow *f = &h->out[0];
	assert_int_equal(f->bytes, 1000); /* sampled ethernet length comes first and wins */
	assert_int_equal(f->src_mac[5], 0xee);
	assert_int_equal(f->dst_mac[5], 0xef);
	assert_string_equal(wip_str(&f->src, buf, sizeof(buf)), "10.9.8.7");
	assert_int_equal(f->src_port, 5000);
	assert_int_equal(f->dst_port, 53);
	assert_int_equal(f->tos, 0x48);
	assert_int_equal(f->vlan, 300);
	assert_int_equal(f->out_vlan, 301);
	assert_string_equal(wip_str(&f->nexthop, buf, sizeof(buf)), "10.0.0.254");
	assert_int_equal(f->src_mask, 24);
	assert_int_equal(f->dst_mask, 16);
	assert_string_equal(wip_str(&f->bgp_nexthop, buf, sizeof(buf)), "10.0.0.253");
	assert_int_equal(f->src_as, 65001);
	assert_int_equal(f->dst_as, 65099);

	f = &h->out[1];
	assert_int_equal(f->ip_version, 6);
	assert_int_equal(f->bytes, 1280);
	assert_int_equal(f->proto, 58);
	assert_string_equal(wip_str(&f->dst, buf, sizeof(buf)), "2001:db8::b");
	h_free(h);
}

static void unknown_records_and_samples_skipped(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	size_t s, r;

	sf_dgram(&p, "192.0.2.5", 0, 1, 3);
	r = sf_begin(&p, 4413 << 12 | 1); /* enterprise sample */
	p_zero(&p, 12);
	sf_end(&p, r);
	r = sf_begin(&p, 99); /* unknown standard sample */
	p_zero(&p, 4);
	sf_end(&p, r);
	s = flow_sample(&p, 1, 1, 1, 2, 3);
	r = sf_begin(&p, 2000); /* unknown record */
	p_zero(&p, 20);
	sf_end(&p, r);
	r = sf_begin(&p, 9 << 12 | 1); /* enterprise record */
	p_zero(&p, 8);
	sf_end(&p, r);
	rec_header(&p, 1, 64, eth_vlan_v4_tcp, sizeof(eth_vlan_v4_tcp));
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->out[0].bytes, 64);
	assert_int_equal(h->out[0].dst_port, 443);
	h_free(h);
}

static void generic_counters(struct pkt *p, uint32_t ifindex, uint64_t in_oct)
{
	size_t r = sf_begin(p, 1);
	p_u32(p, ifindex);
	p_u32(p, 6);
	p_u64(p, 1000000000);
	p_u32(p, 1);
	p_u32(p, 3);
	p_u64(p, in_oct);
	p_u32(p, 10); /* in ucast */
	p_u32(p, 2);
	p_u32(p, 1);
	p_u32(p, 4); /* in discards */
	p_u32(p, 5); /* in errors */
	p_u32(p, 0);
	p_u64(p, 7777); /* out octets */
	p_u32(p, 20);
	p_u32(p, 0);
	p_u32(p, 0);
	p_u32(p, 6);
	p_u32(p, 8);
	p_u32(p, 1);
	sf_end(p, r);
}

struct seen_counters {
	int n;
	struct if_counters last;
};

static void on_counters(void *arg, const struct if_counters *k)
{
	struct seen_counters *s = arg;
	s->n++;
	s->last = *k;
}

static void counter_samples(void **state)
{
	struct harness *h = h_new(NULL);
	struct seen_counters seen = {0};
	struct pkt p;
	size_t s, r;

	h->ctx.counters = on_counters;
	h->ctx.counters_arg = &seen;
	sf_dgram(&p, "192.0.2.6", 2, 10, 2);
	s = sf_begin(&p, 2);
	p_u32(&p, 1);
	p_u32(&p, 4);
	p_u32(&p, 2);
	generic_counters(&p, 4, 123456789012ull);
	r = sf_begin(&p, 2); /* ethernet counters */
	for (uint32_t i = 0; i < 13; i++)
		p_u32(&p, i + 100);
	sf_end(&p, r);
	sf_end(&p, s);
	s = sf_begin(&p, 4); /* expanded counter sample, generic only */
	p_u32(&p, 1);
	p_u32(&p, 0);
	p_u32(&p, 9);
	p_u32(&p, 1);
	generic_counters(&p, 9, 1);
	sf_end(&p, s);

	/* without --all the counters reach only the callback */
	assert_int_equal(h_feed(h, &p), 0);
	assert_int_equal(h->n_out, 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.last.if_index, 9);
	assert_false(seen.last.has_ethernet);

	h->ctx.want_options = true;
	put_u32(p.b + 16, 11); /* next datagram sequence */
	assert_int_equal(h_feed(h, &p), 2);
	assert_int_equal(seen.n, 4);
	assert_int_equal(h->n_out, 2);
	const struct flow *f = &h->out[0];
	assert_int_equal(f->event, FLOW_EV_COUNTER);
	assert_int_equal(f->in_if, 4);
	assert_int_equal(f->bytes, 123456789012ull);
	assert_int_equal(f->packets, 13);
	assert_int_equal(f->rev_bytes, 7777);
	assert_int_equal(f->rev_packets, 20);
	h_free(h);

	/* the fields of the first sample, through a fresh harness */
	h = h_new(NULL);
	memset(&seen, 0, sizeof(seen));
	h->ctx.counters = on_counters;
	h->ctx.counters_arg = &seen;
	put_u32(p.b + 24, 1); /* one sample only */
	assert_int_equal(h_feed(h, &p), 0);
	assert_int_equal(seen.n, 1);
	assert_true(seen.last.has_generic && seen.last.has_ethernet);
	assert_int_equal(seen.last.in_discards, 4);
	assert_int_equal(seen.last.in_errors, 5);
	assert_int_equal(seen.last.out_discards, 6);
	assert_int_equal(seen.last.out_errors, 8);
	assert_int_equal(seen.last.if_speed, 1000000000);
	assert_int_equal(seen.last.dot3[12], 112);
	assert_int_equal(seen.last.sub_agent, 2);
	h_free(h);
}

static void renormalize(void **state)
{
	struct decode_limits l;
	struct harness *h;
	struct pkt p;
	size_t s;

	decode_limits_default(&l);
	l.sflow_renormalize = true;
	h = h_new(&l);
	sf_dgram(&p, "192.0.2.5", 0, 1, 1);
	s = flow_sample(&p, 1, 1000, 1, 2, 1);
	rec_header(&p, 1, 1500, eth_vlan_v4_tcp, sizeof(eth_vlan_v4_tcp));
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);
	assert_int_equal(h->out[0].bytes, 1500000);
	assert_int_equal(h->out[0].packets, 1000);
	assert_int_equal(h->out[0].sampling_rate, 1);
	h_free(h);
}

static void sample_sequence_gaps(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	uint32_t seqs[] = {1, 2, 5, 6, 3};
	size_t s;

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		sf_dgram(&p, "192.0.2.5", 0, (uint32_t)i + 1, 1);
		s = flow_sample(&p, seqs[i], 1, 1, 2, 0);
		sf_end(&p, s);
		assert_int_equal(h_feed(h, &p), 1);
	}
	/* 3 and 4 missing; the step back to 3 is reordering, not a loss; datagrams all there */
	assert_int_equal(h_stats(h, 0, SF_VER).sample_seq_gaps, 2);
	assert_int_equal(h_stats(h, 0, SF_VER).seq_gaps, 0);
	assert_int_equal(h_stats(h, 0, SF_VER).sample_seq_untracked, 0);
	h_free(h);
}

/* Datagram sequence numbers per agent and sub-agent: gaps, the baseline, a reset. */
static void datagram_sequence_gaps(void **state)
{
	struct harness *h = h_new(NULL);
	uint32_t seqs[] = {1000, 1001, 1004, 1005, 3, 4, 100, 100};
	struct pkt p;

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		sf_dgram(&p, "192.0.2.5", 0, seqs[i], 1);
		flow_sample_src(&p, (uint32_t)i + 1, 7, 0);
		assert_int_equal(h_feed(h, &p), 1);
	}
	/* 1000 is the baseline, not 999 lost; 1002-1003 lost; back to 3 is a restart (not 4
	 * billion lost); 5-99 lost; a repeated 100 loses nothing */
	struct exporter_stats st = sf_stats(h, "192.0.2.5", 0);
	assert_int_equal(st.seq_gaps, 2 + 95);
	assert_int_equal(st.sample_seq_gaps, 0);
	assert_int_equal(st.packets, 8);

	/* a datagram whose samples are dropped still counts in the sequence */
	sf_dgram(&p, "192.0.2.5", 0, 103, 1);
	flow_sample_src(&p, 9, 7, 0);
	put_u32(p.b + p.n - 4 * 8 - 4, 4); /* sample length too short for its header */
	assert_int_equal(h_feed(h, &p), 0);
	st = sf_stats(h, "192.0.2.5", 0);
	assert_int_equal(st.seq_gaps, 2 + 95 + 2);
	assert_int_equal(st.drops[DROP_BAD_SAMPLE], 1);

	/* the 32-bit wrap is a step forward */
	sf_dgram(&p, "192.0.2.6", 0, 0xffffffffu, 0);
	assert_int_equal(h_feed(h, &p), 0);
	sf_dgram(&p, "192.0.2.6", 0, 0, 0);
	assert_int_equal(h_feed(h, &p), 0);
	sf_dgram(&p, "192.0.2.6", 0, 2, 0);
	assert_int_equal(h_feed(h, &p), 0);
	assert_int_equal(sf_stats(h, "192.0.2.6", 0).seq_gaps, 1);
	h_free(h);
}

/* Each (agent, sub-agent) has its own datagram sequence; interleaving them loses nothing. */
static void sub_agents_have_own_sequences(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;

	for (uint32_t i = 0; i < 20; i++) {
		sf_dgram(&p, "192.0.2.5", 1, 100 + i, 1);
		flow_sample_src(&p, i + 1, 7, 0);
		assert_int_equal(h_feed(h, &p), 1);
		sf_dgram(&p, "192.0.2.5", 2, 5000 + i, 1);
		flow_sample_src(&p, i + 1, 7, 0); /* the same source id on another sub-agent */
		assert_int_equal(h_feed(h, &p), 1);
		sf_dgram(&p, "2001:db8::5", 1, 7 + 2 * i, 0); /* every other one lost */
		assert_int_equal(h_feed(h, &p), 0);
	}
	sf_dgram(&p, "192.0.2.5", 2, 5023, 0); /* 5020-5022 lost on sub-agent 2 only */
	assert_int_equal(h_feed(h, &p), 0);

	struct exporter_stats a = sf_stats(h, "192.0.2.5", 1), b = sf_stats(h, "192.0.2.5", 2);
	assert_int_equal(a.seq_gaps, 0);
	assert_int_equal(a.sample_seq_gaps, 0);
	assert_int_equal(a.records, 20);
	assert_int_equal(b.seq_gaps, 3);
	assert_int_equal(b.sample_seq_gaps, 0);
	assert_int_equal(sf_stats(h, "2001:db8::5", 1).seq_gaps, 19);
	assert_int_equal(h_exporters(h), 3);
	h_free(h);
}

/*
 * Sample sequences per source id: flow and counter samples of one source are separate, the
 * compact and expanded forms of one source are the same, expanded values beyond the compact
 * form's bits are other sources; beyond the bound, samples are counted as untracked.
 */
/*
 * Samples of two sources interleaved, with counter samples of one of them: each (source, kind)
 * keeps its own sequence through the last-source shortcut of the lookup.
 */
static void interleaved_sources(void **state)
{
	struct harness *h = h_new(NULL);
	struct {
		uint32_t seq, source;
	} smp[] = {{1, 7}, {1, 8}, {2, 7}, {3, 7}, {3, 8}, {4, 7}, {6, 7}, {4, 8}, {7, 7}};
	struct pkt p;

	for (uint32_t i = 0; i < sizeof(smp) / sizeof(smp[0]); i++) {
		sf_dgram(&p, "192.0.2.5", 0, i + 1, 2);
		flow_sample_src(&p, smp[i].seq, smp[i].source, 0);
		counter_sample_src(&p, 100 + i, 7); /* in order: no gap */
		assert_int_equal(h_feed(h, &p), 1);
	}
	/* source 8 lost its sample 2, source 7 its sample 5 */
	struct exporter_stats st = h_stats(h, 0, SF_VER);
	assert_int_equal(st.sample_seq_gaps, 2);
	assert_int_equal(st.sample_seq_untracked, 0);
	assert_int_equal(st.option_records, sizeof(smp) / sizeof(smp[0]));
	h_free(h);
}

static void many_source_ids(void **state)
{
	struct harness *h = h_new(NULL);
	struct exporter_stats st;
	struct pkt p;
	uint32_t seq = 0;

	for (uint32_t i = 1; i <= 3; i++) {
		sf_dgram(&p, "192.0.2.5", 0, ++seq, 4);
		flow_sample_src(&p, i, 1 << 24 | 70, 0);
		counter_sample_src(&p, 10 + i, 1 << 24 | 70);
		flow_sample_exp_src(&p, 20 + i, 1, 70 | 1 << 24, 0); /* index beyond 24 bits */
		flow_sample_exp_src(&p, 30 + i, 0x81, 70, 0);        /* type beyond 8 bits */
		assert_int_equal(h_feed(h, &p), 3);
	}
	sf_dgram(&p, "192.0.2.5", 0, ++seq, 1);
	flow_sample_exp_src(&p, 4, 1, 70, 0); /* the expanded form of source 1/70 */
	assert_int_equal(h_feed(h, &p), 1);
	st = sf_stats(h, "192.0.2.5", 0);
	assert_int_equal(st.sample_seq_gaps, 0);
	assert_int_equal(st.option_records, 3);

	/* 1000 more sources, each with a first sample then one lost */
	for (uint32_t round = 1; round <= 3; round += 2) {
		for (uint32_t i = 0; i < 1000; i++) {
			sf_dgram(&p, "192.0.2.5", 0, ++seq, 1);
			flow_sample_src(&p, round, 2 << 24 | i, 0);
			assert_int_equal(h_feed(h, &p), 1);
		}
	}
	st = sf_stats(h, "192.0.2.5", 0);
	/* one lost sample per tracked new source: 3/4 of 1024 slots, 4 taken above */
	uint64_t tracked = st.sample_seq_gaps;
	assert_int_equal(tracked, 1024 / 4 * 3 - 4);
	assert_int_equal(st.sample_seq_untracked, 2 * (1000 - tracked));
	assert_int_equal(st.seq_gaps, 0);
	assert_int_equal(st.records, 3 * 3 + 1 + 2000);

	/* the sources tracked first still are */
	sf_dgram(&p, "192.0.2.5", 0, ++seq, 1);
	flow_sample_src(&p, 6, 1 << 24 | 70, 0);
	assert_int_equal(h_feed(h, &p), 1);
	st = sf_stats(h, "192.0.2.5", 0);
	assert_int_equal(st.sample_seq_gaps, tracked + 1);
	h_free(h);
}

/* The agent's drops (a running total per source id) become a per-exporter delta counter. */
static void agent_drops(void **state)
{
	struct harness *h = h_new(NULL);
	struct {
		uint32_t seq, source, drops;
	} smp[] = {
	    {1, 7, 5},   /* baseline: drops before we listened are not counted */
	    {1, 8, 100}, /* another source, its own baseline */
	    {2, 7, 8},   /* +3 */
	    {3, 7, 8},   /* +0 */
	    {2, 8, 101}, /* +1 */
	    {5, 7, 20},  /* +12, and sample 4 lost */
	    {4, 7, 19},  /* late (a step back): a new baseline, no negative delta */
	    {1, 7, 2},   /* agent restart: a new baseline */
	    {2, 7, 4},   /* +2 */
	    {3, 7, 1},   /* a total that went back without a restart: new baseline */
	    {4, 7, 1},   /* +0 */
	};
	struct pkt p;

	for (size_t i = 0; i < sizeof(smp) / sizeof(smp[0]); i++) {
		sf_dgram(&p, "192.0.2.5", 0, (uint32_t)i + 1, 1);
		flow_sample_src(&p, smp[i].seq, smp[i].source, smp[i].drops);
		assert_int_equal(h_feed(h, &p), 1);
	}
	struct exporter_stats st = sf_stats(h, "192.0.2.5", 0);
	assert_int_equal(st.sflow_drops, 3 + 1 + 12 + 2);
	assert_int_equal(st.sample_seq_gaps, 1);
	assert_int_equal(st.seq_gaps, 0);

	/* shown by the stats table */
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	decode_stats_print(h->st, out);
	fclose(out);
	assert_non_null(strstr(text, "sample_gaps"));
	assert_non_null(strstr(text, "sflow_drops"));
	assert_non_null(strstr(text, "         18\n"));
	free(text);
	h_free(h);
}

/* Every malformed shape is dropped with a reason; nothing is read out of bounds (ASan). */
static void bad_input(void **state)
{
	struct harness *h = h_new(NULL);
	struct exporter_stats st;
	struct pkt p;
	size_t s, r;

	/* a sample length that lies: the datagram stops there */
	sf_dgram(&p, "192.0.2.5", 0, 1, 1);
	s = flow_sample(&p, 1, 1, 1, 2, 0);
	sf_end(&p, s);
	put_u32(p.b + s - 4, 4000);
	assert_int_equal(h_feed(h, &p), -1);
	st = h_stats(h, 0, SF_VER);
	assert_int_equal(st.drops[DROP_BAD_LENGTH], 1);

	/* a record count that overflows the sample */
	sf_dgram(&p, "192.0.2.5", 0, 2, 1);
	s = flow_sample(&p, 1, 1, 1, 2, 0xffffffffu);
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 0);

	/* a header length larger than its record */
	sf_dgram(&p, "192.0.2.5", 0, 3, 1);
	s = flow_sample(&p, 2, 1, 1, 2, 1);
	r = sf_begin(&p, 1);
	p_u32(&p, 1);
	p_u32(&p, 100);
	p_u32(&p, 0);
	p_u32(&p, 1000);
	p_zero(&p, 16);
	sf_end(&p, r);
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 0);

	/* nested lengths that do not add up: a record longer than its sample */
	sf_dgram(&p, "192.0.2.5", 0, 4, 2);
	s = flow_sample(&p, 3, 1, 1, 2, 1);
	r = sf_begin(&p, 1001);
	p_zero(&p, 16);
	sf_end(&p, r);
	sf_end(&p, s);
	put_u32(p.b + r - 4, 64);
	s = flow_sample(&p, 4, 1, 1, 2, 0); /* the next sample still decodes */
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 1);

	/* an extended switch record shorter than its content */
	sf_dgram(&p, "192.0.2.5", 0, 5, 1);
	s = flow_sample(&p, 5, 1, 1, 2, 1);
	r = sf_begin(&p, 1001);
	p_zero(&p, 8);
	sf_end(&p, r);
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 0);

	/* an AS path count that cannot fit */
	sf_dgram(&p, "192.0.2.5", 0, 6, 1);
	s = flow_sample(&p, 6, 1, 1, 2, 1);
	r = sf_begin(&p, 1003);
	p_u32(&p, 1);
	p_v4(&p, "10.0.0.1");
	p_u32(&p, 1);
	p_u32(&p, 2);
	p_u32(&p, 3);
	p_u32(&p, 1);
	p_u32(&p, 2);
	p_u32(&p, 0x40000000);
	sf_end(&p, r);
	sf_end(&p, s);
	assert_int_equal(h_feed(h, &p), 0);

	st = h_stats(h, 0, SF_VER);
	assert_int_equal(st.drops[DROP_BAD_SAMPLE], 5);
	assert_int_equal(st.records, 1);

	/* a sample count that cannot fit, a truncated header, an unknown agent type */
	sf_dgram(&p, "192.0.2.5", 0, 7, 1000);
	assert_int_equal(h_feed(h, &p), -1);
	sf_dgram(&p, "192.0.2.5", 0, 8, 1);
	p.n = 20;
	assert_int_equal(h_feed(h, &p), -1);
	sf_dgram(&p, "192.0.2.5", 0, 9, 0);
	put_u32(p.b + 4, 3);
	assert_int_equal(h_feed(h, &p), -1);
	assert_int_equal(
	    h_stats(h, 0, 0).drops[DROP_TRUNCATED] + h_stats(h, 0, 0).drops[DROP_BAD_VERSION], 2);
	h_free(h);
}

static void full_batches_are_emitted(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	size_t s;
	uint32_t n = 0;

	for (int d = 0; d < 100; d++) {
		sf_dgram(&p, "192.0.2.5", 0, (uint32_t)d, 11);
		for (int i = 0; i < 11; i++) {
			s = flow_sample(&p, ++n, 1, 1, 2, 1);
			rec_header(&p, 1, 100, eth_vlan_v4_tcp, sizeof(eth_vlan_v4_tcp));
			sf_end(&p, s);
		}
		assert_int_equal(h_feed(h, &p), 11);
	}
	assert_int_equal(h->n_out, 1100);
	assert_int_equal(h_stats(h, 0, SF_VER).seq_gaps, 0);
	h_free(h);
}

/* sfacctd_counter_file lines and the /metrics series of the latest counters per interface. */
static void counter_file_and_metrics(void **state)
{
	char path[] = "/tmp/weir-test-sfc-XXXXXX", err[256], *text = NULL, line[2048];
	int fd = mkstemp(path);
	size_t len = 0;
	struct if_counters k = {0};

	assert_true(fd >= 0);
	close(fd);
	struct sfcounters *s = sfcounters_open(path, err, sizeof(err));
	assert_non_null(s);
	wip_parse(&k.agent, "192.0.2.6");
	k.sub_agent = 2;
	k.if_index = 4;
	k.has_generic = true;
	k.in_octets = 1000;
	k.in_errors = 3;
	k.out_discards = 9;
	sfcounters_write(s, &k);
	k.in_octets = 2000; /* the same interface again: one series, the latest value */
	k.has_ethernet = true;
	k.dot3[1] = 77;
	sfcounters_write(s, &k);
	k.if_index = 5;
	k.has_ethernet = false;
	sfcounters_write(s, &k);

	struct prom *p = prom_new();
	sfcounters_metrics(s, p);
	FILE *f = open_memstream(&text, &len);
	prom_render(p, f);
	fclose(f);
	assert_non_null(strstr(text, "weir_sflow_if_in_octets_total{agent=\"192.0.2.6\",sub_agent="
	                             "\"2\",ifindex=\"4\"} 2000"));
	assert_non_null(strstr(text, "weir_sflow_if_in_errors_total{agent=\"192.0.2.6\",sub_agent="
	                             "\"2\",ifindex=\"5\"} 3"));
	assert_non_null(strstr(text, "weir_sflow_if_out_discards_total"));
	free(text);
	prom_free(p);
	sfcounters_close(s);

	int lines = 0, eth = 0;
	f = fopen(path, "r");
	while (fgets(line, sizeof(line), f)) {
		lines++;
		eth += strstr(line, "\"dot3StatsFCSErrors\": 77") != NULL;
		assert_non_null(strstr(line, "\"peer_ip_src\": \"192.0.2.6\""));
	}
	fclose(f);
	unlink(path);
	assert_int_equal(lines, 4); /* generic, generic + ethernet, generic */
	assert_int_equal(eth, 1);

	/* without a file: only the table */
	s = sfcounters_open(NULL, err, sizeof(err));
	assert_non_null(s);
	for (uint32_t i = 0; i < SFC_MAX_IF + 10; i++) {
		k.if_index = i;
		k.arrival_ms = i;
		sfcounters_write(s, &k);
	}
	p = prom_new();
	sfcounters_metrics(s, p);
	text = NULL;
	f = open_memstream(&text, &len);
	prom_render(p, f);
	fclose(f);
	assert_non_null(strstr(text, "weir_sflow_if_evicted_total 10"));
	assert_null(strstr(text, "ifindex=\"0\""));
	free(text);
	prom_free(p);
	sfcounters_close(s);
	assert_null(sfcounters_open("/nonexistent/dir/x", err, sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(raw_header_flow_sample),
	    cmocka_unit_test(records_fully_defined),
	    cmocka_unit_test(expanded_sample_qinq_mpls_ipv6),
	    cmocka_unit_test(truncated_header_decodes_what_it_has),
	    cmocka_unit_test(sampled_records_and_extended_data),
	    cmocka_unit_test(unknown_records_and_samples_skipped),
	    cmocka_unit_test(counter_samples),
	    cmocka_unit_test(renormalize),
	    cmocka_unit_test(sample_sequence_gaps),
	    cmocka_unit_test(datagram_sequence_gaps),
	    cmocka_unit_test(sub_agents_have_own_sequences),
	    cmocka_unit_test(interleaved_sources),
	    cmocka_unit_test(many_source_ids),
	    cmocka_unit_test(agent_drops),
	    cmocka_unit_test(bad_input),
	    cmocka_unit_test(full_batches_are_emitted),
	    cmocka_unit_test(counter_file_and_metrics),
	};
	log_setup(LL_ERR, stderr, false, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
