/* sql_sink.c - the SQL sinks' common loop: encode rows, write per flush, backlog when refused. */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "sink/backlog.h"
#include "sink/sql_common.h"

/*
 * write() encodes the rows of a call as one batch (its table name, column names and values as
 * text) and keeps it for the flush. flush() first replays the backlog, oldest first, one
 * transaction per batch; then writes this interval's batches in one transaction. When the
 * database is down or refuses, the interval's batches go to the backlog (memory, then the
 * spool file, fsync'd once per flush) and are replayed at a later flush; a restart replays a
 * spool left from before. Statements are prepared with placeholders only, multi-row, cached.
 */
#define N_STMT   4
#define N_TABLES 8

struct stmt {
	void *h;
	uint64_t sig; /* table, columns, row count, upsert */
	uint64_t used;
};

struct sink {
	const struct sql_driver *drv;
	struct sql_cfg cfg;
	void *db;
	struct backlog *bl;
	struct ratelimit rl;

	/* this interval's batches, each one encoded item */
	uint8_t **pend;
	size_t *pend_len;
	size_t n_pend, cap_pend;
	uint8_t *enc;
	size_t enc_cap;

	struct sql_batch batch;
	struct sql_val *vals;
	size_t vals_cap;
	char *sql;

	struct stmt st[N_STMT];
	uint64_t tick;
	uint64_t ready[N_TABLES]; /* tables created/checked on this connection: their sig */
	uint64_t no_upsert[N_TABLES];
	unsigned n_ready, n_noup;
	bool was_down;

	_Atomic uint64_t rows_written, batches_written, replayed, retries, errors, conn_errors,
	    write_ms, last_write_ms, bl_items, bl_spool_bytes, bl_dropped, bl_bytes;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t batch_sig(const struct sql_batch *b)
{
	uint64_t h = fnv(14695981039346656037ull, b->table, strlen(b->table));

	for (unsigned i = 0; i < b->ncols; i++)
		h = fnv(h, b->cols[i], strlen(b->cols[i]) + 1);
	return h;
}

static bool in_set(const uint64_t *set, unsigned n, uint64_t sig)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i] == sig)
			return true;
	return false;
}

static void add_set(uint64_t *set, unsigned *n, uint64_t sig)
{
	if (*n == N_TABLES) {
		memmove(set, set + 1, (N_TABLES - 1) * sizeof(*set));
		(*n)--;
	}
	set[(*n)++] = sig;
}

static void disconnect(struct sink *s)
{
	if (!s->db)
		return;
	for (unsigned i = 0; i < N_STMT; i++)
		if (s->st[i].h) {
			s->drv->finalize(s->db, s->st[i].h);
			s->st[i].h = NULL;
		}
	s->drv->disconnect(s->db);
	s->db = NULL;
	s->n_ready = 0;
}

static void fail(struct sink *s, int rc, const char *table, const char *msg)
{
	atomic_fetch_add(&s->errors, 1);
	if (rc == SQL_ECONN)
		atomic_fetch_add(&s->conn_errors, 1);
	if (ratelimit_ok(&s->rl, mono_ms())) {
		if (table)
			WLOG(LL_ERR, "%s: table %s: %s; rows kept in the backlog", s->cfg.who,
			     table, msg);
		else
			WLOG(LL_ERR, "%s: %s; rows kept in the backlog", s->cfg.who, msg);
	}
	if (rc == SQL_ECONN)
		disconnect(s);
}

static int connect_db(struct sink *s)
{
	char err[512];

	if (s->db)
		return 0;
	if (s->was_down)
		atomic_fetch_add(&s->retries, 1);
	s->db = s->drv->connect(&s->cfg, err, sizeof(err));
	if (!s->db) {
		s->was_down = true;
		fail(s, SQL_EDATA, NULL, err);
		return -1;
	}
	if (s->was_down)
		WLOG(LL_NOTICE, "%s: connected again", s->cfg.who);
	s->was_down = false;
	return 0;
}

/* Runs sql_table_schema (strftime'd for the batch's table) or weir's own CREATE TABLE. */
static int create_table(struct sink *s, const struct sql_batch *b, char *err, size_t errlen)
{
	if (!s->cfg.schema_file[0]) {
		if (!sql_build_create(s->sql, SQL_STMT_MAX, s->drv->dialect, b)) {
			snprintf(err, errlen, "CREATE TABLE does not fit");
			return SQL_EDATA;
		}
		return s->drv->exec(s->db, s->sql, err, errlen);
	}
	FILE *f = fopen(s->cfg.schema_file, "re");
	if (!f) {
		snprintf(err, errlen, "sql_table_schema %.200s: cannot open", s->cfg.schema_file);
		return SQL_EDATA;
	}
	size_t n = fread(s->sql, 1, SQL_STMT_MAX - 1, f);
	fclose(f);
	s->sql[n] = '\0';
	return s->drv->exec(s->db, s->sql, err, errlen);
}

/*
 * Makes sure b's table exists and takes b's columns: creates it when missing, then prepares a
 * one-row upsert, which the database checks against the table (missing columns are named in
 * its message). A table without a unique key on the key columns gets plain INSERTs (logged).
 */
static int ensure_table(struct sink *s, const struct sql_batch *b, uint64_t sig)
{
	char err[512];
	void *h = NULL;
	int rc;

	if (in_set(s->ready, s->n_ready, sig))
		return SQL_OK;
	if ((rc = create_table(s, b, err, sizeof(err))) != SQL_OK) {
		fail(s, rc, b->table, err);
		return rc;
	}
	bool upsert = !s->cfg.no_update;
	if (!sql_build_insert(s->sql, SQL_STMT_MAX, s->drv->dialect, b, 1, upsert))
		return SQL_EDATA;
	rc = s->drv->prepare(s->db, s->sql, b->ncols, &h, err, sizeof(err));
	if (rc == SQL_EDATA && upsert && s->drv->no_conflict_key(err)) {
		WLOG(LL_WARN,
		     "%s: table %s has no unique key on its key columns: rows are inserted, not "
		     "added up (sum them with GROUP BY)",
		     s->cfg.who, b->table);
		if (!in_set(s->no_upsert, s->n_noup, sig))
			add_set(s->no_upsert, &s->n_noup, sig);
		sql_build_insert(s->sql, SQL_STMT_MAX, s->drv->dialect, b, 1, false);
		rc = s->drv->prepare(s->db, s->sql, b->ncols, &h, err, sizeof(err));
	}
	if (rc != SQL_OK) {
		fail(s, rc, b->table, err);
		return rc;
	}
	s->drv->finalize(s->db, h);
	add_set(s->ready, &s->n_ready, sig);
	return SQL_OK;
}

/* A prepared INSERT for nrows rows of b, from the cache or prepared now. */
static int get_stmt(struct sink *s, const struct sql_batch *b, uint64_t sig, unsigned nrows,
                    void **h, char *err, size_t errlen)
{
	bool upsert = !s->cfg.no_update && !in_set(s->no_upsert, s->n_noup, sig);
	uint64_t key = fnv(sig, &nrows, sizeof(nrows)) ^ upsert;
	struct stmt *victim = &s->st[0];

	for (unsigned i = 0; i < N_STMT; i++) {
		if (s->st[i].h && s->st[i].sig == key) {
			s->st[i].used = ++s->tick;
			*h = s->st[i].h;
			return SQL_OK;
		}
		if (!s->st[i].h || s->st[i].used < victim->used)
			victim = &s->st[i];
	}
	if (!sql_build_insert(s->sql, SQL_STMT_MAX, s->drv->dialect, b, nrows, upsert)) {
		snprintf(err, errlen, "INSERT of %u rows does not fit", nrows);
		return SQL_EDATA;
	}
	if (victim->h)
		s->drv->finalize(s->db, victim->h);
	victim->h = NULL;
	int rc = s->drv->prepare(s->db, s->sql, nrows * b->ncols, &victim->h, err, errlen);
	if (rc != SQL_OK)
		return rc;
	victim->sig = key;
	victim->used = ++s->tick;
	*h = victim->h;
	return SQL_OK;
}

/* A driver that names a placeholder ("parameter $8") gets the column's name added. */
static void name_column(const struct sql_batch *b, char *err, size_t len)
{
	const char *p = strstr(err, "parameter $");
	size_t n = strlen(err);

	if (!p || !b->ncols)
		return;
	unsigned long k = strtoul(p + 11, NULL, 10);
	if (k >= 1 && n < len)
		snprintf(err + n, len - n, "; column %s", b->cols[(k - 1) % b->ncols]);
}

static int insert_batch(struct sink *s, const struct sql_batch *b, uint64_t sig)
{
	unsigned per = s->cfg.rows_per_stmt;
	char err[512];

	if (per * b->ncols > s->drv->max_params)
		per = s->drv->max_params / b->ncols;
	if (!per)
		per = 1;
	for (uint32_t at = 0; at < b->nrows;) {
		unsigned n = b->nrows - at < per ? b->nrows - at : per;
		void *h;
		int rc = get_stmt(s, b, sig, n, &h, err, sizeof(err));
		if (rc == SQL_OK)
			rc = s->drv->run(s->db, h, b->vals + (size_t)at * b->ncols, n * b->ncols,
			                 err, sizeof(err));
		if (rc != SQL_OK) {
			name_column(b, err, sizeof(err));
			fail(s, rc, b->table, err);
			return rc;
		}
		at += n;
	}
	return SQL_OK;
}

static int txn(struct sink *s, const char *what)
{
	char err[512];
	int rc = s->drv->exec(s->db, what, err, sizeof(err));

	if (rc != SQL_OK)
		fail(s, rc, NULL, err);
	return rc;
}

/*
 * Writes items in one transaction. Every table is ensured first (DDL outside the
 * transaction). Returns SQL_OK, or the failure (the transaction is rolled back).
 */
static int write_items(struct sink *s, uint8_t *const *items, const size_t *lens, size_t n)
{
	uint64_t rows = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (sql_batch_decode(items[i], lens[i], &s->batch, &s->vals, &s->vals_cap) < 0)
			continue; /* cannot happen for our own items; a spool's were checked */
		if ((rc = ensure_table(s, &s->batch, batch_sig(&s->batch))) != SQL_OK)
			return rc;
	}
	if ((rc = txn(s, s->drv->dialect == SQL_MYSQL ? "START TRANSACTION" : "BEGIN")) != SQL_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (sql_batch_decode(items[i], lens[i], &s->batch, &s->vals, &s->vals_cap) < 0)
			continue;
		rc = insert_batch(s, &s->batch, batch_sig(&s->batch));
		if (rc != SQL_OK) {
			if (s->db)
				s->drv->exec(s->db, "ROLLBACK", NULL, 0);
			return rc;
		}
		rows += s->batch.nrows;
	}
	if ((rc = txn(s, "COMMIT")) != SQL_OK) {
		if (s->db)
			s->drv->exec(s->db, "ROLLBACK", NULL, 0);
		return rc;
	}
	atomic_fetch_add(&s->rows_written, rows);
	atomic_fetch_add(&s->batches_written, n);
	return SQL_OK;
}

/* Replays the backlog, oldest first; stops at the first failure. 0 when it is empty now. */
static int replay(struct sink *s)
{
	const uint8_t *p;
	size_t len;

	while (backlog_peek(s->bl, &p, &len) == 1) {
		if (sql_batch_decode(p, len, &s->batch, &s->vals, &s->vals_cap) < 0) {
			WLOG(LL_ERR, "%s: a spooled batch of %zu bytes is no valid batch: dropped",
			     s->cfg.who, len);
			atomic_fetch_add(&s->errors, 1);
			backlog_pop(s->bl);
			continue;
		}
		uint8_t *item = (uint8_t *)(uintptr_t)p;
		if (write_items(s, &item, &len, 1) != SQL_OK)
			return -1;
		backlog_pop(s->bl);
		atomic_fetch_add(&s->replayed, 1);
	}
	return backlog_items(s->bl) ? -1 : 0;
}

static void clear_pending(struct sink *s)
{
	for (size_t i = 0; i < s->n_pend; i++)
		free(s->pend[i]);
	s->n_pend = 0;
}

static void park_pending(struct sink *s)
{
	for (size_t i = 0; i < s->n_pend; i++)
		backlog_push(s->bl, s->pend[i], s->pend_len[i]);
	backlog_sync(s->bl);
	clear_pending(s);
}

static void update_gauges(struct sink *s)
{
	struct backlog_stats st;

	backlog_get_stats(s->bl, &st);
	atomic_store(&s->bl_items, st.items);
	atomic_store(&s->bl_spool_bytes, st.spool_bytes);
	atomic_store(&s->bl_dropped, st.dropped);
	atomic_store(&s->bl_bytes, st.mem_bytes + st.spool_bytes);
}

int sql_flush(struct sink *s, uint64_t now)
{
	uint64_t t0 = mono_ms(), before = atomic_load(&s->rows_written);
	int rc = 0;

	(void)now;
	if (!s->n_pend && !backlog_items(s->bl))
		return 0;
	if (connect_db(s) < 0 || replay(s) < 0 ||
	    write_items(s, s->pend, s->pend_len, s->n_pend) != SQL_OK) {
		park_pending(s);
		rc = -1;
	}
	clear_pending(s);
	uint64_t ms = mono_ms() - t0, rows = atomic_load(&s->rows_written) - before;
	atomic_store(&s->last_write_ms, ms);
	atomic_fetch_add(&s->write_ms, ms);
	update_gauges(s);
	if (rows || backlog_items(s->bl))
		WLOG(LL_NOTICE,
		     "%s: wrote %llu rows in %llu ms; backlog %llu batches, spool %llu bytes; "
		     "retries %llu errors %llu dropped %llu",
		     s->cfg.who, (unsigned long long)rows, (unsigned long long)ms,
		     (unsigned long long)atomic_load(&s->bl_items),
		     (unsigned long long)atomic_load(&s->bl_spool_bytes),
		     (unsigned long long)atomic_load(&s->retries),
		     (unsigned long long)atomic_load(&s->errors),
		     (unsigned long long)atomic_load(&s->bl_dropped));
	return rc;
}

int sql_write(struct sink *s, const struct sink_rows *r)
{
	char table[SQL_TABLE_MAX];
	struct sql_layout l;
	size_t len = 0;

	if (!r->n)
		return 0;
	if (sql_table_name(&s->cfg, r->stamp_inserted_ms, table, sizeof(table)) < 0) {
		atomic_fetch_add(&s->errors, 1);
		return -1;
	}
	sql_layout_make(&l, r->fields, &s->cfg);
	if (s->n_pend == s->cap_pend) {
		size_t n = s->cap_pend ? s->cap_pend * 2 : 64;
		uint8_t **p = realloc(s->pend, n * sizeof(*p));
		if (!p)
			return -1;
		s->pend = p;
		size_t *q = realloc(s->pend_len, n * sizeof(*q));
		if (!q)
			return -1;
		s->pend_len = q;
		s->cap_pend = n;
	}
	if (sql_batch_encode(&s->enc, &s->enc_cap, &len, &l, &s->cfg, table, r) < 0)
		return -1;
	uint8_t *item = malloc(len);
	if (!item)
		return -1;
	memcpy(item, s->enc, len);
	s->pend[s->n_pend] = item;
	s->pend_len[s->n_pend++] = len;
	return 0;
}

void sql_cfg_from_plugin(struct sql_cfg *c, enum sql_dialect d, unsigned default_rows,
                         const struct plugin_conf *pc)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->who, sizeof(c->who), "plugin %.31s[%.60s]", pc->type, pc->name);
	c->dialect = d;
	c->version =
	    pc->sql_table_version >= 1 && pc->sql_table_version <= 9 ? pc->sql_table_version : 9;
	if (pc->sql_db[0])
		snprintf(c->db, sizeof(c->db), "%s", pc->sql_db);
	else
		snprintf(c->db, sizeof(c->db), "%s", d == SQL_SQLITE ? "/tmp/pmacct.db" : "pmacct");
	if (pc->sql_table[0])
		snprintf(c->table, sizeof(c->table), "%.127s", pc->sql_table);
	else if (c->version == 1)
		snprintf(c->table, sizeof(c->table), "acct");
	else
		snprintf(c->table, sizeof(c->table), "acct_v%u", c->version);
	snprintf(c->host, sizeof(c->host), "%s", pc->sql_host[0] ? pc->sql_host : "127.0.0.1");
	c->port = pc->sql_port;
	snprintf(c->user, sizeof(c->user), "%s", pc->sql_user[0] ? pc->sql_user : "pmacct");
	snprintf(c->passwd, sizeof(c->passwd), "%s",
	         pc->sql_passwd[0] ? pc->sql_passwd : "arealsmartpwd");
	c->optimize = pc->sql_optimize_clauses;
	c->no_update = pc->sql_dont_try_update;
	c->num_protos = pc->sql_num_protos || d == SQL_PGSQL;
	c->utc = pc->conf ? pc->conf->timestamps_utc : true;
	c->rows_per_stmt = pc->sql_multi_values ? pc->sql_multi_values / 256 : default_rows;
	if (!c->rows_per_stmt)
		c->rows_per_stmt = 1;
	snprintf(c->schema_file, sizeof(c->schema_file), "%s", pc->sql_table_schema);
}

struct sink *sql_open(const struct sql_driver *drv, const struct plugin_conf *pc, char *err,
                      size_t errlen)
{
	struct sink *s = calloc(1, sizeof(*s));
	char spool[PATH_MAX], table[SQL_TABLE_MAX];

	if (!s || !(s->sql = malloc(SQL_STMT_MAX))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->drv = drv;
	sql_cfg_from_plugin(&s->cfg, drv->dialect, drv->default_rows, pc);
	ratelimit_init(&s->rl, 2);
	if (sql_table_name(&s->cfg, now_ms(), table, sizeof(table)) < 0) {
		snprintf(err, errlen,
		         "sql_table '%s' is no valid table name (letters, digits, _ .)",
		         s->cfg.table);
		goto fail;
	}
	if (pc->sql_backlog_file[0])
		snprintf(spool, sizeof(spool), "%s", pc->sql_backlog_file);
	else
		snprintf(spool, sizeof(spool), "weir-%s-%s.spool", pc->type, pc->name);
	struct backlog_conf bc = {
	    .path = spool,
	    .mem_max = pc->sql_backlog_memory,
	    .spool_max = pc->sql_backlog_size,
	    .who = s->cfg.who,
	};
	char berr[256];
	if (!(s->bl = backlog_open(&bc, berr, sizeof(berr)))) {
		snprintf(err, errlen, "backlog: %s", berr);
		goto fail;
	}
	update_gauges(s);
	/* A database that is down at start is no configuration error: rows wait in the backlog. */
	connect_db(s);
	return s;
fail:
	free(s->sql);
	free(s);
	return NULL;
}

void sql_close(struct sink *s)
{
	if (!s)
		return;
	if (s->n_pend || backlog_items(s->bl))
		sql_flush(s, now_ms());
	backlog_close(s->bl);
	disconnect(s);
	clear_pending(s);
	free(s->pend);
	free(s->pend_len);
	free(s->enc);
	free(s->vals);
	free(s->sql);
	free(s);
}

void sql_stats(struct sink *s, FILE *out)
{
	fprintf(out,
	        "%s: sql rows_written %llu batches %llu replayed %llu backlog_batches %llu "
	        "spool_bytes %llu dropped %llu retries %llu errors %llu conn_errors %llu "
	        "write_ms %llu last_write_ms %llu\n",
	        s->cfg.who, (unsigned long long)atomic_load(&s->rows_written),
	        (unsigned long long)atomic_load(&s->batches_written),
	        (unsigned long long)atomic_load(&s->replayed),
	        (unsigned long long)atomic_load(&s->bl_items),
	        (unsigned long long)atomic_load(&s->bl_spool_bytes),
	        (unsigned long long)atomic_load(&s->bl_dropped),
	        (unsigned long long)atomic_load(&s->retries),
	        (unsigned long long)atomic_load(&s->errors),
	        (unsigned long long)atomic_load(&s->conn_errors),
	        (unsigned long long)atomic_load(&s->write_ms),
	        (unsigned long long)atomic_load(&s->last_write_ms));
}

void sql_backlog(struct sink *s, struct sink_backlog *out)
{
	out->items = atomic_load(&s->bl_items);
	out->bytes = atomic_load(&s->bl_bytes);
	out->dropped = atomic_load(&s->bl_dropped);
}
