/* influxdb.c - the influxdb plugin: rows as line protocol, batched, gzip'd, retried, backlogged. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/keys.h"
#include "http/http.h"
#include "http/prom.h"
#include "lib/log.h"
#include "sink/backlog.h"
#include "sink/influx.h"
#include "sink/rowtext.h"
#include "weir/sink.h"

#define MAX_TAGS  ROWTEXT_MAX
#define LINE_MAX_ 8192
#define DEF_MEM   (64u << 20)
#define DEF_SPOOL (1024ull << 20)
#define RETRY_MS  200

enum { F_BYTES = 1, F_PACKETS = 2, F_FLOWS = 4 };

struct sink {
	char who[128]; /* "plugin influxdb[x]" */
	char name[64]; /* x */
	struct influx_client *cl;
	struct backlog *bl;
	struct http_server *http;
	char measurement[CONF_STR * 2];
	char tags[MAX_TAGS][ROWTEXT_NAME]; /* wanted tags; n_tags 0 = every key primitive */
	size_t n_tags;
	unsigned fields;
	uint32_t batch, retries;
	char *buf; /* the batch being filled */
	size_t len, cap, lines;
	struct ratelimit rl;
	pthread_mutex_t mu; /* the counters below, read by the HTTP thread */
	uint64_t rows, lines_sent, lines_rejected, batches_rejected, batches_queued;
	struct influx_stats st;
	struct backlog_stats bst;
};

static bool tag_wanted(const struct sink *k, const char *name)
{
	if (!k->n_tags)
		return true;
	for (size_t i = 0; i < k->n_tags; i++)
		if (!strcmp(k->tags[i], name))
			return true;
	return false;
}

/* One line: measurement,tag=v,... bytes=Ni,packets=Ni,flows=Ni <bin start ms>. */
static size_t format_line(const struct sink *k, const struct flow *f, uint64_t fields,
                          uint64_t ts_ms, char *out, size_t len)
{
	struct rowtext rt;
	size_t o = snprintf(out, len, "%s", k->measurement);

	if (rowtext_get(f, fields, &rt) < 0)
		return 0;
	for (size_t i = 0; i < rt.n && o < len; i++) {
		if (!rt.value[i][0] || !tag_wanted(k, rt.name[i]))
			continue; /* the line protocol has no empty tag values */
		o += snprintf(out + o, len - o, ",");
		if (o < len)
			o += influx_escape(out + o, len - o, rt.name[i], INFLUX_TAG);
		if (o < len)
			o += snprintf(out + o, len - o, "=");
		if (o < len)
			o += influx_escape(out + o, len - o, rt.value[i], INFLUX_TAG);
	}
	const char *sep = " ";
	if (o < len && (k->fields & F_BYTES)) {
		o += snprintf(out + o, len - o, "%sbytes=%" PRIu64 "i", sep, f->bytes);
		sep = ",";
	}
	if (o < len && (k->fields & F_PACKETS)) {
		o += snprintf(out + o, len - o, "%spackets=%" PRIu64 "i", sep, f->packets);
		sep = ",";
	}
	if (o < len && (k->fields & F_FLOWS))
		o += snprintf(out + o, len - o, "%sflows=%" PRIu64 "i", sep, f->flows);
	if (o < len)
		o += snprintf(out + o, len - o, " %" PRIu64 "\n", ts_ms);
	return o < len ? o : 0;
}

static void snapshot(struct sink *k)
{
	pthread_mutex_lock(&k->mu);
	influx_client_stats(k->cl, &k->st);
	if (k->bl)
		backlog_get_stats(k->bl, &k->bst);
	pthread_mutex_unlock(&k->mu);
}

static int queue_batch(struct sink *k)
{
	if (!k->len)
		return 0;
	int rc = backlog_push(k->bl, k->buf, k->len);
	pthread_mutex_lock(&k->mu);
	k->batches_queued++;
	pthread_mutex_unlock(&k->mu);
	k->len = k->lines = 0;
	return rc;
}

static int append_line(struct sink *k, const char *line, size_t n)
{
	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap : 65536;
		while (cap < k->len + n)
			cap *= 2;
		char *b = realloc(k->buf, cap);
		if (!b)
			return -1;
		k->buf = b;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, line, n);
	k->len += n;
	return ++k->lines >= k->batch ? queue_batch(k) : 0;
}

static int influxdb_write(struct sink *k, const struct sink_rows *r)
{
	char line[LINE_MAX_];
	int rc = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct flow *f = &r->rows[i];
		if (f->event != FLOW_EV_FLOW)
			continue;
		size_t n = format_line(k, f, r->fields, r->stamp_inserted_ms, line, sizeof(line));
		if (!n || append_line(k, line, n) < 0)
			rc = -1;
	}
	pthread_mutex_lock(&k->mu);
	k->rows += r->n;
	pthread_mutex_unlock(&k->mu);
	return rc;
}

static size_t count_lines(const uint8_t *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += p[i] == '\n';
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * Sends one batch, retrying network errors and 5xx `retries` times. 1 done (written, or
 * rejected as bad data: logged with the offending line and dropped), 0 still failing.
 */
static int send_batch(struct sink *k, const uint8_t *p, size_t len)
{
	char msg[1200];

	for (uint32_t attempt = 0;; attempt++) {
		enum influx_rc rc = influx_post(k->cl, (const char *)p, len, msg, sizeof(msg));
		if (rc == INFLUX_OK) {
			pthread_mutex_lock(&k->mu);
			k->lines_sent += count_lines(p, len);
			pthread_mutex_unlock(&k->mu);
			return 1;
		}
		if (rc == INFLUX_REJECTED) {
			WLOG(LL_ERR, "%s: InfluxDB refused a batch of %zu lines, dropped: %s",
			     k->who, count_lines(p, len), msg);
			pthread_mutex_lock(&k->mu);
			k->lines_rejected += count_lines(p, len);
			k->batches_rejected++;
			pthread_mutex_unlock(&k->mu);
			return 1;
		}
		if (attempt >= k->retries) {
			if (ratelimit_ok(&k->rl, mono_ms()))
				WLOG(LL_ERR,
				     "%s: InfluxDB write failed (%s); %zu batches kept in the "
				     "backlog",
				     k->who, msg, backlog_items(k->bl));
			return 0;
		}
		sleep_ms(RETRY_MS << (attempt < 4 ? attempt : 4));
	}
}

/* Queues the open batch and sends the backlog, oldest first, until it is empty or failing. */
static int influxdb_flush(struct sink *k, uint64_t now)
{
	const uint8_t *p;
	size_t len;
	int rc = queue_batch(k);

	for (;;) {
		int got = backlog_peek(k->bl, &p, &len);
		if (got <= 0) {
			rc = got < 0 ? -1 : rc;
			break;
		}
		if (!send_batch(k, p, len)) {
			rc = -1;
			break;
		}
		backlog_pop(k->bl);
	}
	backlog_sync(k->bl);
	snapshot(k);
	return rc;
}

static void influxdb_metrics(void *arg, struct prom *p)
{
	struct sink *k = arg;
	char lab[160] = "", l2[200];

	prom_label(lab, sizeof(lab), "plugin", k->name);
	pthread_mutex_lock(&k->mu);
	const struct influx_stats *s = &k->st;
	prom_family(p, "weir_sink_write_seconds", "histogram",
	            "Latency of the sinks' write requests.");
	for (int i = 0; i < INFLUX_LAT_BUCKETS; i++) {
		char le[32];
		snprintf(le, sizeof(le), "%g", influx_lat_le[i]);
		snprintf(l2, sizeof(l2), "%s", lab);
		prom_label(l2, sizeof(l2), "le", le);
		prom_sample_u64(p, "weir_sink_write_seconds", "_bucket", l2, s->lat_bucket[i]);
	}
	snprintf(l2, sizeof(l2), "%s", lab);
	prom_label(l2, sizeof(l2), "le", "+Inf");
	prom_sample_u64(p, "weir_sink_write_seconds", "_bucket", l2, s->lat_count);
	prom_sample(p, "weir_sink_write_seconds", "_sum", lab, s->lat_sum);
	prom_sample_u64(p, "weir_sink_write_seconds", "_count", lab, s->lat_count);
	prom_family(p, "weir_sink_errors_total", "counter",
	            "Failed sink requests by kind (rejected = 4xx, server = 5xx, network).");
	const char *kinds[] = {"rejected", "server", "network"};
	uint64_t vals[] = {s->rejected, s->server_errors, s->network_errors};
	for (int i = 0; i < 3; i++) {
		snprintf(l2, sizeof(l2), "%s", lab);
		prom_label(l2, sizeof(l2), "kind", kinds[i]);
		prom_sample_u64(p, "weir_sink_errors_total", NULL, l2, vals[i]);
	}
	prom_family(p, "weir_sink_backlog_items", "gauge", "Batches waiting in a sink's backlog.");
	prom_sample_u64(p, "weir_sink_backlog_items", NULL, lab, k->bst.items);
	prom_family(p, "weir_sink_backlog_bytes", "gauge",
	            "Bytes waiting in a sink's backlog (memory and spool).");
	prom_sample_u64(p, "weir_sink_backlog_bytes", NULL, lab,
	                k->bst.mem_bytes + k->bst.spool_bytes);
	prom_family(p, "weir_sink_backlog_dropped_total", "counter",
	            "Batches a sink's backlog lost (spool full or unwritable).");
	prom_sample_u64(p, "weir_sink_backlog_dropped_total", NULL, lab, k->bst.dropped);
	prom_family(p, "weir_sink_lines_total", "counter", "Lines an InfluxDB sink wrote.");
	prom_sample_u64(p, "weir_sink_lines_total", NULL, lab, k->lines_sent);
	prom_family(p, "weir_sink_rejected_lines_total", "counter",
	            "Lines InfluxDB refused as bad data (dropped, logged).");
	prom_sample_u64(p, "weir_sink_rejected_lines_total", NULL, lab, k->lines_rejected);
	pthread_mutex_unlock(&k->mu);
}

/* The stats hook: the sink's counters as of its last write or flush, one line. */
static void influxdb_stats(struct sink *k, FILE *out)
{
	pthread_mutex_lock(&k->mu);
	fprintf(out,
	        "%s: influxdb rows %llu lines_sent %llu lines_rejected %llu batches_queued %llu "
	        "batches_rejected %llu backlog_batches %llu backlog_bytes %llu dropped %llu "
	        "server_errors %llu network_errors %llu\n",
	        k->who, (unsigned long long)k->rows, (unsigned long long)k->lines_sent,
	        (unsigned long long)k->lines_rejected, (unsigned long long)k->batches_queued,
	        (unsigned long long)k->batches_rejected, (unsigned long long)k->bst.items,
	        (unsigned long long)(k->bst.mem_bytes + k->bst.spool_bytes),
	        (unsigned long long)k->bst.dropped, (unsigned long long)k->st.server_errors,
	        (unsigned long long)k->st.network_errors);
	pthread_mutex_unlock(&k->mu);
}

static void influxdb_backlog(struct sink *k, struct sink_backlog *out)
{
	pthread_mutex_lock(&k->mu);
	out->items = k->bst.items;
	out->bytes = k->bst.mem_bytes + k->bst.spool_bytes;
	out->dropped = k->bst.dropped;
	pthread_mutex_unlock(&k->mu);
}

static int parse_lists(struct sink *k, const struct plugin_conf *pc, char *err, size_t errlen)
{
	char item[CONF_STR];
	const char *p = pc->influx_fields;

	k->fields = 0;
	while (conf_list_next(&p, item, sizeof(item))) {
		if (!strcmp(item, "bytes"))
			k->fields |= F_BYTES;
		else if (!strcmp(item, "packets"))
			k->fields |= F_PACKETS;
		else if (!strcmp(item, "flows"))
			k->fields |= F_FLOWS;
		else if (item[0]) {
			snprintf(err, errlen,
			         "%s: influxdb_fields: '%s' is not bytes, packets or flows", k->who,
			         item);
			return -1;
		}
	}
	if (!k->fields) {
		snprintf(err, errlen, "%s: influxdb_fields names no field", k->who);
		return -1;
	}
	k->n_tags = 0;
	for (p = pc->influx_tags; conf_list_next(&p, item, sizeof(item));)
		if (item[0] && k->n_tags < MAX_TAGS)
			snprintf(k->tags[k->n_tags++], ROWTEXT_NAME, "%.31s", item);
	return 0;
}

static int open_backlog(struct sink *k, const struct plugin_conf *pc, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct backlog_conf bc = {
	    .path = path,
	    .mem_max = pc->sql_backlog_memory ? pc->sql_backlog_memory : DEF_MEM,
	    .spool_max = pc->sql_backlog_size ? pc->sql_backlog_size : DEF_SPOOL,
	    .who = k->who,
	};

	if (pc->sql_backlog_file[0])
		snprintf(path, sizeof(path), "%s", pc->sql_backlog_file);
	else
		snprintf(path, sizeof(path), "weir-influxdb-%s.spool", pc->name);
	k->bl = backlog_open(&bc, err, errlen);
	return k->bl ? 0 : -1;
}

static void influxdb_close(struct sink *k);

static struct sink *influxdb_open(const struct plugin_conf *pc, char *err, size_t errlen)
{
	struct sink *k = calloc(1, sizeof(*k));
	struct influx_target t = {
	    .url = pc->influx_url,
	    .database = pc->influx_database,
	    .org = pc->influx_org,
	    .bucket = pc->influx_bucket,
	    .token = pc->influx_token,
	    .user = pc->influx_user,
	    .password = pc->influx_password,
	    .timeout_ms = pc->influx_timeout_ms,
	    .gzip = pc->influx_gzip,
	};

	if (!k) {
		snprintf(err, errlen, "plugin influxdb[%s]: out of memory", pc->name);
		return NULL;
	}
	pthread_mutex_init(&k->mu, NULL);
	snprintf(k->who, sizeof(k->who), "plugin influxdb[%s]", pc->name);
	snprintf(k->name, sizeof(k->name), "%s", pc->name);
	influx_escape(k->measurement, sizeof(k->measurement),
	              pc->influx_measurement[0] ? pc->influx_measurement : "flows",
	              INFLUX_MEASUREMENT);
	k->batch = pc->influx_batch ? pc->influx_batch : 5000;
	k->retries = pc->influx_retries;
	ratelimit_init(&k->rl, 1);
	if (parse_lists(k, pc, err, errlen) < 0 || !(k->cl = influx_client_new(&t, err, errlen)) ||
	    open_backlog(k, pc, err, errlen) < 0) {
		influxdb_close(k);
		return NULL;
	}
	snapshot(k);
	k->http = pc->conf ? pc->conf->http : NULL;
	if (k->http && http_add(k->http, k->who, influxdb_metrics, NULL, k) < 0)
		k->http = NULL;
	return k;
}

static void influxdb_close(struct sink *k)
{
	if (!k)
		return;
	if (k->http)
		http_remove(k->http, k);
	if (k->bl) {
		queue_batch(k);
		backlog_close(k->bl); /* what InfluxDB did not take waits in the spool */
	}
	influx_client_free(k->cl);
	free(k->buf);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

const struct sink_ops sink_influxdb = {
    .name = "influxdb",
    .open = influxdb_open,
    .write = influxdb_write,
    .flush = influxdb_flush,
    .close = influxdb_close,
    .reconfigure = NULL,
    .stats = influxdb_stats,
    .backlog = influxdb_backlog,
};
