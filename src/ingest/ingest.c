/* ingest.c - the ingest workers: recvmmsg on their own sockets, decode, hand records to plugins. */
#include "ingest/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/plugin.h"
#include "conf/conf.h"
#include "http/prom.h"
#include "ingest/sfcounters.h"
#include "ingest/udp.h"
#include "lib/intern.h"
#include "lib/log.h"
#include "weir/decoder.h"

#define RX_STEPS       4    /* recvmmsg calls per socket per loop pass (BIRD's MAX_RX_STEPS) */
#define DRAIN_STEPS    4096 /* at stop: bound on the calls that empty a socket */
#define POLL_MS        100  /* longest a worker sleeps: ticks, requests and stop stay prompt */
#define EXPIRE_MS      1000
#define SAVE_MS        60000
#define MAX_WORKERS    256
#define MAX_TMPL_FILES 256
#define STATS_WAIT_MS  3000

/*
 * Wake-up coalescing. A fast stream wakes a worker every few datagrams, and on a small machine
 * the wake-up costs more than the datagrams (on a VM a sleep and wake-up pair costs about 7 us of
 * CPU, as much as 5 datagrams of 11 sFlow samples); so after a pass that emptied its sockets
 * of a stream, the worker naps until about COALESCE_DGRAMS datagrams should be queued: at most
 * COALESCE_MAX_NS, and never long enough to fill more than 1/COALESCE_BUF_DIV of the smallest
 * receive buffer at the measured rate. Streams slower than COALESCE_MIN_DGRAMS per nap are not
 * worth it.
 */
#define COALESCE_DGRAMS     (UDP_BATCH * 2)
#define COALESCE_MAX_NS     2000000
#define COALESCE_MIN_NS     20000
#define COALESCE_MIN_DGRAMS 4
#define COALESCE_BUF_DIV    4
#define DGRAM_OVERHEAD      1024 /* skb bytes a datagram costs the receive buffer beyond its data */

struct sock {
	int fd;
	const struct listen_addr *la;
	struct udp_info info;
	uint64_t ovfl; /* worker-private copy of the SO_RXQ_OVFL count */
	_Atomic uint64_t dgrams, bytes, kernel_drops, errors;
};

struct worker {
	struct ingest *ing;
	unsigned id;
	pthread_t thr;
	bool started;
	struct sock *socks;
	struct pollfd *pfd; /* one per socket, then the stop eventfd */
	struct udp_rx *rx;
	struct decode_state *st;
	struct flow_batch *batch;
	struct decode_ctx ctx;
	struct ratelimit rl;
	uint64_t next_expire, next_save;
	_Atomic bool stats_req;
	char *stats; /* under ing->mu: the worker's decode counters, printed on request */
	struct exporter_stats *ex; /* under ing->mu: the same counters as structs */
	size_t n_ex;
	bool stats_done;
	uint64_t last_wake_ns; /* coalescing: when the previous receive pass started */
	int rcvbuf_min;        /* coalescing: the smallest receive buffer of its sockets */
};

struct ingest {
	const struct conf *c;
	struct plugin_set *ps;
	unsigned n;
	int stop_fd;
	atomic_bool stop;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ingest_tap tap;  /* the tee plugin's view of raw datagrams; fns NULL when none */
	struct sfcounters *sfc; /* sFlow counter samples: sfacctd_counter_file, /metrics */
	struct intern *intern;  /* AS path / community texts of every worker's records */
	struct worker w[];
};

unsigned ingest_worker_count(const struct conf *c)
{
	long n = c->workers ? (long)c->workers : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

/* decode_ctx.emit: the batch is full (or the datagrams of a recvmmsg call are done). */
static void worker_emit(void *arg, struct flow_batch *b)
{
	struct worker *w = arg;
	plugin_push(w->ing->ps, w->id, b);
	b->n = 0;
}

void ingest_decode_limits(struct decode_limits *l, const struct conf *c,
                          const struct allow_list *allow)
{
	decode_limits_default(l);
	if (c->max_exporters)
		l->max_exporters = c->max_exporters;
	if (c->max_templates)
		l->max_templates = c->max_templates;
	if (c->max_template_fields)
		l->max_template_fields = c->max_template_fields;
	if (c->hold_bytes)
		l->hold_bytes = c->hold_bytes;
	if (c->hold_ms)
		l->hold_ms = c->hold_ms;
	if (c->log_rate)
		l->log_per_sec = c->log_rate;
	l->time_new = c->time_new;
	l->allow = allow;
	l->sflow_renormalize = c->sfacctd_renormalize;
}

static int worker_open(struct ingest *ing, struct worker *w, const struct decode_limits *l,
                       char *err, size_t errlen)
{
	const struct conf *c = ing->c;

	w->socks = calloc(c->n_listen, sizeof(*w->socks));
	if (w->socks)
		for (size_t i = 0; i < c->n_listen; i++)
			w->socks[i].fd = -1;
	w->pfd = calloc(c->n_listen + 1, sizeof(*w->pfd));
	w->rx = udp_rx_new();
	w->batch = calloc(1, sizeof(*w->batch));
	w->st = decode_state_new(l);
	if (!w->socks || !w->pfd || !w->rx || !w->batch || !w->st) {
		snprintf(err, errlen, "worker %u: out of memory", w->id);
		return -1;
	}
	for (size_t i = 0; i < c->n_listen; i++) {
		struct sock *s = &w->socks[i];
		s->la = &c->listen[i];
		s->fd = udp_open(s->la, c->pipe_size, &s->info, err, errlen);
		if (s->fd < 0)
			return -1;
		w->pfd[i].fd = s->fd;
		w->pfd[i].events = POLLIN;
		if (i == 0 || s->info.rcvbuf_got < w->rcvbuf_min)
			w->rcvbuf_min = s->info.rcvbuf_got;
	}
	w->pfd[c->n_listen].fd = ing->stop_fd;
	w->pfd[c->n_listen].events = POLLIN;
	w->ctx.st = w->st;
	w->ctx.batch = w->batch;
	w->ctx.emit = worker_emit;
	w->ctx.emit_arg = w;
	w->ctx.want_options = false;
	if (ing->sfc) {
		w->ctx.counters = sfcounters_write;
		w->ctx.counters_arg = ing->sfc;
	}
	ratelimit_init(&w->rl, c->log_rate ? c->log_rate : 10);
	return 0;
}

/* --- templates file: path.N per worker; every file is loaded into every worker --- */

struct tfile {
	char path[PATH_MAX + 16];
	struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct tfile *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return 0;
}

static void add_tfile(struct tfile *t, size_t *n, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	snprintf(t[*n].path, sizeof(t[*n].path), "%s", path);
	t[*n].mtime = st.st_mtim;
	(*n)++;
}

/*
 * SO_REUSEPORT may move an exporter to another worker after a restart, so every worker loads
 * every saved file. Oldest first: where two files define one template, the newest one wins.
 */
static void templates_load(struct ingest *ing)
{
	const char *base = ing->c->templates_file;
	struct tfile *t = calloc(MAX_TMPL_FILES + 1, sizeof(*t));
	char path[PATH_MAX + 16];
	size_t n = 0;

	if (!t)
		return;
	add_tfile(t, &n, base);
	for (unsigned i = 0; i < MAX_TMPL_FILES; i++) {
		snprintf(path, sizeof(path), "%s.%u", base, i);
		add_tfile(t, &n, path);
	}
	qsort(t, n, sizeof(*t), by_mtime);
	for (size_t f = 0; f < n; f++) {
		for (unsigned i = 0; i < ing->n; i++) {
			if (decode_templates_load(ing->w[i].st, t[f].path) == 0)
				continue;
			WLOG(LL_WARN, "templates: cannot load %s: %s", t[f].path, strerror(errno));
			break;
		}
	}
	if (n)
		WLOG(LL_NOTICE, "templates: loaded %zu file(s) of %s into %u worker(s)", n, base,
		     ing->n);
	free(t);
}

static void templates_save_one(struct worker *w)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s.%u", w->ing->c->templates_file, w->id);
	if (decode_templates_save(w->st, path) < 0)
		WLOG(LL_ERR, "templates: cannot save %s: %s", path, strerror(errno));
}

/* After the workers stopped: one file per worker; files of workers that no longer exist go. */
static void templates_save_all(struct ingest *ing)
{
	char path[PATH_MAX + 16];

	for (unsigned i = 0; i < ing->n; i++)
		templates_save_one(&ing->w[i]);
	for (unsigned i = ing->n; i < MAX_TMPL_FILES; i++) {
		snprintf(path, sizeof(path), "%s.%u", ing->c->templates_file, i);
		unlink(path);
	}
}

struct ingest *ingest_open(const struct conf *c, unsigned n_workers, struct plugin_set *ps,
                           const struct allow_list *allow, char *err, size_t errlen)
{
	struct decode_limits l;
	struct ingest *ing;

	if (c->n_listen == 0) {
		snprintf(err, errlen, "no listener configured (nfacctd_ip, nfacctd_port)");
		return NULL;
	}
	ing = calloc(1, sizeof(*ing) + n_workers * sizeof(ing->w[0]));
	if (!ing) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ing->c = c;
	ing->ps = ps;
	ing->n = n_workers;
	pthread_mutex_init(&ing->mu, NULL);
	pthread_cond_init(&ing->cv, NULL);
	ing->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ing->stop_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		ingest_free(ing);
		return NULL;
	}
	ingest_decode_limits(&l, c, allow);
	if (!(l.intern = ing->intern = intern_new(0))) {
		snprintf(err, errlen, "out of memory");
		ingest_free(ing);
		return NULL;
	}
	if (!(ing->sfc = sfcounters_open(c->sfacctd_counter_file, err, errlen))) {
		ingest_free(ing);
		return NULL;
	}
	for (unsigned i = 0; i < n_workers; i++) {
		ing->w[i].ing = ing;
		ing->w[i].id = i;
		if (worker_open(ing, &ing->w[i], &l, err, errlen) < 0) {
			ingest_free(ing);
			return NULL;
		}
	}
	if (c->templates_file[0])
		templates_load(ing);
	return ing;
}

/* --- the worker loop --- */

static void decode_one(struct worker *w, struct sock *s, const struct udp_dgram *d, uint64_t now)
{
	w->ctx.src = d->src;
	w->ctx.src_port = d->src_port;
	w->ctx.now_ms = now;
	decode_datagram(&w->ctx, d->data, d->len);
	atomic_fetch_add_explicit(&s->dgrams, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes, d->len, memory_order_relaxed);
}

/* The tap reads the batch before decode; the buffers are not reused until its flush. */
static void tap_batch(struct worker *w, struct sock *s, int n)
{
	const struct ingest_tap *t = &w->ing->tap;

	for (int i = 0; i < n; i++)
		t->dgram(t->arg, w->id, udp_rx_get(w->rx, i), s->info.port);
	t->flush(t->arg, w->id);
}

void ingest_set_tap(struct ingest *ing, const struct ingest_tap *tap)
{
	ing->tap = *tap;
}

/*
 * Up to max_calls recvmmsg() batches from one socket; stops early once it is empty. Adds the
 * datagrams and bytes taken to *dgrams and *bytes; returns false when it stopped at max_calls
 * with the socket maybe not empty.
 */
static bool rx_socket(struct worker *w, struct sock *s, unsigned max_calls, uint64_t *dgrams,
                      uint64_t *bytes)
{
	for (unsigned k = 0; k < max_calls; k++) {
		int n = udp_recv(w->rx, s->fd, &s->ovfl);
		if (n < 0) {
			atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
			if (ratelimit_ok(&w->rl, mono_ms()))
				WLOG(LL_WARN, "udp %s: recvmmsg: %s", s->la->text, strerror(errno));
			return true;
		}
		if (n == 0)
			return true;
		if (w->ing->tap.dgram)
			tap_batch(w, s, n);
		/* One clock read per batch: arrival time at millisecond grain is enough. */
		uint64_t now = now_ms();
		for (int i = 0; i < n; i++) {
			const struct udp_dgram *d = udp_rx_get(w->rx, i);
			*bytes += d->len;
			decode_one(w, s, d, now);
		}
		*dgrams += (unsigned)n;
		if (w->batch->n)
			worker_emit(w, w->batch);
		atomic_store_explicit(&s->kernel_drops, s->ovfl, memory_order_relaxed);
		if (n < UDP_BATCH)
			return true;
	}
	return false;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* After a receive pass that started at t0 and emptied its sockets: nap if a stream is flowing. */
static void coalesce(struct worker *w, uint64_t t0, uint64_t dgrams, uint64_t bytes)
{
	uint64_t dt = t0 - w->last_wake_ns, gap, nap, cap;

	w->last_wake_ns = t0;
	if (dgrams == 0 || dt == 0)
		return;
	gap = dt / dgrams; /* the mean time between datagrams since the previous pass */
	if (gap * COALESCE_MIN_DGRAMS > COALESCE_MAX_NS)
		return;
	nap = gap * COALESCE_DGRAMS;
	cap =
	    gap * ((uint64_t)w->rcvbuf_min / (bytes / dgrams + DGRAM_OVERHEAD) / COALESCE_BUF_DIV);
	if (nap > cap)
		nap = cap;
	if (nap > COALESCE_MAX_NS)
		nap = COALESCE_MAX_NS;
	if (nap < COALESCE_MIN_NS)
		return;
	struct timespec ts = {0, (long)nap};
	nanosleep(&ts, NULL);
}

struct ex_vec {
	struct exporter_stats *v;
	size_t n, cap;
	bool oom;
};

static void ex_vec_add(void *arg, const struct exporter_stats *e)
{
	struct ex_vec *x = arg;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct exporter_stats *v = realloc(x->v, cap * sizeof(*v));
		if (!v) {
			x->oom = true;
			return;
		}
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = *e;
}

static void answer_stats(struct worker *w)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct ex_vec x = {0};

	if (f) {
		decode_stats_print(w->st, f);
		fclose(f);
	}
	decode_stats_foreach(w->st, ex_vec_add, &x);
	pthread_mutex_lock(&w->ing->mu);
	free(w->stats);
	w->stats = text;
	free(w->ex);
	w->ex = x.v;
	w->n_ex = x.n;
	w->stats_done = true;
	pthread_cond_broadcast(&w->ing->cv);
	pthread_mutex_unlock(&w->ing->mu);
}

static void housekeeping(struct worker *w, uint64_t now)
{
	plugin_tick(w->ing->ps, w->id, now);
	if (now >= w->next_expire) {
		decode_expire(w->st, now);
		w->next_expire = now + EXPIRE_MS;
	}
	if (w->ing->c->templates_file[0] && now >= w->next_save) {
		if (w->next_save)
			templates_save_one(w);
		w->next_save = now + SAVE_MS;
	}
	if (atomic_exchange_explicit(&w->stats_req, false, memory_order_acq_rel))
		answer_stats(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ingest *ing = w->ing;
	size_t ns = ing->c->n_listen;

	uint64_t dgrams, bytes;

	w->last_wake_ns = mono_ns();
	while (!atomic_load_explicit(&ing->stop, memory_order_acquire)) {
		int rc = poll(w->pfd, ns + 1, POLL_MS);
		bool empty = true;
		uint64_t t0 = mono_ns();
		dgrams = bytes = 0;
		if (rc > 0)
			for (size_t i = 0; i < ns; i++)
				if (w->pfd[i].revents & (POLLIN | POLLERR))
					empty &=
					    rx_socket(w, &w->socks[i], RX_STEPS, &dgrams, &bytes);
		housekeeping(w, now_ms());
		if (empty)
			coalesce(w, t0, dgrams, bytes);
		else
			w->last_wake_ns = t0;
	}
	/* What the kernel already queued for us was sent before the stop: take it too. */
	for (size_t i = 0; i < ns; i++)
		rx_socket(w, &w->socks[i], DRAIN_STEPS, &dgrams, &bytes);
	for (size_t i = 0; i < ns; i++)
		atomic_store_explicit(&w->socks[i].kernel_drops, w->socks[i].ovfl,
		                      memory_order_relaxed);
	return NULL;
}

int ingest_start(struct ingest *ing, char *err, size_t errlen)
{
	for (unsigned i = 0; i < ing->n; i++) {
		int rc = pthread_create(&ing->w[i].thr, NULL, worker_main, &ing->w[i]);
		if (rc) {
			snprintf(err, errlen, "worker %u: %s", i, strerror(rc));
			ingest_stop(ing);
			return -1;
		}
		ing->w[i].started = true;
	}
	ing->running = true;
	return 0;
}

void ingest_stop(struct ingest *ing)
{
	uint64_t one = 1;
	bool any = false;

	atomic_store_explicit(&ing->stop, true, memory_order_release);
	if (write(ing->stop_fd, &one, sizeof(one)) < 0)
		WLOG(LL_ERR, "ingest: eventfd: %s", strerror(errno));
	for (unsigned i = 0; i < ing->n; i++) {
		if (!ing->w[i].started)
			continue;
		pthread_join(ing->w[i].thr, NULL);
		ing->w[i].started = false;
		any = true;
	}
	ing->running = false;
	if (any && ing->c->templates_file[0])
		templates_save_all(ing);
}

void ingest_describe(const struct ingest *ing, FILE *out)
{
	for (size_t i = 0; i < ing->c->n_listen; i++) {
		const struct sock *s = &ing->w[0].socks[i];
		fprintf(out, "listening: udp %s (%u socket%s, receive buffer %d bytes each%s)\n",
		        ing->c->listen[i].text, ing->n, ing->n == 1 ? "" : "s",
		        s->info.rcvbuf_got / 2,
		        s->info.rcvbuf_capped ? ", capped by net.core.rmem_max" : "");
		if (s->info.rcvbuf_capped)
			WLOG(
			    LL_WARN,
			    "udp %s: asked for a %d-byte receive buffer, the kernel gave %d: raise "
			    "net.core.rmem_max (sysctl -w net.core.rmem_max=%d) or run as root",
			    ing->c->listen[i].text, s->info.rcvbuf_asked, s->info.rcvbuf_got / 2,
			    s->info.rcvbuf_asked);
	}
}

static uint64_t rel(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* A socket's counters; kernel drops are the larger of SO_RXQ_OVFL's and /proc's. */
static void sock_counters(const struct sock *s, unsigned worker, struct ingest_sock_stats *o)
{
	int64_t proc = udp_proc_drops(s->info.inode);

	o->worker = worker;
	snprintf(o->listen, sizeof(o->listen), "%s", s->la->text);
	o->datagrams = rel(&s->dgrams);
	o->bytes = rel(&s->bytes);
	o->kernel_drops = rel(&s->kernel_drops);
	if (proc > 0 && (uint64_t)proc > o->kernel_drops)
		o->kernel_drops = (uint64_t)proc;
	o->errors = rel(&s->errors);
}

static void socket_stats(const struct ingest *ing, FILE *out)
{
	uint64_t total = 0;
	struct ingest_sock_stats o;

	for (unsigned w = 0; w < ing->n; w++) {
		for (size_t i = 0; i < ing->c->n_listen; i++) {
			sock_counters(&ing->w[w].socks[i], w, &o);
			total += o.kernel_drops;
			fprintf(out,
			        "worker %u udp %s: datagrams %llu bytes %llu kernel_drops %llu "
			        "errors %llu\n",
			        w, o.listen, (unsigned long long)o.datagrams,
			        (unsigned long long)o.bytes, (unsigned long long)o.kernel_drops,
			        (unsigned long long)o.errors);
		}
	}
	fprintf(out, "kernel_drops total %llu\n", (unsigned long long)total);
}

static void collect_worker_stats(struct ingest *ing)
{
	struct timespec ts;

	pthread_mutex_lock(&ing->mu);
	for (unsigned i = 0; i < ing->n; i++) {
		ing->w[i].stats_done = false;
		atomic_store_explicit(&ing->w[i].stats_req, true, memory_order_release);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += STATS_WAIT_MS / 1000;
	for (;;) {
		unsigned done = 0;
		for (unsigned i = 0; i < ing->n; i++)
			done += ing->w[i].stats_done;
		if (done == ing->n || pthread_cond_timedwait(&ing->cv, &ing->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&ing->mu);
}

struct sfcounters *ingest_sfcounters(struct ingest *ing)
{
	return ing->sfc;
}

void ingest_metrics(struct ingest *ing, struct prom *p)
{
	struct intern_stats is;

	sfcounters_metrics(ing->sfc, p);
	intern_stats_get(ing->intern, &is);
	if (prom_family(p, "weir_bgp_texts", "gauge",
	                "Distinct AS path / community texts held (interned, bounded pool)"))
		prom_sample_u64(p, "weir_bgp_texts", NULL, "", is.strings);
	if (prom_family(p, "weir_bgp_text_bytes", "gauge", "Bytes of the interned texts"))
		prom_sample_u64(p, "weir_bgp_text_bytes", NULL, "", is.bytes);
	if (prom_family(p, "weir_bgp_texts_refused_total", "counter",
	                "Texts not kept because the pool was full (records keep an empty one)"))
		prom_sample_u64(p, "weir_bgp_texts_refused_total", NULL, "", is.full);
}

void ingest_stats_print(struct ingest *ing, FILE *out)
{
	socket_stats(ing, out);
	if (ing->tap.stats)
		ing->tap.stats(ing->tap.arg, out);
	if (ing->running)
		collect_worker_stats(ing);
	for (unsigned i = 0; i < ing->n; i++) {
		struct worker *w = &ing->w[i];
		fprintf(out, "worker %u exporters:\n", i);
		if (!ing->running) {
			decode_stats_print(w->st, out);
			continue;
		}
		pthread_mutex_lock(&ing->mu);
		if (w->stats_done && w->stats)
			fputs(w->stats, out);
		else
			fprintf(out, "(worker %u did not answer in time)\n", i);
		pthread_mutex_unlock(&ing->mu);
	}
}

int ingest_snapshot(struct ingest *ing, struct ingest_snapshot *out)
{
	struct ex_vec x = {0};

	memset(out, 0, sizeof(*out));
	out->sock = calloc((size_t)ing->n * ing->c->n_listen + 1, sizeof(*out->sock));
	if (!out->sock)
		return -1;
	for (unsigned w = 0; w < ing->n; w++)
		for (size_t i = 0; i < ing->c->n_listen; i++) {
			struct ingest_sock_stats *o = &out->sock[out->n_sock++];
			sock_counters(&ing->w[w].socks[i], w, o);
			out->kernel_drops += o->kernel_drops;
		}
	if (ing->running)
		collect_worker_stats(ing);
	for (unsigned i = 0; i < ing->n; i++) {
		struct worker *w = &ing->w[i];
		if (!ing->running) {
			decode_stats_foreach(w->st, ex_vec_add, &x);
			continue;
		}
		pthread_mutex_lock(&ing->mu);
		if (w->stats_done)
			for (size_t j = 0; j < w->n_ex; j++)
				ex_vec_add(&x, &w->ex[j]);
		else
			out->late_workers++;
		pthread_mutex_unlock(&ing->mu);
	}
	out->ex = x.v;
	out->n_ex = x.n;
	return x.oom ? -1 : 0;
}

void ingest_snapshot_free(struct ingest_snapshot *s)
{
	free(s->sock);
	free(s->ex);
	memset(s, 0, sizeof(*s));
}

static void worker_free(struct worker *w, size_t n_listen)
{
	if (w->socks)
		for (size_t i = 0; i < n_listen; i++)
			if (w->socks[i].fd >= 0)
				close(w->socks[i].fd);
	free(w->socks);
	free(w->pfd);
	udp_rx_free(w->rx);
	free(w->batch);
	if (w->st)
		decode_state_free(w->st);
	free(w->stats);
	free(w->ex);
}

void ingest_free(struct ingest *ing)
{
	if (!ing)
		return;
	for (unsigned i = 0; i < ing->n; i++)
		worker_free(&ing->w[i], ing->c->n_listen);
	if (ing->stop_fd >= 0)
		close(ing->stop_fd);
	sfcounters_close(ing->sfc);
	intern_free(ing->intern);
	pthread_mutex_destroy(&ing->mu);
	pthread_cond_destroy(&ing->cv);
	free(ing);
}
