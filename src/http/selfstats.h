/* selfstats.h - weir collect's own counters (ingest, decode, plugins, AS names) as metrics and
 * status. */
#ifndef WEIR_HTTP_SELFSTATS_H
#define WEIR_HTTP_SELFSTATS_H

#include <stdio.h>

struct prom;
struct json_t;
struct plugin_set;
struct asname_stats;

/*
 * The ingest counters (ingest_snapshot()): weir_exporter_*{exporter,domain,version} with the
 * decode errors by reason, weir_socket_*_total{worker,listen} and weir_kernel_drops_total; in
 * the status, the "exporters" and "sockets" arrays. Exporters seen by several workers are
 * summed (the snapshot's exporters are sorted and merged in place).
 */
struct ingest_snapshot;
void selfstats_metrics(struct prom *p, struct ingest_snapshot *s);
void selfstats_status(struct json_t *root, struct ingest_snapshot *s);

/*
 * The plugins' counters (plugin_stats_foreach): weir_plugin_*_total{type,plugin}, the backlog
 * gauges and the weir_plugin_write_seconds histogram; in the status, the "plugins" array.
 */
void selfstats_plugins(struct prom *p, const struct plugin_set *ps);
void selfstats_plugins_status(struct json_t *root, const struct plugin_set *ps);

/* The AS-name resolver's counters: weir_asname_*, the status' "asnames", one log line. */
void selfstats_asname(struct prom *p, const struct asname_stats *st);
void selfstats_asname_status(struct json_t *root, const struct asname_stats *st);
void selfstats_asname_print(const struct asname_stats *st, FILE *out);

#endif
