/* gen_v9.c - NetFlow v9 export datagrams (RFC 3954): templates, sampling options, data. */
#include <string.h>

#include "cmd/gen.h"

#define V9_HDR    20
#define V9_REC_V4 (GEN_BODY_V4_LEN + 8)
#define V9_REC_V6 (GEN_BODY_V6_LEN + 8)
#define V9_SET    4

/* RFC 3954 §5.2: sysUptime-relative switch times, 4 bytes each. */
static const struct gen_field v9_times[] = {{22, 4}, {21, 4}}; /* FIRST_/LAST_SWITCHED */

/* RFC 3954 §5.3: FlowSets are padded to a 32-bit boundary. */
static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static size_t set_len(size_t n, size_t rec)
{
	return n ? pad4(V9_SET + n * rec) : 0;
}

static size_t v9_data_len(size_t n4, size_t n6)
{
	return V9_HDR + set_len(n4, V9_REC_V4) + set_len(n6, V9_REC_V6);
}

/*
 * The header's unix_secs has no fraction, so sysUptime is taken at that whole second: a
 * collector computing unix_secs * 1000 - (sysUptime - FIRST_SWITCHED) gets first_ms exactly.
 */
static uint8_t *v9_header(uint8_t *p, struct gen_exporter *x, uint64_t now_ms, uint16_t count)
{
	uint64_t secs = now_ms / 1000;

	p = gen_put16(p, 9);
	p = gen_put16(p, count);
	p = gen_put32(p, (uint32_t)(secs * 1000 - x->boot_ms));
	p = gen_put32(p, (uint32_t)secs);
	p = gen_put32(p, x->seq++); /* export packets sent before this one */
	return gen_put32(p, x->domain);
}

/* Writes the data FlowSet of one family; returns the end (after padding). */
static uint8_t *v9_set(uint8_t *p, const struct gen_exporter *x, const struct gen_rec *r, size_t n,
                       bool v6)
{
	uint8_t *start = p;
	size_t k = 0;

	p += V9_SET;
	for (size_t i = 0; i < n; i++) {
		if (r[i].v6 != v6)
			continue;
		p = gen_put_body(p, &r[i]);
		p = gen_put32(p, (uint32_t)(r[i].first_ms - x->boot_ms));
		p = gen_put32(p, (uint32_t)(r[i].last_ms - x->boot_ms));
		k++;
	}
	if (!k)
		return start;
	while ((size_t)(p - start) & 3)
		*p++ = 0;
	gen_put16(start, v6 ? GEN_TMPL_V6 : GEN_TMPL_V4);
	gen_put16(start + 2, (uint16_t)(p - start));
	return p;
}

static size_t v9_data(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms,
                      const struct gen_rec *r, size_t n)
{
	size_t n6 = 0;

	for (size_t i = 0; i < n; i++)
		n6 += r[i].v6;
	size_t len = v9_data_len(n - n6, n6);
	if (n == 0 || n > GEN_PER_MAX || len > cap)
		return 0;
	uint8_t *p = v9_header(buf, x, now_ms, (uint16_t)n);
	p = v9_set(p, x, r, n, false);
	v9_set(p, x, r, n, true);
	return len;
}

/* Template FlowSet (id 0), options template FlowSet (id 1), options data (RFC 3954 §6.1). */
static size_t v9_templates(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms)
{
	const size_t tlen = V9_SET + 2 * (4 + 4 * (GEN_BODY_FIELDS + 2));
	const size_t olen = pad4(V9_SET + 6 + 3 * 4), dlen = pad4(V9_SET + 9);
	const size_t len = V9_HDR + tlen + olen + dlen;
	uint8_t *p;

	if (len > cap)
		return 0;
	memset(buf, 0, len);
	/* count = 2 templates + 1 options template + 1 options data record */
	p = v9_header(buf, x, now_ms, 4);
	p = gen_put16(p, 0);
	p = gen_put16(p, (uint16_t)tlen);
	p = gen_put_template(p, GEN_TMPL_V4, gen_body_v4, v9_times, 2);
	p = gen_put_template(p, GEN_TMPL_V6, gen_body_v6, v9_times, 2);

	uint8_t *o = p;
	p = gen_put16(p, 1);
	p = gen_put16(p, (uint16_t)olen);
	p = gen_put16(p, GEN_TMPL_OPT);
	p = gen_put16(p, 4); /* scope length in bytes: one field */
	p = gen_put16(p, 8); /* option length in bytes: two fields */
	p = gen_put16(p, 1); /* scope System */
	p = gen_put16(p, 4);
	p = gen_put16(p, 34); /* SAMPLING_INTERVAL */
	p = gen_put16(p, 4);
	p = gen_put16(p, 35); /* SAMPLING_ALGORITHM */
	p = gen_put16(p, 1);
	p = o + olen;

	p = gen_put16(p, GEN_TMPL_OPT);
	p = gen_put16(p, (uint16_t)dlen);
	p = gen_put32(p, x->domain);
	p = gen_put32(p, x->sampling);
	gen_put8(p, 1); /* deterministic */
	return len;
}

const struct gen_format gen_fmt_v9 = {
    .name = "v9",
    .version = 9,
    .max_records = GEN_PER_MAX,
    .data_len = v9_data_len,
    .data = v9_data,
    .templates = v9_templates,
};
