/* intern.h - one stable, shared copy of each short text (AS paths, communities). */
#ifndef WEIR_INTERN_H
#define WEIR_INTERN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Texts such as an AS path are kept in flow records and aggregation keys as a pointer to
 * their one interned copy, so that equal texts compare and hash as equal pointers. A pool is
 * shared by every worker: finding a text it holds takes no lock (its table is published with
 * atomics and only ever gains entries), adding one takes the pool's mutex. Each worker may put
 * an intern_cache in front. Copies live until the pool is freed: a pool is bounded by the
 * bytes of its texts and, once full, answers NULL (counted) instead of growing.
 */
struct intern;

struct intern_stats {
	uint64_t strings; /* distinct texts held */
	uint64_t bytes;   /* their bytes, terminators included */
	uint64_t full;    /* lookups refused because the pool was full */
};

/* max_bytes bounds the texts held (0 = 16 MiB). NULL when out of memory. */
struct intern *intern_new(size_t max_bytes);
void intern_free(struct intern *in);

/* The pool's copy of s[0..len) (NUL-terminated), or NULL when it is full or out of memory. */
const char *intern_get(struct intern *in, const char *s, size_t len);

void intern_stats_get(struct intern *in, struct intern_stats *st);

/* A small direct-mapped cache in front of a pool: one per thread, no lock. */
#define INTERN_CACHE_SLOTS 256
struct intern_cache {
	struct intern *pool;
	struct {
		uint64_t hash;
		const char *text;
	} slot[INTERN_CACHE_SLOTS];
};

void intern_cache_init(struct intern_cache *c, struct intern *pool);
/* As intern_get(), answered from the cache when the text was seen recently. */
const char *intern_cache_get(struct intern_cache *c, const char *s, size_t len);

#endif
