/* send.c - the relay's hot path: pick receivers per pool, queue, sendmmsg per receiver. */
#include <errno.h>
#include <string.h>

#include "enrich/tagmap.h"
#include "lib/prefix.h"
#include "relay/pick.h"
#include "relay/relay.h"
#include "relay/relay_int.h"

#define RLX memory_order_relaxed

static void add(_Atomic uint64_t *c, uint64_t v)
{
	/* Only the owning worker writes: a plain load + store is enough for readers. */
	atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

static bool rcv_up(const struct relay_rcv *rc)
{
	return atomic_load_explicit(&rc->st->down, memory_order_acquire) == 0;
}

/* The worker's counters for an exporter; NULL when its table is full (counted as other). */
static struct rw_exp *exp_find(struct relay_worker *w, const struct wip *a, uint64_t h)
{
	for (unsigned i = 0; i < RELAY_EXP_PROBES; i++) {
		struct rw_exp *e = &w->exp[(h + i) & (RELAY_EXP_SLOTS - 1)];
		if (!atomic_load_explicit(&e->used, memory_order_acquire)) {
			e->a = *a;
			memset(e->last, RELAY_NO_RCV, sizeof(e->last));
			atomic_store_explicit(&e->used, true, memory_order_release);
			return e;
		}
		if (!memcmp(&e->a, a, sizeof(*a)))
			return e;
	}
	return NULL;
}

static void send_failed(struct relay_worker *w, struct relay_rcv *rc, const char *what, int err)
{
	if (ratelimit_ok(&w->rl, mono_ms()))
		WLOG(LL_WARN, "relay: pool %u receiver %s: %s: %s", rc->pool->def.id, rc->def->text,
		     what, strerror(err));
}

/* After the receiver changed state, an ICMP error this socket kept from before is stale. */
static void drop_stale_error(struct rw_queue *q, const struct relay_rcv *rc)
{
	uint64_t changes = atomic_load_explicit(&rc->st->changes, RLX);
	int e = 0;
	socklen_t el = sizeof(e);

	if (changes == q->seen_changes)
		return;
	if (q->fd >= 0)
		(void)getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &e, &el);
	q->seen_changes = changes;
}

/* Sends one receiver's queue; on ECONNREFUSED the receiver is taken out of its pool. */
static void flush_queue(struct relay_worker *w, struct rw_set *ws, struct relay_rcv *rc)
{
	struct rw_queue *q = ws->q[rc->gidx];
	int fd = q->fd;
	unsigned off = 0, sent = 0;
	uint64_t bytes = 0;

	if (fd < 0)
		fd = rc->def->ss.ss_family == AF_INET ? w->raw4 : w->raw6;
	drop_stale_error(q, rc);
	while (off < q->n) {
		int k = sendmmsg(fd, q->msg + off, q->n - off, 0);
		if (k > 0) {
			for (int i = 0; i < k; i++)
				bytes += q->plen[off + (unsigned)i];
			off += (unsigned)k;
			sent += (unsigned)k;
			continue;
		}
		int e = errno;
		if (k < 0 && e == EINTR)
			continue;
		if (k < 0 && e == ECONNREFUSED) {
			relay_rcv_down(rc, DOWN_ICMP, "ICMP port unreachable");
			add(&q->fails, q->n - off);
			break;
		}
		send_failed(w, rc, k < 0 ? "send" : "send returned 0", k < 0 ? e : EIO);
		add(&q->fails, 1);
		off++;
	}
	add(&q->pkts, sent);
	add(&q->bytes, bytes);
	q->n = 0;
}

/* Sends every queue of the batch in progress; the batch goes on. */
static void flush_all(struct relay_worker *w)
{
	struct relay_set *s = w->cur;
	struct rw_set *ws = &s->w[w->id];

	for (unsigned i = 0; i < ws->n_dirty; i++) {
		flush_queue(w, ws, s->rcv[ws->dirty[i]]);
		ws->q[ws->dirty[i]]->queued = false;
	}
	ws->n_dirty = 0;
	w->scratch_used = 0;
}

/*
 * The set for the batch that starts: the epoch turns odd before the set pointer is read (both
 * seq_cst, against the reloader's store then epoch read), so a reloader either sees the odd
 * epoch or the worker sees the new set.
 */
static struct relay_set *batch_begin(struct relay *r, struct relay_worker *w)
{
	if (w->cur)
		return w->cur;
	atomic_fetch_add(&w->epoch, 1);
	struct relay_set *s = atomic_load(&r->set);
	if (s->gen != w->gen) {
		/* Pool and receiver indexes changed: forget where exporters went. */
		for (size_t i = 0; i < RELAY_EXP_SLOTS; i++)
			memset(w->exp[i].last, RELAY_NO_RCV, sizeof(w->exp[i].last));
		w->gen = s->gen;
	}
	w->cur = s;
	return s;
}

void relay_flush(struct relay *r, unsigned worker)
{
	struct relay_worker *w = &r->w[worker];

	if (!w->cur)
		return;
	flush_all(w);
	w->cur = NULL;
	/* Quiescent point: this worker holds no pointer into any set until its next batch. */
	atomic_fetch_add_explicit(&w->epoch, 1, memory_order_release);
}

/* Queues p (the datagram or a template copy) for rc. */
static void enqueue(struct relay_worker *w, struct relay_rcv *rc, const struct udp_dgram *d,
                    const uint8_t *p, size_t len, struct rw_exp *e)
{
	struct rw_set *ws = &w->cur->w[w->id];
	struct rw_queue *q = ws->q[rc->gidx];

	if (q->n == UDP_BATCH)
		flush_queue(w, ws, rc);
	unsigned i = q->n;
	struct msghdr *mh = &q->msg[i].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	mh->msg_iov = q->iov[i];
	if (rc->pool->transparent) {
		size_t hl = relay_raw_hdr(q->hdr[i], &d->src, d->src_port, &rc->def->ss, p, len);
		if (!hl) {
			add(&q->fails, 1);
			send_failed(w, rc,
			            "transparent copy impossible (exporter family differs or "
			            "datagram too big)",
			            EAFNOSUPPORT);
			return;
		}
		q->iov[i][0] = (struct iovec){q->hdr[i], hl};
		q->iov[i][1] = (struct iovec){(void *)(uintptr_t)p, len};
		mh->msg_iovlen = 2;
		mh->msg_name = &rc->raw_dst;
		mh->msg_namelen = rc->def->len;
	} else {
		q->iov[i][0] = (struct iovec){(void *)(uintptr_t)p, len};
		mh->msg_iovlen = 1;
	}
	q->plen[i] = len;
	q->n++;
	if (!q->queued) {
		q->queued = true;
		ws->dirty[ws->n_dirty++] = rc->gidx;
	}
	if (e) {
		add(&e->pout, 1);
		add(&e->bout, len);
	}
}

/* Rendezvous hashing over the receivers that are up: only a dead one's exporters move. */
static struct relay_rcv *pick_hash(struct relay_pool *pl, uint64_t h)
{
	struct relay_rcv *best = NULL;
	uint64_t best_score = 0;

	for (size_t i = 0; i < pl->def.n_rcv; i++) {
		struct relay_rcv *rc = &pl->rcv[i];
		uint64_t s = relay_score(h, rc->key);
		if (rcv_up(rc) && (!best || s > best_score)) {
			best = rc;
			best_score = s;
		}
	}
	return best;
}

/* pmacct's hash-tag (tag % receivers); a receiver that is down hands its tags out by hash. */
static struct relay_rcv *pick_tag(struct relay_pool *pl, uint64_t tag)
{
	struct relay_rcv *rc = &pl->rcv[tag % pl->def.n_rcv];

	return rcv_up(rc) ? rc : pick_hash(pl, relay_hash_tag(tag));
}

static struct relay_rcv *pick_rr(struct relay_pool *pl, struct rw_pool *rp)
{
	size_t n = pl->def.n_rcv;

	for (size_t k = 0; k < n; k++) {
		struct relay_rcv *rc = &pl->rcv[rp->rr++ % n];
		if (rcv_up(rc))
			return rc;
	}
	return NULL;
}

static struct relay_rcv *pick_port(struct relay_pool *pl, uint16_t port)
{
	for (size_t i = 0; i < pl->def.n_rcv; i++)
		if (pl->rcv[i].def->in_port == port && rcv_up(&pl->rcv[i]))
			return &pl->rcv[i];
	return NULL;
}

static void log_move(struct relay_worker *w, struct relay_pool *pl, struct rw_exp *e,
                     const struct relay_rcv *to)
{
	if (!e || pl->gidx >= RELAY_TRACK_POOLS)
		return;
	uint8_t *last = &e->last[pl->gidx];
	uint8_t now = to ? (uint8_t)to->idx : RELAY_NO_RCV;
	if (*last != RELAY_NO_RCV && *last != now && ratelimit_ok(&w->rl, mono_ms())) {
		char a[64];
		wip_str(&e->a, a, sizeof(a));
		WLOG(LL_NOTICE, "relay: pool %u: exporter %s moves from %s to %s", pl->def.id, a,
		     pl->rcv[*last].def->text, to ? to->def->text : "(no receiver up)");
	}
	if (to)
		*last = now;
}

/* A template-only copy of d in the worker's scratch space (flushing first if it is full). */
static const uint8_t *template_copy(struct relay_worker *w, const struct udp_dgram *d, size_t *len)
{
	if (RELAY_SCRATCH - w->scratch_used < d->len)
		flush_all(w);
	uint8_t *out = w->scratch + w->scratch_used;
	*len = relay_templates_copy(d->data, d->len, out, RELAY_SCRATCH - w->scratch_used);
	w->scratch_used += *len;
	return *len ? out : NULL;
}

/* rr: data to one receiver, templates to every receiver that is up. */
static void send_rr(struct relay_worker *w, struct relay_pool *pl, struct rw_pool *rp,
                    const struct udp_dgram *d, unsigned sets, struct rw_exp *e)
{
	struct relay_rcv *to = pick_rr(pl, rp);
	const uint8_t *copy = NULL;
	size_t clen = 0;

	if (!to) {
		add(&rp->none, 1);
		return;
	}
	enqueue(w, to, d, d->data, d->len, e);
	if (!(sets & RS_TEMPLATES))
		return;
	if (sets & RS_DATA)
		copy = template_copy(w, d, &clen);
	else
		copy = d->data, clen = d->len;
	if (!copy)
		return;
	for (size_t i = 0; i < pl->def.n_rcv; i++) {
		struct relay_rcv *rc = &pl->rcv[i];
		if (rc != to && rcv_up(rc)) {
			enqueue(w, rc, d, copy, clen, e);
			add(&rp->tmpl_copies, 1);
		}
	}
}

static void send_pool(struct relay_worker *w, struct relay_pool *pl, const struct udp_dgram *d,
                      uint16_t port, uint64_t h, uint64_t tag, unsigned sets, struct rw_exp *e)
{
	struct rw_pool *rp = w->cur->w[w->id].pool[pl->gidx];
	struct relay_rcv *to = NULL;

	switch (pl->def.bal) {
	case RB_ALL:
		for (size_t i = 0; i < pl->def.n_rcv; i++)
			if (rcv_up(&pl->rcv[i]))
				enqueue(w, &pl->rcv[i], d, d->data, d->len, e), to = &pl->rcv[i];
		break;
	case RB_RR:
		send_rr(w, pl, rp, d, sets, e);
		return;
	case RB_DST_PORT:
		to = pick_port(pl, port);
		if (to)
			enqueue(w, to, d, d->data, d->len, e);
		break;
	case RB_HASH_AGENT:
	case RB_HASH_TAG:
		to = pl->def.bal == RB_HASH_TAG ? pick_tag(pl, tag) : pick_hash(pl, h);
		log_move(w, pl, e, to);
		if (to)
			enqueue(w, to, d, d->data, d->len, e);
		break;
	}
	if (!to)
		add(&rp->none, 1);
}

/*
 * The datagram's pre_tag_map tag: rules match the exporter (the sFlow agent address for sFlow,
 * as sfacctd; the UDP source otherwise), so the result is cached per address and set.
 */
static uint64_t tag_of(struct relay_worker *w, const struct relay_set *s, const struct udp_dgram *d,
                       uint32_t proto, uint64_t h)
{
	struct wip agent;
	const struct wip *a = &d->src;

	if (proto == RP_SFLOW && relay_sflow_agent(d->data, d->len, &agent) &&
	    memcmp(&agent, &d->src, sizeof(agent))) {
		a = &agent;
		h = relay_hash_addr(a);
	}
	struct rw_tag *t = &w->tagc[h & (RELAY_TAG_SLOTS - 1)];
	if (t->gen != s->gen || memcmp(&t->a, a, sizeof(*a))) {
		t->a = *a;
		t->gen = s->gen;
		t->matched = tagmap_exporter_tag(s->tags, a, &t->tag);
		add(&w->tag_lookups, 1);
	}
	add(t->matched ? &w->tagged : &w->untagged, 1);
	return t->tag;
}

void relay_input(struct relay *r, unsigned worker, const struct udp_dgram *d, uint16_t port)
{
	struct relay_worker *w = &r->w[worker];
	struct relay_set *s = batch_begin(r, w);
	struct rw_set *ws = &s->w[worker];
	uint64_t h = relay_hash_addr(&d->src);
	struct rw_exp *e = exp_find(w, &d->src, h);
	uint32_t proto = relay_proto_of(d->data, d->len);
	unsigned sets = 0;
	bool sets_known = false, tag_passed = false, tag_refused = false;
	uint64_t tag = s->tags ? tag_of(w, s, d, proto, h) : 0;

	if (e) {
		add(&e->pin, 1);
		add(&e->bin, d->len);
	} else {
		add(&w->other_in, 1);
		add(&w->other_bytes, d->len);
	}
	for (size_t i = 0; i < s->n_pools; i++) {
		struct relay_pool *pl = &s->pools[i];
		struct rw_pool *rp = ws->pool[i];
		add(&rp->in, 1);
		add(&rp->bytes_in, d->len);
		if ((pl->def.protos && !(pl->def.protos & proto)) ||
		    (pl->def.exporters && !allow_list_match(pl->def.exporters, &d->src))) {
			add(&rp->filtered, 1);
			continue;
		}
		if (!relay_tags_pass(&pl->def, tag)) {
			add(&rp->tag_filtered, 1);
			tag_refused = true;
			continue;
		}
		tag_passed = true;
		if (!sets_known && (pl->def.bal == RB_RR || pl->def.sample > 1)) {
			sets = relay_sets_of(d->data, d->len);
			sets_known = true;
		}
		/* Sampling thins data only: a receiver without templates decodes nothing. */
		if (pl->def.sample > 1 && !(sets & RS_TEMPLATES) &&
		    rp->sample_n++ % pl->def.sample != 0) {
			add(&rp->sampled, 1);
			continue;
		}
		send_pool(w, pl, d, port, h, tag, sets, e);
	}
	if (tag_refused && !tag_passed)
		add(&w->no_tag_pool, 1);
}
