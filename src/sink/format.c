/* format.c - flow records as pmacct-style JSON objects and CSV rows (print sink, weir decode). */
#include "sink/format.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

_Static_assert(FMT_F_COUNT <= 64, "format selectors must fit in fmt_opts.fields");

/* How a column's value is found in struct flow and written. */
enum col_type {
	T_U8, /* integer members of struct flow, by size */
	T_U16,
	T_U32,
	T_U64,
	T_U8STR, /* u8 printed as a quoted decimal string (pmacct tcp_flags, fwd_status) */
	T_IP,    /* struct wip */
	T_MAC,   /* uint8_t[6] */
	T_TS,    /* uint64_t ms since the epoch */
	T_PROTO, /* pmacct protocol name */
	T_DIR,   /* "ingress" / "egress" */
	T_MPLS_TOP,
	T_MPLS_BOTTOM,
	T_MPLS_DEPTH,
	T_MPLS_STACK, /* "label_label_..." top first, like pmacct's mpls_label_stack */
	T_ICMP_TYPE,
	T_ICMP_CODE,
	T_NET,       /* struct wip masked by the mask byte that follows the address columns */
	T_LABEL,     /* const char * (pre_tag_map label) */
	T_STAMP_INS, /* fmt_opts.stamp_inserted_ms */
	T_STAMP_UPD, /* fmt_opts.stamp_updated_ms */
	T_EMPTY,     /* BGP text primitives without a source yet (ext_comm, lrg_comm): "" */
	T_BGPTEXT,   /* const char * (interned AS path / communities), spaces printed as '_' */
	T_ASNAME,    /* const char * (AS name from the resolver): JSON-escaped */
};

#define COL_COUNTER 1u /* packets/bytes: printed for every flow record */
#define COL_BGP     2u /* BGP attributes: printed by FMT_PRESENT when the record has FF_BGP */

struct column {
	const char *json;
	const char *csv;
	uint8_t sel; /* FF_* or FMT_F_* bit that selects and marks the column present */
	uint8_t type;
	uint8_t flags;
	uint16_t off; /* offsetof(struct flow, member) */
};

#define COL(j, c, sel, type, member)                                                               \
	{                                                                                          \
		j, c, sel, type, 0, offsetof(struct flow, member)                                  \
	}
#define COLF(j, c, sel, type, flags, member)                                                       \
	{                                                                                          \
		j, c, sel, type, flags, offsetof(struct flow, member)                              \
	}

/*
 * pmacct's column order (print plugin), then weir's extras, then the counters. The extras have
 * no pmacct primitive: nexthop (IP next hop; peer_ip_dst is the BGP next hop as in pmacct),
 * direction, icmp_type/icmp_code, sampler_id, flow_end_reason, flow_id, engine_type/engine_id
 * (NetFlow v5) and rev_packets/rev_bytes (RFC 5103 biflow reverse counters).
 */
static const struct column columns[] = {
    COL("tag", "TAG", FMT_F_TAG, T_U64, tag),
    COL("tag2", "TAG2", FMT_F_TAG2, T_U64, tag2),
    COL("label", "LABEL", FMT_F_LABEL, T_LABEL, label),
    COL("mac_src", "SRC_MAC", FF_SRC_MAC, T_MAC, src_mac),
    COL("mac_dst", "DST_MAC", FF_DST_MAC, T_MAC, dst_mac),
    COL("vlan", "VLAN", FF_VLAN, T_U16, vlan),
    COL("vlan_out", "OUT_VLAN", FF_OUT_VLAN, T_U16, out_vlan),
    COL("as_src", "SRC_AS", FF_SRC_AS, T_U32, src_as),
    COL("as_dst", "DST_AS", FF_DST_AS, T_U32, dst_as),
    COL("as_src_name", "AS_SRC_NAME", FMT_F_AS_SRC_NAME, T_ASNAME, as_src_name),
    COL("as_dst_name", "AS_DST_NAME", FMT_F_AS_DST_NAME, T_ASNAME, as_dst_name),
    COLF("comms", "STD_COMM", FMT_F_STD_COMM, T_BGPTEXT, COL_BGP, std_comm),
    COL("ecomms", "EXT_COMM", FMT_F_EXT_COMM, T_EMPTY, tag),
    COL("lcomms", "LRG_COMM", FMT_F_LRG_COMM, T_EMPTY, tag),
    COLF("as_path", "AS_PATH", FMT_F_AS_PATH, T_BGPTEXT, COL_BGP, as_path),
    COLF("local_pref", "LOCAL_PREF", FMT_F_LOCAL_PREF, T_U32, COL_BGP, local_pref),
    COL("med", "MED", FMT_F_MED, T_U32, med),
    COLF("peer_as_src", "PEER_SRC_AS", FMT_F_PEER_SRC_AS, T_U32, COL_BGP, peer_src_as),
    COLF("peer_as_dst", "PEER_DST_AS", FMT_F_PEER_DST_AS, T_U32, COL_BGP, peer_dst_as),
    COL("peer_ip_src", "PEER_SRC_IP", FMT_F_EXPORTER, T_IP, exporter),
    COL("peer_ip_dst", "PEER_DST_IP", FF_BGP_NEXTHOP, T_IP, bgp_nexthop),
    COL("iface_in", "IN_IFACE", FF_IN_IF, T_U32, in_if),
    COL("iface_out", "OUT_IFACE", FF_OUT_IF, T_U32, out_if),
    COL("ip_src", "SRC_IP", FF_SRC_ADDR, T_IP, src),
    COL("net_src", "SRC_NET", FMT_F_SRC_NET, T_NET, src),
    COL("ip_dst", "DST_IP", FF_DST_ADDR, T_IP, dst),
    COL("net_dst", "DST_NET", FMT_F_DST_NET, T_NET, dst),
    COL("mask_src", "SRC_MASK", FF_SRC_MASK, T_U8, src_mask),
    COL("mask_dst", "DST_MASK", FF_DST_MASK, T_U8, dst_mask),
    COL("port_src", "SRC_PORT", FF_SRC_PORT, T_U16, src_port),
    COL("port_dst", "DST_PORT", FF_DST_PORT, T_U16, dst_port),
    COL("tcp_flags", "TCP_FLAGS", FF_TCP_FLAGS, T_U8STR, tcp_flags),
    COL("fwd_status", "FWD_STATUS", FF_FWD_STATUS, T_U8STR, fwd_status),
    COL("mpls_label_stack", "MPLS_LABEL_STACK", FF_MPLS, T_MPLS_STACK, mpls),
    COL("ip_proto", "PROTOCOL", FF_PROTO, T_PROTO, proto),
    COL("tos", "TOS", FF_TOS, T_U8, tos),
    COL("sampling_rate", "SAMPLING_RATE", FF_SAMPLING, T_U32, sampling_rate),
    COL("post_nat_ip_src", "POST_NAT_SRC_IP", FF_POST_NAT_SRC, T_IP, post_nat_src),
    COL("post_nat_ip_dst", "POST_NAT_DST_IP", FF_POST_NAT_DST, T_IP, post_nat_dst),
    COL("post_nat_port_src", "POST_NAT_SRC_PORT", FF_POST_NAT_SRC_PORT, T_U16, post_nat_src_port),
    COL("post_nat_port_dst", "POST_NAT_DST_PORT", FF_POST_NAT_DST_PORT, T_U16, post_nat_dst_port),
    COL("mpls_label_top", "MPLS_LABEL_TOP", FF_MPLS, T_MPLS_TOP, mpls),
    COL("mpls_label_bottom", "MPLS_LABEL_BOTTOM", FF_MPLS, T_MPLS_BOTTOM, mpls),
    COL("mpls_stack_depth", "MPLS_STACK_DEPTH", FF_MPLS, T_MPLS_DEPTH, mpls_depth),
    COL("timestamp_start", "TIMESTAMP_START", FF_FIRST, T_TS, first_ms),
    COL("timestamp_end", "TIMESTAMP_END", FF_LAST, T_TS, last_ms),
    COL("timestamp_arrival", "TIMESTAMP_ARRIVAL", FMT_F_ARRIVAL, T_TS, arrival_ms),
    COL("export_proto_seqno", "EXPORT_PROTO_SEQNO", FMT_F_SEQNO, T_U32, export_seq),
    COL("export_proto_version", "EXPORT_PROTO_VERSION", FMT_F_VERSION, T_U8, export_version),
    COL("export_proto_sysid", "EXPORT_PROTO_SYSID", FMT_F_SYSID, T_U32, domain),
    COL("nexthop", "NEXTHOP", FF_NEXTHOP, T_IP, nexthop),
    COL("direction", "DIRECTION", FF_DIRECTION, T_DIR, direction),
    COL("icmp_type", "ICMP_TYPE", FF_ICMP, T_ICMP_TYPE, icmp),
    COL("icmp_code", "ICMP_CODE", FF_ICMP, T_ICMP_CODE, icmp),
    COL("sampler_id", "SAMPLER_ID", FF_SAMPLER_ID, T_U32, sampler_id),
    COL("flow_end_reason", "FLOW_END_REASON", FF_END_REASON, T_U8, end_reason),
    COL("flow_id", "FLOW_ID", FF_FLOW_ID, T_U64, flow_id),
    COL("engine_type", "ENGINE_TYPE", FF_ENGINE, T_U8, engine_type),
    COL("engine_id", "ENGINE_ID", FF_ENGINE, T_U8, engine_id),
    COL("stamp_inserted", "STAMP_INSERTED", FMT_F_STAMPS, T_STAMP_INS, arrival_ms),
    COL("stamp_updated", "STAMP_UPDATED", FMT_F_STAMPS, T_STAMP_UPD, arrival_ms),
    {"packets", "PACKETS", FF_PACKETS, T_U64, COL_COUNTER, offsetof(struct flow, packets)},
    COL("flows", "FLOWS", FF_FLOWS, T_U64, flows),
    {"bytes", "BYTES", FF_BYTES, T_U64, COL_COUNTER, offsetof(struct flow, bytes)},
    COL("rev_packets", "REV_PACKETS", FF_REV_COUNTERS, T_U64, rev_packets),
    COL("rev_bytes", "REV_BYTES", FF_REV_COUNTERS, T_U64, rev_bytes),
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

/* What absent fields print as when a column is selected explicitly (pmacct prints zeroes). */
static const struct flow zero_flow;

/* pmacct's _protocols[] table: names for 0..133, the number as text otherwise. */
static const char *const proto_names[134] = {
    [1] = "icmp",        [2] = "igmp",    [3] = "ggp",         [4] = "ipencap",
    [6] = "tcp",         [8] = "egp",     [9] = "igp",         [17] = "udp",
    [18] = "mux",        [41] = "ipv6",   [43] = "ipv6-route", [44] = "ipv6-frag",
    [46] = "rsvp",       [47] = "gre",    [50] = "esp",        [51] = "ah",
    [55] = "mobile",     [56] = "tlsp",   [58] = "ipv6-icmp",  [59] = "ipv6-nonxt",
    [60] = "ipv6-opts",  [80] = "iso-ip", [83] = "vines",      [88] = "eigrp",
    [89] = "ospf",       [91] = "larp",   [93] = "ax.25",      [94] = "ipip",
    [98] = "encap",      [102] = "pnni",  [103] = "pim",       [108] = "IPcomp",
    [111] = "ipx-in-ip", [112] = "vrrp",  [115] = "l2tp",      [124] = "isis",
    [132] = "sctp",      [133] = "fc",
};

const char *fmt_proto_name(uint8_t proto, char *buf, size_t len)
{
	if (proto < sizeof(proto_names) / sizeof(proto_names[0]) && proto_names[proto])
		return proto_names[proto];
	snprintf(buf, len, "%u", proto);
	return buf;
}

void fmt_opts_default(struct fmt_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ts_utc = true;
	o->csv_sep = ',';
	o->fields = FMT_PRESENT;
}

/* Output with snprintf semantics: counts what it would need past the end of the buffer. */
struct out {
	char *p;
	size_t len;
	size_t pos;
};

static void out_mem(struct out *o, const char *s, size_t n)
{
	if (o->pos < o->len) {
		size_t room = o->len - o->pos;
		memcpy(o->p + o->pos, s, n < room ? n : room);
	}
	o->pos += n;
}

static void out_str(struct out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

static size_t out_finish(struct out *o)
{
	if (o->len)
		o->p[o->pos < o->len ? o->pos : o->len - 1] = '\0';
	return o->pos;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DD HH:MM:SS" of sec, in UTC or local time. */
static size_t date_str(char *v, size_t vlen, uint64_t sec, bool utc)
{
	if (!utc) {
		time_t t = (time_t)sec;
		struct tm tm;
		if (localtime_r(&t, &tm)) {
			size_t n = strftime(v, vlen, "%Y-%m-%d %H:%M:%S", &tm);
			if (n)
				return n;
		}
	}
	int64_t y;
	unsigned m, d, s = (unsigned)(sec % 86400);
	civil_from_days((int64_t)(sec / 86400), &y, &m, &d);
	int n = snprintf(v, vlen, "%04" PRId64 "-%02u-%02u %02u:%02u:%02u", y, m, d, s / 3600,
	                 s / 60 % 60, s % 60);
	return n < 0 ? 0 : (size_t)n;
}

/* pmacct's compose_timestamp(): epoch or date, ".usec" unless timestamps_secs, zero time. */
static size_t ts_str(char *v, size_t vlen, uint64_t ms, const struct fmt_opts *o)
{
	uint64_t sec = ms / 1000;
	unsigned usec = (unsigned)(ms % 1000) * 1000;
	size_t n;

	if (o->ts_since_epoch)
		n = (size_t)snprintf(v, vlen, "%" PRIu64, sec);
	else if (sec == 0)
		n = (size_t)snprintf(v, vlen, "0000-00-00 00:00:00");
	else
		n = date_str(v, vlen, sec, o->ts_utc);
	if (!o->ts_secs && n < vlen)
		n += (size_t)snprintf(v + n, vlen - n, ".%06u", usec);
	return n;
}

static size_t mac_str(char *v, const uint8_t *mac)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 6; i++) {
		v[i * 3] = hex[mac[i] >> 4];
		v[i * 3 + 1] = hex[mac[i] & 15];
		v[i * 3 + 2] = ':';
	}
	v[17] = '\0';
	return 17;
}

static size_t mpls_stack_str(char *v, size_t vlen, const struct flow *f)
{
	size_t n = 0;
	unsigned depth = f->mpls_depth < FLOW_MPLS_MAX ? f->mpls_depth : FLOW_MPLS_MAX;

	v[0] = '\0';
	for (unsigned i = 0; i < depth && n < vlen; i++)
		n += (size_t)snprintf(v + n, vlen - n, i ? "_%u" : "%u", f->mpls[i] >> 4);
	return n < vlen ? n : vlen - 1;
}

static uint32_t mpls_label(const struct flow *f, bool bottom)
{
	unsigned depth = f->mpls_depth < FLOW_MPLS_MAX ? f->mpls_depth : FLOW_MPLS_MAX;
	if (depth == 0)
		return 0;
	return f->mpls[bottom ? depth - 1 : 0] >> 4;
}

/* net_src/net_dst: the address with the host bits of its mask cleared. */
static size_t net_str(const struct column *c, const struct flow *f, char *v, size_t vlen)
{
	bool src = c->sel == FMT_F_SRC_NET;
	struct wip a = src ? f->src : f->dst;
	unsigned mask = src ? f->src_mask : f->dst_mask;

	if (!FLOW_HAS(f, src ? FF_SRC_ADDR : FF_DST_ADDR))
		return (size_t)snprintf(v, vlen, "0.0.0.0");
	if (wip_is_v4(&a))
		mask += 96;
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = mask >= 8 * (i + 1) ? 8 : mask > 8 * i ? mask - 8 * i : 0;
		a.a[i] &= (uint8_t)(0xff00u >> keep);
	}
	wip_str(&a, v, vlen);
	return strlen(v);
}

/* An integer member of struct flow, by the column's declared size. */
static uint64_t col_uint(const struct column *c, const struct flow *f)
{
	const uint8_t *p = (const uint8_t *)f + c->off;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (c->type) {
	case T_U8:
	case T_U8STR:
		if (c->sel == FMT_F_VERSION && *p == 105)
			return 5; /* sFlow v5 is 105 in struct flow, 5 in pmacct's output */
		return *p;
	case T_U16:
		memcpy(&u16, p, sizeof(u16));
		return u16;
	case T_U32:
		memcpy(&u32, p, sizeof(u32));
		return u32;
	default:
		memcpy(&u64, p, sizeof(u64));
		return u64;
	}
}

/* Writes the column's value (unquoted) to v; *quoted tells whether JSON wants it quoted. */
static size_t col_value(const struct column *c, const struct flow *f, const struct fmt_opts *o,
                        char *v, size_t vlen, bool *quoted)
{
	const uint8_t *p = (const uint8_t *)f + c->off;

	*quoted = true;
	switch (c->type) {
	case T_IP:
		if (f == &zero_flow)
			return (size_t)snprintf(v, vlen, "0.0.0.0");
		wip_str((const struct wip *)(const void *)p, v, vlen);
		return strlen(v);
	case T_MAC:
		return mac_str(v, p);
	case T_TS: {
		uint64_t ms;
		memcpy(&ms, p, sizeof(ms));
		return ts_str(v, vlen, ms, o);
	}
	case T_PROTO: {
		const char *name = fmt_proto_name(f->proto, v, vlen);
		if (name != v)
			snprintf(v, vlen, "%s", name);
		return strlen(v);
	}
	case T_DIR:
		if (f->direction <= 1)
			return (size_t)snprintf(v, vlen, "%s", f->direction ? "egress" : "ingress");
		return (size_t)snprintf(v, vlen, "%u", f->direction);
	case T_MPLS_STACK:
		return mpls_stack_str(v, vlen, f);
	case T_U8STR:
		return (size_t)snprintf(v, vlen, "%u", *p);
	case T_NET:
		return net_str(c, f, v, vlen);
	case T_LABEL:
		return (size_t)snprintf(v, vlen, "%s", f->label ? f->label : "");
	case T_ASNAME: {
		const char *name;
		memcpy(&name, p, sizeof(name));
		return (size_t)snprintf(v, vlen, "%s", name ? name : "");
	}
	case T_STAMP_INS:
	case T_STAMP_UPD: {
		struct fmt_opts so = *o;
		so.ts_secs = true; /* pmacct prints the bins without a fraction */
		return ts_str(v, vlen,
		              c->type == T_STAMP_INS ? o->stamp_inserted_ms : o->stamp_updated_ms,
		              &so);
	}
	case T_EMPTY:
		v[0] = '\0';
		return 0;
	case T_BGPTEXT: {
		const char *t;
		memcpy(&t, p, sizeof(t));
		size_t n = (size_t)snprintf(v, vlen, "%s", t ? t : "");
		for (char *q = v; *q; q++)
			if (*q == ' ')
				*q = '_'; /* pmacct's print plugin joins the elements with '_' */
		return n;
	}
	default:
		break;
	}
	*quoted = false;
	uint64_t n;
	switch (c->type) {
	case T_MPLS_TOP:
	case T_MPLS_BOTTOM:
		n = mpls_label(f, c->type == T_MPLS_BOTTOM);
		break;
	case T_MPLS_DEPTH:
		n = f->mpls_depth;
		break;
	case T_ICMP_TYPE:
		n = f->icmp >> 8;
		break;
	case T_ICMP_CODE:
		n = f->icmp & 0xff;
		break;
	default:
		n = col_uint(c, f);
	}
	return (size_t)snprintf(v, vlen, "%" PRIu64, n);
}

/* Whether the record carries the value of a column. */
static bool col_has(const struct column *c, const struct flow *f)
{
	if (c->flags & COL_COUNTER)
		return true; /* counters are meaningful as 0 when not reported */
	switch (c->sel) {
	case FMT_F_EXPORTER:
		return true;
	case FMT_F_ARRIVAL:
		return f->arrival_ms != 0;
	case FMT_F_SEQNO:
	case FMT_F_VERSION:
	case FMT_F_SYSID:
		return f->export_version != 0;
	case FMT_F_SRC_NET:
	case FMT_F_DST_NET:
	case FMT_F_TAG:
	case FMT_F_TAG2:
	case FMT_F_LABEL:
	case FMT_F_PEER_SRC_AS:
	case FMT_F_PEER_DST_AS:
	case FMT_F_STAMPS:
	case FMT_F_AS_PATH:
	case FMT_F_STD_COMM:
	case FMT_F_EXT_COMM:
	case FMT_F_LRG_COMM:
	case FMT_F_LOCAL_PREF:
	case FMT_F_MED:
	case FMT_F_AS_SRC_NAME:
	case FMT_F_AS_DST_NAME:
		return true; /* aggregation primitives: only printed when selected */
	default:
		return FLOW_HAS(f, c->sel);
	}
}

/* JSON: FMT_PRESENT prints what the record has; else the selected columns, absent as zero. */
static bool json_wants(const struct column *c, const struct flow *f, const struct fmt_opts *o)
{
	if (c->flags & COL_COUNTER) {
		if (f->event == FLOW_EV_FLOW)
			return true;
		return o->fields == FMT_PRESENT && FLOW_HAS(f, c->sel);
	}
	if (o->fields == FMT_PRESENT)
		return (c->sel < FMT_F_SRC_NET && col_has(c, f)) ||
		       ((c->flags & COL_BGP) && FLOW_HAS(f, FF_BGP));
	return (o->fields >> c->sel) & 1u;
}

/* CSV rows all have the header's columns: the selection depends on o->fields only. */
static bool csv_wants(const struct column *c, const struct fmt_opts *o)
{
	if (o->fields == FMT_PRESENT && c->sel >= FMT_F_SRC_NET)
		return false; /* aggregation primitives: only when a key selects them */
	return (c->flags & COL_COUNTER) || ((o->fields >> c->sel) & 1u);
}

static const char *event_name(uint8_t event)
{
	switch (event) {
	case FLOW_EV_OPTION:
		return "option";
	case FLOW_EV_COUNTER:
		return "counter";
	default:
		return "purge";
	}
}

/* A JSON string body: quotes and backslashes escaped, control characters dropped. */
static void out_json_text(struct out *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			out_mem(out, "\\", 1);
		if ((unsigned char)s[i] >= 0x20)
			out_mem(out, &s[i], 1);
	}
}

/* pre_tag_label_encode_as_map: "k1%v1,k2%v2" as {"k1": "v1", "k2": "v2"} (pmacct). */
static void label_map(struct out *out, const char *label)
{
	const char *p = label ? label : "";
	bool first = true;

	out_mem(out, "{", 1);
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *pct = memchr(p, '%', n);
		if (n) {
			size_t kn = pct ? (size_t)(pct - p) : n;
			out_str(out, first ? "\"" : ", \"");
			out_json_text(out, p, kn);
			out_str(out, "\": \"");
			if (pct)
				out_json_text(out, pct + 1, n - kn - 1);
			out_mem(out, "\"", 1);
			first = false;
		}
		p += n + (end ? 1 : 0);
	}
	out_mem(out, "}", 1);
}

size_t fmt_json(char *buf, size_t len, const struct flow *f, const struct fmt_opts *o)
{
	struct out out = {buf, len, 0};
	char v[512];
	bool quoted;

	out_str(&out, "{\"event_type\": \"");
	out_str(&out, event_name(f->event));
	out_str(&out, "\"");
	for (size_t i = 0; i < N_COLUMNS; i++) {
		const struct column *c = &columns[i];
		if (!json_wants(c, f, o))
			continue;
		const struct flow *src = col_has(c, f) ? f : &zero_flow;
		if (c->type == T_LABEL && o->label_map) {
			out_str(&out, ", \"label\": ");
			label_map(&out, f->label);
			continue;
		}
		size_t n = col_value(c, src, o, v, sizeof(v), &quoted);
		n = n < sizeof(v) ? n : sizeof(v) - 1;
		out_str(&out, ", \"");
		out_str(&out, c->json);
		out_str(&out, quoted ? "\": \"" : "\": ");
		if (c->type == T_ASNAME) /* resolver text: may hold quotes */
			out_json_text(&out, v, n);
		else
			out_mem(&out, v, n);
		if (quoted)
			out_mem(&out, "\"", 1);
	}
	out_mem(&out, "}", 1);
	return out_finish(&out);
}

size_t fmt_csv_header(char *buf, size_t len, const struct fmt_opts *o)
{
	struct out out = {buf, len, 0};
	char sep = o->csv_sep ? o->csv_sep : ',';
	bool first = true;

	for (size_t i = 0; i < N_COLUMNS; i++) {
		if (!csv_wants(&columns[i], o))
			continue;
		if (!first)
			out_mem(&out, &sep, 1);
		out_str(&out, columns[i].csv);
		first = false;
	}
	return out_finish(&out);
}

size_t fmt_csv(char *buf, size_t len, const struct flow *f, const struct fmt_opts *o)
{
	struct out out = {buf, len, 0};
	char v[512], sep = o->csv_sep ? o->csv_sep : ',';
	bool first = true, quoted;

	for (size_t i = 0; i < N_COLUMNS; i++) {
		const struct column *c = &columns[i];
		if (!csv_wants(c, o))
			continue;
		const struct flow *src = col_has(c, f) ? f : &zero_flow;
		size_t n = col_value(c, src, o, v, sizeof(v), &quoted);
		if (c->type == T_ASNAME) /* "AS1 Example, Inc. (US)" must stay one column */
			for (char *q = v; (q = strchr(q, sep)) != NULL;)
				*q = ' ';
		if (!first)
			out_mem(&out, &sep, 1);
		out_mem(&out, v, n < sizeof(v) ? n : sizeof(v) - 1);
		first = false;
	}
	return out_finish(&out);
}

/* Column width of pmacct's formatted output: the header's length or the widest value. */
static size_t col_width(const struct column *c)
{
	size_t w;

	switch (c->type) {
	case T_IP:
	case T_NET:
		w = 45;
		break;
	case T_MAC:
		w = 17;
		break;
	case T_TS:
	case T_STAMP_INS:
	case T_STAMP_UPD:
		w = 26;
		break;
	case T_U64:
		w = 20;
		break;
	case T_U32:
	case T_MPLS_TOP:
	case T_MPLS_BOTTOM:
		w = 10;
		break;
	case T_LABEL:
	case T_ASNAME:
	case T_MPLS_STACK:
	case T_EMPTY:
		w = 24;
		break;
	default:
		w = 5;
	}
	size_t h = strlen(c->csv);
	return h > w ? h : w;
}

static void out_padded(struct out *out, const char *v, size_t n, size_t width, bool last)
{
	out_mem(out, v, n);
	if (last)
		return;
	for (size_t i = n; i < width + 2; i++)
		out_mem(out, " ", 1);
}

static size_t last_wanted(const struct fmt_opts *o)
{
	size_t last = 0;
	for (size_t i = 0; i < N_COLUMNS; i++)
		if (csv_wants(&columns[i], o))
			last = i;
	return last;
}

size_t fmt_formatted_header(char *buf, size_t len, const struct fmt_opts *o)
{
	struct out out = {buf, len, 0};
	size_t last = last_wanted(o);

	for (size_t i = 0; i < N_COLUMNS; i++)
		if (csv_wants(&columns[i], o))
			out_padded(&out, columns[i].csv, strlen(columns[i].csv),
			           col_width(&columns[i]), i == last);
	return out_finish(&out);
}

size_t fmt_formatted(char *buf, size_t len, const struct flow *f, const struct fmt_opts *o)
{
	struct out out = {buf, len, 0};
	size_t last = last_wanted(o);
	char v[512];
	bool quoted;

	for (size_t i = 0; i < N_COLUMNS; i++) {
		const struct column *c = &columns[i];
		if (!csv_wants(c, o))
			continue;
		const struct flow *src = col_has(c, f) ? f : &zero_flow;
		size_t n = col_value(c, src, o, v, sizeof(v), &quoted);
		out_padded(&out, v, n < sizeof(v) ? n : sizeof(v) - 1, col_width(c), i == last);
	}
	return out_finish(&out);
}
