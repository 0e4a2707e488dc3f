/* sflow_bench.c - offline rates: sFlow samples through decode_datagram, and pcap metering. */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "cmd/gen.h"
#include "ingest/meter.h"
#include "lib/intern.h"
#include "weir/decoder.h"

#define REPS    7
#define DGRAMS  20000
#define KEYS    10000
#define PASSES  20 /* the traffic pcap is small: metered this many times per repetition */
#define MAX_PKT 1600

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

/* Samples per CPU second: gen's sFlow datagrams (11 IPv4 samples each) decoded from memory. */
static double decode_rate(uint64_t now, double *per_dgram)
{
	struct gen_model m;
	struct gen_packer pk = {0};
	struct gen_exporter x = {.boot_ms = now - 3600000, .domain = 1, .sampling = 1};
	struct gen_rec r[GEN_PER_MAX];
	uint8_t *buf = malloc((size_t)DGRAMS * GEN_BUDGET_DEFAULT);
	size_t *len = calloc(DGRAMS, sizeof(*len)), used = 0;
	struct flow_batch *batch = calloc(1, sizeof(*batch));
	struct decode_state *st = decode_state_new(NULL);
	uint64_t samples = 0;
	struct sink s = {0};
	double rate[REPS];

	if (!buf || !len || !batch || !st)
		return 0;
	gen_model_init(&m, 1, KEYS, 0, 1);
	for (int d = 0; d < DGRAMS; d++) {
		size_t n =
		    gen_pack(&gen_fmt_sflow, &m, &pk, now, GEN_BUDGET_DEFAULT, GEN_PER_MAX, r);
		len[d] = gen_fmt_sflow.data(buf + used, GEN_BUDGET_DEFAULT, &x, now, r, n);
		used += len[d];
		samples += n;
	}
	*per_dgram = (double)samples / DGRAMS;
	struct decode_ctx ctx = {
	    .st = st, .now_ms = now, .batch = batch, .emit = consume, .emit_arg = &s};
	wip_from_v4(&ctx.src, 0x7f000001);
	for (int rep = 0; rep < REPS; rep++) {
		uint64_t before = s.records;
		double t0 = bench_cpu_now();
		for (size_t d = 0, off = 0; d < DGRAMS; off += len[d++])
			decode_datagram(&ctx, buf + off, len[d]);
		consume(&s, batch);
		rate[rep] = (double)(s.records - before) / (bench_cpu_now() - t0);
		if (s.records - before != samples)
			fprintf(stderr, "sflow_bench: %" PRIu64 " of %" PRIu64 " samples decoded\n",
			        s.records - before, samples);
	}
	decode_state_free(st);
	free(batch);
	free(len);
	free(buf);
	return bench_median(rate, REPS);
}

/* --- extended_gateway records: the cost of keeping AS paths and communities --- */

#define GW_SAMPLES 11

/*
 * A datagram of GW_SAMPLES flow samples, each a sampled IPv4 record and an extended_gateway
 * whose 4-AS path and 2 communities are drawn from `paths` distinct ones (path k: 64512, then
 * three ASNs derived from k).
 */
static size_t gw_dgram(uint8_t *buf, uint32_t seq, uint64_t *rng, uint32_t paths)
{
	uint8_t *p = buf;
	p = gen_put32(p, 5);
	p = gen_put32(p, 1);
	p = gen_put32(p, 0xc0000205); /* agent 192.0.2.5 */
	p = gen_put32(p, 0);
	p = gen_put32(p, seq);
	p = gen_put32(p, 1000);
	p = gen_put32(p, GW_SAMPLES);
	for (uint32_t i = 0; i < GW_SAMPLES; i++) {
		*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t k = (uint32_t)(*rng >> 33) % paths;
		p = gen_put32(p, 1);
		p = gen_put32(p, 32 + 8 + 32 + 8 + 64); /* header, IPv4 record, gateway record */
		p = gen_put32(p, seq * GW_SAMPLES + i); /* sample sequence */
		p = gen_put32(p, 7);
		p = gen_put32(p, 100);
		p = gen_put32(p, (seq * GW_SAMPLES + i) * 100);
		p = gen_put32(p, 0);
		p = gen_put32(p, 1);
		p = gen_put32(p, 2);
		p = gen_put32(p, 2);
		p = gen_put32(p, 3); /* sampled IPv4 */
		p = gen_put32(p, 32);
		p = gen_put32(p, 1000);
		p = gen_put32(p, 6);
		p = gen_put32(p, 0x0a000000 + k);
		p = gen_put32(p, 0x0a800000 + k);
		p = gen_put32(p, 1024 + (k & 0x3fff));
		p = gen_put32(p, 443);
		p = gen_put32(p, 0x18);
		p = gen_put32(p, 0);
		p = gen_put32(p, 1003); /* extended gateway */
		p = gen_put32(p, 64);
		p = gen_put32(p, 1);
		p = gen_put32(p, 0x0aff0001);
		p = gen_put32(p, 64500);
		p = gen_put32(p, 64501);
		p = gen_put32(p, 64502);
		p = gen_put32(p, 1); /* one AS_SEQUENCE of 4 */
		p = gen_put32(p, 2);
		p = gen_put32(p, 4);
		p = gen_put32(p, 64512);
		p = gen_put32(p, 65000 + k % 500);
		p = gen_put32(p, 4200000000u + k);
		p = gen_put32(p, 70000 + k / 7);
		p = gen_put32(p, 2);
		p = gen_put32(p, 0xfc000000u | (k & 0xffff));
		p = gen_put32(p, 0xfc010000u | (k >> 16));
		p = gen_put32(p, 100);
	}
	return (size_t)(p - buf);
}

/* Samples per CPU second with gateway records; in NULL = texts not kept. */
static double gateway_rate(uint64_t now, uint32_t paths, struct intern *in)
{
	uint8_t *buf = malloc((size_t)DGRAMS * 2048);
	size_t *len = calloc(DGRAMS, sizeof(*len)), used = 0;
	struct flow_batch *batch = calloc(1, sizeof(*batch));
	struct decode_limits l;
	uint64_t rng = 42;
	struct sink s = {0};
	double rate[REPS];

	decode_limits_default(&l);
	l.intern = in;
	struct decode_state *st = decode_state_new(&l);
	if (!buf || !len || !batch || !st)
		return 0;
	for (uint32_t d = 0; d < DGRAMS; d++) {
		len[d] = gw_dgram(buf + used, d + 1, &rng, paths);
		used += len[d];
	}
	struct decode_ctx ctx = {
	    .st = st, .now_ms = now, .batch = batch, .emit = consume, .emit_arg = &s};
	wip_from_v4(&ctx.src, 0x7f000001);
	for (int rep = 0; rep < REPS; rep++) {
		uint64_t before = s.records;
		double t0 = bench_cpu_now();
		for (size_t d = 0, off = 0; d < DGRAMS; off += len[d++])
			decode_datagram(&ctx, buf + off, len[d]);
		consume(&s, batch);
		rate[rep] = (double)(s.records - before) / (bench_cpu_now() - t0);
		if (s.records - before != (uint64_t)DGRAMS * GW_SAMPLES)
			fprintf(stderr, "sflow_bench: gateway: %" PRIu64 " samples decoded\n",
			        s.records - before);
	}
	decode_state_free(st);
	free(batch);
	free(len);
	free(buf);
	return bench_median(rate, REPS);
}

static void gateway_rates(uint64_t now)
{
	static const uint32_t paths[] = {1000, 100000};
	double none = gateway_rate(now, 1000, NULL);

	printf("sflow decode with extended_gateway (sampled IPv4 + gateway, %d samples/datagram):\n"
	       "  texts not kept: %.0f samples/s\n",
	       GW_SAMPLES, none);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct intern *in = intern_new(0);
		double r = gateway_rate(now, paths[i], in);
		struct intern_stats is;
		intern_stats_get(in, &is);
		printf("  %6u distinct paths, interned: %.0f samples/s (%.2fx; %" PRIu64
		       " texts, %" PRIu64 " bytes)\n",
		       paths[i], r, none > 0 ? r / none : 0, is.strings, is.bytes);
		intern_free(in);
	}
}

struct frames {
	uint8_t (*data)[MAX_PKT];
	uint32_t *caplen, *len;
	uint64_t *ts;
	size_t n;
	int link;
};

static int load(const char *path, struct frames *f)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *p;
	pcap_t *pc = pcap_open_offline(path, err);
	size_t cap = 0;

	if (!pc) {
		fprintf(stderr, "sflow_bench: %s\n", err);
		return -1;
	}
	f->link = pcap_datalink(pc);
	while (pcap_next_ex(pc, &h, &p) == 1) {
		if (f->n == cap) {
			cap = cap ? cap * 2 : 8192;
			f->data = realloc(f->data, cap * sizeof(*f->data));
			f->caplen = realloc(f->caplen, cap * sizeof(*f->caplen));
			f->len = realloc(f->len, cap * sizeof(*f->len));
			f->ts = realloc(f->ts, cap * sizeof(*f->ts));
		}
		uint32_t c = h->caplen < MAX_PKT ? h->caplen : MAX_PKT;
		memcpy(f->data[f->n], p, c);
		f->caplen[f->n] = c;
		f->len[f->n] = h->len;
		f->ts[f->n++] = (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;
	}
	pcap_close(pc);
	return f->link == DLT_EN10MB ? 0 : -1;
}

/* Packets per CPU second through the flow cache (65536 entries, 60 s / 15 s timeouts). */
static double meter_rate(const struct frames *f, uint64_t *flows)
{
	struct meter_conf mc = {.max_entries = 65536, .active_ms = 60000, .inactive_ms = 15000};
	struct flow_batch *batch = calloc(1, sizeof(*batch));
	struct sink s = {0};
	double rate[REPS];

	for (int rep = 0; rep < REPS; rep++) {
		struct meter *m = meter_new(&mc);
		meter_set_output(m, batch, consume, &s);
		double t0 = bench_cpu_now();
		for (int pass = 0; pass < PASSES; pass++) {
			/* each pass later in time than the last: its flows are new ones */
			uint64_t shift = (uint64_t)pass * 3600 * 1000;
			for (size_t i = 0; i < f->n; i++) {
				meter_packet(m, f->data[i], f->caplen[i], f->len[i], PKT_LINK_ETH,
				             f->ts[i] + shift);
				if (i % 1024 == 0)
					meter_expire(m, f->ts[i] + shift);
			}
		}
		meter_flush(m, UINT64_MAX / 2);
		consume(&s, batch);
		rate[rep] = (double)(f->n * PASSES) / (bench_cpu_now() - t0);
		meter_free(m);
	}
	*flows = s.records / REPS;
	free(batch);
	return bench_median(rate, REPS);
}

int main(int argc, char **argv)
{
	struct timespec ts;
	struct frames f = {0};
	double per = 0;
	uint64_t flows = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000;
	double dec = decode_rate(now, &per);
	printf("sflow decode: %.0f samples/s on one core (%d datagrams of %.1f samples, median "
	       "of %d)\n",
	       dec, DGRAMS, per, REPS);
	gateway_rates(now);
	if (argc < 2)
		return 0;
	if (load(argv[1], &f) < 0)
		return 1;
	double met = meter_rate(&f, &flows);
	printf("pcap metering: %.0f packets/s on one core (%zu frames x %d passes from memory, "
	       "%" PRIu64 " flows per repetition, median of %d)\n",
	       met, f.n, PASSES, flows, REPS);
	free(f.data);
	free(f.caplen);
	free(f.len);
	free(f.ts);
	return 0;
}
