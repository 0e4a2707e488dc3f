/* plugin.h - the aggregate stage: per-worker tables per plugin, swapped to one writer per plugin.
 */
#ifndef WEIR_PLUGIN_H
#define WEIR_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/flow.h"

struct asname;
struct asname_conf;
struct conf;
struct plugin_set;

/*
 * Opens the enrich maps, lays out every plugin's key (its `aggregate` list), compiles its
 * aggregate_filter, opens its sink and allocates each worker's tables. No thread runs yet (so
 * that the process may still fork). Returns NULL with err set on any configuration error.
 */
struct plugin_set *plugin_open(const struct conf *c, unsigned n_workers, char *err, size_t errlen);

/*
 * True when a plugin's key has as_src_name/as_dst_name, so that a resolver is worth opening;
 * ac is set either way to the resolver's configuration from c (asname_* keys; it points into c).
 */
bool plugin_asnames_wanted(const struct plugin_set *ps, const struct conf *c,
                           struct asname_conf *ac);

/*
 * The AS-name resolver the writers ask at output time; set before plugin_start(). It stays the
 * caller's (open before, close after plugin_stop()). NULL: every name prints as "".
 */
void plugin_set_asnames(struct plugin_set *ps, struct asname *an);

/* Starts one writer thread per plugin. 0 ok, -1 with err set. */
int plugin_start(struct plugin_set *ps, char *err, size_t errlen);

/*
 * Worker `worker` enriches each flow record of b (on a copy; b is not changed) and adds it to
 * every plugin whose filters it passes, into the worker's own table: no lock, no malloc. A full
 * table (print_cache_entries) is handed to the writer early (counted); if the writer still holds
 * the worker's spare table the worker waits (counted as a stall) -- nothing is dropped.
 */
void plugin_push(struct plugin_set *ps, unsigned worker, const struct flow_batch *b);

/*
 * Called by worker `worker` on every loop pass: at a plugin's refresh time it hands its table
 * over (even an empty one) so that the writer can close the interval.
 */
void plugin_tick(struct plugin_set *ps, unsigned worker, uint64_t now_ms);

/*
 * Once every worker has stopped: hands every table to the writers, which merge, write and
 * flush everything, close their sinks and exit. The counters stay readable until plugin_free().
 */
void plugin_stop(struct plugin_set *ps);
void plugin_free(struct plugin_set *ps);

/*
 * One line per plugin: where it writes (files or stdout, database and table, URL, /metrics),
 * how often, and its key.
 */
void plugin_describe(const struct plugin_set *ps, FILE *out);

/* Upper bounds (seconds) of the write latency histogram's buckets; +Inf is lat_count. */
#define PLUGIN_LAT_BUCKETS 14
extern const double plugin_lat_le[PLUGIN_LAT_BUCKETS];

/* One plugin's counters, a snapshot. */
struct plugin_stats {
	const char *type, *name; /* valid while the plugin set lives */
	uint64_t records, filtered, rows_written, rows_refused, tables, early_flushes, stalls,
	    flushes, write_errors, late_workers;
	/* The sink's backlog (its backlog hook; 0 for sinks without one, last values once closed)
	 */
	uint64_t backlog_items, backlog_bytes, backlog_dropped;
	/* Duration of the writer's sink write and flush calls: cumulative counts per bucket. */
	uint64_t lat_bucket[PLUGIN_LAT_BUCKETS];
	uint64_t lat_count;
	double lat_sum; /* seconds */
};

typedef void (*plugin_stats_fn)(void *arg, const struct plugin_stats *st);

/* Calls fn with each plugin's counters, in configuration order; any thread, until plugin_free. */
void plugin_stats_foreach(const struct plugin_set *ps, plugin_stats_fn fn, void *arg);

/*
 * Counters, one line per plugin: records, filtered, rows written, tables handed over, early
 * flushes, stalls, backlog, write calls ..., followed by the sink's own line (its stats hook)
 * when it has one -- also after plugin_stop(), as of just before the sink closed.
 */
void plugin_stats_print(const struct plugin_set *ps, FILE *out);

#endif
