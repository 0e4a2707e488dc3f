/*
 * intern.c - a bounded pool of interned texts: lock-free lookups of texts already held, a
 * mutex only to add one; a per-thread cache in front.
 */
#include "lib/intern.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CHUNK_BYTES   (64u * 1024)
#define DEFAULT_BYTES (16u << 20)
#define FIRST_SLOTS   1024u

/* A held text with its hash and length in front; never moved or freed before the pool. */
struct item {
	uint64_t hash;
	uint32_t len;
	char text[];
};

/* Open addressing, power of two, at most half full. Slots go from NULL to an item, once. */
struct table {
	struct table *older; /* tables outgrown: readers may still be walking them */
	size_t mask;
	_Atomic(const struct item *) slot[];
};

struct chunk {
	struct chunk *next;
	size_t used;
	_Alignas(8) char data[];
};

struct intern {
	_Atomic(struct table *) table; /* what lookups read without the lock */
	pthread_mutex_t lock;          /* adds: table growth, chunks, stats */
	struct chunk *chunks;
	size_t max_bytes;
	uint64_t seed;
	struct intern_stats st;
};

/*
 * A seeded 64-bit hash, 8 bytes at a time (multiply and xor-shift rounds). The seed is random
 * per pool: texts come from the network, so an exporter cannot aim at the table's collisions.
 */
static uint64_t text_hash(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = seed ^ ((uint64_t)len * UINT64_C(0x9e3779b97f4a7c15)), w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
		h ^= h >> 31;
	}
	if (len) {
		w = 0;
		memcpy(&w, s, len);
		h = (h ^ w) * UINT64_C(0x94d049bb133111eb);
		h ^= h >> 29;
	}
	h ^= h >> 32;
	h *= UINT64_C(0xd6e8feb86659fd93);
	h ^= h >> 32;
	return h;
}

static struct table *table_new(size_t slots, struct table *older)
{
	struct table *t = calloc(1, sizeof(*t) + slots * sizeof(t->slot[0]));
	if (!t)
		return NULL;
	t->older = older;
	t->mask = slots - 1;
	for (size_t i = 0; i < slots; i++)
		atomic_init(&t->slot[i], NULL);
	return t;
}

struct intern *intern_new(size_t max_bytes)
{
	struct intern *in = calloc(1, sizeof(*in));
	struct table *t = table_new(FIRST_SLOTS, NULL);
	if (!in || !t) {
		free(in);
		free(t);
		return NULL;
	}
	atomic_init(&in->table, t);
	in->max_bytes = max_bytes ? max_bytes : DEFAULT_BYTES;
	if (getrandom(&in->seed, sizeof(in->seed), GRND_NONBLOCK) != sizeof(in->seed))
		in->seed =
		    (uint64_t)(uintptr_t)in ^ (uint64_t)time(NULL) * UINT64_C(0x9e3779b97f4a7c15);
	pthread_mutex_init(&in->lock, NULL);
	return in;
}

void intern_free(struct intern *in)
{
	if (!in)
		return;
	for (struct chunk *c = in->chunks, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	for (struct table *t = atomic_load_explicit(&in->table, memory_order_relaxed), *o; t;
	     t = o) {
		o = t->older;
		free(t);
	}
	pthread_mutex_destroy(&in->lock);
	free(in);
}

/* The held text equal to s, or NULL: safe without the lock (slots are published once). */
static const char *find(const struct table *t, uint64_t h, const char *s, size_t len)
{
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		const struct item *it = atomic_load_explicit(&t->slot[i], memory_order_acquire);
		if (!it)
			return NULL;
		if (it->hash == h && it->len == len && !memcmp(it->text, s, len))
			return it->text;
	}
}

static void place(struct table *t, const struct item *it)
{
	size_t i = it->hash & t->mask;
	while (atomic_load_explicit(&t->slot[i], memory_order_relaxed))
		i = (i + 1) & t->mask;
	atomic_store_explicit(&t->slot[i], it, memory_order_release);
}

/* A table twice the size with every item, published; the old one stays for its readers. */
static struct table *grow(struct intern *in, struct table *t)
{
	struct table *n = table_new((t->mask + 1) * 2, t);
	if (!n)
		return NULL;
	for (size_t i = 0; i <= t->mask; i++) {
		const struct item *it = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
		if (it)
			place(n, it);
	}
	atomic_store_explicit(&in->table, n, memory_order_release);
	return n;
}

/* Room for n bytes (8-aligned) in the newest chunk, or a new chunk; NULL when out of memory. */
static void *room(struct intern *in, size_t n)
{
	struct chunk *c = in->chunks;
	n = (n + 7) & ~(size_t)7;
	if (c && CHUNK_BYTES - c->used >= n) {
		void *p = c->data + c->used;
		c->used += n;
		return p;
	}
	size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
	c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = in->chunks;
	c->used = n;
	in->chunks = c;
	return c->data;
}

static const char *add_locked(struct intern *in, uint64_t h, const char *s, size_t len)
{
	struct table *t = atomic_load_explicit(&in->table, memory_order_relaxed);
	const char *held = find(t, h, s, len); /* another thread may have added it */
	if (held)
		return held;
	if (in->st.bytes + len + 1 > in->max_bytes || len > UINT32_MAX) {
		in->st.full++;
		return NULL;
	}
	if ((in->st.strings + 1) * 2 > t->mask + 1 && !(t = grow(in, t)))
		return NULL;
	struct item *it = room(in, sizeof(*it) + len + 1);
	if (!it)
		return NULL;
	it->hash = h;
	it->len = (uint32_t)len;
	memcpy(it->text, s, len);
	it->text[len] = '\0';
	place(t, it);
	in->st.strings++;
	in->st.bytes += len + 1;
	return it->text;
}

static const char *get_hashed(struct intern *in, uint64_t h, const char *s, size_t len)
{
	const char *p = find(atomic_load_explicit(&in->table, memory_order_acquire), h, s, len);
	if (p)
		return p;
	pthread_mutex_lock(&in->lock);
	p = add_locked(in, h, s, len);
	pthread_mutex_unlock(&in->lock);
	return p;
}

const char *intern_get(struct intern *in, const char *s, size_t len)
{
	return get_hashed(in, text_hash(in->seed, s, len), s, len);
}

void intern_stats_get(struct intern *in, struct intern_stats *st)
{
	pthread_mutex_lock(&in->lock);
	*st = in->st;
	pthread_mutex_unlock(&in->lock);
}

void intern_cache_init(struct intern_cache *c, struct intern *pool)
{
	memset(c, 0, sizeof(*c));
	c->pool = pool;
}

const char *intern_cache_get(struct intern_cache *c, const char *s, size_t len)
{
	if (!c->pool)
		return NULL;
	uint64_t h = text_hash(c->pool->seed, s, len);
	unsigned i = (unsigned)(h >> 56) % INTERN_CACHE_SLOTS;
	const char *t = c->slot[i].text;
	if (t && c->slot[i].hash == h && !strncmp(t, s, len) && t[len] == '\0')
		return t;
	t = get_hashed(c->pool, h, s, len);
	if (t) {
		c->slot[i].hash = h;
		c->slot[i].text = t;
	}
	return t;
}
