/* probe.c - the relay's probe thread: brings receivers back (ICMP silence, HTTP /healthz). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "relay/relay_int.h"

#define HTTP_TIMEOUT_MS 1000

/* Waits up to ms for events on fd; false on timeout or error. */
static bool wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int rc = poll(&p, 1, ms);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc > 0 && (p.revents & events);
	}
}

/* GET path over HTTP/1.0 from the receiver's address at port; true on a 200 status. */
static bool http_ok(const struct relay_rcv *rc, int timeout_ms, char *why, size_t whylen)
{
	struct sockaddr_storage ss = rc->def->ss;
	const struct relay_pool_def *pd = &rc->pool->def;
	char req[160], resp[64];
	int err = 0;
	socklen_t el = sizeof(err);
	size_t got = 0;
	bool ok = false;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(pd->healthz_port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(pd->healthz_port);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return false;
	}
	if (connect(fd, (struct sockaddr *)&ss, rc->def->len) < 0 && errno != EINPROGRESS) {
		snprintf(why, whylen, "connect: %s", strerror(errno));
		goto out;
	}
	if (!wait_fd(fd, POLLOUT, timeout_ms) ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		snprintf(why, whylen, "connect to port %u: %s", pd->healthz_port,
		         err ? strerror(err) : "timed out");
		goto out;
	}
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nConnection: close\r\n\r\n",
	                 pd->healthz_path);
	if (write(fd, req, (size_t)n) != n) {
		snprintf(why, whylen, "write: %s", strerror(errno));
		goto out;
	}
	while (got < sizeof(resp) - 1 && wait_fd(fd, POLLIN, timeout_ms)) {
		ssize_t k = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (memchr(resp, '\n', got))
			break;
	}
	resp[got] = '\0';
	resp[strcspn(resp, "\r\n")] = '\0';
	ok = !strncmp(resp, "HTTP/1.", 7) && !strncmp(resp + 8, " 200", 4);
	if (!ok)
		snprintf(why, whylen, "GET %s: '%.40s'", pd->healthz_path,
		         got ? resp : "no answer");
out:
	close(fd);
	return ok;
}

static void probe_health(struct relay *r, struct relay_rcv *rc)
{
	char why[160];
	int t = r->probe_ms < HTTP_TIMEOUT_MS ? (int)r->probe_ms : HTTP_TIMEOUT_MS;

	if (http_ok(rc, t, why, sizeof(why)))
		relay_rcv_up(rc, DOWN_HEALTH | DOWN_ICMP, "healthz answered 200");
	else
		relay_rcv_down(rc, DOWN_HEALTH, why);
}

/*
 * A receiver taken out for ICMP port unreachable gets an empty datagram per interval from a
 * connected socket; an interval without a new ECONNREFUSED brings it back. Collectors drop
 * the empty datagram as too short.
 */
static void probe_icmp(struct relay_rcv *rc)
{
	struct relay_rcv_st *st = rc->st;
	int err = 0;
	socklen_t el = sizeof(err);

	if (st->probe_fd < 0) {
		st->probe_fd =
		    socket(rc->def->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
		if (st->probe_fd < 0)
			return;
		if (connect(st->probe_fd, (const struct sockaddr *)&rc->def->ss, rc->def->len) <
		    0) {
			close(st->probe_fd);
			st->probe_fd = -1;
			return;
		}
		st->probe_pending = false;
	}
	if (st->probe_pending) {
		(void)getsockopt(st->probe_fd, SOL_SOCKET, SO_ERROR, &err, &el);
		st->probe_pending = false;
		if (err != ECONNREFUSED) {
			relay_rcv_up(rc, DOWN_ICMP, "no ICMP port unreachable for a probe");
			return;
		}
	}
	/* A refusal still pending from an earlier probe is reported by this send: try twice. */
	for (int i = 0; i < 2 && !st->probe_pending; i++)
		st->probe_pending = send(st->probe_fd, "", 0, MSG_DONTWAIT) == 0;
}

static void probe_set(struct relay *r, struct relay_set *s)
{
	for (size_t i = 0; i < s->n_rcv; i++) {
		struct relay_rcv *rc = s->rcv[i];
		if (rc->pool->def.healthz_port)
			probe_health(r, rc);
		else if (atomic_load_explicit(&rc->st->down, memory_order_acquire) & DOWN_ICMP)
			probe_icmp(rc);
	}
}

/*
 * One pass over the published set, held like a worker holds it for a batch (odd epoch), then
 * the sets replaced since that nobody holds any more are freed.
 */
static void probe_all(struct relay *r)
{
	atomic_fetch_add(&r->probe_epoch, 1);
	probe_set(r, atomic_load(&r->set));
	atomic_fetch_add_explicit(&r->probe_epoch, 1, memory_order_release);
	pthread_mutex_lock(&r->lock);
	relay_reclaim(r);
	pthread_mutex_unlock(&r->lock);
}

void *relay_probe_main(void *arg)
{
	struct relay *r = arg;

	probe_all(r);
	while (!wait_fd(r->stop_fd, POLLIN, (int)r->probe_ms))
		probe_all(r);
	return NULL;
}
