/* sink.h - the contract between a plugin's writer and its storage backend. */
#ifndef WEIR_SINK_H
#define WEIR_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/flow.h"

struct plugin_conf;

/*
 * Rows handed to a sink. Each row is a struct flow holding the primitives of the plugin's key
 * (fields = which FF_* primitives are part of the key; others are to be ignored) and the summed
 * counters. stamp_inserted/stamp_updated are the time bin and the flush time, in ms.
 * Until aggregation lands, a row is one decoded record.
 */
struct sink_rows {
	const struct flow *rows;
	size_t n;
	uint64_t fields; /* FF_* bits of the key */
	uint64_t stamp_inserted_ms;
	uint64_t stamp_updated_ms;
};

struct sink;

/* What waits in a sink's backlog (refused batches in memory and in the spool). */
struct sink_backlog {
	uint64_t items;   /* batches waiting */
	uint64_t bytes;   /* their bytes, memory and spool */
	uint64_t dropped; /* batches lost (spool full or unwritable) */
};

struct sink_ops {
	const char *name; /* the plugin type as in `plugins: name[label]` */
	/* Creates the sink for one plugin instance. Returns NULL with err set on failure. */
	struct sink *(*open)(const struct plugin_conf *pc, char *err, size_t errlen);
	/* Takes rows; may buffer. Returns 0, or -1 when the backend refused (rows go to backlog).
	 */
	int (*write)(struct sink *s, const struct sink_rows *r);
	/* Makes everything written so far durable/visible (end of a refresh interval). */
	int (*flush)(struct sink *s, uint64_t now_ms);
	void (*close)(struct sink *s);
	/* Applies a changed configuration without dropping buffered rows; NULL = reopen. */
	int (*reconfigure)(struct sink *s, const struct plugin_conf *pc);
	/* Optional: one line of the sink's own counters (backlog, retries ...), any thread. */
	void (*stats)(struct sink *s, FILE *out);
	/* Optional: the backlog's depth, any thread; NULL = the sink keeps none. */
	void (*backlog)(struct sink *s, struct sink_backlog *out);
};

/* The sink table, NULL terminated (src/sink/sink.c). */
extern const struct sink_ops *const sink_table[];
const struct sink_ops *sink_find(const char *name);

#endif
