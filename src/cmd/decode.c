/* decode.c - `weir decode`: export datagrams in pcap files to JSON lines (or CSV) on stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "ingest/pcapfile.h"
#include "lib/intern.h"
#include "sink/format.h"
#include "weir/decoder.h"

#define LINE_MAX_LEN    8192
#define EXPIRE_EVERY_MS 1000

struct decode_run {
	struct fmt_opts fmt;
	bool csv;
	bool all;
	FILE *out;
	uint64_t flows;
	uint64_t others;    /* options data and counter records (--all) */
	uint64_t truncated; /* lines longer than LINE_MAX_LEN (cut, never expected) */
	char line[LINE_MAX_LEN];
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: weir decode [--all] [--stats] [--csv] [--port N] FILE.pcap...\n"
	        "\n"
	        "Decodes the NetFlow v5/v9, IPFIX (and sFlow) export datagrams carried in pcap or\n"
	        "pcapng files and prints one JSON object per flow record on stdout, with pmacct's\n"
	        "field names. The exporter is the IP source of each datagram. One decoder state\n"
	        "spans all files, in order, so templates carry over from one file to the next.\n"
	        "\n"
	        "  --all        also print options data records (\"event_type\": \"option\") and\n"
	        "               sFlow counter samples (\"event_type\": \"counter\")\n"
	        "  --stats      print per-exporter decode counters and pcap counters on stderr\n"
	        "  --csv        CSV with pmacct's upper-case header instead of JSON\n"
	        "  --port N     only UDP datagrams sent to port N\n"
	        "  -h, --help   this text\n"
	        "\n"
	        "Exit codes: 0 ok, 1 a file could not be read, 2 usage error.\n");
}

/* The decoder's emit(): formats and writes every record of the batch, then empties it. */
static void emit_batch(void *arg, struct flow_batch *b)
{
	struct decode_run *r = arg;

	for (size_t i = 0; i < b->n; i++) {
		const struct flow *f = &b->rec[i];
		size_t n;

		if (f->event != FLOW_EV_FLOW && !r->all)
			continue;
		if (f->event == FLOW_EV_FLOW)
			r->flows++;
		else
			r->others++;
		if (r->csv)
			n = fmt_csv(r->line, sizeof(r->line), f, &r->fmt);
		else
			n = fmt_json(r->line, sizeof(r->line), f, &r->fmt);
		if (n >= sizeof(r->line)) {
			n = sizeof(r->line) - 1;
			r->truncated++;
		}
		r->line[n] = '\n';
		fwrite(r->line, 1, n + 1, r->out);
	}
	b->n = 0;
}

static void print_pcap_stats(const struct pcapfile_stats *s, const struct decode_run *r)
{
	fprintf(stderr,
	        "pcap: %llu frames, %llu UDP datagrams decoded, %llu to other ports, %llu not UDP, "
	        "%llu malformed\n",
	        (unsigned long long)s->frames, (unsigned long long)s->udp,
	        (unsigned long long)s->filtered, (unsigned long long)s->other,
	        (unsigned long long)s->malformed);
	fprintf(stderr,
	        "pcap: %llu fragments, %llu datagrams reassembled, %llu incomplete or overlapping "
	        "dropped\n",
	        (unsigned long long)s->fragments, (unsigned long long)s->reassembled,
	        (unsigned long long)s->frag_dropped);
	fprintf(stderr, "records: %llu flow, %llu option/counter printed\n",
	        (unsigned long long)r->flows, (unsigned long long)r->others);
	if (r->truncated)
		fprintf(stderr, "records: %llu lines cut at %d bytes\n",
		        (unsigned long long)r->truncated, LINE_MAX_LEN);
}

static void add_stats(struct pcapfile_stats *sum, const struct pcapfile_stats *s)
{
	sum->frames += s->frames;
	sum->udp += s->udp;
	sum->filtered += s->filtered;
	sum->other += s->other;
	sum->fragments += s->fragments;
	sum->reassembled += s->reassembled;
	sum->frag_dropped += s->frag_dropped;
	sum->malformed += s->malformed;
}

/*
 * Feeds every UDP datagram of one file to the decoder. Arrival time is the capture time, and
 * held data expires by capture time too, never by the wall clock. Returns 0, or 1 on a read
 * error (what was read before it is still decoded).
 */
static int decode_file(const char *path, uint16_t port, struct decode_ctx *ctx,
                       struct pcapfile_stats *sum, uint64_t *last_expire)
{
	char err[512];
	struct pcap_udp u;
	struct pcapfile *pf;
	int k;

	pf = pcapfile_open(path, port, err, sizeof(err));
	if (!pf) {
		fprintf(stderr, "weir decode: %s\n", err);
		return 1;
	}
	while ((k = pcapfile_next(pf, &u, err, sizeof(err))) == 1) {
		ctx->src = u.src;
		ctx->src_port = u.src_port;
		ctx->now_ms = u.ts_ms;
		decode_datagram(ctx, u.payload, u.len);
		ctx->emit(ctx->emit_arg, ctx->batch);
		if (u.ts_ms >= *last_expire + EXPIRE_EVERY_MS) {
			decode_expire(ctx->st, u.ts_ms);
			*last_expire = u.ts_ms;
		}
	}
	if (k < 0)
		fprintf(stderr, "weir decode: %s: %s\n", path, err);
	add_stats(sum, pcapfile_stats(pf));
	pcapfile_close(pf);
	return k < 0 ? 1 : 0;
}

struct decode_args {
	bool stats;
	uint16_t port;
	int first_file;
};

/* Returns -1 to go on, or the exit code (help, usage error). */
static int parse_args(int argc, char **argv, struct decode_run *r, struct decode_args *a)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},  {"stats", no_argument, NULL, 's'},
	    {"csv", no_argument, NULL, 'c'},  {"port", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	char *end;
	long v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ascp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			r->all = true;
			break;
		case 's':
			a->stats = true;
			break;
		case 'c':
			r->csv = true;
			break;
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 65535) {
				fprintf(stderr, "weir decode: bad port '%s'\n", optarg);
				return 2;
			}
			a->port = (uint16_t)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "weir decode: no pcap file given\n");
		usage(stderr);
		return 2;
	}
	a->first_file = optind;
	return -1;
}

int cmd_decode(int argc, char **argv)
{
	struct decode_args a = {0};
	struct decode_limits lim;
	struct decode_run *r;
	struct flow_batch *batch;
	struct decode_state *st;
	struct pcapfile_stats sum = {0};
	uint64_t last_expire = 0;
	int rc = 0;

	r = calloc(1, sizeof(*r));
	batch = calloc(1, sizeof(*batch));
	if (!r || !batch) {
		fprintf(stderr, "weir decode: out of memory\n");
		free(r);
		free(batch);
		return 1;
	}
	int pa = parse_args(argc, argv, r, &a);
	if (pa >= 0) {
		free(r);
		free(batch);
		return pa;
	}
	fmt_opts_default(&r->fmt);
	r->out = stdout;
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);

	decode_limits_default(&lim);
	lim.intern = intern_new(0); /* NULL: AS paths and communities are left out */
	st = decode_state_new(&lim);
	if (!st) {
		intern_free(lim.intern);
		fprintf(stderr, "weir decode: cannot create the decoder state\n");
		free(r);
		free(batch);
		return 1;
	}
	struct decode_ctx ctx = {
	    .st = st, .batch = batch, .emit = emit_batch, .emit_arg = r, .want_options = r->all};

	if (r->csv) {
		size_t n = fmt_csv_header(r->line, sizeof(r->line), &r->fmt);
		fprintf(stdout, "%.*s\n", (int)(n < sizeof(r->line) ? n : sizeof(r->line) - 1),
		        r->line);
	}
	for (int i = a.first_file; i < argc; i++)
		rc |= decode_file(argv[i], a.port, &ctx, &sum, &last_expire);
	/* Data still held for a template that never came: counted as dropped. */
	decode_expire(st, last_expire + lim.hold_ms + EXPIRE_EVERY_MS);
	if (fflush(stdout) != 0) {
		perror("weir decode: stdout");
		rc = 1;
	}
	if (a.stats) {
		decode_stats_print(st, stderr);
		print_pcap_stats(&sum, r);
	}
	decode_state_free(st);
	intern_free(lim.intern);
	free(r);
	free(batch);
	return rc;
}
