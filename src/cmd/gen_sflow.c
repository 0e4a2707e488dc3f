/* gen_sflow.c - sFlow v5 export datagrams: flow samples with raw headers, and counter samples. */
#include <string.h>

#include "cmd/gen.h"

#define SF_HDR_V4   28 /* version, agent type + IPv4, sub-agent, sequence, uptime, samples */
#define SF_SAMPLE   40 /* format, length, then 8 words of the compact flow sample header */
#define SF_RAW_HDR  24 /* record format, length, protocol, frame length, stripped, header length */
#define SF_L2L3_V4  34 /* Ethernet + IPv4 */
#define SF_L2L3_V6  54 /* Ethernet + IPv6 */
#define SF_L4       20 /* TCP header, or UDP/ICMP header and payload bytes up to the same size */
#define SF_CNT_GEN  88
#define SF_CNT_ETH  52
#define SF_COUNTERS (SF_HDR_V4 + 8 + 12 + 8 + SF_CNT_GEN + 8 + SF_CNT_ETH)

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static size_t sample_len(bool v6)
{
	return SF_SAMPLE + SF_RAW_HDR + pad4((v6 ? SF_L2L3_V6 : SF_L2L3_V4) + SF_L4);
}

static size_t sf_data_len(size_t n4, size_t n6)
{
	return SF_HDR_V4 + n4 * sample_len(false) + n6 * sample_len(true);
}

/* The datagram header; the agent is 127.0.0.1 and the sub-agent the exporter's domain. */
static uint8_t *sf_header(uint8_t *p, struct gen_exporter *x, uint64_t now_ms, uint32_t n)
{
	p = gen_put32(p, 5);
	p = gen_put32(p, 1);
	p = gen_put32(p, 0x7f000001u);
	p = gen_put32(p, x->domain);
	p = gen_put32(p, ++x->seq);
	p = gen_put32(p, (uint32_t)(now_ms - x->boot_ms));
	return gen_put32(p, n);
}

/* Ethernet (locally administered MACs derived from the interfaces) + IP + 20 bytes of L4. */
static uint8_t *sf_frame(uint8_t *p, const struct gen_rec *r, uint32_t frame_len)
{
	static const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x00};
	uint32_t ip_len = frame_len > 18 ? frame_len - 18 : 20; /* frame less Ethernet and FCS */

	memcpy(p, mac, 6);
	p[5] = (uint8_t)r->out_if;
	memcpy(p + 6, mac, 6);
	p[11] = (uint8_t)r->in_if;
	p = gen_put16(p + 12, r->v6 ? 0x86dd : 0x0800);
	if (r->v6) {
		p = gen_put32(p, 6u << 28 | (uint32_t)r->tos << 20);
		p = gen_put16(p, (uint16_t)(ip_len > 40 ? ip_len - 40 : 0));
		p = gen_put8(p, r->proto);
		p = gen_put8(p, 64);
		memcpy(p, r->src, 16);
		memcpy(p + 16, r->dst, 16);
		p += 32;
	} else {
		p = gen_put8(p, 0x45);
		p = gen_put8(p, r->tos);
		p = gen_put16(p, (uint16_t)ip_len);
		p = gen_put32(p, 0);
		p = gen_put8(p, 64);
		p = gen_put8(p, r->proto);
		p = gen_put16(p, 0);
		memcpy(p, r->src, 4);
		memcpy(p + 4, r->dst, 4);
		p += 8;
	}
	memset(p, 0, SF_L4);
	if (r->proto == 1 || r->proto == 58) {
		gen_put16(p, r->dst_port); /* type << 8 | code */
	} else {
		gen_put16(p, r->src_port);
		gen_put16(p + 2, r->dst_port);
		if (r->proto == 6) {
			p[12] = 0x50;
			p[13] = r->tcp_flags;
		}
	}
	return p + SF_L4;
}

/*
 * One compact flow sample standing for the record: frame length bytes / packets, sampling rate
 * = packets, so that renormalized (sfacctd_renormalize) totals equal the record's.
 */
static uint8_t *sf_flow_sample(uint8_t *p, struct gen_exporter *x, const struct gen_rec *r)
{
	uint32_t pk = r->packets ? r->packets : 1;
	uint32_t frame_len = (uint32_t)(r->bytes / pk);
	size_t hlen = (r->v6 ? SF_L2L3_V6 : SF_L2L3_V4) + SF_L4;

	p = gen_put32(p, 1);
	p = gen_put32(p, (uint32_t)(sample_len(r->v6) - 8));
	p = gen_put32(p, ++x->sample_seq);
	p = gen_put32(p, 1); /* one data source (ifIndex 1): one sample sequence */
	p = gen_put32(p, pk);
	p = gen_put32(p, x->sample_seq * pk);
	p = gen_put32(p, 0);
	p = gen_put32(p, r->in_if);
	p = gen_put32(p, r->out_if);
	p = gen_put32(p, 1);
	p = gen_put32(p, 1); /* raw packet header */
	p = gen_put32(p, (uint32_t)(16 + pad4(hlen)));
	p = gen_put32(p, 1); /* Ethernet */
	p = gen_put32(p, frame_len);
	p = gen_put32(p, 4); /* FCS */
	p = gen_put32(p, (uint32_t)hlen);
	p = sf_frame(p, r, frame_len);
	memset(p, 0, pad4(hlen) - hlen);
	return p + (pad4(hlen) - hlen);
}

static size_t sf_data(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms,
                      const struct gen_rec *r, size_t n)
{
	size_t n6 = 0;
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++)
		n6 += r[i].v6;
	size_t len = sf_data_len(n - n6, n6);
	if (len > cap)
		return 0;
	p = sf_header(p, x, now_ms, (uint32_t)n);
	/* IPv4 first, then IPv6, each in order (the encoder contract) */
	for (int fam = 0; fam < 2; fam++)
		for (size_t i = 0; i < n; i++)
			if (r[i].v6 == fam)
				p = sf_flow_sample(p, x, &r[i]);
	return (size_t)(p - buf);
}

/*
 * sFlow has no templates: this hook sends a counter sample (generic and Ethernet counters of
 * ifIndex 1) whenever the other formats would re-send templates. The counters grow with the
 * exporter's uptime, as an interface carrying 1 MB/s would.
 */
static size_t sf_counters(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms)
{
	uint64_t up = now_ms - x->boot_ms;
	uint8_t *p = buf;

	if (cap < SF_COUNTERS)
		return 0;
	p = sf_header(p, x, now_ms, 1);
	p = gen_put32(p, 2);
	p = gen_put32(p, SF_COUNTERS - SF_HDR_V4 - 8);
	p = gen_put32(p, ++x->counter_seq);
	p = gen_put32(p, 1);
	p = gen_put32(p, 2);
	p = gen_put32(p, 1); /* generic interface counters */
	p = gen_put32(p, SF_CNT_GEN);
	p = gen_put32(p, 1);
	p = gen_put32(p, 6);
	p = gen_put64(p, 1000000000);
	p = gen_put32(p, 1);
	p = gen_put32(p, 3);
	p = gen_put64(p, up * 1000);
	p = gen_put32(p, (uint32_t)up);
	memset(p, 0, 20);
	p += 20;
	p = gen_put64(p, up * 500);
	p = gen_put32(p, (uint32_t)(up / 2));
	memset(p, 0, 20);
	p += 20;
	p = gen_put32(p, 2); /* ethernet counters */
	p = gen_put32(p, SF_CNT_ETH);
	memset(p, 0, SF_CNT_ETH);
	p += SF_CNT_ETH;
	return (size_t)(p - buf);
}

const struct gen_format gen_fmt_sflow = {
    .name = "sflow",
    .version = 105,
    .max_records = GEN_PER_MAX,
    .data_len = sf_data_len,
    .data = sf_data,
    .templates = sf_counters,
};
