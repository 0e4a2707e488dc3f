/* raw.c - tee_transparent: raw sockets and hand-built IPv4/IPv6 + UDP headers. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/cursor.h"
#include "relay/relay_int.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

#define IP4_HDR   20
#define IP6_HDR   40
#define UDP_HDR   8
#define HOP_LIMIT 64

int relay_raw_open(int family, char *err, size_t errlen)
{
	int one = 1;
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

	if (fd < 0) {
		int e = errno;
		snprintf(
		    err, errlen, "tee_transparent: cannot open a raw %s socket: %s%s",
		    family == AF_INET ? "IPv4" : "IPv6", strerror(e),
		    e == EPERM || e == EACCES
		        ? " (keeping the exporter's source address needs CAP_NET_RAW: run as "
		          "root, or setcap cap_net_raw+ep on weir, or set tee_transparent: false)"
		        : "");
		return -1;
	}
	/* IPPROTO_RAW implies header inclusion; say it anyway for older kernels. */
	if (family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	else
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof(one));
	return fd;
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += get_u16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* RFC 8200 §8.1: the UDP checksum is mandatory over IPv6. */
static uint16_t udp6_csum(const uint8_t *ip6, const uint8_t *udp, const uint8_t *p, size_t plen)
{
	uint32_t s = 0;
	uint32_t ulen = (uint32_t)(UDP_HDR + plen);

	s = sum16(s, ip6 + 8, 32); /* source and destination */
	s += ulen >> 16;
	s += ulen & 0xffff;
	s += IPPROTO_UDP;
	s = sum16(s, udp, UDP_HDR);
	/* The payload starts at an even offset of the UDP message, so the sums chain. */
	s = sum16(s, p, plen);
	uint16_t c = fold(s);
	return c ? c : 0xffff;
}

static void udp_hdr(uint8_t *u, uint16_t sport, uint16_t dport, size_t plen)
{
	put_u16(u, sport);
	put_u16(u + 2, dport);
	put_u16(u + 4, (uint16_t)(UDP_HDR + plen));
	put_u16(u + 6, 0);
}

size_t relay_raw_hdr(uint8_t *h, const struct wip *src, uint16_t sport,
                     const struct sockaddr_storage *dst, const uint8_t *p, size_t plen)
{
	if (dst->ss_family == AF_INET) {
		const struct sockaddr_in *d4 = (const struct sockaddr_in *)dst;
		if (!wip_is_v4(src) || plen > 65535 - IP4_HDR - UDP_HDR)
			return 0;
		memset(h, 0, IP4_HDR);
		h[0] = 0x45;
		put_u16(h + 2, (uint16_t)(IP4_HDR + UDP_HDR + plen));
		h[8] = HOP_LIMIT;
		h[9] = IPPROTO_UDP;
		/* The kernel fills the id and the header checksum under IP_HDRINCL. */
		memcpy(h + 12, src->a + 12, 4);
		memcpy(h + 16, &d4->sin_addr, 4);
		/* A zero UDP checksum means "none" over IPv4 (RFC 768). */
		udp_hdr(h + IP4_HDR, sport, ntohs(d4->sin_port), plen);
		return IP4_HDR + UDP_HDR;
	}
	const struct sockaddr_in6 *d6 = (const struct sockaddr_in6 *)dst;
	if (wip_is_v4(src) || plen > 65535 - UDP_HDR)
		return 0;
	memset(h, 0, IP6_HDR);
	h[0] = 0x60;
	put_u16(h + 4, (uint16_t)(UDP_HDR + plen));
	h[6] = IPPROTO_UDP;
	h[7] = HOP_LIMIT;
	memcpy(h + 8, src->a, 16);
	memcpy(h + 24, &d6->sin6_addr, 16);
	udp_hdr(h + IP6_HDR, sport, ntohs(d6->sin6_port), plen);
	put_u16(h + IP6_HDR + 6, udp6_csum(h, h + IP6_HDR, p, plen));
	return IP6_HDR + UDP_HDR;
}
