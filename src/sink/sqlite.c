/* sqlite.c - the sqlite3 sink: a local file in WAL mode, batched transactions, prepared upserts. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "sink/sql_common.h"

static void set_err(char *err, size_t errlen, sqlite3 *db)
{
	if (err)
		snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : "out of memory");
}

/* A busy or locked database is one to retry later; anything else is about the rows or table. */
static int code(int rc)
{
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR ||
	               rc == SQLITE_CANTOPEN || rc == SQLITE_FULL || rc == SQLITE_READONLY
	           ? SQL_ECONN
	           : SQL_EDATA;
}

static void lite_disconnect(void *db)
{
	sqlite3_close_v2(db);
}

static int lite_exec(void *db, const char *sql, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		return SQL_OK;
	set_err(err, errlen, db);
	return code(rc);
}

static void *lite_connect(const struct sql_cfg *cfg, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(
	    cfg->db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "sqlite3 %s: %s", cfg->db,
		         db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close_v2(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	/* WAL: readers (weir top) never block the writer; NORMAL sync is durable per checkpoint. */
	if (lite_exec(db, "PRAGMA journal_mode=WAL", err, errlen) != SQL_OK ||
	    lite_exec(db, "PRAGMA synchronous=NORMAL", err, errlen) != SQL_OK) {
		char e[256];
		snprintf(e, sizeof(e), "%s", err);
		snprintf(err, errlen, "sqlite3 %s: %s", cfg->db, e);
		sqlite3_close_v2(db);
		return NULL;
	}
	return db;
}

static int lite_prepare(void *db, const char *sql, unsigned nparams, void **stmt, char *err,
                        size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);

	(void)nparams;
	if (rc != SQLITE_OK) {
		set_err(err, errlen, db);
		return code(rc);
	}
	*stmt = st;
	return SQL_OK;
}

static int lite_run(void *db, void *stmt, const struct sql_val *vals, unsigned n, char *err,
                    size_t errlen)
{
	sqlite3_stmt *st = stmt;
	int rc = SQLITE_OK;

	for (unsigned i = 0; i < n && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_text(st, (int)i + 1, vals[i].p, vals[i].len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		set_err(err, errlen, db);
		sqlite3_reset(st);
		return code(rc);
	}
	sqlite3_reset(st);
	return SQL_OK;
}

static void lite_finalize(void *db, void *stmt)
{
	(void)db;
	sqlite3_finalize(stmt);
}

static bool lite_no_conflict_key(const char *err)
{
	return strstr(err, "ON CONFLICT clause does not match") != NULL;
}

static const struct sql_driver lite_driver = {
    .type = "sqlite3",
    .dialect = SQL_SQLITE,
    .max_params = 32766,
    .default_rows = 64,
    .connect = lite_connect,
    .disconnect = lite_disconnect,
    .exec = lite_exec,
    .prepare = lite_prepare,
    .run = lite_run,
    .finalize = lite_finalize,
    .no_conflict_key = lite_no_conflict_key,
};

static struct sink *lite_open(const struct plugin_conf *pc, char *err, size_t errlen)
{
	return sql_open(&lite_driver, pc, err, errlen);
}

const struct sink_ops sink_sqlite3 = {
    .name = "sqlite3",
    .open = lite_open,
    .write = sql_write,
    .flush = sql_flush,
    .close = sql_close,
    .stats = sql_stats,
    .backlog = sql_backlog,
};
