/* plugin.c - the plugin stage: workers fill record buffers, one writer thread per plugin sinks
 * them. */
#include "aggregate/plugin.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "weir/sink.h"

/*
 * Buffer protocol. Each (plugin, worker) pair owns PBUF_POOL buffers: one being filled by the
 * worker, the others free or queued to the writer. At a refresh deadline the writer bumps
 * flush_gen; every worker notices it on its next loop pass and hands its current buffer over
 * tagged with that generation (an "ack"). Once every worker has acked, the writer flushes the
 * sink: everything a worker pushed before its ack lands in the closing interval. Buffers that
 * arrive from an already-acked worker meanwhile belong to the next interval and wait on the
 * deferred list. This is the seam where per-worker aggregation tables will be swapped instead.
 */
#define PBUF_RECS    2048
#define PBUF_POOL    4
#define ACK_GRACE_MS 5000 /* a worker that does not ack by then is left for the next interval */
#define WAIT_MAX_MS  200

struct pbuf {
	struct pbuf *next;
	unsigned worker;
	uint64_t ack_gen; /* 0 = a full buffer; else the flush generation this hand-over closes */
	size_t n;
	struct flow rec[PBUF_RECS];
};

struct pworker {
	struct pbuf *cur;  /* owned by the worker */
	struct pbuf *free; /* under plugin.mu */
	uint64_t gen_seen; /* worker-private: the last generation it acked */
	bool acked;        /* writer-private: acked the pending flush */
	_Atomic uint64_t records, buffers, stalls;
	char pad[64]; /* keeps two workers' hot fields off one cache line */
};

struct plugin {
	const struct plugin_conf *pc;
	const struct sink_ops *ops;
	struct sink *sink;
	unsigned n_workers;
	struct pworker *pw;
	struct pbuf **all; /* every buffer, for freeing */

	pthread_t writer;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t wake;  /* writer: a buffer was queued, or stop */
	pthread_cond_t freed; /* workers: a buffer came back */
	struct pbuf *q_head, *q_tail;
	bool stopping;
	_Atomic uint64_t flush_gen;

	/* writer-private */
	uint64_t refresh_ms, bin_ms, next_ms;
	bool pending;
	uint64_t pending_gen, pending_since;
	unsigned acks;
	uint64_t rows_in_bin;
	struct pbuf *def_head, *def_tail;
	struct ratelimit rl;

	_Atomic uint64_t rows, rows_refused, flushes, write_errors, late_workers;
};

struct plugin_set {
	unsigned n;
	unsigned n_workers;
	struct plugin p[];
};

static uint64_t rel(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void inc(_Atomic uint64_t *v, uint64_t by)
{
	atomic_fetch_add_explicit(v, by, memory_order_relaxed);
}

static int pool_alloc(struct plugin *p)
{
	p->pw = calloc(p->n_workers, sizeof(*p->pw));
	p->all = calloc((size_t)p->n_workers * PBUF_POOL, sizeof(*p->all));
	if (!p->pw || !p->all)
		return -1;
	for (unsigned w = 0; w < p->n_workers; w++) {
		for (unsigned i = 0; i < PBUF_POOL; i++) {
			struct pbuf *b = calloc(1, sizeof(*b));
			if (!b)
				return -1;
			b->worker = w;
			p->all[w * PBUF_POOL + i] = b;
			if (i == 0) {
				p->pw[w].cur = b;
			} else {
				b->next = p->pw[w].free;
				p->pw[w].free = b;
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
	int rc = pthread_mutex_init(&p->mu, NULL) || pthread_cond_init(&p->wake, &ca) ||
	         pthread_cond_init(&p->freed, &ca);
	pthread_condattr_destroy(&ca);
	return rc ? -1 : 0;
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
	if (sync_init(p) < 0 || pool_alloc(p) < 0) {
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

static void plugin_free_one(struct plugin *p)
{
	if (p->sink && !p->started)
		p->ops->close(p->sink);
	p->sink = NULL;
	if (p->all)
		for (size_t i = 0; i < (size_t)p->n_workers * PBUF_POOL; i++)
			free(p->all[i]);
	free(p->all);
	free(p->pw);
}

static void set_free(struct plugin_set *ps)
{
	for (unsigned i = 0; i < ps->n; i++)
		plugin_free_one(&ps->p[i]);
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

/* Queues the worker's buffer and takes a free one, waiting for the writer when none is left. */
static void hand_over(struct plugin *p, unsigned wi, uint64_t ack_gen)
{
	struct pworker *w = &p->pw[wi];
	struct pbuf *b = w->cur;
	bool stalled = false;

	b->ack_gen = ack_gen;
	b->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->q_tail)
		p->q_tail->next = b;
	else
		p->q_head = b;
	p->q_tail = b;
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
	w->cur->n = 0;
	w->cur->next = NULL;
	inc(&w->buffers, 1);
	if (stalled)
		inc(&w->stalls, 1);
}

void plugin_push(struct plugin_set *ps, unsigned worker, const struct flow_batch *b)
{
	for (unsigned i = 0; i < ps->n; i++) {
		struct plugin *p = &ps->p[i];
		struct pworker *w = &p->pw[worker];
		size_t done = 0;

		while (done < b->n) {
			if (w->cur->n == PBUF_RECS)
				hand_over(p, worker, 0);
			size_t k = b->n - done;
			if (k > PBUF_RECS - w->cur->n)
				k = PBUF_RECS - w->cur->n;
			memcpy(&w->cur->rec[w->cur->n], &b->rec[done], k * sizeof(b->rec[0]));
			w->cur->n += k;
			done += k;
		}
		inc(&w->records, b->n);
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

static void give_back(struct plugin *p, struct pbuf *b)
{
	pthread_mutex_lock(&p->mu);
	b->next = p->pw[b->worker].free;
	p->pw[b->worker].free = b;
	pthread_cond_broadcast(&p->freed);
	pthread_mutex_unlock(&p->mu);
}

static void sink_write(struct plugin *p, const struct flow *rows, size_t n)
{
	struct sink_rows r = {
	    .rows = rows,
	    .n = n,
	    .fields = UINT64_MAX, /* every field a record carries, until aggregation keys */
	    .stamp_inserted_ms = p->bin_ms,
	    .stamp_updated_ms = now_ms(),
	};

	if (p->ops->write(p->sink, &r) < 0) {
		inc(&p->write_errors, 1);
		inc(&p->rows_refused, n);
		if (ratelimit_ok(&p->rl, mono_ms()))
			WLOG(LL_ERR, "plugin %s[%s]: the sink refused %zu rows", p->pc->type,
			     p->pc->name, n);
		return;
	}
	p->rows_in_bin += n;
	inc(&p->rows, n);
}

/* Writes one buffer (or defers it to the next interval) and counts its ack. */
static void consume(struct plugin *p, struct pbuf *b)
{
	struct pworker *w = &p->pw[b->worker];

	if (p->pending && w->acked) {
		b->next = NULL;
		if (p->def_tail)
			p->def_tail->next = b;
		else
			p->def_head = b;
		p->def_tail = b;
		return;
	}
	if (b->n)
		sink_write(p, b->rec, b->n);
	if (p->pending && b->ack_gen == p->pending_gen) {
		w->acked = true;
		p->acks++;
	}
	give_back(p, b);
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

/* Closes the interval in the sink, then replays what arrived early for the next one. */
static void finish_flush(struct plugin *p, uint64_t now)
{
	if (p->acks < p->n_workers) {
		inc(&p->late_workers, p->n_workers - p->acks);
		WLOG(LL_WARN,
		     "plugin %s[%s]: %u worker(s) did not hand over within %d ms; their rows "
		     "go to the next interval",
		     p->pc->type, p->pc->name, p->n_workers - p->acks, ACK_GRACE_MS);
	}
	if (p->rows_in_bin == 0)
		sink_write(p, NULL, 0); /* lets the sink write an empty file when configured */
	if (p->ops->flush(p->sink, now) < 0)
		inc(&p->write_errors, 1);
	inc(&p->flushes, 1);
	p->pending = false;
	p->rows_in_bin = 0;
	p->bin_ms = now / p->refresh_ms * p->refresh_ms;
	p->next_ms = p->bin_ms + p->refresh_ms;

	struct pbuf *b = p->def_head;
	p->def_head = p->def_tail = NULL;
	while (b) {
		struct pbuf *next = b->next;
		consume(p, b);
		b = next;
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
			struct pbuf *b = p->q_head;
			p->q_head = b->next;
			if (!p->q_head)
				p->q_tail = NULL;
			pthread_mutex_unlock(&p->mu);
			consume(p, b);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->stopping && !p->pending)
			break;
		wait_for_work(p, now);
	}
	pthread_mutex_unlock(&p->mu);
	/* Final purge: the current interval, however short, then the sink goes away. */
	if (p->rows_in_bin == 0)
		sink_write(p, NULL, 0);
	if (p->ops->flush(p->sink, now_ms()) < 0)
		inc(&p->write_errors, 1);
	inc(&p->flushes, 1);
	p->ops->close(p->sink);
	p->sink = NULL;
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
		struct pbuf *b = p->pw[w].cur;
		/* A worker that had not acked the pending flush acks it now with its last rows. */
		b->ack_gen = p->pw[w].gen_seen != gen ? gen : 0;
		b->next = NULL;
		if (p->q_tail)
			p->q_tail->next = b;
		else
			p->q_head = b;
		p->q_tail = b;
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
			if (p->sink)
				p->ops->close(p->sink);
			p->sink = NULL;
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

static const char *format_name(int f)
{
	return f == PRINT_CSV ? "csv" : f == PRINT_FORMATTED ? "formatted" : "json";
}

void plugin_describe(const struct plugin_set *ps, FILE *out)
{
	for (unsigned i = 0; i < ps->n; i++) {
		const struct plugin_conf *pc = ps->p[i].pc;
		fprintf(out, "plugin %s[%s]: %s to %s", pc->type, pc->name,
		        format_name(pc->print_output),
		        pc->print_output_file[0] ? pc->print_output_file : "stdout");
		if (pc->print_latest_file[0])
			fprintf(out, " (latest: %s)", pc->print_latest_file);
		fprintf(out, ", every %llu s\n", (unsigned long long)(ps->p[i].refresh_ms / 1000));
	}
}

void plugin_stats_print(const struct plugin_set *ps, FILE *out)
{
	for (unsigned i = 0; i < ps->n; i++) {
		const struct plugin *p = &ps->p[i];
		uint64_t recs = 0, bufs = 0, stalls = 0;
		for (unsigned w = 0; w < p->n_workers; w++) {
			recs += rel(&p->pw[w].records);
			bufs += rel(&p->pw[w].buffers);
			stalls += rel(&p->pw[w].stalls);
		}
		fprintf(
		    out,
		    "plugin %s[%s]: records %llu rows_written %llu rows_refused %llu buffers %llu "
		    "stalls %llu flushes %llu write_errors %llu late_workers %llu\n",
		    p->pc->type, p->pc->name, (unsigned long long)recs,
		    (unsigned long long)rel(&p->rows), (unsigned long long)rel(&p->rows_refused),
		    (unsigned long long)bufs, (unsigned long long)stalls,
		    (unsigned long long)rel(&p->flushes), (unsigned long long)rel(&p->write_errors),
		    (unsigned long long)rel(&p->late_workers));
	}
}
