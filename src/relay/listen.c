/* listen.c - `weir relay`'s receive side: SO_REUSEPORT sockets per worker, no decoding. */
#include "relay/listen.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ingest/udp.h"
#include "lib/log.h"
#include "relay/relay.h"

#define RX_STEPS    4    /* recvmmsg calls per socket per loop pass */
#define DRAIN_STEPS 4096 /* at stop: bound on the calls that empty a socket */
#define POLL_MS     200

struct lsock {
	int fd;
	const struct listen_addr *la;
	struct udp_info info;
	uint64_t ovfl;
	_Atomic uint64_t dgrams, bytes, kernel_drops, errors;
};

struct lworker {
	struct relay_listen *l;
	unsigned id;
	pthread_t thr;
	bool started;
	struct lsock *s;
	struct pollfd *pfd;
	struct udp_rx *rx;
	struct ratelimit rl;
};

struct relay_listen {
	const struct conf *c;
	struct relay *r;
	unsigned n;
	int stop_fd;
	atomic_bool stop;
	struct lworker w[];
};

static int lworker_open(struct relay_listen *l, struct lworker *w, char *err, size_t errlen)
{
	size_t ns = l->c->n_listen;

	w->s = calloc(ns, sizeof(*w->s));
	w->pfd = calloc(ns + 1, sizeof(*w->pfd));
	w->rx = udp_rx_new();
	if (!w->s || !w->pfd || !w->rx) {
		snprintf(err, errlen, "relay: out of memory");
		return -1;
	}
	for (size_t i = 0; i < ns; i++)
		w->s[i].fd = -1;
	for (size_t i = 0; i < ns; i++) {
		struct lsock *s = &w->s[i];
		s->la = &l->c->listen[i];
		s->fd = udp_open(s->la, l->c->pipe_size, &s->info, err, errlen);
		if (s->fd < 0)
			return -1;
		w->pfd[i] = (struct pollfd){.fd = s->fd, .events = POLLIN};
	}
	w->pfd[ns] = (struct pollfd){.fd = l->stop_fd, .events = POLLIN};
	ratelimit_init(&w->rl, 10);
	return 0;
}

struct relay_listen *relay_listen_open(const struct conf *c, unsigned n_workers, struct relay *r,
                                       char *err, size_t errlen)
{
	struct relay_listen *l;

	if (c->n_listen == 0) {
		snprintf(err, errlen, "no listener configured (nfacctd_ip, nfacctd_port)");
		return NULL;
	}
	l = calloc(1, sizeof(*l) + n_workers * sizeof(l->w[0]));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->c = c;
	l->r = r;
	l->n = n_workers;
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		relay_listen_free(l);
		return NULL;
	}
	for (unsigned i = 0; i < n_workers; i++) {
		l->w[i].l = l;
		l->w[i].id = i;
		if (lworker_open(l, &l->w[i], err, errlen) < 0) {
			relay_listen_free(l);
			return NULL;
		}
	}
	return l;
}

/* Up to max_calls recvmmsg batches; each batch is relayed before the buffers are reused. */
static void rx_socket(struct lworker *w, struct lsock *s, unsigned max_calls)
{
	for (unsigned k = 0; k < max_calls; k++) {
		int n = udp_recv(w->rx, s->fd, &s->ovfl);
		if (n < 0) {
			atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
			if (ratelimit_ok(&w->rl, mono_ms()))
				WLOG(LL_WARN, "udp %s: recvmmsg: %s", s->la->text, strerror(errno));
			return;
		}
		if (n == 0)
			return;
		uint64_t bytes = 0;
		for (int i = 0; i < n; i++) {
			const struct udp_dgram *d = udp_rx_get(w->rx, i);
			relay_input(w->l->r, w->id, d, s->info.port);
			bytes += d->len;
		}
		relay_flush(w->l->r, w->id);
		atomic_fetch_add_explicit(&s->dgrams, (uint64_t)n, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->bytes, bytes, memory_order_relaxed);
		atomic_store_explicit(&s->kernel_drops, s->ovfl, memory_order_relaxed);
		if (n < UDP_BATCH)
			return;
	}
}

static void *lworker_main(void *arg)
{
	struct lworker *w = arg;
	struct relay_listen *l = w->l;
	size_t ns = l->c->n_listen;

	while (!atomic_load_explicit(&l->stop, memory_order_acquire)) {
		int rc = poll(w->pfd, ns + 1, POLL_MS);
		if (rc > 0)
			for (size_t i = 0; i < ns; i++)
				if (w->pfd[i].revents & (POLLIN | POLLERR))
					rx_socket(w, &w->s[i], RX_STEPS);
	}
	for (size_t i = 0; i < ns; i++)
		rx_socket(w, &w->s[i], DRAIN_STEPS);
	return NULL;
}

int relay_listen_start(struct relay_listen *l, char *err, size_t errlen)
{
	for (unsigned i = 0; i < l->n; i++) {
		int rc = pthread_create(&l->w[i].thr, NULL, lworker_main, &l->w[i]);
		if (rc) {
			snprintf(err, errlen, "worker %u: %s", i, strerror(rc));
			relay_listen_stop(l);
			return -1;
		}
		l->w[i].started = true;
	}
	return 0;
}

void relay_listen_stop(struct relay_listen *l)
{
	uint64_t one = 1;

	atomic_store_explicit(&l->stop, true, memory_order_release);
	if (write(l->stop_fd, &one, sizeof(one)) < 0)
		WLOG(LL_ERR, "relay: eventfd: %s", strerror(errno));
	for (unsigned i = 0; i < l->n; i++) {
		if (!l->w[i].started)
			continue;
		pthread_join(l->w[i].thr, NULL);
		l->w[i].started = false;
	}
}

void relay_listen_describe(const struct relay_listen *l, FILE *out)
{
	for (size_t i = 0; i < l->c->n_listen; i++) {
		const struct lsock *s = &l->w[0].s[i];
		fprintf(out, "listening: udp %s (%u socket%s, receive buffer %d bytes each%s)\n",
		        l->c->listen[i].text, l->n, l->n == 1 ? "" : "s", s->info.rcvbuf_got / 2,
		        s->info.rcvbuf_capped ? ", capped by net.core.rmem_max" : "");
	}
}

void relay_listen_stats(const struct relay_listen *l, FILE *out)
{
	unsigned long long total = 0;

	for (unsigned w = 0; w < l->n; w++) {
		for (size_t i = 0; i < l->c->n_listen; i++) {
			const struct lsock *s = &l->w[w].s[i];
			int64_t proc = udp_proc_drops(s->info.inode);
			uint64_t drops =
			    atomic_load_explicit(&s->kernel_drops, memory_order_relaxed);
			if (proc > 0 && (uint64_t)proc > drops)
				drops = (uint64_t)proc;
			total += drops;
			fprintf(
			    out,
			    "worker %u udp %s: datagrams %llu bytes %llu kernel_drops %llu errors "
			    "%llu\n",
			    w, s->la->text,
			    (unsigned long long)atomic_load_explicit(&s->dgrams,
			                                             memory_order_relaxed),
			    (unsigned long long)atomic_load_explicit(&s->bytes,
			                                             memory_order_relaxed),
			    (unsigned long long)drops,
			    (unsigned long long)atomic_load_explicit(&s->errors,
			                                             memory_order_relaxed));
		}
	}
	fprintf(out, "kernel_drops total %llu\n", total);
}

void relay_listen_free(struct relay_listen *l)
{
	if (!l)
		return;
	for (unsigned i = 0; i < l->n; i++) {
		struct lworker *w = &l->w[i];
		if (w->s)
			for (size_t k = 0; k < l->c->n_listen; k++)
				if (w->s[k].fd >= 0)
					close(w->s[k].fd);
		free(w->s);
		free(w->pfd);
		udp_rx_free(w->rx);
	}
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	free(l);
}
