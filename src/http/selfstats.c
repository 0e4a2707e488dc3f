/* selfstats.c - the collector's own counters (ingest text, plugins, AS names) as metrics and JSON.
 */
#include "http/selfstats.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/plugin.h"
#include "enrich/asname.h"
#include "http/prom.h"

#define MAX_COLS  16
#define MAX_PAIRS 24
#define NAME_LEN  48

struct pair {
	char k[NAME_LEN];
	unsigned long long v;
};

struct exporter {
	char addr[64];
	char domain[16];
	char version[8];
	unsigned long long col[MAX_COLS];
	size_t n_drops;
	struct pair drops[MAX_PAIRS];
};

struct group { /* a socket line: labels, then name/value pairs */
	char l1[80], l2[80];
	size_t n;
	struct pair kv[MAX_PAIRS];
};

struct stats {
	char cols[MAX_COLS][NAME_LEN]; /* the exporter table's header, from "packets" on */
	size_t n_cols;
	struct exporter *ex;
	size_t n_ex, cap_ex;
	struct group *sock;
	size_t n_sock, cap_sock;
	unsigned long long kernel_drops;
};

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return v;
	size_t c = *cap ? *cap * 2 : 16;
	void *nv = realloc(v, c * size);
	if (nv)
		*cap = c;
	return nv;
}

/* "k v k v ..." after a colon. */
static size_t parse_pairs(const char *s, struct pair *kv, size_t max)
{
	size_t n = 0;
	int used;
	char k[NAME_LEN];
	unsigned long long v;

	while (n < max && sscanf(s, " %47[a-z_0-9] %llu%n", k, &v, &used) == 2) {
		snprintf(kv[n].k, sizeof(kv[n].k), "%s", k);
		kv[n++].v = v;
		s += used;
	}
	return n;
}

static void header_line(struct stats *st, const char *line)
{
	char tok[NAME_LEN];
	int used;
	size_t i = 0;

	st->n_cols = 0;
	while (sscanf(line, " %47s%n", tok, &used) == 1) {
		line += used;
		if (i++ >= 3 && st->n_cols < MAX_COLS) /* exporter, domain, ver */
			snprintf(st->cols[st->n_cols++], NAME_LEN, "%s", tok);
	}
}

static struct exporter *exporter_for(struct stats *st, const char *a, const char *d, const char *v)
{
	for (size_t i = 0; i < st->n_ex; i++)
		if (!strcmp(st->ex[i].addr, a) && !strcmp(st->ex[i].domain, d) &&
		    !strcmp(st->ex[i].version, v))
			return &st->ex[i];
	struct exporter *ex = grow(st->ex, &st->cap_ex, st->n_ex, sizeof(*ex));
	if (!ex)
		return NULL;
	st->ex = ex;
	ex = &st->ex[st->n_ex++];
	memset(ex, 0, sizeof(*ex));
	snprintf(ex->addr, sizeof(ex->addr), "%s", a);
	snprintf(ex->domain, sizeof(ex->domain), "%s", d);
	snprintf(ex->version, sizeof(ex->version), "%s", v);
	return ex;
}

static struct exporter *exporter_line(struct stats *st, const char *line)
{
	char a[64], d[16], v[8];
	int used;

	if (sscanf(line, "%63s %15[0-9] %7[0-9]%n", a, d, v, &used) != 3)
		return NULL;
	struct exporter *ex = exporter_for(st, a, d, v);
	if (!ex)
		return NULL;
	line += used;
	for (size_t c = 0; c < st->n_cols; c++) {
		unsigned long long n;
		if (sscanf(line, " %llu%n", &n, &used) != 1)
			break;
		ex->col[c] += n;
		line += used;
	}
	return ex;
}

static void drops_line(struct exporter *ex, const char *s)
{
	char k[NAME_LEN];
	unsigned long long v;
	int used;

	while (sscanf(s, " %47[^= ]=%llu%n", k, &v, &used) == 2) {
		s += used;
		size_t i = 0;
		while (i < ex->n_drops && strcmp(ex->drops[i].k, k))
			i++;
		if (i == ex->n_drops) {
			if (ex->n_drops == MAX_PAIRS)
				continue;
			snprintf(ex->drops[ex->n_drops++].k, NAME_LEN, "%s", k);
		}
		ex->drops[i].v += v;
	}
}

static void group_line(struct group **g, size_t *n, size_t *cap, const char *l1, const char *l2,
                       const char *rest)
{
	struct group *ng = grow(*g, cap, *n, sizeof(**g));
	if (!ng)
		return;
	*g = ng;
	struct group *x = &ng[(*n)++];
	snprintf(x->l1, sizeof(x->l1), "%s", l1);
	snprintf(x->l2, sizeof(x->l2), "%s", l2);
	x->n = parse_pairs(rest, x->kv, MAX_PAIRS);
}

static void parse(struct stats *st, const char *text)
{
	char *copy = strdup(text ? text : ""), *save = NULL;
	struct exporter *last = NULL;
	char a[80], b[80];
	unsigned w;
	int used;

	memset(st, 0, sizeof(*st));
	for (char *l = strtok_r(copy, "\n", &save); copy && l; l = strtok_r(NULL, "\n", &save)) {
		used = 0;
		if (!strncmp(l, "exporter ", 9)) {
			header_line(st, l);
		} else if (!strncmp(l, "    drops:", 10)) {
			if (last)
				drops_line(last, l + 10);
		} else if (sscanf(l, "worker %u udp %n", &w, &used) == 1 && used > 0 &&
		           strstr(l + used, ": ")) {
			/* the address may hold colons ([::]:2055): it ends at ": " */
			const char *end = strstr(l + used, ": ");
			snprintf(a, sizeof(a), "%u", w);
			snprintf(b, sizeof(b), "%.*s", (int)(end - (l + used)), l + used);
			group_line(&st->sock, &st->n_sock, &st->cap_sock, a, b, end + 1);
		} else if (sscanf(l, "kernel_drops total %llu", &st->kernel_drops) == 1) {
			continue;
		} else if (!strncmp(l, "worker ", 7)) {
			last = NULL;
		} else if (st->n_cols) {
			last = exporter_line(st, l);
		}
	}
	free(copy);
}

static void stats_free(struct stats *st)
{
	free(st->ex);
	free(st->sock);
}

/* The exporter table's column names as metric names and help. */
static void column_metric(const char *col, char *name, size_t len, const char **help)
{
	static const struct {
		const char *col, *name, *help;
	} known[] = {
	    {"packets", "weir_exporter_packets_total", "Export datagrams decoded."},
	    {"bytes", "weir_exporter_bytes_total", "Bytes of export datagrams decoded."},
	    {"records", "weir_exporter_records_total", "Flow records decoded."},
	    {"options", "weir_exporter_option_records_total", "Options data records decoded."},
	    {"seq_gaps", "weir_exporter_sequence_lost_total",
	     "Datagrams (v9, sFlow) or records (v5, IPFIX) lost according to sequence numbers."},
	    {"sample_gaps", "weir_exporter_sflow_samples_lost_total",
	     "sFlow samples lost according to the sample sequence numbers of each source id."},
	    {"untracked", "weir_exporter_sflow_samples_untracked_total",
	     "sFlow samples of source ids beyond the per-agent bound: not checked for loss."},
	    {"sflow_drops", "weir_exporter_sflow_agent_dropped_total",
	     "Packets the sFlow agent could not sample for lack of resources (flow sample drops)."},
	    {"tmpls", "weir_exporter_templates_total", "Templates defined or redefined."},
	    {"held", "weir_exporter_held_total", "Data sets held waiting for their template."},
	    {"drops", "weir_exporter_dropped_total", "Datagrams or sets dropped, all reasons."},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (!strcmp(col, known[i].col)) {
			snprintf(name, len, "%s", known[i].name);
			*help = known[i].help;
			return;
		}
	}
	snprintf(name, len, "weir_exporter_%s_total", col);
	*help = "Decode counter.";
}

static void exporter_labels(const struct exporter *ex, char *lab, size_t len)
{
	lab[0] = '\0';
	prom_label(lab, len, "exporter", strcmp(ex->addr, "(none)") ? ex->addr : "");
	prom_label(lab, len, "domain", ex->domain);
	prom_label(lab, len, "version", ex->version);
}

static void exporter_metrics(struct prom *p, const struct stats *st)
{
	char name[96], lab[256], lab2[320];
	const char *help;

	for (size_t c = 0; c < st->n_cols; c++) {
		column_metric(st->cols[c], name, sizeof(name), &help);
		prom_family(p, name, "counter", help);
		for (size_t i = 0; i < st->n_ex; i++) {
			exporter_labels(&st->ex[i], lab, sizeof(lab));
			prom_sample_u64(p, name, NULL, lab, st->ex[i].col[c]);
		}
	}
	prom_family(p, "weir_exporter_decode_errors_total", "counter",
	            "Datagrams or sets dropped by the decoders, by reason.");
	for (size_t i = 0; i < st->n_ex; i++) {
		exporter_labels(&st->ex[i], lab, sizeof(lab));
		for (size_t d = 0; d < st->ex[i].n_drops; d++) {
			snprintf(lab2, sizeof(lab2), "%s", lab);
			prom_label(lab2, sizeof(lab2), "reason", st->ex[i].drops[d].k);
			prom_sample_u64(p, "weir_exporter_decode_errors_total", NULL, lab2,
			                st->ex[i].drops[d].v);
		}
	}
}

static void group_metrics(struct prom *p, const struct group *g, size_t n, const char *prefix,
                          const char *k1, const char *k2, const char *help)
{
	char name[128], lab[256];

	for (size_t i = 0; i < n; i++) {
		lab[0] = '\0';
		prom_label(lab, sizeof(lab), k1, g[i].l1);
		prom_label(lab, sizeof(lab), k2, g[i].l2);
		for (size_t j = 0; j < g[i].n; j++) {
			snprintf(name, sizeof(name), "%s_%s_total", prefix, g[i].kv[j].k);
			if (!prom_name_ok(name))
				continue;
			prom_family(p, name, "counter", help);
			prom_sample_u64(p, name, NULL, lab, g[i].kv[j].v);
		}
	}
}

void selfstats_metrics(struct prom *p, const char *text)
{
	struct stats st;

	parse(&st, text);
	exporter_metrics(p, &st);
	group_metrics(p, st.sock, st.n_sock, "weir_socket", "worker", "listen",
	              "Per worker UDP socket counter (kernel_drops: SO_RXQ_OVFL and /proc).");
	prom_family(p, "weir_kernel_drops_total", "counter",
	            "Datagrams the kernel dropped on weir's sockets (all workers).");
	prom_sample_u64(p, "weir_kernel_drops_total", NULL, "", st.kernel_drops);
	stats_free(&st);
}

static json_t *pairs_json(const struct pair *kv, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, kv[i].k, json_integer((json_int_t)kv[i].v));
	return o;
}

void selfstats_status(struct json_t *root, const char *text)
{
	struct stats st;
	json_t *ex = json_array(), *so = json_array();

	parse(&st, text);
	for (size_t i = 0; i < st.n_ex; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "exporter", json_string(st.ex[i].addr));
		json_object_set_new(o, "domain", json_integer(atoll(st.ex[i].domain)));
		json_object_set_new(o, "version", json_integer(atoll(st.ex[i].version)));
		for (size_t c = 0; c < st.n_cols; c++)
			json_object_set_new(o, st.cols[c],
			                    json_integer((json_int_t)st.ex[i].col[c]));
		json_object_set_new(o, "drop_reasons",
		                    pairs_json(st.ex[i].drops, st.ex[i].n_drops));
		json_array_append_new(ex, o);
	}
	for (size_t i = 0; i < st.n_sock; i++) {
		json_t *o = pairs_json(st.sock[i].kv, st.sock[i].n);
		json_object_set_new(o, "worker", json_integer(atoll(st.sock[i].l1)));
		json_object_set_new(o, "listen", json_string(st.sock[i].l2));
		json_array_append_new(so, o);
	}
	json_object_set_new((json_t *)root, "exporters", ex);
	json_object_set_new((json_t *)root, "sockets", so);
	json_object_set_new((json_t *)root, "kernel_drops",
	                    json_integer((json_int_t)st.kernel_drops));
	stats_free(&st);
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
