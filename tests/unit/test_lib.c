/* test_lib.c - cursor bounds, address forms, and the log token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/cursor.h"
#include "lib/log.h"
#include "weir/flow.h"

static void cursor_never_reads_past_end(void **state)
{
	const uint8_t buf[5] = {1, 2, 3, 4, 5};
	struct cursor c, sub;
	uint32_t v32;
	uint16_t v16;
	uint64_t v64;

	cur_init(&c, buf, sizeof(buf));
	assert_true(cur_u32(&c, &v32));
	assert_int_equal(v32, 0x01020304);
	assert_false(cur_u16(&c, &v16));
	assert_int_equal(cur_left(&c), 1);
	assert_false(cur_u64(&c, &v64));
	assert_false(cur_sub(&c, 2, &sub));
	assert_true(cur_sub(&c, 1, &sub));
	assert_int_equal(cur_left(&c), 0);
	assert_int_equal(cur_left(&sub), 1);
	assert_false(cur_skip(&c, 1));
}

static void reduced_size_integers(void **state)
{
	const uint8_t b[8] = {0, 0, 0, 0, 0, 1, 0, 2};
	assert_int_equal(get_uint_be(b + 5, 3), 0x010002);
	assert_int_equal(get_uint_be(b, 8), 0x010002);
	assert_int_equal(get_u16(b + 6), 2);
}

static void addresses_round_trip(void **state)
{
	struct wip w;
	char buf[WIP_STRLEN];

	assert_true(wip_parse(&w, "192.0.2.1"));
	assert_true(wip_is_v4(&w));
	assert_int_equal(wip_v4(&w), 0xc0000201);
	assert_string_equal(wip_str(&w, buf, sizeof(buf)), "192.0.2.1");
	assert_true(wip_parse(&w, "2001:db8::1"));
	assert_false(wip_is_v4(&w));
	assert_string_equal(wip_str(&w, buf, sizeof(buf)), "2001:db8::1");
	assert_false(wip_parse(&w, "300.1.1.1"));
	wip_from_v4(&w, 0x7f000001);
	assert_string_equal(wip_str(&w, buf, sizeof(buf)), "127.0.0.1");
}

static void ratelimit_bounds_lines(void **state)
{
	struct ratelimit rl;
	int ok = 0;

	ratelimit_init(&rl, 5);
	for (int i = 0; i < 100; i++)
		ok += ratelimit_ok(&rl, 1000);
	assert_int_equal(ok, 5);
	assert_int_equal(rl.suppressed, 95);
	assert_true(ratelimit_ok(&rl, 2000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cursor_never_reads_past_end),
	    cmocka_unit_test(reduced_size_integers),
	    cmocka_unit_test(addresses_round_trip),
	    cmocka_unit_test(ratelimit_bounds_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
