/* test_sql.c - SQL columns per table version, statements, batches, and the sqlite3 sink itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "sink/format.h"
#include "sink/sql_common.h"

#define B(x) (UINT64_C(1) << (x))

static const uint64_t five = B(FF_SRC_ADDR) | B(FF_DST_ADDR) | B(FF_SRC_PORT) | B(FF_DST_PORT) |
                             B(FF_PROTO) | B(FF_TCP_FLAGS);

static void names(const struct sql_layout *l, char *out, size_t len)
{
	size_t at = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < l->n; i++)
		at += (size_t)snprintf(out + at, len - at, "%s%s", i ? "," : "",
		                       sql_layout_name(l, i));
}

static void layouts_follow_versions(void **state)
{
	struct sql_cfg cfg = {.version = 9, .optimize = true};
	struct sql_layout l;
	char buf[1024];

	sql_layout_make(&l, five, &cfg);
	names(&l, buf, sizeof(buf));
	assert_string_equal(buf, "ip_src,ip_dst,port_src,port_dst,tcp_flags,ip_proto,packets,bytes,"
	                         "stamp_inserted,stamp_updated");
	cfg.optimize = false;
	sql_layout_make(&l, five, &cfg);
	names(&l, buf, sizeof(buf));
	assert_string_equal(buf, "tag,class_id,mac_src,mac_dst,vlan,as_src,as_dst,ip_src,ip_dst,"
	                         "port_src,port_dst,tcp_flags,ip_proto,tos,packets,bytes,flows,"
	                         "stamp_inserted,stamp_updated");
	cfg.version = 1;
	sql_layout_make(&l, five | B(FMT_F_EXPORTER), &cfg);
	names(&l, buf, sizeof(buf));
	/* v1's set, plus columns for what v1 lacks: tcp_flags and peer_ip_src */
	assert_string_equal(buf, "mac_src,mac_dst,ip_src,ip_dst,src_port,dst_port,tcp_flags,"
	                         "ip_proto,peer_ip_src,packets,bytes,stamp_inserted,stamp_updated");
	cfg.version = 4;
	cfg.optimize = true;
	sql_layout_make(&l, B(FMT_F_SRC_NET) | B(FMT_F_TAG) | B(FF_FLOWS), &cfg);
	names(&l, buf, sizeof(buf));
	/* a net without its host goes into ip_src, as pmacct writes it; v4 calls tag agent_id */
	assert_string_equal(buf,
	                    "agent_id,ip_src,packets,bytes,flows,stamp_inserted,stamp_updated");
	/* rows of single records: the version's set */
	cfg.version = 2;
	sql_layout_make(&l, UINT64_MAX, &cfg);
	names(&l, buf, sizeof(buf));
	assert_string_equal(buf, "agent_id,mac_src,mac_dst,vlan,ip_src,ip_dst,src_port,dst_port,"
	                         "ip_proto,packets,bytes,stamp_inserted,stamp_updated");
	assert_int_equal(sql_col_role("bytes"), ROLE_SUM);
	assert_int_equal(sql_col_role("tcp_flags"), ROLE_OR);
	assert_int_equal(sql_col_role("stamp_updated"), ROLE_UPDATED);
	assert_int_equal(sql_col_role("ip_src"), ROLE_KEY);
	assert_string_equal(sql_col_type("ip_src", SQL_PGSQL), "inet NOT NULL DEFAULT '0.0.0.0'");
	assert_null(sql_col_type("nonsense", SQL_MYSQL));
}

static struct sql_batch small_batch(void)
{
	struct sql_batch b = {.table = "acct", .ncols = 5, .nrows = 2};

	strcpy(b.cols[0], "ip_src");
	strcpy(b.cols[1], "tcp_flags");
	strcpy(b.cols[2], "packets");
	strcpy(b.cols[3], "stamp_inserted");
	strcpy(b.cols[4], "stamp_updated");
	return b;
}

static void statements_use_placeholders_only(void **state)
{
	struct sql_batch b = small_batch();
	char sql[2048];

	assert_true(sql_build_insert(sql, sizeof(sql), SQL_SQLITE, &b, 2, true) > 0);
	assert_string_equal(sql,
	                    "INSERT INTO acct (ip_src, tcp_flags, packets, stamp_inserted, "
	                    "stamp_updated) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?) ON CONFLICT "
	                    "(ip_src, stamp_inserted) DO UPDATE SET tcp_flags = tcp_flags | "
	                    "excluded.tcp_flags, packets = packets + excluded.packets, "
	                    "stamp_updated = excluded.stamp_updated");
	assert_true(sql_build_insert(sql, sizeof(sql), SQL_PGSQL, &b, 2, true) > 0);
	assert_string_equal(sql,
	                    "INSERT INTO acct AS w (ip_src, tcp_flags, packets, stamp_inserted, "
	                    "stamp_updated) VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) "
	                    "ON CONFLICT (ip_src, stamp_inserted) DO UPDATE SET tcp_flags = "
	                    "w.tcp_flags | excluded.tcp_flags, packets = w.packets + "
	                    "excluded.packets, stamp_updated = excluded.stamp_updated");
	assert_true(sql_build_insert(sql, sizeof(sql), SQL_MYSQL, &b, 1, true) > 0);
	assert_string_equal(sql, "INSERT INTO acct (ip_src, tcp_flags, packets, stamp_inserted, "
	                         "stamp_updated) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
	                         "tcp_flags = tcp_flags | VALUES(tcp_flags), packets = packets + "
	                         "VALUES(packets), stamp_updated = VALUES(stamp_updated)");
	assert_true(sql_build_insert(sql, sizeof(sql), SQL_MYSQL, &b, 1, false) > 0);
	assert_string_equal(sql, "INSERT INTO acct (ip_src, tcp_flags, packets, stamp_inserted, "
	                         "stamp_updated) VALUES (?, ?, ?, ?, ?)");
	assert_int_equal(sql_build_insert(sql, 40, SQL_MYSQL, &b, 1, false), 0);
	assert_true(sql_build_create(sql, sizeof(sql), SQL_SQLITE, &b) > 0);
	assert_string_equal(sql,
	                    "CREATE TABLE IF NOT EXISTS acct (ip_src CHAR(45) NOT NULL DEFAULT "
	                    "'0.0.0.0', tcp_flags INT NOT NULL DEFAULT 0, packets BIGINT NOT "
	                    "NULL DEFAULT 0, stamp_inserted DATETIME NOT NULL, stamp_updated "
	                    "DATETIME, PRIMARY KEY (ip_src, stamp_inserted))");
}

static void table_names(void **state)
{
	struct sql_cfg cfg = {.utc = true};
	char t[SQL_TABLE_MAX];

	snprintf(cfg.table, sizeof(cfg.table), "acct_%%Y%%m%%d");
	assert_int_equal(sql_table_name(&cfg, UINT64_C(1715677200000), t, sizeof(t)), 0);
	assert_string_equal(t, "acct_20240514");
	snprintf(cfg.table, sizeof(cfg.table), "acct; DROP TABLE x");
	assert_int_equal(sql_table_name(&cfg, 0, t, sizeof(t)), -1);
	snprintf(cfg.table, sizeof(cfg.table), "acct-%%H");
	assert_int_equal(sql_table_name(&cfg, 0, t, sizeof(t)), -1);
}

static void make_rows(struct flow *rows, size_t n)
{
	memset(rows, 0, n * sizeof(*rows));
	for (size_t i = 0; i < n; i++) {
		wip_from_v4(&rows[i].src, 0x0a000001u + (uint32_t)(i % 7));
		wip_parse(&rows[i].dst, i % 2 ? "2001:db8::1" : "192.0.2.1");
		rows[i].src_port = (uint16_t)(1000 + i);
		rows[i].dst_port = 443;
		rows[i].proto = i % 3 ? 6 : 58; /* ipv6-icmp is longer than pmacct's CHAR(6) */
		rows[i].tcp_flags = (uint8_t)(1u << (i % 6));
		rows[i].packets = i + 1;
		rows[i].bytes = 100 * (i + 1);
	}
}

static void batches_round_trip(void **state)
{
	struct sql_cfg cfg = {.version = 9, .optimize = true, .utc = true};
	struct sql_layout l;
	struct flow rows[3];
	struct sink_rows r = {.rows = rows,
	                      .n = 3,
	                      .fields = five,
	                      .stamp_inserted_ms = UINT64_C(1715677200000),
	                      .stamp_updated_ms = UINT64_C(1715677260500)};
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0, vcap = 0;
	struct sql_batch b;
	struct sql_val *vals = NULL;

	make_rows(rows, 3);
	sql_layout_make(&l, five, &cfg);
	assert_int_equal(sql_batch_encode(&buf, &cap, &len, &l, &cfg, "acct", &r), 0);
	assert_int_equal(sql_batch_decode(buf, len, &b, &vals, &vcap), 0);
	assert_string_equal(b.table, "acct");
	assert_int_equal(b.ncols, 10);
	assert_int_equal(b.nrows, 3);
	assert_string_equal(b.cols[5], "ip_proto");
	assert_string_equal(vals[0].p, "10.0.0.1");
	assert_string_equal(vals[1].p, "192.0.2.1");
	assert_string_equal(vals[5].p, "58");
	assert_string_equal(vals[10 + 1].p, "2001:db8::1");
	assert_string_equal(vals[10 + 5].p, "tcp");
	assert_string_equal(vals[10 + 4].p, "2");
	assert_string_equal(vals[20 + 7].p, "300");
	assert_string_equal(vals[8].p, "2024-05-14 09:00:00");
	assert_string_equal(vals[9].p, "2024-05-14 09:01:00");
	/* every truncation and a damaged terminator are refused */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(sql_batch_decode(buf, cut, &b, &vals, &vcap), -1);
	buf[len - 1] ^= 0x40; /* the last value's NUL */
	assert_int_equal(sql_batch_decode(buf, len, &b, &vals, &vcap), -1);
	free(buf);
	free(vals);
}

/* --- the sqlite3 sink through its sink_ops --- */

extern const struct sink_ops sink_sqlite3;

struct fx {
	char dir[64];
	char db[128];
	char spool[128];
	struct conf c;
	struct plugin_conf *pc;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/weir-sql.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
	snprintf(f->spool, sizeof(f->spool), "%s/t.spool", f->dir);
	conf_defaults(&f->c);
	f->pc = &f->c.plugins[0];
	snprintf(f->pc->sql_db, sizeof(f->pc->sql_db), "%s", f->db);
	snprintf(f->pc->sql_backlog_file, sizeof(f->pc->sql_backlog_file), "%s", f->spool);
	snprintf(f->pc->sql_table, sizeof(f->pc->sql_table), "t");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	const char *sfx[] = {"", "-wal", "-shm"};

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->db, sfx[i]);
		unlink(p);
	}
	unlink(f->spool);
	rmdir(f->dir);
	free(f);
	return 0;
}

static long long query(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

static void sqlite_upserts_and_backlog(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct flow rows[50];
	struct sink_rows r = {.rows = rows,
	                      .n = 50,
	                      .fields = five,
	                      .stamp_inserted_ms = UINT64_C(1715677200000),
	                      .stamp_updated_ms = UINT64_C(1715677260000)};

	make_rows(rows, 50);
	struct sink *s = sink_sqlite3.open(f->pc, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(sink_sqlite3.write(s, &r), 0);
	assert_int_equal(sink_sqlite3.flush(s, 0), 0);
	/* the same bin again: added up, not duplicated */
	assert_int_equal(sink_sqlite3.write(s, &r), 0);
	assert_int_equal(sink_sqlite3.flush(s, 0), 0);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM t"), 50);
	assert_int_equal(query(f->db, "SELECT SUM(packets) FROM t"), 2 * 50 * 51 / 2);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM t WHERE ip_proto = '58'"), 17);

	/* a table that lost a column: refused, kept, written once the column is back */
	sqlite3 *h;
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
	                              "ALTER TABLE t RENAME TO t_old; CREATE TABLE t (ip_src, "
	                              "ip_dst, port_src, port_dst, ip_proto, packets, bytes, "
	                              "stamp_inserted, stamp_updated)",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sink_sqlite3.close(s); /* a new connection checks the table again */
	s = sink_sqlite3.open(f->pc, err, sizeof(err));
	assert_non_null(s);
	r.stamp_inserted_ms += 3600000;
	assert_int_equal(sink_sqlite3.write(s, &r), 0);
	assert_int_equal(sink_sqlite3.flush(s, 0), -1);
	assert_int_equal(sink_sqlite3.write(s, &r), 0);
	assert_int_equal(sink_sqlite3.flush(s, 0), -1);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM t"), 0);
	assert_int_equal(sqlite3_exec(h, "ALTER TABLE t ADD COLUMN tcp_flags", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(sink_sqlite3.flush(s, 0), 0); /* the backlog alone is replayed */
	/* the table has no unique key now: two plain inserts, the sums still add up */
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM t"), 100);
	assert_int_equal(query(f->db, "SELECT SUM(bytes) FROM t"), 2 * 100 * 50 * 51 / 2);
	char line[1024];
	FILE *mem = fmemopen(line, sizeof(line), "w");
	sink_sqlite3.stats(s, mem);
	fclose(mem);
	assert_non_null(strstr(line, "replayed 2 backlog_batches 0"));
	assert_non_null(strstr(line, "errors 2 "));
	sink_sqlite3.close(s);
}

static void sqlite_dont_try_update_and_versions(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct flow rows[10];
	struct sink_rows r = {.rows = rows, .n = 10, .fields = five, .stamp_inserted_ms = 60000};

	make_rows(rows, 10);
	f->pc->sql_dont_try_update = true;
	f->pc->sql_table_version = 9;
	f->pc->sql_optimize_clauses = false;
	struct sink *s = sink_sqlite3.open(f->pc, err, sizeof(err));
	assert_non_null(s);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sink_sqlite3.write(s, &r), 0);
		assert_int_equal(sink_sqlite3.flush(s, 0), 0);
		r.stamp_inserted_ms += 60000; /* plain INSERTs: a new bin, or the key would clash */
	}
	sink_sqlite3.close(s);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM t"), 20);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM t WHERE class_id = 'unknown' AND "
	                              "mac_src = '00:00:00:00:00:00' AND tag = 0"),
	                 20);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM t WHERE stamp_inserted = "
	                              "'1970-01-01 00:01:00'"),
	                 10);
}

static void sqlite_bad_table_name_refused(void **state)
{
	struct fx *f = *state;
	char err[256];

	snprintf(f->pc->sql_table, sizeof(f->pc->sql_table), "t x");
	assert_null(sink_sqlite3.open(f->pc, err, sizeof(err)));
	assert_non_null(strstr(err, "sql_table 't x' is no valid table name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(layouts_follow_versions),
	    cmocka_unit_test(statements_use_placeholders_only),
	    cmocka_unit_test(table_names),
	    cmocka_unit_test(batches_round_trip),
	    cmocka_unit_test_setup_teardown(sqlite_upserts_and_backlog, setup, teardown),
	    cmocka_unit_test_setup_teardown(sqlite_dont_try_update_and_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(sqlite_bad_table_name_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
