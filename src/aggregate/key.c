/* key.c - pmacct primitives to key layout; packing a flow into a key and a key back into a row. */
#include "aggregate/key.h"

#include <stdio.h>
#include <string.h>

#include "sink/format.h"

enum key_op {
	KO_COPY, /* size bytes of the member (zero when its presence bit is clear) */
	KO_NET,  /* 16-byte address with the host bits of its mask cleared */
	KO_NONE, /* printed only (BGP primitives until bgp/ lands): no key bytes */
};

#define ALWAYS    0xff
#define M(member) (uint16_t) offsetof(struct flow, member), sizeof(((struct flow *)0)->member)

struct prim {
	const char *name;
	uint8_t op;
	uint16_t foff, size;
	uint8_t ff;  /* presence bit in struct flow */
	uint8_t sel; /* output selector (FF_* or FMT_F_*) */
	uint8_t sum; /* enum agg_sum for the sum_* primitives */
	uint16_t foff_alt;
	uint8_t ff_alt;
};

#define P(n, member, ff, sel)                                                                      \
	{                                                                                          \
		n, KO_COPY, M(member), ff, sel, 0, 0, 0                                            \
	}
#define SUM(n, s, a, b, ffa, ffb, sel)                                                             \
	{                                                                                          \
		n, KO_COPY, M(a), ffa, sel, s, (uint16_t)offsetof(struct flow, b), ffb             \
	}
#define BGP(n, sel)                                                                                \
	{                                                                                          \
		n, KO_NONE, 0, 0, ALWAYS, sel, 0, 0, 0                                             \
	}

/* pmacct's primitive names. Nets and the few specials are handled in add_prim(). */
static const struct prim prims[] = {
    P("src_host", src, FF_SRC_ADDR, FF_SRC_ADDR),
    P("dst_host", dst, FF_DST_ADDR, FF_DST_ADDR),
    P("src_mask", src_mask, FF_SRC_MASK, FF_SRC_MASK),
    P("dst_mask", dst_mask, FF_DST_MASK, FF_DST_MASK),
    P("src_port", src_port, FF_SRC_PORT, FF_SRC_PORT),
    P("dst_port", dst_port, FF_DST_PORT, FF_DST_PORT),
    P("proto", proto, FF_PROTO, FF_PROTO),
    P("tos", tos, FF_TOS, FF_TOS),
    P("src_as", src_as, FF_SRC_AS, FF_SRC_AS),
    P("dst_as", dst_as, FF_DST_AS, FF_DST_AS),
    P("peer_src_as", peer_src_as, ALWAYS, FMT_F_PEER_SRC_AS),
    P("peer_dst_as", peer_dst_as, ALWAYS, FMT_F_PEER_DST_AS),
    P("peer_src_ip", exporter, ALWAYS, FMT_F_EXPORTER),
    P("peer_dst_ip", bgp_nexthop, FF_BGP_NEXTHOP, FF_BGP_NEXTHOP),
    P("in_iface", in_if, FF_IN_IF, FF_IN_IF),
    P("out_iface", out_if, FF_OUT_IF, FF_OUT_IF),
    P("src_mac", src_mac, FF_SRC_MAC, FF_SRC_MAC),
    P("dst_mac", dst_mac, FF_DST_MAC, FF_DST_MAC),
    P("vlan", vlan, FF_VLAN, FF_VLAN),
    P("out_vlan", out_vlan, FF_OUT_VLAN, FF_OUT_VLAN),
    P("sampling_rate", sampling_rate, FF_SAMPLING, FF_SAMPLING),
    P("export_proto_version", export_version, ALWAYS, FMT_F_VERSION),
    P("export_proto_seqno", export_seq, ALWAYS, FMT_F_SEQNO),
    P("export_proto_sysid", domain, ALWAYS, FMT_F_SYSID),
    P("timestamp_start", first_ms, FF_FIRST, FF_FIRST),
    P("timestamp_end", last_ms, FF_LAST, FF_LAST),
    P("timestamp_arrival", arrival_ms, ALWAYS, FMT_F_ARRIVAL),
    P("fwd_status", fwd_status, FF_FWD_STATUS, FF_FWD_STATUS),
    P("tag", tag, ALWAYS, FMT_F_TAG),
    P("tag2", tag2, ALWAYS, FMT_F_TAG2),
    P("label", label, ALWAYS, FMT_F_LABEL),
    P("nexthop", nexthop, FF_NEXTHOP, FF_NEXTHOP),
    SUM("sum_host", AGG_SUM_HOST, src, dst, FF_SRC_ADDR, FF_DST_ADDR, FF_SRC_ADDR),
    SUM("sum_port", AGG_SUM_PORT, src_port, dst_port, FF_SRC_PORT, FF_DST_PORT, FF_SRC_PORT),
    SUM("sum_as", AGG_SUM_AS, src_as, dst_as, FF_SRC_AS, FF_DST_AS, FF_SRC_AS),
    SUM("sum_mac", AGG_SUM_MAC, src_mac, dst_mac, FF_SRC_MAC, FF_DST_MAC, FF_SRC_MAC),
    P("as_path", as_path, ALWAYS, FMT_F_AS_PATH),    /* interned text: the pointer is the key */
    P("std_comm", std_comm, ALWAYS, FMT_F_STD_COMM), /* interned text */
    BGP("ext_comm", FMT_F_EXT_COMM),
    BGP("lrg_comm", FMT_F_LRG_COMM),
    P("local_pref", local_pref, ALWAYS, FMT_F_LOCAL_PREF),
    P("med", med, ALWAYS, FMT_F_MED),
};

/* Accepted and printed as nothing until their source exists (BGP, RPKI, VPN RDs). */
static const char *const silent[] = {
    "src_as_path",    "src_std_comm",    "src_ext_comm", "src_lrg_comm",
    "src_local_pref", "src_med",         "mpls_vpn_rd",  "src_roa",
    "dst_roa",        "peer_dst_ip_bgp", NULL,
};

static int add_field(struct agg_key *k, const struct agg_kfield *f, char *err, size_t errlen)
{
	if (k->n == AGG_FIELDS_MAX || k->len + f->size > AGG_KEY_MAX - 4) {
		snprintf(err, errlen, "aggregate: too many primitives (key over %d bytes)",
		         AGG_KEY_MAX);
		return -1;
	}
	k->f[k->n] = *f;
	k->f[k->n].koff = (uint16_t)k->len;
	k->len += f->size;
	k->n++;
	return 0;
}

static int add_copy(struct agg_key *k, const struct prim *p, char *err, size_t errlen)
{
	struct agg_kfield f = {
	    .size = p->size,
	    .foff = p->foff,
	    .foff_alt = p->sum ? p->foff_alt : p->foff,
	    .op = p->op,
	    .ff = p->ff,
	    .ff_alt = p->sum ? p->ff_alt : p->ff,
	};

	k->fields |= UINT64_C(1) << p->sel;
	if (p->ff != ALWAYS)
		k->present |= UINT64_C(1) << p->ff;
	if (p->sum) {
		if (k->sum && k->sum != p->sum) {
			snprintf(err, errlen, "aggregate: only one sum_* primitive per plugin");
			return -1;
		}
		k->sum = p->sum;
	}
	return p->op == KO_NONE ? 0 : add_field(k, &f, err, errlen);
}

/* src_net/dst_net/sum_net: the masked address, plus the mask so that rows can print it. */
static int add_net(struct agg_key *k, bool dst, bool sum, char *err, size_t errlen)
{
	struct agg_kfield f = {
	    .size = 16,
	    .foff = dst ? offsetof(struct flow, dst) : offsetof(struct flow, src),
	    .foff_alt = offsetof(struct flow, dst),
	    .moff = dst ? offsetof(struct flow, dst_mask) : offsetof(struct flow, src_mask),
	    .moff_alt = offsetof(struct flow, dst_mask),
	    .op = KO_NET,
	    .ff = dst ? FF_DST_ADDR : FF_SRC_ADDR,
	    .ff_alt = FF_DST_ADDR,
	};
	struct agg_kfield m = {
	    .size = 1,
	    .foff = f.moff,
	    .foff_alt = sum ? f.moff_alt : f.moff,
	    .op = KO_COPY,
	    .ff = ALWAYS,
	    .ff_alt = ALWAYS,
	};

	if (!sum)
		f.foff_alt = f.foff, f.moff_alt = f.moff, f.ff_alt = f.ff;
	else if (k->sum && k->sum != AGG_SUM_NET) {
		snprintf(err, errlen, "aggregate: only one sum_* primitive per plugin");
		return -1;
	}
	if (sum)
		k->sum = AGG_SUM_NET;
	k->fields |= FMT_BIT(dst ? FMT_F_DST_NET : FMT_F_SRC_NET);
	k->present |= UINT64_C(1) << (dst ? FF_DST_ADDR : FF_SRC_ADDR);
	return add_field(k, &f, err, errlen) < 0 ? -1 : add_field(k, &m, err, errlen);
}

/* MPLS primitives share one copy of the label stack and its depth. */
static int add_mpls(struct agg_key *k, bool *done, char *err, size_t errlen)
{
	struct agg_kfield s = {.size = sizeof(((struct flow *)0)->mpls),
	                       .foff = offsetof(struct flow, mpls),
	                       .foff_alt = offsetof(struct flow, mpls),
	                       .op = KO_COPY,
	                       .ff = FF_MPLS,
	                       .ff_alt = FF_MPLS};
	struct agg_kfield d = s;

	k->fields |= UINT64_C(1) << FF_MPLS;
	k->present |= UINT64_C(1) << FF_MPLS;
	if (*done)
		return 0;
	*done = true;
	d.size = 1;
	d.foff = d.foff_alt = offsetof(struct flow, mpls_depth);
	return add_field(k, &s, err, errlen) < 0 ? -1 : add_field(k, &d, err, errlen);
}

bool agg_list_next(const char **p, char *item, size_t len)
{
	const char *s = *p;

	if (!s)
		return false;
	const char *end = strchr(s, ',');
	size_t n = end ? (size_t)(end - s) : strlen(s);
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(item, s, n);
	item[n] = '\0';
	*p = end ? end + 1 : NULL;
	return true;
}

static bool listed(const char *list, const char *name)
{
	char item[64];
	const char *p = list;

	while (agg_list_next(&p, item, sizeof(item)))
		if (!strcmp(item, name))
			return true;
	return false;
}

/*
 * as_src_name/as_dst_name: the name follows from the AS number, so the key holds the number
 * (once, also when src_as/dst_as is listed) and the writer looks the name up at output time.
 */
static int add_as_name(struct agg_key *k, const char *list, bool dst, char *err, size_t errlen)
{
	struct prim p = {"", KO_COPY, 0, 4, ALWAYS, 0, 0, 0, 0};

	k->fields |= FMT_BIT(dst ? FMT_F_AS_DST_NAME : FMT_F_AS_SRC_NAME);
	if (listed(list, dst ? "dst_as" : "src_as"))
		return 0;
	/* The other name primitive may already have put the number in: one copy only. */
	p.foff = dst ? offsetof(struct flow, dst_as) : offsetof(struct flow, src_as);
	for (size_t i = 0; i < k->n; i++)
		if (k->f[i].op == KO_COPY && k->f[i].foff == p.foff && k->f[i].size == 4)
			return 0;
	p.ff = dst ? FF_DST_AS : FF_SRC_AS;
	p.sel = dst ? FMT_F_AS_DST_NAME : FMT_F_AS_SRC_NAME;
	return add_copy(k, &p, err, errlen);
}

static int add_prim(struct agg_key *k, const char *list, const char *name, bool *mpls, char *err,
                    size_t errlen)
{
	if (!strcmp(name, "none") || !name[0])
		return 0;
	if (!strcmp(name, "flows")) {
		k->fields |= UINT64_C(1) << FF_FLOWS;
		return 0;
	}
	if (!strcmp(name, "tcpflags")) {
		k->tcpflags = true;
		k->fields |= UINT64_C(1) << FF_TCP_FLAGS;
		k->present |= UINT64_C(1) << FF_TCP_FLAGS;
		return 0;
	}
	if (!strcmp(name, "src_net") || !strcmp(name, "dst_net")) {
		bool dst = name[0] == 'd';
		/* With the host in the key the net follows from host and mask: only the mask. */
		if (listed(list, dst ? "dst_host" : "src_host")) {
			k->fields |= FMT_BIT(dst ? FMT_F_DST_NET : FMT_F_SRC_NET);
			if (listed(list, dst ? "dst_mask" : "src_mask"))
				return 0;
			struct prim m = {"", KO_COPY, 0, 1, ALWAYS, FMT_F_SRC_NET, 0, 0, 0};
			m.foff =
			    dst ? offsetof(struct flow, dst_mask) : offsetof(struct flow, src_mask);
			m.sel = dst ? FMT_F_DST_NET : FMT_F_SRC_NET;
			return add_copy(k, &m, err, errlen);
		}
		return add_net(k, dst, false, err, errlen);
	}
	if (!strcmp(name, "sum_net"))
		return add_net(k, false, true, err, errlen);
	if (!strcmp(name, "as_src_name") || !strcmp(name, "as_dst_name"))
		return add_as_name(k, list, name[3] == 'd', err, errlen);
	if (!strcmp(name, "mpls_label_top") || !strcmp(name, "mpls_label_bottom") ||
	    !strcmp(name, "mpls_label_stack") || !strcmp(name, "mpls_stack_depth"))
		return add_mpls(k, mpls, err, errlen);
	for (size_t i = 0; i < sizeof(prims) / sizeof(prims[0]); i++)
		if (!strcmp(prims[i].name, name))
			return add_copy(k, &prims[i], err, errlen);
	for (size_t i = 0; silent[i]; i++)
		if (!strcmp(silent[i], name))
			return 0;
	snprintf(err, errlen, "aggregate: unknown primitive '%.64s'", name);
	return -1;
}

int agg_key_parse(struct agg_key *k, const char *list, bool binned, char *err, size_t errlen)
{
	char item[64];
	const char *p = list;
	bool mpls = false;

	memset(k, 0, sizeof(*k));
	while (agg_list_next(&p, item, sizeof(item)))
		if (add_prim(k, list, item, &mpls, err, errlen) < 0)
			return -1;
	if (k->sum) {
		static const char *const dirs[] = {
		    "src_host",    "dst_host",    "src_port", "dst_port", "src_as",
		    "dst_as",      "src_net",     "dst_net",  "src_mac",  "dst_mac",
		    "as_src_name", "as_dst_name", NULL};
		for (size_t i = 0; dirs[i]; i++)
			if (listed(list, dirs[i])) {
				snprintf(err, errlen, "aggregate: sum_* cannot be combined with %s",
				         dirs[i]);
				return -1;
			}
	}
	k->binned = binned;
	if (binned)
		k->len += 4;
	if (k->len == 0)
		k->len = 1; /* `none`: every flow lands in one entry */
	return 0;
}

static void pack_net(const struct agg_kfield *f, const uint8_t *src, uint16_t foff, uint16_t moff,
                     uint8_t *out)
{
	unsigned mask = src[moff];

	memcpy(out, src + foff, 16);
	if (wip_is_v4((const struct wip *)(const void *)out))
		mask += 96;
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = mask >= 8 * (i + 1) ? 8 : mask > 8 * i ? mask - 8 * i : 0;
		out[i] &= (uint8_t)(0xff00u >> keep);
	}
}

void agg_key_pack(const struct agg_key *k, const struct flow *fl, int side, uint32_t bin,
                  uint8_t *out)
{
	const uint8_t *src = (const uint8_t *)fl;

	for (size_t i = 0; i < k->n; i++) {
		const struct agg_kfield *f = &k->f[i];
		uint8_t ff = side ? f->ff_alt : f->ff;
		uint8_t *o = out + f->koff;
		if (ff != ALWAYS && !FLOW_HAS(fl, ff)) {
			memset(o, 0, f->size);
			continue;
		}
		if (f->op == KO_NET)
			pack_net(f, src, side ? f->foff_alt : f->foff, side ? f->moff_alt : f->moff,
			         o);
		else
			memcpy(o, src + (side ? f->foff_alt : f->foff), f->size);
	}
	if (k->binned)
		memcpy(out + k->len - 4, &bin, 4);
	else if (k->n == 0)
		out[0] = 0;
}

uint32_t agg_key_bin(const struct agg_key *k, const uint8_t *key)
{
	uint32_t bin = 0;

	if (k->binned)
		memcpy(&bin, key + k->len - 4, 4);
	return bin;
}

uint32_t agg_key_unpack(const struct agg_key *k, const uint8_t *key, struct flow *row)
{
	static const uint8_t zero16[16];
	uint8_t *dst = (uint8_t *)row;

	memset(row, 0, sizeof(*row));
	row->present = k->present;
	for (size_t i = 0; i < k->n; i++) {
		const struct agg_kfield *f = &k->f[i];
		memcpy(dst + f->foff, key + f->koff, f->size);
	}
	/* An all-zero address is one the flows did not carry: printed as pmacct does (0.0.0.0). */
	if (!memcmp(&row->src, zero16, 16))
		row->present &= ~(UINT64_C(1) << FF_SRC_ADDR);
	if (!memcmp(&row->dst, zero16, 16))
		row->present &= ~(UINT64_C(1) << FF_DST_ADDR);
	row->event = FLOW_EV_FLOW;
	return agg_key_bin(k, key);
}
