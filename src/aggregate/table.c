/* table.c - the aggregation table: seeded hash, linear probing, stored hash checked before memcmp.
 */
#include "aggregate/table.h"

#include <stdlib.h>
#include <string.h>

#define KLEN_MAX 512

static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* wyhash-style: 8 bytes at a time through a 64x64->128 multiply; fixed-length keys. */
uint64_t agg_hash(const void *key, size_t len, uint64_t seed)
{
	const uint8_t *p = key;
	uint64_t h = seed ^ (len * UINT64_C(0xa0761d6478bd642f));
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = mum(h ^ w, UINT64_C(0xe7037ed1a0b428db));
		p += 8;
		len -= 8;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = mum(h ^ w, UINT64_C(0x8ebc6af09c88c6e3));
	}
	return mum(h, UINT64_C(0x589965cc75374cc3));
}

struct agg_table *agg_table_new(size_t klen, size_t bound, uint64_t seed)
{
	struct agg_table *t;
	size_t slots = 16;

	if (klen == 0 || klen > KLEN_MAX || bound == 0 || bound > (UINT32_MAX / 2))
		return NULL;
	while (slots < bound + bound / 2)
		slots <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->klen = klen;
	t->stride = (offsetof(struct agg_entry, key) + klen + 7) & ~(size_t)7;
	t->bound = bound;
	t->mask = (uint32_t)(slots - 1);
	t->seed = seed;
	t->slots = calloc(slots, sizeof(*t->slots));
	/* Cache-line aligned: with a 64-byte stride every entry is one line, not two. */
	t->ents = aligned_alloc(64, (bound * t->stride + 63) & ~(size_t)63);
	if (!t->slots || !t->ents) {
		agg_table_free(t);
		return NULL;
	}
	return t;
}

void agg_table_free(struct agg_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->ents);
	free(t);
}

/* Fixed-length compare without a libc call: keys are short (tens of bytes) and mostly equal. */
static inline bool key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t x, y;

	for (; n >= 8; n -= 8, a += 8, b += 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; n; n--)
		if (*a++ != *b++)
			return false;
	return true;
}

static bool add_hashed(struct agg_table *t, const uint8_t *key, uint32_t h, uint64_t bytes,
                       uint64_t packets, uint64_t flows, uint8_t tcp_flags)
{
	uint32_t i = h & t->mask;
	struct agg_entry *e;

	for (;;) {
		struct agg_slot *s = &t->slots[i];
		if (s->idx == 0)
			break;
		if (s->hash == h) {
			e = agg_table_entry(t, s->idx - 1);
			if (key_eq(e->key, key, t->klen))
				goto add;
		}
		i = (i + 1) & t->mask;
	}
	if (t->n == t->bound)
		return false;
	t->slots[i].hash = h;
	t->slots[i].idx = (uint32_t)++t->n;
	e = agg_table_entry(t, t->n - 1);
	memset(e, 0, offsetof(struct agg_entry, key));
	memcpy(e->key, key, t->klen);
add:
	e->bytes += bytes;
	e->packets += packets;
	e->flows += flows;
	e->tcp_flags |= tcp_flags;
	return true;
}

bool agg_table_add(struct agg_table *t, const uint8_t *key, uint64_t bytes, uint64_t packets,
                   uint64_t flows, uint8_t tcp_flags)
{
	uint32_t h = (uint32_t)agg_hash(key, t->klen, t->seed);
	return add_hashed(t, key, h, bytes, packets, flows, tcp_flags);
}

bool agg_table_add_hashed(struct agg_table *t, const uint8_t *key, uint32_t h, uint64_t bytes,
                          uint64_t packets, uint64_t flows, uint8_t tcp_flags)
{
	return add_hashed(t, key, h, bytes, packets, flows, tcp_flags);
}

size_t agg_table_merge(struct agg_table *dst, const struct agg_table *src, size_t from)
{
	for (size_t i = from; i < src->n; i++) {
		const struct agg_entry *e = agg_table_entry(src, i);
		uint32_t h = (uint32_t)agg_hash(e->key, dst->klen, dst->seed);
		if (!add_hashed(dst, e->key, h, e->bytes, e->packets, e->flows, e->tcp_flags))
			return i;
	}
	return src->n;
}

void agg_table_clear(struct agg_table *t)
{
	size_t slots = (size_t)t->mask + 1;

	/* A sparse table clears its used slots only; a dense one is cheaper to wipe whole. */
	if (t->n * 8 < slots) {
		for (size_t k = 0; k < t->n; k++) {
			const struct agg_entry *e = agg_table_entry(t, k);
			uint32_t i = (uint32_t)agg_hash(e->key, t->klen, t->seed) & t->mask;
			while (t->slots[i].idx != k + 1)
				i = (i + 1) & t->mask;
			t->slots[i].idx = 0;
			t->slots[i].hash = 0;
		}
	} else {
		memset(t->slots, 0, slots * sizeof(*t->slots));
	}
	t->n = 0;
}

size_t agg_table_bytes(const struct agg_table *t)
{
	return ((size_t)t->mask + 1) * sizeof(*t->slots) + t->bound * t->stride;
}
