/* table.h - the aggregation table: packed fixed-size keys to summed counters, open addressing. */
#ifndef WEIR_AGG_TABLE_H
#define WEIR_AGG_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One entry: the counters, then the packed key (agg_table.klen bytes). Entries live in one slab
 * allocated up front (the kernel backs it lazily), so adding never allocates.
 */
struct agg_entry {
	uint64_t bytes;
	uint64_t packets;
	uint64_t flows;
	uint8_t tcp_flags; /* ORed */
	uint8_t key[];
};

struct agg_slot {
	uint32_t hash; /* low 32 bits of the key's hash, compared before the key */
	uint32_t idx;  /* entry index + 1; 0 = empty */
};

struct agg_table {
	size_t klen;   /* bytes of every key */
	size_t stride; /* bytes of every entry, 8-aligned */
	size_t bound;  /* entries the table may hold */
	size_t n;      /* entries it holds */
	uint32_t mask; /* slots - 1 (a power of two >= 1.5 x bound) */
	uint64_t seed;
	struct agg_slot *slots;
	uint8_t *ents;
};

/* A table for keys of klen bytes (1..512) holding up to bound entries; NULL when out of memory. */
struct agg_table *agg_table_new(size_t klen, size_t bound, uint64_t seed);
void agg_table_free(struct agg_table *t);

/* The seeded hash of a key (64 bits; the table keeps the low 32 and indexes with them). */
uint64_t agg_hash(const void *key, size_t len, uint64_t seed);

/*
 * Adds counters to key's entry, creating it when new. Returns false (and changes nothing) only
 * when the key is new and the table already holds `bound` entries.
 */
bool agg_table_add(struct agg_table *t, const uint8_t *key, uint64_t bytes, uint64_t packets,
                   uint64_t flows, uint8_t tcp_flags);

static inline struct agg_entry *agg_table_entry(const struct agg_table *t, size_t i)
{
	return (struct agg_entry *)(void *)(t->ents + i * t->stride);
}

/* The hash agg_table_add() files key under in t (its low 32 bits). */
static inline uint32_t agg_table_hash(const struct agg_table *t, const uint8_t *key)
{
	return (uint32_t)agg_hash(key, t->klen, t->seed);
}

/*
 * Batched adds hide the table's two cache misses: prefetch the first slot of a key's probe
 * chain as soon as its hash is known, then (some adds later) the entry that slot points at,
 * and only then add.
 */
static inline void agg_table_prefetch_slot(const struct agg_table *t, uint32_t h)
{
	__builtin_prefetch(&t->slots[h & t->mask], 1);
}

static inline void agg_table_prefetch_entry(const struct agg_table *t, uint32_t h)
{
	const struct agg_slot *s = &t->slots[h & t->mask];
	if (s->idx && s->hash == h)
		__builtin_prefetch(agg_table_entry(t, s->idx - 1), 1);
}

/* agg_table_add() with h = agg_table_hash(t, key) already computed. */
bool agg_table_add_hashed(struct agg_table *t, const uint8_t *key, uint32_t h, uint64_t bytes,
                          uint64_t packets, uint64_t flows, uint8_t tcp_flags);

/* Adds every entry of src into dst; returns how many entries of src were merged (stops when dst
 * is full: the caller empties dst and calls again with `from` = the return value). */
size_t agg_table_merge(struct agg_table *dst, const struct agg_table *src, size_t from);

/* Empties the table, keeping its memory. */
void agg_table_clear(struct agg_table *t);

/* Bytes the table uses when full (slots + entries). */
size_t agg_table_bytes(const struct agg_table *t);

#endif
