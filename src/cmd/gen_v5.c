/* gen_v5.c - NetFlow v5 export datagrams (Cisco's fixed format: 24-byte header, 48-byte records).
 */
#include <string.h>

#include "cmd/gen.h"

#define V5_HDR 24
#define V5_REC 48

static size_t v5_data_len(size_t n4, size_t n6)
{
	if (n6 || n4 > GEN_V5_MAX)
		return 0;
	return V5_HDR + V5_REC * n4;
}

static uint16_t as16(uint32_t as)
{
	return as > 0xffff ? GEN_AS_TRANS : (uint16_t)as;
}

static uint8_t *v5_record(uint8_t *p, const struct gen_exporter *x, const struct gen_rec *r)
{
	memcpy(p, r->src, 4);
	memcpy(p + 4, r->dst, 4);
	memcpy(p + 8, r->nexthop, 4);
	p = gen_put16(p + 12, (uint16_t)r->in_if);
	p = gen_put16(p, (uint16_t)r->out_if);
	p = gen_put32(p, r->packets);
	p = gen_put32(p, r->bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)r->bytes);
	p = gen_put32(p, (uint32_t)(r->first_ms - x->boot_ms)); /* sysUptime at first packet */
	p = gen_put32(p, (uint32_t)(r->last_ms - x->boot_ms));
	p = gen_put16(p, r->src_port);
	p = gen_put16(p, r->dst_port);
	p = gen_put8(p, 0);
	p = gen_put8(p, r->tcp_flags);
	p = gen_put8(p, r->proto);
	p = gen_put8(p, r->tos);
	p = gen_put16(p, as16(r->src_as));
	p = gen_put16(p, as16(r->dst_as));
	p = gen_put8(p, r->src_mask);
	p = gen_put8(p, r->dst_mask);
	return gen_put16(p, 0);
}

static size_t v5_data(uint8_t *buf, size_t cap, struct gen_exporter *x, uint64_t now_ms,
                      const struct gen_rec *r, size_t n)
{
	size_t len = v5_data_len(n, 0);
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++)
		if (r[i].v6)
			return 0;
	if (len == 0 || len > cap)
		return 0;
	p = gen_put16(p, 5);
	p = gen_put16(p, (uint16_t)n);
	p = gen_put32(p, (uint32_t)(now_ms - x->boot_ms));
	p = gen_put32(p, (uint32_t)(now_ms / 1000));
	p = gen_put32(p, (uint32_t)(now_ms % 1000) * 1000000u);
	p = gen_put32(p, x->seq);
	p = gen_put8(p, (uint8_t)(x->domain >> 8));
	p = gen_put8(p, (uint8_t)x->domain);
	/* Mode 01 (deterministic) in the top two bits; 0 = not sampled. */
	p = gen_put16(p, x->sampling > 1 ? (uint16_t)(0x4000 | (x->sampling & 0x3fff)) : 0);
	for (size_t i = 0; i < n; i++)
		p = v5_record(p, x, &r[i]);
	x->seq += (uint32_t)n;
	return len;
}

const struct gen_format gen_fmt_v5 = {
    .name = "v5",
    .version = 5,
    .max_records = GEN_V5_MAX,
    .data_len = v5_data_len,
    .data = v5_data,
    .templates = NULL,
};
