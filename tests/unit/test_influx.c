/* test_influx.c - line protocol escaping, error lines, and the influxdb sink against a fake
 * InfluxDB (libmicrohttpd) answering 204, 400 and 500: gzip, retries, drops, backlog order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "conf/conf.h"
#include "sink/influx.h"
#include "weir/sink.h"

static void escaping(void **state)
{
	char buf[64];

	assert_int_equal(influx_escape(buf, sizeof(buf), "a b,c=d", INFLUX_TAG), 10);
	assert_string_equal(buf, "a\\ b\\,c\\=d");
	influx_escape(buf, sizeof(buf), "m e,a=s", INFLUX_MEASUREMENT);
	assert_string_equal(buf, "m\\ e\\,a=s");
	influx_escape(buf, sizeof(buf), "x\ny", INFLUX_TAG);
	assert_string_equal(buf, "xy");
	char small[4];
	assert_int_equal(influx_escape(small, sizeof(small), "a,b,c", INFLUX_TAG), 7);
	assert_int_equal(strlen(small), 3);
}

static void offending_line(void **state)
{
	const char body[] = "m a=1i 1\nm a=x 2\nm a=3i 3\n";
	size_t n = 0;
	const char *l = influx_offending_line(
	    body, strlen(body), "{\"error\":\"unable to parse 'm a=x 2': invalid number\"}", &n);
	assert_non_null(l);
	assert_int_equal(n, 7);
	assert_memory_equal(l, "m a=x 2", 7);
	l = influx_offending_line(body, strlen(body), "failed to parse at line 3: bad", &n);
	assert_non_null(l);
	assert_memory_equal(l, "m a=3i 3", n);
	assert_null(influx_offending_line(body, strlen(body), "no idea", &n));
}

/* --- a fake InfluxDB: answers with the next code of a script and keeps what it took --- */

struct fake {
	pthread_mutex_t mu;
	int codes[16];
	size_t n_codes, next;
	char got[65536]; /* bodies answered 204, decompressed */
	size_t got_len;
	unsigned posts, gzipped;
	char path[256];
	char auth[128];
};

struct upload {
	char *buf;
	size_t len;
};

static void gunzip_into(struct fake *f, const char *p, size_t len)
{
	z_stream zs = {0};
	inflateInit2(&zs, 15 + 16);
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)f->got + f->got_len;
	zs.avail_out = (uInt)(sizeof(f->got) - 1 - f->got_len);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	f->got_len += zs.total_out;
	inflateEnd(&zs);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **ctx)
{
	struct fake *f = cls;
	struct upload *u = *ctx;

	if (!u) {
		*ctx = calloc(1, sizeof(*u));
		return MHD_YES;
	}
	if (*size) {
		u->buf = realloc(u->buf, u->len + *size);
		memcpy(u->buf + u->len, data, *size);
		u->len += *size;
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&f->mu);
	int code = f->next < f->n_codes ? f->codes[f->next++] : 204;
	const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Encoding");
	f->posts++;
	const char *db = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "db");
	const char *org = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "org");
	const char *bucket = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "bucket");
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (db)
		snprintf(f->path, sizeof(f->path), "%s?db=%s", url, db);
	else
		snprintf(f->path, sizeof(f->path), "%s?org=%s&bucket=%s", url, org ? org : "",
		         bucket ? bucket : "");
	snprintf(f->auth, sizeof(f->auth), "%s", auth ? auth : "");
	if (enc && !strcmp(enc, "gzip"))
		f->gzipped++;
	if (code == 204) {
		if (enc && !strcmp(enc, "gzip")) {
			gunzip_into(f, u->buf, u->len);
		} else {
			memcpy(f->got + f->got_len, u->buf, u->len);
			f->got_len += u->len;
		}
		f->got[f->got_len] = '\0';
	}
	pthread_mutex_unlock(&f->mu);
	static char bad[] = "{\"error\":\"unable to parse 'flows,as_dst=1 bytes=1i 1': bad\"}";
	static char oops[] = "{\"error\":\"engine down\"}";
	struct MHD_Response *r = MHD_create_response_from_buffer(code == 400   ? strlen(bad)
	                                                         : code == 500 ? strlen(oops)
	                                                                       : 0,
	                                                         code == 400   ? bad
	                                                         : code == 500 ? oops
	                                                                       : NULL,
	                                                         MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)code, r);
	MHD_destroy_response(r);
	return rc;
}

static void done(void *cls, struct MHD_Connection *conn, void **ctx,
                 enum MHD_RequestTerminationCode why)
{
	struct upload *u = *ctx;
	if (u) {
		free(u->buf);
		free(u);
	}
	*ctx = NULL;
}

extern const struct sink_ops sink_influxdb;

static struct flow row(uint32_t as, uint64_t bytes)
{
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.dst_as = as;
	f.bytes = bytes;
	f.packets = 2;
	f.flows = 1;
	f.present = (1u << FF_DST_AS);
	return f;
}

static struct sink *open_sink(struct conf *c, int port, const char *spool)
{
	char err[256];
	struct plugin_conf *pc = &c->plugins[0];

	pc->conf = c;
	snprintf(pc->name, sizeof(pc->name), "t");
	snprintf(pc->influx_url, sizeof(pc->influx_url), "http://127.0.0.1:%d/", port);
	snprintf(pc->influx_database, sizeof(pc->influx_database), "flows db");
	snprintf(pc->influx_measurement, sizeof(pc->influx_measurement), "flows");
	snprintf(pc->influx_fields, sizeof(pc->influx_fields), "bytes, packets");
	snprintf(pc->sql_backlog_file, sizeof(pc->sql_backlog_file), "%s", spool);
	pc->influx_batch = 2;
	pc->influx_gzip = true;
	pc->influx_timeout_ms = 5000;
	pc->influx_retries = 1;
	struct sink *k = sink_influxdb.open(pc, err, sizeof(err));
	assert_non_null(k);
	return k;
}

static void sink_batches_retries_and_drops(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct conf *c = calloc(1, sizeof(*c));
	char spool[] = "/tmp/weir-test-influx-XXXXXX";
	struct flow rows[3] = {row(13335, 100), row(15169, 200), row(64500, 300)};
	struct sink_rows r = {rows, 3, 1ull << FF_DST_AS, 60000, 61000};

	pthread_mutex_init(&f->mu, NULL);
	/* batch 1 (2 lines): 500 then 204 (retried); batch 2 (1 line): 400 (dropped) */
	f->codes[0] = 500;
	f->codes[1] = 204;
	f->codes[2] = 400;
	f->n_codes = 3;
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, f,
	                     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	assert_non_null(d);
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	int fd = mkstemp(spool);
	close(fd);
	unlink(spool);
	struct sink *k = open_sink(c, port, spool);
	assert_int_equal(sink_influxdb.write(k, &r), 0);
	assert_int_equal(sink_influxdb.flush(k, 61000), 0);
	assert_int_equal(f->posts, 3);
	assert_int_equal(f->gzipped, 3);
	assert_string_equal(f->path, "/write?db=flows db");
	assert_string_equal(f->got, "flows,as_dst=13335 bytes=100i,packets=2i 60000\n"
	                            "flows,as_dst=15169 bytes=200i,packets=2i 60000\n");
	sink_influxdb.close(k);
	unlink(spool);
	MHD_stop_daemon(d);
	free(c);
	free(f);
}

static void down_server_keeps_order(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct conf *c = calloc(1, sizeof(*c));
	char spool[] = "/tmp/weir-test-influx-XXXXXX";
	struct flow rows[3] = {row(1, 1), row(2, 2), row(3, 3)};
	struct sink_rows r = {rows, 1, 1ull << FF_DST_AS, 1000, 2000};

	pthread_mutex_init(&f->mu, NULL);
	for (int i = 0; i < 4; i++)
		f->codes[i] = 503; /* two flushes, each tries twice */
	f->n_codes = 4;
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, f,
	                     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	int fd = mkstemp(spool);
	close(fd);
	unlink(spool);
	struct sink *k = open_sink(c, port, spool);
	sink_influxdb.write(k, &r);
	assert_int_equal(sink_influxdb.flush(k, 2000), -1);
	r.rows = &rows[1];
	sink_influxdb.write(k, &r);
	assert_int_equal(sink_influxdb.flush(k, 3000), -1);
	assert_int_equal(f->got_len, 0);
	/* the server is back: both batches, oldest first, then the new one */
	r.rows = &rows[2];
	sink_influxdb.write(k, &r);
	assert_int_equal(sink_influxdb.flush(k, 4000), 0);
	assert_string_equal(f->got, "flows,as_dst=1 bytes=1i,packets=2i 1000\n"
	                            "flows,as_dst=2 bytes=2i,packets=2i 1000\n"
	                            "flows,as_dst=3 bytes=3i,packets=2i 1000\n");
	sink_influxdb.close(k);
	unlink(spool);
	MHD_stop_daemon(d);
	free(c);
	free(f);
}

/* InfluxDB 2.x: /api/v2/write with org, bucket and a token; uncompressed when asked. */
static void v2_api_with_token(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct conf *c = calloc(1, sizeof(*c));
	char spool[] = "/tmp/weir-test-influx-XXXXXX";
	struct flow rows[1] = {row(7, 70)};
	struct sink_rows r = {rows, 1, 1ull << FF_DST_AS, 5000, 6000};

	pthread_mutex_init(&f->mu, NULL);
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, f,
	                     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	int fd = mkstemp(spool);
	close(fd);
	unlink(spool);
	struct plugin_conf *pc = &c->plugins[0];
	snprintf(pc->influx_org, sizeof(pc->influx_org), "acme");
	snprintf(pc->influx_bucket, sizeof(pc->influx_bucket), "net flows");
	snprintf(pc->influx_token, sizeof(pc->influx_token), "t0k");
	snprintf(pc->influx_tags, sizeof(pc->influx_tags), "as_dst");
	struct sink *k = open_sink(c, port, spool);
	sink_influxdb.close(k);
	unlink(spool);
	pc->influx_gzip = false;
	char err[256];
	k = sink_influxdb.open(pc, err, sizeof(err));
	assert_non_null(k);
	sink_influxdb.write(k, &r);
	assert_int_equal(sink_influxdb.flush(k, 6000), 0);
	assert_string_equal(f->path, "/api/v2/write?org=acme&bucket=net flows");
	assert_string_equal(f->auth, "Token t0k");
	assert_int_equal(f->gzipped, 0);
	assert_string_equal(f->got, "flows,as_dst=7 bytes=70i,packets=2i 5000\n");
	sink_influxdb.close(k);
	unlink(spool);
	/* a bad field list is a configuration error */
	snprintf(pc->influx_fields, sizeof(pc->influx_fields), "bytes, octets");
	assert_null(sink_influxdb.open(pc, err, sizeof(err)));
	assert_non_null(strstr(err, "octets"));
	MHD_stop_daemon(d);
	free(c);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escaping),
	    cmocka_unit_test(offending_line),
	    cmocka_unit_test(sink_batches_retries_and_drops),
	    cmocka_unit_test(down_server_keeps_order),
	    cmocka_unit_test(v2_api_with_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
