/* test_bgpattr.c - BGP attributes of sFlow's extended_gateway: interning, keys and output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>

#include "aggregate/key.h"
#include "decode_helpers.h"
#include "lib/intern.h"
#include "sink/format.h"

/* --- the interner --- */

static void intern_same_text_same_pointer(void **state)
{
	struct intern *in = intern_new(0);
	struct intern_stats st;
	char a[] = "65001 65002", b[] = "65001 65002 65003";

	const char *p = intern_get(in, a, strlen(a));
	assert_non_null(p);
	assert_string_equal(p, "65001 65002");
	assert_ptr_equal(intern_get(in, "65001 65002", 11), p);
	assert_ptr_not_equal(intern_get(in, b, strlen(b)), p);
	assert_ptr_equal(intern_get(in, b, 11), p); /* a prefix is its own text */
	intern_stats_get(in, &st);
	assert_int_equal(st.strings, 2);
	assert_int_equal(st.bytes, 12 + 18);
	intern_free(in);
}

static void intern_bounded(void **state)
{
	struct intern *in = intern_new(64);
	struct intern_stats st;
	char t[32];
	unsigned kept = 0;

	for (unsigned i = 0; i < 100; i++) {
		int n = snprintf(t, sizeof(t), "%u", 1000000 + i); /* 8 bytes with the NUL */
		if (intern_get(in, t, (size_t)n))
			kept++;
	}
	assert_int_equal(kept, 8);
	intern_stats_get(in, &st);
	assert_int_equal(st.strings, 8);
	assert_int_equal(st.full, 92);
	assert_non_null(intern_get(in, "1000003", 7)); /* held texts are still answered */
	intern_free(in);
}

static void intern_grows_and_cache_agrees(void **state)
{
	struct intern *in = intern_new(0);
	struct intern_cache *c = malloc(sizeof(*c));
	const char **first = calloc(5000, sizeof(*first));
	char t[32];

	intern_cache_init(c, in);
	for (unsigned round = 0; round < 2; round++)
		for (unsigned i = 0; i < 5000; i++) {
			int n = snprintf(t, sizeof(t), "%u:%u", i, i * 7);
			const char *p = intern_cache_get(c, t, (size_t)n);
			assert_non_null(p);
			assert_string_equal(p, t);
			if (round == 0)
				first[i] = p;
			else
				assert_ptr_equal(p, first[i]);
			assert_ptr_equal(intern_get(in, t, (size_t)n), p);
		}
	intern_cache_init(c, NULL);
	assert_null(intern_cache_get(c, "1", 1)); /* no pool: nothing kept */
	free(first);
	free(c);
	intern_free(in);
}

#define RACE_TEXTS 3000 /* enough to make the table grow twice while threads read it */

struct race {
	struct intern *in;
	unsigned start;
	const char *got[RACE_TEXTS];
};

static void *race_worker(void *arg)
{
	struct race *r = arg;
	struct intern_cache c;
	char t[32];

	intern_cache_init(&c, r->in);
	for (unsigned k = 0; k < RACE_TEXTS; k++) {
		unsigned i =
		    (k + r->start) % RACE_TEXTS; /* each thread adds a different part first */
		int n = snprintf(t, sizeof(t), "64512 %u", i);
		r->got[i] = intern_cache_get(&c, t, (size_t)n);
	}
	return NULL;
}

static void intern_threads_share_copies(void **state)
{
	struct intern *in = intern_new(0);
	struct race *r = calloc(4, sizeof(*r));
	pthread_t th[4];
	struct intern_stats st;
	char t[32];

	for (int i = 0; i < 4; i++) {
		r[i].in = in;
		r[i].start = (unsigned)i * RACE_TEXTS / 4;
		assert_int_equal(pthread_create(&th[i], NULL, race_worker, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (unsigned j = 0; j < RACE_TEXTS; j++) {
		int n = snprintf(t, sizeof(t), "64512 %u", j);
		assert_non_null(r[0].got[j]);
		assert_string_equal(r[0].got[j], t);
		assert_ptr_equal(intern_get(in, t, (size_t)n), r[0].got[j]);
		for (int i = 1; i < 4; i++)
			assert_ptr_equal(r[i].got[j], r[0].got[j]);
	}
	intern_stats_get(in, &st);
	assert_int_equal(st.strings, RACE_TEXTS); /* each text added once */
	free(r);
	intern_free(in);
}

/* --- extended_gateway through the sFlow decoder --- */

static size_t rec_begin(struct pkt *p, uint32_t format)
{
	p_u32(p, format);
	p_u32(p, 0);
	return p->n;
}

static void rec_end(struct pkt *p, size_t body)
{
	put_u32(p->b + body - 4, (uint32_t)(p->n - body));
}

/*
 * One datagram, one flow sample: a sampled IPv4 record and an extended gateway whose path is
 * a sequence (65010 65011) and a set {65099 65098}, with communities 65000:1 65000:2.
 * n_extra extra sequence ASNs make the path long; local_pref < 0 leaves it out.
 */
static void gateway_dgram(struct pkt *p, uint32_t seq, unsigned n_extra, long local_pref)
{
	p->n = 0;
	p_u32(p, 5);
	p_u32(p, 1);
	p_v4(p, "192.0.2.5");
	p_u32(p, 0);
	p_u32(p, seq);
	p_u32(p, 1000);
	p_u32(p, 1);
	size_t s = rec_begin(p, 1);
	p_u32(p, seq); /* sample sequence */
	p_u32(p, 7);   /* source id */
	p_u32(p, 10);  /* rate */
	p_u32(p, seq * 10);
	p_u32(p, 0);
	p_u32(p, 1);
	p_u32(p, 2);
	p_u32(p, 2); /* records */
	size_t r = rec_begin(p, 3);
	p_u32(p, 500);
	p_u32(p, 6);
	p_v4(p, "10.0.0.1");
	p_v4(p, "10.0.0.2");
	p_u32(p, 1234);
	p_u32(p, 80);
	p_u32(p, 0x18);
	p_u32(p, 0);
	rec_end(p, r);
	r = rec_begin(p, 1003);
	p_u32(p, 1);
	p_v4(p, "10.0.0.253");
	p_u32(p, 65000); /* router AS */
	p_u32(p, 65001); /* source AS */
	p_u32(p, 65002); /* source peer AS */
	p_u32(p, 2);     /* segments */
	p_u32(p, 2);     /* AS_SEQUENCE */
	p_u32(p, 2 + n_extra);
	p_u32(p, 65010);
	p_u32(p, 65011);
	for (unsigned i = 0; i < n_extra; i++)
		p_u32(p, 4200000000u + i);
	p_u32(p, 1); /* AS_SET */
	p_u32(p, 2);
	p_u32(p, 65099);
	p_u32(p, 65098);
	p_u32(p, 2);
	p_u32(p, 0xfde80001);
	p_u32(p, 0xfde80002);
	if (local_pref >= 0)
		p_u32(p, (uint32_t)local_pref);
	rec_end(p, r);
	rec_end(p, s);
}

static struct harness *h_with_pool(struct intern *in)
{
	struct decode_limits l;
	decode_limits_default(&l);
	l.intern = in;
	return h_new(&l);
}

static void gateway_attributes(void **state)
{
	struct intern *in = intern_new(0);
	struct harness *h = h_with_pool(in);
	struct pkt p;

	gateway_dgram(&p, 1, 0, 120);
	assert_int_equal(h_feed(h, &p), 1);
	gateway_dgram(&p, 2, 0, 120);
	assert_int_equal(h_feed(h, &p), 1);
	const struct flow *f = &h->out[0];
	assert_true(FLOW_HAS(f, FF_BGP));
	assert_string_equal(f->as_path, "65010 65011 65099 65098"); /* the set flattened */
	assert_string_equal(f->std_comm, "65000:1 65000:2");
	assert_int_equal(f->local_pref, 120);
	assert_int_equal(f->src_as, 65001);
	assert_int_equal(f->dst_as, 65098); /* the path's last AS */
	assert_int_equal(f->peer_src_as, 65002);
	assert_int_equal(f->peer_dst_as, 65010); /* the path's first AS */
	/* the second datagram's texts are the same interned copies */
	assert_ptr_equal(h->out[1].as_path, f->as_path);
	assert_ptr_equal(h->out[1].std_comm, f->std_comm);
	h_free(h);
	intern_free(in);
}

static void gateway_without_pool_or_local_pref(void **state)
{
	struct harness *h = h_with_pool(NULL);
	struct pkt p;

	gateway_dgram(&p, 1, 0, -1); /* an agent that ends the record after the communities */
	assert_int_equal(h_feed(h, &p), 1);
	const struct flow *f = &h->out[0];
	assert_true(FLOW_HAS(f, FF_BGP));
	assert_null(f->as_path); /* no pool: texts are not kept, numbers are */
	assert_null(f->std_comm);
	assert_int_equal(f->local_pref, 0);
	assert_int_equal(f->peer_dst_as, 65010);
	h_free(h);
}

static void gateway_long_path_keeps_whole_leading_asns(void **state)
{
	struct intern *in = intern_new(0);
	struct harness *h = h_with_pool(in);
	struct pkt p;

	gateway_dgram(&p, 1, 60, 0); /* 60 ten-digit ASNs: far over 255 bytes of text */
	assert_int_equal(h_feed(h, &p), 1);
	const char *t = h->out[0].as_path;
	assert_non_null(t);
	assert_true(strlen(t) <= 255);
	assert_true(strlen(t) > 240);
	assert_memory_equal(t, "65010 65011 4200000000 ", 23);
	assert_int_not_equal(t[strlen(t) - 1], ' ');
	assert_int_equal(strlen(t) % 11, 0); /* "65010 65011" then whole " 42000000xx" */
	assert_int_equal(h->out[0].dst_as, 65098);
	h_free(h);
	intern_free(in);
}

static void gateway_lying_counts_dropped(void **state)
{
	struct intern *in = intern_new(0);
	struct harness *h = h_with_pool(in);
	struct pkt p;

	gateway_dgram(&p, 1, 0, 1);
	/* the AS_SEQUENCE claims a million ASNs */
	size_t at = 0;
	for (size_t i = 0; i + 12 <= p.n; i += 4)
		if (get_u32(p.b + i) == 2 && get_u32(p.b + i + 4) == 2 &&
		    get_u32(p.b + i + 8) == 65010) {
			at = i + 4;
			break;
		}
	assert_int_not_equal(at, 0);
	put_u32(p.b + at, 1000000);
	h_feed(h, &p);
	assert_int_equal(h->n_out, 0);
	h_free(h);
	intern_free(in);
}

/* --- keys and output --- */

static void as_path_key_and_json(void **state)
{
	struct intern *in = intern_new(0);
	struct agg_key k;
	struct flow f, row;
	uint8_t key[AGG_KEY_MAX];
	char err[128], buf[2048];

	assert_int_equal(agg_key_parse(&k,
	                               "peer_src_ip, as_path, std_comm, local_pref, "
	                               "peer_src_as, peer_dst_as",
	                               false, err, sizeof(err)),
	                 0);
	memset(&f, 0, sizeof(f));
	f.as_path = intern_get(in, "65010 65011", 11);
	f.std_comm = intern_get(in, "65000:1 65000:2", 15);
	f.local_pref = 120;
	f.peer_src_as = 65002;
	f.peer_dst_as = 65010;
	agg_key_pack(&k, &f, 0, 0, key);
	memset(&row, 0, sizeof(row));
	agg_key_unpack(&k, key, &row);
	assert_ptr_equal(row.as_path, f.as_path);
	assert_ptr_equal(row.std_comm, f.std_comm);
	assert_int_equal(row.local_pref, 120);

	struct fmt_opts o;
	fmt_opts_default(&o);
	o.fields = k.fields;
	fmt_json(buf, sizeof(buf), &row, &o);
	assert_non_null(strstr(buf, "\"comms\": \"65000:1_65000:2\""));
	assert_non_null(strstr(buf, "\"as_path\": \"65010_65011\""));
	assert_non_null(strstr(buf, "\"local_pref\": 120"));
	assert_non_null(strstr(buf, "\"peer_as_src\": 65002"));
	assert_non_null(strstr(buf, "\"peer_as_dst\": 65010"));

	/* a row without a path prints it empty */
	row.as_path = NULL;
	fmt_json(buf, sizeof(buf), &row, &o);
	assert_non_null(strstr(buf, "\"as_path\": \"\""));

	/* weir decode's form (FMT_PRESENT): BGP columns only for records that carry them */
	fmt_opts_default(&o);
	row.as_path = f.as_path;
	fmt_json(buf, sizeof(buf), &row, &o);
	assert_null(strstr(buf, "as_path"));
	FLOW_SET(&row, FF_BGP);
	fmt_json(buf, sizeof(buf), &row, &o);
	assert_non_null(strstr(buf, "\"as_path\": \"65010_65011\""));
	assert_non_null(strstr(buf, "\"local_pref\": 120"));
	assert_null(strstr(buf, "\"med\""));
	intern_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(intern_same_text_same_pointer),
	    cmocka_unit_test(intern_bounded),
	    cmocka_unit_test(intern_grows_and_cache_agrees),
	    cmocka_unit_test(intern_threads_share_copies),
	    cmocka_unit_test(gateway_attributes),
	    cmocka_unit_test(gateway_without_pool_or_local_pref),
	    cmocka_unit_test(gateway_long_path_keeps_whole_leading_asns),
	    cmocka_unit_test(gateway_lying_counts_dropped),
	    cmocka_unit_test(as_path_key_and_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
