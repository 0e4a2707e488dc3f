/* relay_bench.c - the relay bench's helpers: counting sinks, and a bare recvmmsg+sendmmsg relay. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VLEN     64
#define BUFLEN   2048
#define MAX_PORT 8
#define IDLE_MS  1000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int udp_bind(uint16_t port, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct batch {
	struct mmsghdr msg[VLEN];
	struct iovec iov[VLEN];
	struct sockaddr_in from[VLEN];
	uint8_t buf[VLEN][BUFLEN];
};

static void batch_init(struct batch *b)
{
	for (int i = 0; i < VLEN; i++) {
		b->iov[i] = (struct iovec){b->buf[i], BUFLEN};
		b->msg[i].msg_hdr = (struct msghdr){.msg_name = &b->from[i],
		                                    .msg_namelen = sizeof(b->from[i]),
		                                    .msg_iov = &b->iov[i],
		                                    .msg_iovlen = 1};
	}
}

/*
 * sink PORT...: counts datagrams on each port; after the first one, exits once IDLE_MS pass
 * without any, printing {"datagrams": [..], "first_ns": F, "last_ns": L} (monotonic clock).
 */
static int run_sink(int argc, char **argv)
{
	static struct batch b;
	struct pollfd pfd[MAX_PORT];
	uint64_t count[MAX_PORT] = {0}, first = 0, last = 0;
	int n = argc < MAX_PORT ? argc : MAX_PORT;

	batch_init(&b);
	for (int i = 0; i < n; i++) {
		pfd[i] = (struct pollfd){.fd = udp_bind((uint16_t)atoi(argv[i]), 8 << 20),
		                         .events = POLLIN};
		if (pfd[i].fd < 0) {
			perror("sink bind");
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int rc = poll(pfd, (nfds_t)n, 100);
		uint64_t now = mono_ns();
		if (rc <= 0) {
			if (first && now - last > (uint64_t)IDLE_MS * 1000000u)
				break;
			continue;
		}
		for (int i = 0; i < n; i++) {
			int k;
			while ((k = recvmmsg(pfd[i].fd, b.msg, VLEN, MSG_DONTWAIT, NULL)) > 0) {
				count[i] += (uint64_t)k;
				last = mono_ns();
				if (!first)
					first = last;
			}
		}
	}
	printf("{\"datagrams\": [");
	for (int i = 0; i < n; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)count[i]);
	printf("], \"first_ns\": %llu, \"last_ns\": %llu}\n", (unsigned long long)first,
	       (unsigned long long)last);
	return 0;
}

/*
 * fwd LISTEN DEST...: the floor of relaying: recvmmsg a batch, pick a destination per datagram
 * from the source address, sendmmsg one batch per destination. Runs until SIGTERM.
 */
static int run_fwd(int argc, char **argv)
{
	static struct batch b;
	static struct mmsghdr out[MAX_PORT][VLEN];
	static struct iovec oiov[MAX_PORT][VLEN];
	int fds[MAX_PORT], nd = argc - 1 < MAX_PORT ? argc - 1 : MAX_PORT;
	int in = udp_bind((uint16_t)atoi(argv[0]), 8 << 20);

	if (in < 0 || nd < 1) {
		fprintf(stderr, "fwd: bad arguments or bind: %s\n", strerror(errno));
		return 1;
	}
	batch_init(&b);
	for (int i = 0; i < nd; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)atoi(argv[1 + i]))};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			return 1;
	}
	printf("ready\n");
	fflush(stdout);
	struct pollfd p = {.fd = in, .events = POLLIN};
	while (!stop) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		int k = recvmmsg(in, b.msg, VLEN, MSG_DONTWAIT, NULL);
		if (k <= 0)
			continue;
		unsigned cnt[MAX_PORT] = {0};
		for (int i = 0; i < k; i++) {
			unsigned d =
			    (ntohl(b.from[i].sin_addr.s_addr) * 2654435761u) % (unsigned)nd;
			oiov[d][cnt[d]] = (struct iovec){b.buf[i], b.msg[i].msg_len};
			out[d][cnt[d]].msg_hdr =
			    (struct msghdr){.msg_iov = &oiov[d][cnt[d]], .msg_iovlen = 1};
			cnt[d]++;
		}
		for (int d = 0; d < nd; d++)
			for (unsigned off = 0; off < cnt[d];) {
				int s = sendmmsg(fds[d], out[d] + off, cnt[d] - off, 0);
				if (s <= 0)
					break;
				off += (unsigned)s;
			}
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (argc >= 3 && !strcmp(argv[1], "sink"))
		return run_sink(argc - 2, argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "fwd"))
		return run_fwd(argc - 2, argv + 2);
	fprintf(stderr, "usage: relay_bench sink PORT... | relay_bench fwd LISTEN DEST...\n");
	return 2;
}
