/* plugin.h - the plugin stage: per-worker record buffers handed to one writer thread per plugin. */
#ifndef WEIR_PLUGIN_H
#define WEIR_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/flow.h"

struct conf;
struct plugin_set;

/*
 * Opens the sink of every conf->plugins[i] for n_workers ingest workers and allocates each
 * worker's buffer pool. No thread runs yet (so that the process may still fork). Returns NULL
 * with err set when a plugin type has no sink or a sink refuses its configuration.
 */
struct plugin_set *plugin_open(const struct conf *c, unsigned n_workers, char *err, size_t errlen);

/* Starts one writer thread per plugin. 0 ok, -1 with err set. */
int plugin_start(struct plugin_set *ps, char *err, size_t errlen);

/*
 * Worker `worker` appends the records of b to every plugin (copies; no lock, no malloc). When
 * its buffer fills, the buffer goes to the writer; if the writer is behind and the worker has
 * no free buffer left, the worker waits (counted as a stall) -- records are never dropped.
 */
void plugin_push(struct plugin_set *ps, unsigned worker, const struct flow_batch *b);

/*
 * Called by worker `worker` on every loop pass: at a plugin's refresh time it hands its buffer
 * over (even a partial or empty one) so that the writer can close the interval.
 */
void plugin_tick(struct plugin_set *ps, unsigned worker, uint64_t now_ms);

/*
 * Once every worker has stopped: hands every buffer to the writers, which write and flush
 * everything, close their sinks and exit. The counters stay readable until plugin_free().
 */
void plugin_stop(struct plugin_set *ps);
void plugin_free(struct plugin_set *ps);

/* One line per plugin: where it writes (file pattern or stdout) and how often. */
void plugin_describe(const struct plugin_set *ps, FILE *out);
/* Counters: records, rows written, buffers, stalls, flushes, write errors. */
void plugin_stats_print(const struct plugin_set *ps, FILE *out);

#endif
