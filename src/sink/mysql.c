/* mysql.c - the mysql sink (MySQL, MariaDB): prepared multi-row upserts over libmariadb. */
#include <errmsg.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sql_common.h"

struct mconn {
	MYSQL *m;
	MYSQL_BIND *bind; /* reused by every execution */
	size_t cap;
};

/* Client-side errors (2xxx: gone, lost, refused, timed out) mean the server is unreachable. */
static int classify(unsigned no)
{
	return no >= 2000 && no < 3000 ? SQL_ECONN : SQL_EDATA;
}

static int fail_conn(struct mconn *c, char *err, size_t errlen)
{
	if (err)
		snprintf(err, errlen, "mysql: %s", mysql_error(c->m));
	return classify(mysql_errno(c->m));
}

static void my_disconnect(void *db)
{
	struct mconn *c = db;

	mysql_close(c->m);
	free(c->bind);
	free(c);
}

static void *my_connect(const struct sql_cfg *cfg, char *err, size_t errlen)
{
	struct mconn *c = calloc(1, sizeof(*c));
	unsigned timeout = 5, io_timeout = 60;
	bool sock = cfg->host[0] == '/';

	if (!c || !(c->m = mysql_init(NULL))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mysql_options(c->m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(c->m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	mysql_options(c->m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	if (!mysql_real_connect(c->m, sock ? "localhost" : cfg->host, cfg->user, cfg->passwd,
	                        cfg->db, cfg->port ? cfg->port : 3306, sock ? cfg->host : NULL,
	                        0)) {
		snprintf(err, errlen, "mysql %s@%s:%u/%s: %s", cfg->user, cfg->host,
		         cfg->port ? cfg->port : 3306, cfg->db, mysql_error(c->m));
		my_disconnect(c);
		return NULL;
	}
	/* Strict: a value that does not fit its column is an error naming it, not a warning. */
	if (mysql_query(c->m,
	                "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")) {
		snprintf(err, errlen, "mysql: %s", mysql_error(c->m));
		my_disconnect(c);
		return NULL;
	}
	return c;
}

static int my_exec(void *db, const char *sql, char *err, size_t errlen)
{
	struct mconn *c = db;

	if (mysql_query(c->m, sql))
		return fail_conn(c, err, errlen);
	return SQL_OK;
}

static int my_prepare(void *db, const char *sql, unsigned nparams, void **stmt, char *err,
                      size_t errlen)
{
	struct mconn *c = db;
	MYSQL_STMT *st = mysql_stmt_init(c->m);

	if (!st)
		return fail_conn(c, err, errlen);
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		snprintf(err, errlen, "mysql: %s", mysql_stmt_error(st));
		int rc = classify(mysql_stmt_errno(st));
		mysql_stmt_close(st);
		return rc;
	}
	if (nparams > c->cap) {
		MYSQL_BIND *b = realloc(c->bind, nparams * sizeof(*b));
		if (!b) {
			mysql_stmt_close(st);
			snprintf(err, errlen, "out of memory");
			return SQL_EDATA;
		}
		c->bind = b;
		c->cap = nparams;
	}
	*stmt = st;
	return SQL_OK;
}

static int my_run(void *db, void *stmt, const struct sql_val *vals, unsigned n, char *err,
                  size_t errlen)
{
	struct mconn *c = db;
	MYSQL_STMT *st = stmt;

	memset(c->bind, 0, n * sizeof(*c->bind));
	for (unsigned i = 0; i < n; i++) {
		c->bind[i].buffer_type = MYSQL_TYPE_STRING;
		c->bind[i].buffer = (void *)(uintptr_t)vals[i].p;
		c->bind[i].buffer_length = vals[i].len;
	}
	if (mysql_stmt_bind_param(st, c->bind) || mysql_stmt_execute(st)) {
		snprintf(err, errlen, "mysql: %s", mysql_stmt_error(st));
		return classify(mysql_stmt_errno(st));
	}
	return SQL_OK;
}

static void my_finalize(void *db, void *stmt)
{
	(void)db;
	mysql_stmt_close(stmt);
}

/* ON DUPLICATE KEY UPDATE needs no key: without one MySQL simply inserts. */
static bool my_no_conflict_key(const char *err)
{
	(void)err;
	return false;
}

static const struct sql_driver my_driver = {
    .type = "mysql",
    .dialect = SQL_MYSQL,
    .max_params = 65535,
    .default_rows = 1000,
    .connect = my_connect,
    .disconnect = my_disconnect,
    .exec = my_exec,
    .prepare = my_prepare,
    .run = my_run,
    .finalize = my_finalize,
    .no_conflict_key = my_no_conflict_key,
};

static struct sink *my_open(const struct plugin_conf *pc, char *err, size_t errlen)
{
	return sql_open(&my_driver, pc, err, errlen);
}

const struct sink_ops sink_mysql = {
    .name = "mysql",
    .open = my_open,
    .write = sql_write,
    .flush = sql_flush,
    .close = sql_close,
    .stats = sql_stats,
    .backlog = sql_backlog,
};
