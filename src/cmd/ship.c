/* ship.c - `weir ship`: print-plugin JSON files from a directory into InfluxDB, with AS names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/ship.h"
#include "enrich/asname.h"
#include "lib/log.h"
#include "sink/influx.h"

#define LINE_MAX_ 8192

struct ship_opts {
	const char *dir, *pattern, *state;
	struct influx_target it;
	const char *measurement;
	uint32_t batch, wait_ms, retry_s;
	bool once;
	struct asname_conf an;
	char state_buf[PATH_MAX], cache_buf[PATH_MAX];
};

/* A file already shipped: same name, inode, size and mtime = same content. */
struct done_file {
	char name[NAME_MAX + 1];
	uint64_t ino, size;
	int64_t mtime_ns;
};

struct ship {
	struct ship_opts *o;
	struct influx_client *cl;
	struct asname *an;
	struct done_file *done;
	size_t n_done, cap_done;
	int sigfd;
	bool stop;
	struct ratelimit rl;
	uint64_t files, rows, lines, malformed, rejected;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: weir ship -d DIR --url URL (--db DB | --org ORG --bucket B) [options]\n"
	    "\n"
	    "Watches DIR (inotify: close after write, moved in) for the JSON files a print\n"
	    "plugin writes -- weir's or pmacct's -- and writes every row to InfluxDB once:\n"
	    "tags are the row's key primitives, fields bytes/packets/flows, the time its\n"
	    "stamp_inserted (else the file's mtime). Rows with the same key in one file are\n"
	    "summed. AS numbers (as_src, as_dst, peer_as_*) gain an <key>_name tag such as\n"
	    "\"AS57811 ATMSOFTWARE (PL)\" from Team Cymru (DNS TXT or whois bulk), cached on\n"
	    "disk, with an offline CSV as the fallback; a failed lookup never holds data back.\n"
	    "\n"
	    "  -d, --dir DIR           directory to watch (files there at start are shipped too)\n"
	    "  -p, --pattern GLOB      file names to take (default *.json)\n"
	    "  -s, --state FILE        shipped files (default DIR/.weir-ship.state)\n"
	    "      --once              ship what is there, then exit\n"
	    "      --url URL           InfluxDB base URL (default http://127.0.0.1:8086)\n"
	    "      --db DB             InfluxDB 1.x database\n"
	    "      --org ORG --bucket B --token T   InfluxDB 2.x\n"
	    "      --user U --password P            InfluxDB 1.x basic auth\n"
	    "  -m, --measurement NAME  (default flows)\n"
	    "      --batch N           lines per request (default 5000)\n"
	    "      --no-gzip           send bodies uncompressed\n"
	    "      --retry SECONDS     pause between attempts while InfluxDB fails (default 5)\n"
	    "      --asn dns|whois|off AS name source (default dns)\n"
	    "      --asn-server ADDR   DNS server or whois server, host[:port]\n"
	    "      --asn-zone ZONE     DNS zone (default asn.cymru.com)\n"
	    "      --asn-cache FILE    name cache (default DIR/.weir-asn.cache)\n"
	    "      --asn-csv FILE      offline names, \"asn,name\" lines\n"
	    "      --asn-ttl SECONDS   cache lifetime (default 604800)\n"
	    "      --asn-wait MS       how long a file waits for new names (default 1000)\n"
	    "  -h, --help\n"
	    "Exit codes: 0 ok, 1 runtime error, 2 usage error.\n");
}

static bool num_arg(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	if (*end || end == s || n > UINT32_MAX)
		return false;
	*v = (uint32_t)n;
	return true;
}

enum {
	O_ONCE = 256,
	O_URL,
	O_DB,
	O_ORG,
	O_BUCKET,
	O_TOKEN,
	O_USER,
	O_PASS,
	O_BATCH,
	O_NOGZIP,
	O_RETRY,
	O_ASN,
	O_ASN_SERVER,
	O_ASN_ZONE,
	O_ASN_CACHE,
	O_ASN_CSV,
	O_ASN_TTL,
	O_ASN_WAIT,
};

static bool set_opt(struct ship_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case 'd':
		o->dir = arg;
		return true;
	case 'p':
		o->pattern = arg;
		return true;
	case 's':
		o->state = arg;
		return true;
	case 'm':
		o->measurement = arg;
		return true;
	case O_ONCE:
		o->once = true;
		return true;
	case O_URL:
		o->it.url = arg;
		return true;
	case O_DB:
		o->it.database = arg;
		return true;
	case O_ORG:
		o->it.org = arg;
		return true;
	case O_BUCKET:
		o->it.bucket = arg;
		return true;
	case O_TOKEN:
		o->it.token = arg;
		return true;
	case O_USER:
		o->it.user = arg;
		return true;
	case O_PASS:
		o->it.password = arg;
		return true;
	case O_NOGZIP:
		o->it.gzip = false;
		return true;
	case O_BATCH:
		return num_arg(arg, &o->batch) && o->batch;
	case O_RETRY:
		return num_arg(arg, &o->retry_s) && o->retry_s;
	case O_ASN_SERVER:
		o->an.server = arg;
		return true;
	case O_ASN_ZONE:
		o->an.zone = arg;
		return true;
	case O_ASN_CACHE:
		o->an.cache_file = arg;
		return true;
	case O_ASN_CSV:
		o->an.csv_file = arg;
		return true;
	case O_ASN_TTL:
		return num_arg(arg, &o->an.ttl_s);
	case O_ASN_WAIT:
		return num_arg(arg, &o->wait_ms);
	case O_ASN:
		o->an.proto = !strcmp(arg, "dns")     ? ASNAME_DNS
		              : !strcmp(arg, "whois") ? ASNAME_WHOIS
		                                      : ASNAME_OFF;
		return !strcmp(arg, "dns") || !strcmp(arg, "whois") || !strcmp(arg, "off");
	default:
		return false;
	}
}

/* 0 to run, 1 after --help, 2 on a usage error. */
static int parse_args(int argc, char **argv, struct ship_opts *o)
{
	static const struct option lo[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"pattern", required_argument, NULL, 'p'},
	    {"state", required_argument, NULL, 's'},
	    {"measurement", required_argument, NULL, 'm'},
	    {"once", no_argument, NULL, O_ONCE},
	    {"url", required_argument, NULL, O_URL},
	    {"db", required_argument, NULL, O_DB},
	    {"org", required_argument, NULL, O_ORG},
	    {"bucket", required_argument, NULL, O_BUCKET},
	    {"token", required_argument, NULL, O_TOKEN},
	    {"user", required_argument, NULL, O_USER},
	    {"password", required_argument, NULL, O_PASS},
	    {"batch", required_argument, NULL, O_BATCH},
	    {"no-gzip", no_argument, NULL, O_NOGZIP},
	    {"retry", required_argument, NULL, O_RETRY},
	    {"asn", required_argument, NULL, O_ASN},
	    {"asn-server", required_argument, NULL, O_ASN_SERVER},
	    {"asn-zone", required_argument, NULL, O_ASN_ZONE},
	    {"asn-cache", required_argument, NULL, O_ASN_CACHE},
	    {"asn-csv", required_argument, NULL, O_ASN_CSV},
	    {"asn-ttl", required_argument, NULL, O_ASN_TTL},
	    {"asn-wait", required_argument, NULL, O_ASN_WAIT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->pattern = "*.json";
	o->measurement = "flows";
	o->it.url = "http://127.0.0.1:8086";
	o->it.gzip = true;
	o->it.timeout_ms = 10000;
	o->batch = 5000;
	o->wait_ms = 1000;
	o->retry_s = 5;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:p:s:m:h", lo, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 1;
		}
		if (!set_opt(o, ch, optarg)) {
			if (ch != '?')
				fprintf(stderr, "weir ship: bad value '%s'\n",
				        optarg ? optarg : "");
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o->dir ||
	    !((o->it.database && *o->it.database) || (o->it.bucket && *o->it.bucket))) {
		fprintf(stderr, "weir ship: -d DIR and --db (or --bucket) are required\n");
		usage(stderr);
		return 2;
	}
	if (!o->state) {
		snprintf(o->state_buf, sizeof(o->state_buf), "%s/.weir-ship.state", o->dir);
		o->state = o->state_buf;
	}
	if (!o->an.cache_file) {
		snprintf(o->cache_buf, sizeof(o->cache_buf), "%s/.weir-asn.cache", o->dir);
		o->an.cache_file = o->cache_buf;
	}
	return 0;
}

/* --- the state file: one line per shipped file --- */

static struct done_file *find_done(struct ship *s, const char *name)
{
	for (size_t i = 0; i < s->n_done; i++)
		if (!strcmp(s->done[i].name, name))
			return &s->done[i];
	return NULL;
}

static struct done_file *add_done(struct ship *s, const char *name)
{
	struct done_file *d = find_done(s, name);
	if (d)
		return d;
	if (s->n_done == s->cap_done) {
		size_t cap = s->cap_done ? s->cap_done * 2 : 64;
		struct done_file *n = realloc(s->done, cap * sizeof(*n));
		if (!n)
			return NULL;
		s->done = n;
		s->cap_done = cap;
	}
	d = &s->done[s->n_done++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	return d;
}

static void load_state(struct ship *s)
{
	char line[NAME_MAX + 128];
	FILE *f = fopen(s->o->state, "re");

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long ino, size;
		long long mt;
		int used = 0;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%llu %llu %lld %n", &ino, &size, &mt, &used) != 3 || !used ||
		    !line[used])
			continue;
		struct done_file *d = add_done(s, line + used);
		if (d) {
			d->ino = ino;
			d->size = size;
			d->mtime_ns = mt;
		}
	}
	if (f)
		fclose(f);
}

/* Atomically: a crash leaves the old state or the new one, never half of one. */
static int save_state(struct ship *s)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->o->state);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -1;
	for (size_t i = 0; i < s->n_done; i++)
		fprintf(f, "%llu %llu %lld %s\n", (unsigned long long)s->done[i].ino,
		        (unsigned long long)s->done[i].size, (long long)s->done[i].mtime_ns,
		        s->done[i].name);
	if (fflush(f) || fsync(fileno(f)) || fclose(f))
		return -1;
	return rename(tmp, s->o->state);
}

static bool same_file(const struct done_file *d, const struct stat *st)
{
	return d->ino == (uint64_t)st->st_ino && d->size == (uint64_t)st->st_size &&
	       d->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* --- one file --- */

static bool is_as_tag(const char *k)
{
	return !strcmp(k, "as_src") || !strcmp(k, "as_dst") || !strcmp(k, "peer_as_src") ||
	       !strcmp(k, "peer_as_dst");
}

static bool as_number(const char *v, uint32_t *asn)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (*end || end == v || n > UINT32_MAX)
		return false;
	*asn = (uint32_t)n;
	return true;
}

/* Rows of one file summed by their line (tags and time): InfluxDB would keep only the last. */
struct agg {
	char *key; /* "measurement,tags" + '\0' */
	uint64_t ts, bytes, packets, flows;
	int32_t next;
};

struct aggset {
	struct agg *a;
	size_t n, cap;
	int32_t heads[4096];
};

static uint32_t hash_key(const char *k, uint64_t ts)
{
	uint32_t h = 2166136261u ^ (uint32_t)ts;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h & 4095;
}

static int agg_add(struct aggset *g, const char *key, const struct ship_row *r, uint64_t ts)
{
	uint32_t h = hash_key(key, ts);
	for (int32_t i = g->heads[h]; i >= 0; i = g->a[i].next) {
		if (g->a[i].ts == ts && !strcmp(g->a[i].key, key)) {
			g->a[i].bytes += r->bytes;
			g->a[i].packets += r->packets;
			g->a[i].flows += r->flows;
			return 0;
		}
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 1024;
		struct agg *a = realloc(g->a, cap * sizeof(*a));
		if (!a)
			return -1;
		g->a = a;
		g->cap = cap;
	}
	struct agg *a = &g->a[g->n];
	if (!(a->key = strdup(key)))
		return -1;
	a->ts = ts;
	a->bytes = r->bytes;
	a->packets = r->packets;
	a->flows = r->flows;
	a->next = g->heads[h];
	g->heads[h] = (int32_t)g->n++;
	return 0;
}

static void agg_free(struct aggset *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->a[i].key);
	free(g->a);
}

/* "measurement,tag=v,..." with <as>_name tags for the AS numbers whose names are known. */
static void row_key(struct ship *s, const struct ship_row *r, char *out, size_t len)
{
	char name[128], tn[SHIP_TAG_NAME + 8];
	size_t o = influx_escape(out, len, s->o->measurement, INFLUX_MEASUREMENT);

	for (size_t i = 0; i < r->n_tags && o < len; i++) {
		if (!r->val[i][0])
			continue; /* the line protocol has no empty tag values */
		o += snprintf(out + o, len - o, ",");
		o += o < len ? influx_escape(out + o, len - o, r->tag[i], INFLUX_TAG) : 0;
		o += o < len ? (size_t)snprintf(out + o, len - o, "=") : 0;
		o += o < len ? influx_escape(out + o, len - o, r->val[i], INFLUX_TAG) : 0;
		uint32_t asn;
		if (o < len && s->an && is_as_tag(r->tag[i]) && as_number(r->val[i], &asn) &&
		    asname_get(s->an, asn, name, sizeof(name))) {
			snprintf(tn, sizeof(tn), ",%s_name=", r->tag[i]);
			o += snprintf(out + o, len - o, "%s", tn);
			o += o < len ? influx_escape(out + o, len - o, name, INFLUX_TAG) : 0;
		}
	}
}

/* Pass 1: queues the AS numbers of the file for the resolver (names come back later). */
static void ask_names(struct ship *s, FILE *f)
{
	char *line = NULL, name[128];
	size_t cap = 0;
	ssize_t n;
	struct ship_row *r = malloc(sizeof(*r));

	while (r && s->an && (n = getline(&line, &cap, f)) > 0) {
		if (n > LINE_MAX_ || ship_parse_line(line, (size_t)n, r) != 1)
			continue;
		for (size_t i = 0; i < r->n_tags; i++) {
			uint32_t asn;
			if (is_as_tag(r->tag[i]) && as_number(r->val[i], &asn))
				asname_get(s->an, asn, name, sizeof(name));
		}
	}
	free(r);
	free(line);
}

/* Pass 2: every row summed into g. Malformed lines are counted and skipped. */
static int read_rows(struct ship *s, FILE *f, const char *path, uint64_t mtime_ms, struct aggset *g,
                     uint64_t *rows, uint64_t *bad)
{
	char *line = NULL, key[LINE_MAX_];
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	struct ship_row *r = malloc(sizeof(*r));
	int rc = r ? 0 : -1;

	while (r && (n = getline(&line, &cap, f)) > 0) {
		lineno++;
		int pr = n > LINE_MAX_ ? -1 : ship_parse_line(line, (size_t)n, r);
		if (pr < 0) {
			(*bad)++;
			if (ratelimit_ok(&s->rl, mono_ms()))
				WLOG(LL_WARN, "ship: %s:%u: not a print-plugin JSON row, skipped",
				     path, lineno);
			continue;
		}
		if (!pr)
			continue;
		row_key(s, r, key, sizeof(key));
		if (agg_add(g, key, r, r->has_ts ? r->ts_ms : mtime_ms) < 0) {
			rc = -1;
			break;
		}
		(*rows)++;
	}
	free(r);
	free(line);
	return rc;
}

/* Waits up to sec seconds for a stop signal; true when one came. */
static bool stop_wait(struct ship *s, unsigned sec)
{
	struct pollfd p = {.fd = s->sigfd, .events = POLLIN};
	if (s->stop)
		return true;
	if (poll(&p, 1, (int)sec * 1000) > 0) {
		struct signalfd_siginfo si;
		if (read(s->sigfd, &si, sizeof(si)) == sizeof(si))
			s->stop = true;
	}
	return s->stop;
}

/* Posts one batch until InfluxDB takes it (or refuses it as bad data). -1 when stopped. */
static int post(struct ship *s, const char *body, size_t len, size_t lines, const char *path)
{
	char msg[1200];

	for (;;) {
		enum influx_rc rc = influx_post(s->cl, body, len, msg, sizeof(msg));
		if (rc == INFLUX_OK) {
			s->lines += lines;
			return 0;
		}
		if (rc == INFLUX_REJECTED) {
			WLOG(LL_ERR, "ship: %s: InfluxDB refused %zu lines (dropped): %s", path,
			     lines, msg);
			s->rejected += lines;
			return 0;
		}
		WLOG(LL_WARN, "ship: %s: InfluxDB write failed (%s); retrying in %u s", path, msg,
		     s->o->retry_s);
		if (stop_wait(s, s->o->retry_s))
			return -1;
	}
}

static int send_rows(struct ship *s, const struct aggset *g, const char *path)
{
	size_t cap = 1 << 20, len = 0, lines = 0;
	char *buf = malloc(cap);
	int rc = buf ? 0 : -1;

	for (size_t i = 0; buf && i < g->n && !rc; i++) {
		const struct agg *a = &g->a[i];
		size_t need = strlen(a->key) + 128;
		if (len + need > cap) {
			char *nb = realloc(buf, cap * 2 + need);
			if (!nb) {
				rc = -1;
				break;
			}
			buf = nb;
			cap = cap * 2 + need;
		}
		len += (size_t)snprintf(buf + len, cap - len,
		                        "%s bytes=%" PRIu64 "i,packets=%" PRIu64 "i,flows=%" PRIu64
		                        "i %" PRIu64 "\n",
		                        a->key, a->bytes, a->packets, a->flows, a->ts);
		if (++lines == s->o->batch || i + 1 == g->n) {
			rc = post(s, buf, len, lines, path);
			len = lines = 0;
		}
	}
	free(buf);
	return rc;
}

/*
 * Ships one file of the directory once. 1 shipped (or nothing to ship), 0 skipped (pattern,
 * not a regular file, already shipped, still being written), -1 stopped or failed.
 */
static int ship_file(struct ship *s, const char *name, bool need_complete)
{
	char path[PATH_MAX];
	struct stat st;
	struct aggset *g = NULL;
	uint64_t rows = 0, bad = 0;
	int rc = -1;

	if (name[0] == '.' || fnmatch(s->o->pattern, name, 0))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", s->o->dir, name);
	FILE *f = fopen(path, "re");
	if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		if (f)
			fclose(f);
		return 0;
	}
	const struct done_file *d = find_done(s, name);
	if (d && same_file(d, &st)) {
		fclose(f);
		return 0;
	}
	if (need_complete && st.st_size > 0) {
		char last = 0;
		if (pread(fileno(f), &last, 1, st.st_size - 1) != 1 || last != '\n') {
			WLOG(LL_NOTICE,
			     "ship: %s: last line unfinished (still being written?): "
			     "waiting for its close",
			     path);
			fclose(f);
			return 0;
		}
	}
	ask_names(s, f);
	if (s->an)
		asname_wait(s->an, s->o->wait_ms);
	rewind(f);
	uint64_t mtime_ms =
	    (uint64_t)st.st_mtim.tv_sec * 1000 + (uint64_t)st.st_mtim.tv_nsec / 1000000;
	g = calloc(1, sizeof(*g));
	if (g) {
		memset(g->heads, 0xff, sizeof(g->heads));
		if (read_rows(s, f, path, mtime_ms, g, &rows, &bad) == 0 &&
		    send_rows(s, g, path) == 0)
			rc = 1;
		agg_free(g);
		free(g);
	}
	fclose(f);
	if (rc < 0)
		return -1;
	struct done_file *nd = add_done(s, name);
	if (nd) {
		nd->ino = (uint64_t)st.st_ino;
		nd->size = (uint64_t)st.st_size;
		nd->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
	if (save_state(s) < 0)
		WLOG(LL_ERR, "ship: state %s: %s", s->o->state, strerror(errno));
	s->files++;
	s->rows += rows;
	s->malformed += bad;
	WLOG(LL_NOTICE, "ship: %s: %" PRIu64 " rows, %" PRIu64 " malformed lines, shipped", path,
	     rows, bad);
	return 1;
}

/* --- the directory --- */

struct entry_t {
	char name[NAME_MAX + 1];
	int64_t mtime_ns;
};

static int by_mtime(const void *a, const void *b)
{
	const struct entry_t *x = a, *y = b;
	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Ships the files already there, oldest first; unfinished ones wait for their close. */
static int scan(struct ship *s)
{
	DIR *d = opendir(s->o->dir);
	struct dirent *de;
	struct entry_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (de->d_name[0] == '.' || fnmatch(s->o->pattern, de->d_name, 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->o->dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct entry_t *nv = realloc(v, cap * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n++].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), by_mtime);
	for (size_t i = 0; i < n && rc >= 0; i++)
		rc = ship_file(s, v[i].name, true);
	free(v);
	return rc < 0 ? -1 : 0;
}

static void events(struct ship *s, int ifd)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while (!s->stop && (n = read(ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n && !s->stop;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				scan(s); /* events were lost: the directory tells what is new */
			else if (ev->len && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)))
				ship_file(s, ev->name, false);
		}
	}
}

static int watch_loop(struct ship *s, int ifd)
{
	struct pollfd p[2] = {{.fd = ifd, .events = POLLIN}, {.fd = s->sigfd, .events = POLLIN}};

	while (!s->stop) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -1;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(s->sigfd, &si, sizeof(si)) == sizeof(si))
				s->stop = true;
		}
		if (p[0].revents & POLLIN)
			events(s, ifd);
	}
	return 0;
}

static int run_ship(struct ship *s)
{
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	/* The watch comes first: a file closed during the scan is seen either way. */
	if (ifd < 0 || inotify_add_watch(ifd, s->o->dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		fprintf(stderr, "weir ship: %s: %s\n", s->o->dir, strerror(errno));
		if (ifd >= 0)
			close(ifd);
		return 1;
	}
	WLOG(LL_NOTICE, "ship: watching %s (%s), state %s", s->o->dir, s->o->pattern, s->o->state);
	int rc = scan(s) < 0 && !s->stop ? 1 : 0; /* stopped mid-file: shipped next run */
	if (!rc && !s->o->once)
		rc = watch_loop(s, ifd) < 0 ? 1 : 0;
	close(ifd);
	if (s->an) {
		struct asname_stats st;
		asname_get_stats(s->an, &st);
		WLOG(LL_NOTICE,
		     "ship: %" PRIu64 " files, %" PRIu64 " rows, %" PRIu64
		     " lines written, %" PRIu64 " rejected, %" PRIu64
		     " malformed; AS names: %" PRIu64 " resolved, %" PRIu64 " not found, %" PRIu64
		     " failed, %" PRIu64 " bad answers, %" PRIu64 " from csv",
		     s->files, s->rows, s->lines, s->rejected, s->malformed, st.resolved,
		     st.not_found, st.failures, st.bad_answers, st.csv_hits);
	}
	return rc;
}

int cmd_ship(int argc, char **argv)
{
	struct ship_opts o;
	struct ship s = {.o = &o, .sigfd = -1};
	char err[512];
	sigset_t set;
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : 2;
	log_setup(LL_NOTICE, stderr, false, "weir");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the resolver thread starts */
	s.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	ratelimit_init(&s.rl, 5);
	if (!(s.cl = influx_client_new(&o.it, err, sizeof(err))) ||
	    (o.an.proto != ASNAME_OFF && !(s.an = asname_open(&o.an, err, sizeof(err))))) {
		fprintf(stderr, "weir ship: %s\n", err);
		influx_client_free(s.cl);
		return 2;
	}
	load_state(&s);
	rc = run_ship(&s);
	asname_close(s.an);
	influx_client_free(s.cl);
	free(s.done);
	if (s.sigfd >= 0)
		close(s.sigfd);
	return rc;
}
