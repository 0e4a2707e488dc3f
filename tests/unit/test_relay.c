/* test_relay.c - receivers file parser, datagram inspection, rendezvous hashing and the send path
 * over real loopback sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ingest/udp.h"
#include "lib/cursor.h"
#include "relay/pick.h"
#include "relay/rcvfile.h"
#include "relay/relay.h"
#include "relay/relay_int.h"

static const struct relay_rcvfile_opts numeric = {.numeric_only = true};

static int parse(const char *text, struct relay_rcvfile *f, char *err, size_t errlen)
{
	return relay_rcvfile_parse("r.lst", text, strlen(text), &numeric, f, err, errlen);
}

/* --- receivers file --- */

static void rcvfile_reads_pmacct_example(void **state)
{
	struct relay_rcvfile f;
	char err[512];
	const char *text = "! pmacct's example, with tabs\n"
	                   "id=1\tip=192.168.1.1:2100\n"
	                   "id=2\tip=192.168.2.1:2100,192.168.2.2:2100\n"
	                   "id=3\tip=[::1]:2100 # comment\n"
	                   "\n"
	                   "id=4 ip=10.0.0.1:2100,10.0.0.2:2100 balance-alg=rr\n"
	                   "id=5 ip=10.0.0.1:9,10.0.0.2:9 balance-alg=dst-port ports=2055,2056 "
	                   "exporter=10.1.0.0/16,2001:db8::/32 version=9,ipfix sample=10 "
	                   "src_port=4000 healthz=8080\n"
	                   "id=6 ip=10.0.0.1:9 balance-alg=hash-crc32\n"
	                   "id=7 ip=10.0.0.1:9 balance-alg=all\n";

	assert_int_equal(parse(text, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 7);
	assert_int_equal(f.pools[0].id, 1);
	assert_int_equal(f.pools[0].bal, RB_HASH_AGENT);
	assert_int_equal(f.pools[1].n_rcv, 2);
	assert_string_equal(f.pools[1].rcv[1].text, "192.168.2.2:2100");
	assert_string_equal(f.pools[2].rcv[0].text, "[::1]:2100");
	assert_int_equal(f.pools[2].rcv[0].ss.ss_family, AF_INET6);
	assert_int_equal(f.pools[3].bal, RB_RR);
	const struct relay_pool_def *p = &f.pools[4];
	assert_int_equal(p->bal, RB_DST_PORT);
	assert_int_equal(p->rcv[0].in_port, 2055);
	assert_int_equal(p->rcv[1].in_port, 2056);
	assert_int_equal(p->protos, RP_V9 | RP_IPFIX);
	assert_int_equal(p->sample, 10);
	assert_int_equal(p->src_port, 4000);
	assert_int_equal(p->healthz_port, 8080);
	assert_string_equal(p->healthz_path, "/healthz");
	assert_non_null(p->exporters);
	assert_int_equal(f.pools[5].bal, RB_HASH_AGENT);
	assert_int_equal(f.pools[6].bal, RB_ALL);
	assert_int_equal(f.pools[0].sample, 1);
	relay_rcvfile_free(&f);
}

static void expect_error(const char *text, const char *want)
{
	struct relay_rcvfile f;
	char err[512] = "";

	assert_int_equal(parse(text, &f, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_int_equal(f.n, 0);
	assert_null(f.pools);
}

static void rcvfile_errors_carry_file_and_line(void **state)
{
	expect_error("id=1 ip=127.0.0.1:1\n\nid=2\n", "r.lst:3: pool 2 has no receivers");
	expect_error("id=1 ip=\n", "r.lst:1: pool 1 has no receivers");
	expect_error("ip=127.0.0.1:1\n", "r.lst:1: pool without id=");
	expect_error("id=0 ip=127.0.0.1:1\n", "r.lst:1: id:");
	expect_error("id=1 ip=127.0.0.1:1\nid=1 ip=127.0.0.1:2\n", "r.lst:2: pool id 1 already");
	expect_error("id=1 ip=127.0.0.1\n", "r.lst:1: ip: '127.0.0.1' is not host:port");
	expect_error("id=1 ip=127.0.0.1:70000\n", "port must be 1..65535");
	expect_error("id=1 ip=::1:2100\n", "is not host:port");
	expect_error("id=1 ip=127.0.0.1:1,,127.0.0.1:2\n", "empty or overlong");
	expect_error("id=1 ip=127.0.0.1:1 balance-alg=fastest\n", "balance-alg: 'fastest'");
	expect_error("id=1 ip=127.0.0.1:1 tag=120-110\n", "r.lst:1: tag: range '120-110'");
	expect_error("id=1 ip=127.0.0.1:1 tag=5-5\n", "LOW < HIGH");
	expect_error("id=1 ip=127.0.0.1:1 tag=abc\n", "tag: 'abc' is not N");
	expect_error("id=1 ip=127.0.0.1:1 tag=1,,2\n", "tag: empty item");
	expect_error("id=1 ip=127.0.0.1:1 tag=\n", "tag: empty list");
	expect_error("id=1 ip=127.0.0.1:1 tag=1 tag=2\n", "tag given twice");
	expect_error("id=1 ip=127.0.0.1:1 tag=18446744073709551616\n", "is not N");
	expect_error("id=1 ip=127.0.0.1:1 kafka_broker=x:1\n", "Kafka");
	expect_error("id=1 ip=127.0.0.1:1 colour=blue\n", "unknown key 'colour'");
	expect_error("id=1 ip=127.0.0.1:1 justaword\n", "'justaword' is not key=value");
	expect_error("id=1 ip=127.0.0.1:1 version=8\n", "version: '8'");
	expect_error("id=1 ip=127.0.0.1:1 sample=0\n", "sample:");
	expect_error("id=1 ip=127.0.0.1:1 exporter=10.0.0.0/33\n", "exporter:");
	expect_error("id=1 ip=127.0.0.1:1 ports=1,2\n", "more ports than receivers");
	expect_error("id=1 ports=1 ip=127.0.0.1:1\n", "give ip= first");
	expect_error("id=1 ip=127.0.0.1:1 healthz=http\n", "healthz:");
	expect_error("id=1 ip=my-collector:2100\n", "cannot resolve 'my-collector'");
	expect_error("! nothing\n\n", "no pool defined");

	struct relay_rcvfile f;
	char err[256];
	const char nul[] = "id=1 ip=127.0.0.1:1\0\n";
	assert_int_equal(
	    relay_rcvfile_parse("r", nul, sizeof(nul) - 1, &numeric, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "r:1: NUL byte"));
}

/* pmacct's tee_receivers.lst.example: tag lists, ranges, negation, hash-tag. */
static void rcvfile_tags_and_hash_tag(void **state)
{
	struct relay_rcvfile f;
	char err[512];
	const char *text = "id=1\tip=192.168.1.1:2100\t\t\ttag=100,150\n"
	                   "id=2\tip=192.168.2.1:2100,192.168.2.2:2100\ttag=105,110-120\n"
	                   "id=3\tip=192.168.3.1:2100\t\t\ttag=-150\n"
	                   "id=4 ip=10.0.0.1:9,10.0.0.2:9 balance-alg=hash-tag\n"
	                   "id=5 ip=10.0.0.1:9 tag=-110-120,0,18446744073709551615\n";

	assert_int_equal(parse(text, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 5);
	assert_int_equal(f.pools[0].n_tags, 2);
	assert_int_equal(f.pools[1].tags[1].lo, 110);
	assert_int_equal(f.pools[1].tags[1].hi, 120);
	assert_true(f.pools[2].tags[0].neg);
	assert_int_equal(f.pools[3].bal, RB_HASH_TAG);
	assert_string_equal(relay_balance_name(RB_HASH_TAG), "hash-tag");
	assert_true(relay_pool_needs_tags(&f.pools[3]) && relay_pool_needs_tags(&f.pools[0]));
	assert_int_equal(f.pools[4].n_tags, 3);
	assert_true(f.pools[4].tags[0].neg && f.pools[4].tags[0].hi == 120);
	assert_true(f.pools[4].tags[2].lo == UINT64_MAX);

	/* Pool 1: 100 and 150 only. */
	assert_true(relay_tags_pass(&f.pools[0], 100) && relay_tags_pass(&f.pools[0], 150));
	assert_false(relay_tags_pass(&f.pools[0], 0) || relay_tags_pass(&f.pools[0], 101));
	/* Pool 2: 105 and 110..120. */
	assert_true(relay_tags_pass(&f.pools[1], 105) && relay_tags_pass(&f.pools[1], 110) &&
	            relay_tags_pass(&f.pools[1], 120));
	assert_false(relay_tags_pass(&f.pools[1], 109) || relay_tags_pass(&f.pools[1], 121));
	/* Pool 3: everything but 150 (untagged datagrams too). */
	assert_false(relay_tags_pass(&f.pools[2], 150));
	assert_true(relay_tags_pass(&f.pools[2], 0) && relay_tags_pass(&f.pools[2], 149));
	/* A negated item that does not hold the tag takes it at once (pmacct's evaluate_tags). */
	assert_false(relay_tags_pass(&f.pools[4], 115));
	assert_true(relay_tags_pass(&f.pools[4], 7));
	/* No tag=: every tag. */
	assert_true(relay_tags_pass(&f.pools[3], 12345));
	relay_rcvfile_free(&f);
}

static void rcvfile_limits(void **state)
{
	struct relay_rcvfile_opts o = {.numeric_only = true, .max_pools = 1, .max_receivers = 2};
	struct relay_rcvfile f;
	char err[256];
	const char *two = "id=1 ip=127.0.0.1:1\nid=2 ip=127.0.0.1:2\n";
	const char *three = "id=1 ip=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3\n";

	assert_int_equal(relay_rcvfile_parse("r", two, strlen(two), &o, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "r:2: more than 1 pools"));
	assert_int_equal(relay_rcvfile_parse("r", three, strlen(three), &o, &f, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "r:1: ip: more than 2 receivers"));
}

static void rcvfile_unresolvable_host(void **state)
{
	struct relay_rcvfile_opts o = {0};
	struct relay_rcvfile f;
	char err[256];
	const char *t = "id=7 ip=no-such-host.invalid:2100\n";

	assert_int_equal(relay_rcvfile_parse("r", t, strlen(t), &o, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "r:1: ip: cannot resolve 'no-such-host.invalid'"));
	/* A name that resolves locally is accepted. */
	t = "id=7 ip=localhost:2100\n";
	assert_int_equal(relay_rcvfile_parse("r", t, strlen(t), &o, &f, err, sizeof(err)), 0);
	relay_rcvfile_free(&f);
}

/* --- datagram inspection --- */

/* NetFlow v9: header, a template flowset (id 0, one template of 2 fields), a data flowset. */
static size_t v9_mixed(uint8_t *b)
{
	memset(b, 0, 48);
	put_u16(b, 9);
	put_u16(b + 2, 2);
	put_u16(b + 20, 0);
	put_u16(b + 22, 16);
	put_u16(b + 24, 256);
	put_u16(b + 26, 2);
	put_u16(b + 28, 8), put_u16(b + 30, 4);
	put_u16(b + 32, 12), put_u16(b + 34, 4);
	put_u16(b + 36, 256);
	put_u16(b + 38, 12);
	return 48;
}

/* IPFIX: header, a data set, a template set (id 2), an options template set (id 3). */
static size_t ipfix_mixed(uint8_t *b)
{
	memset(b, 0, 80);
	put_u16(b, 10);
	put_u16(b + 16, 300), put_u16(b + 18, 8); /* data */
	put_u16(b + 24, 2), put_u16(b + 26, 12);  /* template */
	put_u16(b + 28, 300), put_u16(b + 30, 1), put_u16(b + 32, 8), put_u16(b + 34, 4);
	put_u16(b + 36, 3), put_u16(b + 38, 14); /* options template */
	put_u16(b + 40, 301), put_u16(b + 42, 1), put_u16(b + 44, 1);
	put_u16(b + 46, 149), put_u16(b + 48, 4);
	put_u16(b + 2, 50);
	return 50;
}

static void proto_and_sets(void **state)
{
	uint8_t b[128], v5[24] = {0, 5}, sf[8] = {0, 0, 0, 5}, junk[1] = {9};

	assert_int_equal(relay_proto_of(v5, sizeof(v5)), RP_V5);
	assert_int_equal(relay_proto_of(sf, sizeof(sf)), RP_SFLOW);
	assert_int_equal(relay_proto_of(junk, sizeof(junk)), RP_OTHER);
	assert_int_equal(relay_proto_of(b, 0), RP_OTHER);
	size_t n = v9_mixed(b);
	assert_int_equal(relay_proto_of(b, n), RP_V9);
	assert_int_equal(relay_sets_of(b, n), RS_TEMPLATES | RS_DATA);
	assert_int_equal(relay_sets_of(b, 36), RS_TEMPLATES);
	assert_int_equal(relay_sets_of(b, 35), 0); /* a set running past the end */
	n = ipfix_mixed(b);
	assert_int_equal(relay_sets_of(b, n), RS_TEMPLATES | RS_DATA);
	assert_int_equal(relay_sets_of(v5, sizeof(v5)), 0);
}

static void template_copy_keeps_input(void **state)
{
	uint8_t in[128], before[128], out[128];
	size_t n = ipfix_mixed(in), m;

	memcpy(before, in, sizeof(in));
	m = relay_templates_copy(in, n, out, sizeof(out));
	assert_memory_equal(in, before, sizeof(in));
	assert_int_equal(m, 16 + 12 + 14);
	assert_int_equal(get_u16(out + 2), m);
	assert_int_equal(get_u16(out + 16), 2);
	assert_int_equal(get_u16(out + 28), 3);
	assert_int_equal(relay_sets_of(out, m), RS_TEMPLATES);
	assert_int_equal(relay_templates_copy(in, n, out, 20), 0); /* does not fit */

	n = v9_mixed(in);
	memcpy(before, in, sizeof(in));
	m = relay_templates_copy(in, n, out, sizeof(out));
	assert_memory_equal(in, before, sizeof(in));
	assert_int_equal(m, 36);
	assert_int_equal(get_u16(out + 2), 1); /* one template record */
	uint8_t data_only[48];
	memcpy(data_only, in, 20);
	memcpy(data_only + 20, in + 36, 12);
	assert_int_equal(relay_templates_copy(data_only, 32, out, sizeof(out)), 0);
}

/* --- rendezvous hashing --- */

static int hrw(uint64_t h, const uint64_t *keys, const bool *up, int n)
{
	int best = -1;
	uint64_t bs = 0;
	for (int i = 0; i < n; i++) {
		uint64_t s = relay_score(h, keys[i]);
		if (up[i] && (best < 0 || s > bs))
			best = i, bs = s;
	}
	return best;
}

static void rendezvous_moves_only_the_dead(void **state)
{
	const char *names[4] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"};
	uint64_t keys[4];
	bool up[4] = {true, true, true, true};
	int before[1000], count[4] = {0};

	for (int i = 0; i < 4; i++)
		keys[i] = relay_rcv_key(names[i]);
	for (int a = 0; a < 1000; a++) {
		struct wip w;
		wip_from_v4(&w, 0x0a000000u + (uint32_t)a);
		before[a] = hrw(relay_hash_addr(&w), keys, up, 4);
		count[before[a]]++;
	}
	for (int i = 0; i < 4; i++)
		assert_true(count[i] > 150 && count[i] < 350); /* roughly even */
	up[2] = false;
	for (int a = 0; a < 1000; a++) {
		struct wip w;
		wip_from_v4(&w, 0x0a000000u + (uint32_t)a);
		int now = hrw(relay_hash_addr(&w), keys, up, 4);
		if (before[a] != 2)
			assert_int_equal(now, before[a]);
		else
			assert_int_not_equal(now, 2);
	}
}

/* --- transparent headers --- */

static void raw_headers(void **state)
{
	uint8_t h[RELAY_HDR_MAX], pay[5] = {1, 2, 3, 4, 5};
	struct sockaddr_storage ss;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *d4 = (struct sockaddr_in *)&ss;
	struct wip src;

	memset(&ss, 0, sizeof(ss));
	d4->sin_family = AF_INET;
	d4->sin_port = htons(2100);
	inet_pton(AF_INET, "10.0.0.2", &d4->sin_addr);
	wip_from_v4(&src, 0x0a000001);
	assert_int_equal(relay_raw_hdr(h, &src, 999, &ss, pay, sizeof(pay)), 28);
	assert_int_equal(h[0], 0x45);
	assert_int_equal(h[9], IPPROTO_UDP);
	assert_int_equal(get_u32(h + 12), 0x0a000001);
	assert_int_equal(get_u16(h + 20), 999);
	assert_int_equal(get_u16(h + 22), 2100);
	assert_int_equal(get_u16(h + 24), 13);

	memset(&ss, 0, sizeof(ss));
	d6->sin6_family = AF_INET6;
	d6->sin6_port = htons(2100);
	inet_pton(AF_INET6, "2001:db8::2", &d6->sin6_addr);
	assert_int_equal(relay_raw_hdr(h, &src, 999, &ss, pay, sizeof(pay)), 0); /* v4 to v6 */
	uint8_t a6[16];
	inet_pton(AF_INET6, "2001:db8::1", a6);
	wip_from_v6(&src, a6);
	assert_int_equal(relay_raw_hdr(h, &src, 999, &ss, pay, sizeof(pay)), 48);
	/* The checksum over pseudo header, UDP header and payload sums to 0xffff. */
	uint32_t s = 0;
	for (int i = 8; i < 40; i += 2)
		s += get_u16(h + i);
	s += 13 + IPPROTO_UDP;
	for (int i = 40; i < 48; i += 2)
		s += get_u16(h + i);
	s += 0x0102 + 0x0304 + 0x0500;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	assert_int_equal(s, 0xffff);
}

/* --- the send path over loopback --- */

struct rig {
	int fd[4];
	uint16_t port[4];
	char path[64];
	struct plugin_conf pc;
	struct relay *r;
};

/* The global configuration of the next rig_open() (pre_tag_map); NULL: none. */
static const struct conf *rig_conf;

static void rig_open(struct rig *g, int n, const char *opts)
{
	char text[512];
	size_t len = 0;

	memset(g, 0, sizeof(*g));
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_addr.s_addr = htonl(0x7f000001)};
		socklen_t sl = sizeof(a);
		g->fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		assert_true(g->fd[i] >= 0);
		assert_int_equal(bind(g->fd[i], (struct sockaddr *)&a, sizeof(a)), 0);
		getsockname(g->fd[i], (struct sockaddr *)&a, &sl);
		g->port[i] = ntohs(a.sin_port);
	}
	len += (size_t)snprintf(text + len, sizeof(text) - len, "id=1 ip=");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s127.0.0.1:%u",
		                        i ? "," : "", g->port[i]);
	snprintf(text + len, sizeof(text) - len, " %s\n", opts);
	snprintf(g->path, sizeof(g->path), "/tmp/test_relay.%d.lst", (int)getpid());
	FILE *f = fopen(g->path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(g->pc.type, sizeof(g->pc.type), "tee");
	snprintf(g->pc.name, sizeof(g->pc.name), "t");
	snprintf(g->pc.tee_receivers, sizeof(g->pc.tee_receivers), "%s", g->path);
	g->pc.conf = rig_conf;
	const struct plugin_conf *pcs[1] = {&g->pc};
	char err[256];
	int code;
	g->r = relay_open(pcs, 1, 1, &code, err, sizeof(err));
	if (!g->r)
		fail_msg("relay_open: %s", err);
}

static struct relay_rcv *rcv_at(struct relay *r, size_t g)
{
	return atomic_load(&r->set)->rcv[g];
}

static void rig_close(struct rig *g)
{
	relay_free(g->r);
	for (int i = 0; i < 4; i++)
		if (g->fd[i] > 0)
			close(g->fd[i]);
	unlink(g->path);
}

/* Datagrams waiting on receiver i (drained). */
static int drain(struct rig *g, int i, uint8_t *last, size_t *last_len)
{
	uint8_t buf[2048];
	int n = 0;
	for (;;) {
		ssize_t k = recv(g->fd[i], buf, sizeof(buf), 0);
		if (k < 0)
			return n;
		if (last) {
			memcpy(last, buf, (size_t)k);
			*last_len = (size_t)k;
		}
		n++;
	}
}

static void send_from(struct rig *g, uint32_t src, const uint8_t *p, size_t len, uint16_t port)
{
	struct udp_dgram d = {.data = p, .len = len, .src_port = 5000};
	wip_from_v4(&d.src, src);
	relay_input(g->r, 0, &d, port);
}

static void hash_agent_pins_exporters(void **state)
{
	struct rig g;
	uint8_t v5[72] = {0, 5}, before[72];
	int got[3] = {0};

	memcpy(before, v5, sizeof(v5));
	rig_open(&g, 3, "balance-alg=hash-agent");
	/* 30 exporters x 3 datagrams: each exporter's datagrams land on one receiver. */
	for (int rep = 0; rep < 3; rep++) {
		for (uint32_t e = 0; e < 30; e++)
			send_from(&g, 0x0a000001 + e, v5, sizeof(v5), 2055);
		relay_flush(g.r, 0);
	}
	assert_memory_equal(v5, before, sizeof(v5));
	usleep(20000);
	for (int i = 0; i < 3; i++)
		got[i] = drain(&g, i, NULL, NULL);
	assert_int_equal(got[0] + got[1] + got[2], 90);
	for (int i = 0; i < 3; i++)
		assert_int_equal(got[i] % 3, 0);

	/* Receiver 1 down: its exporters spread over 0 and 2, the others stay. */
	relay_rcv_down(rcv_at(g.r, 1), DOWN_ICMP, "test");
	for (uint32_t e = 0; e < 30; e++)
		send_from(&g, 0x0a000001 + e, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	assert_int_equal(drain(&g, 1, NULL, NULL), 0);
	int a = drain(&g, 0, NULL, NULL), c = drain(&g, 2, NULL, NULL);
	assert_int_equal(a + c, 30);
	assert_true(a >= got[0] / 3 && c >= got[2] / 3);
	relay_rcv_up(rcv_at(g.r, 1), DOWN_ICMP, "test");
	rig_close(&g);
}

static void rr_sends_templates_everywhere(void **state)
{
	struct rig g;
	uint8_t ipfix[80], last[2048];
	size_t n = ipfix_mixed(ipfix), ll = 0;
	uint8_t data[24];

	memcpy(data, ipfix, 16);
	memcpy(data + 16, ipfix + 16, 8);
	put_u16(data + 2, 24);
	rig_open(&g, 3, "balance-alg=rr");
	for (int i = 0; i < 6; i++)
		send_from(&g, 0x0a000001, data, sizeof(data), 2055);
	send_from(&g, 0x0a000001, ipfix, n, 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	/* 6 data datagrams spread 2/2/2; the mixed one goes whole to the next receiver (0) and
	 * as a template-only copy to the other two. */
	assert_int_equal(drain(&g, 0, last, &ll), 3);
	assert_int_equal(ll, n);
	assert_int_equal(drain(&g, 1, last, &ll), 3);
	assert_int_equal(ll, 16 + 12 + 14);
	assert_int_equal(relay_sets_of(last, ll), RS_TEMPLATES);
	assert_int_equal(drain(&g, 2, NULL, NULL), 3);
	rig_close(&g);
}

static void dst_port_filters_and_sampling(void **state)
{
	struct rig g;
	uint8_t v5[72] = {0, 5}, v9[48];
	size_t n9 = v9_mixed(v9);

	/* ports= maps arrival ports to receivers; only v5 from 10.0.0.0/8; 1 in 2 sampled. */
	rig_open(&g, 2,
	         "balance-alg=dst-port ports=2055,2056 version=5,9 exporter=10.0.0.0/8 sample=2");
	for (int i = 0; i < 4; i++) {
		send_from(&g, 0x0a000001, v5, sizeof(v5), 2055);
		send_from(&g, 0x0a000001, v5, sizeof(v5), 2056);
	}
	send_from(&g, 0xc0000201, v5, sizeof(v5), 2055); /* exporter filtered */
	send_from(&g, 0x0a000001, v5, sizeof(v5), 9999); /* no receiver owns the port */
	send_from(&g, 0x0a000001, v9, n9, 2056);         /* templates pass the sampler */
	uint8_t ipfix[80];
	send_from(&g, 0x0a000001, ipfix, ipfix_mixed(ipfix), 2055); /* version filtered */
	relay_flush(g.r, 0);
	usleep(20000);
	int a = drain(&g, 0, NULL, NULL), b = drain(&g, 1, NULL, NULL);
	/* 8 v5 to the ports + 1 to 9999 = 9 sampled 1 in 2 -> 5 kept, the 9999 one among them or
	 * not; the v9 template datagram always passes. */
	assert_int_equal(a + b, 4 + 1);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	relay_stats_print(g.r, f);
	fclose(f);
	assert_non_null(strstr(text, "filtered 2 "));
	assert_non_null(strstr(text, "relay exporter 10.0.0.1: packets_in 11 "));
	assert_non_null(strstr(text, "relay exporter 192.0.2.1: packets_in 1 "));
	free(text);
	rig_close(&g);
}

static void refused_receiver_goes_down(void **state)
{
	struct rig g;
	uint8_t v5[72] = {0, 5};

	rig_open(&g, 2, "balance-alg=all");
	close(g.fd[1]); /* nothing listens there now: ICMP port unreachable */
	g.fd[1] = -1;
	for (int i = 0; i < 5 && atomic_load(&rcv_at(g.r, 1)->st->down) == 0; i++) {
		send_from(&g, 0x0a000001, v5, sizeof(v5), 2055);
		relay_flush(g.r, 0);
		usleep(10000);
	}
	assert_int_equal(atomic_load(&rcv_at(g.r, 1)->st->down), DOWN_ICMP);
	assert_true(drain(&g, 0, NULL, NULL) >= 2);
	rig_close(&g);
}

/* --- reloads --- */

static void match_keeps_pool_address_and_source_port(void **state)
{
	int a, b;
	const struct relay_key was[] = {
	    {&a, 1, 0, "127.0.0.1:2100"}, {&a, 1, 0, "127.0.0.1:2101"},
	    {&a, 2, 0, "127.0.0.1:2100"}, {&b, 1, 0, "127.0.0.1:2100"},
	    {&a, 3, 9, "127.0.0.1:2100"}, {&a, 4, 0, "127.0.0.1:2100"},
	};
	const struct relay_key nw[] = {
	    {&a, 1, 0, "127.0.0.1:2101"}, /* moved within the pool's list: kept */
	    {&a, 1, 0, "127.0.0.1:2102"}, /* new address */
	    {&b, 1, 0, "127.0.0.1:2100"}, /* same pool id, other plugin: its own */
	    {&a, 3, 8, "127.0.0.1:2100"}, /* src_port changed: a new socket */
	    {&a, 4, 0, "127.0.0.1:2100"}, /* listed twice: the first one keeps it */
	    {&a, 4, 0, "127.0.0.1:2100"},
	};
	int out[6];

	relay_match(was, 6, nw, 6, out);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], -1);
	assert_int_equal(out[2], 3);
	assert_int_equal(out[3], -1);
	assert_int_equal(out[4], 5);
	assert_int_equal(out[5], -1);
	relay_match(was, 0, nw, 2, out);
	assert_int_equal(out[0], -1);
	assert_int_equal(out[1], -1);
}

static void rig_rewrite(struct rig *g, const char *text)
{
	FILE *f = fopen(g->path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *stats_text(struct relay *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	relay_stats_print(r, f);
	fclose(f);
	return text;
}

static void reload_swaps_keeps_and_refuses_bad_files(void **state)
{
	struct rig g;
	uint8_t v5[72] = {0, 5};
	char text[256], msg[512];
	int before[3] = {0}, after[3] = {0};

	rig_open(&g, 3, "balance-alg=hash-agent");
	uint64_t key1 = rcv_at(g.r, 1)->key;
	struct rw_queue *q1 = atomic_load(&g.r->set)->w[0].q[1];
	for (uint32_t e = 0; e < 40; e++)
		send_from(&g, 0x0a000001 + e, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	for (int i = 0; i < 3; i++)
		before[i] = drain(&g, i, NULL, NULL);

	/* The same file again: every exporter lands where it did, counters go on. */
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "1 pool, 3 receivers -> 1 pool, 3 receivers (3 kept, 0 new"));
	assert_null(g.r->retired); /* no worker was in a batch: freed at once */
	assert_ptr_equal(atomic_load(&g.r->set)->w[0].q[1], q1);
	for (uint32_t e = 0; e < 40; e++)
		send_from(&g, 0x0a000001 + e, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	for (int i = 0; i < 3; i++)
		after[i] = drain(&g, i, NULL, NULL);
	assert_memory_equal(before, after, sizeof(before));

	/* Receiver 0 removed, 1 kept (its socket and counters), 2 moved behind a new pool. */
	snprintf(text, sizeof(text),
	         "id=1 ip=127.0.0.1:%u balance-alg=hash-agent\nid=7 ip=127.0.0.1:%u\n", g.port[1],
	         g.port[2]);
	rig_rewrite(&g, text);
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "-> 2 pools, 2 receivers (1 kept, 1 new, 2 removed)"));
	assert_ptr_equal(atomic_load(&g.r->set)->w[0].q[0], q1);
	assert_true(rcv_at(g.r, 0)->key == key1);
	for (uint32_t e = 0; e < 40; e++)
		send_from(&g, 0x0a000001 + e, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	assert_int_equal(drain(&g, 0, NULL, NULL), 0);
	assert_int_equal(drain(&g, 1, NULL, NULL), 40);
	assert_int_equal(drain(&g, 2, NULL, NULL), 40);

	/* A bad line: -1 with file:line, the pools stay and keep forwarding. */
	rig_rewrite(&g, "id=1 ip=127.0.0.1:1\nid=2 bogus=1\n");
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), -1);
	snprintf(text, sizeof(text), "%s:2:", g.path);
	assert_non_null(strstr(msg, text));
	send_from(&g, 0x0a000001, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	assert_int_equal(drain(&g, 1, NULL, NULL), 1);
	assert_int_equal(drain(&g, 2, NULL, NULL), 1);
	char *st = stats_text(g.r);
	assert_non_null(strstr(st, "relay reloads 2 reload_failures 1"));
	snprintf(text, sizeof(text), "relay receiver 127.0.0.1:%u pool 1: state up packets_out %d ",
	         g.port[1], before[1] + after[1] + 40 + 1);
	assert_non_null(strstr(st, text));
	free(st);
	rig_close(&g);
}

/* A worker in the middle of a batch keeps its set: the old one is freed after its flush. */
static void reload_waits_for_the_batch_in_progress(void **state)
{
	struct rig g;
	uint8_t v5[72] = {0, 5};
	char msg[512];

	rig_open(&g, 2, "balance-alg=all");
	send_from(&g, 0x0a000001, v5, sizeof(v5), 2055); /* batch open, not flushed */
	struct relay_set *old = atomic_load(&g.r->set);
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), 0);
	assert_ptr_equal(g.r->retired, old);
	send_from(&g, 0x0a000002, v5, sizeof(v5), 2055); /* same batch: still the old set */
	assert_ptr_equal(g.r->w[0].cur, old);
	relay_flush(g.r, 0);
	pthread_mutex_lock(&g.r->lock);
	relay_reclaim(g.r);
	pthread_mutex_unlock(&g.r->lock);
	assert_null(g.r->retired);
	usleep(20000);
	assert_int_equal(drain(&g, 0, NULL, NULL), 2);
	assert_int_equal(drain(&g, 1, NULL, NULL), 2);
	rig_close(&g);
}

/* --- pre_tag_map: tag= pools and balance-alg=hash-tag --- */

static struct conf tag_conf;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void tag_map(const char *text)
{
	snprintf(tag_conf.pre_tag_map, sizeof(tag_conf.pre_tag_map), "/tmp/test_relay.%d.map",
	         (int)getpid());
	write_file(tag_conf.pre_tag_map, text);
	rig_conf = &tag_conf;
}

static void tag_map_done(void)
{
	unlink(tag_conf.pre_tag_map);
	rig_conf = NULL;
}

/* An sFlow v5 datagram header from agent 10.0.1.1 (no samples). */
static const uint8_t sflow_agent_10_0_1_1[28] = {0, 0, 0, 5, 0, 0, 0, 1, 10, 0, 1, 1};

static void tag_pools_split_by_exporter(void **state)
{
	struct rig g;
	uint8_t v5[72] = {0, 5};
	char text[512], msg[512];

	tag_map("! exporters of tag 1, tag 2; one with only set_tag2 (tag 0)\n"
	        "set_tag=1 ip=10.0.0.0/24\n"
	        "set_tag=2 ip=10.0.1.0/24\n"
	        "set_tag2=5 ip=10.0.2.1\n");
	rig_open(&g, 3, "tag=1");
	snprintf(text, sizeof(text),
	         "id=1 ip=127.0.0.1:%u tag=1\nid=2 ip=127.0.0.1:%u tag=2\nid=3 ip=127.0.0.1:%u "
	         "tag=0\n",
	         g.port[0], g.port[1], g.port[2]);
	rig_rewrite(&g, text);
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "pre_tag_map /tmp/test_relay."));
	assert_non_null(strstr(msg, ": 3 rules"));
	for (int rep = 0; rep < 3; rep++) {
		send_from(&g, 0x0a000005, v5, sizeof(v5), 2055); /* tag 1 */
		send_from(&g, 0x0a000006, v5, sizeof(v5), 2055); /* tag 1 */
		send_from(&g, 0x0a000107, v5, sizeof(v5), 2055); /* tag 2 */
		send_from(&g, 0x0a000201, v5, sizeof(v5), 2055); /* matched, no set_tag: 0 */
		send_from(&g, 0x0a090909, v5, sizeof(v5), 2055); /* no rule: 0 */
	}
	/* sFlow: the agent address in the datagram is the exporter, not the UDP source. */
	send_from(&g, 0xc0000201, sflow_agent_10_0_1_1, sizeof(sflow_agent_10_0_1_1), 6343);
	relay_flush(g.r, 0);
	usleep(20000);
	assert_int_equal(drain(&g, 0, NULL, NULL), 6);
	assert_int_equal(drain(&g, 1, NULL, NULL), 4);
	assert_int_equal(drain(&g, 2, NULL, NULL), 6);
	char *st = stats_text(g.r);
	/* One map walk per address (6), not per datagram (16). */
	assert_non_null(
	    strstr(st, "rules 3 datagrams_tagged 13 untagged 3 no_tag_pool 0 lookups 6"));
	assert_non_null(strstr(st, "relay pool 1: datagrams_in 16 "));
	assert_non_null(strstr(st, "tag_filtered 10\n"));
	free(st);

	/* No pool for tag 0 any more: those datagrams are counted, not sent. */
	snprintf(text, sizeof(text), "id=1 ip=127.0.0.1:%u tag=1\nid=2 ip=127.0.0.1:%u tag=2\n",
	         g.port[0], g.port[1]);
	rig_rewrite(&g, text);
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), 0);
	send_from(&g, 0x0a090909, v5, sizeof(v5), 2055);
	send_from(&g, 0x0a000005, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	assert_int_equal(drain(&g, 0, NULL, NULL), 1);
	assert_int_equal(drain(&g, 1, NULL, NULL), 0);
	st = stats_text(g.r);
	assert_non_null(strstr(st, "untagged 4 no_tag_pool 1 "));
	free(st);

	/* The map reloads with the receivers: 10.0.0.5 is tag 2 now. */
	write_file(tag_conf.pre_tag_map, "set_tag=2 ip=10.0.0.5\n");
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), 0);
	send_from(&g, 0x0a000005, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	assert_int_equal(drain(&g, 0, NULL, NULL), 0);
	assert_int_equal(drain(&g, 1, NULL, NULL), 1);

	/* A map the relay cannot apply: refused with file:line, the running set stays. */
	write_file(tag_conf.pre_tag_map, "set_tag=1 ip=10.0.0.5\nset_tag=3 in=7\n");
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), -1);
	snprintf(text, sizeof(text), "%.200s:2: in: ", tag_conf.pre_tag_map);
	assert_non_null(strstr(msg, text));
	write_file(tag_conf.pre_tag_map, "set_tag=x ip=10.0.0.5\n");
	assert_int_equal(relay_reload(g.r, msg, sizeof(msg)), -1);
	snprintf(text, sizeof(text), "%.200s:1: set_tag", tag_conf.pre_tag_map);
	assert_non_null(strstr(msg, text));
	send_from(&g, 0x0a000005, v5, sizeof(v5), 2055);
	relay_flush(g.r, 0);
	usleep(20000);
	assert_int_equal(drain(&g, 1, NULL, NULL), 1);
	rig_close(&g);
	tag_map_done();
}

static void hash_tag_keeps_each_tag_on_one_receiver(void **state)
{
	struct rig g;
	uint8_t v5[72] = {0, 5};
	char map[512];
	size_t len = 0;
	int got[3];

	/* Tag N: exporters 10.0.N.0/24. */
	for (int t = 1; t <= 6; t++)
		len += (size_t)snprintf(map + len, sizeof(map) - len,
		                        "set_tag=%d ip=10.0.%d.0/24\n", t, t);
	tag_map(map);
	rig_open(&g, 3, "balance-alg=hash-tag");
	/* Tag t goes to receiver t % 3 (pmacct's hash-tag), whatever exporter carries it. */
	for (int t = 1; t <= 6; t++) {
		for (uint32_t e = 1; e <= 5; e++)
			send_from(&g, 0x0a000000 | (uint32_t)t << 8 | e, v5, sizeof(v5), 2055);
		relay_flush(g.r, 0);
		usleep(20000);
		for (int i = 0; i < 3; i++)
			got[i] = drain(&g, i, NULL, NULL);
		for (int i = 0; i < 3; i++)
			assert_int_equal(got[i], i == t % 3 ? 5 : 0);
	}
	/* Receiver 1 down: tags 1 and 4 move, each whole to one other receiver; others stay. */
	relay_rcv_down(rcv_at(g.r, 1), DOWN_ICMP, "test");
	for (int t = 1; t <= 6; t++) {
		for (uint32_t e = 1; e <= 5; e++)
			send_from(&g, 0x0a000000 | (uint32_t)t << 8 | e, v5, sizeof(v5), 2055);
		relay_flush(g.r, 0);
		usleep(20000);
		for (int i = 0; i < 3; i++)
			got[i] = drain(&g, i, NULL, NULL);
		assert_int_equal(got[1], 0);
		if (t % 3 != 1)
			assert_int_equal(got[t % 3], 5);
		else
			assert_true((got[0] == 5 && got[2] == 0) || (got[0] == 0 && got[2] == 5));
	}
	relay_rcv_up(rcv_at(g.r, 1), DOWN_ICMP, "test");
	rig_close(&g);
	tag_map_done();
}

/* tag= and hash-tag need pre_tag_map; the relay refuses maps with record keys. */
static void tag_pools_need_an_exporter_map(void **state)
{
	struct plugin_conf pc;
	struct conf c;
	char err[512], want[512];
	int code;
	const char *lst = "/tmp/test_relay_need.lst";

	memset(&pc, 0, sizeof(pc));
	memset(&c, 0, sizeof(c));
	snprintf(pc.type, sizeof(pc.type), "tee");
	snprintf(pc.tee_receivers, sizeof(pc.tee_receivers), "%s", lst);
	pc.conf = &c;
	const struct plugin_conf *pcs[1] = {&pc};
	write_file(lst, "id=1 ip=127.0.0.1:9\nid=2 ip=127.0.0.1:9 balance-alg=hash-tag\n");
	assert_null(relay_open(pcs, 1, 1, &code, err, sizeof(err)));
	assert_int_equal(code, 2);
	assert_non_null(strstr(err, "test_relay_need.lst:2: pool 2: balance-alg=hash-tag needs "
	                            "pre_tag_map"));
	snprintf(c.pre_tag_map, sizeof(c.pre_tag_map), "/tmp/test_relay_need.map");
	write_file(c.pre_tag_map, "set_tag=1 ip=10.0.0.1\n\nset_tag=2 filter='tcp'\n");
	assert_null(relay_open(pcs, 1, 1, &code, err, sizeof(err)));
	assert_int_equal(code, 2);
	snprintf(want, sizeof(want), "%.200s:3: filter: ", c.pre_tag_map);
	assert_non_null(strstr(err, want));
	unlink(c.pre_tag_map);
	assert_null(relay_open(pcs, 1, 1, &code, err, sizeof(err)));
	assert_non_null(strstr(err, "test_relay_need.map: "));
	/* No pool needs tags: the map is not read at all. */
	write_file(lst, "id=1 ip=127.0.0.1:9\n");
	struct relay *r = relay_open(pcs, 1, 1, &code, err, sizeof(err));
	assert_non_null(r);
	assert_null(atomic_load(&r->set)->tags);
	relay_free(r);
	unlink(lst);
}

static void sflow_agent_address(void **state)
{
	struct wip a, want;
	uint8_t v6[40] = {0, 0, 0, 5, 0, 0, 0, 2, 0x20, 0x01, 0x0d, 0xb8};

	assert_true(relay_sflow_agent(sflow_agent_10_0_1_1, sizeof(sflow_agent_10_0_1_1), &a));
	wip_from_v4(&want, 0x0a000101);
	assert_memory_equal(&a, &want, sizeof(a));
	assert_true(relay_sflow_agent(v6, sizeof(v6), &a));
	assert_false(wip_is_v4(&a));
	assert_false(relay_sflow_agent(v6, 20, &a)); /* cut short */
	v6[7] = 3;
	assert_false(relay_sflow_agent(v6, sizeof(v6), &a));
	uint8_t v5[24] = {0, 5};
	assert_false(relay_sflow_agent(v5, sizeof(v5), &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rcvfile_reads_pmacct_example),
	    cmocka_unit_test(rcvfile_errors_carry_file_and_line),
	    cmocka_unit_test(rcvfile_tags_and_hash_tag),
	    cmocka_unit_test(rcvfile_limits),
	    cmocka_unit_test(rcvfile_unresolvable_host),
	    cmocka_unit_test(proto_and_sets),
	    cmocka_unit_test(template_copy_keeps_input),
	    cmocka_unit_test(rendezvous_moves_only_the_dead),
	    cmocka_unit_test(raw_headers),
	    cmocka_unit_test(hash_agent_pins_exporters),
	    cmocka_unit_test(rr_sends_templates_everywhere),
	    cmocka_unit_test(dst_port_filters_and_sampling),
	    cmocka_unit_test(refused_receiver_goes_down),
	    cmocka_unit_test(match_keeps_pool_address_and_source_port),
	    cmocka_unit_test(reload_swaps_keeps_and_refuses_bad_files),
	    cmocka_unit_test(reload_waits_for_the_batch_in_progress),
	    cmocka_unit_test(tag_pools_split_by_exporter),
	    cmocka_unit_test(hash_tag_keeps_each_tag_on_one_receiver),
	    cmocka_unit_test(tag_pools_need_an_exporter_map),
	    cmocka_unit_test(sflow_agent_address),
	};
	log_setup(LL_ERR, stderr, false, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
