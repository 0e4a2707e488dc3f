/* gen_ipfix.c - IPFIX messages (RFC 7011): templates, sampling options, data sets. */
#include <string.h>

#include "cmd/gen.h"

#define IPFIX_HDR    16
#define IPFIX_SET    4
#define IPFIX_REC_V4 (GEN_BODY_V4_LEN + 16)
#define IPFIX_REC_V6 (GEN_BODY_V6_LEN + 16)

static const struct gen_field ipfix_times[] = {{152, 8}, {153, 8}}; /* flowStart/EndMillis */

static size_t set_len(size_t n, size_t rec)
{
	return n ? IPFIX_SET + n * rec : 0;
}

static size_t ipfix_data_len(size_t n4, size_t n6)
{
	size_t len = IPFIX_HDR + set_len(n4, IPFIX_REC_V4) + set_len(n6, IPFIX_REC_V6);
	return len > 0xffff ? 0 : len;
}

/* RFC 7011 §3.1: the sequence number counts data records sent before this message. */
static uint8_t *ipfix_header(uint8_t *p, const struct gen_exporter *x, uint64_t now_ms, size_t len)
{
	p = gen_put16(p, 10);
	p = gen_put16(p, (uint16_t)len);
	p = gen_put32(p, (uint32_t)(now_ms / 1000));
	p = gen_put32(p, x->seq);
	return gen_put32(p, x->domain);
}

static uint8_t *ipfix_set(uint8_t *p, const struct gen_rec *r, size_t n, bool v6)
{
	uint8_t *start = p;
	size_t k = 0;

	p += IPFIX_SET;
	for (size_t i = 0; i < n; i++) {
		if (r[i].v6 != v6)
			continue;
		p = gen_put_body(p, &r[i]);
		p = gen_put64(p, r[i].first_ms);
		p = gen_put64(p, r[i].last_ms);
		k++;
	}
	if (!k)
		return start;
	gen_put16(start, v6 ? GEN_TMPL_V6 : GEN_TMPL_V4);
	gen_put16(start + 2, (uint16_t)(p - start));
	return p;
}

static size_t ipfix_data(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms,
                         const struct gen_rec *r, size_t n)
{
	size_t n6 = 0;

	for (size_t i = 0; i < n; i++)
		n6 += r[i].v6;
	size_t len = ipfix_data_len(n - n6, n6);
	if (n == 0 || n > GEN_PER_MAX || len == 0 || len > cap)
		return 0;
	uint8_t *p = ipfix_header(buf, x, now_ms, len);
	p = ipfix_set(p, r, n, false);
	ipfix_set(p, r, n, true);
	x->seq += (uint32_t)n;
	return len;
}

/*
 * Template set (id 2), options template set (id 3, RFC 7011 §3.4.2.2) scoped to the observation
 * domain, and its data record: samplingInterval (34) and samplingAlgorithm (35).
 */
static size_t ipfix_templates(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms)
{
	const size_t tlen = IPFIX_SET + 2 * (4 + 4 * (GEN_BODY_FIELDS + 2));
	const size_t olen = IPFIX_SET + 6 + 3 * 4, dlen = IPFIX_SET + 9;
	const size_t len = IPFIX_HDR + tlen + olen + dlen;
	uint8_t *p;

	if (len > cap)
		return 0;
	p = ipfix_header(buf, x, now_ms, len);
	p = gen_put16(p, 2);
	p = gen_put16(p, (uint16_t)tlen);
	p = gen_put_template(p, GEN_TMPL_V4, gen_body_v4, ipfix_times, 2);
	p = gen_put_template(p, GEN_TMPL_V6, gen_body_v6, ipfix_times, 2);

	p = gen_put16(p, 3);
	p = gen_put16(p, (uint16_t)olen);
	p = gen_put16(p, GEN_TMPL_OPT);
	p = gen_put16(p, 3);   /* field count */
	p = gen_put16(p, 1);   /* scope field count */
	p = gen_put16(p, 149); /* observationDomainId */
	p = gen_put16(p, 4);
	p = gen_put16(p, 34); /* samplingInterval */
	p = gen_put16(p, 4);
	p = gen_put16(p, 35); /* samplingAlgorithm */
	p = gen_put16(p, 1);

	p = gen_put16(p, GEN_TMPL_OPT);
	p = gen_put16(p, (uint16_t)dlen);
	p = gen_put32(p, x->domain);
	p = gen_put32(p, x->sampling);
	gen_put8(p, 1); /* deterministic */
	x->seq += 1;    /* the options data record is a data record too */
	return len;
}

const struct gen_format gen_fmt_ipfix = {
    .name = "ipfix",
    .version = 10,
    .max_records = GEN_PER_MAX,
    .data_len = ipfix_data_len,
    .data = ipfix_data,
    .templates = ipfix_templates,
};
