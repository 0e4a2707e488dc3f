/* decode.c - the decoder table, dispatch by version, per-worker exporter state and its counters. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "decode/decode_int.h"
#include "lib/prefix.h"

#define EXP_IDLE_MS     (3600 * 1000) /* an exporter silent this long may be evicted when full */
#define EXP_BUCKETS_MAX (1u << 20)

const struct decoder_ops *const decoder_table[] = {
    &netflow5_ops, &netflow9_ops, &ipfix_ops, &sflow_ops, NULL,
};

static const char *const drop_names[DROP_REASON_COUNT] = {
    [DROP_TRUNCATED] = "truncated",
    [DROP_BAD_VERSION] = "bad_version",
    [DROP_BAD_LENGTH] = "bad_length",
    [DROP_BAD_SET] = "bad_set",
    [DROP_BAD_TEMPLATE] = "bad_template",
    [DROP_BAD_OPTIONS] = "bad_options",
    [DROP_NO_TEMPLATE] = "no_template",
    [DROP_TEMPLATE_LIMIT] = "template_limit",
    [DROP_HOLD_LIMIT] = "hold_limit",
    [DROP_NOT_ALLOWED] = "not_allowed",
    [DROP_RECORD_OVERFLOW] = "record_overflow",
    [DROP_BAD_SAMPLE] = "bad_sample",
    [DROP_EXPORTER_LIMIT] = "exporter_limit",
};

const char *drop_reason_name(enum drop_reason r)
{
	if ((unsigned)r >= DROP_REASON_COUNT || !drop_names[r])
		return "unknown";
	return drop_names[r];
}

void decode_limits_default(struct decode_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max_exporters = 4096;
	l->max_templates = 1024;
	l->max_template_fields = 512;
	l->hold_bytes = 256 * 1024;
	l->hold_ms = 30 * 1000;
	l->log_per_sec = 10;
}

/* --- exporter table: chained, seeded hash of (address, domain, version) --- */

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static uint32_t exp_hash(uint32_t seed, const struct wip *a, uint32_t domain, uint8_t version)
{
	uint64_t w[2], h = seed ^ UINT64_C(0x9e3779b97f4a7c15);
	memcpy(w, a->a, sizeof(w));
	h = mix64(h ^ w[0]);
	h = mix64(h ^ w[1]);
	h = mix64(h ^ ((uint64_t)domain << 8 | version));
	return (uint32_t)(h ^ h >> 32);
}

static bool exp_is(const struct exporter *e, const struct wip *a, uint32_t domain, uint8_t version)
{
	return e->st.domain == domain && e->st.version == version &&
	       memcmp(&e->st.addr, a, sizeof(*a)) == 0;
}

static struct exporter *exp_lookup(struct decode_state *st, const struct wip *a, uint32_t domain,
                                   uint8_t version, uint32_t h)
{
	for (struct exporter *e = st->buckets[h & st->mask]; e; e = e->next)
		if (e->hash == h && exp_is(e, a, domain, version))
			return e;
	return NULL;
}

static void exp_free(struct decode_state *st, struct exporter *e)
{
	tmpl_store_free(&e->tmpl);
	hold_free(st, e);
	free(e->sflow);
	free(e);
}

static void exp_unlink(struct decode_state *st, struct exporter *victim)
{
	struct exporter **pp = &st->buckets[victim->hash & st->mask];
	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	st->n_exporters--;
	if (st->last == victim)
		st->last = NULL;
	exp_free(st, victim);
}

/* Table full: evicts the exporter silent longest, if it has been silent for EXP_IDLE_MS. */
static bool exp_evict_idle(struct decode_state *st, uint64_t now)
{
	struct exporter *victim = NULL;

	if (now < st->evict_scan_ms + 1000)
		return false; /* a flood of new exporters must not scan the table per datagram */
	st->evict_scan_ms = now;
	for (uint32_t b = 0; b <= st->mask; b++)
		for (struct exporter *e = st->buckets[b]; e; e = e->next)
			if (!victim || e->last_seen_ms < victim->last_seen_ms)
				victim = e;
	if (!victim || victim->last_seen_ms + EXP_IDLE_MS > now)
		return false;
	exp_unlink(st, victim);
	return true;
}

static struct exporter *exp_create(struct decode_state *st, const struct wip *a, uint32_t domain,
                                   uint8_t version, uint32_t h, uint64_t now)
{
	struct exporter *e;

	if (st->n_exporters >= st->lim.max_exporters && !exp_evict_idle(st, now))
		return NULL;
	if (!(e = calloc(1, sizeof(*e))))
		return NULL;
	e->hash = h;
	e->st.addr = *a;
	e->st.domain = domain;
	e->st.version = version;
	e->last_seen_ms = now;
	tmpl_store_init(&e->tmpl);
	e->next = st->buckets[h & st->mask];
	st->buckets[h & st->mask] = e;
	st->n_exporters++;
	return e;
}

struct exporter *exp_find_create(struct decode_state *st, const struct wip *a, uint32_t domain,
                                 uint8_t version, uint64_t now)
{
	uint32_t h = exp_hash(st->seed, a, domain, version);
	struct exporter *e = exp_lookup(st, a, domain, version, h);
	return e ? e : exp_create(st, a, domain, version, h, now);
}

struct exporter *exp_get(struct decode_ctx *ctx, uint32_t domain, uint8_t version, size_t len)
{
	struct decode_state *st = ctx->st;
	struct exporter *e = st->last;

	if (!e || !exp_is(e, &ctx->src, domain, version)) {
		e = exp_find_create(st, &ctx->src, domain, version, ctx->now_ms);
		if (!e) {
			dec_drop(ctx, NULL, DROP_EXPORTER_LIMIT, "datagram");
			return NULL;
		}
		st->last = e;
	}
	e->st.packets++;
	e->st.bytes += len;
	e->last_seen_ms = ctx->now_ms;
	return e;
}

/* --- drops, sequence numbers, samplers --- */

void dec_drop(struct decode_ctx *ctx, struct exporter *e, enum drop_reason r, const char *what)
{
	struct decode_state *st = ctx->st;
	char addr[WIP_STRLEN];

	(e ? &e->st : &st->global)->drops[r]++;
	if (!log_enabled(LL_WARN) || !ratelimit_ok(&st->rl, ctx->now_ms))
		return;
	wip_str(&ctx->src, addr, sizeof(addr));
	if (e)
		log_msg(LL_WARN, "decode: %s v%u domain %u: %s dropped (%s)", addr, e->st.version,
		        e->st.domain, what, drop_reason_name(r));
	else
		log_msg(LL_WARN, "decode: %s: %s dropped (%s)", addr, what, drop_reason_name(r));
}

void exp_seq(struct exporter *e, uint32_t seq, uint32_t n, bool known)
{
	if (e->seq_valid && e->seq_prev_known && (known || !e->seq_inclusive)) {
		uint32_t rfc = e->seq_prev + e->seq_prev_n;
		uint32_t incl = e->seq_prev + n;
		bool ok_rfc = seq == rfc;
		bool ok_incl = e->st.version == 10 && known && seq == incl;

		if (ok_rfc != ok_incl) {
			e->seq_inclusive = ok_incl;
		} else if (!ok_rfc) {
			/* A step back is a restart or reordering, not a loss of 4 billion records.
			 */
			int32_t d = (int32_t)(seq - (e->seq_inclusive ? incl : rfc));
			if (d > 0)
				e->st.seq_gaps += (uint32_t)d;
		}
	}
	e->seq_valid = true;
	e->seq_prev = seq;
	e->seq_prev_n = n;
	e->seq_prev_known = known;
}

uint32_t exp_sampler_rate(const struct exporter *e, uint32_t id)
{
	for (uint8_t i = 0; i < e->n_samplers; i++)
		if (e->samplers[i].id == id)
			return e->samplers[i].rate;
	return 0;
}

void exp_sampler_set(struct exporter *e, uint32_t id, uint32_t rate, uint8_t algo)
{
	struct sampler *s = NULL;

	for (uint8_t i = 0; i < e->n_samplers && !s; i++)
		if (e->samplers[i].id == id)
			s = &e->samplers[i];
	if (!s && e->n_samplers < EXP_SAMPLERS)
		s = &e->samplers[e->n_samplers++];
	if (!s) { /* full: replace round robin */
		s = &e->samplers[e->sampler_next];
		e->sampler_next = (uint8_t)((e->sampler_next + 1) % EXP_SAMPLERS);
	}
	s->id = id;
	s->rate = rate;
	s->algo = algo;
}

/* --- state and dispatch --- */

struct decode_state *decode_state_new(const struct decode_limits *l)
{
	struct decode_state *st = calloc(1, sizeof(*st));
	uint32_t n = 16;

	if (!st)
		return NULL;
	if (l)
		st->lim = *l;
	else
		decode_limits_default(&st->lim);
	if (!st->lim.max_exporters)
		st->lim.max_exporters = 1;
	if (st->lim.max_template_fields > TMPL_FIELDS_MAX)
		st->lim.max_template_fields = TMPL_FIELDS_MAX;
	intern_cache_init(&st->icache, st->lim.intern);
	while (n < st->lim.max_exporters && n < EXP_BUCKETS_MAX)
		n <<= 1;
	st->mask = n - 1;
	st->buckets = calloc(n, sizeof(*st->buckets));
	st->fields = calloc(st->lim.max_template_fields + 1, sizeof(*st->fields));
	if (!st->buckets || !st->fields) {
		free(st->buckets);
		free(st->fields);
		free(st);
		return NULL;
	}
	if (getrandom(&st->seed, sizeof(st->seed), GRND_NONBLOCK) != sizeof(st->seed))
		st->seed = (uint32_t)(uintptr_t)st ^ (uint32_t)mono_ms();
	ratelimit_init(&st->rl, st->lim.log_per_sec);
	return st;
}

void decode_state_free(struct decode_state *st)
{
	if (!st)
		return;
	for (uint32_t b = 0; b <= st->mask; b++) {
		struct exporter *e = st->buckets[b], *next;
		for (; e; e = next) {
			next = e->next;
			exp_free(st, e);
		}
	}
	free(st->buckets);
	free(st->fields);
	free(st);
}

/*
 * Unknown versions are always counted globally (no state is created for junk senders); when
 * the address already has an exporter entry of domain 0, on that entry too.
 */
static void drop_bad_version(struct decode_ctx *ctx)
{
	static const uint8_t versions[] = {9, 10, 5};
	struct decode_state *st = ctx->st;
	struct exporter *e = NULL;

	for (size_t i = 0; i < sizeof(versions) && !e; i++)
		e = exp_lookup(st, &ctx->src, 0, versions[i],
		               exp_hash(st->seed, &ctx->src, 0, versions[i]));
	if (e)
		st->global.drops[DROP_BAD_VERSION]++;
	dec_drop(ctx, e, DROP_BAD_VERSION, "datagram");
}

int decode_datagram(struct decode_ctx *ctx, const uint8_t *p, size_t len)
{
	struct decode_state *st = ctx->st;
	struct cursor c;

	if (st->lim.allow && !allow_list_match(st->lim.allow, &ctx->src)) {
		dec_drop(ctx, NULL, DROP_NOT_ALLOWED, "datagram");
		return -1;
	}
	if (len < 2) {
		dec_drop(ctx, NULL, DROP_TRUNCATED, "datagram");
		return -1;
	}
	for (const struct decoder_ops *const *d = decoder_table; *d; d++) {
		if ((*d)->probe(p, len)) {
			cur_init(&c, p, len);
			return (*d)->decode(ctx, &c);
		}
	}
	drop_bad_version(ctx);
	return -1;
}

void decode_expire(struct decode_state *st, uint64_t now)
{
	if (!st->n_holding)
		return;
	for (uint32_t b = 0; b <= st->mask; b++)
		for (struct exporter *e = st->buckets[b]; e; e = e->next)
			hold_expire(st, e, now);
}

/* --- counters --- */

static bool stats_any(const struct exporter_stats *s)
{
	uint64_t sum = s->packets + s->records + s->option_records;
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		sum += s->drops[r];
	return sum != 0;
}

void decode_stats_foreach(const struct decode_state *st,
                          void (*fn)(void *arg, const struct exporter_stats *s), void *arg)
{
	/* Drops that belong to no exporter: address ::, version 0. */
	if (stats_any(&st->global))
		fn(arg, &st->global);
	for (uint32_t b = 0; b <= st->mask; b++)
		for (const struct exporter *e = st->buckets[b]; e; e = e->next)
			fn(arg, &e->st);
}

static int stats_cmp(const void *a, const void *b)
{
	const struct exporter_stats *x = *(const struct exporter_stats *const *)a;
	const struct exporter_stats *y = *(const struct exporter_stats *const *)b;
	int c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	if (c)
		return c;
	if (x->domain != y->domain)
		return x->domain < y->domain ? -1 : 1;
	return (int)x->version - (int)y->version;
}

struct stats_list {
	const struct exporter_stats **v;
	size_t n;
};

static void stats_collect(void *arg, const struct exporter_stats *s)
{
	struct stats_list *l = arg;
	l->v[l->n++] = s;
}

static void stats_line(FILE *out, const struct exporter_stats *s)
{
	char addr[WIP_STRLEN];
	uint64_t drops = 0;

	for (int r = 0; r < DROP_REASON_COUNT; r++)
		drops += s->drops[r];
	fprintf(out,
	        "%-39s %10u %3u %10llu %12llu %10llu %8llu %8llu %6llu %6llu %8llu %11llu %9llu "
	        "%11llu\n",
	        s->version ? wip_str(&s->addr, addr, sizeof(addr)) : "(none)", s->domain,
	        s->version, (unsigned long long)s->packets, (unsigned long long)s->bytes,
	        (unsigned long long)s->records, (unsigned long long)s->option_records,
	        (unsigned long long)s->seq_gaps, (unsigned long long)s->templates,
	        (unsigned long long)s->held, (unsigned long long)drops,
	        (unsigned long long)s->sample_seq_gaps, (unsigned long long)s->sample_seq_untracked,
	        (unsigned long long)s->sflow_drops);
	if (!drops)
		return;
	fprintf(out, "    drops:");
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		if (s->drops[r])
			fprintf(out, " %s=%llu", drop_reason_name((enum drop_reason)r),
			        (unsigned long long)s->drops[r]);
	fprintf(out, "\n");
}

void decode_stats_print(const struct decode_state *st, FILE *out)
{
	struct stats_list l = {calloc(st->n_exporters + 1, sizeof(*l.v)), 0};

	/* The column names are what /metrics parses (src/http/selfstats.c): one word each. */
	fprintf(out, "%-39s %10s %3s %10s %12s %10s %8s %8s %6s %6s %8s %11s %9s %11s\n",
	        "exporter", "domain", "ver", "packets", "bytes", "records", "options", "seq_gaps",
	        "tmpls", "held", "drops", "sample_gaps", "untracked", "sflow_drops");
	if (!l.v)
		return;
	decode_stats_foreach(st, stats_collect, &l);
	qsort(l.v, l.n, sizeof(*l.v), stats_cmp);
	for (size_t i = 0; i < l.n; i++)
		stats_line(out, l.v[i]);
	free(l.v);
}
