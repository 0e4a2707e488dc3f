/* netflow5.c - NetFlow v5: a 24-byte header and fixed 48-byte records (Cisco NetFlow v5 format). */
#include <string.h>

#include "decode/decode_int.h"

#define NF5_HDR_LEN 24
#define NF5_REC_LEN 48

#define DROP(r)                                                                                    \
	do {                                                                                       \
		reason = (r);                                                                      \
		goto drop;                                                                         \
	} while (0)

static bool nf5_probe(const uint8_t *p, size_t len)
{
	return len >= 2 && get_u16(p) == 5;
}

struct nf5_hdr {
	uint16_t count;
	uint32_t uptime;
	uint32_t secs, nsecs;
	uint32_t seq;
	uint8_t engine_type, engine_id;
	uint16_t sampling; /* mode in the top 2 bits, interval in the low 14 */
};

static bool nf5_header(struct cursor *c, struct nf5_hdr *h)
{
	uint16_t version;
	return cur_u16(c, &version) && cur_u16(c, &h->count) && cur_u32(c, &h->uptime) &&
	       cur_u32(c, &h->secs) && cur_u32(c, &h->nsecs) && cur_u32(c, &h->seq) &&
	       cur_u8(c, &h->engine_type) && cur_u8(c, &h->engine_id) && cur_u16(c, &h->sampling);
}

/* first/last are sysUpTime ms; the header gives the wall clock at export. */
static uint64_t nf5_time(const struct msg_info *m, uint32_t up)
{
	return m->export_ms - (int64_t)(int32_t)(m->uptime_ms - up);
}

static void nf5_record(const uint8_t *r, const struct msg_info *m, struct flow *f)
{
	wip_from_v4(&f->src, get_u32(r));
	wip_from_v4(&f->dst, get_u32(r + 4));
	wip_from_v4(&f->nexthop, get_u32(r + 8));
	f->in_if = get_u16(r + 12);
	f->out_if = get_u16(r + 14);
	f->packets = get_u32(r + 16);
	f->bytes = get_u32(r + 20);
	f->first_ms = nf5_time(m, get_u32(r + 24));
	f->last_ms = nf5_time(m, get_u32(r + 28));
	f->src_port = get_u16(r + 32);
	f->dst_port = get_u16(r + 34);
	f->tcp_flags = r[37];
	f->proto = r[38];
	f->tos = r[39];
	f->src_as = get_u16(r + 40);
	f->dst_as = get_u16(r + 42);
	f->src_mask = r[44];
	f->dst_mask = r[45];
	if (f->proto == 1 || f->proto == 58) {
		/* v5 has no ICMP field: exporters put type << 8 | code in the destination port. */
		f->icmp = f->dst_port;
		FLOW_SET(f, FF_ICMP);
	}
}

#define NF5_PRESENT                                                                                \
	((UINT64_C(1) << FF_SRC_ADDR) | (UINT64_C(1) << FF_DST_ADDR) |                             \
	 (UINT64_C(1) << FF_NEXTHOP) | (UINT64_C(1) << FF_IN_IF) | (UINT64_C(1) << FF_OUT_IF) |    \
	 (UINT64_C(1) << FF_PACKETS) | (UINT64_C(1) << FF_BYTES) | (UINT64_C(1) << FF_FIRST) |     \
	 (UINT64_C(1) << FF_LAST) | (UINT64_C(1) << FF_SRC_PORT) | (UINT64_C(1) << FF_DST_PORT) |  \
	 (UINT64_C(1) << FF_TCP_FLAGS) | (UINT64_C(1) << FF_PROTO) | (UINT64_C(1) << FF_TOS) |     \
	 (UINT64_C(1) << FF_SRC_AS) | (UINT64_C(1) << FF_DST_AS) | (UINT64_C(1) << FF_SRC_MASK) |  \
	 (UINT64_C(1) << FF_DST_MASK) | (UINT64_C(1) << FF_ENGINE))

/* What every record of the datagram shares. */
static void nf5_proto(struct decode_ctx *ctx, const struct nf5_hdr *h, const struct msg_info *m,
                      struct flow *p)
{
	uint32_t rate = h->sampling & 0x3fff;

	memset(p, 0, sizeof(*p));
	p->present = NF5_PRESENT;
	p->exporter = ctx->src;
	p->arrival_ms = m->arrival_ms;
	p->domain = h->engine_id; /* pmacct's export_proto_sysid for v5 */
	p->export_seq = h->seq;
	p->export_version = 5;
	p->ip_version = 4;
	p->flows = 1;
	p->engine_type = h->engine_type;
	p->engine_id = h->engine_id;
	p->sampling_algo = (uint8_t)(h->sampling >> 14);
	if (!rate)
		rate = ctx->st->lim.default_sampling_rate;
	if (rate) {
		p->sampling_rate = rate;
		FLOW_SET(p, FF_SAMPLING);
	}
}

static int nf5_decode(struct decode_ctx *ctx, struct cursor *c)
{
	enum drop_reason reason;
	struct exporter *e = NULL;
	struct nf5_hdr h;
	struct msg_info m;
	struct flow proto;
	struct cursor rec;
	size_t len = cur_left(c);

	if (!nf5_header(c, &h))
		DROP(DROP_TRUNCATED);
	/* Exporters are keyed by engine type and id, v5's only notion of an observation domain. */
	e = exp_get(ctx, (uint32_t)h.engine_type << 8 | h.engine_id, 5, len);
	if (!e)
		return -1;
	if ((size_t)h.count * NF5_REC_LEN > cur_left(c))
		DROP(DROP_TRUNCATED);

	m.arrival_ms = ctx->now_ms;
	m.export_ms = (uint64_t)h.secs * 1000 + h.nsecs / 1000000;
	m.uptime_ms = h.uptime;
	m.seq = h.seq;
	m.version = 5;
	nf5_proto(ctx, &h, &m, &proto);
	for (uint16_t i = 0; i < h.count && cur_sub(c, NF5_REC_LEN, &rec); i++) {
		struct flow *f = dec_slot(ctx);
		memcpy(f, &proto, sizeof(*f));
		nf5_record(rec.p, &m, f);
		ctx->batch->n++;
	}
	e->st.records += h.count;
	exp_seq(e, h.seq, h.count, true); /* flow_sequence counts flows */
	return h.count;
drop:
	dec_drop(ctx, e, reason, "datagram");
	return -1;
}

const struct decoder_ops netflow5_ops = {
    .name = "netflow5",
    .probe = nf5_probe,
    .decode = nf5_decode,
};
