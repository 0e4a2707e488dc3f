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

enum { DOWN_ICMP = 1u << 0, DOWN_HEALTH = 1u << 1 };

struct plugin_conf;
struct relay_pool;

struct relay_rcv {
	struct relay_pool *pool;
	unsigned idx;  /* within its pool */
	unsigned gidx; /* index of the workers' queues */
	const struct relay_rcv_def *def;
	struct sockaddr_storage raw_dst; /* def->ss with port 0, for raw sockets */
	uint64_t key;                    /* rendezvous hash key */
	_Atomic unsigned down;           /* DOWN_* bits; 0 = up */
	_Atomic uint64_t changes;        /* state changes */
	int probe_fd;                    /* probe thread only */
	bool probe_pending;
};

struct relay_pool {
	struct relay_pool_def def;
	const struct plugin_conf *pc;
	unsigned gidx;
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
	_Atomic uint64_t in, bytes_in, filtered, sampled, none, tmpl_copies;
};

struct rw_exp {
	struct wip a;
	_Atomic bool used;
	_Atomic uint64_t pin, bin, pout, bout;
	uint8_t last[RELAY_TRACK_POOLS]; /* receiver of each pool last time; worker-private */
};

struct relay_worker {
	struct relay *r;
	unsigned id;
	struct rw_queue *q; /* one per receiver (gidx) */
	unsigned *dirty;    /* receivers with queued datagrams */
	unsigned n_dirty;
	struct rw_pool *pool; /* one per pool */
	struct rw_exp *exp;   /* RELAY_EXP_SLOTS */
	_Atomic uint64_t other_in, other_bytes;
	int raw4, raw6;
	uint8_t *scratch; /* template-only copies, reset at each flush */
	size_t scratch_used;
	struct ratelimit rl;
};

struct relay {
	size_t n_pools;
	struct relay_pool *pools;
	size_t n_rcv;
	struct relay_rcv **rcv; /* by gidx */
	unsigned n_workers;
	struct relay_worker *w;
	uint32_t probe_ms;
	int stop_fd;
	pthread_t probe_thr;
	bool probe_running;
};

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
