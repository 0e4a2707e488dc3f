/* test_plugin_stats.c - the plugins' structured counters, sink stats lines and their metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/plugin.h"
#include "conf/conf.h"
#include "enrich/asname.h"
#include "http/prom.h"
#include "http/selfstats.h"
#include "lib/log.h"

#define N_FLOWS 200

static void fill(struct flow_batch *b)
{
	b->n = N_FLOWS;
	for (size_t i = 0; i < b->n; i++) {
		struct flow *f = &b->rec[i];
		memset(f, 0, sizeof(*f));
		f->event = FLOW_EV_FLOW;
		wip_from_v4(&f->src, 0x0a000000 + (uint32_t)(i % 10));
		wip_from_v4(&f->dst, 0xc0000201);
		f->present = UINT64_C(1) << FF_SRC_ADDR | UINT64_C(1) << FF_DST_ADDR;
		f->bytes = 100;
		f->packets = 1;
	}
}

static char *text_of(void (*fn)(const struct plugin_set *, FILE *), const struct plugin_set *ps)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fn(ps, f);
	fclose(f);
	return text;
}

static char *render(struct prom *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	prom_render(p, f);
	fclose(f);
	return text;
}

struct seen {
	struct plugin_stats st[4];
	size_t n;
};

static void collect_one(void *arg, const struct plugin_stats *st)
{
	struct seen *s = arg;
	if (s->n < 4)
		s->st[s->n++] = *st;
}

/* A value of a sample line "name{labels} v", or -1 when absent. */
static double sample(const char *text, const char *series)
{
	const char *p = strstr(text, series);
	return p ? strtod(p + strlen(series), NULL) : -1;
}

static struct plugin_set *run_set(const char *conf_text, struct conf *c)
{
	static struct flow_batch b;
	char err[256];

	assert_int_equal(
	    conf_load_buffer(c, "t.conf", conf_text, strlen(conf_text), err, sizeof(err)), 0);
	struct plugin_set *ps = plugin_open(c, 1, err, sizeof(err));
	assert_non_null(ps);
	assert_int_equal(plugin_start(ps, err, sizeof(err)), 0);
	fill(&b);
	plugin_push(ps, 0, &b);
	plugin_tick(ps, 0, now_ms());
	plugin_stop(ps);
	return ps;
}

static void counters_histogram_and_sink_line(void **state)
{
	char dir[] = "/tmp/weir-test-pstats-XXXXXX", conf[2048];

	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf),
	         "plugins: print[p], sqlite3[s]\n"
	         "aggregate: src_host, dst_host\n"
	         "print_refresh_time: 3600\n"
	         "print_output_file[p]: %s/p.json\n"
	         "sql_db[s]: %s/s.db\n"
	         "sql_table[s]: acct\n"
	         "sql_backlog_file[s]: %s/s.spool\n",
	         dir, dir, dir);
	struct conf *c = calloc(1, sizeof(*c));
	struct plugin_set *ps = run_set(conf, c);

	struct seen s = {0};
	plugin_stats_foreach(ps, collect_one, &s);
	assert_int_equal(s.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct plugin_stats *st = &s.st[i];
		assert_int_equal(st->records, N_FLOWS);
		assert_int_equal(st->rows_written, 10); /* 10 sources, one destination */
		assert_int_equal(st->flushes, 1);
		assert_int_equal(st->write_errors, 0);
		assert_int_equal(st->backlog_items, 0);
		/* at least one write and the flush, every one within the last bucket */
		assert_true(st->lat_count >= 2);
		for (size_t b = 1; b < PLUGIN_LAT_BUCKETS; b++)
			assert_true(st->lat_bucket[b] >= st->lat_bucket[b - 1]);
		assert_true(st->lat_bucket[PLUGIN_LAT_BUCKETS - 1] <= st->lat_count);
		assert_true(st->lat_sum >= 0 && st->lat_sum < 60);
	}
	assert_string_equal(s.st[0].type, "print");
	assert_string_equal(s.st[1].name, "s");

	/* the sink's own line, kept from just before it closed */
	char *text = text_of(plugin_stats_print, ps);
	assert_non_null(strstr(text, "plugin sqlite3[s]: records 200 rows_written 10"));
	assert_non_null(strstr(text, "plugin sqlite3[s]: sql rows_written 10 "));
	free(text);

	text = text_of(plugin_describe, ps);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "plugin sqlite3[s]: rows to sqlite3 db %s/s.db table acct,",
	         dir);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof(want), "plugin print[p]: json to %s/p.json,", dir);
	assert_non_null(strstr(text, want));
	free(text);

	struct prom *p = prom_new();
	selfstats_plugins(p, ps);
	text = render(p);
	assert_non_null(strstr(text, "# TYPE weir_plugin_write_seconds histogram\n"));
	double inf = sample(text, "weir_plugin_write_seconds_bucket{type=\"sqlite3\",plugin=\"s\","
	                          "le=\"+Inf\"} ");
	assert_true(inf == (double)s.st[1].lat_count);
	assert_true(sample(text, "weir_plugin_write_seconds_count{type=\"sqlite3\","
	                         "plugin=\"s\"} ") == inf);
	assert_true(sample(text, "weir_plugin_backlog_items{type=\"sqlite3\",plugin=\"s\"} ") == 0);
	assert_true(sample(text, "weir_plugin_rows_written_total{type=\"print\",plugin=\"p\"} ") ==
	            10);
	assert_true(sample(text, "weir_plugin_write_errors_total{type=\"sqlite3\","
	                         "plugin=\"s\"} ") == 0);
	free(text);
	prom_free(p);

	json_t *root = json_object();
	selfstats_plugins_status((struct json_t *)root, ps);
	json_t *pl = json_object_get(root, "plugins");
	assert_int_equal(json_array_size(pl), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(pl, 1), "rows_written")),
	                 10);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pl, 1), "type")),
	                    "sqlite3");
	json_decref(root);
	plugin_free(ps);
	free(c);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A database that cannot be opened: the rows wait in the backlog, and the gauge says so. */
static void backlog_depth_is_reported(void **state)
{
	char dir[] = "/tmp/weir-test-pstats-XXXXXX", conf[2048];

	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf),
	         "plugins: sqlite3[s]\n"
	         "aggregate: src_host, dst_host\n"
	         "print_refresh_time: 3600\n"
	         "sql_db: %s/missing/dir/s.db\n"
	         "sql_table: acct\n"
	         "sql_backlog_file: %s/s.spool\n",
	         dir, dir);
	struct conf *c = calloc(1, sizeof(*c));
	struct plugin_set *ps = run_set(conf, c);

	struct seen s = {0};
	plugin_stats_foreach(ps, collect_one, &s);
	assert_int_equal(s.n, 1);
	assert_true(s.st[0].backlog_items > 0);
	assert_true(s.st[0].backlog_bytes > 0);
	assert_true(s.st[0].write_errors > 0);

	struct prom *p = prom_new();
	selfstats_plugins(p, ps);
	char *text = render(p);
	assert_true(sample(text, "weir_plugin_backlog_items{type=\"sqlite3\",plugin=\"s\"} ") ==
	            (double)s.st[0].backlog_items);
	free(text);
	prom_free(p);
	text = text_of(plugin_stats_print, ps);
	assert_non_null(strstr(text, "plugin sqlite3[s]: sql rows_written 0 "));
	assert_null(strstr(text, "backlog_batches 0 "));
	free(text);
	plugin_free(ps);
	free(c);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void asname_counters(void **state)
{
	struct asname_stats st = {.lookups = 7,
	                          .hits = 3,
	                          .csv_hits = 1,
	                          .queued = 3,
	                          .resolved = 2,
	                          .not_found = 1,
	                          .failures = 0,
	                          .bad_answers = 4,
	                          .cached = 5};
	struct prom *p = prom_new();

	selfstats_asname(p, &st);
	char *text = render(p);
	assert_non_null(strstr(text, "# TYPE weir_asname_lookups_total counter\n"));
	assert_non_null(strstr(text, "weir_asname_lookups_total 7\n"));
	assert_non_null(strstr(text, "weir_asname_bad_answers_total 4\n"));
	assert_non_null(strstr(text, "weir_asname_cached_names 5\n"));
	free(text);
	prom_free(p);

	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	selfstats_asname_print(&st, f);
	fclose(f);
	assert_string_equal(line, "asname: lookups 7 hits 3 csv_hits 1 queued 3 resolved 2 "
	                          "not_found 1 failures 0 bad_answers 4 cached 5\n");
	free(line);

	json_t *root = json_object();
	selfstats_asname_status((struct json_t *)root, &st);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(root, "asnames"), "resolved")), 2);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counters_histogram_and_sink_line),
	    cmocka_unit_test(backlog_depth_is_reported),
	    cmocka_unit_test(asname_counters),
	};
	log_setup(LL_ERR, stderr, false, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
