/* pgsql.c - the pgsql sink (PostgreSQL): prepared multi-row upserts over libpq. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sql_common.h"

struct pconn {
	PGconn *pg;
	const char **params; /* reused by every execution */
	size_t cap;
	unsigned next_id;
};

struct pstmt {
	char name[24];
};

/* The server's message without its trailing newline; a broken connection is retried later. */
static int fail_pg(struct pconn *c, PGresult *r, char *err, size_t errlen)
{
	if (err) {
		/* one line: the primary message, without "ERROR:" and the LINE/caret lines */
		const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		if (!m || !*m)
			m = PQerrorMessage(c->pg);
		snprintf(err, errlen, "pgsql: %s", m);
		err[strcspn(err, "\n")] = '\0';
		size_t n = strlen(err);
		while (n && err[n - 1] == ' ')
			err[--n] = '\0';
		/* "unnamed portal parameter $8 = '...'": sql_sink.c names the column from $8 */
		const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
		const char *par = ctx ? strstr(ctx, "parameter $") : NULL;
		if (par && n < errlen)
			snprintf(err + n, errlen - n, " (parameter $%lu)",
			         strtoul(par + 11, NULL, 10));
	}
	PQclear(r);
	return PQstatus(c->pg) == CONNECTION_BAD ? SQL_ECONN : SQL_EDATA;
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs such as "relation already exists, skipping" */
}

static void pg_disconnect(void *db)
{
	struct pconn *c = db;

	PQfinish(c->pg);
	free(c->params);
	free(c);
}

static void *pg_connect(const struct sql_cfg *cfg, char *err, size_t errlen)
{
	struct pconn *c = calloc(1, sizeof(*c));
	char port[16];
	const char *keys[] = {
	    "host", "port", "dbname", "user", "password", "connect_timeout", "application_name",
	    NULL};
	const char *vals[] = {cfg->host, port, cfg->db, cfg->user, cfg->passwd, "5", "weir", NULL};

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(port, sizeof(port), "%u", cfg->port ? cfg->port : 5432);
	c->pg = PQconnectdbParams(keys, vals, 0);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		char m[384];
		snprintf(m, sizeof(m), "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
		m[strcspn(m, "\n")] = '\0';
		snprintf(err, errlen, "pgsql %s@%s:%s/%s: %s", cfg->user, cfg->host, port, cfg->db,
		         m);
		PQfinish(c->pg);
		free(c);
		return NULL;
	}
	PQsetNoticeProcessor(c->pg, quiet, NULL);
	return c;
}

static int pg_exec(void *db, const char *sql, char *err, size_t errlen)
{
	struct pconn *c = db;
	PGresult *r = PQexec(c->pg, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return fail_pg(c, r, err, errlen);
	PQclear(r);
	return SQL_OK;
}

static int pg_prepare(void *db, const char *sql, unsigned nparams, void **stmt, char *err,
                      size_t errlen)
{
	struct pconn *c = db;
	struct pstmt *s = malloc(sizeof(*s));

	if (!s ||
	    (nparams > c->cap && !(c->params = realloc(c->params, nparams * sizeof(char *))))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return SQL_EDATA;
	}
	if (nparams > c->cap)
		c->cap = nparams;
	snprintf(s->name, sizeof(s->name), "weir%u", c->next_id++);
	PGresult *r = PQprepare(c->pg, s->name, sql, (int)nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		free(s);
		return fail_pg(c, r, err, errlen);
	}
	PQclear(r);
	*stmt = s;
	return SQL_OK;
}

static int pg_run(void *db, void *stmt, const struct sql_val *vals, unsigned n, char *err,
                  size_t errlen)
{
	struct pconn *c = db;
	struct pstmt *s = stmt;

	for (unsigned i = 0; i < n; i++)
		c->params[i] = vals[i].p;
	PGresult *r = PQexecPrepared(c->pg, s->name, (int)n, c->params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return fail_pg(c, r, err, errlen);
	PQclear(r);
	return SQL_OK;
}

static void pg_finalize(void *db, void *stmt)
{
	struct pconn *c = db;
	struct pstmt *s = stmt;
	char sql[48];

	if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
		snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
		PQclear(PQexec(c->pg, sql));
	}
	free(s);
}

static bool pg_no_conflict_key(const char *err)
{
	return strstr(err, "no unique or exclusion constraint") != NULL;
}

static const struct sql_driver pg_driver = {
    .type = "pgsql",
    .dialect = SQL_PGSQL,
    .max_params = 65535,
    .default_rows = 1000,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .run = pg_run,
    .finalize = pg_finalize,
    .no_conflict_key = pg_no_conflict_key,
};

static struct sink *pg_open(const struct plugin_conf *pc, char *err, size_t errlen)
{
	return sql_open(&pg_driver, pc, err, errlen);
}

const struct sink_ops sink_pgsql = {
    .name = "pgsql",
    .open = pg_open,
    .write = sql_write,
    .flush = sql_flush,
    .close = sql_close,
    .stats = sql_stats,
    .backlog = sql_backlog,
};
