/* hold.c - data sets that arrived before their template, kept (bounded) until it does. */
#include <stdlib.h>
#include <string.h>

#include "decode/decode_int.h"

/* A held set: its message's header fields, then the set body padded to 8 bytes. */
struct held {
	uint64_t arrival_ms;
	uint64_t export_ms;
	uint32_t uptime_ms;
	uint32_t seq;
	uint32_t len;
	uint16_t id;
	uint8_t version;
	uint8_t unused;
};

static size_t held_size(uint32_t len)
{
	return sizeof(struct held) + (((size_t)len + 7) & ~(size_t)7);
}

void hold_free(struct decode_state *st, struct exporter *e)
{
	if (e->hold_n)
		st->n_holding--;
	free(e->hold);
	e->hold = NULL;
	e->hold_len = 0;
	e->hold_n = 0;
	e->hold_ids = 0;
}

/*
 * Walks the held sets (at most HOLD_MAX_SETS); keep() decides for each. Kept sets are compacted
 * to the front, so the buffer stays in arrival order with no holes.
 */
static void hold_filter(struct decode_state *st, struct exporter *e,
                        bool (*keep)(void *arg, const struct held *h, const uint8_t *body),
                        void *arg)
{
	uint32_t r = 0, w = 0, n = 0;
	uint64_t ids = 0;

	while (r < e->hold_len) {
		struct held h;
		memcpy(&h, e->hold + r, sizeof(h));
		size_t sz = held_size(h.len);
		if (keep(arg, &h, e->hold + r + sizeof(h))) {
			if (w != r)
				memmove(e->hold + w, e->hold + r, sz);
			w += (uint32_t)sz;
			n++;
			ids |= UINT64_C(1) << (h.id & 63);
		}
		r += (uint32_t)sz;
	}
	e->hold_len = w;
	e->hold_ids = ids;
	if (e->hold_n && !n)
		st->n_holding--;
	e->hold_n = n;
}

struct expire_arg {
	struct decode_state *st;
	struct exporter *e;
	uint64_t now;
};

static bool keep_fresh(void *arg, const struct held *h, const uint8_t *body)
{
	struct expire_arg *a = arg;
	if (a->now != UINT64_MAX && h->arrival_ms + a->st->lim.hold_ms > a->now)
		return true;
	a->e->st.drops[DROP_NO_TEMPLATE]++;
	return false;
}

void hold_expire(struct decode_state *st, struct exporter *e, uint64_t now)
{
	struct expire_arg a = {st, e, now};
	if (e->hold_n)
		hold_filter(st, e, keep_fresh, &a);
}

bool hold_add(struct decode_ctx *ctx, struct exporter *e, const struct msg_info *m, uint16_t id,
              const struct cursor *set)
{
	struct decode_state *st = ctx->st;
	uint32_t len = (uint32_t)cur_left(set);
	size_t need = held_size(len);
	struct held h;

	if (!st->lim.hold_bytes || !st->lim.hold_ms) {
		dec_drop(ctx, e, DROP_NO_TEMPLATE, "data set");
		return false;
	}
	/* Expiry walks run a few times per hold_ms, not per set: a flood cannot make them hot. */
	if (e->hold_n && m->arrival_ms >= e->hold_scan_ms) {
		e->hold_scan_ms = m->arrival_ms + st->lim.hold_ms / 8;
		hold_expire(st, e, m->arrival_ms);
	}
	if (e->hold_len + need > st->lim.hold_bytes || e->hold_n >= HOLD_MAX_SETS) {
		dec_drop(ctx, e, DROP_HOLD_LIMIT, "data set");
		return false;
	}
	if (!e->hold && !(e->hold = malloc(st->lim.hold_bytes))) {
		dec_drop(ctx, e, DROP_HOLD_LIMIT, "data set");
		return false;
	}
	memset(&h, 0, sizeof(h));
	h.arrival_ms = m->arrival_ms;
	h.export_ms = m->export_ms;
	h.uptime_ms = m->uptime_ms;
	h.seq = m->seq;
	h.len = len;
	h.id = id;
	h.version = m->version;
	memcpy(e->hold + e->hold_len, &h, sizeof(h));
	memcpy(e->hold + e->hold_len + sizeof(h), set->p, len);
	e->hold_len += (uint32_t)need;
	e->hold_ids |= UINT64_C(1) << (id & 63);
	if (e->hold_n++ == 0)
		st->n_holding++;
	e->st.held++;
	return true;
}

struct release_arg {
	struct decode_ctx *ctx;
	struct exporter *e;
	const struct tmpl *t;
	uint32_t n;
};

static bool keep_other(void *arg, const struct held *h, const uint8_t *body)
{
	struct release_arg *a = arg;
	struct msg_info m;
	struct cursor c;
	enum drop_reason why;

	if (h->id != a->t->id)
		return true;
	m.arrival_ms = h->arrival_ms;
	m.export_ms = h->export_ms;
	m.uptime_ms = h->uptime_ms;
	m.seq = h->seq;
	m.version = h->version;
	cur_init(&c, body, h->len);
	a->n += rec_decode_set(a->ctx, a->e, a->t, &m, &c, &why);
	if (why != DROP_NONE)
		dec_drop(a->ctx, a->e, why, "held data record");
	return false;
}

uint32_t hold_release(struct decode_ctx *ctx, struct exporter *e, const struct tmpl *t)
{
	struct release_arg a = {ctx, e, t, 0};
	if (t && e->hold_n && (e->hold_ids >> (t->id & 63) & 1))
		hold_filter(ctx->st, e, keep_other, &a);
	return a.n;
}
