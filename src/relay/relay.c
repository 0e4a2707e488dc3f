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
	unsigned old = atomic_fetch_or_explicit(&rc->st->down, why, memory_order_acq_rel);

	if (old)
		return;
	atomic_fetch_add_explicit(&rc->st->changes, 1, RLX);
	WLOG(LL_WARN,
	     "relay: pool %u receiver %s is down (%s: %s): its exporters move to the other "
	     "receivers of the pool",
	     rc->pool->def.id, rc->def->text, down_reason(why), detail);
}

void relay_rcv_up(struct relay_rcv *rc, unsigned why, const char *detail)
{
	unsigned old = atomic_fetch_and_explicit(&rc->st->down, ~why, memory_order_acq_rel);

	if (!old || (old & ~why))
		return;
	atomic_fetch_add_explicit(&rc->st->changes, 1, RLX);
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
int relay_open_send_socket(const struct relay_rcv *rc, char *err, size_t errlen)
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

static int worker_init(struct relay *r, struct relay_worker *w, unsigned id)
{
	w->r = r;
	w->id = id;
	w->raw4 = w->raw6 = -1;
	w->exp = calloc(RELAY_EXP_SLOTS, sizeof(*w->exp));
	w->scratch = malloc(RELAY_SCRATCH);
	w->tagc = calloc(RELAY_TAG_SLOTS, sizeof(*w->tagc));
	ratelimit_init(&w->rl, 20);
	return w->exp && w->scratch && w->tagc ? 0 : -1;
}

static void worker_free(struct relay_worker *w)
{
	if (w->raw4 >= 0)
		close(w->raw4);
	if (w->raw6 >= 0)
		close(w->raw6);
	free(w->exp);
	free(w->scratch);
	free(w->tagc);
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	relay_stop(r);
	while (r->retired) {
		struct relay_set *s = r->retired;
		r->retired = s->next;
		relay_set_free(r, s);
	}
	relay_set_free(r, atomic_load(&r->set));
	if (r->w)
		for (unsigned i = 0; i < r->n_workers; i++)
			worker_free(&r->w[i]);
	free(r->w);
	free(r->pcs);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->reload_lock);
	free(r);
}

struct relay *relay_open(const struct plugin_conf *const *pcs, size_t n_pcs, unsigned n_workers,
                         int *exit_code, char *err, size_t errlen)
{
	struct relay *r = calloc(1, sizeof(*r));
	bool config = false;

	*exit_code = 1;
	if (!r) {
		snprintf(err, errlen, "relay: out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->reload_lock, NULL);
	r->stop_fd = -1;
	r->probe_ms = 1000;
	/* One probe thread serves every tee plugin: the first one's interval applies. */
	if (n_pcs && pcs[0]->tee_probe_ms)
		r->probe_ms = pcs[0]->tee_probe_ms;
	r->n_workers = n_workers ? n_workers : 1;
	r->n_pcs = n_pcs;
	r->pcs = calloc(n_pcs ? n_pcs : 1, sizeof(*r->pcs));
	r->w = calloc(r->n_workers, sizeof(*r->w));
	if (!r->pcs || !r->w)
		goto oom;
	memcpy(r->pcs, pcs, n_pcs * sizeof(*pcs));
	for (unsigned i = 0; i < r->n_workers; i++)
		if (worker_init(r, &r->w[i], i) < 0)
			goto oom;
	struct relay_set *s = relay_set_build(r, NULL, &config, err, errlen);
	if (!s) {
		if (config)
			*exit_code = 2;
		relay_free(r);
		return NULL;
	}
	s->published = true;
	atomic_store(&r->set, s);
	return r;
oom:
	snprintf(err, errlen, "relay: out of memory");
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
