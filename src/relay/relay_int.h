/* relay_int.h - the relay's shared state: pools, receivers, per-worker send queues (internal). */
#ifndef WEIR_RELAY_INT_H
#define WEIR_RELAY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ingest/udp.h"
#include "lib/log.h"
#include "relay/rcvfile.h"
#include "weir/flow.h"

#define RELAY_EXP_SLOTS   4096 /* exporters counted per worker; the rest go to "other" */
#define RELAY_EXP_PROBES  16
#define RELAY_TRACK_POOLS 8 /* pools whose exporter moves are logged one by one */
#define RELAY_SCRATCH     (256u * 1024)
#define RELAY_HDR_MAX     48 /* IPv6 + UDP header of a transparent datagram */
#define RELAY_NO_RCV      0xff
#define RELAY_TAG_SLOTS   1024 /* pre_tag_map results cached per worker (direct mapped) */

enum { DOWN_ICMP = 1u << 0, DOWN_HEALTH = 1u << 1 };

struct plugin_conf;
struct relay_pool;
struct tagmap;

/* A receiver's state that outlives a reload while it stays (same plugin, pool, address). */
struct relay_rcv_st {
	_Atomic unsigned down;    /* DOWN_* bits; 0 = up */
	_Atomic uint64_t changes; /* state changes */
	int probe_fd;             /* probe thread only */
	bool probe_pending;
};

struct relay_rcv {
	struct relay_pool *pool;
	unsigned idx;  /* within its pool */
	unsigned gidx; /* within its set: index of the workers' queues */
	const struct relay_rcv_def *def;
	struct sockaddr_storage raw_dst; /* def->ss with port 0, for raw sockets */
	uint64_t key;                    /* rendezvous hash key */
	struct relay_rcv_st *st;
};

struct relay_pool {
	struct relay_pool_def def;
	const struct plugin_conf *pc;
	unsigned gidx;         /* within its set */
	struct relay_rcv *rcv; /* def.n_rcv */
	bool transparent;
};

/* One worker's queue for one receiver: iovecs point into the received datagrams. */
struct rw_queue {
	int fd; /* connected UDP socket; -1 when transparent (the worker's raw socket sends) */
	unsigned n;
	bool queued;           /* listed in the worker's dirty list */
	uint64_t seen_changes; /* the receiver's state changes this queue has caught up with */
	struct mmsghdr msg[UDP_BATCH];
	struct iovec iov[UDP_BATCH][2];
	size_t plen[UDP_BATCH];
	uint8_t hdr[UDP_BATCH][RELAY_HDR_MAX];
	_Atomic uint64_t pkts, bytes, fails;
};

struct rw_pool {
	uint64_t rr, sample_n; /* worker-private */
	_Atomic uint64_t in, bytes_in, filtered, sampled, none, tmpl_copies, tag_filtered;
};

/* A pre_tag_map result for an exporter address, valid for the set of generation gen. */
struct rw_tag {
	struct wip a;
	uint64_t gen; /* 0: empty */
	uint64_t tag;
	bool matched;
};

struct rw_exp {
	struct wip a;
	_Atomic bool used;
	_Atomic uint64_t pin, bin, pout, bout;
	uint8_t last[RELAY_TRACK_POOLS]; /* receiver of each pool last time; worker-private */
};

/*
 * One worker's part of a set. Queues and pool counters are objects of their own so that a
 * reload hands those of the receivers and pools that stay to the new set (sockets, counters).
 */
struct rw_set {
	struct rw_queue **q;   /* by receiver gidx */
	struct rw_pool **pool; /* by pool gidx */
	unsigned *dirty;       /* receivers with queued datagrams */
	unsigned n_dirty;
};

/*
 * The pools and receivers of every tee plugin: built whole, published with one atomic pointer
 * store, never changed after (but for the workers' own queues), freed once every worker and the
 * probe thread went past a quiescent point after it was replaced.
 */
struct relay_set {
	uint64_t gen;
	size_t n_pools;
	struct relay_pool *pools;
	size_t n_rcv;
	struct relay_rcv **rcv; /* by gidx */
	struct rw_set *w;       /* per worker */
	struct tagmap *tags;    /* pre_tag_map, when a pool needs tags; NULL otherwise */
	const char *tags_path;  /* its file (the configuration's string) */
	int *rcv_prev;          /* per receiver: gidx in the set it replaced, or -1 */
	int *pool_prev;         /* per pool: likewise */
	bool published;         /* it owns what it took over from the set it replaced */
	/* Written under relay.lock once it is replaced: */
	bool *rcv_kept, *pool_kept; /* handed to the next set: not freed with this one */
	uint64_t *snap;             /* epochs when replaced (workers, then the probe thread) */
	struct relay_set *next;     /* retired list */
};

struct relay_worker {
	struct relay *r;
	unsigned id;
	_Atomic uint64_t epoch; /* odd from its batch's first datagram until relay_flush() */
	struct relay_set *cur;  /* the set of the batch in progress */
	uint64_t gen;           /* of the set exp[].last refers to */
	struct rw_exp *exp;     /* RELAY_EXP_SLOTS */
	_Atomic uint64_t other_in, other_bytes;
	struct rw_tag *tagc; /* RELAY_TAG_SLOTS, by hash of the tagged address */
	/* Datagrams a rule tagged, none did (tag 0), that every pool refused for its tag. */
	_Atomic uint64_t tagged, untagged, no_tag_pool, tag_lookups;
	int raw4, raw6;   /* opened before the first set that needs them is published */
	uint8_t *scratch; /* template-only copies, reset at each flush */
	size_t scratch_used;
	struct ratelimit rl;
};

struct relay {
	_Atomic(struct relay_set *) set;
	const struct plugin_conf **pcs; /* the tee plugins, for reloads */
	size_t n_pcs;
	unsigned n_workers;
	struct relay_worker *w;
	uint32_t probe_ms;
	int stop_fd;
	pthread_t probe_thr;
	bool probe_running;
	_Atomic uint64_t probe_epoch; /* odd while the probe thread walks a set */
	pthread_mutex_t reload_lock;  /* one reload at a time: only a reload replaces the set */
	pthread_mutex_t lock;         /* retired sets, readers of the set outside the workers */
	struct relay_set *retired;
	_Atomic uint64_t reloads, reload_fails;
};

/* Sockets (relay.c). */
int relay_open_send_socket(const struct relay_rcv *rc, char *err, size_t errlen);

/*
 * Sets (set.c). relay_set_build() loads every plugin's receivers file into a new set whose
 * receivers and pools that stay take over those of `was` (NULL at start); NULL with err set and
 * *config true for file errors. Needs relay.reload_lock when `was` is set.
 */
struct relay_set *relay_set_build(struct relay *r, const struct relay_set *was, bool *config,
                                  char *err, size_t errlen);
void relay_set_free(struct relay *r, struct relay_set *s);
/* The published set, for the threads that are not workers; under relay.lock. */
static inline struct relay_set *relay_set_locked(struct relay *r)
{
	return atomic_load_explicit(&r->set, memory_order_relaxed);
}
/* Frees the retired sets every worker and the probe thread are done with; under relay.lock. */
void relay_reclaim(struct relay *r);

/* What identifies a pool or receiver across reloads (text "" for a pool). */
struct relay_key {
	const void *pc;
	uint32_t pool;
	uint16_t src_port;
	const char *text;
};
/* For each of nw, the index of the equal key of was not yet taken, or -1 (pure). */
void relay_match(const struct relay_key *was, size_t n_was, const struct relay_key *nw, size_t n_nw,
                 int *out);

/* State changes, logged once by whoever makes them (workers and the probe thread). */
void relay_rcv_down(struct relay_rcv *rc, unsigned why, const char *detail);
void relay_rcv_up(struct relay_rcv *rc, unsigned why, const char *detail);

/* The probe thread (probe.c). */
void *relay_probe_main(void *arg);

/* Raw sockets and headers for tee_transparent (raw.c). */
int relay_raw_open(int family, char *err, size_t errlen);
/* IP + UDP header from src:sport to dst, for payload p; returns its length, 0 if too big. */
size_t relay_raw_hdr(uint8_t *h, const struct wip *src, uint16_t sport,
                     const struct sockaddr_storage *dst, const uint8_t *p, size_t plen);

#endif
