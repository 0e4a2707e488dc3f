/* gen.c - `weir gen`: sends generated NetFlow v5/v9/IPFIX to a collector, paced and bounded. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/gen.h"
#include "lib/log.h"

#define EXPORTERS_MAX 250
#define BATCH_DEFAULT 32
#define BATCH_MAX     1024
#define SEND_RETRIES  1000
#define SLEEP_MAX_NS  50000000L /* re-check signals and the deadline at least this often */

struct gen_opts {
	const struct gen_format *fmt;
	const char *target;
	double rate;    /* records/s, 0 = flat out */
	uint64_t limit; /* records, 0 = none (then seconds is required) */
	double seconds; /* 0 = none */
	uint32_t exporters, keys, v6_pct, packets, per, tmpl_every, domain, sampling, batch;
	uint64_t seed;
	bool json;
};

/* One exporter: its socket (own source address on IPv4 loopback) and encoder state. */
struct gen_sock {
	int fd;
	struct gen_exporter x;
	uint32_t since_tmpl; /* data datagrams since the last template datagram */
	bool need_tmpl;
};

struct gen_slot {
	uint32_t records;
	uint64_t packets, bytes;
};

struct gen_totals {
	uint64_t dgrams, records, packets, bytes, errors;
};

/* Everything the send loop owns; allocated once, nothing per datagram. */
struct gen_run {
	struct gen_opts o;
	struct gen_sock sock[EXPORTERS_MAX];
	size_t nsock, cur;
	struct gen_model model;
	struct gen_packer packer;
	size_t budget, max_per, slot_cap;
	uint8_t *buf;
	struct mmsghdr msg[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	struct gen_slot meta[BATCH_MAX];
	size_t nmsg;
	struct gen_rec recs[GEN_PER_MAX];
	double tokens, burst;
	uint64_t last_ns, start_ns, end_ns, deadline_ns;
	uint64_t left; /* records still to build when limit is set */
	struct gen_totals tot;
	sigset_t stop_signals;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: weir gen [options] HOST:PORT      ([ADDR]:PORT for IPv6)\n"
	    "Sends generated flow records to a collector; the totals printed at exit let a\n"
	    "receiver's counts be checked. Only the given target receives anything.\n\n"
	    "  -P, --protocol v5|v9|ipfix|sflow  export protocol (default ipfix); sflow sends one\n"
	    "                              flow sample (raw header) per record, sampling rate =\n"
	    "                              its packets, and counter samples as its \"templates\"\n"
	    "  -r, --rate RATE             records per second, k/M suffix ok (0 = flat out, "
	    "default)\n"
	    "  -n, --records N             records to send (default 100000; 0 = until -t)\n"
	    "  -t, --time SECONDS          stop after this long (default: no time bound)\n"
	    "  -e, --exporters N           exporters, 1..%d (default 1). To an IPv4 loopback\n"
	    "                              target exporter i sends from 127.0.0.(1+i); to other\n"
	    "                              targets (e.g. [::1]) all share one source address and\n"
	    "                              exporter i uses observation domain / source id\n"
	    "                              DOMAIN+i (v5: engine type.id) instead\n"
	    "  -k, --keys N                distinct flow keys (5-tuples), default 1000\n"
	    "      --v6 PERCENT            share of IPv6 keys, 0..100 (default 0; not with v5)\n"
	    "      --packets N             packets per record (default 1); bytes follow a fixed\n"
	    "                              size mix (40..1500 per packet)\n"
	    "      --per-packet N          records per datagram (default: as many as fit in\n"
	    "                              %d bytes: v5 %zu, v9 %zu, IPFIX %zu, sFlow %zu for\n"
	    "                              IPv4; v5 max %d)\n"
	    "      --template-every N      re-send templates every N data datagrams per exporter\n"
	    "                              (default 20; 0 = only at start; v9/IPFIX; sFlow:\n"
	    "                              a counter sample)\n"
	    "      --domain N              observation domain / source id (default 0)\n"
	    "      --sampling N            sampling interval announced in options data (v9/IPFIX)\n"
	    "                              or the v5 header (default 1 = unsampled)\n"
	    "      --seed N                PRNG seed (default 1): same seed, same records\n"
	    "      --batch N               datagrams per sendmmsg call, 1..%d (default %d)\n"
	    "      --json                  also print the totals as one JSON object on stdout\n"
	    "  -h, --help                  this text\n\n"
	    "Records carry 10.0.0.0/8 and 2001:db8::/32 addresses (payload only), a tcp/udp/icmp\n"
	    "mix, ports, TOS, TCP flags, interfaces, AS numbers, masks and next hops, with\n"
	    "timestamps in the last minute. At exit stderr gets:\n"
	    "  gen: sent D datagrams R records P packets B bytes in S s (X rec/s)\n"
	    "Templates (v9/IPFIX) go in their own datagrams, counted in D but not in R.\n"
	    "Exit codes: 0 ok, 1 runtime error, 2 usage error.\n",
	    EXPORTERS_MAX, GEN_BUDGET_DEFAULT, gen_per_dgram_v4(&gen_fmt_v5, GEN_BUDGET_DEFAULT),
	    gen_per_dgram_v4(&gen_fmt_v9, GEN_BUDGET_DEFAULT),
	    gen_per_dgram_v4(&gen_fmt_ipfix, GEN_BUDGET_DEFAULT),
	    gen_per_dgram_v4(&gen_fmt_sflow, GEN_BUDGET_DEFAULT), GEN_V5_MAX, BATCH_MAX,
	    BATCH_DEFAULT);
}

/* Parses an unsigned number with an optional k/M/G suffix (decimal multiples). */
static bool parse_num(const char *s, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return false;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1e6, end++;
	else if (*end == 'G' || *end == 'g')
		v *= 1e9, end++;
	if (*end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	double v;

	if (!parse_num(s, hi, &v) || v < lo || v != floor(v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static void opts_default(struct gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fmt = &gen_fmt_ipfix;
	o->limit = 100000;
	o->exporters = 1;
	o->keys = 1000;
	o->packets = 1;
	o->tmpl_every = 20;
	o->sampling = 1;
	o->seed = 1;
	o->batch = BATCH_DEFAULT;
}

enum {
	OPT_V6 = 256,
	OPT_PACKETS,
	OPT_PER,
	OPT_TMPL,
	OPT_DOMAIN,
	OPT_SAMPLING,
	OPT_SEED,
	OPT_BATCH,
	OPT_JSON,
};

static const struct option long_opts[] = {
    {"protocol", required_argument, NULL, 'P'},
    {"rate", required_argument, NULL, 'r'},
    {"records", required_argument, NULL, 'n'},
    {"time", required_argument, NULL, 't'},
    {"exporters", required_argument, NULL, 'e'},
    {"keys", required_argument, NULL, 'k'},
    {"v6", required_argument, NULL, OPT_V6},
    {"packets", required_argument, NULL, OPT_PACKETS},
    {"per-packet", required_argument, NULL, OPT_PER},
    {"template-every", required_argument, NULL, OPT_TMPL},
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {"sampling", required_argument, NULL, OPT_SAMPLING},
    {"seed", required_argument, NULL, OPT_SEED},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option; false (with a message) when its value is invalid. */
static bool opt_apply(struct gen_opts *o, int c, const char *arg)
{
	double v;

	switch (c) {
	case 'P':
		return (o->fmt = gen_format_find(arg)) != NULL;
	case 'r':
		return parse_num(arg, 1e10, &o->rate);
	case 'n':
		if (!parse_num(arg, 1e15, &v) || v != floor(v))
			return false;
		o->limit = (uint64_t)v;
		return true;
	case 't':
		return parse_num(arg, 1e7, &o->seconds);
	case 'e':
		return parse_u32(arg, 1, EXPORTERS_MAX, &o->exporters);
	case 'k':
		return parse_u32(arg, 1, GEN_KEYS_MAX, &o->keys);
	case OPT_V6:
		return parse_u32(arg, 0, 100, &o->v6_pct);
	case OPT_PACKETS:
		return parse_u32(arg, 1, GEN_PKTS_MAX, &o->packets);
	case OPT_PER:
		return parse_u32(arg, 1, GEN_PER_MAX, &o->per);
	case OPT_TMPL:
		return parse_u32(arg, 0, UINT32_MAX, &o->tmpl_every);
	case OPT_DOMAIN:
		return parse_u32(arg, 0, UINT32_MAX, &o->domain);
	case OPT_SAMPLING:
		return parse_u32(arg, 1, UINT32_MAX, &o->sampling);
	case OPT_SEED:
		if (!parse_num(arg, 1.8e19, &v) || v != floor(v))
			return false;
		o->seed = (uint64_t)v;
		return true;
	case OPT_BATCH:
		return parse_u32(arg, 1, BATCH_MAX, &o->batch);
	case OPT_JSON:
		o->json = true;
		return true;
	}
	return false;
}

/* Cross-option checks. */
static const char *opts_check(const struct gen_opts *o)
{
	if (o->fmt == &gen_fmt_v5 && o->v6_pct)
		return "NetFlow v5 carries IPv4 only: --v6 needs -P v9 or ipfix";
	if (o->fmt == &gen_fmt_v5 && o->per > GEN_V5_MAX)
		return "NetFlow v5 carries at most 30 records per datagram";
	if (o->fmt == &gen_fmt_v5 && o->sampling > 0x3fff)
		return "the v5 header holds a sampling interval up to 16383";
	if (!o->limit && !o->seconds)
		return "-n 0 needs a time bound (-t SECONDS)";
	return NULL;
}

/* Returns 0 when parsed, 2 on a usage error, -1 when --help was printed. */
static int opts_parse(struct gen_opts *o, int argc, char **argv)
{
	int c;

	opts_default(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "P:r:n:t:e:k:h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		if (c == '?' || c == ':') {
			usage(stderr);
			return 2;
		}
		if (!opt_apply(o, c, optarg)) {
			fprintf(stderr, "weir gen: invalid value '%s' for %s\n", optarg,
			        argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "weir gen: need exactly one HOST:PORT target\n\n");
		usage(stderr);
		return 2;
	}
	o->target = argv[optind];
	const char *err = opts_check(o);
	if (err) {
		fprintf(stderr, "weir gen: %s\n", err);
		return 2;
	}
	return 0;
}

/* HOST:PORT or [ADDR]:PORT -> a socket address. Returns 0, or 2 with a message. */
static int resolve(const char *target, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *port;
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *ai;

	if (target[0] == '[') {
		const char *close = strchr(target, ']');
		if (!close || close[1] != ':' || (size_t)(close - target - 1) >= sizeof(host))
			goto bad;
		memcpy(host, target + 1, (size_t)(close - target - 1));
		host[close - target - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(target, ':');
		if (!colon || memchr(target, ':', (size_t)(colon - target)) ||
		    (size_t)(colon - target) >= sizeof(host))
			goto bad;
		memcpy(host, target, (size_t)(colon - target));
		host[colon - target] = '\0';
		port = colon + 1;
	}
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		fprintf(stderr, "weir gen: %s: %s\n", target, gai_strerror(rc));
		return 2;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	fprintf(stderr, "weir gen: target '%s' is not HOST:PORT or [ADDR]:PORT\n", target);
	return 2;
}

static bool is_v4_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	return ss->ss_family == AF_INET && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
}

/*
 * Opens one connected socket per exporter. On an IPv4 loopback target each binds its own
 * 127.0.0.(1+i); otherwise they share the source address and differ by domain.
 */
static int open_sockets(struct gen_run *g, const struct sockaddr_storage *dst, socklen_t dlen)
{
	bool own_addr = is_v4_loopback(dst);
	uint64_t start_ms = now_ms();
	int sndbuf = 4 << 20;

	for (uint32_t i = 0; i < g->o.exporters; i++) {
		struct gen_sock *s = &g->sock[i];
		s->fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s->fd < 0)
			return -1;
		g->nsock++;
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		if (own_addr) {
			struct sockaddr_in src = {.sin_family = AF_INET};
			src.sin_addr.s_addr = htonl(0x7f000001u + i);
			if (bind(s->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
				return -1;
		}
		if (connect(s->fd, (const struct sockaddr *)dst, dlen) < 0)
			return -1;
		/* Distinct uptimes per exporter; an hour up so every timestamp is after boot. */
		s->x.boot_ms = start_ms - 3600000 - (uint64_t)i * 7919;
		s->x.domain = g->o.domain + (own_addr ? 0 : i);
		s->x.sampling = g->o.sampling;
		s->need_tmpl = g->o.fmt->templates != NULL;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sizes the datagram slots and wires the sendmmsg vectors to them once. */
static int setup_batch(struct gen_run *g)
{
	const struct gen_format *f = g->o.fmt;

	if (g->o.per) {
		/* A fixed record count: the byte budget is only what UDP allows. */
		g->budget = GEN_DGRAM_MAX;
		g->max_per = g->o.per;
		size_t worst = f->data_len(0, g->o.per);
		if (worst < f->data_len(g->o.per, 0))
			worst = f->data_len(g->o.per, 0);
		g->slot_cap = worst + 16 < GEN_DGRAM_MAX ? worst + 16 : GEN_DGRAM_MAX;
	} else {
		g->budget = GEN_BUDGET_DEFAULT;
		g->max_per = gen_per_dgram_v4(f, g->budget);
		g->slot_cap = GEN_BUDGET_DEFAULT;
	}
	if (g->slot_cap < 1024)
		g->slot_cap = 1024; /* the template datagram */
	g->buf = malloc(g->slot_cap * g->o.batch);
	if (!g->buf)
		return -1;
	for (size_t i = 0; i < g->o.batch; i++) {
		g->msg[i].msg_hdr.msg_iov = &g->iov[i];
		g->msg[i].msg_hdr.msg_iovlen = 1;
	}
	gen_model_init(&g->model, g->o.seed, g->o.keys, g->o.v6_pct, g->o.packets);
	g->left = g->o.limit;
	/*
	 * Credit a sender may bank: a batch, or 10 ms at the rate, so that being descheduled
	 * for a few ms on a busy box does not lower the average rate.
	 */
	g->burst = (double)g->max_per * g->o.batch;
	if (g->burst < g->o.rate / 100)
		g->burst = g->o.rate / 100;
	g->tokens = (double)g->max_per;
	return 0;
}

static void refill(struct gen_run *g)
{
	uint64_t now = mono_ns();

	g->tokens += (double)(now - g->last_ns) * g->o.rate / 1e9;
	if (g->tokens > g->burst)
		g->tokens = g->burst;
	g->last_ns = now;
}

/* Records the next data datagram may take: the per-datagram maximum, or what -n leaves. */
static size_t next_max(const struct gen_run *g)
{
	if (g->o.limit && g->left < g->max_per)
		return (size_t)g->left;
	return g->max_per;
}

/* Encodes one datagram (template or data) for s into slot i; false when none is due. */
static bool build_one(struct gen_run *g, struct gen_sock *s, size_t i, uint64_t real_ms)
{
	const struct gen_format *f = g->o.fmt;
	uint8_t *slot = g->buf + i * g->slot_cap;
	struct gen_slot *m = &g->meta[i];
	size_t len, n, max = next_max(g);

	memset(m, 0, sizeof(*m));
	if (s->need_tmpl && max > 0) { /* only ahead of data: none trails the last records */
		len = f->templates(slot, g->slot_cap, &s->x, real_ms);
		s->need_tmpl = false;
		s->since_tmpl = 0;
	} else {
		if (max == 0 || (g->o.rate > 0 && g->tokens < (double)max))
			return false;
		/* Records end at or before the header's whole second (v9/IPFIX export time). */
		n = gen_pack(f, &g->model, &g->packer, real_ms - real_ms % 1000, g->budget, max,
		             g->recs);
		len = f->data(slot, g->slot_cap, &s->x, real_ms, g->recs, n);
		assert(len > 0); /* setup_batch sized the slots for max records of either family */
		m->records = (uint32_t)n;
		for (size_t k = 0; k < n; k++) {
			m->packets += g->recs[k].packets;
			m->bytes += g->recs[k].bytes;
		}
		g->left -= g->o.limit ? n : 0;
		g->tokens -= (double)n;
		if (f->templates && g->o.tmpl_every && ++s->since_tmpl >= g->o.tmpl_every)
			s->need_tmpl = true;
	}
	g->iov[i].iov_base = slot;
	g->iov[i].iov_len = len;
	return len > 0;
}

static size_t fill_batch(struct gen_run *g, struct gen_sock *s)
{
	uint64_t real_ms = now_ms();

	if (g->o.rate > 0)
		refill(g);
	g->nmsg = 0;
	while (g->nmsg < g->o.batch && build_one(g, s, g->nmsg, real_ms))
		g->nmsg++;
	return g->nmsg;
}

static void account(struct gen_run *g, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		g->tot.dgrams++;
		g->tot.records += g->meta[i].records;
		g->tot.packets += g->meta[i].packets;
		g->tot.bytes += g->meta[i].bytes;
	}
}

/*
 * Sends the batch. ECONNREFUSED (an ICMP error from an earlier datagram, nothing listening) and
 * EINTR are retried at once, ENOBUFS/EAGAIN after a pause; a datagram that still fails after
 * SEND_RETRIES tries is skipped and counted. Other errors end the run (-1).
 */
static int send_batch(struct gen_run *g, struct gen_sock *s)
{
	size_t done = 0;
	unsigned tries = 0;

	while (done < g->nmsg) {
		int r = sendmmsg(s->fd, g->msg + done, (unsigned)(g->nmsg - done), 0);
		if (r > 0) {
			account(g, done, done + (size_t)r);
			done += (size_t)r;
			tries = 0;
			continue;
		}
		if (r < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
			nanosleep(&(struct timespec){0, 100000}, NULL);
		} else if (r < 0 && errno != ECONNREFUSED && errno != EINTR) {
			fprintf(stderr, "weir gen: send to %s: %s\n", g->o.target, strerror(errno));
			return -1;
		}
		if (++tries > SEND_RETRIES) {
			g->tot.errors++;
			done++;
			tries = 0;
		}
	}
	return 0;
}

/* Sleeps until the bucket holds the next datagram's records, at most SLEEP_MAX_NS. */
static void wait_tokens(struct gen_run *g)
{
	double deficit = (double)next_max(g) - g->tokens;
	long ns = deficit > 0 ? (long)(deficit / g->o.rate * 1e9) + 1 : 1000;

	if (ns > SLEEP_MAX_NS)
		ns = SLEEP_MAX_NS;
	nanosleep(&(struct timespec){0, ns}, NULL);
}

static bool should_stop(struct gen_run *g)
{
	sigset_t pend;

	if (g->o.limit && !g->left)
		return true;
	if (g->deadline_ns && mono_ns() >= g->deadline_ns)
		return true;
	if (sigpending(&pend) == 0 &&
	    (sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1))
		return true;
	return false;
}

/* The send loop: exporters take turns, one batch each. Returns the exit code. */
static int run(struct gen_run *g)
{
	g->start_ns = g->last_ns = mono_ns();
	if (g->o.seconds > 0)
		g->deadline_ns = g->start_ns + (uint64_t)(g->o.seconds * 1e9);
	while (!should_stop(g)) {
		struct gen_sock *s = &g->sock[g->cur];
		if (fill_batch(g, s) == 0) {
			wait_tokens(g);
			continue;
		}
		if (send_batch(g, s) < 0)
			return 1;
		g->cur = (g->cur + 1) % g->nsock;
	}
	g->end_ns = mono_ns();
	return 0;
}

static void summary(const struct gen_run *g)
{
	double secs = (double)(g->end_ns - g->start_ns) / 1e9;
	double rps = secs > 0 ? (double)g->tot.records / secs : 0;

	fprintf(stderr,
	        "gen: sent %" PRIu64 " datagrams %" PRIu64 " records %" PRIu64 " packets %" PRIu64
	        " bytes in %.3f s (%.0f rec/s)\n",
	        g->tot.dgrams, g->tot.records, g->tot.packets, g->tot.bytes, secs, rps);
	if (g->tot.errors)
		fprintf(stderr, "gen: %" PRIu64 " datagrams not sent (send errors)\n",
		        g->tot.errors);
	if (!g->o.json)
		return;
	printf("{\"protocol\":\"%s\",\"exporters\":%u,\"datagrams\":%" PRIu64
	       ",\"records\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"seconds\":%.6f,"
	       "\"records_per_sec\":%.0f,\"send_errors\":%" PRIu64 "}\n",
	       g->o.fmt->name, g->o.exporters, g->tot.dgrams, g->tot.records, g->tot.packets,
	       g->tot.bytes, secs, rps, g->tot.errors);
	fflush(stdout);
}

int cmd_gen(int argc, char **argv)
{
	struct sockaddr_storage dst;
	socklen_t dlen;
	struct gen_run *g = calloc(1, sizeof(*g));
	int rc;

	if (!g) {
		fprintf(stderr, "weir gen: out of memory\n");
		return 1;
	}
	rc = opts_parse(&g->o, argc, argv);
	if (rc == 0)
		rc = resolve(g->o.target, &dst, &dlen);
	if (rc == 0 && (open_sockets(g, &dst, dlen) < 0 || setup_batch(g) < 0)) {
		fprintf(stderr, "weir gen: %s: %s\n", g->o.target, strerror(errno));
		rc = 1;
	}
	if (rc == 0) {
		/* SIGINT/SIGTERM stay pending and end the loop, so the totals still print. */
		sigemptyset(&g->stop_signals);
		sigaddset(&g->stop_signals, SIGINT);
		sigaddset(&g->stop_signals, SIGTERM);
		sigprocmask(SIG_BLOCK, &g->stop_signals, NULL);
		prctl(PR_SET_TIMERSLACK, 1UL); /* pacing sleeps are tens of microseconds */
		rc = run(g);
		summary(g);
	}
	for (size_t i = 0; i < g->nsock; i++)
		close(g->sock[i].fd);
	free(g->buf);
	free(g);
	return rc < 0 ? 0 : rc;
}
