/* test_conf.c - the pmacct-syntax parser, key table, precedence, errors, listeners, reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/keys.h"
#include "lib/log.h"

#define SHARED "../shared"

static char err[1024];

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct conf));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static int load(struct conf *c, const char *text)
{
	err[0] = '\0';
	return conf_load_buffer(c, "weir.conf", text, strlen(text), err, sizeof(err));
}

static void load_ok(struct conf *c, const char *text)
{
	if (load(c, text) != 0)
		fail_msg("unexpected error: %s", err);
}

static void load_err(struct conf *c, const char *text, const char *want)
{
	assert_int_equal(load(c, text), -1);
	if (strcmp(err, want))
		fail_msg("error\n  got:  %s\n  want: %s", err, want);
}

static const struct plugin_conf *plugin(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_plugins; i++)
		if (!strcmp(c->plugins[i].name, name))
			return &c->plugins[i];
	fail_msg("no plugin %s", name);
	return NULL;
}

static uint16_t port_of(const struct listen_addr *la)
{
	if (la->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&la->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&la->ss)->sin6_port);
}

/* --- defaults and the table --- */

static void embedded_default(void **state)
{
	struct conf *c = *state;

	conf_defaults(c);
	assert_int_equal(c->n_plugins, 1);
	assert_string_equal(c->plugins[0].name, "default");
	assert_string_equal(c->plugins[0].type, "sqlite3");
	assert_string_equal(c->plugins[0].sql_db, "weir.db");
	assert_string_equal(c->plugins[0].sql_table, "flows");
	assert_true(c->plugins[0].sql_optimize_clauses);
	assert_int_equal(c->plugins[0].history, 60);
	assert_int_equal(c->plugins[0].print_refresh_time, 60);
	assert_int_equal(c->plugins[0].print_cache_entries, 65535);
	assert_string_equal(c->plugins[0].print_output_separator, ",");
	assert_ptr_equal(c->plugins[0].conf, c);
	assert_int_equal(c->n_listen, 3); /* nfacctd_port 2055, 4739 and sfacctd_port 6343 */
	assert_string_equal(c->listen[0].text, "[::]:2055");
	assert_string_equal(c->listen[1].text, "[::]:4739");
	assert_string_equal(c->listen[2].text, "[::]:6343");
	assert_int_equal(c->listen[0].ss.ss_family, AF_INET6);
	assert_int_equal(c->listen[0].len, sizeof(struct sockaddr_in6));
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&c->listen[0].ss)->sin6_addr));
	assert_int_equal(port_of(&c->listen[1]), 4739);
	assert_int_equal(c->max_exporters, 4096);
	assert_int_equal(c->max_templates, 256);
	assert_int_equal(c->max_template_fields, 512);
	assert_int_equal(c->hold_bytes, 64 * 1024);
	assert_int_equal(c->hold_ms, 30000);
	assert_int_equal(c->log_rate, 10);
	assert_int_equal(c->pipe_size, 8 << 20);
	assert_int_equal(c->workers, 0);
	assert_true(c->timestamps_utc);
	assert_false(c->timestamps_secs);
	assert_false(c->daemonize);
	assert_string_equal(c->path, "");
}

static void load_without_file_is_default(void **state)
{
	struct conf *c = *state;

	assert_int_equal(conf_load(c, NULL, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(c->n_plugins, 1);
	assert_string_equal(c->plugins[0].name, "default");
	assert_int_equal(c->n_listen, 3);
}

static void table_rows_are_consistent(void **state)
{
	struct conf *c = *state;
	char text[2048];

	for (size_t i = 0; i < conf_n_keys; i++) {
		const struct key_def *k = &conf_keys[i];
		assert_non_null(k->name);
		if (conf_key_is_family(k)) {
			assert_true(k->type == KT_NOOP || k->type == KT_LATER);
		} else {
			/* Unique: the lookup finds this very row. */
			assert_ptr_equal(conf_key_find(k->name), k);
		}
		if (k->type == KT_NOOP || k->type == KT_LATER) {
			assert_non_null(k->pmacct);
			assert_int_equal(k->scope, KS_ANY);
			continue;
		}
		assert_non_null(k->help);
		assert_non_null(k->section);
		assert_non_null(k->def);
		switch (k->type) {
		case KT_BOOL:
			assert_int_equal(k->size, sizeof(bool));
			break;
		case KT_UINT:
		case KT_SIZE:
		case KT_DURATION:
			assert_int_equal(k->size, sizeof(uint32_t));
			assert_true(k->min <= k->max);
			assert_true(k->type != KT_DURATION || k->unit_ms == 1 ||
			            k->unit_ms == 1000);
			break;
		case KT_ENUM:
			assert_int_equal(k->size, sizeof(int));
			assert_non_null(k->choices);
			break;
		case KT_STRING:
		case KT_PATH:
		case KT_LIST:
			assert_true(k->size >= 2);
			break;
		default:
			break;
		}
		/* The documented default is a valid value. */
		snprintf(text, sizeof(text), "%s: %s\n", k->name, k->def);
		if (load(c, text) != 0)
			fail_msg("default of %s: %s", k->name, err);
	}
	assert_non_null(conf_key_find("kafka_topic"));
	assert_int_equal(conf_key_find("kafka_topic")->type, KT_LATER);
	assert_int_equal(conf_key_find("nfacctd_kafka_topic")->type, KT_LATER);
	assert_int_equal(conf_key_find("pmacctd_ext_sampling_rate")->type, KT_NOOP);
	assert_null(conf_key_find("nfacctd_prot"));
	assert_null(conf_key_find("print_bogus"));
}

/* --- syntax --- */

static void comments_blanks_and_whitespace(void **state)
{
	struct conf *c = *state;

	load_ok(c, "! a comment\n"
	           "   ! an indented comment: with a colon\n"
	           "\n"
	           "\t\n"
	           "daemonize: true   \t\n"
	           "  DEBUG :yes\r\n"
	           "nfacctd_port:2056\n"
	           "pidfile: /run/weir.pid ! not a comment\n"
	           "logfile:");
	assert_true(c->daemonize);
	assert_true(c->debug);
	assert_string_equal(c->nfacctd_port, "2056");
	assert_string_equal(c->pidfile, "/run/weir.pid ! not a comment");
	assert_string_equal(c->logfile, "");
	assert_string_equal(c->path, "weir.conf");
	load_ok(c, "\xef\xbb\xbf"
	           "daemonize: true\n");
	assert_true(c->daemonize);
}

static void syntax_errors_name_the_line(void **state)
{
	struct conf *c = *state;

	load_err(c, "debug: true\nno colon here\n",
	         "weir.conf:2: syntax error: expected 'key: value'");
	load_err(c, "\n\n: value\n", "weir.conf:3: syntax error: missing key before ':'");
	load_err(c, "print_output[a: json\n",
	         "weir.conf:1: syntax error: unbalanced '[' in the key");
	load_err(c, "print_output[]: json\n", "weir.conf:1: syntax error: empty [name]");
	load_err(c, "print_output[a]x: json\n",
	         "weir.conf:1: syntax error: unexpected text after ']'");
	load_err(c, "nfacctd-port: 1\n", "weir.conf:1: syntax error: unexpected '-' in the key");
	load_err(c, "debug: true\n\x01: x\n",
	         "weir.conf:2: syntax error: unexpected byte 0x01 in the key");
	assert_int_equal(conf_load_buffer(c, "n.conf", "a: 1\nb\0c: 2\n", 11, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "n.conf:2: syntax error: NUL byte");
}

static void booleans(void **state)
{
	struct conf *c = *state;
	static const char *const yes[] = {"true", "TRUE", "True", "yes", "Yes", "1"};
	static const char *const no[] = {"false", "FALSE", "no", "NO", "0"};
	char text[64];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text), "daemonize: %s\n", yes[i]);
		load_ok(c, text);
		assert_true(c->daemonize);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text), "timestamps_utc: %s\n", no[i]);
		load_ok(c, text);
		assert_false(c->timestamps_utc);
	}
	load_err(c, "daemonize: on\n",
	         "weir.conf:1: daemonize: 'on' is not a boolean (true/false, yes/no, 1/0)");
	load_err(c, "daemonize:\n", "weir.conf:1: daemonize: missing value");
}

static void numbers_and_bounds(void **state)
{
	struct conf *c = *state;

	load_ok(c, "workers: 4\nweir_max_templates: 65535\nweir_log_rate: 0\n");
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->max_templates, 65535);
	assert_int_equal(c->log_rate, 0);
	load_err(c,
	         "! 1\n! 2\n! 3\n! 4\n! 5\n! 6\n! 7\n! 8\n! 9\n! 10\n! 11\nnfacctd_port: 70000\n",
	         "weir.conf:12: nfacctd_port: '70000' is out of range (1..65535)");
	load_err(c, "nfacctd_port: 0\n",
	         "weir.conf:1: nfacctd_port: '0' is out of range (1..65535)");
	load_err(c, "nfacctd_port: 2055, http\n",
	         "weir.conf:1: nfacctd_port: 'http' is not a port number");
	load_err(c, "weir_max_templates: 0\n",
	         "weir.conf:1: weir_max_templates: '0' is out of range (1..65535)");
	load_err(c, "workers: 257\n", "weir.conf:1: workers: '257' is out of range (0..256)");
	load_err(c, "workers: -1\n", "weir.conf:1: workers: '-1' is not a number");
	load_err(c, "workers: 4 threads\n", "weir.conf:1: workers: '4 threads' is not a number");
	load_err(c, "weir_max_exporters: 99999999999999999999999\n",
	         "weir.conf:1: weir_max_exporters: '99999999999999999999999' is out of range "
	         "(1..1000000)");
}

/* *_history takes pmacct's w (weeks) and M (months) besides s/m/h/d. */
static void history_weeks_and_months(void **state)
{
	struct conf *c = *state;

	load_ok(c, "print_history: 1w\n");
	assert_int_equal(c->plugins[0].history, CONF_HISTORY_WEEKS | 1);
	load_ok(c, "sql_history: 3M\n");
	assert_int_equal(c->plugins[0].history, CONF_HISTORY_MONTHS | 3);
	load_ok(c, "print_history: 2W\nprint_history_roundoff: wM\n");
	assert_int_equal(c->plugins[0].history, CONF_HISTORY_WEEKS | 2);
	assert_string_equal(c->plugins[0].history_roundoff, "wM");
	load_ok(c, "print_history: 1m\n"); /* lower-case m stays minutes */
	assert_int_equal(c->plugins[0].history, 60);
	load_ok(c, "print_history: 1M\n");
	assert_int_equal(c->plugins[0].history, CONF_HISTORY_MONTHS | 1);
	load_err(c, "print_history: 0M\n",
	         "weir.conf:1: print_history: '0M' is not 1 to 520 weeks or months");
	load_err(c, "sql_history: 521w\n",
	         "weir.conf:1: sql_history: '521w' is not 1 to 520 weeks or months");
	load_err(c, "print_history: 1y\n",
	         "weir.conf:1: print_history: '1y' is not a duration (a number with s, m, h, d, w, "
	         "M)");
	load_err(
	    c, "print_history: M\n",
	    "weir.conf:1: print_history: 'M' is not a duration (a number with s, m, h, d, w, M)");
	load_err(
	    c, "print_history_roundoff: y\n",
	    "weir.conf:1: print_history_roundoff: 'y' is not made of the letters m, h, d, w, M");
	/* Only the history keys know calendar units. */
	load_err(
	    c, "print_refresh_time: 1w\n",
	    "weir.conf:1: print_refresh_time: '1w' is not a duration (a number with ms, s, m, h, "
	    "d)");
}

static void sizes_and_durations(void **state)
{
	struct conf *c = *state;

	load_ok(c, "nfacctd_pipe_size: 4096000\nweir_hold_bytes: 128k\n");
	assert_int_equal(c->pipe_size, 4096000);
	assert_int_equal(c->hold_bytes, 128 * 1024);
	load_ok(c, "nfacctd_pipe_size: 16M\nweir_hold_bytes: 1g\n");
	assert_int_equal(c->pipe_size, 16 << 20);
	assert_int_equal(c->hold_bytes, 1 << 30);
	load_ok(c, "nfacctd_pipe_size: 2MiB\n");
	assert_int_equal(c->pipe_size, 2 << 20);
	load_err(c, "nfacctd_pipe_size: 2g\n",
	         "weir.conf:1: nfacctd_pipe_size: '2g' is out of range (0..1g)");
	load_err(
	    c, "nfacctd_pipe_size: 12q\n",
	    "weir.conf:1: nfacctd_pipe_size: '12q' is not a size (bytes, or a number with k, m, "
	    "g)");

	load_ok(c, "weir_hold_time: 1500\nprint_refresh_time: 5m\n");
	assert_int_equal(c->hold_ms, 1500);
	assert_int_equal(c->plugins[0].print_refresh_time, 300);
	load_ok(c, "weir_hold_time: 2s\nprint_refresh_time: 1h\n");
	assert_int_equal(c->hold_ms, 2000);
	assert_int_equal(c->plugins[0].print_refresh_time, 3600);
	load_ok(c, "weir_hold_time: 1m\nprint_refresh_time: 90\n");
	assert_int_equal(c->hold_ms, 60000);
	assert_int_equal(c->plugins[0].print_refresh_time, 90);
	load_err(c, "print_refresh_time: 1500ms\n",
	         "weir.conf:1: print_refresh_time: '1500ms' is not a whole number of seconds");
	load_err(c, "print_refresh_time: 0\n",
	         "weir.conf:1: print_refresh_time: '0' is out of range (1s..1d)");
	load_err(c, "weir_hold_time: 2h\n",
	         "weir.conf:1: weir_hold_time: '2h' is out of range (0..1h)");
	load_err(
	    c, "weir_hold_time: 3 weeks\n",
	    "weir.conf:1: weir_hold_time: '3 weeks' is not a duration (a number with ms, s, m, "
	    "h, d)");
}

static void strings_enums_and_checks(void **state)
{
	struct conf *c = *state;
	char text[8192];

	load_ok(c, "print_output: CSV\nprint_output_separator: \\t\nsyslog: Local3\n");
	assert_int_equal(c->plugins[0].print_output, PRINT_CSV);
	assert_string_equal(c->plugins[0].print_output_separator, "\t");
	assert_string_equal(c->syslog, "local3");
	load_ok(c, "print_output: formatted\nprint_output_separator: \\s\n");
	assert_int_equal(c->plugins[0].print_output, PRINT_FORMATTED);
	assert_string_equal(c->plugins[0].print_output_separator, " ");
	load_ok(c, "print_output_separator: ;\n");
	assert_string_equal(c->plugins[0].print_output_separator, ";");
	load_err(c, "print_output: avro\n",
	         "weir.conf:1: print_output: 'avro' is not one of: json, csv, formatted");
	load_err(c, "print_output_separator: ::\n",
	         "weir.conf:1: print_output_separator: '::' is not one character (or \\t, \\s)");
	load_err(c, "syslog: kernel\n",
	         "weir.conf:1: syslog: 'kernel' is not a syslog facility (auth, daemon, user, "
	         "local0..local7, ...)");
	memset(text, 0, sizeof(text));
	strcpy(text, "pidfile: /");
	memset(text + strlen(text), 'a', PATH_MAX);
	strcat(text, "\n");
	load_err(c, text, "weir.conf:1: pidfile: value is too long (at most 4095 characters)");
}

/* nfacctd_as / nfacctd_net and their spellings, networks_mask, and what they need. */
static void networks_methods_keys(void **state)
{
	struct conf *c = *state;

	load_ok(c, "plugins: print\n");
	assert_int_equal(c->nfacctd_as, CONF_SRC_NETFLOW);
	assert_int_equal(c->nfacctd_net, CONF_SRC_NETFLOW);
	assert_int_equal(c->networks_mask, 0);
	load_ok(c, "networks_file: /n\nnfacctd_as: file\nnfacctd_net: Longest\n");
	assert_int_equal(c->nfacctd_as, CONF_SRC_FILE);
	assert_int_equal(c->nfacctd_net, CONF_SRC_LONGEST);
	load_ok(c, "networks_file: /n\nsfacctd_as: longest\nsfacctd_net: file\n");
	assert_int_equal(c->nfacctd_as, CONF_SRC_LONGEST);
	assert_int_equal(c->nfacctd_net, CONF_SRC_FILE);
	load_ok(c, "networks_file: /n\nnfacctd_as_new: file\npmacctd_net: fallback\n");
	assert_int_equal(c->nfacctd_as, CONF_SRC_FILE);
	assert_int_equal(c->nfacctd_net, CONF_SRC_FALLBACK);
	load_ok(c, "uacctd_as: sflow\nnetworks_mask: 24\nuacctd_net: mask\n");
	assert_int_equal(c->nfacctd_as, CONF_SRC_SFLOW);
	assert_int_equal(c->nfacctd_net, CONF_SRC_MASK);
	assert_int_equal(c->networks_mask, 24);
	load_ok(c, "nfacctd_as: longest\nnfacctd_net: longest\n"); /* no file: the exporter's */

	load_err(c, "nfacctd_as: mask\n",
	         "weir.conf:1: nfacctd_as: 'mask' is not one of: netflow, sflow, file, longest, "
	         "fallback, bgp, bmp");
	/* bgp, bmp, igp: a warning (pmacct configs load unchanged), the exporter's values. */
	load_ok(c, "nfacctd_as: bgp\nsfacctd_net: igp\n");
	assert_int_equal(c->nfacctd_as, CONF_SRC_BGP);
	assert_int_equal(c->nfacctd_net, CONF_SRC_IGP);
	load_err(c, "nfacctd_net: bgpp\n",
	         "weir.conf:1: nfacctd_net: 'bgpp' is not one of: netflow, sflow, file, longest, "
	         "fallback, bgp, bmp, mask, igp");
	load_err(c, "\nnfacctd_as: file\n",
	         "weir.conf:2: nfacctd_as: 'file' needs a networks_file");
	load_err(c, "sfacctd_net: file\n",
	         "weir.conf:1: sfacctd_net: 'file' needs a networks_file");
	load_err(c, "nfacctd_net: mask\n", "weir.conf:1: nfacctd_net: 'mask' needs networks_mask");
	load_err(c, "networks_mask: 129\n",
	         "weir.conf:1: networks_mask: '129' is out of range (0..128)");
	load_err(
	    c, "plugins: print[a]\nnfacctd_as[a]: netflow\n",
	    "weir.conf:2: nfacctd_as[a]: 'nfacctd_as' applies to the whole collector and takes "
	    "no [name]");
}

static void lists(void **state)
{
	struct conf *c = *state;

	load_ok(c, "aggregate: src_host,dst_host ,  proto\nnfacctd_port: 2055 , 9995,6343\n");
	assert_string_equal(c->plugins[0].aggregate, "src_host,dst_host ,  proto");
	assert_string_equal(c->nfacctd_port, "2055 , 9995,6343");
	assert_int_equal(c->n_listen, 3);
	assert_int_equal(port_of(&c->listen[2]), 6343);
	load_err(c, "aggregate: src_host,,dst_host\n",
	         "weir.conf:1: aggregate: empty item in the list");
	load_err(c, "nfacctd_port: 2055,\n", "weir.conf:1: nfacctd_port: empty item in the list");
}

/* --- plugins, labels and precedence --- */

static void plugins_and_labels(void **state)
{
	struct conf *c = *state;

	load_ok(c, "plugins: print[a], Print [b], print, sqlite3[db], kafka[k]\n");
	assert_int_equal(c->n_plugins, 5);
	assert_string_equal(c->plugins[0].name, "a");
	assert_string_equal(c->plugins[1].name, "b");
	assert_string_equal(c->plugins[1].type, "print");
	assert_string_equal(c->plugins[2].name, "print");
	assert_string_equal(c->plugins[3].type, "sqlite3");
	assert_string_equal(c->plugins[4].type, "kafka");
	for (size_t i = 0; i < c->n_plugins; i++) {
		assert_ptr_equal(c->plugins[i].conf, c);
		/* Declared plugins start from the table defaults, not the embedded plugin. */
		assert_string_equal(c->plugins[i].print_output_file, "");
	}
	load_err(c, "plugins: print[a], prnt[b]\n",
	         "weir.conf:1: plugins: unknown plugin type 'prnt'; did you mean 'print'?");
	load_err(c, "plugins: core\n", "weir.conf:1: plugins: unknown plugin type 'core'");
	load_err(c, "plugins: print[a], print[a]\n",
	         "weir.conf:1: plugins: plugin name 'a' is declared twice");
	load_err(c, "plugins: print, print\n",
	         "weir.conf:1: plugins: plugin name 'print' is declared twice");
	load_err(c, "plugins: print[a],\n", "weir.conf:1: plugins: empty item in the list");
	load_err(c, "plugins:\n", "weir.conf:1: plugins: no plugin declared");
	load_err(
	    c, "plugins: print[a b]\n",
	    "weir.conf:1: plugins: plugin name 'a b' must be 1..63 letters, digits, '_', '-' or "
	    "'.'");
	load_err(c, "plugins: print[a]x\n",
	         "weir.conf:1: plugins: 'print[a]x' is not type or "
	         "type[name]");
	load_err(c, "plugins[a]: print[a]\n",
	         "weir.conf:1: plugins[a]: 'plugins' applies to the whole collector and takes no "
	         "[name]");
}

static void too_many_plugins(void **state)
{
	struct conf *c = *state;
	char text[1024] = "plugins: ";

	for (int i = 0; i <= CONF_MAX_PLUGINS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%sprint[p%d]",
		         i ? "," : "", i);
	strcat(text, "\n");
	load_err(c, text, "weir.conf:1: plugins: more than 32 plugins");
}

static void labeled_key_wins_regardless_of_order(void **state)
{
	struct conf *c = *state;

	/* key[name] before the unlabeled key, and before plugins: */
	load_ok(c, "print_refresh_time[a]: 10\n"
	           "aggregate[b]: dst_host\n"
	           "plugins: print[a], print[b], print[c]\n"
	           "print_refresh_time: 300\n"
	           "aggregate: src_host\n");
	assert_int_equal(plugin(c, "a")->print_refresh_time, 10);
	assert_int_equal(plugin(c, "b")->print_refresh_time, 300);
	assert_int_equal(plugin(c, "c")->print_refresh_time, 300);
	assert_string_equal(plugin(c, "a")->aggregate, "src_host");
	assert_string_equal(plugin(c, "b")->aggregate, "dst_host");
	assert_string_equal(plugin(c, "c")->aggregate, "src_host");
}

static void last_duplicate_wins(void **state)
{
	struct conf *c = *state;

	load_ok(c, "plugins: print[a]\n"
	           "print_output: csv\n"
	           "print_output: json\n"
	           "print_output[a]: csv\n"
	           "print_output[a]: formatted\n"
	           "nfacctd_port: 1000\n"
	           "nfacctd_port: 2000\n");
	assert_int_equal(plugin(c, "a")->print_output, PRINT_FORMATTED);
	assert_string_equal(c->nfacctd_port, "2000");
	/* A second plugins: line replaces the first. */
	load_ok(c, "plugins: print[a]\nplugins: print[x], print[y]\n");
	assert_int_equal(c->n_plugins, 2);
	assert_string_equal(c->plugins[0].name, "x");
}

static void label_errors(void **state)
{
	struct conf *c = *state;

	load_err(c, "plugins: print[a], print[b]\n\nprint_output[c]: csv\n",
	         "weir.conf:3: print_output[c]: 'c' is not a declared plugin (plugins: a, b)");
	load_err(c, "print_output[x]: csv\n",
	         "weir.conf:1: print_output[x]: 'x' is not a declared plugin (plugins: default)");
	load_err(c, "plugins: print[a]\nnfacctd_port[a]: 2055\n",
	         "weir.conf:2: nfacctd_port[a]: 'nfacctd_port' applies to the whole collector and "
	         "takes no [name]");
	load_err(c, "plugins: print[a]\nprint_refresh_time[a]: 0\n",
	         "weir.conf:2: print_refresh_time[a]: '0' is out of range (1s..1d)");
	/* The embedded plugin stays when the file declares none. */
	load_ok(c, "sql_table[default]: acct\n");
	assert_string_equal(c->plugins[0].sql_table, "acct");
	assert_string_equal(c->plugins[0].sql_db, "weir.db");
}

/* --- unknown and ignored keys --- */

static void unknown_keys_suggest(void **state)
{
	struct conf *c = *state;

	load_err(c, "nfacctd_prot: 2055\n",
	         "weir.conf:1: unknown key 'nfacctd_prot'; did you mean 'nfacctd_port'?");
	load_err(
	    c, "\nprint_refesh_time: 60\n",
	    "weir.conf:2: unknown key 'print_refesh_time'; did you mean 'print_refresh_time'?");
	load_err(
	    c, "Weir_Max_Exporter: 5\n",
	    "weir.conf:1: unknown key 'weir_max_exporter'; did you mean 'weir_max_exporters'?");
	load_err(c, "timestamp_utc: true\n",
	         "weir.conf:1: unknown key 'timestamp_utc'; did you mean 'timestamps_utc'?");
	load_err(c, "zzzzzzzz: 1\n", "weir.conf:1: unknown key 'zzzzzzzz'");
}

static char *read_all(FILE *f)
{
	static char buf[16384];
	size_t n;

	fflush(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

static void ignored_keys_log_a_notice(void **state)
{
	struct conf *c = *state;
	FILE *log = tmpfile();

	assert_non_null(log);
	log_setup(LL_NOTICE, log, false, NULL);
	load_ok(c, "plugin_pipe_size: 1024000\n"
	           "plugins: kafka[k]\n"
	           "kafka_topic[k]: flows\n"
	           "pcap_ifindex: sys\n"
	           "bgp_daemon: true\n"
	           "nfprobe_receiver: 1.2.3.4:2100\n");
	char *text = read_all(log);
	log_setup(LL_WARN, NULL, false, NULL);
	fclose(log);
	assert_non_null(strstr(text, "weir.conf:1: key 'plugin_pipe_size' is a pmacct key with no "
	                             "meaning in weir; ignored"));
	assert_non_null(
	    strstr(text, "weir.conf:3: key 'kafka_topic' is not implemented yet; ignored"));
	assert_non_null(strstr(text, "weir.conf:4: key 'pcap_ifindex' is not implemented yet"));
	assert_non_null(strstr(text, "weir.conf:5: key 'bgp_daemon' is not implemented yet"));
	assert_non_null(strstr(text, "weir.conf:6: key 'nfprobe_receiver' is a pmacct key"));
	/* A [name] on an ignored key must still be a declared plugin. */
	load_err(
	    c, "kafka_topic[nope]: flows\n",
	    "weir.conf:1: kafka_topic[nope]: 'nope' is not a declared plugin (plugins: default)");
}

/* --- overrides --- */

static void overrides(void **state)
{
	struct conf *c = *state;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/weir-test-conf-%d.conf", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("plugins: print[a], print[b]\nprint_output[a]: csv\nnfacctd_port: 2055\n", f);
	fclose(f);

	const char *ov[] = {"print_output=formatted", "print_refresh_time[b]=10",
	                    "nfacctd_port: 9995", "nfacctd_ip=127.0.0.1"};
	assert_int_equal(conf_load(c, path, ov, 4, err, sizeof(err)), 0);
	assert_string_equal(c->path, path);
	/* An override without [name] beats the file's key[name]. */
	assert_int_equal(plugin(c, "a")->print_output, PRINT_FORMATTED);
	assert_int_equal(plugin(c, "b")->print_refresh_time, 10);
	assert_int_equal(plugin(c, "a")->print_refresh_time, 60);
	assert_int_equal(c->n_listen, 1);
	assert_string_equal(c->listen[0].text, "127.0.0.1:9995");

	const char *bad[] = {"debug=true", "nfacctd_port=70000"};
	assert_int_equal(conf_load(c, path, bad, 2, err, sizeof(err)), -1);
	assert_string_equal(err, "-o:2: nfacctd_port: '70000' is out of range (1..65535)");
	const char *bad2[] = {"print_output[zz]=csv"};
	assert_int_equal(conf_load(c, path, bad2, 1, err, sizeof(err)), -1);
	assert_string_equal(
	    err, "-o:1: print_output[zz]: 'zz' is not a declared plugin (plugins: a, b)");
	const char *bad3[] = {"novalue"};
	assert_int_equal(conf_load(c, NULL, bad3, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "-o:1: syntax error: expected 'key=value'");
	/* Overrides can declare the plugins; the file's labels must then match them. */
	const char *pl[] = {"plugins=print[x]"};
	assert_int_equal(conf_load(c, path, pl, 1, err, sizeof(err)), -1);
	assert_non_null(
	    strstr(err, ":2: print_output[a]: 'a' is not a declared plugin (plugins: x)"));
	assert_int_equal(conf_load(c, NULL, pl, 1, err, sizeof(err)), 0);
	assert_string_equal(c->plugins[0].name, "x");
	unlink(path);
}

static void errors_leave_conf_untouched(void **state)
{
	struct conf *c = *state;
	struct conf *copy = malloc(sizeof(*copy));

	assert_non_null(copy);
	load_ok(c, "plugins: print[keep]\nnfacctd_port: 1234\n");
	memcpy(copy, c, sizeof(*c));
	load_err(c, "plugins: print[other]\nnfacctd_port: 99999\n",
	         "weir.conf:2: nfacctd_port: '99999' is out of range (1..65535)");
	assert_memory_equal(copy, c, sizeof(*c));
	assert_int_equal(conf_load(c, "/nonexistent/weir.conf", NULL, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/weir.conf: cannot open: No such file or directory");
	assert_int_equal(conf_load(c, "/", NULL, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "/: is a directory");
	assert_memory_equal(copy, c, sizeof(*c));
	free(copy);
}

/* --- listeners --- */

static void listeners_v4_and_v6(void **state)
{
	struct conf *c = *state;

	load_ok(c, "nfacctd_ip: 0.0.0.0, ::1, 192.0.2.1\nnfacctd_port: 2055, 4739\n");
	assert_int_equal(c->n_listen, 6);
	assert_string_equal(c->listen[0].text, "0.0.0.0:2055");
	assert_string_equal(c->listen[1].text, "0.0.0.0:4739");
	assert_string_equal(c->listen[2].text, "[::1]:2055");
	assert_string_equal(c->listen[5].text, "192.0.2.1:4739");
	assert_int_equal(c->listen[0].ss.ss_family, AF_INET);
	assert_int_equal(c->listen[0].len, sizeof(struct sockaddr_in));
	assert_int_equal(c->listen[2].ss.ss_family, AF_INET6);
	assert_int_equal(c->listen[2].len, sizeof(struct sockaddr_in6));
	assert_true(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&c->listen[2].ss)->sin6_addr));
	assert_int_equal(ntohl(((struct sockaddr_in *)&c->listen[4].ss)->sin_addr.s_addr),
	                 0xc0000201);
	assert_int_equal(port_of(&c->listen[5]), 4739);

	/* Duplicates are one socket. */
	load_ok(c, "nfacctd_ip: ::, ::0\nnfacctd_port: 2055, 2055\n");
	assert_int_equal(c->n_listen, 1);
	assert_string_equal(c->listen[0].text, "[::]:2055");

	load_err(c, "nfacctd_ip: localhost\n",
	         "weir.conf:1: nfacctd_ip: 'localhost' is not a numeric IPv4 or IPv6 address");
	load_err(c, "nfacctd_ip: 10.0.0.300\n",
	         "weir.conf:1: nfacctd_ip: '10.0.0.300' is not a numeric IPv4 or IPv6 address");
	load_err(c, "nfacctd_ip:\n",
	         "weir.conf:1: nfacctd_ip: '' is not a numeric IPv4 or IPv6 "
	         "address");
	load_err(c,
	         "nfacctd_ip: 127.0.0.1, ::1\n"
	         "nfacctd_port: 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
	         "weir.conf:2: nfacctd_port: more than 32 listeners (nfacctd_ip x nfacctd_port)");
}

/* --- pmacct configs, robustness, reference --- */

static void shared_pmacct_configs_load(void **state)
{
	struct conf *c = *state;
	glob_t g;
	size_t n = 0;

	if (access(SHARED "/corpus", F_OK) != 0)
		skip();
	memset(&g, 0, sizeof(g));
	glob(SHARED "/pmacct-tests/*/nfacctd-00.conf", 0, NULL, &g);
	glob(SHARED "/corpus/configs/*.conf", GLOB_APPEND, NULL, &g);
	for (size_t i = 0; i < g.gl_pathc; i++, n++)
		if (conf_load(c, g.gl_pathv[i], NULL, 0, err, sizeof(err)) != 0)
			fail_msg("%s", err);
	globfree(&g);
	assert_true(n >= 10);
}

/* Deterministic garbage built from config-ish pieces: must never crash, always return. */
static void garbage_never_crashes(void **state)
{
	struct conf *c = *state;
	static const char *const bits[] = {"plugins",
	                                   ":",
	                                   "[",
	                                   "]",
	                                   ",",
	                                   "print",
	                                   "\n",
	                                   "!",
	                                   " ",
	                                   "nfacctd_ip",
	                                   "::",
	                                   "nfacctd_port",
	                                   "0",
	                                   "65536",
	                                   "x",
	                                   "\r\n",
	                                   "=",
	                                   "\t",
	                                   "aggregate",
	                                   "[a]",
	                                   "sqlite3",
	                                   "1g",
	                                   "print_output",
	                                   "csv",
	                                   "\xff",
	                                   "ms",
	                                   "99999"};
	char text[512];
	uint32_t seed = 12345;

	for (int round = 0; round < 3000; round++) {
		size_t len = 0;
		int parts = (int)(seed % 40);
		for (int i = 0; i < parts; i++) {
			seed = seed * 1103515245u + 12345u;
			const char *b = bits[(seed >> 8) % (sizeof(bits) / sizeof(bits[0]))];
			size_t bl = strlen(b);
			if (len + bl >= sizeof(text))
				break;
			memcpy(text + len, b, bl);
			len += bl;
		}
		seed = seed * 1103515245u + 12345u;
		int rc = conf_load_buffer(c, "g", text, len, err, sizeof(err));
		assert_true(rc == 0 || (rc == -1 && err[0]));
	}
}

static void reference_lists_every_key(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	conf_write_reference(f);
	fclose(f);
	for (size_t i = 0; i < conf_n_keys; i++) {
		char needle[128];
		snprintf(needle, sizeof(needle), "| `%s` |", conf_keys[i].name);
		if (!strstr(buf, needle))
			fail_msg("reference lacks %s", conf_keys[i].name);
	}
	assert_non_null(strstr(buf, "## Accepted pmacct keys that weir ignores"));
	assert_non_null(strstr(buf, conf_embedded_default));
	assert_non_null(strstr(buf, "| `nfacctd_port` | list | `2055, 4739` | global |"));
	assert_non_null(strstr(buf, "| `print_refresh_time` | duration 1s..1d (plain number: s) | "
	                            "`60` | plugin |"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(embedded_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(load_without_file_is_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(table_rows_are_consistent, setup, teardown),
	    cmocka_unit_test_setup_teardown(comments_blanks_and_whitespace, setup, teardown),
	    cmocka_unit_test_setup_teardown(syntax_errors_name_the_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(booleans, setup, teardown),
	    cmocka_unit_test_setup_teardown(numbers_and_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(sizes_and_durations, setup, teardown),
	    cmocka_unit_test_setup_teardown(history_weeks_and_months, setup, teardown),
	    cmocka_unit_test_setup_teardown(strings_enums_and_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(networks_methods_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(lists, setup, teardown),
	    cmocka_unit_test_setup_teardown(plugins_and_labels, setup, teardown),
	    cmocka_unit_test_setup_teardown(too_many_plugins, setup, teardown),
	    cmocka_unit_test_setup_teardown(labeled_key_wins_regardless_of_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(last_duplicate_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(label_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_keys_suggest, setup, teardown),
	    cmocka_unit_test_setup_teardown(ignored_keys_log_a_notice, setup, teardown),
	    cmocka_unit_test_setup_teardown(overrides, setup, teardown),
	    cmocka_unit_test_setup_teardown(errors_leave_conf_untouched, setup, teardown),
	    cmocka_unit_test_setup_teardown(listeners_v4_and_v6, setup, teardown),
	    cmocka_unit_test_setup_teardown(shared_pmacct_configs_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(garbage_never_crashes, setup, teardown),
	    cmocka_unit_test(reference_lists_every_key),
	};

	/* Notices about ignored keys would drown the output; one test captures them. */
	log_setup(LL_WARN, NULL, false, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
