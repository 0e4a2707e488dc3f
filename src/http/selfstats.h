/* selfstats.h - weir collect's counters text (ingest, decode, plugins) as metrics and status. */
#ifndef WEIR_HTTP_SELFSTATS_H
#define WEIR_HTTP_SELFSTATS_H

struct prom;
struct json_t;

/*
 * text is what ingest_stats_print() and plugin_stats_print() write: per worker socket lines,
 * the per exporter/domain decode table of each worker (with its "drops:" lines) and one line
 * per plugin. Exporters seen by several workers are summed. Unknown lines are skipped, and
 * counters this parser does not know by name keep their own name, so that a new counter shows
 * up without a change here.
 */
void selfstats_metrics(struct prom *p, const char *text);
void selfstats_status(struct json_t *root, const char *text);

#endif
