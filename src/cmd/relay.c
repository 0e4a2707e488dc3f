/* relay.c - `weir relay`: replicate and balance export datagrams over pools of collectors. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "conf/conf.h"
#include "ingest/ingest.h"
#include "lib/log.h"
#include "relay/listen.h"
#include "relay/relay.h"

#define MAX_OVERRIDES 256
#define MAX_TEE       32

struct relay_opts {
	const char *file;
	const char *ov[MAX_OVERRIDES];
	size_t n_ov;
	bool foreground;
	bool debug;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: weir relay -f FILE [-o key=value]... [-F] [-d] [--help]\n"
	    "\n"
	    "Receives NetFlow/IPFIX/sFlow datagrams over UDP and sends each one, unchanged, to\n"
	    "every pool of receivers in tee_receivers; inside a pool one receiver is picked by\n"
	    "hash-agent (default: an exporter stays on one collector), rr, dst-port or all.\n"
	    "Nothing is decoded. See docs/relay.md.\n"
	    "\n"
	    "  -f FILE         pmacct-syntax configuration: nfacctd_ip, nfacctd_port, workers,\n"
	    "                  tee_receivers, tee_transparent, tee_source_ip, logfile, ...\n"
	    "  -o key=value    override a key; may repeat\n"
	    "  -F              stay in the foreground (overrides daemonize: true)\n"
	    "  -d              debug logging\n"
	    "  -h, --help      this text\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT relay what is queued and exit 0; SIGUSR1 logs the counters\n"
	    "per pool, receiver (state, packets/bytes out, send failures) and exporter.\n"
	    "Exit codes: 0 ok, 1 runtime error, 2 usage or config error.\n");
}

static int parse_args(int argc, char **argv, struct relay_opts *o)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
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
				fprintf(stderr, "weir relay: too many -o (max %d)\n",
				        MAX_OVERRIDES);
				return 2;
			}
			o->ov[o->n_ov++] = optarg;
			break;
		case 'F':
			o->foreground = true;
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
		fprintf(stderr, "weir relay: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

static int setup_logging(const struct conf *c, FILE **logf)
{
	bool use_syslog = c->syslog[0] != '\0';

	*logf = NULL;
	if (c->logfile[0]) {
		*logf = fopen(c->logfile, "ae");
		if (!*logf) {
			fprintf(stderr, "weir relay: logfile %s: %s\n", c->logfile,
			        strerror(errno));
			return -1;
		}
		setvbuf(*logf, NULL, _IOLBF, 0);
	} else if (c->daemonize) {
		use_syslog = true;
	}
	log_setup(c->debug ? LL_DEBUG : LL_NOTICE, *logf ? *logf : stderr, use_syslog,
	          "weir-relay");
	return 0;
}

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

struct relayd {
	const struct conf *c;
	FILE *logf;
	const struct plugin_conf *const *pcs;
	size_t n_pcs;
	struct relay *r;
	struct relay_listen *l;
	unsigned n;
};

static void announce(const struct relayd *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	fprintf(f, "weir relay: %u worker%s, config %s\n", d->n, d->n == 1 ? "" : "s",
	        d->c->path[0] ? d->c->path : "(none)");
	relay_listen_describe(d->l, f);
	relay_describe(d->r, f);
	fclose(f);
	log_lines(text, d->c->daemonize ? NULL : stdout);
	free(text);
}

static void log_stats(const struct relayd *d, const char *why)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	fprintf(f, "counters (%s):\n", why);
	relay_listen_stats(d->l, f);
	relay_stats_print(d->r, f);
	fclose(f);
	log_lines(text, NULL);
	free(text);
}

static void reopen_log(const struct conf *c, FILE *logf)
{
	int fd = open(c->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		WLOG(LL_ERR, "logfile %s: %s", c->logfile, strerror(errno));
		return;
	}
	fflush(logf);
	if (dup3(fd, fileno(logf), O_CLOEXEC) < 0)
		WLOG(LL_ERR, "logfile %s: %s", c->logfile, strerror(errno));
	close(fd);
	WLOG(LL_NOTICE, "weir relay: SIGHUP: logfile reopened");
}

static void signal_loop(const sigset_t *set, const struct relayd *d)
{
	const struct timespec tick = {1, 0};

	for (;;) {
		siginfo_t si;
		int sig = sigtimedwait(set, &si, &tick);
		if (sig < 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT) {
			WLOG(LL_NOTICE, "weir relay: %s: stopping", strsignal(sig));
			return;
		}
		if (sig == SIGUSR1)
			log_stats(d, "SIGUSR1");
		else if (sig == SIGHUP && d->logf)
			reopen_log(d->c, d->logf);
	}
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

/* Opens the relay and its listeners; 0, or the exit code. */
static int open_all(struct relayd *d)
{
	char err[1024];
	int rc;

	d->r = relay_open(d->pcs, d->n_pcs, d->n, &rc, err, sizeof(err));
	if (!d->r) {
		fprintf(stderr, "weir relay: %s\n", err);
		return rc;
	}
	d->l = relay_listen_open(d->c, d->n, d->r, err, sizeof(err));
	if (!d->l) {
		fprintf(stderr, "weir relay: %s\n", err);
		return 1;
	}
	return 0;
}

static int run(struct relayd *d)
{
	char err[512];
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	d->n = ingest_worker_count(d->c);
	if ((rc = open_all(d)) != 0)
		return rc;
	if (d->c->daemonize && daemon(1, 0) < 0) {
		fprintf(stderr, "weir relay: daemon: %s\n", strerror(errno));
		return 1;
	}
	if (d->c->pidfile[0] && write_pidfile(d->c->pidfile) < 0)
		WLOG(LL_ERR, "pidfile %s: %s", d->c->pidfile, strerror(errno));
	if (relay_start(d->r, err, sizeof(err)) < 0 ||
	    relay_listen_start(d->l, err, sizeof(err)) < 0) {
		WLOG(LL_ERR, "weir relay: %s", err);
		return 1;
	}
	announce(d);
	signal_loop(&set, d);
	relay_listen_stop(d->l);
	relay_stop(d->r);
	log_stats(d, "exit");
	if (d->c->pidfile[0])
		unlink(d->c->pidfile);
	WLOG(LL_NOTICE, "weir relay: stopped");
	return 0;
}

int relay_daemon(const struct conf *c, FILE *logf, const struct plugin_conf *const *pcs,
                 size_t n_pcs)
{
	struct relayd d = {.c = c, .logf = logf, .pcs = pcs, .n_pcs = n_pcs};
	int rc = run(&d);

	relay_listen_free(d.l);
	relay_free(d.r);
	return rc;
}

int cmd_relay(int argc, char **argv)
{
	const struct plugin_conf *pcs[MAX_TEE];
	struct relay_opts o;
	FILE *logf;
	char err[1024];
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : 2;
	struct conf *c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "weir relay: out of memory\n");
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
	size_t n_pcs = relay_plugins(c, pcs, MAX_TEE);
	if (!n_pcs) {
		fprintf(stderr, "weir relay: no tee_receivers configured (tee_receivers: FILE, or "
		                "plugins: tee[name] with tee_receivers[name]: FILE)\n");
		free(c);
		return 2;
	}
	if (setup_logging(c, &logf) < 0) {
		free(c);
		return 1;
	}
	rc = relay_daemon(c, logf, pcs, n_pcs);
	if (logf) {
		log_setup(c->debug ? LL_DEBUG : LL_NOTICE, stderr, false, NULL);
		fclose(logf);
	}
	free(c);
	return rc;
}
