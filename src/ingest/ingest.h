/* ingest.h - the ingest workers: UDP sockets per worker, decode state per worker, hand-off to
 * plugins. */
#ifndef WEIR_INGEST_H
#define WEIR_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct allow_list;
struct conf;
struct decode_limits;
struct ingest;
struct plugin_set;
struct sfcounters;

/*
 * The decoder bounds of c (exporters, templates, hold, log rate, time_new, renormalization)
 * with allow list `allow`; intern is left NULL for the caller to set.
 */
void ingest_decode_limits(struct decode_limits *l, const struct conf *c,
                          const struct allow_list *allow);

/* One UDP socket's counters. */
struct ingest_sock_stats {
	unsigned worker;
	char listen[80]; /* the listener as configured: "0.0.0.0:2055", "[::]:6343" */
	uint64_t datagrams, bytes, kernel_drops, errors;
};

/*
 * The ingest counters at one moment: every socket, and every worker's exporters (an exporter
 * seen by several workers appears once per worker). Running workers are asked and waited for
 * (bounded); late_workers did not answer in time. Owned by the caller. -1 when out of memory
 * (what was gathered stays valid).
 */
struct exporter_stats;
struct ingest_snapshot {
	struct ingest_sock_stats *sock;
	size_t n_sock;
	uint64_t kernel_drops; /* all sockets */
	struct exporter_stats *ex;
	size_t n_ex;
	unsigned late_workers;
};
int ingest_snapshot(struct ingest *ing, struct ingest_snapshot *out);
void ingest_snapshot_free(struct ingest_snapshot *s);

/* The sFlow counter sink of the workers (sfacctd_counter_file, /metrics): thread-safe. */
struct sfcounters *ingest_sfcounters(struct ingest *ing);

/* conf->workers, or one per online core when it is 0. */
unsigned ingest_worker_count(const struct conf *c);

/*
 * Opens one SO_REUSEPORT socket per worker and listener, each worker's decode state (limits
 * from c, allow list `allow` shared read-only, may be NULL) and receive buffers, and loads
 * c->templates_file into every worker. No thread runs yet. NULL with err set on failure.
 */
struct ingest *ingest_open(const struct conf *c, unsigned n_workers, struct plugin_set *ps,
                           const struct allow_list *allow, char *err, size_t errlen);

/*
 * A tap sees every received datagram before it is decoded (the tee plugin relays them): dgram
 * gets each datagram of a recvmmsg batch with the local port it arrived on, read-only and valid
 * until flush, which follows the batch; stats adds the tap's counters to ingest_stats_print().
 * Called from the worker threads (worker = its index). Set before ingest_start().
 */
struct udp_dgram;
struct ingest_tap {
	void (*dgram)(void *arg, unsigned worker, const struct udp_dgram *d, uint16_t port);
	void (*flush)(void *arg, unsigned worker);
	void (*stats)(void *arg, FILE *out);
	void *arg;
};
void ingest_set_tap(struct ingest *ing, const struct ingest_tap *tap);

/* Starts the worker threads. 0 ok, -1 with err set. */
int ingest_start(struct ingest *ing, char *err, size_t errlen);

/*
 * Stops the workers promptly (an eventfd wakes them): each drains what its sockets already
 * hold, hands its last records to the plugins and exits. Saves the templates file. Returns
 * once every worker has exited.
 */
void ingest_stop(struct ingest *ing);

/* One line per listener: where exporters should send, and the socket buffer granted. */
void ingest_describe(const struct ingest *ing, FILE *out);

/*
 * Per worker and socket: datagrams, bytes, kernel drops (SO_RXQ_OVFL and /proc/net/udp);
 * then per exporter and domain the decode counters. Safe while the workers run (each prints
 * its own decode state on request) and after ingest_stop().
 */
void ingest_stats_print(struct ingest *ing, FILE *out);

/* Series for /metrics beyond the counters text: each sFlow interface's latest counters. */
struct prom;
void ingest_metrics(struct ingest *ing, struct prom *p);

void ingest_free(struct ingest *ing);

#endif
