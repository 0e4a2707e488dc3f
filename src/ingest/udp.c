/* udp.c - UDP listener sockets and recvmmsg batches; moves bytes, parses nothing. */
#include "ingest/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"

struct udp_rx {
	int n;
	struct mmsghdr msg[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	/* Room for the SO_RXQ_OVFL counter of each datagram. */
	union {
		char buf[CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} ctl[UDP_BATCH];
	struct udp_dgram out[UDP_BATCH];
	uint8_t *data; /* UDP_BATCH slots of UDP_DGRAM_MAX bytes */
};

static int fail(char *err, size_t errlen, const struct listen_addr *la, const char *what)
{
	snprintf(err, errlen, "udp %s: %s: %s", la->text, what, strerror(errno));
	return -1;
}

static bool is_v6_wildcard(const struct listen_addr *la)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&la->ss;
	return la->ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

/* Asks for rcvbuf bytes, forcing past net.core.rmem_max when we may, and reads back the size. */
static void set_rcvbuf(int fd, uint32_t rcvbuf, struct udp_info *info)
{
	int want = rcvbuf > INT_MAX / 2 ? INT_MAX / 2 : (int)rcvbuf;
	socklen_t sl = sizeof(info->rcvbuf_got);

	info->rcvbuf_asked = want;
	info->forced = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == 0;
	if (!info->forced)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	info->rcvbuf_got = 0;
	(void)getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &info->rcvbuf_got, &sl);
	/* The kernel reports twice the payload room it granted (the rest is bookkeeping). */
	info->rcvbuf_capped = (int64_t)info->rcvbuf_got < 2 * (int64_t)want;
}

static void read_bound(int fd, struct udp_info *info)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct stat st;

	info->port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			info->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			info->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	info->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
}

int udp_open(const struct listen_addr *la, uint32_t rcvbuf, struct udp_info *info, char *err,
             size_t errlen)
{
	int one = 1;
	int fd = socket(la->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return fail(err, errlen, la, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto bad_reuseport;
	/* Best effort: without it drops are still read from /proc/net/udp. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	if (la->ss.ss_family == AF_INET6) {
		int v6only = is_v6_wildcard(la) ? 0 : 1;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
			goto bad_v6only;
	}
	set_rcvbuf(fd, rcvbuf, info);
	if (bind(fd, (const struct sockaddr *)&la->ss, la->len) < 0)
		goto bad_bind;
	read_bound(fd, info);
	return fd;

bad_reuseport:
	fail(err, errlen, la, "SO_REUSEPORT");
	close(fd);
	return -1;
bad_v6only:
	fail(err, errlen, la, "IPV6_V6ONLY");
	close(fd);
	return -1;
bad_bind:
	fail(err, errlen, la, "bind");
	close(fd);
	return -1;
}

struct udp_rx *udp_rx_new(void)
{
	struct udp_rx *rx = calloc(1, sizeof(*rx));

	if (!rx)
		return NULL;
	rx->data = malloc((size_t)UDP_BATCH * UDP_DGRAM_MAX);
	if (!rx->data) {
		free(rx);
		return NULL;
	}
	for (int i = 0; i < UDP_BATCH; i++) {
		rx->iov[i].iov_base = rx->data + (size_t)i * UDP_DGRAM_MAX;
		rx->iov[i].iov_len = UDP_DGRAM_MAX;
		rx->msg[i].msg_hdr.msg_iov = &rx->iov[i];
		rx->msg[i].msg_hdr.msg_iovlen = 1;
	}
	return rx;
}

void udp_rx_free(struct udp_rx *rx)
{
	if (!rx)
		return;
	free(rx->data);
	free(rx);
}

static void sender(const struct sockaddr_storage *ss, struct udp_dgram *d)
{
	memset(&d->src, 0, sizeof(d->src));
	d->src_port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		wip_from_v4(&d->src, ntohl(s4->sin_addr.s_addr));
		d->src_port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		/* A v4 sender on a dual-stack socket arrives mapped: the same form struct wip uses.
		 */
		wip_from_v6(&d->src, s6->sin6_addr.s6_addr);
		d->src_port = ntohs(s6->sin6_port);
	}
}

static void read_ovfl(struct msghdr *mh, uint64_t *kernel_drops)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		uint32_t v;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_RXQ_OVFL ||
		    cm->cmsg_len < CMSG_LEN(sizeof(v)))
			continue;
		memcpy(&v, CMSG_DATA(cm), sizeof(v));
		if (v > *kernel_drops)
			*kernel_drops = v;
	}
}

int udp_recv(struct udp_rx *rx, int fd, uint64_t *kernel_drops)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		struct msghdr *mh = &rx->msg[i].msg_hdr;
		mh->msg_name = &rx->from[i];
		mh->msg_namelen = sizeof(rx->from[i]);
		mh->msg_control = rx->ctl[i].buf;
		mh->msg_controllen = sizeof(rx->ctl[i].buf);
		mh->msg_flags = 0;
	}
	int n = recvmmsg(fd, rx->msg, UDP_BATCH, MSG_DONTWAIT, NULL);
	rx->n = 0;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct udp_dgram *d = &rx->out[i];
		d->data = rx->iov[i].iov_base;
		d->len = rx->msg[i].msg_len;
		sender(&rx->from[i], d);
		read_ovfl(&rx->msg[i].msg_hdr, kernel_drops);
	}
	rx->n = n;
	return n;
}

const struct udp_dgram *udp_rx_get(const struct udp_rx *rx, int i)
{
	return i >= 0 && i < rx->n ? &rx->out[i] : NULL;
}

/* Finds the line of one socket inode in a /proc/net/udp-style table; -1 when absent. */
static int64_t proc_table_drops(const char *path, ino_t inode)
{
	char line[512];
	int64_t drops = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (drops < 0 && fgets(line, sizeof(line), f)) {
		unsigned long long ino, d;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
		if (sscanf(line, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %*s %*s %llu", &ino,
		           &d) == 2 &&
		    ino == (unsigned long long)inode)
			drops = (int64_t)d;
	}
	fclose(f);
	return drops;
}

int64_t udp_proc_drops(ino_t inode)
{
	int64_t d = proc_table_drops("/proc/net/udp", inode);
	return d >= 0 ? d : proc_table_drops("/proc/net/udp6", inode);
}
