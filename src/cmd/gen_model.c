/* gen_model.c - deterministic flow keys and records for `weir gen`, and the record packer. */
#include <string.h>

#include "cmd/gen.h"

/* splitmix64 (Steele, Lea, Flood 2014): one multiply-xorshift round per output, full period. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *state)
{
	*state += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(*state);
}

/* Uniform in [0, n) from the top 32 bits of r (Lemire's multiply-shift, no division). */
static uint32_t pick(uint64_t r, uint32_t n)
{
	return (uint32_t)(((r >> 32) * (uint64_t)n) >> 32);
}

void gen_model_init(struct gen_model *m, uint64_t seed, uint32_t keys, uint32_t v6_pct,
                    uint32_t packets)
{
	m->seed = seed;
	m->rng = mix64(seed ^ UINT64_C(0x5eed5eed5eed5eed));
	m->keys = keys ? keys : 1;
	if (m->keys > GEN_KEYS_MAX)
		m->keys = GEN_KEYS_MAX;
	m->v6_pct = v6_pct > 100 ? 100 : v6_pct;
	m->packets = packets ? packets : 1;
	if (m->packets > GEN_PKTS_MAX)
		m->packets = GEN_PKTS_MAX;
}

static const uint16_t services[] = {80, 443, 443, 443, 53, 123, 22, 25, 993, 8080, 3306, 5060};
static const uint8_t tos_values[] = {0x00, 0x00, 0x00, 0x10, 0x28, 0x48, 0xb8};
/* ICMP type << 8 | code: echo request, echo reply, port unreachable. */
static const uint16_t icmp4_codes[] = {0x0800, 0x0000, 0x0303};
static const uint16_t icmp6_codes[] = {0x8000, 0x8100, 0x0104};
static const uint8_t tcp_flag_values[] = {0x02, 0x12, 0x10, 0x18, 0x18, 0x11, 0x1b, 0x04};

static void key_addresses(struct gen_rec *r, uint32_t idx, uint64_t h2, uint64_t h3)
{
	uint32_t host = idx + 1;

	if (!r->v6) {
		/* 10.0.0.0/8 only; the source carries the key index so keys are distinct. */
		gen_put32(r->src, 0x0a000000u | (host & 0xffffffu));
		gen_put32(r->dst, 0x0a000000u | (uint32_t)(h2 & 0xffffffu));
		gen_put32(r->nexthop, 0x0aff0000u | (1 + pick(h3, 254)));
		r->src_mask = (uint8_t)(16 + pick(h2 << 16, 13));
		r->dst_mask = (uint8_t)(16 + pick(h3 << 16, 13));
		return;
	}
	/* 2001:db8::/32 (RFC 3849 documentation space). */
	gen_put32(r->src, 0x20010db8u);
	gen_put32(r->src + 12, host);
	gen_put32(r->dst, 0x20010db8u);
	gen_put32(r->dst + 4, 0x01000000u | (uint32_t)(h2 >> 40));
	gen_put32(r->dst + 12, (uint32_t)h2);
	gen_put32(r->nexthop, 0x20010db8u);
	gen_put16(r->nexthop + 4, 0xffff);
	gen_put16(r->nexthop + 14, (uint16_t)(1 + pick(h3, 254)));
	r->src_mask = 64;
	r->dst_mask = (uint8_t)(48 + 8 * pick(h3 << 16, 3));
}

void gen_key(const struct gen_model *m, uint32_t idx, struct gen_rec *r)
{
	uint64_t h1 = mix64(m->seed * UINT64_C(0x9e3779b97f4a7c15) ^ idx);
	uint64_t h2 = mix64(h1 ^ UINT64_C(0xa5a5a5a5a5a5a5a5));
	uint64_t h3 = mix64(h2 ^ UINT64_C(0x5a5a5a5a5a5a5a5a));
	uint32_t p = pick(h1 << 16, 100);

	memset(r, 0, sizeof(*r));
	r->v6 = pick(h1, 100) < m->v6_pct;
	key_addresses(r, idx, h2, h3);
	if (p < 70) {
		r->proto = 6;
	} else if (p < 95) {
		r->proto = 17;
	} else {
		r->proto = r->v6 ? 58 : 1;
	}
	if (r->proto == 1 || r->proto == 58) {
		r->src_port = 0;
		r->dst_port =
		    r->v6 ? icmp6_codes[pick(h1 << 24, 3)] : icmp4_codes[pick(h1 << 24, 3)];
	} else {
		r->src_port = (uint16_t)(1024 + pick(h2 << 8, 64512));
		r->dst_port = services[pick(h1 << 24, sizeof(services) / sizeof(services[0]))];
	}
	r->tos = tos_values[pick(h3 << 8, sizeof(tos_values))];
	r->in_if = 1 + pick(h3 << 24, 48);
	r->out_if = 1 + pick(h2 << 24, 48);
	/* Private 2-byte ASNs, and 4-byte ones (RFC 6996) for one key in eight. */
	r->src_as = pick(h3 << 4, 8) ? 64512 + pick(h3 << 12, 1000) : 4200000000u + (idx & 0xffff);
	r->dst_as = 64512 + pick(h2 << 12, 1000);
}

/* Packet size: a trimodal mix of small (ACK, DNS), medium and near-MTU packets. */
static uint32_t packet_size(uint64_t r, uint8_t proto)
{
	uint32_t u = pick(r, 100);

	if (proto == 1 || proto == 58)
		return 64 + pick(r << 8, 64);
	if (u < 45)
		return 40 + pick(r << 8, 60);
	if (u < 70)
		return 100 + pick(r << 8, 476);
	return 1200 + pick(r << 8, 301);
}

void gen_next(struct gen_model *m, uint64_t end_ms, struct gen_rec *r)
{
	uint64_t a = rng_next(&m->rng);
	uint64_t b = rng_next(&m->rng);
	uint64_t dur = 0;

	gen_key(m, pick(a, m->keys), r);
	r->packets = m->packets;
	r->bytes = (uint64_t)packet_size(b, r->proto) * m->packets;
	r->tcp_flags = r->proto == 6 ? tcp_flag_values[pick(a << 32, sizeof(tcp_flag_values))] : 0;
	if (m->packets > 1)
		dur = pick(b << 16, 30000);
	r->last_ms = end_ms - pick(b << 32, 30000);
	r->first_ms = r->last_ms - dur;
}

size_t gen_pack(const struct gen_format *f, struct gen_model *m, struct gen_packer *pk,
                uint64_t end_ms, size_t budget, size_t max, struct gen_rec *r)
{
	size_t n = 0, n4 = 0, n6 = 0;

	if (max > f->max_records)
		max = f->max_records;
	while (n < max) {
		if (pk->has_carry) {
			r[n] = pk->carry;
			pk->has_carry = false;
		} else {
			gen_next(m, end_ms, &r[n]);
		}
		size_t len = f->data_len(n4 + !r[n].v6, n6 + r[n].v6);
		if (n > 0 && (len == 0 || len > budget)) {
			pk->carry = r[n];
			pk->has_carry = true;
			break;
		}
		n4 += !r[n].v6;
		n6 += r[n].v6;
		n++;
	}
	return n;
}

size_t gen_per_dgram_v4(const struct gen_format *f, size_t budget)
{
	size_t n = 1;

	while (n < f->max_records && f->data_len(n + 1, 0) <= budget)
		n++;
	return n;
}

const struct gen_format *gen_format_find(const char *name)
{
	static const struct {
		const char *name;
		const struct gen_format *f;
	} names[] = {
	    {"v5", &gen_fmt_v5},     {"5", &gen_fmt_v5},        {"v9", &gen_fmt_v9},
	    {"9", &gen_fmt_v9},      {"ipfix", &gen_fmt_ipfix}, {"10", &gen_fmt_ipfix},
	    {"v10", &gen_fmt_ipfix}, {"sflow", &gen_fmt_sflow}, {"sflow5", &gen_fmt_sflow},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i].name))
			return names[i].f;
	return NULL;
}
