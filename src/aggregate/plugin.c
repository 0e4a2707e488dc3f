/* plugin.c - the aggregate stage: workers add flows into their own tables, one writer thread per
 * plugin merges the tables it is handed and writes rows to the sink. */
#include "aggregate/plugin.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/bins.h"
#include "aggregate/key.h"
#include "aggregate/table.h"
#include "conf/conf.h"
#include "enrich/asname.h"
#include "enrich/enrich.h"
#include "enrich/filter.h"
#include "lib/log.h"
#include "sink/format.h"
#include "weir/sink.h"

/*
 * Table protocol. Each (plugin, worker) pair owns TBL_POOL tables: one being filled by the
 * worker, the other free or queued to the writer. At a refresh deadline the writer bumps
 * flush_gen; every worker notices it on its next loop pass and hands its table over tagged with
 * that generation (an "ack"). Once every worker has acked, the writer writes the merged rows and
 * flushes the sink: everything a worker accounted before its ack lands in the closing interval.
 * Tables that arrive from an already-acked worker meanwhile belong to the next interval and wait
 * on the deferred list. A table that fills up (print_cache_entries) is handed over early and
 * merged like any other.
 */
#define TBL_POOL     2
#define ACK_GRACE_MS 5000 /* a worker that does not ack by then is left for the next interval */
#define WAIT_MAX_MS  200
#define ROWS_CHUNK   1024
#define TAG_RANGES   32
#define MERGE_MAX    (1u << 26)
#define AS_NAME_LEN  128
#define AS_NAMES     (FMT_BIT(FMT_F_AS_SRC_NAME) | FMT_BIT(FMT_F_AS_DST_NAME))

struct ptable {
	struct ptable *next;
	unsigned worker;
	uint64_t ack_gen; /* 0 = handed over because full; else the generation this closes */
	struct agg_table *t;
};

/*
 * A worker's adds go through a short queue so that the table's cache misses overlap: a key's
 * first slot is prefetched when it is queued, the entry that slot names PEND / 2 adds later, and
 * the add happens PEND adds later (or when the batch ends).
 */
#define PEND 16
struct pend {
	uint32_t h;
	uint8_t flags;
	uint64_t bytes, packets, flows;
	uint8_t key[AGG_KEY_MAX];
};

struct pworker {
	struct ptable *cur;  /* owned by the worker */
	struct ptable *free; /* under plugin.mu */
	uint64_t gen_seen;   /* worker-private: the last generation it acked */
	bool acked;          /* writer-private: acked the pending flush */
	_Atomic uint64_t records, filtered, tables, early, stalls;
	unsigned pend_head, pend_n; /* worker-private: the adds in flight, oldest first */
	struct pend pend[PEND];
	char pad[64]; /* keeps two workers' hot fields off one cache line */
};

struct tag_range {
	uint64_t lo, hi;
};

struct plugin {
	const struct plugin_conf *pc;
	const struct sink_ops *ops;
	struct sink *sink;
	unsigned n_workers;
	struct pworker *pw;
	struct ptable *all; /* every table, for freeing */

	/* what the workers read (set before any thread runs) */
	struct agg_key key;
	struct agg_bins bins;
	struct flow_filter *filter;
	size_t n_tags;
	struct tag_range tags[TAG_RANGES];
	bool time_new;

	pthread_t writer;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t wake;  /* writer: a table was queued, or stop */
	pthread_cond_t freed; /* workers: a table came back */
	struct ptable *q_head, *q_tail;
	bool stopping;
	_Atomic uint64_t flush_gen;

	/* writer-private */
	struct agg_table *merge;
	struct flow *rows;
	char (*names)[2][AS_NAME_LEN]; /* as_*_name of rows[i]; NULL when the key has none */
	struct asname *an;             /* the resolver; owned by the caller of plugin_open() */
	uint64_t refresh_ms, bin_ms, next_ms;
	bool pending;
	uint64_t pending_gen, pending_since;
	unsigned acks;
	uint64_t rows_in_bin;
	struct ptable *def_head, *def_tail;
	struct ratelimit rl;

	_Atomic uint64_t rows_out, rows_refused, flushes, write_errors, late_workers, merge_early;

	/* Sink write/flush latency: only the writer adds, any thread reads (no lock). */
	_Atomic uint64_t lat_bucket[PLUGIN_LAT_BUCKETS + 1]; /* per bucket; the last: above all */
	_Atomic uint64_t lat_ns;

	/* The stats readers (SIGUSR1, HTTP) against the sink's close; apart, as they get a const p
	 */
	pthread_mutex_t *smu;
	char *sink_final;             /* the sink's stats line, taken just before it closed */
	struct sink_backlog bl_final; /* and its backlog then */
};

struct plugin_set {
	unsigned n;
	unsigned n_workers;
	struct enrich *enrich;
	bool enrich_on;
	struct plugin p[];
};

/* Prometheus' default buckets, with three finer ones for sinks that write to a local file. */
const double plugin_lat_le[PLUGIN_LAT_BUCKETS] = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static uint64_t rel(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void inc(_Atomic uint64_t *v, uint64_t by)
{
	atomic_fetch_add_explicit(v, by, memory_order_relaxed);
}

/* Seeds differ per process so that crafted flows cannot aim at one probe chain. */
static uint64_t table_seed(const struct plugin *p)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)(uintptr_t)p;
}

static int pool_alloc(struct plugin *p, uint64_t seed)
{
	size_t bound = p->pc->print_cache_entries ? p->pc->print_cache_entries : 65535;
	size_t mbound = bound * p->n_workers;

	if (mbound > MERGE_MAX)
		mbound = bound > MERGE_MAX ? bound : MERGE_MAX;
	p->pw = calloc(p->n_workers, sizeof(*p->pw));
	p->all = calloc((size_t)p->n_workers * TBL_POOL, sizeof(*p->all));
	p->rows = calloc(ROWS_CHUNK, sizeof(*p->rows));
	p->merge = agg_table_new(p->key.len, mbound, seed);
	if (!p->pw || !p->all || !p->rows || !p->merge)
		return -1;
	if ((p->key.fields & AS_NAMES) && !(p->names = calloc(ROWS_CHUNK, sizeof(*p->names))))
		return -1;
	for (unsigned w = 0; w < p->n_workers; w++) {
		for (unsigned i = 0; i < TBL_POOL; i++) {
			struct ptable *t = &p->all[w * TBL_POOL + i];
			t->worker = w;
			t->t = agg_table_new(p->key.len, bound, seed);
			if (!t->t)
				return -1;
			if (i == 0) {
				p->pw[w].cur = t;
			} else {
				t->next = p->pw[w].free;
				p->pw[w].free = t;
			}
		}
	}
	return 0;
}

static int sync_init(struct plugin *p)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC))
		return -1;
	p->smu = malloc(sizeof(*p->smu));
	int rc = !p->smu || pthread_mutex_init(&p->mu, NULL) || pthread_mutex_init(p->smu, NULL) ||
	         pthread_cond_init(&p->wake, &ca) || pthread_cond_init(&p->freed, &ca);
	pthread_condattr_destroy(&ca);
	return rc ? -1 : 0;
}

/* pre_tag_filter: "1,5-10,0"; 0 matches untagged flows. */
static int parse_tags(struct plugin *p, char *err, size_t errlen)
{
	char item[64];
	const char *s = p->pc->pre_tag_filter;

	if (!s[0])
		return 0;
	while (agg_list_next(&s, item, sizeof(item))) {
		unsigned long long lo, hi;
		char *end;
		errno = 0;
		lo = strtoull(item, &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtoull(end + 1, &end, 10);
		if (errno || *end || end == item || hi < lo || p->n_tags == TAG_RANGES) {
			snprintf(err, errlen,
			         "pre_tag_filter: '%.64s' is not a tag or a-b range "
			         "(at most %d items)",
			         item, TAG_RANGES);
			return -1;
		}
		p->tags[p->n_tags++] = (struct tag_range){lo, hi};
	}
	return 0;
}

static int configure(struct plugin *p, const struct plugin_conf *pc, char *err, size_t errlen)
{
	char msg[256];

	if (agg_key_parse(&p->key, pc->aggregate, pc->history != 0, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "plugin %s[%s]: %s", pc->type, pc->name, msg);
		return -1;
	}
	if (pc->history)
		p->key.fields |= FMT_BIT(FMT_F_STAMPS);
	agg_bins_set(&p->bins, pc->history, pc->history_roundoff);
	p->bins.offset = pc->history_offset;
	p->bins.pro_rating = pc->conf && pc->conf->pro_rating;
	p->time_new = pc->conf && pc->conf->time_new;
	if (pc->aggregate_filter[0] &&
	    !(p->filter = flow_filter_compile(pc->aggregate_filter, msg, sizeof(msg)))) {
		snprintf(err, errlen, "plugin %s[%s]: aggregate_filter: %s", pc->type, pc->name,
		         msg);
		return -1;
	}
	if (parse_tags(p, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "plugin %s[%s]: %s", pc->type, pc->name, msg);
		return -1;
	}
	return 0;
}

static int plugin_init(struct plugin *p, const struct plugin_conf *pc, unsigned n_workers,
                       char *err, size_t errlen)
{
	char serr[256] = "";

	p->pc = pc;
	p->n_workers = n_workers;
	p->ops = sink_find(pc->type);
	if (!p->ops) {
		snprintf(err, errlen, "plugin %s[%s]: no sink of type '%s' in this build", pc->type,
		         pc->name, pc->type);
		return -1;
	}
	if (configure(p, pc, err, errlen) < 0)
		return -1;
	if (sync_init(p) < 0 || pool_alloc(p, table_seed(p)) < 0) {
		snprintf(err, errlen, "plugin %s[%s]: out of memory", pc->type, pc->name);
		return -1;
	}
	p->sink = p->ops->open(pc, serr, sizeof(serr));
	if (!p->sink) {
		snprintf(err, errlen, "plugin %s[%s]: %s", pc->type, pc->name, serr);
		return -1;
	}
	p->refresh_ms = (uint64_t)(pc->print_refresh_time ? pc->print_refresh_time : 60) * 1000;
	ratelimit_init(&p->rl, 1);
	return 0;
}

/*
 * Closes the sink (once), keeping its last stats line and backlog for the counters printed
 * after the writers stopped (the exit log). Under smu: a stats reader never sees it closing.
 */
static void close_sink(struct plugin *p)
{
	char *text = NULL;
	size_t len = 0;

	if (!p->sink || !p->smu)
		return;
	if (p->ops->stats) {
		FILE *f = open_memstream(&text, &len);
		if (f) {
			p->ops->stats(p->sink, f);
			fclose(f);
		}
	}
	pthread_mutex_lock(p->smu);
	if (p->ops->backlog)
		p->ops->backlog(p->sink, &p->bl_final);
	p->sink_final = text;
	p->ops->close(p->sink);
	p->sink = NULL;
	pthread_mutex_unlock(p->smu);
}

static void plugin_free_one(struct plugin *p)
{
	if (!p->started)
		close_sink(p);
	free(p->sink_final);
	free(p->smu);
	if (p->all)
		for (size_t i = 0; i < (size_t)p->n_workers * TBL_POOL; i++)
			agg_table_free(p->all[i].t);
	free(p->all);
	free(p->pw);
	free(p->rows);
	free(p->names);
	agg_table_free(p->merge);
	flow_filter_free(p->filter);
}

static void set_free(struct plugin_set *ps)
{
	for (unsigned i = 0; i < ps->n; i++)
		plugin_free_one(&ps->p[i]);
	enrich_free(ps->enrich);
	free(ps);
}

struct plugin_set *plugin_open(const struct conf *c, unsigned n_workers, char *err, size_t errlen)
{
	struct plugin_set *ps;

	if (c->n_plugins == 0) {
		snprintf(err, errlen, "no plugin configured");
		return NULL;
	}
	ps = calloc(1, sizeof(*ps) + c->n_plugins * sizeof(ps->p[0]));
	if (!ps) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ps->n_workers = n_workers ? n_workers : 1;
	ps->enrich = enrich_open(c, err, errlen);
	if (!ps->enrich) {
		free(ps);
		return NULL;
	}
	ps->enrich_on = enrich_active(ps->enrich);
	for (size_t i = 0; i < c->n_plugins; i++) {
		ps->n = (unsigned)i + 1;
		if (plugin_init(&ps->p[i], &c->plugins[i], ps->n_workers, err, errlen) < 0) {
			set_free(ps);
			return NULL;
		}
	}
	return ps;
}

/* --- worker side --- */

/* Queues the worker's table and takes the free one, waiting for the writer when none is left. */
static void hand_over(struct plugin *p, unsigned wi, uint64_t ack_gen)
{
	struct pworker *w = &p->pw[wi];
	struct ptable *t = w->cur;
	bool stalled = false;

	t->ack_gen = ack_gen;
	t->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->q_tail)
		p->q_tail->next = t;
	else
		p->q_head = t;
	p->q_tail = t;
	pthread_cond_signal(&p->wake);
	while (!w->free) {
		struct timespec ts;
		stalled = true;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->freed, &p->mu, &ts);
	}
	w->cur = w->free;
	w->free = w->cur->next;
	pthread_mutex_unlock(&p->mu);
	w->cur->next = NULL;
	inc(&w->tables, 1);
	if (stalled)
		inc(&w->stalls, 1);
}

/* Adds the oldest queued key to the worker's table, handing a full table over first. */
static void commit_one(struct plugin *p, unsigned wi)
{
	struct pworker *w = &p->pw[wi];
	struct pend *q = &w->pend[w->pend_head];

	while (!agg_table_add_hashed(w->cur->t, q->key, q->h, q->bytes, q->packets, q->flows,
	                             q->flags)) {
		inc(&w->early, 1);
		hand_over(p, wi, 0);
		q->h = agg_table_hash(w->cur->t, q->key);
	}
	w->pend_head = (w->pend_head + 1) % PEND;
	w->pend_n--;
}

/* Adds every queued key: before the worker returns, so a hand-over never misses one. */
static void commit_all(struct plugin *p, unsigned wi)
{
	while (p->pw[wi].pend_n)
		commit_one(p, wi);
}

/* Packs f's key for one share and queues the add, prefetching what it and an older add need. */
static void add(struct plugin *p, unsigned wi, const struct flow *f, int side,
                const struct agg_share *s, uint8_t flags)
{
	struct pworker *w = &p->pw[wi];
	const struct agg_table *t = w->cur->t;

	if (w->pend_n == PEND)
		commit_one(p, wi);
	struct pend *q = &w->pend[(w->pend_head + w->pend_n) % PEND];
	agg_key_pack(&p->key, f, side, s->bin, q->key);
	q->h = agg_table_hash(t, q->key);
	q->flags = flags;
	q->bytes = s->bytes;
	q->packets = s->packets;
	q->flows = s->flows;
	agg_table_prefetch_slot(t, q->h);
	if (w->pend_n >= PEND / 2)
		agg_table_prefetch_entry(t,
		                         w->pend[(w->pend_head + w->pend_n - PEND / 2) % PEND].h);
	w->pend_n++;
}

static bool tag_passes(const struct plugin *p, uint64_t tag)
{
	for (size_t i = 0; i < p->n_tags; i++)
		if (tag >= p->tags[i].lo && tag <= p->tags[i].hi)
			return true;
	return false;
}

/* Filters one flow and adds it (per bin, per direction for sum_*) to the worker's table. */
static void account(struct plugin *p, unsigned wi, const struct flow *f, uint64_t now)
{
	struct agg_share sh[AGG_PRORATE_MAX];
	size_t n = 1;

	if ((p->n_tags && !tag_passes(p, f->tag)) ||
	    (p->filter && !flow_filter_match(p->filter, f))) {
		inc(&p->pw[wi].filtered, 1);
		return;
	}
	/* A record counts as one flow unless the exporter says how many it aggregates. */
	uint64_t flows = FLOW_HAS(f, FF_FLOWS) ? f->flows : 1;
	if (p->key.binned) {
		uint64_t t = !p->time_new && FLOW_HAS(f, FF_FIRST) && f->first_ms ? f->first_ms
		             : f->arrival_ms                                      ? f->arrival_ms
		                                                                  : now;
		n = agg_bins_split(&p->bins, f, t, flows, sh);
	} else {
		sh[0] = (struct agg_share){0, f->bytes, f->packets, flows};
	}
	uint8_t flags = p->key.tcpflags && FLOW_HAS(f, FF_TCP_FLAGS) ? f->tcp_flags : 0;
	for (int side = 0; side < (p->key.sum ? 2 : 1); side++)
		for (size_t i = 0; i < n; i++)
			add(p, wi, f, side, &sh[i], flags);
}

void plugin_push(struct plugin_set *ps, unsigned worker, const struct flow_batch *b)
{
	uint64_t now = now_ms(), flows = 0;

	for (size_t r = 0; r < b->n; r++) {
		const struct flow *f = &b->rec[r];
		struct flow tmp;
		if (f->event != FLOW_EV_FLOW)
			continue;
		flows++;
		if (ps->enrich_on) {
			tmp = *f;
			enrich_flow(ps->enrich, &tmp);
			f = &tmp;
		}
		for (unsigned i = 0; i < ps->n; i++)
			account(&ps->p[i], worker, f, now);
	}
	for (unsigned i = 0; i < ps->n; i++) {
		commit_all(&ps->p[i], worker);
		inc(&ps->p[i].pw[worker].records, flows);
	}
}

void plugin_tick(struct plugin_set *ps, unsigned worker, uint64_t now)
{
	for (unsigned i = 0; i < ps->n; i++) {
		struct plugin *p = &ps->p[i];
		uint64_t g = atomic_load_explicit(&p->flush_gen, memory_order_acquire);
		if (g != p->pw[worker].gen_seen) {
			p->pw[worker].gen_seen = g;
			hand_over(p, worker, g);
		}
	}
}

/* --- writer side --- */

static void give_back(struct plugin *p, struct ptable *t)
{
	pthread_mutex_lock(&p->mu);
	t->next = p->pw[t->worker].free;
	p->pw[t->worker].free = t;
	pthread_cond_broadcast(&p->freed);
	pthread_mutex_unlock(&p->mu);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Accounts one sink call that started at t0 (mono_ns) in the latency histogram. */
static void lat_add(struct plugin *p, uint64_t t0)
{
	uint64_t ns = mono_ns() - t0;
	double sec = (double)ns / 1e9;
	size_t b = 0;

	while (b < PLUGIN_LAT_BUCKETS && sec > plugin_lat_le[b])
		b++;
	inc(&p->lat_bucket[b], 1);
	inc(&p->lat_ns, ns);
}

static void sink_write(struct plugin *p, const struct flow *rows, size_t n, uint64_t bin_ms)
{
	struct sink_rows r = {
	    .rows = rows,
	    .n = n,
	    .fields = p->key.fields,
	    .stamp_inserted_ms = bin_ms,
	    .stamp_updated_ms = now_ms(),
	};

	uint64_t t0 = mono_ns();
	int rc = p->ops->write(p->sink, &r);
	lat_add(p, t0);
	if (rc < 0) {
		inc(&p->write_errors, 1);
		inc(&p->rows_refused, n);
		if (ratelimit_ok(&p->rl, mono_ms()))
			WLOG(LL_ERR, "plugin %s[%s]: the sink refused %zu rows", p->pc->type,
			     p->pc->name, n);
		return;
	}
	p->rows_in_bin += n;
	inc(&p->rows_out, n);
}

/*
 * as_src_name/as_dst_name of row i, looked up now in the writer: asname_get() never waits, so a
 * name not known yet prints as "" and is queued; a later flush has it.
 */
static void name_row(struct plugin *p, struct flow *row, size_t i)
{
	char *src = p->names[i][0], *dst = p->names[i][1];

	src[0] = dst[0] = '\0';
	if (p->key.fields & FMT_BIT(FMT_F_AS_SRC_NAME)) {
		if (p->an)
			asname_get(p->an, row->src_as, src, AS_NAME_LEN);
		row->as_src_name = src;
	}
	if (p->key.fields & FMT_BIT(FMT_F_AS_DST_NAME)) {
		if (p->an)
			asname_get(p->an, row->dst_as, dst, AS_NAME_LEN);
		row->as_dst_name = dst;
	}
}

/* Writes the merged entries of one bin as rows, ROWS_CHUNK at a time. */
static void emit_bin(struct plugin *p, uint32_t bin)
{
	const struct agg_table *m = p->merge;
	uint64_t bin_ms = p->key.binned ? (uint64_t)bin * 1000 : p->bin_ms;
	size_t k = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct agg_entry *e = agg_table_entry(m, i);
		if (agg_key_bin(&p->key, e->key) != bin)
			continue;
		struct flow *row = &p->rows[k++];
		agg_key_unpack(&p->key, e->key, row);
		row->bytes = e->bytes;
		row->packets = e->packets;
		row->flows = e->flows;
		row->present |= UINT64_C(1) << FF_FLOWS;
		row->tcp_flags = e->tcp_flags;
		if (p->names)
			name_row(p, row, k - 1);
		if (k == ROWS_CHUNK) {
			sink_write(p, p->rows, k, bin_ms);
			k = 0;
		}
	}
	if (k)
		sink_write(p, p->rows, k, bin_ms);
}

/* Writes every merged entry, oldest bin first, and empties the merge table. */
static void emit_all(struct plugin *p)
{
	const struct agg_table *m = p->merge;
	uint64_t prev = 0; /* bins are > prev; the first pass takes the smallest */
	bool first = true;

	for (;;) {
		uint64_t next = UINT64_MAX;
		for (size_t i = 0; i < m->n; i++) {
			uint64_t b = agg_key_bin(&p->key, agg_table_entry(m, i)->key);
			if ((first || b > prev) && b < next)
				next = b;
		}
		if (next == UINT64_MAX)
			break;
		emit_bin(p, (uint32_t)next);
		prev = next;
		first = false;
	}
	agg_table_clear(p->merge);
}

/* Merges one worker table (or defers it to the next interval) and counts its ack. */
static void consume(struct plugin *p, struct ptable *t)
{
	struct pworker *w = &p->pw[t->worker];
	size_t from = 0;

	if (p->pending && w->acked) {
		t->next = NULL;
		if (p->def_tail)
			p->def_tail->next = t;
		else
			p->def_head = t;
		p->def_tail = t;
		return;
	}
	while ((from = agg_table_merge(p->merge, t->t, from)) < t->t->n) {
		/* The merged rows outgrew their bound: written now, counted, never dropped. */
		inc(&p->merge_early, 1);
		emit_all(p);
	}
	agg_table_clear(t->t);
	if (p->pending && t->ack_gen == p->pending_gen) {
		w->acked = true;
		p->acks++;
	}
	give_back(p, t);
}

static void begin_flush(struct plugin *p)
{
	p->pending = true;
	p->pending_gen = atomic_load_explicit(&p->flush_gen, memory_order_relaxed) + 1;
	p->pending_since = mono_ms();
	p->acks = 0;
	for (unsigned w = 0; w < p->n_workers; w++)
		p->pw[w].acked = false;
	atomic_store_explicit(&p->flush_gen, p->pending_gen, memory_order_release);
}

/* Writes and closes the interval in the sink. */
static void close_interval(struct plugin *p, uint64_t now)
{
	emit_all(p);
	if (p->rows_in_bin == 0)
		sink_write(p, NULL, 0, p->bin_ms); /* lets the sink write an empty file */
	uint64_t t0 = mono_ns();
	int rc = p->ops->flush(p->sink, now);
	lat_add(p, t0);
	if (rc < 0)
		inc(&p->write_errors, 1);
	inc(&p->flushes, 1);
	p->rows_in_bin = 0;
}

/* Closes the interval, then merges what arrived early for the next one. */
static void finish_flush(struct plugin *p, uint64_t now)
{
	if (p->acks < p->n_workers) {
		inc(&p->late_workers, p->n_workers - p->acks);
		WLOG(LL_WARN,
		     "plugin %s[%s]: %u worker(s) did not hand over within %d ms; their rows "
		     "go to the next interval",
		     p->pc->type, p->pc->name, p->n_workers - p->acks, ACK_GRACE_MS);
	}
	close_interval(p, now);
	p->pending = false;
	p->bin_ms = now / p->refresh_ms * p->refresh_ms;
	p->next_ms = p->bin_ms + p->refresh_ms;

	struct ptable *t = p->def_head;
	p->def_head = p->def_tail = NULL;
	while (t) {
		struct ptable *next = t->next;
		consume(p, t);
		t = next;
	}
}

static void wait_for_work(struct plugin *p, uint64_t now)
{
	uint64_t ms = WAIT_MAX_MS;
	struct timespec ts;

	if (!p->pending && p->next_ms > now && p->next_ms - now < ms)
		ms = p->next_ms - now;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&p->wake, &p->mu, &ts);
}

static void *writer_main(void *arg)
{
	struct plugin *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		uint64_t now = now_ms();
		if (!p->pending && !p->stopping && now >= p->next_ms)
			begin_flush(p);
		if (p->pending &&
		    (p->acks == p->n_workers || mono_ms() - p->pending_since >= ACK_GRACE_MS)) {
			pthread_mutex_unlock(&p->mu);
			finish_flush(p, now);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->q_head) {
			struct ptable *t = p->q_head;
			p->q_head = t->next;
			if (!p->q_head)
				p->q_tail = NULL;
			pthread_mutex_unlock(&p->mu);
			consume(p, t);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->stopping && !p->pending)
			break;
		wait_for_work(p, now);
	}
	pthread_mutex_unlock(&p->mu);
	/* Final purge: the current interval, however short, then the sink goes away. */
	close_interval(p, now_ms());
	close_sink(p);
	return NULL;
}

int plugin_start(struct plugin_set *ps, char *err, size_t errlen)
{
	uint64_t now = now_ms();

	for (unsigned i = 0; i < ps->n; i++) {
		struct plugin *p = &ps->p[i];
		p->bin_ms = now / p->refresh_ms * p->refresh_ms;
		p->next_ms = p->bin_ms + p->refresh_ms;
		int rc = pthread_create(&p->writer, NULL, writer_main, p);
		if (rc) {
			snprintf(err, errlen, "plugin %s[%s]: writer thread: %s", p->pc->type,
			         p->pc->name, strerror(rc));
			return -1;
		}
		p->started = true;
	}
	return 0;
}

static void stop_one(struct plugin *p)
{
	pthread_mutex_lock(&p->mu);
	/* Read under the lock: the writer starts flushes only while holding it. */
	uint64_t gen = atomic_load_explicit(&p->flush_gen, memory_order_relaxed);
	for (unsigned w = 0; w < p->n_workers; w++) {
		struct ptable *t = p->pw[w].cur;
		/* A worker that had not acked the pending flush acks it now with its last flows. */
		t->ack_gen = p->pw[w].gen_seen != gen ? gen : 0;
		t->next = NULL;
		if (p->q_tail)
			p->q_tail->next = t;
		else
			p->q_head = t;
		p->q_tail = t;
		p->pw[w].cur = NULL;
	}
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
}

void plugin_stop(struct plugin_set *ps)
{
	if (!ps)
		return;
	for (unsigned i = 0; i < ps->n; i++) {
		struct plugin *p = &ps->p[i];
		if (!p->started) {
			close_sink(p);
			continue;
		}
		stop_one(p);
	}
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->p[i].started)
			pthread_join(ps->p[i].writer, NULL);
}

void plugin_free(struct plugin_set *ps)
{
	if (ps)
		set_free(ps);
}

bool plugin_asnames_wanted(const struct plugin_set *ps, const struct conf *c,
                           struct asname_conf *ac)
{
	bool want = false;

	for (unsigned i = 0; i < ps->n; i++)
		want |= (ps->p[i].key.fields & AS_NAMES) != 0;
	*ac = (struct asname_conf){
	    .proto = (enum asname_proto)c->asname_source,
	    .server = c->asname_server,
	    .zone = c->asname_zone,
	    .cache_file = c->asname_cache_file,
	    .csv_file = c->asname_csv_file,
	    .ttl_s = c->asname_ttl,
	    .timeout_ms = c->asname_timeout_ms,
	};
	return want;
}

void plugin_set_asnames(struct plugin_set *ps, struct asname *an)
{
	for (unsigned i = 0; i < ps->n; i++)
		ps->p[i].an = an;
}

static const char *format_name(int f)
{
	return f == PRINT_CSV ? "csv" : f == PRINT_FORMATTED ? "formatted" : "json";
}

/* Where a plugin's rows go, by sink type: files or stdout, a database, a URL, /metrics. */
static void describe_dest(const struct plugin_conf *pc, FILE *out)
{
	const char *table = pc->sql_table[0] ? pc->sql_table : "(default)";

	if (!strcmp(pc->type, "sqlite3")) {
		fprintf(out, "rows to sqlite3 db %s table %s", pc->sql_db, table);
	} else if (!strcmp(pc->type, "mysql") || !strcmp(pc->type, "pgsql")) {
		fprintf(out, "rows to %s host %s", pc->type,
		        pc->sql_host[0] ? pc->sql_host : "localhost");
		if (pc->sql_port)
			fprintf(out, " port %u", pc->sql_port);
		fprintf(out, " db %s table %s", pc->sql_db, table);
	} else if (!strcmp(pc->type, "influxdb")) {
		fprintf(out, "line protocol to %s", pc->influx_url);
		if (pc->influx_bucket[0])
			fprintf(out, " org %s bucket %s", pc->influx_org, pc->influx_bucket);
		else
			fprintf(out, " db %s", pc->influx_database);
	} else if (!strcmp(pc->type, "prometheus")) {
		const char *at = pc->conf ? pc->conf->http_listen : "";
		fprintf(out, "counters on /metrics at %s", at[0] ? at : "(no http_listen)");
	} else {
		fprintf(out, "%s to %s", format_name(pc->print_output),
		        pc->print_output_file[0] ? pc->print_output_file : "stdout");
		if (pc->print_latest_file[0])
			fprintf(out, " (latest: %s)", pc->print_latest_file);
	}
}

void plugin_describe(const struct plugin_set *ps, FILE *out)
{
	for (unsigned i = 0; i < ps->n; i++) {
		const struct plugin *p = &ps->p[i];
		const struct plugin_conf *pc = p->pc;
		fprintf(out, "plugin %s[%s]: ", pc->type, pc->name);
		describe_dest(pc, out);
		fprintf(out, ", every %llu s", (unsigned long long)(p->refresh_ms / 1000));
		if (p->bins.months)
			fprintf(out, ", bins of %u month(s)", p->bins.months);
		else if (p->bins.history)
			fprintf(out, ", bins of %u s", p->bins.history);
		fprintf(out, "; key %zu bytes (%s), table %u entries per worker\n", p->key.len,
		        pc->aggregate, pc->print_cache_entries);
	}
}

static void stats_get(const struct plugin *p, struct plugin_stats *st)
{
	struct sink_backlog bl = {0};
	uint64_t n = 0;

	memset(st, 0, sizeof(*st));
	st->type = p->pc->type;
	st->name = p->pc->name;
	for (unsigned w = 0; w < p->n_workers; w++) {
		st->records += rel(&p->pw[w].records);
		st->filtered += rel(&p->pw[w].filtered);
		st->tables += rel(&p->pw[w].tables);
		st->early_flushes += rel(&p->pw[w].early);
		st->stalls += rel(&p->pw[w].stalls);
	}
	st->early_flushes += rel(&p->merge_early);
	st->rows_written = rel(&p->rows_out);
	st->rows_refused = rel(&p->rows_refused);
	st->flushes = rel(&p->flushes);
	st->write_errors = rel(&p->write_errors);
	st->late_workers = rel(&p->late_workers);
	/* Buckets are read once each and made cumulative, so +Inf (the count) always matches. */
	for (size_t b = 0; b <= PLUGIN_LAT_BUCKETS; b++) {
		n += rel(&p->lat_bucket[b]);
		if (b < PLUGIN_LAT_BUCKETS)
			st->lat_bucket[b] = n;
	}
	st->lat_count = n;
	st->lat_sum = (double)rel(&p->lat_ns) / 1e9;
	pthread_mutex_lock(p->smu);
	if (p->sink && p->ops->backlog)
		p->ops->backlog(p->sink, &bl);
	else if (!p->sink)
		bl = p->bl_final;
	pthread_mutex_unlock(p->smu);
	st->backlog_items = bl.items;
	st->backlog_bytes = bl.bytes;
	st->backlog_dropped = bl.dropped;
}

void plugin_stats_foreach(const struct plugin_set *ps, plugin_stats_fn fn, void *arg)
{
	struct plugin_stats st;

	for (unsigned i = 0; i < ps->n; i++) {
		stats_get(&ps->p[i], &st);
		fn(arg, &st);
	}
}

/* The sink's own counters line: asked now, or the one kept when it closed. */
static void sink_stats_print(const struct plugin *p, FILE *out)
{
	pthread_mutex_lock(p->smu);
	if (p->sink && p->ops->stats)
		p->ops->stats(p->sink, out);
	else if (!p->sink && p->sink_final)
		fputs(p->sink_final, out);
	pthread_mutex_unlock(p->smu);
}

void plugin_stats_print(const struct plugin_set *ps, FILE *out)
{
	struct plugin_stats st;

	for (unsigned i = 0; i < ps->n; i++) {
		stats_get(&ps->p[i], &st);
		fprintf(out,
		        "plugin %s[%s]: records %llu rows_written %llu filtered %llu rows_refused "
		        "%llu tables %llu early_flushes %llu stalls %llu flushes %llu write_errors "
		        "%llu late_workers %llu backlog_batches %llu backlog_bytes %llu "
		        "write_calls %llu write_seconds %.6f\n",
		        st.type, st.name, (unsigned long long)st.records,
		        (unsigned long long)st.rows_written, (unsigned long long)st.filtered,
		        (unsigned long long)st.rows_refused, (unsigned long long)st.tables,
		        (unsigned long long)st.early_flushes, (unsigned long long)st.stalls,
		        (unsigned long long)st.flushes, (unsigned long long)st.write_errors,
		        (unsigned long long)st.late_workers, (unsigned long long)st.backlog_items,
		        (unsigned long long)st.backlog_bytes, (unsigned long long)st.lat_count,
		        st.lat_sum);
		sink_stats_print(&ps->p[i], out);
	}
}
