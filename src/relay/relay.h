/* relay.h - replicate and balance raw export datagrams over pools of receivers (tee plugin). */
#ifndef WEIR_RELAY_H
#define WEIR_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct conf;
struct plugin_conf;
struct udp_dgram;
struct relay;

/* True for the plugin types the relay serves (tee) rather than the record plugins. */
bool relay_plugin_type(const char *type);

/*
 * The tee plugins the relay serves: every `tee` plugin of c, or, when none is declared, the
 * first plugin that has tee_receivers set (keys given without [name] set every plugin, so a
 * relay.conf needs no plugins: line). Returns how many were stored in out (at most max).
 */
size_t relay_plugins(const struct conf *c, const struct plugin_conf **out, size_t max);

/*
 * Loads the receivers file of every plugin in pcs, resolves the receivers and opens the
 * sending sockets of n_workers workers (raw ones when tee_transparent). NULL with err set
 * ("file:line: message" for receivers file errors, a CAP_NET_RAW hint for raw sockets) and
 * *exit_code to 2 for configuration errors or 1 for runtime ones (sockets, memory).
 */
struct relay *relay_open(const struct plugin_conf *const *pcs, size_t n_pcs, unsigned n_workers,
                         int *exit_code, char *err, size_t errlen);

/*
 * Re-reads every plugin's receivers file (SIGUSR2) and swaps the new pools in at once: workers
 * finish their batch on the old set and take the new one at their next; receivers that stay
 * (same plugin, pool id, address and src_port) keep their sockets, state and counters; removed
 * ones are closed once no worker can use them. 0 with a "before -> after" summary in msg, or
 * -1 with the error in msg ("file:line: message") and the running pools untouched. Counted in
 * relay_stats_print(). Not to be called by the workers.
 */
int relay_reload(struct relay *r, char *msg, size_t len);
/* SIGUSR2 in `who` ("weir relay"): relay_reload() and one notice; r NULL: nothing to reload. */
void relay_reload_signal(struct relay *r, const char *who);

/* Starts the probe thread (down receivers, healthz). 0 ok, -1 with err set. */
int relay_start(struct relay *r, char *err, size_t errlen);
void relay_stop(struct relay *r);
void relay_free(struct relay *r);

/*
 * Worker `worker` queues datagram d, received on local UDP port `port`, for every pool that
 * takes it. d->data is only read, never written, and must stay valid until relay_flush().
 * No allocation; one worker per index at a time.
 */
void relay_input(struct relay *r, unsigned worker, const struct udp_dgram *d, uint16_t port);

/*
 * Sends what worker `worker` queued (sendmmsg per receiver). Ends the worker's batch: the pools
 * it used may be replaced by a reload from then on. Every relay_input() must be followed by a
 * relay_flush() before the worker waits for more datagrams.
 */
void relay_flush(struct relay *r, unsigned worker);

/* One line per pool, receiver and exporter: packets/bytes in and out, failures, state. */
void relay_stats_print(struct relay *r, FILE *out);

/* One line per pool: its receivers and how it balances (to out, or to the log). */
void relay_describe(struct relay *r, FILE *out);
void relay_log_describe(struct relay *r);

/* Fills an ingest tap that relays what `weir collect` receives (the tee plugin). */
struct ingest_tap;
void relay_ingest_tap(struct relay *r, struct ingest_tap *tap);

#endif
