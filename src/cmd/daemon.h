/* daemon.h - the process plumbing `weir collect` and `weir relay` share: options, log, pidfile. */
#ifndef WEIR_CMD_DAEMON_H
#define WEIR_CMD_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct conf;
struct option;

#define DAEMON_MAX_OVERRIDES 256

/* What -f FILE, -o key=value (repeatable), -F and -d asked for. */
struct daemon_opts {
	const char *file;
	const char *ov[DAEMON_MAX_OVERRIDES];
	size_t n_ov;
	bool foreground;
	bool debug;
};

/* How one command parses: its name for messages, its usage text, its own long options. */
struct daemon_cmd {
	const char *name; /* "weir collect": prefixes every message */
	void (*usage)(FILE *out);
	const struct option *longopts; /* extra long options, NULL-terminated; or NULL */
	/* Handles one extra option (its val as ch); 0, or 2 after printing a usage error. */
	int (*extra)(const struct daemon_cmd *dc, struct daemon_opts *o, int ch, const char *arg);
	void *ctx; /* the command's own, for extra */
};

/* Adds key=value (borrowed, must outlive o) to the overrides; 0, or 2 when there are too many. */
int daemon_add_override(const struct daemon_cmd *dc, struct daemon_opts *o, const char *kv);

/*
 * Parses argv (-f FILE, -o key=value..., -F, -d, -h and dc's own options) and loads the
 * configuration it names, -F and -d applied on top; the caller frees it. NULL with *rc the
 * exit code: 0 after --help, 1 out of memory, 2 usage or config error (printed).
 */
struct conf *daemon_conf_from_args(int argc, char **argv, const struct daemon_cmd *dc, int *rc);

/*
 * Log to c->logfile (opened into *logf, line buffered), else syslog when asked or when
 * daemonized with nowhere else, else stderr; ident names the syslog lines. 0, or -1 printed.
 */
int daemon_log_open(const struct conf *c, const char *name, const char *ident, FILE **logf);
/* Back to stderr, then closes logf (NULL is fine). */
void daemon_log_close(const struct conf *c, FILE *logf);
/*
 * SIGHUP after a log rotation: c->logfile reopened under the same FILE (dup onto its
 * descriptor), so the logger, which other threads use, never sees a closed stream. Failures
 * are logged; -1 when the file could not be opened at all.
 */
int daemon_logfile_reopen(const struct conf *c, FILE *logf);

/* Multi-line text (counters, the startup summary) printed with stdio, then logged. */
struct daemon_text {
	char *buf;
	size_t len;
	FILE *f;
};
/* Opens t->f to print into; NULL when out of memory (then nothing is logged). */
FILE *daemon_text_open(struct daemon_text *t);
/* Closes t->f, logs each line at notice (and writes it all to `also` when set), frees it. */
void daemon_text_log(struct daemon_text *t, FILE *also);

/*
 * Blocks SIGTERM, SIGINT, SIGUSR1, SIGHUP and SIGUSR2 into *set for sigtimedwait(); ignores
 * SIGPIPE.
 */
void daemon_block_signals(sigset_t *set);
/* daemon(3) when c->daemonize; 0, or -1 with the error printed. */
int daemon_detach(const struct conf *c, const char *name);
/* Writes and removes c->pidfile when one is configured; a write failure is logged. */
void daemon_pidfile_write(const struct conf *c);
void daemon_pidfile_remove(const struct conf *c);

#endif
