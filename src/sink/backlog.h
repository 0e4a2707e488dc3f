/* backlog.h - rows a backend could not take: memory first, then an append-only spool file. */
#ifndef WEIR_BACKLOG_H
#define WEIR_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A FIFO of opaque items (a sink's encoded batches). Items go to memory while the spool holds
 * nothing and memory has room, else they are appended to the spool file, so every item in
 * memory is older than every item in the spool and popping memory first keeps the order.
 * The spool survives restarts: backlog_open() takes over a spool left from before, and
 * backlog_close() writes what is still in memory into it (ahead of its records). The spool
 * keeps its read offset in its header, synced after each pop, so an item a backend committed
 * is not replayed after a restart (except when the process dies between the commit and that
 * sync). Only one thread may use a backlog.
 */
struct backlog;

struct backlog_conf {
	const char *path;   /* spool file; NULL or "" = memory only */
	uint64_t mem_max;   /* bytes of items held in memory */
	uint64_t spool_max; /* bytes of the spool file (header included) */
	const char *who;    /* "plugin mysql[x]", for log lines */
};

struct backlog_stats {
	uint64_t items;       /* waiting: memory + spool */
	uint64_t mem_bytes;   /* waiting in memory */
	uint64_t spool_bytes; /* waiting in the spool (unconsumed records) */
	uint64_t pushed;      /* items taken */
	uint64_t spooled;     /* of which written to the spool */
	uint64_t popped;      /* items handed back and consumed */
	uint64_t dropped;     /* items lost: spool full or unwritable (each logged) */
	uint64_t corrupt;     /* spool records found damaged and skipped */
	uint64_t io_errors;   /* failed spool reads/writes/syncs */
};

#define BACKLOG_ITEM_MAX (256u << 20)

/*
 * Opens the backlog, taking over the spool at bc->path when one exists (else the spool is
 * created when an item first has to go there): its records are checked (length, checksum) and
 * a damaged tail is cut off (counted and logged). A spool whose header is damaged is renamed
 * to PATH.corrupt and a new one started. Returns NULL with err set when an existing spool
 * cannot be opened.
 */
struct backlog *backlog_open(const struct backlog_conf *bc, char *err, size_t errlen);

/*
 * Appends an item (copied). Returns 0, or -1 when it had to be dropped (no room in memory and
 * the spool is full, missing or failing): counted in `dropped` and logged.
 */
int backlog_push(struct backlog *b, const void *data, size_t len);

/* Makes the spool appends since the last call durable (one fdatasync per batch). */
int backlog_sync(struct backlog *b);

/*
 * The oldest item, valid until the next call on b. Returns 1 with *data and *len set, 0 when
 * backlog is empty, -1 on a spool read error (counted; the backlog stays as it is).
 */
int backlog_peek(struct backlog *b, const uint8_t **data, size_t *len);

/* Consumes the item backlog_peek() returned. */
int backlog_pop(struct backlog *b);

size_t backlog_items(const struct backlog *b);
void backlog_get_stats(const struct backlog *b, struct backlog_stats *st);

/*
 * Persists the items still in memory into the spool (ahead of its records), syncs and frees
 * everything. Returns -1 when items were lost (no spool, or it could not be written; logged).
 */
int backlog_close(struct backlog *b);

/* The checksum of spool records (FNV-1a, 32 bits): detects torn and damaged records. */
uint32_t backlog_sum(const void *data, size_t len);

#endif
