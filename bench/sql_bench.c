/* sql_bench.c - rows/s of the SQL sinks: one 100 k-key bin written and flushed, then again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "weir/sink.h"

/*
 * usage: sql_bench TYPE [key=value ...] (sqlite3 / mysql / pgsql and its sql_* settings).
 * Writes KEYS distinct 5-tuple rows of one time bin in 1024-row calls as the aggregate writer
 * does, then flushes (one transaction); prints the time of write+flush. A second pass writes
 * the same keys again, so the flush is all upserts that add to existing rows.
 */
#define KEYS  100000
#define CHUNK 1024

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_rows(struct flow *rows)
{
	memset(rows, 0, KEYS * sizeof(*rows));
	for (uint32_t i = 0; i < KEYS; i++) {
		struct flow *f = &rows[i];
		wip_from_v4(&f->src, 0x0a000000u | (i >> 4));
		wip_from_v4(&f->dst, 0xc0000200u | (i & 0xf));
		f->src_port = (uint16_t)(1024 + (i % 50000));
		f->dst_port = (uint16_t)(i % 3 ? 443 : 53);
		f->proto = i % 3 ? 6 : 17;
		f->tcp_flags = f->proto == 6 ? 0x1b : 0;
		f->packets = 1 + i % 20;
		f->bytes = f->packets * 700;
		f->flows = 1;
	}
}

static int pass(const struct sink_ops *ops, struct sink *s, const struct flow *rows, uint64_t bin)
{
	double t0 = now_s();
	uint64_t fields = (UINT64_C(1) << FF_SRC_ADDR) | (UINT64_C(1) << FF_DST_ADDR) |
	                  (UINT64_C(1) << FF_SRC_PORT) | (UINT64_C(1) << FF_DST_PORT) |
	                  (UINT64_C(1) << FF_PROTO) | (UINT64_C(1) << FF_TCP_FLAGS);

	for (size_t at = 0; at < KEYS; at += CHUNK) {
		struct sink_rows r = {
		    .rows = rows + at,
		    .n = KEYS - at < CHUNK ? KEYS - at : CHUNK,
		    .fields = fields,
		    .stamp_inserted_ms = bin,
		    .stamp_updated_ms = bin + 60000,
		};
		if (ops->write(s, &r) < 0)
			return -1;
	}
	if (ops->flush(s, bin + 60000) < 0)
		return -1;
	double dt = now_s() - t0;
	printf("%.3f s, %.0f rows/s\n", dt, KEYS / dt);
	return 0;
}

int main(int argc, char **argv)
{
	static struct conf c;
	char err[512];
	const char *ov[32];
	size_t n_ov = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: sql_bench TYPE [key=value ...]\n");
		return 2;
	}
	char plugins[64];
	snprintf(plugins, sizeof(plugins), "plugins=%s[bench]", argv[1]);
	ov[n_ov++] = plugins;
	for (int i = 2; i < argc && n_ov < 32; i++)
		ov[n_ov++] = argv[i];
	log_setup(LL_WARN, stderr, false, "sql_bench");
	if (conf_load(&c, NULL, ov, n_ov, err, sizeof(err)) < 0) {
		fprintf(stderr, "sql_bench: %s\n", err);
		return 2;
	}
	const struct sink_ops *ops = sink_find(argv[1]);
	struct flow *rows = malloc(KEYS * sizeof(*rows));
	if (!ops || !rows)
		return 2;
	make_rows(rows);
	struct sink *s = ops->open(&c.plugins[0], err, sizeof(err));
	if (!s) {
		fprintf(stderr, "sql_bench: %s\n", err);
		return 1;
	}
	uint64_t bin = (uint64_t)time(NULL) / 60 * 60000;
	printf("%s, %d keys, insert: ", argv[1], KEYS);
	fflush(stdout);
	int rc = pass(ops, s, rows, bin);
	printf("%s, %d keys, upsert: ", argv[1], KEYS);
	fflush(stdout);
	rc |= pass(ops, s, rows, bin);
	ops->close(s);
	free(rows);
	return rc ? 1 : 0;
}
