/* test_aggregate.c - the aggregate stage: key layout, table, time bins and pro-rating, sum_*,
 * and conservation (no byte, packet or flow lost or invented) through tables and plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/bins.h"
#include "aggregate/key.h"
#include "aggregate/plugin.h"
#include "aggregate/table.h"
#include "conf/conf.h"
#include "lib/log.h"
#include "sink/format.h"

/* xorshift64*: reproducible inputs per seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Flows drawn from small domains so that keys collide often. */
static void random_flow(struct flow *f, uint64_t *s)
{
	memset(f, 0, sizeof(*f));
	f->event = FLOW_EV_FLOW;
	if (rnd(s) % 4)
		wip_from_v4(&f->src, 0x0a000000 + (uint32_t)(rnd(s) % 64));
	else {
		uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
		a[15] = (uint8_t)(rnd(s) % 16);
		wip_from_v6(&f->src, a);
	}
	wip_from_v4(&f->dst, 0xc0000200 + (uint32_t)(rnd(s) % 32));
	wip_from_v4(&f->exporter, 0x7f000001 + (uint32_t)(rnd(s) % 3));
	f->present = UINT64_C(1) << FF_SRC_ADDR | UINT64_C(1) << FF_DST_ADDR |
	             UINT64_C(1) << FF_SRC_PORT | UINT64_C(1) << FF_DST_PORT |
	             UINT64_C(1) << FF_PROTO | UINT64_C(1) << FF_IN_IF |
	             UINT64_C(1) << FF_SRC_MASK | UINT64_C(1) << FF_TCP_FLAGS |
	             UINT64_C(1) << FF_SRC_AS | UINT64_C(1) << FF_FIRST | UINT64_C(1) << FF_LAST;
	f->src_port = (uint16_t)(rnd(s) % 8);
	f->dst_port = (uint16_t)(rnd(s) % 8);
	f->proto = rnd(s) % 2 ? 6 : 17;
	f->in_if = (uint32_t)(rnd(s) % 5);
	f->src_mask = (uint8_t)(rnd(s) % 33);
	f->src_as = (uint32_t)(rnd(s) % 4);
	f->tcp_flags = (uint8_t)rnd(s);
	f->bytes = rnd(s) % 100000;
	f->packets = 1 + rnd(s) % 100;
	f->flows = 1;
	f->first_ms = UINT64_C(1715677200000) + rnd(s) % 600000;
	f->last_ms = f->first_ms + rnd(s) % 300000;
}

static const char *const prim_pool[] = {
    "src_host", "dst_host", "src_port", "dst_port", "proto",       "in_iface",
    "src_net",  "src_mask", "src_as",   "tcpflags", "peer_src_ip", "timestamp_start",
};

static void random_list(char *buf, size_t len, uint64_t *s)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(prim_pool) / sizeof(prim_pool[0]); i++)
		if (rnd(s) % 3 == 0)
			n +=
			    (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", prim_pool[i]);
	if (n == 0)
		snprintf(buf, len, "none");
}

struct totals {
	uint64_t bytes, packets, flows;
};

/*
 * Conservation through the table alone: random keys and flows, tiny bounds so that tables fill,
 * are merged into a bounded merge table and that one is emptied ("written") when full. The sums
 * over every emitted entry equal the input's; repacking every unpacked row gives its key back.
 */
static void conservation_through_tables(void **state)
{
	for (uint64_t seed = 1; seed <= 300; seed++) {
		uint64_t s = seed * UINT64_C(0x9e3779b97f4a7c15);
		char list[512], err[256];
		struct agg_key k;
		struct totals in = {0}, out = {0};
		bool binned = rnd(&s) % 2;

		random_list(list, sizeof(list), &s);
		assert_int_equal(agg_key_parse(&k, list, binned, err, sizeof(err)), 0);
		struct agg_table *w = agg_table_new(k.len, 1 + rnd(&s) % 40, seed);
		struct agg_table *m = agg_table_new(k.len, 1 + rnd(&s) % 60, seed + 1);
		assert_non_null(w);
		assert_non_null(m);
		unsigned nflows = 200 + (unsigned)(rnd(&s) % 800);
		for (unsigned i = 0; i <= nflows; i++) {
			struct flow f;
			uint8_t key[AGG_KEY_MAX];
			bool last = i == nflows;
			if (!last) {
				random_flow(&f, &s);
				in.bytes += f.bytes, in.packets += f.packets, in.flows += f.flows;
				agg_key_pack(&k, &f, 0, (uint32_t)(f.first_ms / 60000 * 60), key);
				if (agg_table_add(w, key, f.bytes, f.packets, f.flows, f.tcp_flags))
					continue;
			}
			/* Hand over: merge w into m, emptying m whenever it fills. */
			size_t from = 0;
			for (;;) {
				from = agg_table_merge(m, w, from);
				if (from == w->n && !last)
					break;
				for (size_t e = 0; e < m->n; e++) {
					struct agg_entry *en = agg_table_entry(m, e);
					struct flow row;
					uint8_t again[AGG_KEY_MAX];
					uint32_t bin = agg_key_unpack(&k, en->key, &row);
					agg_key_pack(&k, &row, 0, bin, again);
					assert_memory_equal(again, en->key, k.len);
					out.bytes += en->bytes, out.packets += en->packets;
					out.flows += en->flows;
				}
				agg_table_clear(m);
				if (from == w->n)
					break;
			}
			agg_table_clear(w);
			if (!last)
				assert_true(agg_table_add(w, key, f.bytes, f.packets, f.flows, 0));
		}
		assert_int_equal(out.bytes, in.bytes);
		assert_int_equal(out.packets, in.packets);
		assert_int_equal(out.flows, in.flows);
		agg_table_free(w);
		agg_table_free(m);
	}
}

static void table_sums_and_bounds(void **state)
{
	struct agg_table *t = agg_table_new(4, 3, 7);
	uint8_t k1[4] = {1}, k2[4] = {2}, k3[4] = {3}, k4[4] = {4};

	assert_non_null(t);
	assert_true(agg_table_add(t, k1, 10, 1, 1, 0x02));
	assert_true(agg_table_add(t, k1, 5, 2, 1, 0x10));
	assert_true(agg_table_add(t, k2, 1, 1, 1, 0));
	assert_true(agg_table_add(t, k3, 1, 1, 1, 0));
	assert_false(agg_table_add(t, k4, 1, 1, 1, 0)); /* full: a new key is refused */
	assert_true(agg_table_add(t, k1, 1, 1, 0, 0));  /* an existing one still adds */
	assert_int_equal(t->n, 3);
	struct agg_entry *e = agg_table_entry(t, 0);
	assert_memory_equal(e->key, k1, 4);
	assert_int_equal(e->bytes, 16);
	assert_int_equal(e->packets, 4);
	assert_int_equal(e->flows, 2);
	assert_int_equal(e->tcp_flags, 0x12);
	agg_table_clear(t);
	assert_int_equal(t->n, 0);
	assert_true(agg_table_add(t, k4, 1, 1, 1, 0));
	assert_int_equal(agg_table_entry(t, 0)->bytes, 1);
	/* A 5-tuple entry stays under 100 bytes including its share of slots. */
	struct agg_key k;
	char err[128];
	assert_int_equal(
	    agg_key_parse(&k, "src_host, dst_host, src_port, dst_port, proto", false, err, 128), 0);
	assert_int_equal(k.len, 37);
	struct agg_table *big = agg_table_new(k.len, 100000, 1);
	assert_true(agg_table_bytes(big) / 100000 < 100);
	agg_table_free(big);
	agg_table_free(t);
}

static void key_layout_and_errors(void **state)
{
	struct agg_key k;
	char err[256];

	assert_int_equal(agg_key_parse(&k, "src_host, dst_net, dst_mask, tcpflags, flows", true,
	                               err, sizeof(err)),
	                 0);
	assert_true(k.tcpflags);
	assert_true(k.binned);
	assert_int_equal(k.len, 16 + 16 + 1 + 1 + 4);
	assert_true(k.fields & FMT_BIT(FMT_F_DST_NET));
	assert_true(k.fields & (UINT64_C(1) << FF_FLOWS));
	assert_int_equal(agg_key_parse(&k, "src_host, bogus", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown primitive 'bogus'"));
	assert_int_equal(agg_key_parse(&k, "sum_host, src_port", false, err, sizeof(err)), -1);
	assert_int_equal(agg_key_parse(&k, "sum_host, sum_port", false, err, sizeof(err)), -1);
	/* BGP primitives: interned texts as pointers, local_pref and med as u32 */
	assert_int_equal(agg_key_parse(&k, "src_host, as_path, std_comm, local_pref, med", false,
	                               err, sizeof(err)),
	                 0);
	assert_int_equal(k.len, 16 + 8 + 8 + 4 + 4);
	assert_true(k.fields & FMT_BIT(FMT_F_AS_PATH));
	/* ext_comm and lrg_comm have no source yet: accepted, printed empty, no key bytes */
	assert_int_equal(agg_key_parse(&k, "src_host, ext_comm, lrg_comm", false, err, sizeof(err)),
	                 0);
	assert_int_equal(k.len, 16);
}

/* src_net keys hold the masked address: hosts of one net share a row. */
static void net_keys_mask_hosts(void **state)
{
	struct agg_key k;
	char err[128];
	struct flow a = {0}, b = {0}, row;
	uint8_t ka[AGG_KEY_MAX], kb[AGG_KEY_MAX];
	char text[WIP_STRLEN];

	assert_int_equal(agg_key_parse(&k, "src_net", false, err, sizeof(err)), 0);
	a.present = b.present = UINT64_C(1) << FF_SRC_ADDR | UINT64_C(1) << FF_SRC_MASK;
	wip_from_v4(&a.src, 0x0a0102fe);
	wip_from_v4(&b.src, 0x0a010203);
	a.src_mask = b.src_mask = 16;
	agg_key_pack(&k, &a, 0, 0, ka);
	agg_key_pack(&k, &b, 0, 0, kb);
	assert_memory_equal(ka, kb, k.len);
	agg_key_unpack(&k, ka, &row);
	assert_string_equal(wip_str(&row.src, text, sizeof(text)), "10.1.0.0");
	assert_int_equal(row.src_mask, 16);
}

/* sum_host: one flow counts toward both of its hosts, each in the src column. */
static void sum_host_counts_both_directions(void **state)
{
	struct agg_key k;
	char err[128], text[WIP_STRLEN];
	struct flow f = {0}, row;
	uint8_t key[AGG_KEY_MAX];

	assert_int_equal(agg_key_parse(&k, "sum_host", false, err, sizeof(err)), 0);
	assert_int_equal(k.sum, AGG_SUM_HOST);
	f.present = UINT64_C(1) << FF_SRC_ADDR | UINT64_C(1) << FF_DST_ADDR;
	wip_from_v4(&f.src, 0x01020304);
	wip_from_v4(&f.dst, 0x05060708);
	agg_key_pack(&k, &f, 0, 0, key);
	agg_key_unpack(&k, key, &row);
	assert_string_equal(wip_str(&row.src, text, sizeof(text)), "1.2.3.4");
	agg_key_pack(&k, &f, 1, 0, key);
	agg_key_unpack(&k, key, &row);
	assert_string_equal(wip_str(&row.src, text, sizeof(text)), "5.6.7.8");
	assert_int_equal(agg_key_parse(&k, "sum_port, proto", false, err, sizeof(err)), 0);
	f.present |= UINT64_C(1) << FF_SRC_PORT | UINT64_C(1) << FF_DST_PORT;
	f.src_port = 1234;
	f.dst_port = 443;
	agg_key_pack(&k, &f, 1, 0, key);
	agg_key_unpack(&k, key, &row);
	assert_int_equal(row.src_port, 443);
}

static void bins_and_offset(void **state)
{
	struct agg_bins b = {.history = 300};

	assert_int_equal(agg_bin_of(&b, UINT64_C(1715677499999)), 1715677200);
	assert_int_equal(agg_bin_of(&b, UINT64_C(1715677500000)), 1715677500);
	b.offset = 60;
	assert_int_equal(agg_bin_of(&b, UINT64_C(1715677200000)), 1715676960);
	assert_int_equal(agg_bin_of(&b, UINT64_C(1715677260000)), 1715677260);
	b.history = 0;
	assert_int_equal(agg_bin_of(&b, UINT64_C(1715677260000)), 0);
}

#define SEC(t) ((uint64_t)(t)*1000)

/* 1w / 2w bins start on Mondays 00:00 UTC; 2w ones on even weeks since 1970-01-05. */
static void bins_of_weeks(void **state)
{
	struct agg_bins b = {0};

	agg_bins_set(&b, CONF_HISTORY_WEEKS | 1, "");
	assert_int_equal(agg_bin_of(&b, SEC(1715774400)), 1715558400); /* Wed 05-15 -> Mon 05-13 */
	assert_int_equal(agg_bin_of(&b, SEC(1716163200) - 1), 1715558400);
	assert_int_equal(agg_bin_of(&b, SEC(1716163200)), 1716163200);
	assert_int_equal(agg_bin_next(&b, 1715558400), 1716163200);
	agg_bins_set(&b, CONF_HISTORY_WEEKS | 2, "");
	assert_int_equal(agg_bin_of(&b, SEC(1716199200)), 1715558400); /* Mon 05-20 -> 05-13 */
	assert_int_equal(agg_bin_next(&b, 1715558400), 1716768000);
	/* A plain 7d stays a multiple of 7 days since the epoch (a Thursday)... */
	agg_bins_set(&b, 7 * 86400, "");
	assert_int_equal(agg_bin_of(&b, SEC(1715774400)), 1715817600 - 7 * 86400);
	/* ...and roundoff w cuts s/m/h/d bins at every Monday: 2d bins of Mon, Wed, Fri, Sun. */
	agg_bins_set(&b, 2 * 86400, "w");
	assert_int_equal(agg_bin_of(&b, SEC(1716112800)), 1716076800); /* Sun 05-19 */
	assert_int_equal(agg_bin_next(&b, 1716076800), 1716163200);    /* one day long */
	assert_int_equal(agg_bin_of(&b, SEC(1715774400)), 1715731200); /* Wed 05-15 00:00 */
}

/* 1M bins are calendar months; N months start at multiples of N months since 1970-01. */
static void bins_of_months(void **state)
{
	struct agg_bins b = {0};

	agg_bins_set(&b, CONF_HISTORY_MONTHS | 1, "");
	assert_int_equal(b.history, 0);
	assert_int_equal(b.months, 1);
	assert_int_equal(agg_bin_of(&b, SEC(1735689599)), 1733011200); /* 2024-12-31 23:59:59 */
	assert_int_equal(agg_bin_next(&b, 1733011200), 1735689600);    /* -> 2025-01-01 */
	assert_int_equal(agg_bin_of(&b, SEC(1735689600)), 1735689600);
	assert_int_equal(agg_bin_next(&b, 1735689600), 1738368000);
	assert_int_equal(agg_bin_of(&b, SEC(1709208000)), 1706745600); /* 2024-02-29 (leap) */
	assert_int_equal(agg_bin_next(&b, 1706745600), 1709251200);    /* 29 days */
	assert_int_equal(agg_bin_of(&b, SEC(1677625200)), 1675209600); /* 2023-02-28 */
	assert_int_equal(agg_bin_next(&b, 1675209600), 1677628800);    /* 28 days */
	assert_int_equal(agg_bin_of(&b, 0), 0);
	agg_bins_set(&b, CONF_HISTORY_MONTHS | 3, "");
	assert_int_equal(agg_bin_of(&b, SEC(1716199200)), 1711929600); /* 2024-05 -> 04-01 */
	assert_int_equal(agg_bin_next(&b, 1711929600), 1719792000);    /* -> 07-01 */
	agg_bins_set(&b, CONF_HISTORY_MONTHS | 5, "");
	assert_int_equal(agg_bin_of(&b, SEC(1716199200)), 1709251200); /* month 652 -> 650 */
	assert_int_equal(agg_bin_next(&b, 1709251200), 1722470400);    /* -> 2024-08-01 */
	/* Roundoff M cuts s/m/h/d bins at every month start. */
	agg_bins_set(&b, 7 * 86400, "M");
	assert_int_equal(agg_bin_of(&b, SEC(1711756800)), 1711670400); /* 03-30 -> 03-29 */
	assert_int_equal(agg_bin_next(&b, 1711670400), 1711929600);    /* cut at 04-01 */
	/* history_offset shifts calendar bins too. */
	agg_bins_set(&b, CONF_HISTORY_MONTHS | 1, "");
	b.offset = 3600;
	assert_int_equal(agg_bin_of(&b, SEC(1735689600)), 1733011200 + 3600);
	assert_int_equal(agg_bin_of(&b, SEC(1735689600 + 3600)), 1735689600 + 3600);
	assert_int_equal(agg_bin_next(&b, 1733011200 + 3600), 1735689600 + 3600);
}

/* Pro-rating splits at the real month boundary and conserves the counters. */
static void pro_rating_across_months(void **state)
{
	struct agg_bins b = {.pro_rating = true};
	struct agg_share sh[AGG_PRORATE_MAX];
	struct flow f = {0};

	agg_bins_set(&b, CONF_HISTORY_MONTHS | 1, "");
	f.present = UINT64_C(1) << FF_FIRST | UINT64_C(1) << FF_LAST;
	f.first_ms = SEC(1706702400); /* 2024-01-31 12:00 */
	f.last_ms = SEC(1706788800);  /* 2024-02-01 12:00 */
	f.bytes = 1001;
	f.packets = 3;
	size_t n = agg_bins_split(&b, &f, f.last_ms, 1, sh);
	assert_int_equal(n, 2);
	assert_int_equal(sh[0].bin, 1704067200); /* 2024-01-01 */
	assert_int_equal(sh[1].bin, 1706745600); /* 2024-02-01 */
	assert_int_equal(sh[0].bytes, 500);
	assert_int_equal(sh[1].bytes, 501);
	assert_int_equal(sh[0].packets + sh[1].packets, 3);
	assert_int_equal(sh[0].flows, 1);
	assert_int_equal(sh[1].flows, 0);
	/* Longer than AGG_PRORATE_MAX months: all of it in the bin of the given time. */
	f.last_ms = f.first_ms + SEC(70 * 31 * 86400);
	assert_int_equal(agg_bins_split(&b, &f, f.first_ms, 1, sh), 1);
	assert_int_equal(sh[0].bin, 1704067200);
	assert_int_equal(sh[0].bytes, 1001);
	/* Random spans over weeks and months conserve, and the bins are consecutive. */
	uint64_t s = 7;
	for (int i = 0; i < 3000; i++) {
		agg_bins_set(&b,
		             i % 3 == 0   ? CONF_HISTORY_MONTHS | (uint32_t)(1 + i % 4)
		             : i % 3 == 1 ? CONF_HISTORY_WEEKS | 1
		                          : 86400,
		             i % 3 == 2 ? "M" : "");
		f.first_ms = SEC(1700000000) + rnd(&s) % SEC(400 * 86400);
		f.last_ms = f.first_ms + rnd(&s) % SEC(200 * 86400);
		f.bytes = rnd(&s) % UINT64_C(1000000000000);
		f.packets = rnd(&s) % 1000000;
		n = agg_bins_split(&b, &f, f.first_ms, 1, sh);
		uint64_t by = 0, pk = 0;
		for (size_t j = 0; j < n; j++) {
			by += sh[j].bytes;
			pk += sh[j].packets;
			if (j)
				assert_int_equal(agg_bin_next(&b, sh[j - 1].bin), sh[j].bin);
		}
		assert_int_equal(by, f.bytes);
		assert_int_equal(pk, f.packets);
		if (n > 1) {
			assert_int_equal(sh[0].bin, agg_bin_of(&b, f.first_ms));
			assert_int_equal(sh[n - 1].bin, agg_bin_of(&b, f.last_ms));
		}
	}
}

/* A flow over 2.5 bins is spread by overlap; the shares sum to the flow exactly. */
static void pro_rating_spreads_and_conserves(void **state)
{
	struct agg_bins b = {.history = 60, .pro_rating = true};
	struct agg_share sh[AGG_PRORATE_MAX];
	struct flow f = {0};

	f.present = UINT64_C(1) << FF_FIRST | UINT64_C(1) << FF_LAST;
	f.first_ms = UINT64_C(1715677230000); /* 30 s into the 09:00 bin */
	f.last_ms = f.first_ms + 120000;      /* ends 30 s into 09:02 */
	f.bytes = 1000;
	f.packets = 7;
	size_t n = agg_bins_split(&b, &f, f.first_ms, 1, sh);
	assert_int_equal(n, 3);
	assert_int_equal(sh[0].bin, 1715677200);
	assert_int_equal(sh[1].bin, 1715677260);
	assert_int_equal(sh[2].bin, 1715677320);
	assert_int_equal(sh[0].bytes, 250);
	assert_int_equal(sh[1].bytes, 500);
	assert_int_equal(sh[2].bytes, 250);
	assert_int_equal(sh[0].packets + sh[1].packets + sh[2].packets, 7);
	assert_int_equal(sh[0].flows, 1);
	assert_int_equal(sh[1].flows + sh[2].flows, 0);
	/* Without pro-rating, one share at the flow's time. */
	b.pro_rating = false;
	assert_int_equal(agg_bins_split(&b, &f, f.first_ms, 1, sh), 1);
	assert_int_equal(sh[0].bytes, 1000);
	/* Random spans conserve. */
	b.pro_rating = true;
	uint64_t s = 42;
	for (int i = 0; i < 2000; i++) {
		f.first_ms = UINT64_C(1715677200000) + rnd(&s) % 100000;
		f.last_ms = f.first_ms + rnd(&s) % 5000000;
		f.bytes = rnd(&s) % UINT64_C(1000000000000);
		f.packets = rnd(&s) % 1000000;
		n = agg_bins_split(&b, &f, f.first_ms, 1, sh);
		uint64_t by = 0, pk = 0;
		for (size_t j = 0; j < n; j++)
			by += sh[j].bytes, pk += sh[j].packets;
		assert_int_equal(by, f.bytes);
		assert_int_equal(pk, f.packets);
	}
}

/* --- the whole stage: plugins, workers, early flushes, print files --- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 65536;
			text = realloc(text, cap);
		}
		r = fread(text + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	text[n] = '\0';
	return text;
}

/* Sums a numeric JSON member over every line of text. */
static uint64_t sum_member(const char *text, const char *member, size_t *rows)
{
	char pat[64];
	uint64_t sum = 0;

	snprintf(pat, sizeof(pat), "\"%s\": ", member);
	*rows = 0;
	for (const char *p = strstr(text, pat); p; p = strstr(p + 1, pat)) {
		sum += strtoull(p + strlen(pat), NULL, 10);
		(*rows)++;
	}
	return sum;
}

static void stage_conserves_with_early_flushes(void **state)
{
	char dir[] = "/tmp/weir-test-agg-XXXXXX", err[256], conf[2048], path[PATH_MAX];
	static struct flow_batch b;
	struct totals in = {0};
	uint64_t s = 99;

	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf),
	         "plugins: print[a], print[b], print[c]\n"
	         "aggregate[a]: src_host, dst_host, src_port, dst_port, proto, flows\n"
	         "aggregate[b]: src_net, in_iface, flows\n"
	         "aggregate[c]: sum_host, flows\n"
	         "aggregate_filter[c]: src net 10.0.0.0/8\n"
	         "print_history[b]: 1m\n"
	         "print_cache_entries: 50\n"
	         "print_refresh_time: 3600\n"
	         "print_output_file[a]: %s/a.json\n"
	         "print_output_file[b]: %s/b-%%H%%M.json\n"
	         "print_output_file[c]: %s/c.json\n",
	         dir, dir, dir);
	struct conf *c = calloc(1, sizeof(*c));
	assert_int_equal(conf_load_buffer(c, "t.conf", conf, strlen(conf), err, sizeof(err)), 0);
	struct plugin_set *ps = plugin_open(c, 2, err, sizeof(err));
	assert_non_null(ps);
	assert_int_equal(plugin_start(ps, err, sizeof(err)), 0);
	uint64_t c_bytes = 0;
	for (int round = 0; round < 20; round++) {
		b.n = 300;
		for (size_t i = 0; i < b.n; i++) {
			random_flow(&b.rec[i], &s);
			in.bytes += b.rec[i].bytes, in.packets += b.rec[i].packets;
			in.flows++;
			if (wip_is_v4(&b.rec[i].src))
				c_bytes += 2 * b.rec[i].bytes; /* sum_host: both directions */
		}
		plugin_push(ps, (unsigned)round % 2, &b);
		plugin_tick(ps, (unsigned)round % 2, now_ms());
	}
	plugin_stop(ps);
	char *stats = NULL;
	size_t slen = 0;
	FILE *f = open_memstream(&stats, &slen);
	plugin_stats_print(ps, f);
	fclose(f);
	assert_non_null(strstr(stats, "plugin print[a]: records 6000"));
	assert_null(strstr(stats, "early_flushes 0 ")); /* 50 entries: every plugin flushed early */
	free(stats);
	plugin_free(ps);

	size_t rows;
	snprintf(path, sizeof(path), "%s/a.json", dir);
	char *text = slurp(path);
	assert_non_null(text);
	assert_int_equal(sum_member(text, "bytes", &rows), in.bytes);
	assert_int_equal(sum_member(text, "packets", &rows), in.packets);
	assert_int_equal(sum_member(text, "flows", &rows), in.flows);
	free(text);
	snprintf(path, sizeof(path), "%s/c.json", dir);
	text = slurp(path);
	assert_non_null(text);
	assert_int_equal(sum_member(text, "bytes", &rows), c_bytes);
	free(text);
	/* b: one file per 1-minute bin of the flows' start times; together they hold everything. */
	uint64_t bbytes = 0;
	for (int hh = 9; hh <= 9; hh++)
		for (int mm = 0; mm < 60; mm++) {
			snprintf(path, sizeof(path), "%s/b-%02d%02d.json", dir, hh, mm);
			text = slurp(path);
			if (!text)
				continue;
			bbytes += sum_member(text, "bytes", &rows);
			assert_non_null(strstr(text, "\"stamp_inserted\": "));
			free(text);
		}
	assert_int_equal(bbytes, in.bytes);
	free(text);
	snprintf(conf, sizeof(conf), "rm -rf '%s'", dir);
	assert_int_equal(system(conf), 0);
	free(c);
}

static void bad_plugin_config_is_refused(void **state)
{
	char err[256];
	static const char *const bad[] = {
	    "aggregate: src_host, nonsense\n",
	    "aggregate_filter: src net 10.0.0.0/33\n",
	    "pre_tag_filter: 5-1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf *c = calloc(1, sizeof(*c));
		char text[256];
		snprintf(text, sizeof(text), "plugins: print[x]\nprint_output_file: /dev/null\n%s",
		         bad[i]);
		assert_int_equal(
		    conf_load_buffer(c, "t.conf", text, strlen(text), err, sizeof(err)), 0);
		assert_null(plugin_open(c, 1, err, sizeof(err)));
		assert_non_null(strstr(err, "plugin print[x]"));
		free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table_sums_and_bounds),
	    cmocka_unit_test(key_layout_and_errors),
	    cmocka_unit_test(net_keys_mask_hosts),
	    cmocka_unit_test(sum_host_counts_both_directions),
	    cmocka_unit_test(bins_and_offset),
	    cmocka_unit_test(pro_rating_spreads_and_conserves),
	    cmocka_unit_test(conservation_through_tables),
	    cmocka_unit_test(stage_conserves_with_early_flushes),
	    cmocka_unit_test(bad_plugin_config_is_refused),
	    cmocka_unit_test(bins_of_weeks),
	    cmocka_unit_test(bins_of_months),
	    cmocka_unit_test(pro_rating_across_months),
	};
	log_setup(LL_ERR, stderr, false, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
