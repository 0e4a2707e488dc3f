/* test_decode.c - dispatch, allow list, counters, and every corpus capture against its totals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include "decode_helpers.h"
#include "lib/log.h"
#include "lib/prefix.h"

static bool match(const struct allow_list *l, const char *addr)
{
	struct wip w;
	assert_true(wip_parse(&w, addr));
	return allow_list_match(l, &w);
}

static void allow_list_format(void **state)
{
	const char text[] = "! pmacct comment\n"
	                    "# another\n"
	                    "\n"
	                    "  10.0.0.0/8   # trailing comment\n"
	                    "2001:db8::/32\n"
	                    "192.0.2.7\r\n"
	                    "198.51.100.77/24\n"
	                    "2001:db8:ffff::1";
	char err[256];
	struct allow_list *l = allow_list_parse("allow", text, sizeof(text) - 1, err, sizeof(err));

	assert_non_null(l);
	assert_int_equal(allow_list_count(l), 5);
	assert_true(match(l, "10.1.2.3"));
	assert_false(match(l, "11.0.0.1"));
	assert_true(match(l, "2001:db8:1::1"));
	assert_false(match(l, "2001:db9::1"));
	assert_true(match(l, "192.0.2.7"));
	assert_false(match(l, "192.0.2.8"));
	assert_true(match(l, "198.51.100.1")); /* host bits of a prefix are ignored */
	assert_false(match(l, "::ffff:0:0"));
	allow_list_free(l);

	/* an empty list allows nothing; /0 prefixes allow a whole family */
	l = allow_list_parse("allow", "# none\n", 7, err, sizeof(err));
	assert_non_null(l);
	assert_false(match(l, "10.0.0.1"));
	allow_list_free(l);
	l = allow_list_parse("allow", "0.0.0.0/0\n", 10, err, sizeof(err));
	assert_true(match(l, "203.0.113.9"));
	assert_false(match(l, "2001:db8::1"));
	allow_list_free(l);
	l = allow_list_parse("allow", "::/0\n", 5, err, sizeof(err));
	assert_true(match(l, "203.0.113.9"));
	assert_true(match(l, "2001:db8::1"));
	allow_list_free(l);
}

static void allow_list_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
	    {"10.0.0.0/8\n10.0.0.0/33\n", "allow:2: invalid prefix length"},
	    {"banana\n", "allow:1: invalid address"},
	    {"\n\n10.0.0.1 10.0.0.2\n", "allow:3: unexpected text after the prefix"},
	    {"2001:db8::/129\n", "allow:1: invalid prefix length"},
	    {"10.0.0.0/\n", "allow:1: invalid prefix length"},
	    {"10.0.0.0/8x\n", "allow:1: invalid prefix length"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(
		    allow_list_parse("allow", bad[i].text, strlen(bad[i].text), err, sizeof(err)));
		assert_string_equal(err, bad[i].err);
	}
	assert_null(allow_list_load("/nonexistent/allow", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/allow: No such file or directory");

	char path[] = "/tmp/weir-allow-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "192.0.2.0/24\n", 13), 13);
	close(fd);
	struct allow_list *l = allow_list_load(path, err, sizeof(err));
	assert_non_null(l);
	assert_true(match(l, "192.0.2.200"));
	allow_list_free(l);
	unlink(path);
}

static void dispatch_and_names(void **state)
{
	static const uint8_t v5[2] = {0, 5}, v9[2] = {0, 9}, v10[2] = {0, 10},
	                     sflow[8] = {0, 0, 0, 5, 0, 0, 0, 1};
	const char *seen[DROP_REASON_COUNT];
	size_t n = 0;

	while (decoder_table[n])
		n++;
	assert_int_equal(n, 4);
	assert_true(decoder_table[0]->probe(v5, 2) && !decoder_table[0]->probe(v9, 2));
	assert_true(decoder_table[1]->probe(v9, 2) && !decoder_table[1]->probe(v10, 2));
	assert_true(decoder_table[2]->probe(v10, 2) && !decoder_table[2]->probe(v5, 2));
	/* sFlow v5: version 5 as a 32-bit word, then an agent address type of 1 or 2 */
	assert_true(decoder_table[3]->probe(sflow, 8) && !decoder_table[3]->probe(sflow, 4));
	for (size_t i = 0; i < n; i++) {
		assert_true(i == 3 || !decoder_table[i]->probe(sflow, 8));
		assert_false(decoder_table[i]->probe(v5, 1));
	}
	for (int r = 0; r < DROP_REASON_COUNT; r++) {
		seen[r] = drop_reason_name((enum drop_reason)r);
		assert_string_not_equal(seen[r], "unknown");
		for (int k = 0; k < r; k++)
			assert_string_not_equal(seen[k], seen[r]);
	}
	assert_string_equal(drop_reason_name(DROP_REASON_COUNT), "unknown");

	struct decode_limits l;
	decode_limits_default(&l);
	assert_true(l.max_exporters && l.max_templates && l.max_template_fields && l.hold_bytes &&
	            l.hold_ms && l.log_per_sec);
	assert_null(l.allow);
	assert_false(l.time_new);
	struct decode_state *st = decode_state_new(NULL);
	assert_non_null(st);
	decode_state_free(st);
	decode_state_free(NULL);
}

static void stats_table(void **state)
{
	struct harness *h = h_new(NULL);
	struct pkt p;
	char *text = NULL;
	size_t len = 0;

	nf9_header(&p, 1000, 1700000000, 1, 5);
	p_u16(&p, 300);
	p_u16(&p, 2); /* a flowset shorter than its header */
	h_feed(h, &p);
	p.b[1] = 77;
	h_feed(h, &p);
	h->ctx.batch->n = 0;
	assert_int_equal(decode_datagram(&h->ctx, p.b, 1), -1);

	FILE *out = open_memstream(&text, &len);
	decode_stats_print(h->st, out);
	fclose(out);
	assert_non_null(strstr(text, "exporter"));
	assert_non_null(strstr(text, "192.0.2.1"));
	assert_non_null(strstr(text, "bad_set=1"));
	assert_non_null(strstr(text, "(none)")); /* drops without an exporter */
	assert_non_null(strstr(text, "truncated=1"));
	free(text);
	h_free(h);
}

/* --- the shared corpus: every NetFlow/IPFIX export capture, checked against its totals --- */

struct expect {
	const char *name;
	uint64_t datagrams, records, options, bytes, packets, rev_bytes, rev_packets;
};

/* From ../shared/corpus/expected_totals.json (tshark's decode, confirmed by nfacctd and nfdump). */
static const struct expect corpus[] = {
    {"softflowd_nf5", 28, 812, 0, 1239149, 4405, 0, 0},
    {"softflowd_nf9", 41, 1020, 3, 1958078, 6391, 0, 0},
    {"softflowd_ipfix", 43, 1020, 3, 1958078, 6391, 0, 0},
    {"softflowd_ipfix_biflow", 25, 569, 2, 592757, 4232, 1365321, 2159},
    {"pmacctd_nfprobe_nf5", 28, 812, 0, 1239149, 4405, 0, 0},
    {"pmacctd_nfprobe_nf9", 190, 1020, 0, 1958078, 6391, 0, 0},
    {"pmacctd_nfprobe_ipfix", 265, 1020, 15, 1958078, 6391, 0, 0},
    {"fprobe_nf5_live", 22, 660, 0, 979838, 3259, 0, 0},
    {"nfreplay_nf9", 65, 1020, 0, 1958078, 6391, 0, 0},
    {"nfreplay_nf5", 28, 812, 0, 1239149, 4405, 0, 0},
};

struct totals {
	uint64_t records, options, bytes, packets, rev_bytes, rev_packets;
};

static void sum_cb(void *arg, struct flow_batch *b)
{
	struct totals *t = arg;
	for (size_t i = 0; i < b->n; i++) {
		const struct flow *f = &b->rec[i];
		if (f->event == FLOW_EV_OPTION) {
			t->options++;
			continue;
		}
		t->records++;
		t->bytes += f->bytes;
		t->packets += f->packets;
		t->rev_bytes += f->rev_bytes;
		t->rev_packets += f->rev_packets;
	}
	b->n = 0;
}

/* The UDP payload and IP source of an Ethernet frame; false for anything else. */
static bool udp_payload(const uint8_t *d, size_t len, struct wip *src, const uint8_t **pl,
                        size_t *pl_len)
{
	struct cursor c;
	uint16_t type;
	uint8_t b0, proto;

	cur_init(&c, d, len);
	if (!cur_skip(&c, 12) || !cur_u16(&c, &type))
		return false;
	if (type == 0x8100 && (!cur_skip(&c, 2) || !cur_u16(&c, &type)))
		return false;
	const uint8_t *ip = c.p;
	if (type == 0x0800) {
		if (!cur_u8(&c, &b0) || cur_left(&c) < 19)
			return false;
		proto = ip[9];
		wip_from_v4(src, get_u32(ip + 12));
		c.p = ip;
		if (!cur_skip(&c, (size_t)(b0 & 0x0f) * 4))
			return false;
	} else if (type == 0x86dd) {
		if (!cur_skip(&c, 40))
			return false;
		proto = ip[6];
		wip_from_v6(src, ip + 8);
	} else {
		return false;
	}
	if (proto != 17 || !cur_skip(&c, 8))
		return false;
	*pl = c.p;
	*pl_len = cur_left(&c);
	return true;
}

struct stats_sum {
	uint64_t drops, gaps, records;
};

static void stats_sum_cb(void *arg, const struct exporter_stats *s)
{
	struct stats_sum *sum = arg;
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		sum->drops += s->drops[r];
	sum->gaps += s->seq_gaps;
	sum->records += s->records;
}

static const char *corpus_dir(void)
{
	static const char *const dirs[] = {"../shared/corpus/exports",
	                                   "/work/shared/corpus/exports"};
	struct stat sb;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (stat(dirs[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			return dirs[i];
	return NULL;
}

static void decode_capture(const char *path, const struct expect *e)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);
	struct decode_state *st = decode_state_new(NULL);
	static struct flow_batch batch;
	struct totals t;
	struct decode_ctx ctx;
	struct pcap_pkthdr *hdr;
	const u_char *data;
	uint64_t datagrams = 0;

	assert_non_null(pc);
	assert_int_equal(pcap_datalink(pc), DLT_EN10MB);
	memset(&t, 0, sizeof(t));
	memset(&ctx, 0, sizeof(ctx));
	ctx.st = st;
	ctx.batch = &batch;
	ctx.emit = sum_cb;
	ctx.emit_arg = &t;
	ctx.want_options = true;
	while (pcap_next_ex(pc, &hdr, &data) == 1) {
		const uint8_t *pl;
		size_t pl_len;
		if (!udp_payload(data, hdr->caplen, &ctx.src, &pl, &pl_len))
			continue;
		ctx.now_ms = (uint64_t)hdr->ts.tv_sec * 1000 + (uint64_t)hdr->ts.tv_usec / 1000;
		assert_true(decode_datagram(&ctx, pl, pl_len) >= 0);
		datagrams++;
	}
	sum_cb(&t, &batch);
	pcap_close(pc);

	print_message("%-24s %4llu datagrams %5llu records %2llu options %8llu bytes %5llu pkts\n",
	              e->name, (unsigned long long)datagrams, (unsigned long long)t.records,
	              (unsigned long long)t.options, (unsigned long long)t.bytes,
	              (unsigned long long)t.packets);
	assert_int_equal(datagrams, e->datagrams);
	assert_int_equal(t.records, e->records);
	assert_int_equal(t.options, e->options);
	assert_int_equal(t.bytes, e->bytes);
	assert_int_equal(t.packets, e->packets);
	assert_int_equal(t.rev_bytes, e->rev_bytes);
	assert_int_equal(t.rev_packets, e->rev_packets);

	/* nothing dropped, no sequence gap, nothing left waiting for a template */
	struct stats_sum sum = {0, 0, 0};
	decode_expire(st, UINT64_MAX);
	decode_stats_foreach(st, stats_sum_cb, &sum);
	assert_int_equal(sum.drops, 0);
	assert_int_equal(sum.gaps, 0);
	assert_int_equal(sum.records, e->records);
	decode_state_free(st);
}

static void corpus_totals(void **state)
{
	const char *dir = corpus_dir();
	char path[512];

	if (!dir) {
		print_message("../shared/corpus not found: corpus totals not checked\n");
		skip();
	}
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.pcap", dir, corpus[i].name);
		decode_capture(path, &corpus[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(allow_list_format),  cmocka_unit_test(allow_list_errors),
	    cmocka_unit_test(dispatch_and_names), cmocka_unit_test(stats_table),
	    cmocka_unit_test(corpus_totals),
	};
	log_setup(LL_ERR, stderr, false, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
