/* relay.c - `weir relay`: replicate and balance export datagrams over pools of collectors. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/daemon.h"
#include "conf/conf.h"
#include "ingest/ingest.h"
#include "lib/log.h"
#include "relay/listen.h"
#include "relay/relay.h"

#define MAX_TEE 32
#define NAME    "weir relay"

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
	    "per pool, receiver (state, packets/bytes out, send failures) and exporter;\n"
	    "SIGUSR2 re-reads tee_receivers (a bad file is logged as file:line and the\n"
	    "running pools stay); SIGHUP reopens the logfile.\n"
	    "Exit codes: 0 ok, 1 runtime error, 2 usage or config error.\n");
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
	struct daemon_text t;
	FILE *f = daemon_text_open(&t);

	if (!f)
		return;
	fprintf(f, "weir relay: %u worker%s, config %s\n", d->n, d->n == 1 ? "" : "s",
	        d->c->path[0] ? d->c->path : "(none)");
	relay_listen_describe(d->l, f);
	relay_describe(d->r, f);
	daemon_text_log(&t, d->c->daemonize ? NULL : stdout);
}

static void log_stats(const struct relayd *d, const char *why)
{
	struct daemon_text t;
	FILE *f = daemon_text_open(&t);

	if (!f)
		return;
	fprintf(f, "counters (%s):\n", why);
	relay_listen_stats(d->l, f);
	relay_stats_print(d->r, f);
	daemon_text_log(&t, NULL);
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
		else if (sig == SIGHUP && d->logf && daemon_logfile_reopen(d->c, d->logf) == 0)
			WLOG(LL_NOTICE, "weir relay: SIGHUP: logfile reopened");
		else if (sig == SIGUSR2)
			relay_reload_signal(d->r, NAME);
	}
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

	daemon_block_signals(&set);

	d->n = ingest_worker_count(d->c);
	if ((rc = open_all(d)) != 0)
		return rc;
	if (daemon_detach(d->c, NAME) < 0)
		return 1;
	daemon_pidfile_write(d->c);
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
	daemon_pidfile_remove(d->c);
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
	const struct daemon_cmd dc = {.name = NAME, .usage = usage};
	FILE *logf;
	int rc;
	struct conf *c = daemon_conf_from_args(argc, argv, &dc, &rc);

	if (!c)
		return rc;
	size_t n_pcs = relay_plugins(c, pcs, MAX_TEE);
	if (!n_pcs) {
		fprintf(stderr, "weir relay: no tee_receivers configured (tee_receivers: FILE, or "
		                "plugins: tee[name] with tee_receivers[name]: FILE)\n");
		free(c);
		return 2;
	}
	if (daemon_log_open(c, NAME, "weir-relay", &logf) < 0) {
		free(c);
		return 1;
	}
	rc = relay_daemon(c, logf, pcs, n_pcs);
	daemon_log_close(c, logf);
	free(c);
	return rc;
}
