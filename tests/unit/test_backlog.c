/* test_backlog.c - the backlog: order across memory and spool, restart replay, damage, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/backlog.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/weir-backlog.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/spool", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s.corrupt", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.tmp", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct backlog *open_bl(const char *path, uint64_t mem, uint64_t spool)
{
	struct backlog_conf bc = {.path = path, .mem_max = mem, .spool_max = spool, .who = "test"};
	char err[256];
	struct backlog *b = backlog_open(&bc, err, sizeof(err));

	assert_non_null(b);
	return b;
}

static void push_n(struct backlog *b, int from, int to)
{
	char item[64];

	for (int i = from; i < to; i++) {
		int n = snprintf(item, sizeof(item), "item-%04d", i);
		assert_int_equal(backlog_push(b, item, (size_t)n), 0);
	}
	assert_int_equal(backlog_sync(b), 0);
}

/* Pops everything, checking that the items come out as item-FROM, item-FROM+1 ... */
static int pop_all(struct backlog *b, int from)
{
	const uint8_t *p;
	size_t len;
	char want[64];
	int n = 0;

	while (backlog_peek(b, &p, &len) == 1) {
		int wl = snprintf(want, sizeof(want), "item-%04d", from + n);
		assert_int_equal(len, (size_t)wl);
		assert_memory_equal(p, want, len);
		assert_int_equal(backlog_pop(b), 0);
		n++;
	}
	return n;
}

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void memory_then_spool_keeps_order(void **state)
{
	struct fx *f = *state;
	struct backlog *b = open_bl(f->path, 5 * 9, 1 << 20); /* five items fit in memory */
	struct backlog_stats st;

	push_n(b, 0, 12);
	backlog_get_stats(b, &st);
	assert_int_equal(st.items, 12);
	assert_int_equal(st.mem_bytes, 45);
	assert_int_equal(st.spooled, 7);
	assert_true(st.spool_bytes > 0);
	/* memory drains while the spool still holds items: new ones must queue behind them */
	assert_int_equal(pop_all(b, 0), 12);
	backlog_get_stats(b, &st);
	assert_int_equal(st.items, 0);
	assert_int_equal(st.popped, 12);
	assert_int_equal(file_size(f->path), 24); /* truncated back to the header */
	assert_int_equal(backlog_close(b), 0);
}

static void interleaved_push_pop(void **state)
{
	struct fx *f = *state;
	struct backlog *b = open_bl(f->path, 3 * 9, 1 << 20);
	const uint8_t *p;
	size_t len;

	push_n(b, 0, 5); /* 3 in memory, 2 spooled */
	assert_int_equal(backlog_peek(b, &p, &len), 1);
	assert_memory_equal(p, "item-0000", 9);
	assert_int_equal(backlog_pop(b), 0);
	push_n(b, 5, 7); /* memory has room again, but the spool is not empty: spooled */
	assert_int_equal(pop_all(b, 1), 6);
	assert_int_equal(backlog_close(b), 0);
}

static void restart_replays_spool_and_memory(void **state)
{
	struct fx *f = *state;
	struct backlog *b = open_bl(f->path, 4 * 9, 1 << 20);
	struct backlog_stats st;

	push_n(b, 0, 10);
	/* consume two, so that the header's read offset matters */
	const uint8_t *p;
	size_t len;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(backlog_peek(b, &p, &len), 1);
		assert_int_equal(backlog_pop(b), 0);
	}
	assert_int_equal(backlog_close(b), 0); /* memory items go ahead of the spooled ones */

	b = open_bl(f->path, 4 * 9, 1 << 20);
	backlog_get_stats(b, &st);
	assert_int_equal(st.items, 8);
	push_n(b, 10, 12);
	assert_int_equal(pop_all(b, 2), 10);
	assert_int_equal(backlog_close(b), 0);
}

static void damaged_tail_is_cut(void **state)
{
	struct fx *f = *state;
	struct backlog *b = open_bl(f->path, 0, 1 << 20);
	struct backlog_stats st;

	push_n(b, 0, 4);
	assert_int_equal(backlog_close(b), 0);
	/* a torn last record: 3 bytes short */
	off_t sz = file_size(f->path);
	assert_int_equal(truncate(f->path, sz - 3), 0);
	b = open_bl(f->path, 0, 1 << 20);
	backlog_get_stats(b, &st);
	assert_int_equal(st.items, 3);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(pop_all(b, 0), 3);
	assert_int_equal(backlog_close(b), 0);

	/* a flipped payload byte in the second record: it and what follows are dropped */
	b = open_bl(f->path, 0, 1 << 20);
	push_n(b, 0, 3);
	assert_int_equal(backlog_close(b), 0);
	int fd = open(f->path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t x = 'X';
	assert_int_equal(pwrite(fd, &x, 1, 24 + 8 + 9 + 8 + 2), 1);
	close(fd);
	b = open_bl(f->path, 0, 1 << 20);
	assert_int_equal(backlog_items(b), 1);
	assert_int_equal(pop_all(b, 0), 1);
	assert_int_equal(backlog_close(b), 0);
}

static void damaged_header_is_set_aside(void **state)
{
	struct fx *f = *state;
	char aside[160];
	FILE *fp = fopen(f->path, "w");

	fputs("this is no spool file at all, just text", fp);
	fclose(fp);
	struct backlog *b = open_bl(f->path, 0, 1 << 20);
	struct backlog_stats st;
	backlog_get_stats(b, &st);
	assert_int_equal(st.items, 0);
	assert_int_equal(st.corrupt, 1);
	snprintf(aside, sizeof(aside), "%s.corrupt", f->path);
	assert_true(file_size(aside) > 0);
	push_n(b, 0, 2);
	assert_int_equal(pop_all(b, 0), 2);
	assert_int_equal(backlog_close(b), 0);
}

static void full_spool_drops_and_counts(void **state)
{
	struct fx *f = *state;
	struct backlog *b = open_bl(f->path, 9, 24 + 3 * 17); /* 1 in memory, 3 in the spool */
	struct backlog_stats st;

	push_n(b, 0, 4);
	assert_int_equal(backlog_push(b, "item-0004", 9), -1);
	backlog_get_stats(b, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.items, 4);
	/* consuming makes room again: compaction rewrites the spool from its read offset */
	const uint8_t *p;
	size_t len;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(backlog_peek(b, &p, &len), 1);
		assert_int_equal(backlog_pop(b), 0);
	}
	assert_int_equal(backlog_push(b, "item-0004", 9), 0);
	assert_int_equal(pop_all(b, 2), 3);
	assert_int_equal(backlog_close(b), 0);
}

static void no_spool_file_until_needed(void **state)
{
	struct fx *f = *state;
	struct backlog *b = open_bl(f->path, 1 << 20, 1 << 20);

	push_n(b, 0, 3);
	assert_int_equal(pop_all(b, 0), 3);
	assert_int_equal(backlog_close(b), 0);
	assert_int_equal(file_size(f->path), -1); /* a healthy backend leaves no file behind */
	b = open_bl(f->path, 1 << 20, 1 << 20);
	push_n(b, 0, 2);
	assert_int_equal(backlog_close(b), 0); /* items left in memory: now the spool exists */
	assert_true(file_size(f->path) > 24);
	b = open_bl(f->path, 1 << 20, 1 << 20);
	assert_int_equal(pop_all(b, 0), 2);
	assert_int_equal(backlog_close(b), 0);
}

static void memory_only_loses_at_close(void **state)
{
	struct backlog *b = open_bl(NULL, 100, 0);

	push_n(b, 0, 2);
	assert_int_equal(backlog_push(b,
	                              "0123456789012345678901234567890123456789"
	                              "0123456789012345678901234567890123456789"
	                              "0123456789",
	                              90),
	                 -1);
	assert_int_equal(backlog_items(b), 2);
	assert_int_equal(backlog_close(b), -1); /* two items had nowhere to go: logged */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(memory_then_spool_keeps_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(interleaved_push_pop, setup, teardown),
	    cmocka_unit_test_setup_teardown(restart_replays_spool_and_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(damaged_tail_is_cut, setup, teardown),
	    cmocka_unit_test_setup_teardown(damaged_header_is_set_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_spool_drops_and_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_spool_file_until_needed, setup, teardown),
	    cmocka_unit_test(memory_only_loses_at_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
