/* udp_sink.c - the bench's baseline receiver: a bare recvmmsg loop that walks templates. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/cursor.h"

#define VLEN   64
#define BUFLEN 65536

/*
 * Record length per template id (v9 and IPFIX apart), not per exporter: this is a floor for
 * what receiving costs, not a collector. Variable-length fields are not handled.
 */
struct sink {
	uint16_t reclen[2][65536];
	bool options[2][65536];
	uint64_t datagrams, records, option_records;
};

static void learn(struct sink *s, int v, struct cursor *set, bool options, bool ipfix)
{
	while (cur_left(set) >= 4) {
		uint16_t id, nf, scope = 0, len = 0;
		if (!cur_u16(set, &id) || !cur_u16(set, &nf))
			return;
		if (options && ipfix && !cur_u16(set, &scope))
			return;
		if (options && !ipfix) {
			/* v9: scope and option lengths in bytes */
			uint16_t olen;
			if (!cur_u16(set, &olen))
				return;
			nf = (uint16_t)((nf + olen) / 4);
		}
		for (uint16_t i = 0; i < nf; i++) {
			uint16_t type, flen;
			if (!cur_u16(set, &type) || !cur_u16(set, &flen))
				return;
			if (type & 0x8000 && ipfix && !cur_skip(set, 4))
				return;
			len = (uint16_t)(len + flen);
		}
		s->reclen[v][id] = len;
		s->options[v][id] = options;
		if (!ipfix && options)
			return; /* padding may follow */
	}
}

static void walk(struct sink *s, const uint8_t *p, size_t n)
{
	struct cursor c, set;
	uint16_t version, count, id, slen;

	cur_init(&c, p, n);
	if (!cur_u16(&c, &version) || !cur_u16(&c, &count))
		return;
	if (version == 5) {
		s->records += count;
		return;
	}
	if ((version != 9 && version != 10) || !cur_skip(&c, version == 9 ? 16 : 12))
		return;
	int v = version == 10;
	while (cur_u16(&c, &id) && cur_u16(&c, &slen) && slen >= 4 &&
	       cur_sub(&c, slen - 4u, &set)) {
		if (id == (v ? 2 : 0) || id == (v ? 3 : 1))
			learn(s, v, &set, id == (v ? 3 : 1), v);
		else if (id >= 256 && s->reclen[v][id] && s->options[v][id])
			s->option_records += cur_left(&set) / s->reclen[v][id];
		else if (id >= 256 && s->reclen[v][id])
			s->records += cur_left(&set) / s->reclen[v][id];
	}
}

static int open_socket(const char *addr, int port, int rcvbuf)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {0, 100000};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t bufs[VLEN][BUFLEN];
	struct mmsghdr msg[VLEN];
	struct iovec iov[VLEN];
	sigset_t stop, pend;

	if (argc < 2) {
		fprintf(stderr,
		        "usage: udp_sink PORT [ADDR [RCVBUF]]   (SIGTERM prints the totals)\n");
		return 2;
	}
	struct sink *s = calloc(1, sizeof(*s));
	int fd = open_socket(argc > 2 ? argv[2] : "127.0.0.1", atoi(argv[1]),
	                     argc > 3 ? atoi(argv[3]) : 4 << 20);
	if (!s || fd < 0) {
		perror("udp_sink");
		return 1;
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	for (int i = 0; i < VLEN; i++) {
		iov[i] = (struct iovec){bufs[i], BUFLEN};
		msg[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
	}
	for (;;) {
		int n = recvmmsg(fd, msg, VLEN, 0, NULL);
		for (int i = 0; i < n; i++)
			walk(s, bufs[i], msg[i].msg_len);
		if (n > 0)
			s->datagrams += (uint64_t)n;
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			perror("recvmmsg");
			return 1;
		}
		if (sigpending(&pend) == 0 &&
		    (sigismember(&pend, SIGTERM) == 1 || sigismember(&pend, SIGINT) == 1))
			break;
	}
	printf("sink: datagrams %" PRIu64 " records %" PRIu64 " options %" PRIu64 "\n",
	       s->datagrams, s->records, s->option_records);
	close(fd);
	free(s);
	return 0;
}
