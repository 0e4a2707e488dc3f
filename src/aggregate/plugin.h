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

/* One line per plugin: its key, where it writes (file pattern or stdout) and how often. */
void plugin_describe(const struct plugin_set *ps, FILE *out);
/* Counters: records, filtered, rows written, tables handed over, early flushes, stalls ... */
void plugin_stats_print(const struct plugin_set *ps, FILE *out);

#endif
