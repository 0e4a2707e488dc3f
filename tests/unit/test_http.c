/* test_http.c - the exposition builder, the HTTP endpoint, its auth, self counters, prometheus
 * sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "http/http.h"
#include "http/prom.h"
#include "http/selfstats.h"
#include "ingest/ingest.h"
#include "weir/decoder.h"
#include "weir/sink.h"

static void families_are_grouped(void **state)
{
	struct prom *p = prom_new();
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_true(prom_family(p, "a_total", "counter", "A.\nsecond \\ line"));
	prom_sample_u64(p, "a_total", NULL, "x=\"1\"", 1);
	prom_sample(p, "b", NULL, "", 2.5);
	prom_sample_u64(p, "a_total", NULL, "x=\"2\"", 18446744073709551615ull);
	assert_true(prom_family(p, "a_total", "gauge", "ignored"));
	prom_family(p, "empty", "gauge", "no samples");
	assert_int_equal(prom_render(p, f), 2);
	fclose(f);
	assert_string_equal(text, "# HELP a_total A.\\nsecond \\\\ line\n"
	                          "# TYPE a_total counter\n"
	                          "a_total{x=\"1\"} 1\n"
	                          "a_total{x=\"2\"} 18446744073709551615\n"
	                          "# HELP b \n"
	                          "# TYPE b untyped\n"
	                          "b 2.5\n");
	free(text);
	prom_free(p);
}

static void labels_are_escaped(void **state)
{
	char buf[64] = "";

	assert_true(prom_label(buf, sizeof(buf), "plugin", "a\"b\\c\nd"));
	assert_true(prom_label(buf, sizeof(buf), "9x-y", "v"));
	assert_string_equal(buf, "plugin=\"a\\\"b\\\\c\\nd\",_x_y=\"v\"");
	char small[12] = "k=\"v\"";
	assert_false(prom_label(small, sizeof(small), "long", "value"));
	assert_string_equal(small, "k=\"v\"");
	assert_true(prom_name_ok("weir_x:y_total"));
	assert_false(prom_name_ok("9a"));
	assert_false(prom_name_ok("a-b"));
}

/*
 * Two workers' sockets; the drops that belong to no exporter; one exporter seen by both
 * workers (summed in the output). The snapshot's arrays are the caller's: built per test.
 */
static void snapshot(struct ingest_snapshot *s)
{
	static const struct ingest_sock_stats socks[] = {
	    {0, "0.0.0.0:2055", 10, 1000, 2, 0},
	    {1, "0.0.0.0:2055", 5, 500, 0, 1},
	};
	struct exporter_stats *e = calloc(3, sizeof(*e));

	memset(s, 0, sizeof(*s));
	s->sock = malloc(sizeof(socks));
	memcpy(s->sock, socks, sizeof(socks));
	s->n_sock = 2;
	s->kernel_drops = 2;
	e[0].drops[DROP_TRUNCATED] = 3; /* version 0: no exporter */
	wip_parse(&e[1].addr, "192.0.2.1");
	e[1].domain = 256;
	e[1].version = 10;
	e[1].packets = 7;
	e[1].bytes = 700;
	e[1].records = 70;
	e[1].option_records = 1;
	e[1].seq_gaps = 4;
	e[1].templates = 2;
	e[1].drops[DROP_NO_TEMPLATE] = 1;
	e[2] = e[1];
	e[2].packets = 3;
	e[2].bytes = 300;
	e[2].records = 30;
	e[2].option_records = 0;
	e[2].seq_gaps = 0;
	e[2].templates = 0;
	e[2].drops[DROP_NO_TEMPLATE] = 2;
	s->ex = e;
	s->n_ex = 3;
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

static void self_counters_become_metrics(void **state)
{
	struct prom *p = prom_new();
	struct ingest_snapshot snap;
	snapshot(&snap);
	selfstats_metrics(p, &snap);
	ingest_snapshot_free(&snap);
	char *t = render(p);

	assert_non_null(strstr(t, "weir_exporter_packets_total{exporter=\"192.0.2.1\","
	                          "domain=\"256\",version=\"10\"} 10\n"));
	assert_non_null(strstr(t, "weir_exporter_records_total{exporter=\"192.0.2.1\","
	                          "domain=\"256\",version=\"10\"} 100\n"));
	assert_non_null(strstr(t, "weir_exporter_sequence_lost_total{exporter=\"192.0.2.1\","
	                          "domain=\"256\",version=\"10\"} 4\n"));
	assert_non_null(strstr(t, "weir_exporter_decode_errors_total{exporter=\"192.0.2.1\","
	                          "domain=\"256\",version=\"10\",reason=\"no_template\"} 3\n"));
	assert_non_null(strstr(t, "weir_exporter_decode_errors_total{exporter=\"\",domain=\"0\","
	                          "version=\"0\",reason=\"truncated\"} 3\n"));
	assert_non_null(strstr(t, "weir_exporter_dropped_total{exporter=\"192.0.2.1\","
	                          "domain=\"256\",version=\"10\"} 3\n"));
	assert_non_null(strstr(t, "weir_socket_kernel_drops_total{worker=\"0\",listen=\"0.0.0.0:"
	                          "2055\"} 2\n"));
	assert_null(strstr(t, "weir_plugin_")); /* from plugin_stats_foreach(), not here */
	assert_non_null(strstr(t, "weir_kernel_drops_total 2\n"));
	/* one TYPE line per family however many workers reported it */
	char *first = strstr(t, "# TYPE weir_exporter_packets_total");
	assert_non_null(first);
	assert_null(strstr(first + 1, "# TYPE weir_exporter_packets_total"));
	free(t);
	prom_free(p);

	json_t *root = json_object();
	snapshot(&snap);
	selfstats_status((struct json_t *)root, &snap);
	ingest_snapshot_free(&snap);
	json_t *ex = json_object_get(root, "exporters");
	assert_int_equal(json_array_size(ex), 2);
	json_t *e1 = json_array_get(ex, 1);
	assert_string_equal(json_string_value(json_object_get(e1, "exporter")), "192.0.2.1");
	assert_int_equal(json_integer_value(json_object_get(e1, "records")), 100);
	assert_int_equal(json_integer_value(json_object_get(e1, "drops")), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(e1, "drop_reasons"), "no_template")),
	    3);
	assert_int_equal(json_array_size(json_object_get(root, "sockets")), 2);
	assert_null(json_object_get(root, "plugins"));
	json_decref(root);
}

/* --- the server --- */

struct body {
	char buf[65536];
	size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	if (b->len + len < sizeof(b->buf)) {
		memcpy(b->buf + b->len, p, len);
		b->len += len;
		b->buf[b->len] = '\0';
	}
	return len;
}

static long get(const char *addr, const char *path, const char *auth, const char *userpwd,
                struct body *b)
{
	char url[256];
	long code = 0;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;

	memset(b, 0, sizeof(*b));
	snprintf(url, sizeof(url), "http://%s%s", addr, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (auth) {
		h = curl_slist_append(NULL, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	if (userpwd)
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return code;
}

static void src_metrics(void *arg, struct prom *p)
{
	prom_family(p, "test_total", "counter", "Test.");
	prom_sample_u64(p, "test_total", NULL, "", *(int *)arg);
}

static void src_status(void *arg, struct json_t *root)
{
	json_object_set_new((json_t *)root, "test", json_integer(*(int *)arg));
}

static void endpoints_answer(void **state)
{
	struct conf *c = calloc(1, sizeof(*c));
	char err[256];
	struct body b;
	int v = 42;

	snprintf(c->http_listen, sizeof(c->http_listen), "127.0.0.1:0");
	struct http_server *s = http_new(c, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(http_add(s, "test", src_metrics, src_status, &v), 0);
	assert_int_equal(http_start(s, err, sizeof(err)), 0);
	const char *addr = http_address(s);
	assert_true(strncmp(addr, "127.0.0.1:", 10) == 0 && strcmp(addr, "127.0.0.1:0"));

	assert_int_equal(get(addr, "/healthz", NULL, NULL, &b), 200);
	assert_string_equal(b.buf, "ok\n");
	assert_int_equal(get(addr, "/metrics", NULL, NULL, &b), 200);
	assert_non_null(strstr(b.buf, "# TYPE test_total counter\ntest_total 42\n"));
	assert_non_null(strstr(b.buf, "weir_process_resident_memory_bytes "));
	assert_int_equal(get(addr, "/api/v1/status", NULL, NULL, &b), 200);
	json_t *j = json_loads(b.buf, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "test")), 42);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), getpid());
	json_decref(j);
	assert_int_equal(get(addr, "/nope", NULL, NULL, &b), 404);
	http_remove(s, &v);
	assert_int_equal(get(addr, "/metrics", NULL, NULL, &b), 200);
	assert_null(strstr(b.buf, "test_total"));
	http_free(s);
	free(c);
}

static void non_local_needs_auth(void **state)
{
	struct conf *c = calloc(1, sizeof(*c));
	char err[256] = "";

	snprintf(c->http_listen, sizeof(c->http_listen), "0.0.0.0:0");
	assert_null(http_new(c, err, sizeof(err)));
	assert_non_null(strstr(err, "http_auth_token"));
	snprintf(c->http_listen, sizeof(c->http_listen), "[::]:0");
	assert_null(http_new(c, err, sizeof(err)));
	snprintf(c->http_listen, sizeof(c->http_listen), "localhost:80");
	assert_null(http_new(c, err, sizeof(err)));
	snprintf(c->http_listen, sizeof(c->http_listen), "127.0.0.1:99999");
	assert_null(http_new(c, err, sizeof(err)));
	snprintf(c->http_listen, sizeof(c->http_listen), "[::1]:0");
	struct http_server *s = http_new(c, err, sizeof(err));
	assert_non_null(s);
	http_free(s);
	free(c);
}

static void token_and_basic_auth(void **state)
{
	struct conf *c = calloc(1, sizeof(*c));
	char err[256], path[] = "/tmp/weir-test-http-XXXXXX";
	struct body b;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "# users\nalice:s3cret\n", 21), 21);
	close(fd);
	snprintf(c->http_listen, sizeof(c->http_listen), "127.0.0.1:0");
	snprintf(c->http_auth_token, sizeof(c->http_auth_token), "tok123");
	snprintf(c->http_auth_basic_file, sizeof(c->http_auth_basic_file), "%s", path);
	struct http_server *s = http_new(c, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(http_start(s, err, sizeof(err)), 0);
	const char *addr = http_address(s);
	assert_int_equal(get(addr, "/metrics", NULL, NULL, &b), 401);
	assert_int_equal(get(addr, "/metrics", "Authorization: Bearer tok12", NULL, &b), 401);
	assert_int_equal(get(addr, "/metrics", "Authorization: Bearer tok123", NULL, &b), 200);
	assert_int_equal(get(addr, "/metrics", NULL, "alice:wrong", &b), 401);
	assert_int_equal(get(addr, "/api/v1/status", NULL, "alice:s3cret", &b), 200);
	assert_int_equal(get(addr, "/healthz", NULL, NULL, &b), 200);
	assert_int_equal(get(addr, "/metrics", "Authorization: Bearer tok123", NULL, &b), 200);
	assert_non_null(strstr(b.buf, "weir_http_denied_total 3\n"));
	http_free(s);
	unlink(path);
	free(c);
}

/* --- the prometheus sink --- */

extern const struct sink_ops sink_prometheus;

static struct flow as_row(uint32_t as, uint64_t bytes)
{
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.dst_as = as;
	f.bytes = bytes;
	f.packets = bytes / 100;
	f.flows = 1;
	f.present = (1u << FF_DST_AS) | (1ull << FF_BYTES) | (1ull << FF_PACKETS);
	return f;
}

static void prometheus_counts_folds_and_ages(void **state)
{
	struct conf *c = calloc(1, sizeof(*c));
	char err[256];
	struct flow rows[4] = {as_row(13335, 1000), as_row(15169, 500), as_row(64500, 100),
	                       as_row(13335, 1)};
	struct sink_rows r = {rows, 3, 1ull << FF_DST_AS, 60000, 61000};

	c->http = http_new(c, err, sizeof(err));
	assert_non_null(c->http);
	c->plugins[0].conf = c;
	snprintf(c->plugins[0].name, sizeof(c->plugins[0].name), "as");
	c->plugins[0].prom_max_series = 2;
	c->plugins[0].prom_stale_s = 100;
	struct sink *k = sink_prometheus.open(&c->plugins[0], err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(sink_prometheus.write(k, &r), 0);
	size_t len;
	char *t = http_render_metrics(c->http, &len);
	assert_null(strstr(t, "weir_flow_bytes_total{")); /* pending until the flush */
	free(t);
	assert_int_equal(sink_prometheus.flush(k, 61000), 0);
	t = http_render_metrics(c->http, &len);
	assert_non_null(strstr(t, "weir_flow_bytes_total{plugin=\"as\",as_dst=\"13335\"} 1000\n"));
	assert_non_null(strstr(t, "weir_flow_bytes_total{plugin=\"as\",as_dst=\"15169\"} 500\n"));
	assert_non_null(strstr(t, "weir_flow_bytes_total{plugin=\"as\",as_dst=\"other\"} 100\n"));
	assert_non_null(strstr(t, "weir_prometheus_folded_total{plugin=\"as\"} 1\n"));
	free(t);
	/* the next interval adds to the same counters */
	r.rows = &rows[3];
	r.n = 1;
	r.stamp_updated_ms = 121000;
	sink_prometheus.write(k, &r);
	sink_prometheus.flush(k, 121000);
	t = http_render_metrics(c->http, &len);
	assert_non_null(strstr(t, "weir_flow_bytes_total{plugin=\"as\",as_dst=\"13335\"} 1001\n"));
	free(t);
	/* 15169 was last seen at 61 s: stale at 161 s + */
	sink_prometheus.flush(k, 170000);
	t = http_render_metrics(c->http, &len);
	assert_null(strstr(t, "as_dst=\"15169\""));
	assert_non_null(strstr(t, "as_dst=\"13335\"} 1001\n"));
	assert_non_null(strstr(t, "weir_prometheus_aged_out_total{plugin=\"as\"} 1\n"));
	free(t);
	sink_prometheus.close(k);
	t = http_render_metrics(c->http, &len);
	assert_null(strstr(t, "weir_flow_bytes_total"));
	free(t);
	http_free(c->http);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(families_are_grouped),
	    cmocka_unit_test(labels_are_escaped),
	    cmocka_unit_test(self_counters_become_metrics),
	    cmocka_unit_test(endpoints_answer),
	    cmocka_unit_test(non_local_needs_auth),
	    cmocka_unit_test(token_and_basic_auth),
	    cmocka_unit_test(prometheus_counts_folds_and_ages),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
