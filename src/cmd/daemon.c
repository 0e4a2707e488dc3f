/* daemon.c - the process plumbing `weir collect` and `weir relay` share: options, log, pidfile. */
#include "cmd/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/log.h"

#define MAX_LONGOPTS 8

/* --help followed by the command's own long options, NULL-terminated. */
static void merge_longopts(const struct option *extra, struct option *out)
{
	size_t n = 0;

	out[n++] = (struct option){"help", no_argument, NULL, 'h'};
	for (; extra && extra->name && n < MAX_LONGOPTS - 1; extra++)
		out[n++] = *extra;
	out[n] = (struct option){NULL, 0, NULL, 0};
}

int daemon_add_override(const struct daemon_cmd *dc, struct daemon_opts *o, const char *kv)
{
	if (o->n_ov == DAEMON_MAX_OVERRIDES) {
		fprintf(stderr, "%s: too many -o (max %d)\n", dc->name, DAEMON_MAX_OVERRIDES);
		return 2;
	}
	o->ov[o->n_ov++] = kv;
	return 0;
}

/* One short option or an extra long one; 0, 1 after --help, or 2. */
static int one_opt(const struct daemon_cmd *dc, struct daemon_opts *o, int ch)
{
	switch (ch) {
	case 'f':
		o->file = optarg;
		return 0;
	case 'o':
		return daemon_add_override(dc, o, optarg);
	case 'F':
		o->foreground = true;
		return 0;
	case 'd':
		o->debug = true;
		return 0;
	case 'h':
		dc->usage(stdout);
		return 1;
	case '?':
	case ':':
		break;
	default:
		if (dc->extra)
			return dc->extra(dc, o, ch, optarg);
		break;
	}
	dc->usage(stderr);
	return 2;
}

/* 0 to run, 1 when --help was printed, 2 on a usage error (printed). */
static int parse_args(int argc, char **argv, const struct daemon_cmd *dc, struct daemon_opts *o)
{
	struct option longopts[MAX_LONGOPTS];
	int ch, rc;

	merge_longopts(dc->longopts, longopts);
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:Fdh", longopts, NULL)) != -1)
		if ((rc = one_opt(dc, o, ch)) != 0)
			return rc;
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", dc->name, argv[optind]);
		dc->usage(stderr);
		return 2;
	}
	return 0;
}

static struct conf *conf_from_opts(const struct daemon_cmd *dc, const struct daemon_opts *o,
                                   int *rc)
{
	char err[1024];
	struct conf *c = calloc(1, sizeof(*c));

	if (!c) {
		fprintf(stderr, "%s: out of memory\n", dc->name);
		*rc = 1;
		return NULL;
	}
	if (conf_load(c, o->file, o->ov, o->n_ov, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(c);
		*rc = 2;
		return NULL;
	}
	if (o->foreground)
		c->daemonize = false;
	if (o->debug)
		c->debug = true;
	return c;
}

struct conf *daemon_conf_from_args(int argc, char **argv, const struct daemon_cmd *dc, int *rc)
{
	struct daemon_opts o;

	*rc = parse_args(argc, argv, dc, &o);
	if (*rc) {
		*rc = *rc == 1 ? 0 : 2;
		return NULL;
	}
	return conf_from_opts(dc, &o, rc);
}

int daemon_log_open(const struct conf *c, const char *name, const char *ident, FILE **logf)
{
	bool use_syslog = c->syslog[0] != '\0';

	*logf = NULL;
	if (c->logfile[0]) {
		*logf = fopen(c->logfile, "ae");
		if (!*logf) {
			fprintf(stderr, "%s: logfile %s: %s\n", name, c->logfile, strerror(errno));
			return -1;
		}
		setvbuf(*logf, NULL, _IOLBF, 0);
	} else if (c->daemonize) {
		use_syslog = true;
	}
	log_setup(c->debug ? LL_DEBUG : LL_NOTICE, *logf ? *logf : stderr, use_syslog, ident);
	return 0;
}

void daemon_log_close(const struct conf *c, FILE *logf)
{
	if (!logf)
		return;
	log_setup(c->debug ? LL_DEBUG : LL_NOTICE, stderr, false, NULL);
	fclose(logf);
}

int daemon_logfile_reopen(const struct conf *c, FILE *logf)
{
	int fd = open(c->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		WLOG(LL_ERR, "logfile %s: %s", c->logfile, strerror(errno));
		return -1;
	}
	fflush(logf);
	if (dup3(fd, fileno(logf), O_CLOEXEC) < 0)
		WLOG(LL_ERR, "logfile %s: %s", c->logfile, strerror(errno));
	close(fd);
	return 0;
}

/* Sends each line of text (cut up in place) to the log, and the whole of it to `also` if set. */
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

FILE *daemon_text_open(struct daemon_text *t)
{
	t->buf = NULL;
	t->len = 0;
	t->f = open_memstream(&t->buf, &t->len);
	return t->f;
}

void daemon_text_log(struct daemon_text *t, FILE *also)
{
	fclose(t->f);
	log_lines(t->buf, also);
	free(t->buf);
}

void daemon_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR2);
	/* Blocked before any thread exists, so only sigtimedwait() in the caller sees them. */
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int daemon_detach(const struct conf *c, const char *name)
{
	if (c->daemonize && daemon(1, 0) < 0) {
		fprintf(stderr, "%s: daemon: %s\n", name, strerror(errno));
		return -1;
	}
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

void daemon_pidfile_write(const struct conf *c)
{
	if (c->pidfile[0] && write_pidfile(c->pidfile) < 0)
		WLOG(LL_ERR, "pidfile %s: %s", c->pidfile, strerror(errno));
}

void daemon_pidfile_remove(const struct conf *c)
{
	if (c->pidfile[0])
		unlink(c->pidfile);
}
