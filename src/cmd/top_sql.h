/* top_sql.h - the read side of the SQL backends for `weir top`: connect, parameterized queries. */
#ifndef WEIR_TOP_SQL_H
#define WEIR_TOP_SQL_H

#include <stddef.h>

#include "sink/sql_common.h"

struct plugin_conf;
struct top_db;

/* One result row: ncols values as text, NULL for SQL NULL; valid only during the call. */
typedef void (*top_row_fn)(void *ctx, unsigned ncols, const char *const *vals);

/*
 * The settings of an SQL plugin (sqlite3, mysql, pgsql) with the defaults its sink applies:
 * sql_db, sql_table (still a strftime pattern), sql_host/port/user/passwd, timestamps_utc.
 * Returns -1 when pc is no SQL plugin.
 */
int top_cfg_from_plugin(struct sql_cfg *cfg, const struct plugin_conf *pc);

/* "weir.db", "mysql flow@127.0.0.1:3306/flows": how errors and the header name the store. */
void top_db_what(const struct sql_cfg *cfg, char *out, size_t len);

/* Connects read-only where the backend can; NULL with one line in err. */
struct top_db *top_db_open(const struct sql_cfg *cfg, char *err, size_t errlen);
void top_db_close(struct top_db *db);

/* The placeholder of parameter i (1-based) in cfg's dialect: ?1, ?, $1. */
const char *top_db_param(enum sql_dialect d, unsigned i);

/*
 * Runs sql with np text parameters (NULL = SQL NULL; placeholders from top_db_param(), each
 * used once, in order) and calls fn for each row. Returns 0, or -1 with one line in err.
 */
int top_db_query(struct top_db *db, const char *sql, const char *const *params, unsigned np,
                 top_row_fn fn, void *ctx, char *err, size_t errlen);

#endif
