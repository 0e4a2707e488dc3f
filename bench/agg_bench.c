/* agg_bench.c - aggregation rate and memory: 5-tuple flows into one worker table, 1 k..10 M keys.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "aggregate/key.h"
#include "aggregate/table.h"
#include "weir/flow.h"

#define RING      4096 /* flows reused round robin: the key fields are rewritten per record */
#define PASSES    5
#define MIN_RECS  (20u * 1000 * 1000)
#define FIVE_TUPL "src_host, dst_host, src_port, dst_port, proto"

/* Key number k as a flow: 10.x.y.z -> 192.0.2.w, ports and protocol varied too. */
static void set_key(struct flow *f, uint64_t k)
{
	uint32_t v = (uint32_t)k;

	f->src.a[12] = 10;
	f->src.a[13] = (uint8_t)(v >> 16);
	f->src.a[14] = (uint8_t)(v >> 8);
	f->src.a[15] = (uint8_t)v;
	f->dst.a[15] = (uint8_t)(k >> 24);
	f->src_port = (uint16_t)(1024 + (v & 0x3ff));
	f->dst_port = 443;
	f->proto = 6;
}

/* Records per second (median of PASSES) adding `recs` flows over `keys` keys, table full. */
static void run(uint64_t keys, bool json)
{
	struct agg_key k;
	char err[256];
	static struct flow ring[RING];
	uint8_t key[AGG_KEY_MAX];
	double rate[PASSES];

	if (agg_key_parse(&k, FIVE_TUPL, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	struct agg_table *t = agg_table_new(k.len, keys, 0x5eed);
	if (!t) {
		fprintf(stderr, "out of memory for %" PRIu64 " keys\n", keys);
		exit(1);
	}
	for (size_t i = 0; i < RING; i++) {
		memset(&ring[i], 0, sizeof(ring[i]));
		wip_from_v4(&ring[i].src, 0x0a000000);
		wip_from_v4(&ring[i].dst, 0xc0000200);
		ring[i].present = UINT64_C(1) << FF_SRC_ADDR | UINT64_C(1) << FF_DST_ADDR |
		                  UINT64_C(1) << FF_SRC_PORT | UINT64_C(1) << FF_DST_PORT |
		                  UINT64_C(1) << FF_PROTO;
		ring[i].bytes = 1500;
		ring[i].packets = 1;
	}
	/* Fill every key once (the table then holds `keys` entries), untimed. */
	for (uint64_t i = 0; i < keys; i++) {
		set_key(&ring[0], i);
		agg_key_pack(&k, &ring[0], 0, 0, key);
		agg_table_add(t, key, 1500, 1, 1, 0);
	}
	uint64_t recs = keys * 3 > MIN_RECS ? keys * 3 : MIN_RECS;
	/* A multiplicative stride visits the keys in scattered order, as real traffic does. */
	uint64_t stride = UINT64_C(2654435761) % keys | 1;
	while (keys > 1 && stride % 2 == 0)
		stride++;
	for (int p = 0; p < PASSES; p++) {
		uint64_t kk = (uint64_t)p;
		double t0 = bench_cpu_now();
		for (uint64_t i = 0; i < recs; i++) {
			struct flow *f = &ring[i & (RING - 1)];
			kk += stride;
			if (kk >= keys)
				kk -= keys;
			if (kk >= keys)
				kk %= keys;
			set_key(f, kk);
			agg_key_pack(&k, f, 0, 0, key);
			if (!agg_table_add(t, key, f->bytes, f->packets, 1, 0)) {
				fprintf(stderr, "table full: the key walk left the key set\n");
				exit(1);
			}
		}
		rate[p] = (double)recs / (bench_cpu_now() - t0);
	}
	qsort(rate, PASSES, sizeof(rate[0]), bench_cmp_double);
	double per_entry = (double)agg_table_bytes(t) / (double)keys;
	if (json)
		printf("{\"keys\": %" PRIu64
		       ", \"records_per_sec\": %.0f, \"ns_per_record\": %.1f, "
		       "\"bytes_per_entry\": %.1f, \"entries\": %zu}\n",
		       keys, rate[PASSES / 2], 1e9 / rate[PASSES / 2], per_entry, t->n);
	else
		printf("%10" PRIu64 " keys  %8.2f M rec/s/core  %6.1f ns/rec  %6.1f bytes/entry"
		       "  (%zu entries, key %zu B, entry %zu B)\n",
		       keys, rate[PASSES / 2] / 1e6, 1e9 / rate[PASSES / 2], per_entry, t->n, k.len,
		       t->stride);
	fflush(stdout);
	agg_table_free(t);
}

int main(int argc, char **argv)
{
	static const uint64_t def[] = {1000, 100000, 1000000, 10000000};
	bool json = false;
	int c;

	while ((c = getopt(argc, argv, "j")) != -1)
		if (c == 'j')
			json = true;
	if (!json)
		printf("5-tuple key (%s), one table, one core, median of %d passes of >= %u M "
		       "records\n",
		       FIVE_TUPL, PASSES, MIN_RECS / 1000000);
	if (optind < argc) {
		for (int i = optind; i < argc; i++)
			run(strtoull(argv[i], NULL, 10), json);
	} else {
		for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			run(def[i], json);
	}
	return 0;
}
