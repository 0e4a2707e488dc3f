/* decode_bench.c - offline decode rate: gen's datagrams in memory through decode_datagram. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "cmd/gen.h"
#include "weir/decoder.h"
#include "weir/flow.h"

#define REPS_DEFAULT   7
#define DGRAMS_DEFAULT 4000
#define REPS_MAX       101
#define KEYS_DEFAULT   10000

struct bench_opts {
	uint32_t reps, dgrams, keys, v6_pct;
	bool json;
};

/* A capture in memory: datagrams back to back, the template datagram first. */
struct capture {
	uint8_t *buf;
	size_t *off, *len;
	size_t n;
	uint64_t records;
};

struct sink {
	uint64_t records, bytes;
};

static void consume(void *arg, struct flow_batch *b)
{
	struct sink *s = arg;

	for (size_t i = 0; i < b->n; i++)
		s->bytes += b->rec[i].bytes;
	s->records += b->n;
	b->n = 0;
}

/* Encodes the capture: a template datagram (v9/IPFIX), then dgrams data datagrams. */
static int build(struct capture *c, const struct gen_format *f, const struct bench_opts *o,
                 uint64_t now)
{
	struct gen_model m;
	struct gen_packer pk = {0};
	struct gen_exporter x = {.boot_ms = now - 3600000, .domain = 1, .sampling = 1};
	struct gen_rec r[GEN_PER_MAX];
	size_t cap = (size_t)(o->dgrams + 1) * GEN_BUDGET_DEFAULT, used = 0;

	c->buf = malloc(cap);
	c->off = calloc(o->dgrams + 1, sizeof(size_t));
	c->len = calloc(o->dgrams + 1, sizeof(size_t));
	if (!c->buf || !c->off || !c->len)
		return -1;
	gen_model_init(&m, 1, o->keys, f->version == 5 ? 0 : o->v6_pct, 1);
	c->n = 0;
	c->records = 0;
	if (f->templates) {
		c->off[0] = 0;
		c->len[0] = f->templates(c->buf, GEN_BUDGET_DEFAULT, &x, now);
		used = c->len[0];
		c->n = 1;
	}
	for (uint32_t d = 0; d < o->dgrams; d++) {
		size_t n =
		    gen_pack(f, &m, &pk, now - now % 1000, GEN_BUDGET_DEFAULT, GEN_PER_MAX, r);
		size_t len = f->data(c->buf + used, cap - used, &x, now, r, n);
		if (!len)
			return -1;
		c->off[c->n] = used;
		c->len[c->n++] = len;
		used += len;
		c->records += n;
	}
	return 0;
}

/* Decodes the capture reps times (state kept: templates learned once); records per CPU second. */
static double run_decode(const struct capture *c, uint32_t reps, uint64_t now, bool *ok)
{
	struct decode_limits lim;
	struct flow_batch *batch = malloc(sizeof(*batch));
	struct sink s = {0};
	double rate[REPS_MAX];

	decode_limits_default(&lim);
	struct decode_state *st = decode_state_new(&lim);
	if (!batch || !st) {
		*ok = false;
		free(batch);
		return 0;
	}
	batch->n = 0;
	struct decode_ctx ctx = {
	    .st = st, .now_ms = now, .batch = batch, .emit = consume, .emit_arg = &s};
	wip_from_v4(&ctx.src, 0x7f000001);
	*ok = true;
	for (uint32_t r = 0; r < reps; r++) {
		uint64_t before = s.records;
		double t0 = bench_cpu_now();
		for (size_t i = 0; i < c->n; i++)
			decode_datagram(&ctx, c->buf + c->off[i], c->len[i]);
		consume(&s, batch);
		double t1 = bench_cpu_now();
		if (s.records - before != c->records)
			*ok = false;
		rate[r] = (double)c->records / (t1 - t0);
	}
	decode_state_free(st);
	free(batch);
	return bench_median(rate, reps);
}

/* Records per CPU second of gen's own encoder (model + pack + encode), for scale. */
static double run_encode(const struct gen_format *f, const struct bench_opts *o, uint64_t now)
{
	struct gen_model m;
	struct gen_packer pk = {0};
	struct gen_exporter x = {.boot_ms = now - 3600000, .domain = 1, .sampling = 1};
	struct gen_rec r[GEN_PER_MAX];
	uint8_t buf[GEN_BUDGET_DEFAULT];
	double rate[REPS_MAX];
	uint64_t sum = 0;

	gen_model_init(&m, 1, o->keys, f->version == 5 ? 0 : o->v6_pct, 1);
	for (uint32_t rep = 0; rep < o->reps; rep++) {
		uint64_t recs = 0;
		double t0 = bench_cpu_now();
		for (uint32_t d = 0; d < o->dgrams; d++) {
			size_t n = gen_pack(f, &m, &pk, now - now % 1000, GEN_BUDGET_DEFAULT,
			                    GEN_PER_MAX, r);
			sum += f->data(buf, sizeof(buf), &x, now, r, n);
			recs += n;
		}
		rate[rep] = (double)recs / (bench_cpu_now() - t0);
	}
	return sum ? bench_median(rate, o->reps) : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: decode_bench [-r REPS] [-d DATAGRAMS] [-k KEYS] [--v6 PCT] [--json]\n"
	             "Decodes gen-encoded IPFIX, v9 and v5 datagrams from memory on one core and\n"
	             "prints the median records per CPU second over REPS passes (default 7).\n");
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {{"v6", required_argument, NULL, 'v'},
	                                   {"json", no_argument, NULL, 'j'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	int ch;

	*o = (struct bench_opts){REPS_DEFAULT, DGRAMS_DEFAULT, KEYS_DEFAULT, 0, false};
	while ((ch = getopt_long(argc, argv, "r:d:k:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o->reps = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o->dgrams = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o->keys = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'v':
			o->v6_pct = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o->reps || o->reps > REPS_MAX || !o->dgrams || o->dgrams > 1000000 || !o->keys ||
	    o->v6_pct > 100) {
		usage(stderr);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct gen_format *fmts[] = {&gen_fmt_ipfix, &gen_fmt_v9, &gen_fmt_v5};
	struct bench_opts o;
	struct timespec ts;
	int rc = 0;

	if (parse(argc, argv, &o))
		return 2;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (!o.json)
		printf("%-6s %9s %8s %16s %16s\n", "format", "datagrams", "rec/dg", "decode rec/s",
		       "encode rec/s");
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct capture c = {0};
		bool ok = false;
		double dec = 0, enc = 0;
		if (build(&c, fmts[i], &o, now) == 0) {
			dec = run_decode(&c, o.reps, now, &ok);
			enc = run_encode(fmts[i], &o, now);
		}
		if (!ok)
			rc = 1;
		double per = (double)c.records / o.dgrams;
		if (o.json)
			printf("{\"format\":\"%s\",\"datagrams\":%u,\"records_per_datagram\":%.1f,"
			       "\"decode_records_per_sec\":%.0f,\"encode_records_per_sec\":%.0f,"
			       "\"ok\":%s}\n",
			       fmts[i]->name, o.dgrams, per, dec, enc, ok ? "true" : "false");
		else
			printf("%-6s %9u %8.1f %16.0f %16.0f%s\n", fmts[i]->name, o.dgrams, per,
			       dec, enc, ok ? "" : "  (record count mismatch)");
		free(c.buf);
		free(c.off);
		free(c.len);
	}
	return rc;
}
