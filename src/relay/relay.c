/* relay.c - the relay's setup: pools from receivers files, sending sockets, state, counters. */
#include "relay/relay.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ingest/ingest.h"
#include "lib/prefix.h"
#include "relay/pick.h"
#include "relay/relay_int.h"

#define RLX memory_order_relaxed

bool relay_plugin_type(const char *type)
{
	return !strcmp(type, "tee");
}

size_t relay_plugins(const struct conf *c, const struct plugin_conf **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_plugins && n < max; i++)
		if (relay_plugin_type(c->plugins[i].type))
			out[n++] = &c->plugins[i];
	if (n)
		return n;
	for (size_t i = 0; i < c->n_plugins && max; i++)
		if (c->plugins[i].tee_receivers[0]) {
			out[0] = &c->plugins[i];
			return 1;
		}
	return 0;
}

static const char *down_reason(unsigned why)
{
	return why & DOWN_HEALTH ? "healthz" : "icmp";
}

void relay_rcv_down(struct relay_rcv *rc, unsigned why, const char *detail)
{
	unsigned old = atomic_fetch_or_explicit(&rc->down, why, memory_order_acq_rel);

	if (old)
		return;
	atomic_fetch_add_explicit(&rc->changes, 1, RLX);
	WLOG(LL_WARN,
	     "relay: pool %u receiver %s is down (%s: %s): its exporters move to the other "
	     "receivers of the pool",
	     rc->pool->def.id, rc->def->text, down_reason(why), detail);
}

void relay_rcv_up(struct relay_rcv *rc, unsigned why, const char *detail)
{
	unsigned old = atomic_fetch_and_explicit(&rc->down, ~why, memory_order_acq_rel);

	if (!old || (old & ~why))
		return;
	atomic_fetch_add_explicit(&rc->changes, 1, RLX);
	WLOG(LL_NOTICE, "relay: pool %u receiver %s is up again (%s): its exporters move back",
	     rc->pool->def.id, rc->def->text, detail);
}

/* --- sockets --- */

static int sock_fail(char *err, size_t errlen, const struct relay_rcv *rc, const char *what)
{
	snprintf(err, errlen, "tee pool %u receiver %s: %s: %s", rc->pool->def.id, rc->def->text,
	         what, strerror(errno));
	return -1;
}

/* Binds to tee_source_ip and/or the pool's src_port before connecting. */
static int bind_source(int fd, const struct relay_rcv *rc, char *err, size_t errlen)
{
	const struct plugin_conf *pc = rc->pool->pc;
	struct sockaddr_storage ss;
	struct wip a;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = rc->def->ss.ss_family;
	if (pc->tee_source_ip[0] && wip_parse(&a, pc->tee_source_ip)) {
		/* check_sources() made sure of the family. */
		if (ss.ss_family == AF_INET)
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, a.a + 12, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, a.a, 16);
	} else if (!rc->pool->def.src_port) {
		return 0;
	}
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(rc->pool->def.src_port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(rc->pool->def.src_port);
	/* Every worker binds the same source port. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	socklen_t sl =
	    ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		return sock_fail(err, errlen, rc, "bind to tee_source_ip/src_port");
	return 0;
}

/* A connected UDP socket: ECONNREFUSED on it tells that the receiver is gone. */
static int open_send_socket(const struct relay_rcv *rc, char *err, size_t errlen)
{
	const struct plugin_conf *pc = rc->pool->pc;
	int fam = rc->def->ss.ss_family;
	int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);

	if (fd < 0)
		return sock_fail(err, errlen, rc, "socket");
	if (pc->tee_pipe_size) {
		int sz = (int)pc->tee_pipe_size;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (pc->tee_ipprec) {
		int tos = (int)(pc->tee_ipprec << 5);
		if (fam == AF_INET)
			(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
		else
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	}
	if (bind_source(fd, rc, err, errlen) < 0 ||
	    connect(fd, (const struct sockaddr *)&rc->def->ss, rc->def->len) < 0) {
		if (!*err || !strstr(err, rc->def->text))
			sock_fail(err, errlen, rc, "connect");
		close(fd);
		return -1;
	}
	return fd;
}

/* --- setup --- */

static int add_pools(struct relay *r, const struct plugin_conf *pc, struct relay_rcvfile *f)
{
	struct relay_pool *grown = realloc(r->pools, (r->n_pools + f->n) * sizeof(*grown));

	if (!grown)
		return -1;
	r->pools = grown;
	for (size_t i = 0; i < f->n; i++) {
		struct relay_pool *pl = &r->pools[r->n_pools];
		memset(pl, 0, sizeof(*pl));
		pl->def = f->pools[i]; /* takes the receivers and the exporter list */
		pl->pc = pc;
		pl->gidx = (unsigned)r->n_pools;
		pl->transparent = pc->tee_transparent;
		r->n_pools++;
	}
	free(f->pools);
	memset(f, 0, sizeof(*f));
	return 0;
}

static int index_receivers(struct relay *r)
{
	for (size_t i = 0; i < r->n_pools; i++)
		r->n_rcv += r->pools[i].def.n_rcv;
	r->rcv = calloc(r->n_rcv ? r->n_rcv : 1, sizeof(*r->rcv));
	if (!r->rcv)
		return -1;
	unsigned g = 0;
	for (size_t i = 0; i < r->n_pools; i++) {
		struct relay_pool *pl = &r->pools[i];
		pl->rcv = calloc(pl->def.n_rcv, sizeof(*pl->rcv));
		if (!pl->rcv)
			return -1;
		for (size_t k = 0; k < pl->def.n_rcv; k++) {
			struct relay_rcv *rc = &pl->rcv[k];
			rc->pool = pl;
			rc->idx = (unsigned)k;
			rc->gidx = g;
			rc->def = &pl->def.rcv[k];
			rc->key = relay_rcv_key(rc->def->text);
			rc->probe_fd = -1;
			rc->raw_dst = rc->def->ss;
			if (rc->raw_dst.ss_family == AF_INET)
				((struct sockaddr_in *)&rc->raw_dst)->sin_port = 0;
			else
				((struct sockaddr_in6 *)&rc->raw_dst)->sin6_port = 0;
			r->rcv[g++] = rc;
		}
	}
	return 0;
}

static bool needs_raw(const struct relay *r, int family)
{
	for (size_t i = 0; i < r->n_rcv; i++)
		if (r->rcv[i]->pool->transparent && r->rcv[i]->def->ss.ss_family == family)
			return true;
	return false;
}

static int worker_open(struct relay *r, struct relay_worker *w, char *err, size_t errlen)
{
	w->r = r;
	w->raw4 = w->raw6 = -1;
	w->q = calloc(r->n_rcv ? r->n_rcv : 1, sizeof(*w->q));
	w->dirty = calloc(r->n_rcv ? r->n_rcv : 1, sizeof(*w->dirty));
	w->pool = calloc(r->n_pools, sizeof(*w->pool));
	w->exp = calloc(RELAY_EXP_SLOTS, sizeof(*w->exp));
	w->scratch = malloc(RELAY_SCRATCH);
	if (!w->q || !w->dirty || !w->pool || !w->exp || !w->scratch) {
		snprintf(err, errlen, "relay: out of memory");
		return -1;
	}
	for (size_t i = 0; i < r->n_rcv; i++)
		w->q[i].fd = -1;
	ratelimit_init(&w->rl, 20);
	if (needs_raw(r, AF_INET) && (w->raw4 = relay_raw_open(AF_INET, err, errlen)) < 0)
		return -1;
	if (needs_raw(r, AF_INET6) && (w->raw6 = relay_raw_open(AF_INET6, err, errlen)) < 0)
		return -1;
	for (size_t i = 0; i < r->n_rcv; i++) {
		if (r->rcv[i]->pool->transparent)
			continue;
		err[0] = '\0';
		w->q[i].fd = open_send_socket(r->rcv[i], err, errlen);
		if (w->q[i].fd < 0)
			return -1;
	}
	return 0;
}

static void worker_free(struct relay *r, struct relay_worker *w)
{
	if (w->q)
		for (size_t i = 0; i < r->n_rcv; i++)
			if (w->q[i].fd >= 0)
				close(w->q[i].fd);
	if (w->raw4 >= 0)
		close(w->raw4);
	if (w->raw6 >= 0)
		close(w->raw6);
	free(w->q);
	free(w->dirty);
	free(w->pool);
	free(w->exp);
	free(w->scratch);
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	relay_stop(r);
	if (r->w)
		for (unsigned i = 0; i < r->n_workers; i++)
			worker_free(r, &r->w[i]);
	free(r->w);
	for (size_t i = 0; i < r->n_pools; i++) {
		struct relay_pool *pl = &r->pools[i];
		if (pl->rcv)
			for (size_t k = 0; k < pl->def.n_rcv; k++)
				if (pl->rcv[k].probe_fd >= 0)
					close(pl->rcv[k].probe_fd);
		free(pl->rcv);
		free(pl->def.rcv);
		if (pl->def.exporters)
			allow_list_free(pl->def.exporters);
	}
	free(r->pools);
	free(r->rcv);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	free(r);
}

static int load_files(struct relay *r, const struct plugin_conf *const *pcs, size_t n_pcs,
                      char *err, size_t errlen)
{
	for (size_t i = 0; i < n_pcs; i++) {
		const struct plugin_conf *pc = pcs[i];
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
		if (add_pools(r, pc, &f) < 0) {
			relay_rcvfile_free(&f);
			snprintf(err, errlen, "relay: out of memory");
			return -1;
		}
	}
	/* One probe thread serves every tee plugin: the first one's interval applies. */
	if (n_pcs && pcs[0]->tee_probe_ms)
		r->probe_ms = pcs[0]->tee_probe_ms;
	return 0;
}

/* tee_source_ip must be of each receiver's family (transparent pools ignore it). */
static int check_sources(const struct relay *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->n_rcv; i++) {
		const struct relay_rcv *rc = r->rcv[i];
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

struct relay *relay_open(const struct plugin_conf *const *pcs, size_t n_pcs, unsigned n_workers,
                         int *exit_code, char *err, size_t errlen)
{
	struct relay *r = calloc(1, sizeof(*r));

	*exit_code = 1;
	if (!r) {
		snprintf(err, errlen, "relay: out of memory");
		return NULL;
	}
	r->stop_fd = -1;
	r->probe_ms = 1000;
	r->n_workers = n_workers ? n_workers : 1;
	if (load_files(r, pcs, n_pcs, err, errlen) < 0)
		goto bad_config;
	if (index_receivers(r) < 0 || !(r->w = calloc(r->n_workers, sizeof(*r->w))))
		goto oom;
	if (check_sources(r, err, errlen) < 0)
		goto bad_config;
	for (unsigned i = 0; i < r->n_workers; i++) {
		r->w[i].id = i;
		r->w[i].raw4 = r->w[i].raw6 = -1;
	}
	for (unsigned i = 0; i < r->n_workers; i++)
		if (worker_open(r, &r->w[i], err, errlen) < 0)
			goto fail;
	return r;
oom:
	snprintf(err, errlen, "relay: out of memory");
	goto fail;
bad_config:
	*exit_code = 2;
fail:
	relay_free(r);
	return NULL;
}

int relay_start(struct relay *r, char *err, size_t errlen)
{
	r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->stop_fd < 0) {
		snprintf(err, errlen, "relay: eventfd: %s", strerror(errno));
		return -1;
	}
	int rc = pthread_create(&r->probe_thr, NULL, relay_probe_main, r);
	if (rc) {
		snprintf(err, errlen, "relay: probe thread: %s", strerror(rc));
		return -1;
	}
	r->probe_running = true;
	return 0;
}

void relay_stop(struct relay *r)
{
	uint64_t one = 1;

	if (!r->probe_running)
		return;
	if (write(r->stop_fd, &one, sizeof(one)) < 0)
		WLOG(LL_ERR, "relay: eventfd: %s", strerror(errno));
	pthread_join(r->probe_thr, NULL);
	r->probe_running = false;
}

/* --- the tee plugin inside weir collect --- */

static void tap_dgram(void *arg, unsigned worker, const struct udp_dgram *d, uint16_t port)
{
	relay_input(arg, worker, d, port);
}

static void tap_flush(void *arg, unsigned worker)
{
	relay_flush(arg, worker);
}

static void tap_stats(void *arg, FILE *out)
{
	relay_stats_print(arg, out);
}

void relay_ingest_tap(struct relay *r, struct ingest_tap *tap)
{
	tap->dgram = tap_dgram;
	tap->flush = tap_flush;
	tap->stats = tap_stats;
	tap->arg = r;
}
