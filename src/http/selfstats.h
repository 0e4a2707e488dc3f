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
 * text is what ingest_stats_print() writes: per worker socket lines and the per exporter/domain
 * decode table of each worker (with its "drops:" lines). Exporters seen by several workers are
 * summed. Unknown lines are skipped, and counters this parser does not know by name keep their
 * own name, so that a new counter shows up without a change here.
 */
void selfstats_metrics(struct prom *p, const char *text);
void selfstats_status(struct json_t *root, const char *text);

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
