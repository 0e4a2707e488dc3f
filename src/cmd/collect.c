/* collect.c - `weir collect`: the collector daemon (UDP ingest -> decode -> plugins -> sinks). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/plugin.h"
#include "cmd/cmd.h"
#include "conf/conf.h"
#include "enrich/asname.h"
#include "ingest/capture.h"
#include "ingest/ingest.h"
#include "lib/log.h"
#include "lib/prefix.h"
#include "relay/relay.h"
#include "http/http.h"
#include "http/selfstats.h"

#define MAX_OVERRIDES 256
#define MAX_TEE       CONF_MAX_PLUGINS

struct collect_opts {
	const char *file;
	const char *ov[MAX_OVERRIDES];
	size_t n_ov;
	bool foreground;
	bool debug;
	char db_ov[PATH_MAX + 8]; /* --db PATH as the override sql_db=PATH */
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: weir collect [-f FILE] [-o key=value]... [-F] [-d] [--db PATH] [--help]\n"
	    "\n"
	    "Receives NetFlow v5/v9, IPFIX and sFlow v5 over UDP (and meters packets from\n"
	    "pcap_interface or pcap_savefile into flows), decodes it and hands the records to\n"
	    "the configured plugins (print: JSON or CSV lines to stdout or to files).\n"
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
	    "resolver's counters.\n"
	    "Exit codes: 0 ok, 1 runtime error, 2 usage or config error.\n");
}

/* 0 to run, 1 when --help was printed, 2 on a usage error. */
static int parse_args(int argc, char **argv, struct collect_opts *o)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"db", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:Fdh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->file = optarg;
			break;
		case 'o':
			if (o->n_ov == MAX_OVERRIDES) {
				fprintf(stderr, "weir collect: too many -o (max %d)\n",
				        MAX_OVERRIDES);
				return 2;
			}
			o->ov[o->n_ov++] = optarg;
			break;
		case 'F':
			o->foreground = true;
			break;
		case 'D':
			if (o->n_ov == MAX_OVERRIDES) {
				fprintf(stderr, "weir collect: too many -o (max %d)\n",
				        MAX_OVERRIDES);
				return 2;
			}
			snprintf(o->db_ov, sizeof(o->db_ov), "sql_db=%s", optarg);
			o->ov[o->n_ov++] = o->db_ov;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "weir collect: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Log to the logfile, else syslog when asked (or when daemonized with nowhere else), else stderr.
 */
static int setup_logging(const struct conf *c, FILE **logf)
{
	bool use_syslog = c->syslog[0] != '\0';

	*logf = NULL;
	if (c->logfile[0]) {
		*logf = fopen(c->logfile, "ae");
		if (!*logf) {
			fprintf(stderr, "weir collect: logfile %s: %s\n", c->logfile,
			        strerror(errno));
			return -1;
		}
		setvbuf(*logf, NULL, _IOLBF, 0);
	} else if (c->daemonize) {
		use_syslog = true;
	}
	log_setup(c->debug ? LL_DEBUG : LL_NOTICE, *logf ? *logf : stderr, use_syslog, "weir");
	return 0;
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int rc = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return rc;
}

/* Sends each line of text to the log (and to `also` when given). */
static void log_lines(char *text, FILE *also)
{
	char *save = NULL;

	if (also && text) {
		fputs(text, also);
		fflush(also);
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		WLOG(LL_NOTICE, "%s", line);
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
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	fprintf(f, "weir collect: %u worker%s, config %s\n", n_workers, n_workers == 1 ? "" : "s",
	        c->path[0] ? c->path : "(embedded default)");
	ingest_describe(ing, f);
	plugin_describe(ps, f);
	fclose(f);
	/* The data owns stdout when a plugin prints there. */
	log_lines(text, !c->daemonize && !any_plugin_on_stdout(c) ? stdout : NULL);
	free(text);
}

static void log_stats(struct ingest *ing, struct plugin_set *ps, struct asname *an, const char *why)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

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
	fclose(f);
	log_lines(text, NULL);
	free(text);
}

/*
 * SIGHUP after a log rotation: the logfile is reopened under the same FILE (dup2 onto its
 * descriptor), so the logger, which other threads use, never sees a closed stream.
 */
static void reopen_log(const struct conf *c, FILE *logf)
{
	if (!logf)
		return;
	int fd = open(c->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		WLOG(LL_ERR, "logfile %s: %s", c->logfile, strerror(errno));
		return;
	}
	fflush(logf);
	if (dup3(fd, fileno(logf), O_CLOEXEC) < 0)
		WLOG(LL_ERR, "logfile %s: %s", c->logfile, strerror(errno));
	close(fd);
	WLOG(LL_NOTICE, "weir collect: SIGHUP: logfile reopened; configuration reload is not "
	                "supported yet");
}

/* The control thread: waits for signals until SIGTERM or SIGINT. */
static void signal_loop(const sigset_t *set, const struct conf *c, FILE *logf, struct ingest *ing,
                        struct plugin_set *ps, struct asname *an)
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
		else if (sig == SIGHUP && logf)
			reopen_log(c, logf);
		else if (sig == SIGHUP)
			WLOG(LL_NOTICE, "weir collect: SIGHUP: configuration reload is not "
			                "supported yet; ignored");
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

static char *counters_text(struct http_src *hs)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	ingest_stats_print(hs->ing, f);
	fclose(f);
	return text;
}

static void http_metrics(void *arg, struct prom *p)
{
	struct http_src *hs = arg;
	char *text = counters_text(hs);

	selfstats_metrics(p, text);
	free(text);
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
	char *text = counters_text(hs);

	selfstats_status(root, text);
	free(text);
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

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread exists, so only sigtimedwait() in this thread sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

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
	int code = 0;
	if (n_tee && !(rl = open_tee(ing, tee, n_tee, n, &code, err, sizeof(err)))) {
		fprintf(stderr, "weir collect: %s\n", err);
		capture_free(cap);
		ingest_free(ing);
		plugin_free(ps);
		return code;
	}
	if (c->daemonize && daemon(1, 0) < 0) {
		fprintf(stderr, "weir collect: daemon: %s\n", strerror(errno));
		capture_free(cap);
		ingest_free(ing);
		plugin_free(ps);
		relay_free(rl);
		return 1;
	}
	if (c->pidfile[0] && write_pidfile(c->pidfile) < 0)
		WLOG(LL_ERR, "pidfile %s: %s", c->pidfile, strerror(errno));
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
	signal_loop(&set, c, logf, ing, ps, an);
	http_remove(c->http, &hs); /* before ing and ps go */

	capture_stop(cap); /* its last flows reach the plugins before they stop */
	ingest_stop(ing);
	plugin_stop(ps);
	if (rl)
		relay_stop(rl);
	log_stats(ing, ps, an, "exit");
	if (cap)
		capture_log(cap, true);
	capture_free(cap);
	ingest_free(ing);
	plugin_free(ps);
	relay_free(rl);
	if (an)
		asname_close(an); /* after the writers: saves the names they asked for */
	if (c->pidfile[0])
		unlink(c->pidfile);
	WLOG(LL_NOTICE, "weir collect: stopped");
	return 0;
}

int cmd_collect(int argc, char **argv)
{
	struct collect_opts o;
	struct allow_list *allow = NULL;
	char err[1024];
	FILE *logf = NULL;
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : 2;
	struct conf *c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "weir collect: out of memory\n");
		return 1;
	}
	if (conf_load(c, o.file, o.ov, o.n_ov, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return 2;
	}
	if (o.foreground)
		c->daemonize = false;
	if (o.debug)
		c->debug = true;
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
	if (!tee || setup_logging(c, &logf) < 0) {
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
	if (logf) {
		log_setup(c->debug ? LL_DEBUG : LL_NOTICE, stderr, false, NULL);
		fclose(logf);
	}
	free(c);
	return rc;
}
