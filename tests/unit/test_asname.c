/* test_asname.c - Team Cymru record parsing, DNS query/answer checks, cache file, CSV fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enrich/asname.h"

static void cymru_records(void **state)
{
	char out[128];
	const char *t = "57811 | PL | ripencc | 2012-03-06 | ATMSOFTWARE, PL";

	assert_true(asname_from_cymru(57811, t, strlen(t), out, sizeof(out)));
	assert_string_equal(out, "AS57811 ATMSOFTWARE (PL)");
	t = "13335   | CLOUDFLARENET - Cloudflare, Inc., US";
	assert_true(asname_from_cymru(13335, t, strlen(t), out, sizeof(out)));
	assert_string_equal(out, "AS13335 CLOUDFLARENET - Cloudflare, Inc. (US)");
	t = "64500 | ZZ | x | y | NO-COUNTRY";
	assert_true(asname_from_cymru(64500, t, strlen(t), out, sizeof(out)));
	assert_string_equal(out, "AS64500 NO-COUNTRY");
	t = "57811 | PL | ripencc | 2012-03-06 | ATMSOFTWARE, PL";
	assert_false(asname_from_cymru(57812, t, strlen(t), out, sizeof(out))); /* other AS */
	t = "1 | NA | NA | NA | NA";
	assert_false(asname_from_cymru(1, t, strlen(t), out, sizeof(out)));
	assert_false(asname_from_cymru(1, "garbage", 7, out, sizeof(out)));
	t = "7 | X\"Y\\Z, US";
	assert_true(asname_from_cymru(7, t, strlen(t), out, sizeof(out)));
	assert_string_equal(out, "AS7 X Y Z (US)");
}

/* An answer to `q` with one TXT record (the name compressed to the question). */
static size_t answer(uint8_t *buf, const uint8_t *q, size_t qlen, const char *txt, uint8_t rcode)
{
	size_t tl = strlen(txt), o = qlen;

	memcpy(buf, q, qlen);
	buf[2] = 0x81;
	buf[3] = (uint8_t)(0x80 | rcode);
	if (rcode || !txt[0])
		return qlen;
	buf[7] = 1; /* ANCOUNT */
	const uint8_t rr[] = {0xc0,       0x0c, 0, 16, 0, 1, 0, 0, 0x0e, 0x10, 0, (uint8_t)(tl + 1),
	                      (uint8_t)tl};
	memcpy(buf + o, rr, sizeof(rr));
	o += sizeof(rr);
	memcpy(buf + o, txt, tl);
	return o + tl;
}

static void dns_answers_are_checked(void **state)
{
	uint8_t q[300], a[600];
	char out[128];
	const char *qn = "as57811.asn.cymru.com";
	const char *txt = "57811 | PL | ripencc | 2012-03-06 | ATMSOFTWARE, PL";
	size_t ql = asname_dns_query(q, sizeof(q), 0x1234, qn);

	assert_int_equal(ql, 12 + strlen(qn) + 2 + 4);
	assert_int_equal(q[12], 7);
	assert_memory_equal(q + 13, "as57811", 7);
	size_t al = answer(a, q, ql, txt, 0);
	assert_int_equal(asname_dns_parse(a, al, 0x1234, qn, 57811, out, sizeof(out)), 1);
	assert_string_equal(out, "AS57811 ATMSOFTWARE (PL)");
	/* not what was asked: other id, other AS in the text, other question, truncated */
	assert_int_equal(asname_dns_parse(a, al, 0x1235, qn, 57811, out, sizeof(out)), -1);
	assert_int_equal(asname_dns_parse(a, al, 0x1234, qn, 57812, out, sizeof(out)), -1);
	assert_int_equal(asname_dns_parse(a, al, 0x1234, "as1.asn.cymru.com", 1, out, sizeof(out)),
	                 -1);
	for (size_t n = 0; n < al; n++)
		assert_int_not_equal(asname_dns_parse(a, n, 0x1234, qn, 57811, out, sizeof(out)),
		                     1);
	/* a query is not an answer */
	assert_int_equal(asname_dns_parse(q, ql, 0x1234, qn, 57811, out, sizeof(out)), -1);
	/* NXDOMAIN and an empty answer: no such AS; SERVFAIL: a failure */
	al = answer(a, q, ql, "", 3);
	assert_int_equal(asname_dns_parse(a, al, 0x1234, qn, 57811, out, sizeof(out)), 0);
	al = answer(a, q, ql, "", 0);
	assert_int_equal(asname_dns_parse(a, al, 0x1234, qn, 57811, out, sizeof(out)), 0);
	al = answer(a, q, ql, "", 2);
	assert_int_equal(asname_dns_parse(a, al, 0x1234, qn, 57811, out, sizeof(out)), -1);
	/* a compression pointer loop never hangs */
	al = answer(a, q, ql, txt, 0);
	a[ql] = 0xc0;
	a[ql + 1] = (uint8_t)ql;
	assert_int_equal(asname_dns_parse(a, al, 0x1234, qn, 57811, out, sizeof(out)), -1);
	assert_int_equal(asname_dns_query(q, 20, 1, qn), 0);
}

static void cache_and_csv(void **state)
{
	char dir[] = "/tmp/weir-test-asn-XXXXXX", cache[128], csv[128], out[128];
	assert_non_null(mkdtemp(dir));
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(csv, sizeof(csv), "%s/names.csv", dir);
	FILE *f = fopen(cache, "w");
	fprintf(f,
	        "57811\t%ld\tAS57811 ATMSOFTWARE (PL)\n13335\t1\tAS13335 OLD (US)\n"
	        "bad line\n64501\t%ld\t\n",
	        (long)time(NULL) + 3600, (long)time(NULL) + 3600);
	fclose(f);
	f = fopen(csv, "w");
	fprintf(f, "asn,name\n15169,\"GOOGLE (US)\"\nAS64500, EXAMPLE\n");
	fclose(f);
	struct asname_conf c = {.proto = ASNAME_OFF, .cache_file = cache, .csv_file = csv};
	char err[256];
	struct asname *a = asname_open(&c, err, sizeof(err));
	assert_non_null(a);
	assert_true(asname_get(a, 57811, out, sizeof(out)));
	assert_string_equal(out, "AS57811 ATMSOFTWARE (PL)");
	assert_true(asname_get(a, 13335, out, sizeof(out))); /* expired: still served */
	assert_string_equal(out, "AS13335 OLD (US)");
	assert_true(asname_get(a, 15169, out, sizeof(out)));
	assert_string_equal(out, "AS15169 GOOGLE (US)");
	assert_true(asname_get(a, 64500, out, sizeof(out)));
	assert_string_equal(out, "AS64500 EXAMPLE");
	assert_false(asname_get(a, 64501, out, sizeof(out))); /* known not to exist */
	assert_false(asname_get(a, 1, out, sizeof(out)));
	assert_false(asname_get(a, 0, out, sizeof(out)));
	assert_true(asname_wait(a, 10));
	assert_int_equal(asname_save(a), 0);
	asname_close(a);
	f = fopen(cache, "r");
	char buf[1024] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\tAS57811 ATMSOFTWARE (PL)\n"));
	assert_null(strstr(buf, "bad line"));
	unlink(cache);
	unlink(csv);
	rmdir(dir);
	c.csv_file = "/nonexistent/x.csv";
	assert_null(asname_open(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "x.csv"));
}

/* A resolver pointed at a closed port: lookups fail without blocking the caller. */
static void failures_never_block(void **state)
{
	struct asname_conf c = {.proto = ASNAME_DNS, .server = "127.0.0.1:9", .timeout_ms = 200};
	char err[256], out[64];
	struct asname *a = asname_open(&c, err, sizeof(err));
	struct asname_stats st;

	assert_non_null(a);
	for (uint32_t i = 1; i <= 50; i++)
		assert_false(asname_get(a, i, out, sizeof(out)));
	assert_true(asname_wait(a, 10000));
	asname_get_stats(a, &st);
	assert_int_equal(st.queued, 50);
	assert_int_equal(st.failures, 50);
	assert_false(asname_get(a, 1, out, sizeof(out))); /* not retried at once */
	asname_get_stats(a, &st);
	assert_int_equal(st.queued, 50);
	asname_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cymru_records),
	    cmocka_unit_test(dns_answers_are_checked),
	    cmocka_unit_test(cache_and_csv),
	    cmocka_unit_test(failures_never_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
