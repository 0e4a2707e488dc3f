/* top.c - `weir top`: top talkers and totals from the SQL store a collector writes to. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/top_sql.h"
#include "conf/conf.h"
#include "lib/log.h"
#include "sink/format.h"

struct top_opts {
	const char *db;
	const char *table;
	const char *file;   /* -f: the collector's configuration */
	const char *plugin; /* --plugin: its SQL plugin by name */
	const char *by;
	const char *col;
	unsigned long since_s;
	unsigned long n;
};

/* What is queried: the store, the table (a checked name), how stamp_inserted is written. */
struct top_src {
	struct sql_cfg cfg;
	char what[700];
	char table[SQL_TABLE_MAX];
	bool pattern; /* the plugin's sql_table is a strftime pattern */
	struct top_db *db;
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

/* The dialect's texts around stamp_inserted (a DATETIME / timestamp, see sql_col_type()). */
static const struct {
	const char *since;        /* stamp_inserted >= parameter 1, the cutoff as text */
	const char *first, *last; /* MIN / MAX as YYYY-MM-DD HH:MM:SS */
} dialects[] = {
    [SQL_SQLITE] = {"stamp_inserted >= ?1", "MIN(stamp_inserted)", "MAX(stamp_inserted)"},
    [SQL_MYSQL] = {"stamp_inserted >= CAST(? AS DATETIME)",
                   "DATE_FORMAT(MIN(stamp_inserted), '%Y-%m-%d %H:%i:%s')",
                   "DATE_FORMAT(MAX(stamp_inserted), '%Y-%m-%d %H:%i:%s')"},
    [SQL_PGSQL] = {"stamp_inserted >= CAST($1 AS timestamp)",
                   "to_char(MIN(stamp_inserted), 'YYYY-MM-DD HH24:MI:SS')",
                   "to_char(MAX(stamp_inserted), 'YYYY-MM-DD HH24:MI:SS')"},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: weir top [--db PATH | -f CONF [--plugin NAME]] [--table NAME] [--by WHAT]\n"
	        "                [--since DURATION] [-n N]\n"
	        "\n"
	        "Prints the top talkers and the totals from the SQL store the collector writes:\n"
	        "the SQLite database of the embedded default (weir.db, table flows), or with -f\n"
	        "the sqlite3, mysql (MySQL, MariaDB) or pgsql plugin of a configuration.\n"
	        "\n"
	        "  --db PATH        the SQLite database (default weir.db)\n"
	        "  -f, --file CONF  read the store from the configuration weir collect runs with:\n"
	        "                   sql_db, sql_table, sql_host, sql_port, sql_user, sql_passwd\n"
	        "  --plugin NAME    the SQL plugin of CONF to read (default: the first one)\n"
	        "  --table NAME     the table (default flows; with -f the plugin's sql_table, and\n"
	        "                   for a strftime pattern the table of the current time)\n"
	        "  --by WHAT        src_host (default), dst_host, proto, port (= dst_port),\n"
	        "                   src_port, as (= src_as), dst_as, peer\n"
	        "  --since DURATION only bins that start this long ago or later: 30m, 1h, 2d\n"
	        "                   (default 1h; 0 = everything)\n"
	        "  -n N             rows to print (default 10)\n"
	        "  -h, --help       this text\n"
	        "\n"
	        "Exit codes: 0 printed, 1 the store cannot be read (server, credentials, table or\n"
	        "column), 2 a usage or configuration error.\n");
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

/* Letters, digits, _ and . only: the name check of the SQL sinks (sql_table_name()). */
static bool table_ok(const char *t)
{
	if (!*t)
		return false;
	for (const char *p = t; *p; p++)
		if (!(*p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

/* The values of the options after getopt; 0, or 2 with the error printed. */
static int check_args(struct top_opts *o)
{
	for (size_t i = 0; i < sizeof(by_cols) / sizeof(by_cols[0]); i++)
		if (!strcmp(by_cols[i].by, o->by))
			o->col = by_cols[i].col;
	if (!o->col) {
		fprintf(stderr,
		        "weir top: --by '%s': want src_host, dst_host, proto, port, as ...\n",
		        o->by);
		return 2;
	}
	if (o->table && !table_ok(o->table)) {
		fprintf(stderr, "weir top: --table '%s' is no table name\n", o->table);
		return 2;
	}
	if (o->file && o->db) {
		fprintf(stderr, "weir top: --db and -f exclude each other\n");
		return 2;
	}
	if (o->plugin && !o->file) {
		fprintf(stderr, "weir top: --plugin needs -f CONF\n");
		return 2;
	}
	return 0;
}

/* 0 to run, 1 after --help, 2 on a usage error (printed). */
static int parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'D'},   {"table", required_argument, NULL, 'T'},
	    {"by", required_argument, NULL, 'b'},   {"since", required_argument, NULL, 's'},
	    {"file", required_argument, NULL, 'f'}, {"plugin", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	int ch;

	*o = (struct top_opts){.by = "src_host", .since_s = 3600, .n = 10};
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			o->db = optarg;
			break;
		case 'T':
			o->table = optarg;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'P':
			o->plugin = optarg;
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
	return check_args(o);
}

static bool is_sql(const struct plugin_conf *p)
{
	return !strcmp(p->type, "sqlite3") || !strcmp(p->type, "mysql") ||
	       !strcmp(p->type, "pgsql");
}

/* The SQL plugin --plugin names, or the first one; NULL with the error printed. */
static const struct plugin_conf *pick_plugin(const struct conf *c, const struct top_opts *o)
{
	for (size_t i = 0; i < c->n_plugins; i++) {
		const struct plugin_conf *p = &c->plugins[i];
		if (o->plugin && strcmp(p->name, o->plugin))
			continue;
		if (is_sql(p))
			return p;
		if (o->plugin) {
			fprintf(stderr,
			        "weir top: plugin %s[%s] of %s is no sqlite3, mysql or pgsql "
			        "plugin\n",
			        p->type, p->name, o->file);
			return NULL;
		}
	}
	if (o->plugin)
		fprintf(stderr, "weir top: %s has no plugin named %s\n", o->file, o->plugin);
	else
		fprintf(stderr, "weir top: %s has no sqlite3, mysql or pgsql plugin\n", o->file);
	return NULL;
}

/* The store and table from -f CONF [--plugin] [--table]; 0, or 2 with the error printed. */
static int src_from_conf(struct top_src *s, const struct top_opts *o)
{
	struct conf *c = calloc(1, sizeof(*c));
	char err[1024];
	int rc = 2;

	if (!c) {
		fprintf(stderr, "weir top: out of memory\n");
		return 1;
	}
	log_setup(LL_WARN, stderr, false, "weir");
	if (conf_load(c, o->file, NULL, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "weir top: %s\n", err);
		goto out;
	}
	const struct plugin_conf *p = pick_plugin(c, o);
	if (!p || top_cfg_from_plugin(&s->cfg, p) < 0)
		goto out;
	s->pattern = !o->table && strchr(s->cfg.table, '%');
	if (o->table)
		snprintf(s->table, sizeof(s->table), "%s", o->table);
	else if (sql_table_name(&s->cfg, now_ms(), s->table, sizeof(s->table)) < 0) {
		fprintf(stderr,
		        "weir top: plugin %s[%s]: sql_table '%s' is no valid table name (letters, "
		        "digits, _ .)\n",
		        p->type, p->name, s->cfg.table);
		goto out;
	}
	rc = 0;
out:
	free(c);
	return rc;
}

static int src_make(struct top_src *s, const struct top_opts *o)
{
	memset(s, 0, sizeof(*s));
	if (o->file) {
		int rc = src_from_conf(s, o);
		if (rc)
			return rc;
	} else {
		s->cfg.dialect = SQL_SQLITE;
		s->cfg.utc = true;
		snprintf(s->cfg.db, sizeof(s->cfg.db), "%s", o->db ? o->db : "weir.db");
		snprintf(s->table, sizeof(s->table), "%s", o->table ? o->table : "flows");
	}
	top_db_what(&s->cfg, s->what, sizeof(s->what));
	return 0;
}

/* --- the queries --- */

struct cols_ctx {
	unsigned name_at; /* the column of the result that holds the name */
	const char *want;
	bool table, col;
};

static void on_column(void *ctx, unsigned n, const char *const *v)
{
	struct cols_ctx *c = ctx;

	c->table = true;
	if (c->name_at < n && v[c->name_at] && !strcmp(v[c->name_at], c->want))
		c->col = true;
}

/* The table's columns hold the one --by asks for? Tells which aggregate would provide it. */
static int check_column(struct top_src *s, const struct top_opts *o)
{
	struct cols_ctx cc = {.want = o->col};
	const char *params[2] = {NULL, s->table};
	char sql[256], schema[SQL_TABLE_MAX], err[512];
	const char *dot = strchr(s->table, '.');
	unsigned np = 0;

	switch (s->cfg.dialect) {
	case SQL_SQLITE: /* no parameter there: the name passed table_ok() */
		snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", s->table);
		cc.name_at = 1;
		break;
	case SQL_MYSQL: /* db.table names another database */
		snprintf(sql, sizeof(sql),
		         "SELECT column_name FROM information_schema.columns "
		         "WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?");
		if (dot) {
			snprintf(schema, sizeof(schema), "%.*s", (int)(dot - s->table), s->table);
			params[0] = schema;
			params[1] = dot + 1;
		}
		np = 2;
		break;
	default: /* to_regclass() resolves schema.table and the search_path as a query would */
		snprintf(sql, sizeof(sql),
		         "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) "
		         "AND attnum > 0 AND NOT attisdropped");
		params[0] = s->table;
		np = 1;
		break;
	}
	if (top_db_query(s->db, sql, params, np, on_column, &cc, err, sizeof(err)) < 0) {
		fprintf(stderr, "weir top: %s: %s\n", s->what, err);
		return 1;
	}
	if (!cc.table) {
		fprintf(stderr,
		        "weir top: %s has no table %s (has the collector flushed yet?)%s%s%s\n",
		        s->what, s->table, s->pattern ? "; sql_table " : "",
		        s->pattern ? s->cfg.table : "",
		        s->pattern ? " is a pattern, this is the current bin's table: name another "
		                     "with --table"
		                   : "");
		return 1;
	}
	if (!cc.col) {
		fprintf(stderr,
		        "weir top: table %s has no column %s: add %s to the plugin's aggregate\n",
		        s->table, o->col, o->by);
		return 1;
	}
	return 0;
}

/* The cutoff as stamp_inserted holds it: UTC or local time, like the sink writes it. */
static void cutoff_text(unsigned long since_s, bool utc, char *out, size_t len)
{
	time_t t = since_s ? time(NULL) - (time_t)since_s : 0;
	struct tm tm;

	if (utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static long long num(const char *v)
{
	return v ? strtoll(v, NULL, 10) : 0;
}

struct totals_ctx {
	const char *zone;
	long long bytes;
};

static void on_totals(void *ctx, unsigned n, const char *const *v)
{
	struct totals_ctx *t = ctx;

	if (n < 5)
		return;
	t->bytes = num(v[0]);
	printf("total: %lld bytes, %lld packets, %lld rows; bins %s .. %s (%s)\n", t->bytes,
	       num(v[1]), num(v[2]), v[3] ? v[3] : "-", v[4] ? v[4] : "-", t->zone);
}

static int print_totals(struct top_src *s, const char *cutoff, long long *bytes)
{
	const char *params[] = {cutoff};
	struct totals_ctx t = {.zone = s->cfg.utc ? "UTC" : "local time", .bytes = -1};
	char sql[512], err[512];

	snprintf(sql, sizeof(sql),
	         "SELECT COALESCE(SUM(bytes),0), COALESCE(SUM(packets),0), COUNT(*), %s, %s "
	         "FROM %s WHERE %s",
	         dialects[s->cfg.dialect].first, dialects[s->cfg.dialect].last, s->table,
	         dialects[s->cfg.dialect].since);
	if (top_db_query(s->db, sql, params, 1, on_totals, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "weir top: %s: %s\n", s->what, err);
		return 1;
	}
	if (t.bytes < 0) {
		fprintf(stderr, "weir top: %s: no result\n", s->what);
		return 1;
	}
	*bytes = t.bytes;
	return 0;
}

struct top_ctx {
	unsigned rank;
	long long total;
	bool proto_names; /* pgsql keeps ip_proto as a number: print the name the others store */
};

/* The key as the sqlite3 and mysql plugins write it: "tcp" rather than pgsql's 6. */
static const char *key_text(const struct top_ctx *t, const char *v, char *buf, size_t len)
{
	char *end;
	unsigned long p;

	if (!v)
		return "";
	if (!t->proto_names || !*v)
		return v;
	p = strtoul(v, &end, 10);
	return *end || p > 255 ? v : fmt_proto_name((uint8_t)p, buf, len);
}

static void on_top(void *ctx, unsigned n, const char *const *v)
{
	struct top_ctx *t = ctx;
	char buf[8];

	if (n < 4)
		return;
	long long b = num(v[1]);
	printf("%4u  %-39s %16lld %12lld %8lld %5.1f%%\n", ++t->rank,
	       key_text(t, v[0], buf, sizeof(buf)), b, num(v[2]), num(v[3]),
	       t->total ? 100.0 * (double)b / (double)t->total : 0.0);
}

static int print_top(struct top_src *s, const struct top_opts *o, const char *cutoff,
                     long long total)
{
	const char *params[] = {cutoff};
	struct top_ctx t = {.total = total,
	                    .proto_names =
	                        s->cfg.dialect == SQL_PGSQL && !strcmp(o->col, "ip_proto")};
	char sql[512], err[512];

	/* only names from by_cols and a table that passed the name check; n is a number */
	snprintf(sql, sizeof(sql),
	         "SELECT %s, SUM(bytes) AS b, SUM(packets), COUNT(*) FROM %s "
	         "WHERE %s GROUP BY %s ORDER BY b DESC, 1 LIMIT %lu",
	         o->col, s->table, dialects[s->cfg.dialect].since, o->col, o->n);
	printf("%4s  %-39s %16s %12s %8s %6s\n", "#", o->by, "bytes", "packets", "rows", "share");
	if (top_db_query(s->db, sql, params, 1, on_top, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "weir top: %s: %s\n", s->what, err);
		return 1;
	}
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o;
	struct top_src *s;
	char cutoff[32], err[512];
	long long total = 0;
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!(s = malloc(sizeof(*s)))) {
		fprintf(stderr, "weir top: out of memory\n");
		return 1;
	}
	if ((rc = src_make(s, &o)) != 0)
		goto out;
	rc = 1;
	if (!(s->db = top_db_open(&s->cfg, err, sizeof(err)))) {
		fprintf(stderr, "weir top: %s: %s\n", s->what, err);
		goto out;
	}
	cutoff_text(o.since_s, s->cfg.utc, cutoff, sizeof(cutoff));
	if (check_column(s, &o))
		goto out;
	printf("weir top: %s table %s, by %s, bins since %s %s\n", s->what, s->table, o.by, cutoff,
	       s->cfg.utc ? "UTC" : "local time");
	rc = print_totals(s, cutoff, &total) || print_top(s, &o, cutoff, total) ? 1 : 0;
out:
	top_db_close(s->db);
	free(s);
	return rc;
}
