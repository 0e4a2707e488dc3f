/* test_ingest.c - UDP listener sockets and the recvmmsg loop, over loopback with ephemeral ports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ingest/udp.h"

static void listen_v4(struct listen_addr *la, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&la->ss;

	memset(la, 0, sizeof(*la));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	la->len = sizeof(*s4);
	snprintf(la->text, sizeof(la->text), "127.0.0.1:%u", port);
}

/* A sender bound to 127.0.0.1 so that the test knows the source port it must see. */
static int sender(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void send_to(int fd, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)len);
}

/* Receives until `want` datagrams arrived or 50 polls of 100 ms found nothing more. */
static int recv_n(struct udp_rx *rx, int fd, int want, uint8_t seen[], size_t seen_len,
                  uint16_t src_port)
{
	uint64_t drops = 0;
	int got = 0;

	for (int tries = 0; got < want && tries < 50; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int n = udp_recv(rx, fd, &drops);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			const struct udp_dgram *d = udp_rx_get(rx, i);
			char buf[WIP_STRLEN];
			assert_non_null(d);
			assert_string_equal(wip_str(&d->src, buf, sizeof(buf)), "127.0.0.1");
			assert_int_equal(d->src_port, src_port);
			assert_true(d->len >= 1);
			assert_true(d->data[0] < seen_len);
			/* The payload is its index repeated: check every byte came through. */
			for (size_t k = 0; k < d->len; k++)
				assert_int_equal(d->data[k], d->data[0]);
			assert_int_equal(d->len, 100 + d->data[0]);
			seen[d->data[0]]++;
		}
		got += n;
	}
	assert_int_equal(drops, 0);
	return got;
}

static void socket_on_ephemeral_port(void **state)
{
	struct listen_addr la;
	struct udp_info info;
	char err[256];

	listen_v4(&la, 0);
	int fd = udp_open(&la, 1 << 20, &info, err, sizeof(err));
	assert_true(fd >= 0);
	assert_true(info.port != 0);
	assert_true(info.rcvbuf_got > 0);
	assert_int_equal(info.rcvbuf_asked, 1 << 20);
	/* The socket is listed in /proc/net/udp, with no drops yet. */
	assert_int_equal(udp_proc_drops(info.inode), 0);
	close(fd);
}

static void reuseport_lets_workers_share_a_port(void **state)
{
	struct listen_addr la;
	struct udp_info a, b;
	char err[256];

	listen_v4(&la, 0);
	int fa = udp_open(&la, 65536, &a, err, sizeof(err));
	assert_true(fa >= 0);
	listen_v4(&la, a.port);
	int fb = udp_open(&la, 65536, &b, err, sizeof(err));
	assert_true(fb >= 0);
	assert_int_equal(a.port, b.port);

	/* A plain socket (no SO_REUSEPORT) cannot take the port: bind errors are reported. */
	int plain = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in s4 = {.sin_family = AF_INET,
	                         .sin_port = htons(a.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_true(bind(plain, (struct sockaddr *)&s4, sizeof(s4)) < 0);
	close(plain);
	close(fa);
	close(fb);
}

static void bind_error_is_reported(void **state)
{
	struct listen_addr la;
	struct udp_info info;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&la.ss;
	char err[256] = "";

	listen_v4(&la, 0);
	/* 192.0.2.1 (TEST-NET-1) is not an address of this host. */
	s4->sin_addr.s_addr = htonl(0xc0000201);
	snprintf(la.text, sizeof(la.text), "192.0.2.1:0");
	assert_int_equal(udp_open(&la, 65536, &info, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "udp 192.0.2.1:0: bind"));
}

static void recvmmsg_loop_receives_every_datagram(void **state)
{
	struct listen_addr la;
	struct udp_info info;
	uint8_t seen[80] = {0};
	uint8_t buf[200];
	char err[256];
	uint16_t sport;

	listen_v4(&la, 0);
	int fd = udp_open(&la, 1 << 20, &info, err, sizeof(err));
	assert_true(fd >= 0);
	struct udp_rx *rx = udp_rx_new();
	assert_non_null(rx);
	int out = sender(&sport);

	/* More than one recvmmsg batch (UDP_BATCH) in flight. */
	for (int i = 0; i < 80; i++) {
		memset(buf, i, sizeof(buf));
		send_to(out, info.port, buf, 100 + (size_t)i);
	}
	assert_int_equal(recv_n(rx, fd, 80, seen, sizeof(seen), sport), 80);
	for (int i = 0; i < 80; i++)
		assert_int_equal(seen[i], 1);
	/* Nothing left: a non-blocking receive returns 0, not an error. */
	uint64_t drops = 0;
	assert_int_equal(udp_recv(rx, fd, &drops), 0);
	assert_null(udp_rx_get(rx, 0));

	udp_rx_free(rx);
	close(out);
	close(fd);
}

static void largest_datagram_fits(void **state)
{
	static uint8_t big[65507];
	struct listen_addr la;
	struct udp_info info;
	uint64_t drops = 0;
	char err[256];
	uint16_t sport;
	int n = 0;

	listen_v4(&la, 0);
	int fd = udp_open(&la, 1 << 20, &info, err, sizeof(err));
	assert_true(fd >= 0);
	struct udp_rx *rx = udp_rx_new();
	int out = sender(&sport);
	memset(big, 0xab, sizeof(big));
	send_to(out, info.port, big, sizeof(big));
	for (int tries = 0; n == 0 && tries < 50; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			n = udp_recv(rx, fd, &drops);
	}
	assert_int_equal(n, 1);
	assert_int_equal(udp_rx_get(rx, 0)->len, sizeof(big));
	assert_memory_equal(udp_rx_get(rx, 0)->data, big, sizeof(big));
	udp_rx_free(rx);
	close(out);
	close(fd);
}

/* A full socket buffer drops; the drop counter (SO_RXQ_OVFL, /proc) says how many. */
static void kernel_drops_are_counted(void **state)
{
	struct listen_addr la;
	struct udp_info info;
	uint8_t buf[1000];
	uint64_t drops = 0;
	char err[256];
	uint16_t sport;
	int got = 0, sent = 400;

	listen_v4(&la, 0);
	/* The smallest buffer the kernel grants: a few datagrams fill it. */
	int fd = udp_open(&la, 1, &info, err, sizeof(err));
	assert_true(fd >= 0);
	struct udp_rx *rx = udp_rx_new();
	int out = sender(&sport);
	memset(buf, 7, sizeof(buf));
	for (int i = 0; i < sent; i++)
		send_to(out, info.port, buf, sizeof(buf));
	int64_t proc = udp_proc_drops(info.inode);
	for (int tries = 0; tries < 5; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			break;
		int n;
		while ((n = udp_recv(rx, fd, &drops)) > 0)
			got += n;
	}
	assert_true(got > 0);
	assert_true(got < sent);
	assert_int_equal(proc, sent - got);
	/* The next datagram queued carries the socket's cumulative drop count (SO_RXQ_OVFL). */
	send_to(out, info.port, buf, sizeof(buf));
	int n = 0;
	for (int tries = 0; n == 0 && tries < 50; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			n = udp_recv(rx, fd, &drops);
	}
	assert_int_equal(n, 1);
	assert_int_equal(drops, (uint64_t)(sent - got));
	udp_rx_free(rx);
	close(out);
	close(fd);
}

static void ipv6_loopback(void **state)
{
	struct listen_addr la;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&la.ss;
	struct udp_info info;
	char err[256], text[WIP_STRLEN];
	uint64_t drops = 0;
	int n = 0;

	memset(&la, 0, sizeof(la));
	s6->sin6_family = AF_INET6;
	s6->sin6_addr = in6addr_loopback;
	la.len = sizeof(*s6);
	snprintf(la.text, sizeof(la.text), "[::1]:0");
	int fd = udp_open(&la, 65536, &info, err, sizeof(err));
	if (fd < 0)
		skip(); /* no IPv6 on this host */
	int out = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(out >= 0);
	s6->sin6_port = htons(info.port);
	assert_int_equal(sendto(out, "x", 1, 0, (struct sockaddr *)s6, sizeof(*s6)), 1);
	struct udp_rx *rx = udp_rx_new();
	for (int tries = 0; n == 0 && tries < 50; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			n = udp_recv(rx, fd, &drops);
	}
	assert_int_equal(n, 1);
	assert_string_equal(wip_str(&udp_rx_get(rx, 0)->src, text, sizeof(text)), "::1");
	udp_rx_free(rx);
	close(out);
	close(fd);
}

/* "::" is dual stack: an IPv4 sender arrives as a mapped address, i.e. as plain IPv4. */
static void dual_stack_wildcard(void **state)
{
	struct listen_addr la;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&la.ss;
	struct udp_info info;
	char err[256], text[WIP_STRLEN];
	uint64_t drops = 0;
	uint16_t sport;
	int n = 0;

	memset(&la, 0, sizeof(la));
	s6->sin6_family = AF_INET6;
	s6->sin6_addr = in6addr_any;
	la.len = sizeof(*s6);
	snprintf(la.text, sizeof(la.text), "[::]:0");
	int fd = udp_open(&la, 65536, &info, err, sizeof(err));
	if (fd < 0)
		skip();
	int out = sender(&sport);
	send_to(out, info.port, "y", 1);
	struct udp_rx *rx = udp_rx_new();
	for (int tries = 0; n == 0 && tries < 50; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			n = udp_recv(rx, fd, &drops);
	}
	assert_int_equal(n, 1);
	assert_true(wip_is_v4(&udp_rx_get(rx, 0)->src));
	assert_string_equal(wip_str(&udp_rx_get(rx, 0)->src, text, sizeof(text)), "127.0.0.1");
	assert_int_equal(udp_rx_get(rx, 0)->src_port, sport);
	udp_rx_free(rx);
	close(out);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(socket_on_ephemeral_port),
	    cmocka_unit_test(reuseport_lets_workers_share_a_port),
	    cmocka_unit_test(bind_error_is_reported),
	    cmocka_unit_test(recvmmsg_loop_receives_every_datagram),
	    cmocka_unit_test(largest_datagram_fits),
	    cmocka_unit_test(kernel_drops_are_counted),
	    cmocka_unit_test(ipv6_loopback),
	    cmocka_unit_test(dual_stack_wildcard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
