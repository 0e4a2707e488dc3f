/* decode_helpers.h - packet builders and a record-collecting harness for the decoder tests. */
#ifndef WEIR_TEST_DECODE_HELPERS_H
#define WEIR_TEST_DECODE_HELPERS_H

#include <stdlib.h>
#include <string.h>

#include "lib/cursor.h"
#include "weir/decoder.h"

/* A datagram under construction, big-endian like the wire. */
struct pkt {
	uint8_t b[65536 + 64];
	size_t n;
};

static inline void p_u8(struct pkt *p, uint8_t v)
{
	p->b[p->n++] = v;
}

static inline void p_u16(struct pkt *p, uint16_t v)
{
	put_u16(p->b + p->n, v);
	p->n += 2;
}

static inline void p_u32(struct pkt *p, uint32_t v)
{
	put_u32(p->b + p->n, v);
	p->n += 4;
}

static inline void p_u64(struct pkt *p, uint64_t v)
{
	put_u64(p->b + p->n, v);
	p->n += 8;
}

static inline void p_bytes(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static inline void p_zero(struct pkt *p, size_t n)
{
	memset(p->b + p->n, 0, n);
	p->n += n;
}

/* An IPv4 address in dotted form, 4 bytes. */
static inline void p_v4(struct pkt *p, const char *s)
{
	struct wip w;
	wip_parse(&w, s);
	p_bytes(p, w.a + 12, 4);
}

static inline void p_v6(struct pkt *p, const char *s)
{
	struct wip w;
	wip_parse(&w, s);
	p_bytes(p, w.a, 16);
}

/* Starts a (flow)set: id and a length patched by set_end(). Returns its offset. */
static inline size_t set_begin(struct pkt *p, uint16_t id)
{
	size_t off = p->n;
	p_u16(p, id);
	p_u16(p, 0);
	return off;
}

static inline void set_end(struct pkt *p, size_t off)
{
	put_u16(p->b + off + 2, (uint16_t)(p->n - off));
}

/* NetFlow v9 header (RFC 3954 §5.1). */
static inline void nf9_header(struct pkt *p, uint32_t uptime, uint32_t secs, uint32_t seq,
                              uint32_t source_id)
{
	p->n = 0;
	p_u16(p, 9);
	p_u16(p, 0);
	p_u32(p, uptime);
	p_u32(p, secs);
	p_u32(p, seq);
	p_u32(p, source_id);
}

/* IPFIX header (RFC 7011 §3.1); ipfix_end() patches the length. */
static inline void ipfix_header(struct pkt *p, uint32_t export_time, uint32_t seq, uint32_t domain)
{
	p->n = 0;
	p_u16(p, 10);
	p_u16(p, 0);
	p_u32(p, export_time);
	p_u32(p, seq);
	p_u32(p, domain);
}

static inline void ipfix_end(struct pkt *p)
{
	put_u16(p->b + 2, (uint16_t)p->n);
}

/* The decoder under test and every record it produced. */
struct harness {
	struct decode_state *st;
	struct decode_ctx ctx;
	struct flow_batch batch;
	struct flow *out;
	size_t n_out, cap;
	int emits;
};

static inline void h_collect(void *arg, struct flow_batch *b)
{
	struct harness *h = arg;
	if (h->n_out + b->n > h->cap) {
		h->cap = (h->n_out + b->n) * 2 + 64;
		h->out = realloc(h->out, h->cap * sizeof(*h->out));
	}
	memcpy(h->out + h->n_out, b->rec, b->n * sizeof(*b->rec));
	h->n_out += b->n;
	b->n = 0;
	h->emits++;
}

static inline struct harness *h_new(const struct decode_limits *l)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct decode_limits def;
	if (!l) {
		decode_limits_default(&def);
		l = &def;
	}
	h->st = decode_state_new(l);
	h->ctx.st = h->st;
	wip_parse(&h->ctx.src, "192.0.2.1");
	h->ctx.src_port = 2055;
	h->ctx.now_ms = 1700000000000ull;
	h->ctx.batch = &h->batch;
	h->ctx.emit = h_collect;
	h->ctx.emit_arg = h;
	return h;
}

static inline void h_free(struct harness *h)
{
	decode_state_free(h->st);
	free(h->out);
	free(h);
}

/* Decodes one datagram and moves what it produced to h->out. Returns decode_datagram()'s. */
static inline int h_feed(struct harness *h, const struct pkt *p)
{
	int r = decode_datagram(&h->ctx, p->b, p->n);
	if (h->batch.n)
		h_collect(h, &h->batch);
	return r;
}

static inline void h_reset_out(struct harness *h)
{
	h->n_out = 0;
}

struct stats_find {
	uint32_t domain;
	uint8_t version;
	struct exporter_stats s;
	int found;
};

static inline void h_stats_cb(void *arg, const struct exporter_stats *s)
{
	struct stats_find *f = arg;
	if (s->domain == f->domain && s->version == f->version) {
		f->s = *s;
		f->found++;
	}
}

/* Counters of (domain, version); version 0 = the global (no exporter) counters. */
static inline struct exporter_stats h_stats(const struct harness *h, uint32_t domain,
                                            uint8_t version)
{
	struct stats_find f;
	memset(&f, 0, sizeof(f));
	f.domain = domain;
	f.version = version;
	decode_stats_foreach(h->st, h_stats_cb, &f);
	return f.s;
}

static inline void count_cb(void *arg, const struct exporter_stats *s)
{
	if (s->version)
		(*(int *)arg)++;
}

/* Number of exporter entries (the global pseudo-entry excluded). */
static inline int h_exporters(const struct harness *h)
{
	int n = 0;
	decode_stats_foreach(h->st, count_cb, &n);
	return n;
}

#endif
