/* collect.c - `weir collect`: the collector daemon (UDP ingest -> decode -> plugins -> sinks). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/plugin.h"
#include "cmd/cmd.h"
#include "cmd/daemon.h"
#include "conf/conf.h"
#include "enrich/asname.h"
#include "ingest/capture.h"
#include "ingest/ingest.h"
#include "ingest/sfcounters.h"
#include "lib/log.h"
#include "lib/prefix.h"
#include "relay/relay.h"
#include "http/http.h"
#include "http/selfstats.h"

#define MAX_TEE CONF_MAX_PLUGINS

#define NAME      "weir collect"
#define DB_OV_LEN (PATH_MAX + 8)

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: weir collect [-f FILE] [-o key=value]... [-F] [-d] [--db PATH] [--help]\n"
	    "\n"
	    "Receives NetFlow v5/v9, IPFIX and sFlow v5 over UDP, decodes it and hands the\n"
	    "records to the configured plugins (print: JSON or CSV lines to stdout or to\n"
	    "files). With pcap_interface or pcap_savefile it also reads packets: export\n"
	    "datagrams to a listener port are decoded, other packets are metered into flows.\n"
	    "\n"
	    "  -f FILE         pmacct-syntax configuration (default: the embedded one)\n"
	    "  -o key=value    override a key, also key[plugin]=value; may repeat\n"
	    "  -F              stay in the foreground (overrides daemonize: true)\n"
	    "  --db PATH       the SQLite file of the sqlite3 plugins (sql_db; default weir.db)\n"
	    "  -d              debug logging\n"
	    "  -h, --help      this text\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT flush every plugin and exit 0; SIGUSR1 logs the per\n"
	    "exporter counters, kernel drops, plugin and sink counters and the AS-name\n"
	    "resolver's counters; SIGUSR2 re-reads the tee plugins' tee_receivers files.\n"
	    "Exit codes: 0 ok, 1 runtime error, 2 usage or config error.\n");
}

/* --db PATH, the only extra option: the override sql_db=PATH, kept in ctx. */
static int db_opt(const struct daemon_cmd *dc, struct daemon_opts *o, int ch, const char *arg)
{
	char *db_ov = dc->ctx;

	(void)ch;
	snprintf(db_ov, DB_OV_LEN, "sql_db=%s", arg);
	return daemon_add_override(dc, o, db_ov);
}

static bool any_plugin_on_stdout(const struct conf *c)
{
	for (size_t i = 0; i < c->n_plugins; i++)
		if (!c->plugins[i].print_output_file[0])
			return true;
	return false;
}

/* Where exporters should send, and where the records go. */
static void announce(const struct conf *c, struct ingest *ing, struct plugin_set *ps,
                     unsigned n_workers)
{
	struct daemon_text t;
	FILE *f = daemon_text_open(&t);

	if (!f)
		return;
	fprintf(f, "weir collect: %u worker%s, config %s\n", n_workers, n_workers == 1 ? "" : "s",
	        c->path[0] ? c->path : "(embedded default)");
	ingest_describe(ing, f);
	plugin_describe(ps, f);
	/* The data owns stdout when a plugin prints there. */
	daemon_text_log(&t, !c->daemonize && !any_plugin_on_stdout(c) ? stdout : NULL);
}

static void log_stats(struct ingest *ing, struct plugin_set *ps, struct asname *an, const char *why)
{
	struct daemon_text t;
	FILE *f = daemon_text_open(&t);

	if (!f)
		return;
	fprintf(f, "counters (%s):\n", why);
	ingest_stats_print(ing, f);
	plugin_stats_print(ps, f);
	if (an) {
		struct asname_stats st;
		asname_get_stats(an, &st);
		selfstats_asname_print(&st, f);
	}
	daemon_text_log(&t, NULL);
}

/* SIGHUP after a log rotation: the logfile is reopened; there is no configuration reload yet. */
static void on_sighup(const struct conf *c, FILE *logf)
{
	if (!logf)
		WLOG(LL_NOTICE, "weir collect: SIGHUP: configuration reload is not supported yet; "
		                "ignored");
	else if (daemon_logfile_reopen(c, logf) == 0)
		WLOG(LL_NOTICE, "weir collect: SIGHUP: logfile reopened; configuration reload is "
		                "not supported yet");
}

/* The control thread: waits for signals until SIGTERM or SIGINT. */
static void signal_loop(const sigset_t *set, const struct conf *c, FILE *logf, struct ingest *ing,
                        struct plugin_set *ps, struct asname *an, struct relay *rl)
{
	const struct timespec tick = {1, 0};

	for (;;) {
		siginfo_t si;
		int sig = sigtimedwait(set, &si, &tick);
		if (sig < 0)
			continue; /* EAGAIN (the tick) or EINTR */
		if (sig == SIGTERM || sig == SIGINT) {
			WLOG(LL_NOTICE, "weir collect: %s: stopping, flushing every plugin",
			     strsignal(sig));
			return;
		}
		if (sig == SIGUSR1)
			log_stats(ing, ps, an, "SIGUSR1");
		else if (sig == SIGHUP)
			on_sighup(c, logf);
		else if (sig == SIGUSR2) /* the tee plugins' receivers files */
			relay_reload_signal(rl, NAME);
	}
}

/*
 * The tee plugins relay raw datagrams through an ingest tap, so they move out of c->plugins
 * into tee (the record plugins never see them). Returns how many moved.
 */
static size_t split_tee(struct conf *c, struct plugin_conf *tee)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < c->n_plugins; i++) {
		if (relay_plugin_type(c->plugins[i].type))
			tee[n++] = c->plugins[i];
		else if (k++ != i)
			c->plugins[k - 1] = c->plugins[i];
	}
	c->n_plugins = k;
	return n;
}

/* The tee plugins' relay, fed by the ingest workers. NULL with err set on failure. */
static struct relay *open_tee(struct ingest *ing, const struct plugin_conf *const *tee,
                              size_t n_tee, unsigned n, int *code, char *err, size_t errlen)
{
	struct ingest_tap tap;
	struct relay *rl = relay_open(tee, n_tee, n, code, err, errlen);
	if (!rl)
		return NULL;
	relay_ingest_tap(rl, &tap);
	ingest_set_tap(ing, &tap);
	return rl;
}

/*
 * The counters /metrics and /api/v1/status show: the ingest text SIGUSR1 logs, parsed, and the
 * plugins' and the resolver's counters as they are.
 */
struct http_src {
	struct ingest *ing;
	struct plugin_set *ps;
	struct asname *an; /* NULL when no plugin asks for AS names */
};

static void http_metrics(void *arg, struct prom *p)
{
	struct http_src *hs = arg;
	struct ingest_snapshot snap;

	ingest_snapshot(hs->ing, &snap); /* on failure, what it gathered */
	selfstats_metrics(p, &snap);
	ingest_snapshot_free(&snap);
	ingest_metrics(hs->ing, p);
	selfstats_plugins(p, hs->ps);
	if (hs->an) {
		struct asname_stats st;
		asname_get_stats(hs->an, &st);
		selfstats_asname(p, &st);
	}
}

static void http_status(void *arg, struct json_t *root)
{
	struct http_src *hs = arg;
	struct ingest_snapshot snap;

	ingest_snapshot(hs->ing, &snap);
	selfstats_status(root, &snap);
	ingest_snapshot_free(&snap);
	selfstats_plugins_status(root, hs->ps);
	if (hs->an) {
		struct asname_stats st;
		asname_get_stats(hs->an, &st);
		selfstats_asname_status(root, &st);
	}
}

/* A listener that cannot start is logged, not fatal: the data path matters more. */
static void http_serve(const struct conf *c, struct http_src *hs)
{
	char err[256];

	if (http_add(c->http, "collect", http_metrics, http_status, hs) < 0)
		return;
	if (http_start(c->http, err, sizeof(err)) < 0)
		WLOG(LL_ERR, "weir collect: %s %s", err, c->http_listen);
	else if (*http_address(c->http))
		WLOG(LL_NOTICE, "weir collect: http: /metrics /healthz /api/v1/status on %s",
		     http_address(c->http));
}

/* The AS-name resolver when a plugin prints names: collect owns it, the writers borrow it. */
static int open_asnames(const struct conf *c, struct plugin_set *ps, struct asname **an, char *err,
                        size_t errlen)
{
	struct asname_conf ac;

	if (!plugin_asnames_wanted(ps, c, &ac))
		return 0;
	if (!(*an = asname_open(&ac, err, errlen)))
		return -1;
	plugin_set_asnames(ps, *an);
	return 0;
}

/* Everything after the configuration is known; returns the exit code. */
static int run(struct conf *c, FILE *logf, const struct allow_list *allow,
               const struct plugin_conf *const *tee, size_t n_tee)
{
	struct relay *rl = NULL;
	struct capture *cap = NULL;
	char err[512];
	unsigned n = ingest_worker_count(c);
	unsigned n_cap = capture_wanted(c) ? 1 : 0; /* the capture thread is plugin worker n */
	struct plugin_set *ps;
	struct ingest *ing;
	struct asname *an = NULL;
	sigset_t set;

	daemon_block_signals(&set);

	ps = plugin_open(c, n + n_cap, err, sizeof(err));
	if (!ps) {
		fprintf(stderr, "weir collect: %s\n", err);
		return 2;
	}
	ing = ingest_open(c, n, ps, allow, err, sizeof(err));
	if (!ing) {
		fprintf(stderr, "weir collect: %s\n", err);
		plugin_free(ps);
		return 1;
	}
	if (n_cap && !(cap = capture_open(c, ps, n, err, sizeof(err)))) {
		fprintf(stderr, "weir collect: %s\n", err);
		ingest_free(ing);
		plugin_free(ps);
		return 1;
	}
	if (cap) /* counter samples found in pcap input join the listeners' */
		capture_set_counters(cap, sfcounters_write, ingest_sfcounters(ing));
	int code = 0;
	if (n_tee && !(rl = open_tee(ing, tee, n_tee, n, &code, err, sizeof(err)))) {
		fprintf(stderr, "weir collect: %s\n", err);
		capture_free(cap);
		ingest_free(ing);
		plugin_free(ps);
		return code;
	}
	if (daemon_detach(c, NAME) < 0) {
		capture_free(cap);
		ingest_free(ing);
		plugin_free(ps);
		relay_free(rl);
		return 1;
	}
	daemon_pidfile_write(c);
	/* After daemon(): the resolver runs a thread. */
	if (open_asnames(c, ps, &an, err, sizeof(err)) < 0 ||
	    plugin_start(ps, err, sizeof(err)) < 0 ||
	    (rl && relay_start(rl, err, sizeof(err)) < 0) ||
	    ingest_start(ing, err, sizeof(err)) < 0 ||
	    (cap && capture_start(cap, err, sizeof(err)) < 0)) {
		WLOG(LL_ERR, "weir collect: %s", err);
		capture_free(cap);
		ingest_stop(ing);
		plugin_stop(ps);
		ingest_free(ing);
		plugin_free(ps);
		relay_free(rl);
		if (an)
			asname_close(an);
		return 1;
	}
	announce(c, ing, ps, n);
	if (rl)
		relay_log_describe(rl);
	if (cap)
		capture_log(cap, false);

	struct http_src hs = {ing, ps, an};
	http_serve(c, &hs);
	signal_loop(&set, c, logf, ing, ps, an, rl);
	http_remove(c->http, &hs); /* before ing and ps go */

	capture_stop(cap); /* its last flows reach the plugins before they stop */
	ingest_stop(ing);
	plugin_stop(ps);
	if (rl)
		relay_stop(rl);
	log_stats(ing, ps, an, "exit");
	if (cap)
		capture_log(cap, true);
	plugin_free(ps);
	/* after the plugins' tables too: the capture owns texts of its decoded records */
	capture_free(cap);
	ingest_free(ing); /* after the plugins' tables: it owns the texts their keys point to */
	relay_free(rl);
	if (an)
		asname_close(an); /* after the writers: saves the names they asked for */
	daemon_pidfile_remove(c);
	WLOG(LL_NOTICE, "weir collect: stopped");
	return 0;
}

int cmd_collect(int argc, char **argv)
{
	char db_ov[DB_OV_LEN]; /* --db PATH as the override sql_db=PATH */
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	const struct daemon_cmd dc = {NAME, usage, longopts, db_opt, db_ov};
	struct allow_list *allow = NULL;
	char err[1024];
	FILE *logf = NULL;
	int rc;
	struct conf *c = daemon_conf_from_args(argc, argv, &dc, &rc);

	if (!c)
		return rc;
	if (c->allow_file[0] && !(allow = allow_list_load(c->allow_file, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return 2;
	}
	struct plugin_conf *tee = calloc(CONF_MAX_PLUGINS, sizeof(*tee));
	size_t n_tee = tee ? split_tee(c, tee) : 0;
	const struct plugin_conf *pcs[MAX_TEE];
	for (size_t i = 0; i < n_tee; i++)
		pcs[i] = &tee[i];
	if (!tee || daemon_log_open(c, NAME, "weir", &logf) < 0) {
		rc = 1;
	} else if (n_tee && !c->n_plugins) {
		/* Only tee plugins: nothing to decode, the relay alone runs. */
		rc = relay_daemon(c, logf, pcs, n_tee);
	} else if (!(c->http = http_new(c, err, sizeof(err)))) {
		fprintf(stderr, "weir collect: %s\n", err);
		rc = 2;
	} else {
		rc = run(c, logf, allow, pcs, n_tee);
		http_free(c->http); /* after run(): every sink has left it */
	}
	free(tee);
	if (allow)
		allow_list_free(allow);
	daemon_log_close(c, logf);
	free(c);
	return rc;
}
