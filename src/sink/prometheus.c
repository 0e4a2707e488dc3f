/* prometheus.c - the prometheus plugin: a plugin's aggregates as counters on /metrics. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "http/http.h"
#include "http/prom.h"
#include "lib/log.h"
#include "sink/rowtext.h"
#include "weir/sink.h"

#define LABELS_MAX 2048

/*
 * One series: the key's labels and its totals since it appeared. A key first seen in the
 * current interval is pending: it becomes visible at the flush if it ranks among the top
 * keys by bytes that still fit under prometheus_max_series, else its counts fold into other.
 */
struct series {
	char *labels; /* `plugin="x",as_dst="13335"`; the hash key */
	uint64_t hash;
	uint64_t bytes, packets, flows;
	uint64_t seen_ms;
	int32_t next; /* hash chain */
	bool pending;
};

struct sink {
	char name[64];
	struct http_server *http;
	pthread_mutex_t mu; /* writer thread vs the HTTP thread */
	struct series *s;
	size_t n, cap, visible;
	int32_t *heads;
	size_t n_heads; /* power of two */
	uint32_t max_series;
	uint64_t stale_ms;
	char other_labels[LABELS_MAX];
	bool other_known;
	uint64_t other_bytes, other_packets, other_flows;
	uint64_t folded, aged, rows;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void rehash(struct sink *k)
{
	for (size_t i = 0; i < k->n_heads; i++)
		k->heads[i] = -1;
	for (size_t i = 0; i < k->n; i++) {
		size_t b = k->s[i].hash & (k->n_heads - 1);
		k->s[i].next = k->heads[b];
		k->heads[b] = (int32_t)i;
	}
}

static bool ensure_room(struct sink *k)
{
	if (k->n < k->cap)
		return true;
	size_t cap = k->cap ? k->cap * 2 : 256;
	struct series *s = realloc(k->s, cap * sizeof(*s));
	if (!s)
		return false;
	k->s = s;
	k->cap = cap;
	if (cap > k->n_heads) {
		int32_t *h = realloc(k->heads, cap * sizeof(*h));
		if (!h)
			return false;
		k->heads = h;
		k->n_heads = cap;
		rehash(k);
	}
	return true;
}

static struct series *lookup(struct sink *k, const char *labels, uint64_t h)
{
	if (!k->n_heads)
		return NULL;
	for (int32_t i = k->heads[h & (k->n_heads - 1)]; i >= 0; i = k->s[i].next)
		if (k->s[i].hash == h && !strcmp(k->s[i].labels, labels))
			return &k->s[i];
	return NULL;
}

/* The row's labels: plugin first, then each key primitive under its pmacct name. */
static bool row_labels(const struct sink *k, const struct flow *f, uint64_t fields, char *buf,
                       size_t len, bool other)
{
	struct rowtext rt;

	buf[0] = '\0';
	prom_label(buf, len, "plugin", k->name);
	if (rowtext_get(f, fields, &rt) < 0)
		return false;
	for (size_t i = 0; i < rt.n; i++)
		if (!prom_label(buf, len, rt.name[i], other ? "other" : rt.value[i]))
			return false;
	return true;
}

static void add_row(struct sink *k, const struct flow *f, uint64_t fields, uint64_t now)
{
	char labels[LABELS_MAX];

	if (!row_labels(k, f, fields, labels, sizeof(labels), false))
		goto fold;
	if (!k->other_known)
		k->other_known = row_labels(k, f, fields, k->other_labels, LABELS_MAX, true);
	uint64_t h = hash_str(labels);
	struct series *s = lookup(k, labels, h);
	if (!s) {
		if (!ensure_room(k) || !(labels[0] && (k->s[k->n].labels = strdup(labels))))
			goto fold;
		s = &k->s[k->n];
		s->hash = h;
		s->bytes = s->packets = s->flows = 0;
		s->pending = true;
		size_t b = h & (k->n_heads - 1);
		s->next = k->heads[b];
		k->heads[b] = (int32_t)k->n++;
	}
	s->bytes += f->bytes;
	s->packets += f->packets;
	s->flows += f->flows;
	s->seen_ms = now;
	return;
fold:
	k->other_bytes += f->bytes;
	k->other_packets += f->packets;
	k->other_flows += f->flows;
	k->folded++;
}

static int prom_write(struct sink *k, const struct sink_rows *r)
{
	uint64_t now = r->stamp_updated_ms ? r->stamp_updated_ms : now_ms();

	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < r->n; i++)
		if (r->rows[i].event == FLOW_EV_FLOW)
			add_row(k, &r->rows[i], r->fields, now);
	k->rows += r->n;
	pthread_mutex_unlock(&k->mu);
	return 0;
}

/* Pending series first, biggest first; the visible ones keep their place. */
static int by_pending_bytes(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	if (x->pending != y->pending)
		return x->pending ? 1 : -1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->labels, y->labels);
}

/*
 * Ages out series unseen for prometheus_stale_time, then admits the pending ones by bytes while
 * there is room and folds the rest into other. Compacts the table and rehashes it.
 */
static int prom_flush(struct sink *k, uint64_t now)
{
	pthread_mutex_lock(&k->mu);
	size_t w = 0;
	for (size_t i = 0; i < k->n; i++) {
		struct series *s = &k->s[i];
		if (!s->pending && k->stale_ms && now > s->seen_ms + k->stale_ms) {
			free(s->labels);
			k->aged++;
			continue;
		}
		k->s[w++] = *s;
	}
	k->n = w;
	if (k->n)
		qsort(k->s, k->n, sizeof(*k->s), by_pending_bytes);
	size_t visible = 0;
	w = 0;
	for (size_t i = 0; i < k->n; i++) {
		struct series *s = &k->s[i];
		if (s->pending && visible >= k->max_series) {
			k->other_bytes += s->bytes;
			k->other_packets += s->packets;
			k->other_flows += s->flows;
			k->folded++;
			free(s->labels);
			continue;
		}
		s->pending = false;
		visible++;
		k->s[w++] = *s;
	}
	k->n = w;
	k->visible = visible;
	if (k->n_heads)
		rehash(k);
	pthread_mutex_unlock(&k->mu);
	return 0;
}

static void counter(struct prom *p, const char *name, const char *help)
{
	prom_family(p, name, "counter", help);
}

static void prom_metrics(void *arg, struct prom *p)
{
	struct sink *k = arg;
	char lab[128] = "";

	prom_label(lab, sizeof(lab), "plugin", k->name);
	counter(p, "weir_flow_bytes_total", "Bytes per aggregate key of a prometheus plugin.");
	counter(p, "weir_flow_packets_total", "Packets per aggregate key of a prometheus plugin.");
	counter(p, "weir_flow_flows_total", "Flows per aggregate key of a prometheus plugin.");
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < k->n; i++) {
		const struct series *s = &k->s[i];
		if (s->pending)
			continue;
		prom_sample_u64(p, "weir_flow_bytes_total", NULL, s->labels, s->bytes);
		prom_sample_u64(p, "weir_flow_packets_total", NULL, s->labels, s->packets);
		prom_sample_u64(p, "weir_flow_flows_total", NULL, s->labels, s->flows);
	}
	if (k->folded) {
		const char *o = k->other_known ? k->other_labels : lab;
		prom_sample_u64(p, "weir_flow_bytes_total", NULL, o, k->other_bytes);
		prom_sample_u64(p, "weir_flow_packets_total", NULL, o, k->other_packets);
		prom_sample_u64(p, "weir_flow_flows_total", NULL, o, k->other_flows);
	}
	prom_family(p, "weir_prometheus_series", "gauge",
	            "Series a prometheus plugin exposes (without other).");
	prom_sample_u64(p, "weir_prometheus_series", NULL, lab, k->visible);
	counter(p, "weir_prometheus_folded_total",
	        "Keys folded into the other series (beyond prometheus_max_series).");
	prom_sample_u64(p, "weir_prometheus_folded_total", NULL, lab, k->folded);
	counter(p, "weir_prometheus_aged_out_total",
	        "Series removed after prometheus_stale_time without data.");
	prom_sample_u64(p, "weir_prometheus_aged_out_total", NULL, lab, k->aged);
	counter(p, "weir_prometheus_rows_total", "Rows a prometheus plugin received.");
	prom_sample_u64(p, "weir_prometheus_rows_total", NULL, lab, k->rows);
	pthread_mutex_unlock(&k->mu);
}

static struct sink *prom_open(const struct plugin_conf *pc, char *err, size_t errlen)
{
	struct http_server *http = pc->conf ? pc->conf->http : NULL;

	if (!http) {
		snprintf(err, errlen,
		         "plugin prometheus[%s]: needs the HTTP endpoint (http_listen)", pc->name);
		return NULL;
	}
	struct sink *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "plugin prometheus[%s]: out of memory", pc->name);
		return NULL;
	}
	snprintf(k->name, sizeof(k->name), "%s", pc->name);
	k->http = http;
	k->max_series = pc->prom_max_series;
	k->stale_ms = (uint64_t)pc->prom_stale_s * 1000;
	pthread_mutex_init(&k->mu, NULL);
	if (http_add(http, k->name, prom_metrics, NULL, k) < 0) {
		snprintf(err, errlen, "plugin prometheus[%s]: out of memory", pc->name);
		pthread_mutex_destroy(&k->mu);
		free(k);
		return NULL;
	}
	return k;
}

static void prom_close(struct sink *k)
{
	if (!k)
		return;
	http_remove(k->http, k); /* no scrape runs or will run on k after this */
	for (size_t i = 0; i < k->n; i++)
		free(k->s[i].labels);
	free(k->s);
	free(k->heads);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

static int prom_reconfigure(struct sink *k, const struct plugin_conf *pc)
{
	pthread_mutex_lock(&k->mu);
	k->max_series = pc->prom_max_series;
	k->stale_ms = (uint64_t)pc->prom_stale_s * 1000;
	pthread_mutex_unlock(&k->mu);
	return 0;
}

const struct sink_ops sink_prometheus = {
    .name = "prometheus",
    .open = prom_open,
    .write = prom_write,
    .flush = prom_flush,
    .close = prom_close,
    .reconfigure = prom_reconfigure,
};
