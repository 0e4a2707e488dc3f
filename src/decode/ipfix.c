/* ipfix.c - IPFIX (RFC 7011): message header, (options) template sets, withdrawals, data sets. */
#include "decode/decode_int.h"

#define IPFIX_HDR_LEN     16
#define IPFIX_SET_TMPL    2
#define IPFIX_SET_OPTIONS 3
#define IPFIX_PEN_BIT     0x8000

#define DROP(r)                                                                                    \
	do {                                                                                       \
		reason = (r);                                                                      \
		goto drop;                                                                         \
	} while (0)

static bool ipfix_probe(const uint8_t *p, size_t len)
{
	return len >= 2 && get_u16(p) == 10;
}

/*
 * RFC 7011 §3.2: field specifiers, 8 bytes when the enterprise bit is set. Stores at most max
 * (the rest is parsed and skipped). False when the set ends inside them.
 */
static bool ipfix_fields(struct cursor *set, struct tmpl_field *f, uint16_t n, uint32_t max)
{
	for (uint16_t i = 0; i < n; i++) {
		struct tmpl_field x = {0, 0, 0};
		if (!cur_u16(set, &x.id) || !cur_u16(set, &x.len))
			return false;
		if (x.id & IPFIX_PEN_BIT) {
			x.id &= (uint16_t)~IPFIX_PEN_BIT;
			if (!cur_u32(set, &x.pen))
				return false;
		}
		if (i < max)
			f[i] = x;
	}
	return true;
}

/* RFC 7011 §8.1: field count 0 withdraws a template; id 2 (3) withdraws all (options) ones. */
static void ipfix_withdraw(struct decode_ctx *ctx, struct exporter *e, uint16_t id, bool options)
{
	if (id == (options ? IPFIX_SET_OPTIONS : IPFIX_SET_TMPL))
		tmpl_withdraw_all(&e->tmpl, options);
	else if (id >= TMPL_MIN_ID)
		tmpl_withdraw(&e->tmpl, id);
	else
		dec_drop(ctx, e, DROP_BAD_TEMPLATE, "template withdrawal");
}

/* Template records of a template set (options: also the scope field count, §3.4.2.2). */
static void ipfix_templates(struct decode_ctx *ctx, struct exporter *e, struct cursor *set,
                            bool options)
{
	uint32_t max = ctx->st->lim.max_template_fields;
	const char *what = options ? "options template" : "template";
	uint16_t id = 0, count = 0, scope = 0;

	const uint8_t *pad = cur_zero_tail(set);

	while (cur_left(set) >= 4 && set->p < pad) {
		cur_u16(set, &id);
		cur_u16(set, &count);
		if (count == 0) {
			ipfix_withdraw(ctx, e, id, options);
			continue;
		}
		if (options && !cur_u16(set, &scope)) {
			dec_drop(ctx, e, DROP_BAD_OPTIONS, what);
			break;
		}
		if (!ipfix_fields(set, ctx->st->fields, count, max)) {
			dec_drop(ctx, e, DROP_BAD_LENGTH, what);
			break;
		}
		if (count > max) {
			dec_drop(ctx, e, DROP_BAD_TEMPLATE, what);
			continue;
		}
		dec_template(ctx, e, 10, id, options, scope, ctx->st->fields, count);
	}
}

static int ipfix_decode(struct decode_ctx *ctx, struct cursor *c)
{
	enum drop_reason reason;
	struct exporter *e = NULL;
	struct msg_info m;
	struct cursor msg, set;
	size_t len = cur_left(c);
	uint16_t version, mlen, id = 0, slen = 0;
	uint32_t secs, domain, data = 0;
	uint64_t before = 0;
	bool known = true;

	if (!cur_u16(c, &version) || !cur_u16(c, &mlen) || !cur_u32(c, &secs) ||
	    !cur_u32(c, &m.seq) || !cur_u32(c, &domain))
		DROP(DROP_TRUNCATED);
	if (mlen < IPFIX_HDR_LEN)
		DROP(DROP_BAD_LENGTH);
	if (!cur_sub(c, mlen - IPFIX_HDR_LEN, &msg))
		DROP(DROP_TRUNCATED);
	e = exp_get(ctx, domain, 10, len);
	if (!e)
		return -1;
	before = exp_delivered(e, ctx);
	m.arrival_ms = ctx->now_ms;
	m.export_ms = (uint64_t)secs * 1000;
	m.uptime_ms = 0;
	m.version = 10;

	while (cur_left(&msg) >= 4) {
		cur_u16(&msg, &id);
		cur_u16(&msg, &slen);
		if (slen < 4)
			DROP(DROP_BAD_SET);
		if (!cur_sub(&msg, slen - 4u, &set))
			DROP(DROP_BAD_LENGTH);
		if (id == IPFIX_SET_TMPL || id == IPFIX_SET_OPTIONS) {
			ipfix_templates(ctx, e, &set, id == IPFIX_SET_OPTIONS);
		} else if (id >= TMPL_MIN_ID) {
			data += dec_data_set(ctx, e, &m, id, &set, &known);
		} else {
			dec_drop(ctx, e, DROP_BAD_SET, "set"); /* 0, 1, 4-255: not data, skipped */
		}
	}
	exp_seq(e, m.seq, data, known); /* counts the data records sent before this message */
	return (int)(exp_delivered(e, ctx) - before);
drop:
	dec_drop(ctx, e, reason, "message");
	if (!e)
		return -1;
	exp_seq(e, m.seq, data, false);
	/* records decoded before the bad set stay delivered */
	return exp_delivered(e, ctx) > before ? (int)(exp_delivered(e, ctx) - before) : -1;
}

const struct decoder_ops ipfix_ops = {
    .name = "ipfix",
    .probe = ipfix_probe,
    .decode = ipfix_decode,
};
