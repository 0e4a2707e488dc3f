/* test_print.c - the print sink (whole files renamed into place, latest symlink, CSV header,
 * strftime names, markers, append) and the plugin stage that feeds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregate/plugin.h"
#include "conf/conf.h"
#include "lib/log.h"
#include "sink/format.h"
#include "weir/sink.h"

#define T0 UINT64_C(1715677200000) /* 2024-05-14 09:00:00 UTC */

struct fixture {
	char dir[64];
	struct conf *c;
	struct plugin_conf *pc;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/weir-test-print-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	fx->c = calloc(1, sizeof(*fx->c));
	fx->c->timestamps_utc = true;
	fx->c->n_plugins = 1;
	fx->pc = &fx->c->plugins[0];
	snprintf(fx->pc->name, sizeof(fx->pc->name), "t");
	snprintf(fx->pc->type, sizeof(fx->pc->type), "print");
	snprintf(fx->pc->print_output_separator, sizeof(fx->pc->print_output_separator), ",");
	fx->pc->print_refresh_time = 60;
	/* A key every test flow differs in: one row per flow. */
	snprintf(fx->pc->aggregate, sizeof(fx->pc->aggregate), "src_host, dst_host, src_port");
	fx->pc->conf = fx->c;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx->c);
	free(fx);
	return 0;
}

static void make_flow(struct flow *f, uint32_t i)
{
	memset(f, 0, sizeof(*f));
	wip_from_v4(&f->src, 0x0a010000 + i);
	wip_from_v4(&f->dst, 0xc0000201);
	wip_from_v4(&f->exporter, 0x7f000001);
	f->src_port = (uint16_t)(1000 + i);
	f->dst_port = 443;
	f->proto = 6;
	f->bytes = 100 + i;
	f->packets = 1 + i;
	f->ip_version = 4;
	f->export_version = 5;
	FLOW_SET(f, FF_SRC_ADDR);
	FLOW_SET(f, FF_DST_ADDR);
	FLOW_SET(f, FF_SRC_PORT);
	FLOW_SET(f, FF_DST_PORT);
	FLOW_SET(f, FF_PROTO);
	FLOW_SET(f, FF_BYTES);
	FLOW_SET(f, FF_PACKETS);
}

static void path_in(const struct fixture *fx, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", fx->dir, name);
}

/* Names in the directory: how many, and how many are hidden temporary files. */
static void count_dir(const struct fixture *fx, int *visible, int *hidden)
{
	DIR *d = opendir(fx->dir);
	struct dirent *e;

	*visible = *hidden = 0;
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_name[0] == '.')
			(*hidden)++;
		else
			(*visible)++;
	}
	closedir(d);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void write_rows(const struct sink_ops *ops, struct sink *s, uint64_t bin, uint32_t first,
                       size_t n)
{
	struct flow rows[16];
	struct sink_rows r = {.rows = rows,
	                      .n = n,
	                      .fields = FMT_PRESENT,
	                      .stamp_inserted_ms = bin,
	                      .stamp_updated_ms = bin + 1000};

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		make_flow(&rows[i], first + (uint32_t)i);
	assert_int_equal(ops->write(s, &r), 0);
}

static void csv_files_appear_whole_with_strftime_names(void **state)
{
	struct fixture *fx = *state;
	const struct sink_ops *ops = sink_find("print");
	char err[256], p0[PATH_MAX], p1[PATH_MAX], link[PATH_MAX], hdr[4096];
	int visible, hidden;

	assert_non_null(ops);
	fx->pc->print_output = PRINT_CSV;
	path_in(fx, "sub/out-%Y%m%d-%H%M.csv", fx->pc->print_output_file,
	        sizeof(fx->pc->print_output_file));
	path_in(fx, "sub/latest.csv", fx->pc->print_latest_file, sizeof(fx->pc->print_latest_file));
	struct sink *s = ops->open(fx->pc, err, sizeof(err));
	assert_non_null(s);

	write_rows(ops, s, T0, 0, 3);
	write_rows(ops, s, T0, 3, 2);
	path_in(fx, "sub/out-20240514-0900.csv", p0, sizeof(p0));
	/* Mid-interval only a hidden temporary file exists: a reader never sees half a file. */
	assert_int_equal(access(p0, F_OK), -1);
	assert_int_equal(ops->flush(s, T0 + 60000), 0);
	char *text = slurp(p0);
	assert_non_null(text);

	struct fmt_opts o;
	fmt_opts_default(&o);
	o.fields = FMT_PRESENT;
	o.csv_sep = ',';
	size_t hl = fmt_csv_header(hdr, sizeof(hdr), &o);
	assert_true(hl < sizeof(hdr));
	assert_memory_equal(text, hdr, hl);
	assert_int_equal(text[hl], '\n');
	assert_int_equal(count_lines(text), 1 + 5);
	free(text);
	ssize_t ll = readlink(fx->pc->print_latest_file, link, sizeof(link) - 1);
	assert_true(ll > 0);
	link[ll] = '\0';
	assert_string_equal(link, "out-20240514-0900.csv");

	/* The next interval is another file; latest follows it. */
	write_rows(ops, s, T0 + 60000, 10, 4);
	assert_int_equal(ops->flush(s, T0 + 120000), 0);
	path_in(fx, "sub/out-20240514-0901.csv", p1, sizeof(p1));
	text = slurp(p1);
	assert_non_null(text);
	assert_int_equal(count_lines(text), 1 + 4);
	free(text);
	ll = readlink(fx->pc->print_latest_file, link, sizeof(link) - 1);
	assert_true(ll > 0);
	link[ll] = '\0';
	assert_string_equal(link, "out-20240514-0901.csv");

	ops->close(s);
	snprintf(fx->dir + strlen(fx->dir), sizeof(fx->dir) - strlen(fx->dir), "/sub");
	count_dir(fx, &visible, &hidden);
	assert_int_equal(visible, 3); /* two intervals and the symlink */
	assert_int_equal(hidden, 0);
	fx->dir[strlen(fx->dir) - 4] = '\0';
}

static void open_interval_is_hidden_until_flush(void **state)
{
	struct fixture *fx = *state;
	const struct sink_ops *ops = sink_find("print");
	char err[256], p0[PATH_MAX];
	int visible, hidden;

	fx->pc->print_output = PRINT_JSON;
	path_in(fx, "f-%H%M%S.json", fx->pc->print_output_file, sizeof(fx->pc->print_output_file));
	struct sink *s = ops->open(fx->pc, err, sizeof(err));
	assert_non_null(s);
	write_rows(ops, s, T0, 0, 2);
	count_dir(fx, &visible, &hidden);
	assert_int_equal(visible, 0);
	assert_int_equal(hidden, 1);
	assert_int_equal(ops->flush(s, T0 + 60000), 0);
	count_dir(fx, &visible, &hidden);
	assert_int_equal(visible, 1);
	assert_int_equal(hidden, 0);
	path_in(fx, "f-090000.json", p0, sizeof(p0));
	char *text = slurp(p0);
	assert_non_null(text);
	assert_int_equal(count_lines(text), 2);
	assert_int_equal(text[0], '{');
	assert_non_null(strstr(text, "\"bytes\": 100") ? strstr(text, "\"bytes\": 100")
	                                               : strstr(text, "\"bytes\":100"));
	free(text);
	/* The file was created 0600 (mkstemp) and published with the umask's mode. */
	struct stat st;
	assert_int_equal(stat(p0, &st), 0);
	mode_t um = umask(0);
	umask(um);
	assert_int_equal(st.st_mode & 0777, 0666 & ~um);
	ops->close(s);
}

static void markers_surround_each_purge(void **state)
{
	struct fixture *fx = *state;
	const struct sink_ops *ops = sink_find("print");
	char err[256], p0[PATH_MAX];

	fx->pc->print_output = PRINT_JSON;
	fx->pc->print_markers = true;
	path_in(fx, "m.json", fx->pc->print_output_file, sizeof(fx->pc->print_output_file));
	struct sink *s = ops->open(fx->pc, err, sizeof(err));
	write_rows(ops, s, T0, 0, 3);
	assert_int_equal(ops->flush(s, T0 + 60000), 0);
	path_in(fx, "m.json", p0, sizeof(p0));
	char *text = slurp(p0);
	assert_non_null(text);
	assert_int_equal(strncmp(text, "--START (1715677200+60)--\n{", 27), 0);
	assert_int_equal(count_lines(text), 5);
	assert_non_null(strstr(text, "}\n--END--\n"));
	assert_string_equal(text + strlen(text) - 8, "--END--\n");
	free(text);
	ops->close(s);
}

/* Without time patterns the file is rewritten each interval, or appended to on request. */
static void fixed_name_rewritten_or_appended(void **state)
{
	struct fixture *fx = *state;
	const struct sink_ops *ops = sink_find("print");
	char err[256], p0[PATH_MAX];

	fx->pc->print_output = PRINT_CSV;
	path_in(fx, "fixed.csv", fx->pc->print_output_file, sizeof(fx->pc->print_output_file));
	path_in(fx, "fixed.csv", p0, sizeof(p0));
	struct sink *s = ops->open(fx->pc, err, sizeof(err));
	write_rows(ops, s, T0, 0, 3);
	ops->flush(s, T0 + 60000);
	write_rows(ops, s, T0 + 60000, 0, 2);
	ops->flush(s, T0 + 120000);
	ops->close(s);
	char *text = slurp(p0);
	assert_int_equal(count_lines(text), 1 + 2);
	free(text);

	fx->pc->print_output_file_append = true;
	s = ops->open(fx->pc, err, sizeof(err));
	write_rows(ops, s, T0 + 120000, 0, 4);
	ops->flush(s, T0 + 180000);
	write_rows(ops, s, T0 + 180000, 0, 1);
	ops->flush(s, T0 + 240000);
	ops->close(s);
	text = slurp(p0);
	/* One header, then 2 + 4 + 1 rows. */
	assert_int_equal(count_lines(text), 1 + 2 + 4 + 1);
	struct fmt_opts o;
	char hdr[4096];
	fmt_opts_default(&o);
	o.fields = FMT_PRESENT;
	o.csv_sep = ',';
	size_t hl = fmt_csv_header(hdr, sizeof(hdr), &o);
	hdr[hl] = '\0';
	assert_memory_equal(text, hdr, hl);
	assert_null(strstr(text + hl, hdr));
	free(text);
}

static void empty_intervals(void **state)
{
	struct fixture *fx = *state;
	const struct sink_ops *ops = sink_find("print");
	struct sink_rows none = {
	    .rows = NULL, .n = 0, .fields = FMT_PRESENT, .stamp_inserted_ms = T0};
	char err[256], p0[PATH_MAX];
	struct stat st;

	fx->pc->print_output = PRINT_JSON;
	path_in(fx, "e-%H%M.json", fx->pc->print_output_file, sizeof(fx->pc->print_output_file));
	path_in(fx, "e-0900.json", p0, sizeof(p0));
	struct sink *s = ops->open(fx->pc, err, sizeof(err));
	assert_int_equal(ops->write(s, &none), 0);
	assert_int_equal(ops->flush(s, T0 + 60000), 0);
	assert_int_equal(stat(p0, &st), -1);
	ops->close(s);

	fx->pc->print_write_empty_file = true;
	s = ops->open(fx->pc, err, sizeof(err));
	assert_int_equal(ops->write(s, &none), 0);
	assert_int_equal(ops->flush(s, T0 + 60000), 0);
	assert_int_equal(stat(p0, &st), 0);
	assert_int_equal(st.st_size, 0);
	ops->close(s);
}

static void bad_config_is_refused(void **state)
{
	struct fixture *fx = *state;
	char err[256] = "";

	path_in(fx, "same", fx->pc->print_output_file, sizeof(fx->pc->print_output_file));
	path_in(fx, "same", fx->pc->print_latest_file, sizeof(fx->pc->print_latest_file));
	assert_null(sink_find("print")->open(fx->pc, err, sizeof(err)));
	assert_true(err[0] != '\0');
	assert_null(sink_find("no-such-sink"));
}

/*
 * A target that is no regular file is written in place, never renamed over: with
 * print_output_file: /dev/null the rename once replaced the device with a plain file. A symlink
 * stands in for the device here (same lstat() class, and safe to test).
 */
static void special_targets_are_written_in_place(void **state)
{
	struct fixture *fx = *state;
	const struct sink_ops *ops = sink_find("print");
	char err[256], target[PATH_MAX], link[PATH_MAX], latest[PATH_MAX];
	struct stat st;

	path_in(fx, "target.json", target, sizeof(target));
	path_in(fx, "link.json", link, sizeof(link));
	assert_int_equal(symlink("target.json", link), 0);
	fx->pc->print_output = PRINT_JSON;
	snprintf(fx->pc->print_output_file, sizeof(fx->pc->print_output_file), "%s", link);
	/* print_latest_file in the way as a regular file: it is not clobbered either. */
	path_in(fx, "latest.json", latest, sizeof(latest));
	FILE *f = fopen(latest, "w");
	fputs("keep\n", f);
	fclose(f);
	snprintf(fx->pc->print_latest_file, sizeof(fx->pc->print_latest_file), "%s", latest);

	struct sink *s = ops->open(fx->pc, err, sizeof(err));
	write_rows(ops, s, T0, 0, 3);
	assert_int_equal(ops->flush(s, T0 + 60000), 0);
	ops->close(s);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	char *text = slurp(target);
	assert_int_equal(count_lines(text), 3);
	free(text);
	text = slurp(latest);
	assert_string_equal(text, "keep\n");
	free(text);

	/* The real device, when present, is still a character device afterwards. */
	snprintf(fx->pc->print_output_file, sizeof(fx->pc->print_output_file), "/dev/null");
	fx->pc->print_latest_file[0] = '\0';
	if (stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode)) {
		s = ops->open(fx->pc, err, sizeof(err));
		write_rows(ops, s, T0, 0, 1);
		assert_int_equal(ops->flush(s, T0 + 60000), 0);
		ops->close(s);
		assert_int_equal(stat("/dev/null", &st), 0);
		assert_true(S_ISCHR(st.st_mode));
	}
}

/* Every record pushed by every worker reaches the sink by plugin_stop(), none twice. */
static void plugin_stage_delivers_every_record(void **state)
{
	struct fixture *fx = *state;
	char err[256], p0[PATH_MAX];
	static struct flow_batch b;
	const unsigned workers = 3;
	const uint32_t per_worker = 5000;

	fx->pc->print_output = PRINT_CSV;
	path_in(fx, "stage.csv", fx->pc->print_output_file, sizeof(fx->pc->print_output_file));
	struct plugin_set *ps = plugin_open(fx->c, workers, err, sizeof(err));
	assert_non_null(ps);
	assert_int_equal(plugin_start(ps, err, sizeof(err)), 0);
	/* More records than a worker's buffer pool holds: the writer must keep up or they wait. */
	for (unsigned w = 0; w < workers; w++) {
		for (uint32_t i = 0; i < per_worker; i += (uint32_t)b.n) {
			b.n = 0;
			while (b.n < 700 && i + b.n < per_worker) {
				make_flow(&b.rec[b.n], w * per_worker + i + (uint32_t)b.n);
				b.n++;
			}
			plugin_push(ps, w, &b);
			plugin_tick(ps, w, now_ms());
		}
	}
	plugin_stop(ps);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	plugin_stats_print(ps, f);
	fclose(f);
	assert_non_null(strstr(text, "records 15000 rows_written 15000"));
	free(text);
	plugin_free(ps);

	path_in(fx, "stage.csv", p0, sizeof(p0));
	text = slurp(p0);
	assert_non_null(text);
	assert_int_equal(count_lines(text), 1 + (int)(workers * per_worker));
	free(text);
}

/* A refresh boundary mid-run: each interval is its own whole file, and nothing is lost. */
static void plugin_stage_rotates_on_refresh(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	static struct flow_batch b;
	int visible, hidden;

	fx->pc->print_output = PRINT_JSON;
	fx->pc->print_refresh_time = 1;
	path_in(fx, "r-%H%M%S.json", fx->pc->print_output_file, sizeof(fx->pc->print_output_file));
	struct plugin_set *ps = plugin_open(fx->c, 1, err, sizeof(err));
	assert_non_null(ps);
	assert_int_equal(plugin_start(ps, err, sizeof(err)), 0);
	b.n = 10;
	for (size_t i = 0; i < b.n; i++)
		make_flow(&b.rec[i], (uint32_t)i);
	uint64_t start = mono_ms();
	plugin_push(ps, 0, &b);
	/* Keep ticking past at least one refresh boundary (bounded: at most 3 s). */
	while (mono_ms() - start < 2500) {
		plugin_tick(ps, 0, now_ms());
		usleep(20000);
	}
	plugin_push(ps, 0, &b);
	plugin_stop(ps);
	plugin_free(ps);
	count_dir(fx, &visible, &hidden);
	assert_true(visible >= 2);
	assert_int_equal(hidden, 0);

	/* Every file is whole JSON lines; together they hold the 20 records. */
	DIR *d = opendir(fx->dir);
	struct dirent *e;
	int lines = 0;
	while ((e = readdir(d))) {
		char p[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		path_in(fx, e->d_name, p, sizeof(p));
		char *text = slurp(p);
		for (char *l = text; *l; l = strchr(l, '\n') + 1) {
			assert_int_equal(*l, '{');
			assert_non_null(strchr(l, '\n'));
			lines++;
		}
		free(text);
	}
	closedir(d);
	assert_int_equal(lines, 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(csv_files_appear_whole_with_strftime_names, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(open_interval_is_hidden_until_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(markers_surround_each_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(fixed_name_rewritten_or_appended, setup, teardown),
	    cmocka_unit_test_setup_teardown(empty_intervals, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_config_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(special_targets_are_written_in_place, setup, teardown),
	    cmocka_unit_test_setup_teardown(plugin_stage_delivers_every_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(plugin_stage_rotates_on_refresh, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
