/* udp.h - UDP listener sockets (SO_REUSEPORT, big SO_RCVBUF, drop counters) and recvmmsg batches.
 */
#ifndef WEIR_INGEST_UDP_H
#define WEIR_INGEST_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "weir/flow.h"

struct listen_addr;

/* Datagrams per recvmmsg() call and the largest datagram a slot holds (the UDP maximum). */
#define UDP_BATCH     64
#define UDP_DGRAM_MAX 65536

/* What udp_open() learned about the socket it made. */
struct udp_info {
	int rcvbuf_asked;   /* bytes requested (nfacctd_pipe_size) */
	int rcvbuf_got;     /* what getsockopt(SO_RCVBUF) reports back (the kernel doubles it) */
	bool rcvbuf_capped; /* the kernel gave less than asked: raise net.core.rmem_max */
	bool forced;        /* SO_RCVBUFFORCE worked (root / CAP_NET_ADMIN) */
	uint16_t port;      /* the bound port (useful when the address asked for port 0) */
	ino_t inode;        /* socket inode, to find its drops in /proc/net/udp{,6} */
};

/*
 * Opens a non-blocking UDP socket bound to la with SO_REUSEPORT (so that every worker can bind
 * its own socket to the same address), SO_RXQ_OVFL, and a receive buffer of rcvbuf bytes
 * (SO_RCVBUFFORCE first, SO_RCVBUF when that is not permitted). An IPv6 wildcard address is
 * dual stack; any other IPv6 address is IPv6 only. Returns the fd, or -1 with err set.
 */
int udp_open(const struct listen_addr *la, uint32_t rcvbuf, struct udp_info *info, char *err,
             size_t errlen);

/* One received datagram, pointing into the batch's buffers (valid until the next udp_recv). */
struct udp_dgram {
	const uint8_t *data;
	size_t len;
	struct wip src;
	uint16_t src_port;
};

/* Buffers for one recvmmsg() batch, allocated once per worker. */
struct udp_rx;

struct udp_rx *udp_rx_new(void);
void udp_rx_free(struct udp_rx *rx);

/*
 * Receives up to UDP_BATCH datagrams from fd without blocking. Returns how many (0 when none
 * is waiting), or -1 on a socket error (errno set). *kernel_drops is raised to the socket's
 * cumulative drop count when a datagram carries it (SO_RXQ_OVFL).
 */
int udp_recv(struct udp_rx *rx, int fd, uint64_t *kernel_drops);
/* The i-th datagram of the last udp_recv(). */
const struct udp_dgram *udp_rx_get(const struct udp_rx *rx, int i);

/*
 * The kernel's drop counter of the socket with this inode, from /proc/net/udp and
 * /proc/net/udp6 (counts drops even when no later datagram reports them). -1 when not found.
 */
int64_t udp_proc_drops(ino_t inode);

#endif
