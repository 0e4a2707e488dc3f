/* netflow9.c - NetFlow v9 (RFC 3954): header, template / options template / data flowsets. */
#include "decode/decode_int.h"

#define NF9_HDR_LEN     20
#define NF9_SET_TMPL    0
#define NF9_SET_OPTIONS 1

#define DROP(r)                                                                                    \
	do {                                                                                       \
		reason = (r);                                                                      \
		goto drop;                                                                         \
	} while (0)

static bool nf9_probe(const uint8_t *p, size_t len)
{
	return len >= 2 && get_u16(p) == 9;
}

/* Reads n (type, length) pairs into the state's scratch array. */
static bool nf9_fields(struct cursor *set, struct tmpl_field *f, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		f[i].pen = 0;
		if (!cur_u16(set, &f[i].id) || !cur_u16(set, &f[i].len))
			return false;
	}
	return true;
}

/* RFC 3954 §5.2: template records until the flowset ends (or padding starts). */
static void nf9_templates(struct decode_ctx *ctx, struct exporter *e, struct cursor *set)
{
	uint32_t max = ctx->st->lim.max_template_fields;
	uint16_t id = 0, count = 0;

	const uint8_t *pad = cur_zero_tail(set);

	while (cur_left(set) >= 4 && set->p < pad) {
		cur_u16(set, &id);
		cur_u16(set, &count);
		if ((size_t)count * 4 > cur_left(set)) {
			dec_drop(ctx, e, DROP_BAD_LENGTH, "template");
			break;
		}
		if (count == 0 || count > max) {
			dec_drop(ctx, e, DROP_BAD_TEMPLATE, "template");
			cur_skip(set, (size_t)count * 4);
			continue;
		}
		nf9_fields(set, ctx->st->fields, count);
		dec_template(ctx, e, 9, id, false, 0, ctx->st->fields, count);
	}
}

/* RFC 3954 §6.1: options templates carry scope and option lengths in bytes. */
static void nf9_options(struct decode_ctx *ctx, struct exporter *e, struct cursor *set)
{
	uint32_t max = ctx->st->lim.max_template_fields;
	uint16_t id = 0, scope_len = 0, opt_len = 0;

	const uint8_t *pad = cur_zero_tail(set);

	while (cur_left(set) >= 6 && set->p < pad) {
		cur_u16(set, &id);
		cur_u16(set, &scope_len);
		cur_u16(set, &opt_len);
		if (scope_len % 4 || opt_len % 4 || (size_t)scope_len + opt_len > cur_left(set)) {
			dec_drop(ctx, e, DROP_BAD_OPTIONS, "options template");
			break;
		}
		uint32_t n = (uint32_t)(scope_len + opt_len) / 4;
		if (n == 0 || n > max) {
			dec_drop(ctx, e, DROP_BAD_TEMPLATE, "options template");
			cur_skip(set, (size_t)scope_len + opt_len);
			continue;
		}
		nf9_fields(set, ctx->st->fields, (uint16_t)n);
		dec_template(ctx, e, 9, id, true, scope_len / 4, ctx->st->fields, (uint16_t)n);
	}
}

static int nf9_decode(struct decode_ctx *ctx, struct cursor *c)
{
	enum drop_reason reason;
	struct exporter *e = NULL;
	struct msg_info m;
	struct cursor set;
	size_t len = cur_left(c);
	uint16_t version, count, id = 0, slen = 0;
	uint32_t secs, domain;
	uint64_t before = 0;
	bool known = true;

	if (!cur_u16(c, &version) || !cur_u16(c, &count) || !cur_u32(c, &m.uptime_ms) ||
	    !cur_u32(c, &secs) || !cur_u32(c, &m.seq) || !cur_u32(c, &domain))
		DROP(DROP_TRUNCATED);
	e = exp_get(ctx, domain, 9, len);
	if (!e)
		return -1;
	before = exp_delivered(e, ctx);
	m.arrival_ms = ctx->now_ms;
	m.export_ms = (uint64_t)secs * 1000;
	m.version = 9;

	while (cur_left(c) >= 4) {
		cur_u16(c, &id);
		cur_u16(c, &slen);
		if (slen < 4)
			DROP(DROP_BAD_SET);
		if (!cur_sub(c, slen - 4u, &set))
			DROP(DROP_BAD_LENGTH);
		if (id == NF9_SET_TMPL)
			nf9_templates(ctx, e, &set);
		else if (id == NF9_SET_OPTIONS)
			nf9_options(ctx, e, &set);
		else if (id >= TMPL_MIN_ID)
			dec_data_set(ctx, e, &m, id, &set, &known);
		/* 2-255: reserved flowset ids, skipped */
	}
	exp_seq(e, m.seq, 1, true); /* v9 counts export packets per source id */
	return (int)(exp_delivered(e, ctx) - before);
drop:
	dec_drop(ctx, e, reason, "datagram");
	if (!e)
		return -1;
	exp_seq(e, m.seq, 1, true);
	/* records decoded before the bad flowset stay delivered */
	return exp_delivered(e, ctx) > before ? (int)(exp_delivered(e, ctx) - before) : -1;
}

const struct decoder_ops netflow9_ops = {
    .name = "netflow9",
    .probe = nf9_probe,
    .decode = nf9_decode,
};
