/* cursor.h - bounds-checked reads from wire buffers (BIRD's get_u32 style: memcpy + ntoh). */
#ifndef WEIR_CURSOR_H
#define WEIR_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A read-only window [p, end) over a received buffer. Reads never go past end. */
struct cursor {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void cur_init(struct cursor *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->end = p + len;
}

static inline size_t cur_left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

static inline bool cur_skip(struct cursor *c, size_t n)
{
	if (cur_left(c) < n)
		return false;
	c->p += n;
	return true;
}

/* Splits off the next n bytes as a sub-cursor and advances past them. */
static inline bool cur_sub(struct cursor *c, size_t n, struct cursor *sub)
{
	if (cur_left(c) < n)
		return false;
	sub->p = c->p;
	sub->end = c->p + n;
	c->p += n;
	return true;
}

static inline bool cur_bytes(struct cursor *c, void *dst, size_t n)
{
	if (cur_left(c) < n)
		return false;
	memcpy(dst, c->p, n);
	c->p += n;
	return true;
}

static inline bool cur_u8(struct cursor *c, uint8_t *v)
{
	if (cur_left(c) < 1)
		return false;
	*v = *c->p++;
	return true;
}

static inline uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/* Big-endian unsigned integer of 1..8 bytes (reduced-size encoding, RFC 7011 §6.2). */
static inline uint64_t get_uint_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static inline bool cur_u16(struct cursor *c, uint16_t *v)
{
	if (cur_left(c) < 2)
		return false;
	*v = get_u16(c->p);
	c->p += 2;
	return true;
}

static inline bool cur_u32(struct cursor *c, uint32_t *v)
{
	if (cur_left(c) < 4)
		return false;
	*v = get_u32(c->p);
	c->p += 4;
	return true;
}

static inline bool cur_u64(struct cursor *c, uint64_t *v)
{
	if (cur_left(c) < 8)
		return false;
	*v = get_u64(c->p);
	c->p += 8;
	return true;
}

static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

#endif
