/* sql_common.c - SQL columns (pmacct's v1-v9 sets and weir's extras), batches, statement text. */
#include "sink/sql_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cursor.h"
#include "sink/format.h"

enum col_kind {
	C_IP,    /* address member as text */
	C_NET,   /* address member masked by its mask member */
	C_UINT,  /* unsigned member of 1, 2, 4 or 8 bytes */
	C_PROTO, /* name ("tcp") or number */
	C_MAC,
	C_CLASS, /* pmacct's classifier column: weir has no classifier */
	C_LABEL,
	C_TEXT, /* interned BGP text (as_path, comms): elements joined by '_' as pmacct prints */
	C_TIME, /* ms member as a timestamp */
	C_PACKETS,
	C_BYTES,
	C_FLOWS,
	C_INS,
	C_UPD,
};

#define SEL_NONE 0xff
#define VR(a, b) ((uint16_t)(((1u << ((b) + 1)) - 1) & ~((1u << (a)) - 1)))
#define EXTRA    1u /* bit 0: usable beyond pmacct's sets (sql_optimize_clauses, extra keys) */
#define MB(m)    (uint16_t) offsetof(struct flow, m), (uint8_t)sizeof(((struct flow *)0)->m)

struct col {
	const char *name;
	uint8_t sel; /* FF_* / FMT_F_* bit of the key that fills it */
	uint8_t kind;
	uint16_t vers; /* bit v: in pmacct's table version v */
	uint16_t foff;
	uint8_t size;
	uint16_t moff; /* C_NET: the mask member */
};

/* In pmacct's column order; a selector's first matching entry wins (src_port before port_src).
 */
static const struct col cols[] = {
    {"agent_id", FMT_F_TAG, C_UINT, VR(2, 8), MB(tag), 0},
    {"tag", FMT_F_TAG, C_UINT, VR(9, 9) | EXTRA, MB(tag), 0},
    {"class_id", SEL_NONE, C_CLASS, VR(5, 9), 0, 0, 0},
    {"mac_src", FF_SRC_MAC, C_MAC, VR(1, 9) | EXTRA, MB(src_mac), 0},
    {"mac_dst", FF_DST_MAC, C_MAC, VR(1, 9) | EXTRA, MB(dst_mac), 0},
    {"vlan", FF_VLAN, C_UINT, VR(2, 9) | EXTRA, MB(vlan), 0},
    {"as_src", FF_SRC_AS, C_UINT, VR(6, 9) | EXTRA, MB(src_as), 0},
    {"as_dst", FF_DST_AS, C_UINT, VR(6, 9) | EXTRA, MB(dst_as), 0},
    {"ip_src", FF_SRC_ADDR, C_IP, VR(1, 9) | EXTRA, MB(src), 0},
    {"ip_dst", FF_DST_ADDR, C_IP, VR(1, 9) | EXTRA, MB(dst), 0},
    {"src_port", FF_SRC_PORT, C_UINT, VR(1, 7), MB(src_port), 0},
    {"dst_port", FF_DST_PORT, C_UINT, VR(1, 7), MB(dst_port), 0},
    {"port_src", FF_SRC_PORT, C_UINT, VR(8, 9) | EXTRA, MB(src_port), 0},
    {"port_dst", FF_DST_PORT, C_UINT, VR(8, 9) | EXTRA, MB(dst_port), 0},
    {"tcp_flags", FF_TCP_FLAGS, C_UINT, VR(7, 9) | EXTRA, MB(tcp_flags), 0},
    {"ip_proto", FF_PROTO, C_PROTO, VR(1, 9) | EXTRA, MB(proto), 0},
    {"tos", FF_TOS, C_UINT, VR(3, 9) | EXTRA, MB(tos), 0},
    /* pmacct's other primitives' column names (README.* in pmacct's sql/) */
    {"peer_ip_src", FMT_F_EXPORTER, C_IP, EXTRA, MB(exporter), 0},
    {"peer_ip_dst", FF_BGP_NEXTHOP, C_IP, EXTRA, MB(bgp_nexthop), 0},
    {"iface_in", FF_IN_IF, C_UINT, EXTRA, MB(in_if), 0},
    {"iface_out", FF_OUT_IF, C_UINT, EXTRA, MB(out_if), 0},
    {"mask_src", FF_SRC_MASK, C_UINT, EXTRA, MB(src_mask), 0},
    {"mask_dst", FF_DST_MASK, C_UINT, EXTRA, MB(dst_mask), 0},
    {"net_src", FMT_F_SRC_NET, C_NET, EXTRA, MB(src), offsetof(struct flow, src_mask)},
    {"net_dst", FMT_F_DST_NET, C_NET, EXTRA, MB(dst), offsetof(struct flow, dst_mask)},
    /* never chosen directly: a net alone takes the address column (net_into_address()) */
    {"ip_src", FMT_F_SRC_NET, C_NET, 0, MB(src), offsetof(struct flow, src_mask)},
    {"ip_dst", FMT_F_DST_NET, C_NET, 0, MB(dst), offsetof(struct flow, dst_mask)},
    {"tag2", FMT_F_TAG2, C_UINT, EXTRA, MB(tag2), 0},
    {"label", FMT_F_LABEL, C_LABEL, EXTRA, 0, 0, 0},
    {"peer_as_src", FMT_F_PEER_SRC_AS, C_UINT, EXTRA, MB(peer_src_as), 0},
    {"peer_as_dst", FMT_F_PEER_DST_AS, C_UINT, EXTRA, MB(peer_dst_as), 0},
    {"as_path", FMT_F_AS_PATH, C_TEXT, EXTRA, MB(as_path), 0},
    {"comms", FMT_F_STD_COMM, C_TEXT, EXTRA, MB(std_comm), 0},
    {"local_pref", FMT_F_LOCAL_PREF, C_UINT, EXTRA, MB(local_pref), 0},
    {"med", FMT_F_MED, C_UINT, EXTRA, MB(med), 0},
    {"out_vlan", FF_OUT_VLAN, C_UINT, EXTRA, MB(out_vlan), 0},
    {"sampling_rate", FF_SAMPLING, C_UINT, EXTRA, MB(sampling_rate), 0},
    {"export_proto_version", FMT_F_VERSION, C_UINT, EXTRA, MB(export_version), 0},
    {"export_proto_seqno", FMT_F_SEQNO, C_UINT, EXTRA, MB(export_seq), 0},
    {"export_proto_sysid", FMT_F_SYSID, C_UINT, EXTRA, MB(domain), 0},
    {"fwd_status", FF_FWD_STATUS, C_UINT, EXTRA, MB(fwd_status), 0},
    {"timestamp_start", FF_FIRST, C_TIME, EXTRA, MB(first_ms), 0},
    {"timestamp_end", FF_LAST, C_TIME, EXTRA, MB(last_ms), 0},
    {"timestamp_arrival", FMT_F_ARRIVAL, C_TIME, EXTRA, MB(arrival_ms), 0},
    {"packets", SEL_NONE, C_PACKETS, VR(1, 9), 0, 0, 0},
    {"bytes", SEL_NONE, C_BYTES, VR(1, 9), 0, 0, 0},
    {"flows", FF_FLOWS, C_FLOWS, VR(4, 9) | EXTRA, 0, 0, 0},
    {"stamp_inserted", SEL_NONE, C_INS, VR(1, 9), 0, 0, 0},
    {"stamp_updated", SEL_NONE, C_UPD, VR(1, 9), 0, 0, 0},
};
#define N_COLS (sizeof(cols) / sizeof(cols[0]))

static bool has(uint64_t fields, unsigned sel)
{
	return sel < 64 && ((fields >> sel) & 1u);
}

static int layout_find(const struct sql_layout *l, const char *name, uint8_t kind)
{
	for (unsigned j = 0; j < l->n; j++)
		if (!strcmp(cols[l->idx[j]].name, name) && cols[l->idx[j]].kind == kind)
			return (int)j;
	return -1;
}

static int col_find(const char *name, uint8_t kind)
{
	for (unsigned i = 0; i < N_COLS; i++)
		if (!strcmp(cols[i].name, name) && cols[i].kind == kind)
			return (int)i;
	return -1;
}

/* pmacct writes src_net without src_host into ip_src: the net takes the address column. */
static void net_into_address(struct sql_layout *l, uint64_t fields, unsigned net, unsigned host,
                             const char *addr)
{
	int ni = layout_find(l, net == FMT_F_SRC_NET ? "net_src" : "net_dst", C_NET);
	int ai = layout_find(l, addr, C_IP);
	int alt = col_find(addr, C_NET);

	if (ni < 0 || has(fields, host) || alt < 0)
		return;
	if (ai < 0) {
		l->idx[ni] = (uint8_t)alt;
		return;
	}
	l->idx[ai] = (uint8_t)alt;
	memmove(&l->idx[ni], &l->idx[ni + 1], l->n - (unsigned)ni - 1);
	l->n--;
}

/*
 * Without sql_optimize_clauses: the version's whole set (absent primitives written as zero)
 * plus a column for each key primitive the set lacks. With it: only the key's primitives.
 * Rows of single records (fields = all) get the version's set.
 */
void sql_layout_make(struct sql_layout *l, uint64_t fields, const struct sql_cfg *cfg)
{
	uint16_t vbit = (uint16_t)(1u << cfg->version);
	bool optimize = cfg->optimize;
	uint64_t covered = 0;

	if (fields == UINT64_MAX) {
		fields = 0;
		optimize = false;
	}
	l->n = 0;
	for (unsigned i = 0; i < N_COLS && l->n < SQL_MAX_COLS; i++) {
		const struct col *c = &cols[i];
		bool in_set = !optimize && (c->vers & vbit);
		bool keyed = c->sel != SEL_NONE && has(fields, c->sel) && !has(covered, c->sel) &&
		             (c->vers & (vbit | EXTRA));
		bool take;

		if (c->kind == C_PACKETS || c->kind == C_BYTES || c->kind == C_INS ||
		    c->kind == C_UPD)
			take = true;
		else if (c->kind == C_FLOWS)
			take = has(fields, FF_FLOWS) || in_set;
		else
			take = (in_set && !(c->sel != SEL_NONE && has(covered, c->sel))) || keyed;
		if (!take)
			continue;
		if (c->sel != SEL_NONE)
			covered |= UINT64_C(1) << c->sel;
		l->idx[l->n++] = (uint8_t)i;
	}
	net_into_address(l, fields, FMT_F_SRC_NET, FF_SRC_ADDR, "ip_src");
	net_into_address(l, fields, FMT_F_DST_NET, FF_DST_ADDR, "ip_dst");
}

const char *sql_layout_name(const struct sql_layout *l, unsigned i)
{
	return cols[l->idx[i]].name;
}

static const struct col *col_by_name(const char *name)
{
	for (unsigned i = 0; i < N_COLS; i++)
		if (!strcmp(cols[i].name, name))
			return &cols[i];
	return NULL;
}

enum sql_role sql_col_role(const char *name)
{
	const struct col *c = col_by_name(name);

	if (!c)
		return ROLE_KEY;
	if (c->kind == C_PACKETS || c->kind == C_BYTES || c->kind == C_FLOWS)
		return ROLE_SUM;
	if (c->kind == C_UPD)
		return ROLE_UPDATED;
	if (!strcmp(name, "tcp_flags"))
		return ROLE_OR;
	return ROLE_KEY;
}

const char *sql_col_type(const char *name, enum sql_dialect d)
{
	const struct col *c = col_by_name(name);
	bool my = d == SQL_MYSQL, pg = d == SQL_PGSQL;

	if (!c)
		return NULL;
	switch (c->kind) {
	case C_IP:
	case C_NET:
		return pg ? "inet NOT NULL DEFAULT '0.0.0.0'"
		          : "CHAR(45) NOT NULL DEFAULT '0.0.0.0'";
	case C_MAC:
		return pg ? "macaddr NOT NULL DEFAULT '0:0:0:0:0:0'"
		          : "CHAR(17) NOT NULL DEFAULT '00:00:00:00:00:00'";
	case C_PROTO:
		return pg ? "SMALLINT NOT NULL DEFAULT 0" : "CHAR(6) NOT NULL DEFAULT '0'";
	case C_CLASS:
		return "CHAR(16) NOT NULL DEFAULT ' '";
	case C_LABEL:
	case C_TEXT:
		return "VARCHAR(255) NOT NULL DEFAULT ''";
	case C_UINT:
		if (c->size == 8)
			return my ? "BIGINT UNSIGNED NOT NULL DEFAULT 0"
			          : "BIGINT NOT NULL DEFAULT 0";
		if (c->size == 4)
			return my   ? "INT UNSIGNED NOT NULL DEFAULT 0"
			       : pg ? "BIGINT NOT NULL DEFAULT 0"
			            : "INT NOT NULL DEFAULT 0";
		return my ? "INT UNSIGNED NOT NULL DEFAULT 0" : "INT NOT NULL DEFAULT 0";
	case C_TIME:
		return my ? "DATETIME(3)" : pg ? "timestamp(3) without time zone" : "DATETIME";
	case C_PACKETS:
	case C_BYTES:
	case C_FLOWS:
		return my ? "BIGINT UNSIGNED NOT NULL DEFAULT 0" : "BIGINT NOT NULL DEFAULT 0";
	case C_INS:
		return pg ? "timestamp without time zone NOT NULL" : "DATETIME NOT NULL";
	default:
		return pg ? "timestamp without time zone" : "DATETIME";
	}
}

/* --- encoding --- */

static int reserve(uint8_t **buf, size_t *cap, size_t len, size_t more)
{
	if (len + more <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < len + more)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

static int put_val(uint8_t **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
	if (n > 1024)
		n = 1024;
	if (reserve(buf, cap, *len, n + 3) < 0)
		return -1;
	put_u16(*buf + *len, (uint16_t)n);
	memcpy(*buf + *len + 2, s, n);
	(*buf)[*len + 2 + n] = '\0';
	*len += n + 3;
	return 0;
}

static size_t u64_text(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[i++] = tmp[--n];
	out[i] = '\0';
	return i;
}

static uint64_t member(const struct flow *f, const struct col *c)
{
	const uint8_t *p = (const uint8_t *)f + c->foff;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (c->size) {
	case 1:
		memcpy(&v8, p, 1);
		return v8;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

static size_t time_text(char *out, size_t len, uint64_t ms, bool utc, bool frac)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
	n = strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
	if (frac && n + 5 <= len)
		n += (size_t)snprintf(out + n, len - n, ".%03u", (unsigned)(ms % 1000));
	return n;
}

static size_t net_text(char *out, size_t len, const struct flow *f, const struct col *c)
{
	struct wip a;
	uint8_t mask = ((const uint8_t *)f)[c->moff];
	unsigned bits = wip_is_v4((const struct wip *)((const uint8_t *)f + c->foff))
	                    ? 96u + (mask > 32 ? 32u : mask)
	                    : (mask > 128 ? 128u : mask);

	memcpy(&a, (const uint8_t *)f + c->foff, sizeof(a));
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
		if (keep < 8)
			a.a[i] &= (uint8_t)(0xff00u >> keep);
	}
	wip_str(&a, out, len);
	return strlen(out);
}

/* The text of one column of one row. */
static size_t col_text(char *out, size_t len, const struct col *c, const struct flow *f,
                       const struct sql_cfg *cfg, const char *ins, const char *upd)
{
	switch (c->kind) {
	case C_IP:
		wip_str((const struct wip *)((const uint8_t *)f + c->foff), out, len);
		return strlen(out);
	case C_NET:
		return net_text(out, len, f, c);
	case C_UINT:
		return u64_text(out, member(f, c));
	case C_PROTO:
		if (cfg->num_protos)
			return u64_text(out, f->proto);
		{
			/* pmacct's column is CHAR(6): longer names (ipv6-icmp) go as numbers */
			const char *name = fmt_proto_name(f->proto, out, len);
			if (strlen(name) > 6)
				return u64_text(out, f->proto);
			if (name != out)
				snprintf(out, len, "%s", name);
			return strlen(out);
		}
	case C_MAC: {
		const uint8_t *m = (const uint8_t *)f + c->foff;
		return (size_t)snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		                        m[3], m[4], m[5]);
	}
	case C_CLASS:
		return (size_t)snprintf(out, len, "unknown");
	case C_LABEL:
		return (size_t)snprintf(out, len, "%s", f->label ? f->label : "");
	case C_TEXT: {
		const char *t;
		memcpy(&t, (const uint8_t *)f + c->foff, sizeof(t));
		size_t n = (size_t)snprintf(out, len, "%s", t ? t : "");
		for (char *q = out; *q; q++)
			if (*q == ' ')
				*q = '_';
		return n;
	}
	case C_TIME:
		return time_text(out, len, member(f, c), cfg->utc, true);
	case C_PACKETS:
		return u64_text(out, f->packets);
	case C_BYTES:
		return u64_text(out, f->bytes);
	case C_FLOWS:
		return u64_text(out, f->flows);
	case C_INS:
		return (size_t)snprintf(out, len, "%s", ins);
	default:
		return (size_t)snprintf(out, len, "%s", upd);
	}
}

int sql_batch_encode(uint8_t **buf, size_t *cap, size_t *len, const struct sql_layout *l,
                     const struct sql_cfg *cfg, const char *table, const struct sink_rows *r)
{
	char ins[32], upd[32], text[1100];
	size_t tl = strlen(table);

	time_text(ins, sizeof(ins), r->stamp_inserted_ms, cfg->utc, false);
	time_text(upd, sizeof(upd), r->stamp_updated_ms, cfg->utc, false);
	if (tl >= SQL_TABLE_MAX || reserve(buf, cap, *len, 9 + tl + l->n * 33) < 0)
		return -1;
	uint8_t *p = *buf + *len;
	p[0] = 'B';
	p[1] = 1;
	put_u16(p + 2, (uint16_t)l->n);
	put_u32(p + 4, (uint32_t)r->n);
	p[8] = (uint8_t)tl;
	memcpy(p + 9, table, tl);
	*len += 9 + tl;
	for (unsigned i = 0; i < l->n; i++) {
		const char *name = cols[l->idx[i]].name;
		size_t nl = strlen(name);
		(*buf)[(*len)++] = (uint8_t)nl;
		memcpy(*buf + *len, name, nl);
		*len += nl;
	}
	for (size_t j = 0; j < r->n; j++)
		for (unsigned i = 0; i < l->n; i++) {
			size_t n = col_text(text, sizeof(text), &cols[l->idx[i]], &r->rows[j], cfg,
			                    ins, upd);
			if (n >= sizeof(text))
				n = sizeof(text) - 1;
			if (put_val(buf, cap, len, text, n) < 0)
				return -1;
		}
	return 0;
}

static bool name_ok(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

int sql_batch_decode(const uint8_t *p, size_t len, struct sql_batch *b, struct sql_val **vals,
                     size_t *vals_cap)
{
	struct cursor c;
	uint8_t magic, ver, tl, nl;
	uint16_t ncols;
	uint32_t nrows;

	cur_init(&c, p, len);
	if (!cur_u8(&c, &magic) || !cur_u8(&c, &ver) || magic != 'B' || ver != 1 ||
	    !cur_u16(&c, &ncols) || !cur_u32(&c, &nrows) || !cur_u8(&c, &tl) ||
	    tl >= SQL_TABLE_MAX || ncols == 0 || ncols > SQL_MAX_COLS ||
	    !cur_bytes(&c, b->table, tl))
		return -1;
	b->table[tl] = '\0';
	if (!name_ok(b->table, tl))
		return -1;
	b->ncols = ncols;
	for (unsigned i = 0; i < ncols; i++) {
		if (!cur_u8(&c, &nl) || nl >= sizeof(b->cols[i]) || !cur_bytes(&c, b->cols[i], nl))
			return -1;
		b->cols[i][nl] = '\0';
		if (!name_ok(b->cols[i], nl) || !col_by_name(b->cols[i]))
			return -1;
	}
	/* every value takes at least 3 bytes: bounds nrows before allocating */
	if ((uint64_t)nrows * ncols * 3 > cur_left(&c))
		return -1;
	size_t need = (size_t)nrows * ncols;
	if (need > *vals_cap) {
		struct sql_val *n = realloc(*vals, (need ? need : 1) * sizeof(*n));
		if (!n)
			return -1;
		*vals = n;
		*vals_cap = need;
	}
	for (size_t i = 0; i < need; i++) {
		uint16_t vl;
		const uint8_t *v = c.p + 2;
		if (!cur_u16(&c, &vl) || !cur_skip(&c, (size_t)vl + 1) || v[vl] != '\0')
			return -1;
		(*vals)[i].p = (const char *)v;
		(*vals)[i].len = vl;
	}
	if (cur_left(&c))
		return -1;
	b->nrows = nrows;
	b->vals = *vals;
	return 0;
}

int sql_table_name(const struct sql_cfg *cfg, uint64_t stamp_ms, char *out, size_t len)
{
	time_t t = (time_t)(stamp_ms / 1000);
	struct tm tm;
	size_t n;

	if (cfg->utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strchr(cfg->table, '%') ? strftime(out, len, cfg->table, &tm)
	                            : (size_t)snprintf(out, len, "%s", cfg->table);
#pragma GCC diagnostic pop
	if (n == 0 || n >= len || n >= SQL_TABLE_MAX || !name_ok(out, n))
		return -1;
	return 0;
}

/* --- statements --- */

struct sbuf {
	char *p;
	size_t len, at;
	bool over;
};

static void sb_add(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;

	if (s->over)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(s->p + s->at, s->len - s->at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= s->len - s->at)
		s->over = true;
	else
		s->at += (size_t)n;
}

static void key_list(struct sbuf *s, const struct sql_batch *b)
{
	bool first = true;

	for (unsigned i = 0; i < b->ncols; i++)
		if (sql_col_role(b->cols[i]) == ROLE_KEY) {
			sb_add(s, "%s%s", first ? "" : ", ", b->cols[i]);
			first = false;
		}
}

static void upsert_clause(struct sbuf *s, enum sql_dialect d, const struct sql_batch *b)
{
	const char *cur = d == SQL_PGSQL ? "w." : "";
	bool first = true;

	if (d == SQL_MYSQL) {
		sb_add(s, " ON DUPLICATE KEY UPDATE ");
	} else {
		sb_add(s, " ON CONFLICT (");
		key_list(s, b);
		sb_add(s, ") DO UPDATE SET ");
	}
	for (unsigned i = 0; i < b->ncols; i++) {
		const char *c = b->cols[i];
		char nv[64];
		enum sql_role r = sql_col_role(c);

		if (r == ROLE_KEY)
			continue;
		if (d == SQL_MYSQL)
			snprintf(nv, sizeof(nv), "VALUES(%s)", c);
		else
			snprintf(nv, sizeof(nv), "excluded.%s", c);
		sb_add(s, "%s", first ? "" : ", ");
		first = false;
		if (r == ROLE_SUM)
			sb_add(s, "%s = %s%s + %s", c, cur, c, nv);
		else if (r == ROLE_OR)
			sb_add(s, "%s = %s%s | %s", c, cur, c, nv);
		else
			sb_add(s, "%s = %s", c, nv);
	}
}

size_t sql_build_insert(char *out, size_t len, enum sql_dialect d, const struct sql_batch *b,
                        unsigned nrows, bool upsert)
{
	struct sbuf s = {out, len, 0, false};
	unsigned k = 1;

	sb_add(&s, "INSERT INTO %s%s (", b->table, d == SQL_PGSQL && upsert ? " AS w" : "");
	for (unsigned i = 0; i < b->ncols; i++)
		sb_add(&s, "%s%s", i ? ", " : "", b->cols[i]);
	sb_add(&s, ") VALUES ");
	for (unsigned r = 0; r < nrows; r++) {
		sb_add(&s, "%s(", r ? ", " : "");
		for (unsigned i = 0; i < b->ncols; i++) {
			if (d == SQL_PGSQL)
				sb_add(&s, "%s$%u", i ? ", " : "", k++);
			else
				sb_add(&s, "%s?", i ? ", " : "");
		}
		sb_add(&s, ")");
	}
	if (upsert)
		upsert_clause(&s, d, b);
	return s.over ? 0 : s.at;
}

size_t sql_build_create(char *out, size_t len, enum sql_dialect d, const struct sql_batch *b)
{
	struct sbuf s = {out, len, 0, false};

	sb_add(&s, "CREATE TABLE IF NOT EXISTS %s (", b->table);
	for (unsigned i = 0; i < b->ncols; i++) {
		const char *t = sql_col_type(b->cols[i], d);
		sb_add(&s, "%s%s %s", i ? ", " : "", b->cols[i], t ? t : "TEXT");
	}
	sb_add(&s, ", PRIMARY KEY (");
	key_list(&s, b);
	sb_add(&s, "))");
	return s.over ? 0 : s.at;
}
