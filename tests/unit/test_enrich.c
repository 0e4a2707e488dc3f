/* test_enrich.c - enrich/: networks_file longest match, the nfacctd_as/nfacctd_net methods,
 * pre_tag_map and sampling_map rules, renormalization, and libpcap filters on records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "enrich/enrich.h"
#include "enrich/filter.h"
#include "enrich/networks.h"
#include "enrich/tagmap.h"
#include "lib/log.h"

static struct wip ip(const char *s)
{
	struct wip w;
	assert_true(wip_parse(&w, s));
	return w;
}

static struct networks *nets(const char *text)
{
	char err[256];
	struct networks *n = networks_parse("n.map", text, strlen(text), err, sizeof(err));
	if (!n)
		fail_msg("%s", err);
	return n;
}

static void networks_longest_match(void **state)
{
	struct networks *n = nets("! comment\n"
	                          "65000,10.0.0.0/8\n"
	                          "# another\n"
	                          "65001_65010,10.1.0.0/16\n"
	                          "65011,10.1.2.0/24\n"
	                          "   \n"
	                          "65020,2001:db8::/32\n"
	                          "65021,2001:db8:1::/48\n"
	                          "192.168.0.0/16\n"
	                          "65030,0.0.0.0/0\n");
	struct net_match m;
	struct wip a;

	assert_int_equal(networks_count(n), 7);
	a = ip("10.1.2.3");
	assert_true(networks_lookup(n, &a, &m));
	assert_int_equal(m.as, 65011);
	assert_int_equal(m.mask, 24);
	a = ip("10.1.3.1");
	assert_true(networks_lookup(n, &a, &m));
	assert_int_equal(m.as, 65010);
	assert_int_equal(m.peer_as, 65001);
	assert_int_equal(m.mask, 16);
	a = ip("10.200.0.1");
	assert_true(networks_lookup(n, &a, &m));
	assert_int_equal(m.as, 65000);
	assert_int_equal(m.mask, 8);
	a = ip("192.168.77.1");
	assert_true(networks_lookup(n, &a, &m));
	assert_int_equal(m.as, 0);
	assert_int_equal(m.mask, 16);
	a = ip("8.8.8.8"); /* the IPv4 default route */
	assert_true(networks_lookup(n, &a, &m));
	assert_int_equal(m.as, 65030);
	assert_int_equal(m.mask, 0);
	a = ip("2001:db8:1:2::1");
	assert_true(networks_lookup(n, &a, &m));
	assert_int_equal(m.as, 65021);
	assert_int_equal(m.mask, 48);
	a = ip("2001:db8:2::1");
	assert_true(networks_lookup(n, &a, &m));
	assert_int_equal(m.as, 65020);
	a = ip("2001:db9::1"); /* IPv6 outside every prefix: 0.0.0.0/0 is IPv4 only */
	assert_false(networks_lookup(n, &a, &m));
	networks_free(n);
}

/* Brute force against a random prefix set: the flattened ranges agree with a linear scan. */
static void networks_match_brute_force(void **state)
{
	uint64_t s = 7;
	for (int round = 0; round < 20; round++) {
		char text[8192];
		uint32_t net[64];
		unsigned len[64], as[64], k = 0;
		size_t n = 0;
		for (unsigned i = 0; i < 64; i++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			len[i] = (unsigned)(s >> 59) + 8; /* 8..39 capped to 32 below */
			if (len[i] > 32)
				len[i] = 32;
			uint32_t mask = len[i] ? ~0u << (32 - len[i]) : 0;
			net[i] = (uint32_t)(0x0a000000 | (s >> 20 & 0x00ffffff)) & mask;
			as[i] = i + 1;
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%u,%u.%u.%u.%u/%u\n",
			                      as[i], net[i] >> 24, net[i] >> 16 & 255,
			                      net[i] >> 8 & 255, net[i] & 255, len[i]);
		}
		struct networks *nt = nets(text);
		for (k = 0; k < 2000; k++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			uint32_t a = (uint32_t)(0x0a000000 | (s >> 20 & 0x00ffffff));
			if (k % 2)
				a = net[k % 64] | (uint32_t)(s >> 40 & 0xff); /* near a prefix */
			int best = -1;
			for (int i = 0; i < 64; i++) {
				uint32_t mask = ~0u << (32 - len[i]);
				/* later duplicates win, as the map's later line */
				if ((a & mask) == net[i] && (best < 0 || len[i] >= len[best]))
					best = i;
			}
			struct wip w;
			struct net_match m;
			wip_from_v4(&w, a);
			bool found = networks_lookup(nt, &w, &m);
			assert_int_equal(found, best >= 0);
			if (found) {
				assert_int_equal(m.mask, len[best]);
				assert_int_equal(m.as, as[best]);
			}
		}
		networks_free(nt);
	}
}

static void networks_errors(void **state)
{
	char err[256];
	static const char *const bad[] = {"10.0.0.0/33\n", "x,10.0.0.0/8\n", "1,nonsense\n",
	                                  "1,10.0.0.0/8\n2001:db8::/129\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(networks_parse("n.map", bad[i], strlen(bad[i]), err, sizeof(err)));
	assert_non_null(strstr(err, "n.map:2:"));
}

static struct tagmap *tmap(enum tagmap_kind kind, const char *text)
{
	char err[256];
	struct tagmap *m = tagmap_parse(kind, "p.map", text, strlen(text), err, sizeof(err));
	if (!m)
		fail_msg("%s", err);
	return m;
}

static struct flow flow_from(const char *exporter, uint32_t in_if, uint16_t dport)
{
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.exporter = ip(exporter);
	f.src = ip("10.0.0.1");
	f.dst = ip("192.0.2.1");
	f.present = UINT64_C(1) << FF_SRC_ADDR | UINT64_C(1) << FF_DST_ADDR |
	            UINT64_C(1) << FF_IN_IF | UINT64_C(1) << FF_DST_PORT | UINT64_C(1) << FF_PROTO;
	f.ip_version = 4;
	f.in_if = in_if;
	f.proto = 6;
	f.src_port = 40000;
	f.dst_port = dport;
	f.bytes = 100;
	f.packets = 2;
	return f;
}

static void pretag_first_match_wins(void **state)
{
	struct tagmap *m =
	    tmap(TAGMAP_PRETAG, "set_label=nkey%100.1,pkey%testing   ip=172.21.1.101/32\n"
	                        "set_tag=10 set_tag2=20 ip=172.21.1.0/24 in=5\n"
	                        "set_tag=11 filter='tcp and dst port 443'\n"
	                        "id=12 ip=2001:db8::/32\n"
	                        "set_label=nkey%unknown,pkey%unknown\n");
	struct flow f;

	assert_int_equal(tagmap_count(m), 5);
	f = flow_from("172.21.1.101", 5, 80);
	assert_true(tagmap_apply(m, &f));
	assert_string_equal(f.label, "nkey%100.1,pkey%testing");
	assert_int_equal(f.tag, 0);
	f = flow_from("172.21.1.102", 5, 80);
	assert_true(tagmap_apply(m, &f));
	assert_int_equal(f.tag, 10);
	assert_int_equal(f.tag2, 20);
	assert_null(f.label);
	f = flow_from("172.21.1.102", 6, 443);
	assert_true(tagmap_apply(m, &f));
	assert_int_equal(f.tag, 11);
	f = flow_from("2001:db8::1", 6, 80);
	assert_true(tagmap_apply(m, &f));
	assert_int_equal(f.tag, 12);
	f = flow_from("198.51.100.1", 6, 80);
	assert_true(tagmap_apply(m, &f));
	assert_string_equal(f.label, "nkey%unknown,pkey%unknown");
	tagmap_free(m);
}

static void tagmap_errors(void **state)
{
	char err[256];
	static const char *const bad[] = {
	    "set_tag=x\n",
	    "set_tag=1 ip=300.1.1.1\n",
	    "set_tag=1 bogus=2\n",
	    "ip=10.0.0.1\n",
	    "set_tag=1 filter='tcp and'\n",
	    "set_tag=1 filter='unterminated\n",
	    "set_sampling_rate=10\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tagmap *m =
		    tagmap_parse(TAGMAP_PRETAG, "p.map", bad[i], strlen(bad[i]), err, sizeof(err));
		assert_null(m);
		assert_non_null(strstr(err, "p.map:1:"));
	}
	assert_null(
	    tagmap_parse(TAGMAP_SAMPLING, "s.map", "set_sampling_rate=0\n", 20, err, sizeof(err)));
}

static void sampling_map_and_renormalize(void **state)
{
	char dir[] = "/tmp/weir-test-enrich-XXXXXX", path[128], err[256];
	struct conf *c = calloc(1, sizeof(*c));

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sampling.map", dir);
	FILE *f = fopen(path, "w");
	fputs("set_sampling_rate=100 ip=192.0.2.1 in=3\n"
	      "set_sampling_rate=10 ip=192.0.2.1\n",
	      f);
	fclose(f);
	snprintf(c->sampling_map, sizeof(c->sampling_map), "%s", path);
	c->renormalize = true;
	struct enrich *e = enrich_open(c, err, sizeof(err));
	assert_non_null(e);
	assert_true(enrich_active(e));

	struct flow a = flow_from("192.0.2.1", 3, 80), b = flow_from("192.0.2.1", 4, 80),
	            o = flow_from("192.0.2.9", 4, 80);
	o.sampling_rate = 4; /* the exporter's own rate when no rule matches */
	FLOW_SET(&o, FF_SAMPLING);
	enrich_flow(e, &a);
	enrich_flow(e, &b);
	enrich_flow(e, &o);
	assert_int_equal(a.bytes, 10000);
	assert_int_equal(a.packets, 200);
	assert_int_equal(b.bytes, 1000);
	assert_int_equal(o.bytes, 400);
	assert_int_equal(o.sampling_rate, 1);
	enrich_free(e);

	/* A map that does not parse is refused with its line. */
	f = fopen(path, "w");
	fputs("set_sampling_rate=10 ip=192.0.2.1\nnonsense\n", f);
	fclose(f);
	assert_null(enrich_open(c, err, sizeof(err)));
	assert_non_null(strstr(err, "sampling.map:2:"));
	unlink(path);
	rmdir(dir);
	free(c);
}

static void networks_enrich_sets_masks_and_as(void **state)
{
	char dir[] = "/tmp/weir-test-enrich-XXXXXX", path[128], err[256];
	struct conf *c = calloc(1, sizeof(*c));

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/networks", dir);
	FILE *f = fopen(path, "w");
	fputs("64512,10.0.0.0/8\n64513_64514,192.0.2.0/24\n", f);
	fclose(f);
	snprintf(c->networks_file, sizeof(c->networks_file), "%s", path);
	c->nfacctd_as = CONF_SRC_FILE;
	c->nfacctd_net = CONF_SRC_FILE;
	struct enrich *e = enrich_open(c, err, sizeof(err));
	assert_non_null(e);
	struct flow fl = flow_from("198.51.100.1", 1, 80);
	enrich_flow(e, &fl);
	assert_int_equal(fl.src_mask, 8);
	assert_int_equal(fl.src_as, 64512);
	assert_true(FLOW_HAS(&fl, FF_SRC_AS));
	assert_int_equal(fl.dst_mask, 24);
	assert_int_equal(fl.dst_as, 64514);
	assert_int_equal(fl.peer_dst_as, 64513);
	enrich_free(e);
	unlink(path);
	rmdir(dir);
	free(c);
}

/* One record through nfacctd_as / nfacctd_net / networks_mask as pmacct's nfacctd does it. */
struct method_case {
	const char *name;
	int as, net;
	uint32_t networks_mask;
	const char *src, *dst; /* addresses */
	uint8_t smask, dmask;  /* the exporter's masks (0 = not reported) */
	uint8_t want_smask, want_dmask;
	uint32_t want_sas, want_das;           /* the exporter's are 1 and 2 */
	uint32_t want_peer_src, want_peer_dst; /* the exporter's are 3 and 4 */
};

/*
 * 10.0.0.0/8 -> AS 100 (peer 7), 10.1.0.0/16 -> AS 0 (no AS on the line),
 * 10.1.2.0/24 -> AS 300 (peer 9), 2001:db8::/32 -> AS 400; 192.0.2.1 matches nothing.
 */
static const struct method_case method_cases[] = {
    {"keep: the file changes nothing", CONF_SRC_NETFLOW, CONF_SRC_SFLOW, 0, "10.1.2.3", "192.0.2.1",
     20, 28, 20, 28, 1, 2, 3, 4},
    {"as file: the line's AS, 0 without match", CONF_SRC_FILE, CONF_SRC_NETFLOW, 0, "10.1.2.3",
     "192.0.2.1", 20, 28, 20, 28, 300, 0, 9, 0},
    {"as file: a line without AS gives 0", CONF_SRC_FILE, CONF_SRC_NETFLOW, 0, "10.1.9.9",
     "10.9.9.9", 20, 28, 20, 28, 0, 100, 0, 7},
    {"net file: the prefix, 0 without match", CONF_SRC_NETFLOW, CONF_SRC_FILE, 0, "10.1.2.3",
     "192.0.2.1", 28, 28, 24, 0, 1, 2, 3, 4},
    {"net longest: the longer prefix", CONF_SRC_NETFLOW, CONF_SRC_LONGEST, 0, "10.1.2.3",
     "10.9.9.9", 20, 28, 24, 28, 1, 2, 3, 4},
    {"net longest: no match keeps the exporter's", CONF_SRC_NETFLOW, CONF_SRC_LONGEST, 0,
     "192.0.2.1", "192.0.2.1", 20, 0, 20, 0, 1, 2, 3, 4},
    {"as longest: the file at least as long", CONF_SRC_LONGEST, CONF_SRC_NETFLOW, 0, "10.1.2.3",
     "10.1.2.3", 24, 25, 24, 25, 300, 2, 9, 4},
    {"as longest: an unreported mask loses", CONF_SRC_LONGEST, CONF_SRC_NETFLOW, 0, "10.9.9.9",
     "192.0.2.1", 0, 0, 0, 0, 100, 2, 7, 4},
    {"as longest after net file: the file always", CONF_SRC_FALLBACK, CONF_SRC_FILE, 0, "10.1.2.3",
     "10.9.9.9", 28, 28, 24, 8, 300, 100, 9, 7},
    {"net mask: fixed, per family", CONF_SRC_NETFLOW, CONF_SRC_MASK, 40, "10.1.2.3", "2001:db8::1",
     0, 64, 32, 40, 1, 2, 3, 4},
    {"as longest after net mask", CONF_SRC_LONGEST, CONF_SRC_MASK, 20, "10.1.2.3", "2001:db8::1",
     28, 64, 20, 20, 300, 400, 9, 0},
};

static void networks_methods(void **state)
{
	char dir[] = "/tmp/weir-test-enrich-XXXXXX", path[128], err[256];
	struct conf *c = calloc(1, sizeof(*c));

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/networks", dir);
	FILE *f = fopen(path, "w");
	fputs("7_100,10.0.0.0/8\n10.1.0.0/16\n9_300,10.1.2.0/24\n400,2001:db8::/32\n", f);
	fclose(f);
	snprintf(c->networks_file, sizeof(c->networks_file), "%s", path);
	for (size_t i = 0; i < sizeof(method_cases) / sizeof(method_cases[0]); i++) {
		const struct method_case *t = &method_cases[i];
		c->nfacctd_as = t->as;
		c->nfacctd_net = t->net;
		c->networks_mask = t->networks_mask;
		struct enrich *e = enrich_open(c, err, sizeof(err));
		assert_non_null(e);
		/* with a networks_file, flows metered from packets always use it (pmacctd) */
		assert_true(enrich_active(e));
		struct flow fl = flow_from("198.51.100.1", 1, 80);
		fl.export_version = 10; /* an exported record: the method applies as configured */
		fl.src = ip(t->src);
		fl.dst = ip(t->dst);
		fl.src_mask = t->smask;
		fl.dst_mask = t->dmask;
		if (t->smask)
			FLOW_SET(&fl, FF_SRC_MASK);
		if (t->dmask)
			FLOW_SET(&fl, FF_DST_MASK);
		fl.src_as = 1;
		fl.dst_as = 2;
		fl.peer_src_as = 3;
		fl.peer_dst_as = 4;
		FLOW_SET(&fl, FF_SRC_AS);
		FLOW_SET(&fl, FF_DST_AS);
		enrich_flow(e, &fl);
		print_message("%s\n", t->name);
		assert_int_equal(fl.src_mask, t->want_smask);
		assert_int_equal(fl.dst_mask, t->want_dmask);
		assert_int_equal(fl.src_as, t->want_sas);
		assert_int_equal(fl.dst_as, t->want_das);
		assert_int_equal(fl.peer_src_as, t->want_peer_src);
		assert_int_equal(fl.peer_dst_as, t->want_peer_dst);
		enrich_free(e);
	}
	/* A flow metered from packets (export_version 0) under the default: pmacctd's file. */
	c->nfacctd_as = CONF_SRC_NETFLOW;
	c->nfacctd_net = CONF_SRC_NETFLOW;
	c->networks_mask = 0;
	struct enrich *e = enrich_open(c, err, sizeof(err));
	assert_non_null(e);
	struct flow fl = flow_from("198.51.100.1", 1, 80);
	fl.src = ip("10.1.2.3");
	fl.dst = ip("192.0.2.1");
	enrich_flow(e, &fl);
	assert_int_equal(fl.src_mask, 24);
	assert_int_equal(fl.src_as, 300);
	assert_int_equal(fl.peer_src_as, 9);
	assert_int_equal(fl.dst_mask, 0);
	assert_int_equal(fl.dst_as, 0);
	fl.export_version = 9; /* the same flow exported: the exporter's values stay */
	fl.src_mask = 20;
	fl.src_as = 1;
	enrich_flow(e, &fl);
	assert_int_equal(fl.src_mask, 20);
	assert_int_equal(fl.src_as, 1);
	enrich_free(e);
	/* bgp/bmp/igp (no listener yet): the exporter's values for exported records. */
	c->nfacctd_as = CONF_SRC_BGP;
	c->nfacctd_net = CONF_SRC_IGP;
	e = enrich_open(c, err, sizeof(err));
	assert_non_null(e);
	fl.export_version = 10;
	fl.src_as = 1;
	enrich_flow(e, &fl);
	assert_int_equal(fl.src_as, 1);
	enrich_free(e);
	c->networks_file[0] = '\0';
	c->nfacctd_as = CONF_SRC_LONGEST;
	c->nfacctd_net = CONF_SRC_LONGEST;
	e = enrich_open(c, err, sizeof(err));
	assert_non_null(e);
	assert_false(enrich_active(e));
	enrich_free(e);
	unlink(path);
	rmdir(dir);
	free(c);
}

static bool match(const char *expr, const struct flow *f)
{
	char err[256];
	struct flow_filter *ff = flow_filter_compile(expr, err, sizeof(err));
	if (!ff)
		fail_msg("%s", err);
	bool r = flow_filter_match(ff, f);
	flow_filter_free(ff);
	return r;
}

static void filters_on_records(void **state)
{
	struct flow f = flow_from("192.0.2.254", 1, 443);
	char err[256];

	f.tcp_flags = 0x12;
	assert_true(match("src net 10.0.0.0/8 and dst port 443", &f));
	assert_false(match("src net 10.0.0.0/8 and dst port 80", &f));
	assert_true(match("tcp", &f));
	assert_false(match("udp", &f));
	assert_true(match("host 192.0.2.1", &f));
	assert_true(match("tcp[tcpflags] & tcp-syn != 0", &f));
	assert_true(match("src port 40000", &f));
	assert_false(match("ip6", &f));
	f.src = ip("2001:db8::1");
	f.dst = ip("2001:db8::2");
	f.ip_version = 6;
	assert_true(match("ip6 and src net 2001:db8::/32 and tcp dst port 443", &f));
	f.proto = 17;
	f.dst_port = 53;
	assert_true(match("udp port 53", &f));
	/* A VLAN puts an 802.1Q tag in the frame, as nfacctd does; VLAN 0 is untagged. */
	f.vlan = 100;
	FLOW_SET(&f, FF_VLAN);
	assert_true(match("vlan 100 and udp", &f));
	assert_false(match("udp", &f));
	f.vlan = 0;
	assert_true(match("udp and dst port 53", &f));
	assert_null(flow_filter_compile("src net 10.0.0.0/33", err, sizeof(err)));
	assert_non_null(strstr(err, "10.0.0.0/33"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(networks_longest_match),
	    cmocka_unit_test(networks_match_brute_force),
	    cmocka_unit_test(networks_errors),
	    cmocka_unit_test(pretag_first_match_wins),
	    cmocka_unit_test(tagmap_errors),
	    cmocka_unit_test(sampling_map_and_renormalize),
	    cmocka_unit_test(networks_enrich_sets_masks_and_as),
	    cmocka_unit_test(networks_methods),
	    cmocka_unit_test(filters_on_records),
	};
	log_setup(LL_ERR, stderr, false, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
