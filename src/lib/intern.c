/* intern.c - a bounded, thread-safe pool of interned texts and a per-thread cache before it. */
#include "lib/intern.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES   (64u * 1024)
#define DEFAULT_BYTES (16u << 20)

/* Texts live in chunks that are never moved or freed before the pool. */
struct chunk {
	struct chunk *next;
	size_t used;
	char data[];
};

struct entry {
	uint64_t hash;
	const char *text;
	uint32_t len;
};

struct intern {
	pthread_mutex_t lock;
	struct entry *slots; /* open addressing, power of two, at most half full */
	size_t mask;
	struct chunk *chunks;
	size_t max_bytes;
	struct intern_stats st;
};

/* FNV-1a, 64 bits: texts are short and this keeps the cache and the pool on one hash. */
static uint64_t text_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h | 1; /* 0 marks an empty cache slot */
}

struct intern *intern_new(size_t max_bytes)
{
	struct intern *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->mask = 1023;
	in->slots = calloc(in->mask + 1, sizeof(*in->slots));
	if (!in->slots) {
		free(in);
		return NULL;
	}
	in->max_bytes = max_bytes ? max_bytes : DEFAULT_BYTES;
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
	free(in->slots);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

static bool grow(struct intern *in)
{
	size_t mask = in->mask * 2 + 1;
	struct entry *s = calloc(mask + 1, sizeof(*s));
	if (!s)
		return false;
	for (size_t i = 0; i <= in->mask; i++) {
		if (!in->slots[i].text)
			continue;
		size_t j = in->slots[i].hash & mask;
		while (s[j].text)
			j = (j + 1) & mask;
		s[j] = in->slots[i];
	}
	free(in->slots);
	in->slots = s;
	in->mask = mask;
	return true;
}

/* Room for n bytes in the newest chunk, or a new chunk; NULL when the pool is full. */
static char *room(struct intern *in, size_t n)
{
	struct chunk *c = in->chunks;
	if (c && CHUNK_BYTES - c->used >= n) {
		char *p = c->data + c->used;
		c->used += n;
		return p;
	}
	size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
	if (in->st.bytes + n > in->max_bytes)
		return NULL;
	c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = in->chunks;
	c->used = n;
	in->chunks = c;
	return c->data;
}

static const char *lookup_locked(struct intern *in, uint64_t h, const char *s, size_t len)
{
	size_t i = h & in->mask;
	for (; in->slots[i].text; i = (i + 1) & in->mask)
		if (in->slots[i].hash == h && in->slots[i].len == len &&
		    !memcmp(in->slots[i].text, s, len))
			return in->slots[i].text;
	if (in->st.bytes + len + 1 > in->max_bytes || len > UINT32_MAX) {
		in->st.full++;
		return NULL;
	}
	if ((in->st.strings + 1) * 2 > in->mask + 1) {
		if (!grow(in))
			return NULL;
		for (i = h & in->mask; in->slots[i].text; i = (i + 1) & in->mask)
			;
	}
	char *p = room(in, len + 1);
	if (!p) {
		in->st.full++;
		return NULL;
	}
	memcpy(p, s, len);
	p[len] = '\0';
	in->slots[i] = (struct entry){.hash = h, .text = p, .len = (uint32_t)len};
	in->st.strings++;
	in->st.bytes += len + 1;
	return p;
}

static const char *get_hashed(struct intern *in, uint64_t h, const char *s, size_t len)
{
	pthread_mutex_lock(&in->lock);
	const char *p = lookup_locked(in, h, s, len);
	pthread_mutex_unlock(&in->lock);
	return p;
}

const char *intern_get(struct intern *in, const char *s, size_t len)
{
	return get_hashed(in, text_hash(s, len), s, len);
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
	uint64_t h = text_hash(s, len);
	unsigned i = (unsigned)(h >> 56) % INTERN_CACHE_SLOTS;
	const char *t = c->slot[i].text;
	if (c->slot[i].hash == h && !strncmp(t, s, len) && t[len] == '\0')
		return t;
	t = get_hashed(c->pool, h, s, len);
	if (t) {
		c->slot[i].hash = h;
		c->slot[i].text = t;
	}
	return t;
}
