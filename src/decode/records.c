/* records.c - runs compiled templates over v9/IPFIX data sets: the per-record hot path. */
#include <string.h>

#include "decode/decode_int.h"

#define FF_MASK         ((UINT64_C(1) << FF_COUNT) - 1)
#define NTP_UNIX_OFFSET UINT64_C(2208988800) /* seconds 1900-01-01 -> 1970-01-01 */

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static inline uint64_t rd_uint(const uint8_t *p, unsigned n)
{
	switch (n) {
	case 1:
		return p[0];
	case 2:
		return get_u16(p);
	case 4:
		return get_u32(p);
	case 8:
		return get_u64(p);
	default:
		return get_uint_be(p, n);
	}
}

/*
 * RFC 7011 §6.1.9-10: micro/nanosecond times are NTP timestamps (seconds since 1900 + 2^-32
 * fractions). An exporter that sends plain units since 1970 instead gives seconds far below
 * the NTP offset; those are read as plain units (div = units per ms).
 */
static uint64_t ntp_ms(uint64_t v, uint64_t div)
{
	uint64_t secs = v >> 32;
	if (secs < NTP_UNIX_OFFSET)
		return v / div;
	return (secs - NTP_UNIX_OFFSET) * 1000 + (((v & 0xffffffffu) * 1000) >> 32);
}

/* Runs one step: the field at q into f (or aux). Inlined: a call per field costs a third. */
static inline __attribute__((always_inline)) void run_op(const struct tmpl_op *op, const uint8_t *q,
                                                         struct flow *f, struct rec_aux *aux)
{
	uint8_t *d = (uint8_t *)f + op->dst;
	uint64_t v;

	switch (op->kind) {
	case OP_U8:
		*d = (uint8_t)rd_uint(q, op->len);
		break;
	case OP_U16: {
		uint16_t v16 = (uint16_t)rd_uint(q, op->len);
		memcpy(d, &v16, 2);
		break;
	}
	case OP_U32: {
		uint32_t v32 = (uint32_t)rd_uint(q, op->len);
		memcpy(d, &v32, 4);
		break;
	}
	case OP_U64:
		v = rd_uint(q, op->len);
		memcpy(d, &v, 8);
		break;
	case OP_AUX:
		aux->v[op->dst] = rd_uint(q, op->len);
		aux->present |= 1u << op->dst;
		return;
	case OP_V4:
		memcpy(d, v4_mapped, 12);
		memcpy(d + 12, q, 4);
		break;
	case OP_V6:
		memcpy(d, q, 16);
		break;
	case OP_MAC:
		memcpy(d, q, 6);
		break;
	case OP_ICMP_TYPE:
		f->icmp = (uint16_t)((f->icmp & 0x00ff) | q[0] << 8);
		break;
	case OP_ICMP_CODE:
		f->icmp = (uint16_t)((f->icmp & 0xff00) | q[0]);
		break;
	case OP_T_SEC:
		v = rd_uint(q, op->len) * 1000;
		memcpy(d, &v, 8);
		break;
	case OP_T_MS:
		v = get_u64(q);
		memcpy(d, &v, 8);
		break;
	case OP_T_US:
		v = ntp_ms(get_u64(q), 1000);
		memcpy(d, &v, 8);
		break;
	case OP_T_NS:
		v = ntp_ms(get_u64(q), 1000000);
		memcpy(d, &v, 8);
		break;
	default:
		return;
	}
	f->present |= UINT64_C(1) << op->bit;
}

/* First/last from sysUpTime (RFC 3954 §8 FIRST_SWITCHED) or export-relative deltas. */
static void resolve_times(const struct exporter *e, const struct msg_info *m, struct flow *f,
                          const struct rec_aux *a)
{
	static const uint8_t up_idx[2] = {AUX_UP_FIRST, AUX_UP_LAST};
	static const uint8_t delta_idx[2] = {AUX_DELTA_FIRST, AUX_DELTA_LAST};
	static const uint8_t bits[2] = {FF_FIRST, FF_LAST};
	uint64_t *dst[2] = {&f->first_ms, &f->last_ms};
	bool has_base = false;
	uint64_t base = 0, ref = 0;

	if (m->version == 10) {
		/* RFC 7011 IE 21/22 count from systemInitTimeMilliseconds (IE 160). */
		if (a->present & 1u << AUX_SYSINIT) {
			has_base = true;
			base = a->v[AUX_SYSINIT];
		} else if (e->has_sys_init) {
			has_base = true;
			base = e->sys_init_ms;
		}
		/* Unknown init time: take the export time as the moment of the latest event. */
		ref = a->present & 1u << AUX_UP_LAST ? a->v[AUX_UP_LAST] : a->v[AUX_UP_FIRST];
	}
	for (int i = 0; i < 2; i++) {
		if (a->present & 1u << up_idx[i]) {
			uint64_t up = a->v[up_idx[i]];
			if (m->version != 10)
				*dst[i] =
				    m->export_ms - (int64_t)(int32_t)(m->uptime_ms - (uint32_t)up);
			else if (has_base)
				*dst[i] = base + up;
			else
				*dst[i] = m->export_ms - (int64_t)(int32_t)(uint32_t)(ref - up);
			f->present |= UINT64_C(1) << bits[i];
		} else if (a->present & 1u << delta_idx[i]) {
			*dst[i] = m->export_ms - a->v[delta_idx[i]] / 1000;
			f->present |= UINT64_C(1) << bits[i];
		}
	}
}

/* An inline sampling rate: interval, or population/size, or (interval + space) / interval. */
static void resolve_rate(struct flow *f, const struct rec_aux *a)
{
	uint64_t rate = 0;
#define HAS(i) (a->present & 1u << (i))
	if (HAS(AUX_RATE))
		rate = a->v[AUX_RATE];
	else if (HAS(AUX_SMP_SIZE) && HAS(AUX_SMP_POP) && a->v[AUX_SMP_SIZE])
		rate = a->v[AUX_SMP_POP] / a->v[AUX_SMP_SIZE];
	else if (HAS(AUX_PKT_INTERVAL) && HAS(AUX_PKT_SPACE) && a->v[AUX_PKT_INTERVAL])
		rate = (a->v[AUX_PKT_INTERVAL] + a->v[AUX_PKT_SPACE]) / a->v[AUX_PKT_INTERVAL];
#undef HAS
	if (rate && rate <= UINT32_MAX) {
		f->sampling_rate = (uint32_t)rate;
		FLOW_SET(f, FF_SAMPLING);
	}
}

/* Stack depth: up to the bottom-of-stack bit, else up to the last non-zero entry. */
static void resolve_mpls(struct flow *f)
{
	uint8_t depth = 0;
	for (uint8_t i = 0; i < FLOW_MPLS_MAX; i++) {
		if (f->mpls[i])
			depth = i + 1;
		if (f->mpls[i] & 1)
			break;
	}
	f->mpls_depth = depth;
}

/* What an options record teaches about its exporter: samplers, system init time. */
static void learn_options(struct exporter *e, const struct flow *f, const struct rec_aux *a)
{
	if (a->present & 1u << AUX_SYSINIT) {
		e->sys_init_ms = a->v[AUX_SYSINIT];
		e->has_sys_init = true;
	}
	if (!FLOW_HAS(f, FF_SAMPLING))
		return;
	if (FLOW_HAS(f, FF_SAMPLER_ID)) {
		exp_sampler_set(e, f->sampler_id, f->sampling_rate, f->sampling_algo);
	} else {
		e->default_rate = f->sampling_rate;
		e->default_algo = f->sampling_algo;
	}
}

/* Per-set context of the record loop. */
struct set_run {
	struct decode_ctx *ctx;
	struct exporter *e;
	const struct tmpl *t;
	const struct msg_info *m;
	uint32_t default_rate;
	uint32_t cached_id, cached_rate; /* last sampler looked up */
	bool cached;
	struct flow scratch; /* options records nobody asked for */
};

/* Everything after the program: times, rates, depth, sampling defaults. */
static void finish(struct set_run *r, struct flow *f, const struct rec_aux *a)
{
	const struct tmpl *t = r->t;

	if (t->post & (TP_UPTIME | TP_DELTA))
		resolve_times(r->e, r->m, f, a);
	if (t->post & TP_SAMPLING)
		resolve_rate(f, a);
	if (t->post & TP_MPLS)
		resolve_mpls(f);
	if (t->options) {
		learn_options(r->e, f, a);
	} else if (!FLOW_HAS(f, FF_SAMPLING)) {
		uint32_t rate = 0;
		if (FLOW_HAS(f, FF_SAMPLER_ID)) {
			if (!r->cached || r->cached_id != f->sampler_id) {
				r->cached = true;
				r->cached_id = f->sampler_id;
				r->cached_rate = exp_sampler_rate(r->e, f->sampler_id);
			}
			rate = r->cached_rate;
		}
		if (!rate)
			rate = r->default_rate;
		if (rate) {
			f->sampling_rate = rate;
			FLOW_SET(f, FF_SAMPLING);
		}
	}
	f->present &= FF_MASK;
}

/*
 * Copies a record with plain vector moves. For this size compilers pick rep movs for memcpy
 * (or turn a copy loop back into it), which cost a quarter of the per-record time; the empty
 * asm keeps each 16-byte move a move.
 */
static inline void flow_copy(struct flow *dst, const struct flow *src)
{
#if defined(__x86_64__) && defined(__SSE2__)
	typedef uint64_t vec16 __attribute__((vector_size(16), aligned(8), may_alias));
	vec16 *d = (vec16 *)(void *)dst;
	const vec16 *s = (const vec16 *)(const void *)src;
	size_t i;

	for (i = 0; i < sizeof(struct flow) / sizeof(vec16); i++) {
		vec16 v = s[i];
		__asm__("" : "+x"(v));
		d[i] = v;
	}
	if (sizeof(struct flow) % sizeof(vec16))
		memcpy((uint8_t *)dst + i * sizeof(vec16), (const uint8_t *)src + i * sizeof(vec16),
		       sizeof(struct flow) % sizeof(vec16));
#else
	memcpy(dst, src, sizeof(*dst));
#endif
}

static inline struct flow *rec_start(struct set_run *r, const struct flow *proto)
{
	struct flow *f = r->t->options && !r->ctx->want_options ? &r->scratch : dec_slot(r->ctx);
	flow_copy(f, proto);
	return f;
}

static inline void rec_commit(struct set_run *r, struct flow *f)
{
	if (f != &r->scratch)
		r->ctx->batch->n++;
}

/* Fixed-length records: every mapped field at its precomputed offset. */
static uint32_t run_fixed(struct set_run *r, const struct flow *proto, struct cursor *set)
{
	const struct tmpl *t = r->t;
	const struct tmpl_op *ops = t->ops, *end = t->ops + t->n_ops;
	struct cursor rec;
	uint32_t n = 0;

	while (cur_sub(set, t->min_len, &rec)) {
		struct flow *f = rec_start(r, proto);
		struct rec_aux aux;
		aux.present = 0;
		for (const struct tmpl_op *op = ops; op < end; op++)
			run_op(op, rec.p + op->src, f, &aux);
		finish(r, f, &aux);
		rec_commit(r, f);
		n++;
	}
	return n;
}

/* Reads a variable-length field's length (RFC 7011 §7: 1 byte, or 255 then 2 bytes). */
static bool var_len(struct cursor *c, uint16_t *len)
{
	uint8_t l8;
	if (!cur_u8(c, &l8))
		return false;
	if (l8 < 255) {
		*len = l8;
		return true;
	}
	return cur_u16(c, len);
}

/* Records with variable-length fields: every field in order. */
static uint32_t run_var(struct set_run *r, const struct flow *proto, struct cursor *set,
                        enum drop_reason *why)
{
	const struct tmpl *t = r->t;
	uint32_t n = 0;

	while (cur_left(set) >= t->min_len) {
		struct flow *f = rec_start(r, proto);
		struct rec_aux aux;
		aux.present = 0;
		for (uint16_t i = 0; i < t->n_ops; i++) {
			const struct tmpl_op *op = &t->ops[i];
			uint16_t len = op->len;
			const uint8_t *q;
			if (len == TMPL_VARLEN && !var_len(set, &len))
				goto overflow;
			q = set->p;
			if (!cur_skip(set, len))
				goto overflow;
			if (op->kind != OP_SKIP)
				run_op(op, q, f, &aux);
		}
		finish(r, f, &aux);
		rec_commit(r, f);
		n++;
	}
	return n;
overflow:
	*why = DROP_RECORD_OVERFLOW;
	return n;
}

uint32_t rec_decode_set(struct decode_ctx *ctx, struct exporter *e, const struct tmpl *t,
                        const struct msg_info *m, struct cursor *set, enum drop_reason *why)
{
	struct set_run r;
	struct flow proto;
	uint32_t n;

	static const struct flow zero;

	*why = DROP_NONE;
	flow_copy(&proto, &zero);
	proto.exporter = ctx->src;
	proto.arrival_ms = m->arrival_ms;
	proto.domain = e->st.domain;
	proto.export_seq = m->seq;
	proto.export_version = m->version;
	proto.template_id = t->id;
	proto.ip_version = t->ip_version;
	proto.flows = 1;
	proto.event = t->options ? FLOW_EV_OPTION : FLOW_EV_FLOW;

	r.ctx = ctx;
	r.e = e;
	r.t = t;
	r.m = m;
	r.default_rate = e->default_rate ? e->default_rate : ctx->st->lim.default_sampling_rate;
	r.cached = false;
	n = t->varlen ? run_var(&r, &proto, set, why) : run_fixed(&r, &proto, set);
	if (t->options)
		e->st.option_records += n;
	else
		e->st.records += n;
	return n;
}

uint32_t dec_data_set(struct decode_ctx *ctx, struct exporter *e, const struct msg_info *m,
                      uint16_t id, struct cursor *set, bool *known)
{
	const struct tmpl *t = tmpl_find(&e->tmpl, id);
	enum drop_reason why;
	uint32_t n;

	if (!t) {
		*known = false;
		hold_add(ctx, e, m, id, set);
		return 0;
	}
	n = rec_decode_set(ctx, e, t, m, set, &why);
	if (why != DROP_NONE) {
		*known = false;
		dec_drop(ctx, e, why, "data record");
	}
	return n;
}

void dec_template(struct decode_ctx *ctx, struct exporter *e, uint8_t version, uint16_t id,
                  bool options, uint16_t scope_count, const struct tmpl_field *f, uint16_t n)
{
	enum drop_reason why;
	int r = tmpl_define(&e->tmpl, &ctx->st->lim, version, id, options, scope_count, f, n, &why);

	if (r < 0) {
		dec_drop(ctx, e, why, options ? "options template" : "template");
		return;
	}
	if (r > 0)
		e->st.templates++;
	if (e->hold_n)
		hold_release(ctx, e, tmpl_find(&e->tmpl, id));
}
