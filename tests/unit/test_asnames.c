/* test_asnames.c - as_src_name/as_dst_name: key layout, output forms and the writer's lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/key.h"
#include "aggregate/plugin.h"
#include "conf/conf.h"
#include "enrich/asname.h"
#include "lib/log.h"
#include "sink/format.h"
#include "sink/rowtext.h"

#define BIT(b)   (UINT64_C(1) << (b))
#define SRC_NAME FMT_BIT(FMT_F_AS_SRC_NAME)
#define DST_NAME FMT_BIT(FMT_F_AS_DST_NAME)

static void parse_ok(struct agg_key *k, const char *list)
{
	char err[256] = "";

	if (agg_key_parse(k, list, false, err, sizeof(err)) < 0)
		fail_msg("%s: %s", list, err);
}

/* The key holds the AS number, once, never the name. */
static void names_put_the_number_in_the_key(void **state)
{
	struct agg_key k;

	parse_ok(&k, "as_src_name, as_dst_name");
	assert_int_equal(k.len, 8);
	assert_int_equal(k.fields & (SRC_NAME | DST_NAME), SRC_NAME | DST_NAME);
	assert_false(k.fields & BIT(FF_SRC_AS)); /* the number is not printed unless asked */
	assert_false(k.fields & BIT(FF_DST_AS));
	assert_true(k.present & BIT(FF_SRC_AS));
	assert_true(k.present & BIT(FF_DST_AS));

	parse_ok(&k, "src_as, as_src_name");
	assert_int_equal(k.len, 4);
	assert_true(k.fields & BIT(FF_SRC_AS));
	assert_true(k.fields & SRC_NAME);
	parse_ok(&k, "as_src_name, src_as"); /* order does not matter */
	assert_int_equal(k.len, 4);
	parse_ok(&k, "as_dst_name, as_dst_name, proto");
	assert_int_equal(k.len, 5);
	parse_ok(&k, "dst_as, as_dst_name");
	assert_int_equal(k.len, 4);
	assert_false(k.fields & SRC_NAME);
}

static void names_with_sum_as_are_refused(void **state)
{
	struct agg_key k;
	char err[256] = "";

	assert_int_equal(agg_key_parse(&k, "sum_as, as_dst_name", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "as_dst_name"));
}

/* Two flows that differ only in their AS numbers stay two rows; the number survives unpacking. */
static void key_round_trip_keeps_the_number(void **state)
{
	struct agg_key k;
	struct flow f, g, row;
	uint8_t a[AGG_KEY_MAX], b[AGG_KEY_MAX];

	parse_ok(&k, "as_src_name, as_dst_name");
	memset(&f, 0, sizeof(f));
	f.present = BIT(FF_SRC_AS) | BIT(FF_DST_AS);
	f.src_as = 57811;
	f.dst_as = 13335;
	f.as_src_name = "not part of the key";
	g = f;
	g.dst_as = 15169;
	agg_key_pack(&k, &f, 0, 0, a);
	agg_key_pack(&k, &g, 0, 0, b);
	assert_memory_not_equal(a, b, k.len);
	agg_key_unpack(&k, a, &row);
	assert_int_equal(row.src_as, 57811);
	assert_int_equal(row.dst_as, 13335);
	assert_null(row.as_src_name);
	assert_null(row.as_dst_name);
}

static struct flow named_row(void)
{
	struct flow r;

	memset(&r, 0, sizeof(r));
	r.present = BIT(FF_SRC_AS) | BIT(FF_DST_AS) | BIT(FF_BYTES) | BIT(FF_PACKETS);
	r.src_as = 64500;
	r.dst_as = 65010;
	r.bytes = 1500;
	r.packets = 3;
	r.as_src_name = "AS64500 EXAMPLE \"Q\" - Example, Inc. (ZZ)";
	r.as_dst_name = NULL; /* not known yet */
	return r;
}

static void json_escapes_names_and_prints_unknown_as_empty(void **state)
{
	struct fmt_opts o;
	struct flow r = named_row();
	char buf[1024];

	fmt_opts_default(&o);
	o.fields = SRC_NAME | DST_NAME;
	size_t n = fmt_json(buf, sizeof(buf), &r, &o);
	assert_true(n < sizeof(buf));
	json_t *j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "as_src_name")), r.as_src_name);
	assert_string_equal(json_string_value(json_object_get(j, "as_dst_name")), "");
	assert_null(json_object_get(j, "as_src")); /* only the names were asked for */
	assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 1500);
	json_decref(j);

	o.fields |= BIT(FF_SRC_AS);
	fmt_json(buf, sizeof(buf), &r, &o);
	assert_non_null(strstr(buf, "\"as_src\": 64500, \"as_src_name\": \"AS64500"));
}

static void csv_keeps_one_column_per_name(void **state)
{
	struct fmt_opts o;
	struct flow r = named_row();
	char head[512], line[512];

	fmt_opts_default(&o);
	o.fields = BIT(FF_DST_AS) | SRC_NAME | DST_NAME;
	fmt_csv_header(head, sizeof(head), &o);
	assert_string_equal(head, "DST_AS,AS_SRC_NAME,AS_DST_NAME,PACKETS,BYTES");
	fmt_csv(line, sizeof(line), &r, &o);
	assert_string_equal(line, "65010,AS64500 EXAMPLE \"Q\" - Example  Inc. (ZZ),,3,1500");
	o.csv_sep = ';';
	fmt_csv(line, sizeof(line), &r, &o);
	assert_string_equal(line, "65010;AS64500 EXAMPLE \"Q\" - Example, Inc. (ZZ);;3;1500");
}

/* The InfluxDB tags and Prometheus labels come from rowtext: the names are among them. */
static void rowtext_carries_names(void **state)
{
	struct rowtext rt;
	struct flow r = named_row();
	bool src = false, dst = false;

	assert_true(rowtext_get(&r, BIT(FF_DST_AS) | SRC_NAME | DST_NAME, &rt) >= 3);
	for (size_t i = 0; i < rt.n; i++) {
		if (!strcmp(rt.name[i], "as_src_name")) {
			assert_string_equal(rt.value[i], r.as_src_name);
			src = true;
		}
		if (!strcmp(rt.name[i], "as_dst_name")) {
			assert_string_equal(rt.value[i], ""); /* influx leaves empty tags out */
			dst = true;
		}
	}
	assert_true(src && dst);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void push_flows(struct plugin_set *ps)
{
	static struct flow_batch b;
	static const uint32_t src[] = {57811, 57811, 13335, 0};
	static const uint32_t dst[] = {13335, 65010, 57811, 13335};

	b.n = 4;
	for (size_t i = 0; i < b.n; i++) {
		struct flow *f = &b.rec[i];
		memset(f, 0, sizeof(*f));
		f->event = FLOW_EV_FLOW;
		f->present = BIT(FF_SRC_AS) | BIT(FF_DST_AS) | BIT(FF_PROTO);
		f->src_as = src[i];
		f->dst_as = dst[i];
		f->proto = 6;
		f->bytes = 100 * (i + 1);
		f->packets = 1;
		f->arrival_ms = now_ms();
	}
	plugin_push(ps, 0, &b);
}

/*
 * The whole stage with the configured resolver (asname_source: off, the CSV alone): the writer
 * names the rows of a plugin that asks, leaves other plugins alone, and a name the resolver
 * does not have prints as "".
 */
static void writer_names_rows_from_the_resolver(void **state)
{
	char dir[] = "/tmp/weir-test-asn-XXXXXX", err[256], text[2048], path[PATH_MAX];
	struct asname_conf ac;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/names.csv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("asn,name\n57811,ATMSOFTWARE (PL)\n13335,\"CLOUDFLARENET (US)\"\n", f);
	fclose(f);
	snprintf(text, sizeof(text),
	         "plugins: print[named], print[plain]\n"
	         "aggregate[named]: src_as, as_src_name, as_dst_name\n"
	         "aggregate[plain]: dst_as, proto\n"
	         "print_refresh_time: 3600\n"
	         "print_output_file[named]: %s/named.json\n"
	         "print_output_file[plain]: %s/plain.json\n"
	         "asname_source: off\n"
	         "asname_csv_file: %s/names.csv\n"
	         "asname_ttl: 1h\n",
	         dir, dir, dir);
	struct conf *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(conf_load_buffer(c, "t.conf", text, strlen(text), err, sizeof(err)), 0);
	struct plugin_set *ps = plugin_open(c, 1, err, sizeof(err));
	assert_non_null(ps);
	assert_true(plugin_asnames_wanted(ps, c, &ac));
	assert_int_equal(ac.proto, ASNAME_OFF);
	assert_int_equal(ac.ttl_s, 3600);
	assert_int_equal(ac.timeout_ms, 2000);
	struct asname *an = asname_open(&ac, err, sizeof(err));
	assert_non_null(an);
	plugin_set_asnames(ps, an);
	assert_int_equal(plugin_start(ps, err, sizeof(err)), 0);
	push_flows(ps);
	plugin_stop(ps);
	plugin_free(ps);
	asname_close(an);

	snprintf(path, sizeof(path), "%s/named.json", dir);
	char *out = slurp(path);
	assert_non_null(out);
	assert_non_null(strstr(out, "\"as_src\": 57811, \"as_src_name\": \"AS57811 ATMSOFTWARE "
	                            "(PL)\", \"as_dst_name\": \"AS13335 CLOUDFLARENET (US)\""));
	assert_non_null(strstr(out, "\"as_src\": 57811, \"as_src_name\": \"AS57811 ATMSOFTWARE "
	                            "(PL)\", \"as_dst_name\": \"\""));
	assert_non_null(strstr(out, "\"as_src\": 0, \"as_src_name\": \"\", \"as_dst_name\": "
	                            "\"AS13335 CLOUDFLARENET (US)\""));
	assert_null(strstr(out, "\"as_dst\""));
	size_t rows = 0;
	for (const char *p = out; (p = strchr(p, '\n')); p++)
		rows++;
	assert_int_equal(rows, 4); /* every (src_as, dst_as) pair is its own row */
	free(out);
	snprintf(path, sizeof(path), "%s/plain.json", dir);
	out = slurp(path);
	assert_non_null(out);
	assert_null(strstr(out, "_name"));
	free(out);

	/* A set without name primitives asks for no resolver. */
	snprintf(text, sizeof(text), "plugins: print[x]\nprint_output_file: %s/x.json\n", dir);
	memset(c, 0, sizeof(*c));
	assert_int_equal(conf_load_buffer(c, "t.conf", text, strlen(text), err, sizeof(err)), 0);
	ps = plugin_open(c, 1, err, sizeof(err));
	assert_non_null(ps);
	assert_false(plugin_asnames_wanted(ps, c, &ac));
	assert_int_equal(ac.proto, ASNAME_DNS); /* the default */
	plugin_free(ps);
	free(c);
	snprintf(text, sizeof(text), "rm -rf '%s'", dir);
	assert_int_equal(system(text), 0);
}

static void bad_asname_keys_are_refused(void **state)
{
	static const char *const bad[] = {
	    "asname_source: ldap\n",
	    "asname_ttl: 1\n",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf *c = calloc(1, sizeof(*c));
		assert_non_null(c);
		assert_int_equal(
		    conf_load_buffer(c, "t.conf", bad[i], strlen(bad[i]), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "asname_"));
		free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names_put_the_number_in_the_key),
	    cmocka_unit_test(names_with_sum_as_are_refused),
	    cmocka_unit_test(key_round_trip_keeps_the_number),
	    cmocka_unit_test(json_escapes_names_and_prints_unknown_as_empty),
	    cmocka_unit_test(csv_keeps_one_column_per_name),
	    cmocka_unit_test(rowtext_carries_names),
	    cmocka_unit_test(writer_names_rows_from_the_resolver),
	    cmocka_unit_test(bad_asname_keys_are_refused),
	};
	log_setup(LL_ERR, stderr, false, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
