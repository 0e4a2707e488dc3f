/* selfstats.c - the collector's own counters (ingest, plugins, AS names) as metrics and JSON. */
#include "http/selfstats.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/plugin.h"
#include "enrich/asname.h"
#include "http/prom.h"
#include "ingest/ingest.h"
#include "weir/decoder.h"

/* --- ingest: sockets and exporters, from ingest_snapshot() --- */

/* The exporter counters: JSON key (the SIGUSR1 table's column), metric, help. */
struct ex_col {
	const char *key, *name, *help;
	size_t off; /* offsetof(struct exporter_stats, ...); SIZE_MAX: every drop reason summed */
};

#define EXC(k, m, f, h)                                                                            \
	{                                                                                          \
		k, m, h, offsetof(struct exporter_stats, f)                                        \
	}
static const struct ex_col ex_cols[] = {
    EXC("packets", "weir_exporter_packets_total", packets, "Export datagrams decoded."),
    EXC("bytes", "weir_exporter_bytes_total", bytes, "Bytes of export datagrams decoded."),
    EXC("records", "weir_exporter_records_total", records, "Flow records decoded."),
    EXC("options", "weir_exporter_option_records_total", option_records,
        "Options data records decoded."),
    EXC("seq_gaps", "weir_exporter_sequence_lost_total", seq_gaps,
        "Datagrams (v9, sFlow) or records (v5, IPFIX) lost according to sequence numbers."),
    EXC("tmpls", "weir_exporter_templates_total", templates, "Templates defined or redefined."),
    EXC("held", "weir_exporter_held_total", held, "Data sets held waiting for their template."),
    {"drops", "weir_exporter_dropped_total", "Datagrams or sets dropped, all reasons.", SIZE_MAX},
    EXC("sample_gaps", "weir_exporter_sflow_samples_lost_total", sample_seq_gaps,
        "sFlow samples lost according to the sample sequence numbers of each source id."),
    EXC("untracked", "weir_exporter_sflow_samples_untracked_total", sample_seq_untracked,
        "sFlow samples of source ids beyond the per-agent bound: not checked for loss."),
    EXC("sflow_drops", "weir_exporter_sflow_agent_dropped_total", sflow_drops,
        "Packets the sFlow agent could not sample for lack of resources (flow sample drops)."),
};
#define N_EX_COLS (sizeof(ex_cols) / sizeof(ex_cols[0]))

static uint64_t ex_value(const struct exporter_stats *e, const struct ex_col *c)
{
	uint64_t v = 0;

	if (c->off == SIZE_MAX) {
		for (int r = 0; r < DROP_REASON_COUNT; r++)
			v += e->drops[r];
		return v;
	}
	memcpy(&v, (const char *)e + c->off, sizeof(v));
	return v;
}

static int ex_cmp(const void *a, const void *b)
{
	const struct exporter_stats *x = a, *y = b;
	int c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	if (c)
		return c;
	if (x->domain != y->domain)
		return x->domain < y->domain ? -1 : 1;
	return (int)x->version - (int)y->version;
}

/* Sorts the snapshot's exporters and sums those several workers saw; returns how many remain. */
static size_t ex_merge(struct exporter_stats *v, size_t n)
{
	size_t out = 0;

	if (n < 2)
		return n; /* also: v may be NULL, which qsort must not get */
	qsort(v, n, sizeof(*v), ex_cmp);
	for (size_t i = 0; i < n; i++) {
		if (out && !ex_cmp(&v[out - 1], &v[i])) {
			struct exporter_stats *d = &v[out - 1];
			for (size_t c = 0; c < N_EX_COLS; c++) {
				if (ex_cols[c].off == SIZE_MAX)
					continue;
				uint64_t sum =
				    ex_value(d, &ex_cols[c]) + ex_value(&v[i], &ex_cols[c]);
				memcpy((char *)d + ex_cols[c].off, &sum, sizeof(sum));
			}
			for (int r = 0; r < DROP_REASON_COUNT; r++)
				d->drops[r] += v[i].drops[r];
		} else {
			v[out++] = v[i];
		}
	}
	return out;
}

/* The address label: "" for the drops that belong to no exporter (version 0). */
static const char *ex_addr(const struct exporter_stats *e, char *buf, size_t len)
{
	return e->version ? wip_str(&e->addr, buf, len) : "";
}

static void exporter_labels(const struct exporter_stats *e, char *lab, size_t len)
{
	char a[WIP_STRLEN], n[16];

	lab[0] = '\0';
	prom_label(lab, len, "exporter", ex_addr(e, a, sizeof(a)));
	snprintf(n, sizeof(n), "%u", e->domain);
	prom_label(lab, len, "domain", n);
	snprintf(n, sizeof(n), "%u", e->version);
	prom_label(lab, len, "version", n);
}

static void exporter_metrics(struct prom *p, const struct exporter_stats *v, size_t n)
{
	char lab[256], lab2[320];

	for (size_t c = 0; c < N_EX_COLS; c++) {
		prom_family(p, ex_cols[c].name, "counter", ex_cols[c].help);
		for (size_t i = 0; i < n; i++) {
			exporter_labels(&v[i], lab, sizeof(lab));
			prom_sample_u64(p, ex_cols[c].name, NULL, lab,
			                ex_value(&v[i], &ex_cols[c]));
		}
	}
	prom_family(p, "weir_exporter_decode_errors_total", "counter",
	            "Datagrams or sets dropped by the decoders, by reason.");
	for (size_t i = 0; i < n; i++) {
		exporter_labels(&v[i], lab, sizeof(lab));
		for (int r = 0; r < DROP_REASON_COUNT; r++) {
			if (!v[i].drops[r])
				continue;
			snprintf(lab2, sizeof(lab2), "%s", lab);
			prom_label(lab2, sizeof(lab2), "reason",
			           drop_reason_name((enum drop_reason)r));
			prom_sample_u64(p, "weir_exporter_decode_errors_total", NULL, lab2,
			                v[i].drops[r]);
		}
	}
}

/* The socket counters: name within weir_socket_<name>_total and in the status objects. */
static const struct {
	const char *key;
	size_t off;
} sock_cols[] = {
    {"datagrams", offsetof(struct ingest_sock_stats, datagrams)},
    {"bytes", offsetof(struct ingest_sock_stats, bytes)},
    {"kernel_drops", offsetof(struct ingest_sock_stats, kernel_drops)},
    {"errors", offsetof(struct ingest_sock_stats, errors)},
};
#define N_SOCK_COLS (sizeof(sock_cols) / sizeof(sock_cols[0]))

static uint64_t sock_value(const struct ingest_sock_stats *s, size_t c)
{
	uint64_t v;
	memcpy(&v, (const char *)s + sock_cols[c].off, sizeof(v));
	return v;
}

void selfstats_metrics(struct prom *p, struct ingest_snapshot *s)
{
	char name[64], lab[256], w[16];

	s->n_ex = ex_merge(s->ex, s->n_ex);
	exporter_metrics(p, s->ex, s->n_ex);
	for (size_t c = 0; c < N_SOCK_COLS; c++) {
		snprintf(name, sizeof(name), "weir_socket_%s_total", sock_cols[c].key);
		prom_family(p, name, "counter",
		            "Per worker UDP socket counter (kernel_drops: SO_RXQ_OVFL and /proc).");
		for (size_t i = 0; i < s->n_sock; i++) {
			lab[0] = '\0';
			snprintf(w, sizeof(w), "%u", s->sock[i].worker);
			prom_label(lab, sizeof(lab), "worker", w);
			prom_label(lab, sizeof(lab), "listen", s->sock[i].listen);
			prom_sample_u64(p, name, NULL, lab, sock_value(&s->sock[i], c));
		}
	}
	prom_family(p, "weir_kernel_drops_total", "counter",
	            "Datagrams the kernel dropped on weir's sockets (all workers).");
	prom_sample_u64(p, "weir_kernel_drops_total", NULL, "", s->kernel_drops);
}

void selfstats_status(struct json_t *root, struct ingest_snapshot *s)
{
	json_t *ex = json_array(), *so = json_array();
	char a[WIP_STRLEN];

	s->n_ex = ex_merge(s->ex, s->n_ex);
	for (size_t i = 0; i < s->n_ex; i++) {
		const struct exporter_stats *e = &s->ex[i];
		json_t *o = json_object(), *dr = json_object();
		json_object_set_new(o, "exporter",
		                    json_string(e->version ? ex_addr(e, a, sizeof(a)) : "(none)"));
		json_object_set_new(o, "domain", json_integer(e->domain));
		json_object_set_new(o, "version", json_integer(e->version));
		for (size_t c = 0; c < N_EX_COLS; c++)
			json_object_set_new(o, ex_cols[c].key,
			                    json_integer((json_int_t)ex_value(e, &ex_cols[c])));
		for (int r = 0; r < DROP_REASON_COUNT; r++)
			if (e->drops[r])
				json_object_set_new(dr, drop_reason_name((enum drop_reason)r),
				                    json_integer((json_int_t)e->drops[r]));
		json_object_set_new(o, "drop_reasons", dr);
		json_array_append_new(ex, o);
	}
	for (size_t i = 0; i < s->n_sock; i++) {
		json_t *o = json_object();
		for (size_t c = 0; c < N_SOCK_COLS; c++)
			json_object_set_new(o, sock_cols[c].key,
			                    json_integer((json_int_t)sock_value(&s->sock[i], c)));
		json_object_set_new(o, "worker", json_integer(s->sock[i].worker));
		json_object_set_new(o, "listen", json_string(s->sock[i].listen));
		json_array_append_new(so, o);
	}
	json_object_set_new((json_t *)root, "exporters", ex);
	json_object_set_new((json_t *)root, "sockets", so);
	json_object_set_new((json_t *)root, "kernel_drops",
	                    json_integer((json_int_t)s->kernel_drops));
}

/* --- plugins and AS names: from their structured counters --- */

struct counter_col {
	const char *name, *help;
	size_t off;
};

#define PCOL(f, h)                                                                                 \
	{                                                                                          \
		"weir_plugin_" #f "_total", h, offsetof(struct plugin_stats, f)                    \
	}
static const struct counter_col plugin_cols[] = {
    PCOL(records, "Flow records a plugin was given."),
    PCOL(filtered, "Flow records a plugin's filters left out."),
    PCOL(rows_written, "Rows a plugin's sink took."),
    PCOL(rows_refused, "Rows a plugin's sink refused."),
    PCOL(tables, "Worker tables handed to a plugin's writer."),
    PCOL(early_flushes, "Tables written before the end of their interval (full)."),
    PCOL(stalls, "Times a worker waited for a plugin's writer."),
    PCOL(flushes, "Intervals a plugin closed (sink flushes)."),
    PCOL(write_errors, "Sink write or flush calls that failed."),
    PCOL(late_workers, "Workers that did not hand over in time for a flush."),
    PCOL(backlog_dropped, "Batches a plugin's sink backlog lost."),
};

#define ACOL(f, h)                                                                                 \
	{                                                                                          \
		"weir_asname_" #f "_total", h, offsetof(struct asname_stats, f)                    \
	}
static const struct counter_col asname_cols[] = {
    ACOL(lookups, "AS-name lookups asked."),
    ACOL(hits, "AS-name lookups answered from the cache."),
    ACOL(csv_hits, "AS-name lookups answered from the CSV fallback."),
    ACOL(queued, "AS numbers queued for the resolver."),
    ACOL(resolved, "AS names the resolver found."),
    ACOL(not_found, "AS numbers the resolver was told have no name."),
    ACOL(failures, "Resolver queries that failed (timeout, network)."),
    ACOL(bad_answers, "Resolver answers that were not what was expected."),
};

static uint64_t col_u64(const void *st, const struct counter_col *c)
{
	uint64_t v;
	memcpy(&v, (const char *)st + c->off, sizeof(v));
	return v;
}

static void plugin_histogram(struct prom *p, const struct plugin_stats *st, const char *lab)
{
	const char *name = "weir_plugin_write_seconds";
	char l2[320], le[32];

	prom_family(p, name, "histogram",
	            "Duration of a plugin writer's sink write and flush calls.");
	for (size_t b = 0; b < PLUGIN_LAT_BUCKETS; b++) {
		snprintf(le, sizeof(le), "%g", plugin_lat_le[b]);
		snprintf(l2, sizeof(l2), "%s", lab);
		prom_label(l2, sizeof(l2), "le", le);
		prom_sample_u64(p, name, "_bucket", l2, st->lat_bucket[b]);
	}
	snprintf(l2, sizeof(l2), "%s", lab);
	prom_label(l2, sizeof(l2), "le", "+Inf");
	prom_sample_u64(p, name, "_bucket", l2, st->lat_count);
	prom_sample(p, name, "_sum", lab, st->lat_sum);
	prom_sample_u64(p, name, "_count", lab, st->lat_count);
}

static void plugin_metrics(void *arg, const struct plugin_stats *st)
{
	struct prom *p = arg;
	char lab[256] = "";

	prom_label(lab, sizeof(lab), "type", st->type);
	prom_label(lab, sizeof(lab), "plugin", st->name);
	for (size_t i = 0; i < sizeof(plugin_cols) / sizeof(plugin_cols[0]); i++) {
		prom_family(p, plugin_cols[i].name, "counter", plugin_cols[i].help);
		prom_sample_u64(p, plugin_cols[i].name, NULL, lab, col_u64(st, &plugin_cols[i]));
	}
	prom_family(p, "weir_plugin_backlog_items", "gauge",
	            "Batches waiting in a plugin's sink backlog (0: none, or a sink without one).");
	prom_sample_u64(p, "weir_plugin_backlog_items", NULL, lab, st->backlog_items);
	prom_family(p, "weir_plugin_backlog_bytes", "gauge",
	            "Bytes waiting in a plugin's sink backlog (memory and spool).");
	prom_sample_u64(p, "weir_plugin_backlog_bytes", NULL, lab, st->backlog_bytes);
	plugin_histogram(p, st, lab);
}

void selfstats_plugins(struct prom *p, const struct plugin_set *ps)
{
	plugin_stats_foreach(ps, plugin_metrics, p);
}

/* "weir_plugin_rows_written_total" -> "rows_written" */
static json_t *cols_json(const void *st, const struct counter_col *cols, size_t n, size_t skip)
{
	json_t *o = json_object();
	char k[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%.*s", (int)(strlen(cols[i].name) - skip - 6),
		         cols[i].name + skip);
		json_object_set_new(o, k, json_integer((json_int_t)col_u64(st, &cols[i])));
	}
	return o;
}

static void plugin_status(void *arg, const struct plugin_stats *st)
{
	json_t *o = cols_json(st, plugin_cols, sizeof(plugin_cols) / sizeof(plugin_cols[0]),
	                      strlen("weir_plugin_"));
	json_object_set_new(o, "type", json_string(st->type));
	json_object_set_new(o, "name", json_string(st->name));
	json_object_set_new(o, "backlog_items", json_integer((json_int_t)st->backlog_items));
	json_object_set_new(o, "backlog_bytes", json_integer((json_int_t)st->backlog_bytes));
	json_object_set_new(o, "write_calls", json_integer((json_int_t)st->lat_count));
	json_object_set_new(o, "write_seconds", json_real(st->lat_sum));
	json_array_append_new(arg, o);
}

void selfstats_plugins_status(struct json_t *root, const struct plugin_set *ps)
{
	json_t *pl = json_array();

	plugin_stats_foreach(ps, plugin_status, pl);
	json_object_set_new((json_t *)root, "plugins", pl);
}

void selfstats_asname(struct prom *p, const struct asname_stats *st)
{
	for (size_t i = 0; i < sizeof(asname_cols) / sizeof(asname_cols[0]); i++) {
		prom_family(p, asname_cols[i].name, "counter", asname_cols[i].help);
		prom_sample_u64(p, asname_cols[i].name, NULL, "", col_u64(st, &asname_cols[i]));
	}
	prom_family(p, "weir_asname_cached_names", "gauge", "AS names in the resolver's cache.");
	prom_sample_u64(p, "weir_asname_cached_names", NULL, "", st->cached);
}

void selfstats_asname_status(struct json_t *root, const struct asname_stats *st)
{
	json_t *o = cols_json(st, asname_cols, sizeof(asname_cols) / sizeof(asname_cols[0]),
	                      strlen("weir_asname_"));
	json_object_set_new(o, "cached", json_integer((json_int_t)st->cached));
	json_object_set_new((json_t *)root, "asnames", o);
}

void selfstats_asname_print(const struct asname_stats *st, FILE *out)
{
	fprintf(out, "asname:");
	for (size_t i = 0; i < sizeof(asname_cols) / sizeof(asname_cols[0]); i++)
		fprintf(out, " %.*s %llu",
		        (int)(strlen(asname_cols[i].name) - strlen("weir_asname_") - 6),
		        asname_cols[i].name + strlen("weir_asname_"),
		        (unsigned long long)col_u64(st, &asname_cols[i]));
	fprintf(out, " cached %zu\n", st->cached);
}
