/* top_sql.c - `weir top`'s reading of the sqlite3, mysql and pgsql stores: one query hook each. */
#include "cmd/top_sql.h"

#include <libpq-fe.h>
#include <mysql.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

#define TOP_MAX_COLS 8
#define TOP_VAL_MAX  256

struct top_db {
	enum sql_dialect dialect;
	sqlite3 *lite;
	MYSQL *my;
	PGconn *pg;
};

/* What the plugin's sink connects to and writes (sql_cfg_from_plugin), with the port filled. */
int top_cfg_from_plugin(struct sql_cfg *c, const struct plugin_conf *pc)
{
	enum sql_dialect d;

	if (!strcmp(pc->type, "sqlite3"))
		d = SQL_SQLITE;
	else if (!strcmp(pc->type, "mysql"))
		d = SQL_MYSQL;
	else if (!strcmp(pc->type, "pgsql"))
		d = SQL_PGSQL;
	else
		return -1;
	sql_cfg_from_plugin(c, d, 1, pc);
	if (!c->port)
		c->port = d == SQL_MYSQL ? 3306 : 5432;
	return 0;
}

void top_db_what(const struct sql_cfg *c, char *out, size_t len)
{
	if (c->dialect == SQL_SQLITE)
		snprintf(out, len, "%s", c->db);
	else
		snprintf(out, len, "%s %s@%s:%u/%s", c->dialect == SQL_MYSQL ? "mysql" : "pgsql",
		         c->user, c->host, c->port, c->db);
}

const char *top_db_param(enum sql_dialect d, unsigned i)
{
	static const char *const lite[] = {"?1", "?2", "?3", "?4"};
	static const char *const pg[] = {"$1", "$2", "$3", "$4"};

	if (i < 1 || i > 4)
		return "?";
	return d == SQL_SQLITE ? lite[i - 1] : d == SQL_PGSQL ? pg[i - 1] : "?";
}

/* The first line of a server's message, without trailing blanks. */
static void one_line(char *err, size_t errlen, const char *prefix, const char *msg)
{
	snprintf(err, errlen, "%s%s", prefix, msg ? msg : "unknown error");
	err[strcspn(err, "\n")] = '\0';
	size_t n = strlen(err);
	while (n && (err[n - 1] == ' ' || err[n - 1] == '\r'))
		err[--n] = '\0';
}

/* --- sqlite3 --- */

static int lite_open(struct top_db *db, const struct sql_cfg *c, char *err, size_t errlen)
{
	if (sqlite3_open_v2(c->db, &db->lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		one_line(err, errlen, "", db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(db->lite, 5000);
	return 0;
}

static int lite_query(struct top_db *db, const char *sql, const char *const *params, unsigned np,
                      top_row_fn fn, void *ctx, char *err, size_t errlen)
{
	const char *vals[TOP_MAX_COLS];
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL) != SQLITE_OK) {
		one_line(err, errlen, "", sqlite3_errmsg(db->lite));
		return -1;
	}
	for (unsigned i = 0; i < np; i++)
		if (params[i])
			sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_STATIC);
	unsigned n = (unsigned)sqlite3_column_count(st);
	if (n > TOP_MAX_COLS)
		n = TOP_MAX_COLS;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (unsigned i = 0; i < n; i++)
			vals[i] = (const char *)sqlite3_column_text(st, (int)i);
		fn(ctx, n, vals);
	}
	if (rc != SQLITE_DONE)
		one_line(err, errlen, "", sqlite3_errmsg(db->lite));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* --- mysql (MySQL, MariaDB) --- */

static int my_open(struct top_db *db, const struct sql_cfg *c, char *err, size_t errlen)
{
	unsigned timeout = 5, io_timeout = 60;
	bool sock = c->host[0] == '/';

	if (!(db->my = mysql_init(NULL))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->my, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	mysql_options(db->my, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	if (!mysql_real_connect(db->my, sock ? "localhost" : c->host, c->user, c->passwd, c->db,
	                        c->port, sock ? c->host : NULL, 0)) {
		one_line(err, errlen, "", mysql_error(db->my));
		return -1;
	}
	return 0;
}

/* Fetches every row of an executed statement as text. */
static int my_rows(MYSQL_STMT *st, top_row_fn fn, void *ctx)
{
	char buf[TOP_MAX_COLS][TOP_VAL_MAX];
	MYSQL_BIND rb[TOP_MAX_COLS];
	unsigned long len[TOP_MAX_COLS];
	my_bool isnull[TOP_MAX_COLS], trunc[TOP_MAX_COLS];
	const char *vals[TOP_MAX_COLS];
	unsigned n = mysql_stmt_field_count(st);
	int rc;

	if (n > TOP_MAX_COLS)
		return -1;
	memset(rb, 0, sizeof(rb));
	for (unsigned i = 0; i < n; i++) {
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		rb[i].buffer = buf[i];
		rb[i].buffer_length = TOP_VAL_MAX - 1;
		rb[i].length = &len[i];
		rb[i].is_null = &isnull[i];
		rb[i].error = &trunc[i];
	}
	if (n && mysql_stmt_bind_result(st, rb))
		return -1;
	while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		for (unsigned i = 0; i < n; i++) {
			buf[i][len[i] < TOP_VAL_MAX ? len[i] : TOP_VAL_MAX - 1] = '\0';
			vals[i] = isnull[i] ? NULL : buf[i];
		}
		fn(ctx, n, vals);
	}
	return rc == MYSQL_NO_DATA ? 0 : -1;
}

static int my_query(struct top_db *db, const char *sql, const char *const *params, unsigned np,
                    top_row_fn fn, void *ctx, char *err, size_t errlen)
{
	MYSQL_BIND pb[4];
	MYSQL_STMT *st = mysql_stmt_init(db->my);
	int rc = -1;

	if (!st) {
		one_line(err, errlen, "", mysql_error(db->my));
		return -1;
	}
	memset(pb, 0, sizeof(pb));
	for (unsigned i = 0; i < np && i < 4; i++) {
		pb[i].buffer_type = params[i] ? MYSQL_TYPE_STRING : MYSQL_TYPE_NULL;
		pb[i].buffer = (void *)(uintptr_t)params[i];
		pb[i].buffer_length = params[i] ? strlen(params[i]) : 0;
	}
	if (!mysql_stmt_prepare(st, sql, strlen(sql)) && (!np || !mysql_stmt_bind_param(st, pb)) &&
	    !mysql_stmt_execute(st))
		rc = my_rows(st, fn, ctx);
	if (rc)
		one_line(err, errlen, "", mysql_stmt_error(st));
	mysql_stmt_close(st);
	return rc;
}

/* --- pgsql --- */

static int pg_open(struct top_db *db, const struct sql_cfg *c, char *err, size_t errlen)
{
	char port[16];
	const char *keys[] = {
	    "host", "port", "dbname", "user", "password", "connect_timeout", "application_name",
	    NULL};
	const char *vals[] = {c->host, port, c->db, c->user, c->passwd, "5", "weir top", NULL};

	snprintf(port, sizeof(port), "%u", c->port);
	db->pg = PQconnectdbParams(keys, vals, 0);
	if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
		one_line(err, errlen, "", db->pg ? PQerrorMessage(db->pg) : "out of memory");
		return -1;
	}
	return 0;
}

static int pg_query(struct top_db *db, const char *sql, const char *const *params, unsigned np,
                    top_row_fn fn, void *ctx, char *err, size_t errlen)
{
	const char *vals[TOP_MAX_COLS];
	PGresult *r = PQexecParams(db->pg, sql, (int)np, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		one_line(err, errlen, "", m && *m ? m : PQerrorMessage(db->pg));
		PQclear(r);
		return -1;
	}
	int n = PQnfields(r);
	if (n > TOP_MAX_COLS)
		n = TOP_MAX_COLS;
	for (int j = 0; j < PQntuples(r); j++) {
		for (int i = 0; i < n; i++)
			vals[i] = PQgetisnull(r, j, i) ? NULL : PQgetvalue(r, j, i);
		fn(ctx, (unsigned)n, vals);
	}
	PQclear(r);
	return 0;
}

/* --- the dispatch --- */

struct top_db *top_db_open(const struct sql_cfg *cfg, char *err, size_t errlen)
{
	struct top_db *db = calloc(1, sizeof(*db));
	int rc;

	if (!db) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->dialect = cfg->dialect;
	rc = cfg->dialect == SQL_SQLITE  ? lite_open(db, cfg, err, errlen)
	     : cfg->dialect == SQL_MYSQL ? my_open(db, cfg, err, errlen)
	                                 : pg_open(db, cfg, err, errlen);
	if (rc < 0) {
		top_db_close(db);
		return NULL;
	}
	return db;
}

void top_db_close(struct top_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->lite);
	if (db->my)
		mysql_close(db->my);
	PQfinish(db->pg);
	free(db);
}

int top_db_query(struct top_db *db, const char *sql, const char *const *params, unsigned np,
                 top_row_fn fn, void *ctx, char *err, size_t errlen)
{
	switch (db->dialect) {
	case SQL_SQLITE:
		return lite_query(db, sql, params, np, fn, ctx, err, errlen);
	case SQL_MYSQL:
		return my_query(db, sql, params, np, fn, ctx, err, errlen);
	default:
		return pg_query(db, sql, params, np, fn, ctx, err, errlen);
	}
}
