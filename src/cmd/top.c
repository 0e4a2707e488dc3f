/* top.c - `weir top`: top talkers and totals from the SQLite store of the embedded default. */
#include <getopt.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"

struct top_opts {
	const char *db;
	const char *table;
	const char *by;
	const char *col;
	unsigned long since_s;
	unsigned long n;
};

/* --by names (aggregate primitives) and the columns the SQL plugins write them to. */
static const struct {
	const char *by, *col;
} by_cols[] = {
    {"src_host", "ip_src"},  {"dst_host", "ip_dst"},         {"proto", "ip_proto"},
    {"port", "port_dst"},    {"dst_port", "port_dst"},       {"src_port", "port_src"},
    {"as", "as_src"},        {"src_as", "as_src"},           {"dst_as", "as_dst"},
    {"peer", "peer_ip_src"}, {"peer_src_ip", "peer_ip_src"},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: weir top [--db PATH] [--table NAME] [--by WHAT] [--since DURATION] [-n N]\n"
	        "\n"
	        "Prints the top talkers and the totals from the SQLite database the collector\n"
	        "writes (the embedded default: weir.db, table flows).\n"
	        "\n"
	        "  --db PATH        the database (default weir.db)\n"
	        "  --table NAME     the table (default flows)\n"
	        "  --by WHAT        src_host (default), dst_host, proto, port (= dst_port),\n"
	        "                   src_port, as (= src_as), dst_as, peer\n"
	        "  --since DURATION only bins that start this long ago or later: 30m, 1h, 2d\n"
	        "                   (default 1h; 0 = everything)\n"
	        "  -n N             rows to print (default 10)\n"
	        "  -h, --help       this text\n");
}

/* "90", "90s", "30m", "1h", "2d"; false when it is none of these. */
static bool parse_duration(const char *s, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s)
		return false;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return false;
	}
	if (*end && end[1])
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'D'}, {"table", required_argument, NULL, 'T'},
	    {"by", required_argument, NULL, 'b'}, {"since", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
	};
	int ch;

	*o = (struct top_opts){
	    .db = "weir.db", .table = "flows", .by = "src_host", .since_s = 3600, .n = 10};
	optind = 1;
	while ((ch = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			o->db = optarg;
			break;
		case 'T':
			o->table = optarg;
			break;
		case 'b':
			o->by = optarg;
			break;
		case 's':
			if (!parse_duration(optarg, &o->since_s)) {
				fprintf(stderr, "weir top: --since '%s': want 30m, 1h, 2d ...\n",
				        optarg);
				return 2;
			}
			break;
		case 'n':
			o->n = strtoul(optarg, NULL, 10);
			if (!o->n) {
				fprintf(stderr, "weir top: -n wants a positive number\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "weir top: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(by_cols) / sizeof(by_cols[0]); i++)
		if (!strcmp(by_cols[i].by, o->by))
			o->col = by_cols[i].col;
	if (!o->col) {
		fprintf(stderr,
		        "weir top: --by '%s': want src_host, dst_host, proto, port, as ...\n",
		        o->by);
		return 2;
	}
	for (const char *p = o->table; *p; p++)
		if (!(*p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
			fprintf(stderr, "weir top: --table '%s' is no table name\n", o->table);
			return 2;
		}
	return 0;
}

/* The table's columns hold the one --by asks for? Tells which aggregate would provide it. */
static int check_column(sqlite3 *db, const struct top_opts *o)
{
	char sql[256];
	sqlite3_stmt *st;
	bool table = false, col = false;

	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", o->table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "weir top: %s: %s\n", o->db, sqlite3_errmsg(db));
		return 1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		table = true;
		if (!strcmp((const char *)sqlite3_column_text(st, 1), o->col))
			col = true;
	}
	sqlite3_finalize(st);
	if (!table) {
		fprintf(stderr, "weir top: %s has no table %s (has the collector flushed yet?)\n",
		        o->db, o->table);
		return 1;
	}
	if (!col) {
		fprintf(stderr,
		        "weir top: table %s has no column %s: add %s to the plugin's aggregate\n",
		        o->table, o->col, o->by);
		return 1;
	}
	return 0;
}

static void cutoff_text(unsigned long since_s, char *out, size_t len)
{
	time_t t = since_s ? time(NULL) - (time_t)since_s : 0;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int print_totals(sqlite3 *db, const struct top_opts *o, const char *cutoff, long long *bytes)
{
	char sql[512];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql),
	         "SELECT COALESCE(SUM(bytes),0), COALESCE(SUM(packets),0), COUNT(*), "
	         "MIN(stamp_inserted), MAX(stamp_inserted) FROM %s WHERE stamp_inserted >= ?1",
	         o->table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "weir top: %s: %s\n", o->db, sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, "weir top: %s: %s\n", o->db, sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return 1;
	}
	*bytes = sqlite3_column_int64(st, 0);
	const unsigned char *first = sqlite3_column_text(st, 3);
	const unsigned char *last = sqlite3_column_text(st, 4);
	printf("total: %lld bytes, %lld packets, %lld rows; bins %s .. %s (UTC)\n", *bytes,
	       sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
	       first ? (const char *)first : "-", last ? (const char *)last : "-");
	sqlite3_finalize(st);
	return 0;
}

static int print_top(sqlite3 *db, const struct top_opts *o, const char *cutoff, long long total)
{
	char sql[512];
	sqlite3_stmt *st;
	unsigned rank = 0;

	snprintf(sql, sizeof(sql),
	         "SELECT %s, SUM(bytes) AS b, SUM(packets), COUNT(*) FROM %s "
	         "WHERE stamp_inserted >= ?1 GROUP BY %s ORDER BY b DESC, 1 LIMIT ?2",
	         o->col, o->table, o->col);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "weir top: %s: %s\n", o->db, sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)o->n);
	printf("%4s  %-39s %16s %12s %8s %6s\n", "#", o->by, "bytes", "packets", "rows", "share");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 0);
		long long b = sqlite3_column_int64(st, 1);
		printf("%4u  %-39s %16lld %12lld %8lld %5.1f%%\n", ++rank, k ? (const char *)k : "",
		       b, sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
		       total ? 100.0 * (double)b / (double)total : 0.0);
	}
	sqlite3_finalize(st);
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o;
	sqlite3 *db = NULL;
	char cutoff[32];
	long long total = 0;
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (sqlite3_open_v2(o.db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "weir top: %s: %s\n", o.db,
		        db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return 1;
	}
	sqlite3_busy_timeout(db, 5000);
	cutoff_text(o.since_s, cutoff, sizeof(cutoff));
	if (check_column(db, &o)) {
		sqlite3_close(db);
		return 1;
	}
	printf("weir top: %s table %s, by %s, bins since %s UTC\n", o.db, o.table, o.by, cutoff);
	rc = print_totals(db, &o, cutoff, &total) || print_top(db, &o, cutoff, total);
	sqlite3_close(db);
	return rc ? 1 : 0;
}
