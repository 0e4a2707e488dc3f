/* sql_common.h - what the SQL sinks share: columns, encoded batches, statements, the backlog loop.
 */
#ifndef WEIR_SQL_COMMON_H
#define WEIR_SQL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/sink.h"

#define SQL_MAX_COLS  48
#define SQL_TABLE_MAX 128
#define SQL_STMT_MAX  (1u << 20)

enum sql_dialect { SQL_SQLITE = 0, SQL_MYSQL, SQL_PGSQL };

/* Return codes of the driver hooks. */
enum { SQL_OK = 0, SQL_EDATA = -1, SQL_ECONN = -2 };

/* What a column does in an upsert. */
enum sql_role { ROLE_KEY = 0, ROLE_SUM, ROLE_OR, ROLE_UPDATED };

/* One value of an encoded batch: NUL-terminated text inside the batch. */
struct sql_val {
	const char *p;
	uint16_t len;
};

/*
 * A batch decoded from its encoding (sql_batch_decode()): the table it goes to, its column
 * names, and nrows x ncols values, all pointing into the encoded bytes.
 */
struct sql_batch {
	char table[SQL_TABLE_MAX];
	unsigned ncols;
	char cols[SQL_MAX_COLS][32];
	uint32_t nrows;
	struct sql_val *vals; /* owned by the caller; at least nrows * ncols */
};

/* The plugin's settings the SQL code needs, derived once from struct plugin_conf. */
struct sql_cfg {
	char who[104]; /* "plugin mysql[name]" */
	enum sql_dialect dialect;
	char db[4096];
	char table[SQL_TABLE_MAX]; /* strftime pattern */
	char host[256];
	unsigned port;
	char user[256];
	char passwd[256];
	unsigned version;
	bool optimize;
	bool no_update;
	bool num_protos;
	bool utc;
	unsigned rows_per_stmt;
	char schema_file[4096];
};

/* Column names and roles of the rows of a plugin (its key bits, table version, options). */
struct sql_layout {
	unsigned n;
	uint8_t idx[SQL_MAX_COLS]; /* into the column table */
};

void sql_layout_make(struct sql_layout *l, uint64_t fields, const struct sql_cfg *cfg);
const char *sql_layout_name(const struct sql_layout *l, unsigned i);

/* The role of a column by name (counters are summed, tcp_flags ORed, stamp_updated set). */
enum sql_role sql_col_role(const char *name);
/* The column type for CREATE TABLE; NULL for a name weir does not know. */
const char *sql_col_type(const char *name, enum sql_dialect d);

/*
 * Encodes rows as one batch for table (already strftime-expanded). The batch is appended to
 * *buf (grown with realloc). Returns 0, or -1 when out of memory.
 */
int sql_batch_encode(uint8_t **buf, size_t *cap, size_t *len, const struct sql_layout *l,
                     const struct sql_cfg *cfg, const char *table, const struct sink_rows *r);

/*
 * Decodes an encoded batch (also one read back from a spool: every read is bounds-checked).
 * *vals is grown as needed. Returns 0, or -1 when the bytes are no valid batch.
 */
int sql_batch_decode(const uint8_t *p, size_t len, struct sql_batch *b, struct sql_val **vals,
                     size_t *vals_cap);

/* The table name for a time bin: strftime of the pattern; -1 when it is no valid name. */
int sql_table_name(const struct sql_cfg *cfg, uint64_t stamp_ms, char *out, size_t len);

/*
 * INSERT of nrows rows of b's columns with placeholders only (`?` or `$n`), as an upsert on the
 * key columns unless upsert is false. Returns the length, or 0 when it does not fit.
 */
size_t sql_build_insert(char *out, size_t len, enum sql_dialect d, const struct sql_batch *b,
                        unsigned nrows, bool upsert);

/* CREATE TABLE IF NOT EXISTS for b's table and columns, keyed on its key columns. */
size_t sql_build_create(char *out, size_t len, enum sql_dialect d, const struct sql_batch *b);

/* A backend: connection, statements and their execution. The sink logic is common. */
struct sql_driver {
	const char *type;
	enum sql_dialect dialect;
	unsigned max_params;
	unsigned default_rows; /* rows per statement unless sql_multi_values says otherwise */
	void *(*connect)(const struct sql_cfg *cfg, char *err, size_t errlen);
	void (*disconnect)(void *db);
	/* A statement without parameters (DDL, BEGIN, COMMIT, ROLLBACK). */
	int (*exec)(void *db, const char *sql, char *err, size_t errlen);
	int (*prepare)(void *db, const char *sql, unsigned nparams, void **stmt, char *err,
	               size_t errlen);
	int (*run)(void *db, void *stmt, const struct sql_val *vals, unsigned n, char *err,
	           size_t errlen);
	void (*finalize)(void *db, void *stmt);
	/* True when a failed prepare of an upsert means "no unique key to conflict on". */
	bool (*no_conflict_key)(const char *err);
};

/*
 * What a SQL plugin connects to and writes, from its configuration with pmacct's defaults
 * (database pmacct or /tmp/pmacct.db, table acct_vN, user pmacct, ...); port 0 = the
 * client library's default. Shared by the sinks and `weir top -f`.
 */
void sql_cfg_from_plugin(struct sql_cfg *c, enum sql_dialect d, unsigned default_rows,
                         const struct plugin_conf *pc);

/* The sink_ops hooks of the SQL sinks; each backend passes its driver. */
struct sink *sql_open(const struct sql_driver *drv, const struct plugin_conf *pc, char *err,
                      size_t errlen);
int sql_write(struct sink *s, const struct sink_rows *r);
int sql_flush(struct sink *s, uint64_t now_ms);
void sql_close(struct sink *s);
void sql_stats(struct sink *s, FILE *out);
void sql_backlog(struct sink *s, struct sink_backlog *out);

#endif
