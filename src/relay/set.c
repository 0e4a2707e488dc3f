/* set.c - the relay's pool sets: built from the receivers files, swapped on SIGUSR2, reclaimed. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "enrich/tagmap.h"
#include "lib/prefix.h"
#include "relay/pick.h"
#include "relay/relay.h"
#include "relay/relay_int.h"

#define RECLAIM_WAIT_MS 100 /* a reload waits this long at most for the workers to move on */

/* --- building --- */

static int add_pools(struct relay_set *s, const struct plugin_conf *pc, struct relay_rcvfile *f)
{
	struct relay_pool *grown = realloc(s->pools, (s->n_pools + f->n) * sizeof(*grown));

	if (!grown)
		return -1;
	s->pools = grown;
	for (size_t i = 0; i < f->n; i++) {
		struct relay_pool *pl = &s->pools[s->n_pools];
		memset(pl, 0, sizeof(*pl));
		pl->def = f->pools[i]; /* takes the receivers and the exporter list */
		pl->pc = pc;
		pl->gidx = (unsigned)s->n_pools;
		pl->transparent = pc->tee_transparent;
		s->n_pools++;
	}
	free(f->pools);
	memset(f, 0, sizeof(*f));
	return 0;
}

/* 0, -1 with err set (file errors), -2 out of memory. */
static int load_files(const struct relay *r, struct relay_set *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->n_pcs; i++) {
		const struct plugin_conf *pc = r->pcs[i];
		struct relay_rcvfile_opts o = {.max_pools = pc->tee_max_pools,
		                               .max_receivers = pc->tee_max_receivers};
		struct relay_rcvfile f;
		if (!pc->tee_receivers[0]) {
			snprintf(err, errlen, "plugin %s[%s]: tee_receivers is not set", pc->type,
			         pc->name);
			return -1;
		}
		if (relay_rcvfile_load(pc->tee_receivers, &o, &f, err, errlen) < 0)
			return -1;
		if (add_pools(s, pc, &f) < 0) {
			relay_rcvfile_free(&f);
			return -2;
		}
	}
	return 0;
}

/*
 * pre_tag_map, read again with every set, when a pool filters or balances on tags: the relay
 * sees datagrams, not records, so only rules that match on the exporter (ip=) can apply.
 */
static int load_tags(const struct relay *r, struct relay_set *s, char *err, size_t errlen)
{
	const struct relay_pool *need = NULL;
	const char *path = "";

	for (size_t i = 0; i < s->n_pools; i++) {
		const struct relay_pool *pl = &s->pools[i];
		if (!need && relay_pool_needs_tags(&pl->def))
			need = pl;
	}
	if (!need)
		return 0;
	for (size_t i = 0; i < r->n_pcs && !path[0]; i++)
		if (r->pcs[i]->conf)
			path = r->pcs[i]->conf->pre_tag_map;
	if (!path[0]) {
		snprintf(err, errlen,
		         "%s:%u: pool %u: %s needs pre_tag_map (the map that tags datagrams by "
		         "exporter)",
		         need->pc->tee_receivers, need->def.line, need->def.id,
		         need->def.n_tags ? "tag=" : "balance-alg=hash-tag");
		return -1;
	}
	s->tags = tagmap_load(TAGMAP_PRETAG, path, err, errlen);
	if (!s->tags)
		return -1;
	unsigned line;
	const char *key;
	if (!tagmap_exporter_only(s->tags, &line, &key)) {
		snprintf(
		    err, errlen,
		    "%s:%u: %s: the tee relay tags whole datagrams by exporter, it has no records "
		    "to match %s= on (only ip= applies)",
		    path, line, key, key);
		return -1;
	}
	s->tags_path = path;
	return 0;
}

static int index_receivers(struct relay_set *s)
{
	for (size_t i = 0; i < s->n_pools; i++)
		s->n_rcv += s->pools[i].def.n_rcv;
	s->rcv = calloc(s->n_rcv ? s->n_rcv : 1, sizeof(*s->rcv));
	if (!s->rcv)
		return -1;
	unsigned g = 0;
	for (size_t i = 0; i < s->n_pools; i++) {
		struct relay_pool *pl = &s->pools[i];
		pl->rcv = calloc(pl->def.n_rcv ? pl->def.n_rcv : 1, sizeof(*pl->rcv));
		if (!pl->rcv)
			return -1;
		for (size_t k = 0; k < pl->def.n_rcv; k++) {
			struct relay_rcv *rc = &pl->rcv[k];
			rc->pool = pl;
			rc->idx = (unsigned)k;
			rc->gidx = g;
			rc->def = &pl->def.rcv[k];
			rc->key = relay_rcv_key(rc->def->text);
			rc->raw_dst = rc->def->ss;
			if (rc->raw_dst.ss_family == AF_INET)
				((struct sockaddr_in *)&rc->raw_dst)->sin_port = 0;
			else
				((struct sockaddr_in6 *)&rc->raw_dst)->sin6_port = 0;
			s->rcv[g++] = rc;
		}
	}
	return 0;
}

/* tee_source_ip must be of each receiver's family (transparent pools ignore it). */
static int check_sources(const struct relay_set *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n_rcv; i++) {
		const struct relay_rcv *rc = s->rcv[i];
		const char *ip = rc->pool->pc->tee_source_ip;
		struct wip a;
		if (!ip[0] || rc->pool->transparent)
			continue;
		if (!wip_parse(&a, ip) || wip_is_v4(&a) != (rc->def->ss.ss_family == AF_INET)) {
			snprintf(
			    err, errlen,
			    "tee pool %u receiver %s: tee_source_ip %s is not of the receiver's "
			    "address family",
			    rc->pool->def.id, rc->def->text, ip);
			return -1;
		}
	}
	return 0;
}

static bool key_eq(const struct relay_key *a, const struct relay_key *b)
{
	return a->pc == b->pc && a->pool == b->pool && a->src_port == b->src_port &&
	       !strcmp(a->text, b->text);
}

void relay_match(const struct relay_key *was, size_t n_was, const struct relay_key *nw, size_t n_nw,
                 int *out)
{
	/* Reloads are rare and sets small (tee_max_pools x tee_max_receivers): n^2 is fine. */
	for (size_t i = 0; i < n_nw; i++) {
		out[i] = -1;
		for (size_t j = 0; j < n_was && out[i] < 0; j++) {
			if (!key_eq(&nw[i], &was[j]))
				continue;
			bool taken = false;
			for (size_t k = 0; k < i && !taken; k++)
				taken = out[k] == (int)j;
			if (!taken)
				out[i] = (int)j;
		}
	}
}

static struct relay_key *pool_keys(const struct relay_set *s)
{
	struct relay_key *k = calloc(s->n_pools ? s->n_pools : 1, sizeof(*k));

	for (size_t i = 0; k && i < s->n_pools; i++) {
		const struct relay_pool *pl = &s->pools[i];
		k[i] = (struct relay_key){pl->pc, pl->def.id, pl->def.src_port, ""};
	}
	return k;
}

static struct relay_key *rcv_keys(const struct relay_set *s)
{
	struct relay_key *k = calloc(s->n_rcv ? s->n_rcv : 1, sizeof(*k));

	for (size_t i = 0; k && i < s->n_rcv; i++) {
		const struct relay_rcv *rc = s->rcv[i];
		k[i] = (struct relay_key){rc->pool->pc, rc->pool->def.id, rc->pool->def.src_port,
		                          rc->def->text};
	}
	return k;
}

/* Which pools and receivers of s continue those of was (every one new when was is NULL). */
static int link_prev(const struct relay *r, struct relay_set *s, const struct relay_set *was)
{
	size_t nr = s->n_rcv ? s->n_rcv : 1, np = s->n_pools ? s->n_pools : 1;
	int rc = 0;

	s->rcv_prev = calloc(nr, sizeof(int));
	s->pool_prev = calloc(np, sizeof(int));
	s->rcv_kept = calloc(nr, sizeof(bool));
	s->pool_kept = calloc(np, sizeof(bool));
	s->snap = calloc(r->n_workers + 1, sizeof(uint64_t));
	if (!s->rcv_prev || !s->pool_prev || !s->rcv_kept || !s->pool_kept || !s->snap)
		return -1;
	for (size_t i = 0; i < nr; i++)
		s->rcv_prev[i] = -1;
	for (size_t i = 0; i < np; i++)
		s->pool_prev[i] = -1;
	if (!was)
		return 0;
	struct relay_key *ow = pool_keys(was), *nw = pool_keys(s);
	struct relay_key *orc = rcv_keys(was), *nrc = rcv_keys(s);
	if (ow && nw && orc && nrc) {
		relay_match(ow, was->n_pools, nw, s->n_pools, s->pool_prev);
		relay_match(orc, was->n_rcv, nrc, s->n_rcv, s->rcv_prev);
	} else {
		rc = -1;
	}
	free(ow), free(nw), free(orc), free(nrc);
	return rc;
}

/* Receivers that stay keep their state (up or down, probe socket); new ones start up. */
static int link_state(struct relay_set *s, const struct relay_set *was)
{
	for (size_t g = 0; g < s->n_rcv; g++) {
		struct relay_rcv *rc = s->rcv[g];
		if (s->rcv_prev[g] >= 0) {
			rc->st = was->rcv[s->rcv_prev[g]]->st;
			continue;
		}
		rc->st = calloc(1, sizeof(*rc->st));
		if (!rc->st)
			return -1;
		rc->st->probe_fd = -1;
	}
	return 0;
}

static bool needs_raw(const struct relay_set *s, int family)
{
	for (size_t i = 0; i < s->n_rcv; i++)
		if (s->rcv[i]->pool->transparent && s->rcv[i]->def->ss.ss_family == family)
			return true;
	return false;
}

/* Raw sockets live as long as the relay; opened before the first set that needs them. */
static int open_raw(struct relay *r, const struct relay_set *s, char *err, size_t errlen)
{
	bool v4 = needs_raw(s, AF_INET), v6 = needs_raw(s, AF_INET6);

	for (unsigned k = 0; k < r->n_workers; k++) {
		struct relay_worker *w = &r->w[k];
		if (v4 && w->raw4 < 0 && (w->raw4 = relay_raw_open(AF_INET, err, errlen)) < 0)
			return -1;
		if (v6 && w->raw6 < 0 && (w->raw6 = relay_raw_open(AF_INET6, err, errlen)) < 0)
			return -1;
	}
	return 0;
}

/* Worker k's queues and pool counters: taken over from was, or new with a new socket. */
static int worker_set(struct relay_set *s, const struct relay_set *was, unsigned k, char *err,
                      size_t errlen)
{
	struct rw_set *ws = &s->w[k];
	size_t nr = s->n_rcv ? s->n_rcv : 1;

	ws->q = calloc(nr, sizeof(*ws->q));
	ws->dirty = calloc(nr, sizeof(*ws->dirty));
	ws->pool = calloc(s->n_pools ? s->n_pools : 1, sizeof(*ws->pool));
	if (!ws->q || !ws->dirty || !ws->pool)
		goto oom;
	for (size_t p = 0; p < s->n_pools; p++) {
		int prev = s->pool_prev[p];
		ws->pool[p] = prev >= 0 ? was->w[k].pool[prev] : calloc(1, sizeof(struct rw_pool));
		if (!ws->pool[p])
			goto oom;
	}
	for (size_t g = 0; g < s->n_rcv; g++) {
		int prev = s->rcv_prev[g];
		if (prev >= 0) {
			ws->q[g] = was->w[k].q[prev];
			continue;
		}
		struct rw_queue *q = calloc(1, sizeof(*q));
		if (!q)
			goto oom;
		q->fd = -1;
		ws->q[g] = q;
		if (s->rcv[g]->pool->transparent)
			continue;
		err[0] = '\0';
		q->fd = relay_open_send_socket(s->rcv[g], err, errlen);
		if (q->fd < 0)
			return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "relay: out of memory");
	return -1;
}

struct relay_set *relay_set_build(struct relay *r, const struct relay_set *was, bool *config,
                                  char *err, size_t errlen)
{
	struct relay_set *s = calloc(1, sizeof(*s));
	int rc;

	*config = false;
	if (!s)
		goto oom;
	s->gen = was ? was->gen + 1 : 1;
	if ((rc = load_files(r, s, err, errlen)) < 0) {
		if (rc == -2)
			goto oom;
		*config = true;
		goto fail;
	}
	if (load_tags(r, s, err, errlen) < 0) {
		*config = true;
		goto fail;
	}
	if (index_receivers(s) < 0 || !(s->w = calloc(r->n_workers, sizeof(*s->w))))
		goto oom;
	if (check_sources(s, err, errlen) < 0) {
		*config = true;
		goto fail;
	}
	if (link_prev(r, s, was) < 0 || link_state(s, was) < 0)
		goto oom;
	if (open_raw(r, s, err, errlen) < 0)
		goto fail;
	for (unsigned k = 0; k < r->n_workers; k++)
		if (worker_set(s, was, k, err, errlen) < 0)
			goto fail;
	return s;
oom:
	snprintf(err, errlen, "relay: out of memory");
fail:
	relay_set_free(r, s);
	return NULL;
}

/* --- freeing --- */

/* Whether s owns receiver g's state and queues (else the next set took them, or s never did). */
static bool owns_rcv(const struct relay_set *s, size_t g)
{
	if (!s->rcv_prev)
		return true;
	return s->published ? !s->rcv_kept[g] : s->rcv_prev[g] < 0;
}

static bool owns_pool(const struct relay_set *s, size_t p)
{
	if (!s->pool_prev)
		return true;
	return s->published ? !s->pool_kept[p] : s->pool_prev[p] < 0;
}

static void free_worker_set(const struct relay_set *s, struct rw_set *ws)
{
	if (ws->q)
		for (size_t g = 0; g < s->n_rcv; g++) {
			if (!ws->q[g] || !owns_rcv(s, g))
				continue;
			if (ws->q[g]->fd >= 0)
				close(ws->q[g]->fd);
			free(ws->q[g]);
		}
	if (ws->pool)
		for (size_t p = 0; p < s->n_pools; p++)
			if (owns_pool(s, p))
				free(ws->pool[p]);
	free(ws->q);
	free(ws->pool);
	free(ws->dirty);
}

void relay_set_free(struct relay *r, struct relay_set *s)
{
	if (!s)
		return;
	if (s->w)
		for (unsigned k = 0; k < r->n_workers; k++)
			free_worker_set(s, &s->w[k]);
	for (size_t g = 0; s->rcv && g < s->n_rcv; g++) {
		struct relay_rcv_st *st = s->rcv[g] ? s->rcv[g]->st : NULL;
		if (!st || !owns_rcv(s, g))
			continue;
		if (st->probe_fd >= 0)
			close(st->probe_fd);
		free(st);
	}
	for (size_t i = 0; i < s->n_pools; i++) {
		struct relay_pool *pl = &s->pools[i];
		free(pl->rcv);
		free(pl->def.rcv);
		free(pl->def.tags);
		if (pl->def.exporters)
			allow_list_free(pl->def.exporters);
	}
	tagmap_free(s->tags);
	free(s->pools);
	free(s->rcv);
	free(s->w);
	free(s->rcv_prev);
	free(s->pool_prev);
	free(s->rcv_kept);
	free(s->pool_kept);
	free(s->snap);
	free(s);
}

/* --- swapping and reclaiming --- */

static _Atomic uint64_t *epoch_of(struct relay *r, unsigned k)
{
	return k < r->n_workers ? &r->w[k].epoch : &r->probe_epoch;
}

/*
 * Taken after the new set is stored (both seq_cst): a reader whose epoch is even now loads the
 * new set at its next batch; one whose epoch is odd may hold s until its epoch moves.
 */
static void snapshot(struct relay *r, struct relay_set *s)
{
	for (unsigned k = 0; k <= r->n_workers; k++)
		s->snap[k] = atomic_load(epoch_of(r, k));
}

static bool quiet(struct relay *r, const struct relay_set *s)
{
	for (unsigned k = 0; k <= r->n_workers; k++)
		if ((s->snap[k] & 1) &&
		    atomic_load_explicit(epoch_of(r, k), memory_order_acquire) == s->snap[k])
			return false;
	return true;
}

void relay_reclaim(struct relay *r)
{
	struct relay_set **pp = &r->retired;

	while (*pp) {
		struct relay_set *s = *pp;
		if (quiet(r, s)) {
			*pp = s->next;
			relay_set_free(r, s);
		} else {
			pp = &s->next;
		}
	}
}

/* Frees what it can at once; the probe thread (or the next reload) frees the rest. */
static void wait_reclaim(struct relay *r)
{
	const struct timespec ms = {0, 1000000};

	for (int i = 0; i < RECLAIM_WAIT_MS; i++) {
		pthread_mutex_lock(&r->lock);
		relay_reclaim(r);
		bool done = !r->retired;
		pthread_mutex_unlock(&r->lock);
		if (done)
			return;
		nanosleep(&ms, NULL);
	}
}

static size_t count(const int *prev, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += prev[i] >= 0;
	return k;
}

int relay_reload(struct relay *r, char *msg, size_t len)
{
	bool config;

	/* Files are read and names resolved outside relay.lock: counters stay readable. */
	pthread_mutex_lock(&r->reload_lock);
	struct relay_set *was = atomic_load(&r->set);
	struct relay_set *s = relay_set_build(r, was, &config, msg, len);
	if (!s) {
		atomic_fetch_add(&r->reload_fails, 1);
		pthread_mutex_unlock(&r->reload_lock);
		return -1;
	}
	pthread_mutex_lock(&r->lock);
	for (size_t g = 0; g < s->n_rcv; g++)
		if (s->rcv_prev[g] >= 0)
			was->rcv_kept[s->rcv_prev[g]] = true;
	for (size_t p = 0; p < s->n_pools; p++)
		if (s->pool_prev[p] >= 0)
			was->pool_kept[s->pool_prev[p]] = true;
	s->published = true;
	atomic_store(&r->set, s);
	snapshot(r, was);
	was->next = r->retired;
	r->retired = was;
	atomic_fetch_add(&r->reloads, 1);
	size_t kept = count(s->rcv_prev, s->n_rcv);
	snprintf(msg, len,
	         "%zu pool%s, %zu receiver%s -> %zu pool%s, %zu receiver%s (%zu kept, %zu new, "
	         "%zu removed)",
	         was->n_pools, was->n_pools == 1 ? "" : "s", was->n_rcv, was->n_rcv == 1 ? "" : "s",
	         s->n_pools, s->n_pools == 1 ? "" : "s", s->n_rcv, s->n_rcv == 1 ? "" : "s", kept,
	         s->n_rcv - kept, was->n_rcv - kept);
	if (s->tags) {
		size_t n = strlen(msg);
		snprintf(msg + n, len - n, "; pre_tag_map %s: %zu rule%s", s->tags_path,
		         tagmap_count(s->tags), tagmap_count(s->tags) == 1 ? "" : "s");
	}
	pthread_mutex_unlock(&r->lock); /* was may be freed from here on */
	wait_reclaim(r);
	pthread_mutex_unlock(&r->reload_lock);
	return 0;
}

void relay_reload_signal(struct relay *r, const char *who)
{
	char msg[1024];

	if (!r) {
		WLOG(LL_NOTICE, "%s: SIGUSR2: no tee plugin, nothing to reload", who);
		return;
	}
	if (relay_reload(r, msg, sizeof(msg)) == 0)
		WLOG(LL_NOTICE, "%s: SIGUSR2: receivers reloaded: %s", who, msg);
	else
		WLOG(LL_ERR, "%s: SIGUSR2: receivers not reloaded, the running pools stay: %s", who,
		     msg);
}
