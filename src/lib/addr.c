/* addr.c - struct wip: one 16-byte form for IPv4 (mapped) and IPv6 addresses. */
#include <arpa/inet.h>
#include <string.h>

#include "weir/flow.h"

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void wip_from_v4(struct wip *w, uint32_t h)
{
	memcpy(w->a, v4_prefix, 12);
	w->a[12] = (uint8_t)(h >> 24);
	w->a[13] = (uint8_t)(h >> 16);
	w->a[14] = (uint8_t)(h >> 8);
	w->a[15] = (uint8_t)h;
}

void wip_from_v6(struct wip *w, const uint8_t b[16])
{
	memcpy(w->a, b, 16);
}

bool wip_is_v4(const struct wip *w)
{
	return memcmp(w->a, v4_prefix, 12) == 0;
}

uint32_t wip_v4(const struct wip *w)
{
	return (uint32_t)w->a[12] << 24 | (uint32_t)w->a[13] << 16 | (uint32_t)w->a[14] << 8 |
	       w->a[15];
}

const char *wip_str(const struct wip *w, char *buf, size_t len)
{
	if (wip_is_v4(w))
		return inet_ntop(AF_INET, w->a + 12, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, w->a, buf, (socklen_t)len);
}

bool wip_parse(struct wip *w, const char *s)
{
	uint8_t b[16];
	if (inet_pton(AF_INET, s, b) == 1) {
		memcpy(w->a, v4_prefix, 12);
		memcpy(w->a + 12, b, 4);
		return true;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		memcpy(w->a, b, 16);
		return true;
	}
	return false;
}
