/* rcvfile.c - parser of the tee_receivers file (pmacct's key=value map syntax). */
#include "relay/rcvfile.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/prefix.h"

#define LINE_MAX_LEN  8192
#define FILE_MAX_SIZE (16u << 20)

/* Parse state of one file. */
struct rf {
	const char *name;
	unsigned line;
	const struct relay_rcvfile_opts *o;
	struct relay_rcvfile *out;
	size_t cap;
	char *err;
	size_t errlen;
};

static const char *const balance_names[] = {
    [RB_HASH_AGENT] = "hash-agent", [RB_RR] = "rr", [RB_DST_PORT] = "dst-port", [RB_ALL] = "all",
    [RB_HASH_TAG] = "hash-tag",
};

const char *relay_balance_name(enum relay_balance b)
{
	return (unsigned)b < sizeof(balance_names) / sizeof(balance_names[0]) ? balance_names[b]
	                                                                      : "?";
}

__attribute__((format(printf, 2, 3))) static int bad(struct rf *f, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(f->err, f->errlen, "%s:%u: %s", f->name, f->line, msg);
	return -1;
}

static void pool_free(struct relay_pool_def *p)
{
	free(p->rcv);
	free(p->tags);
	if (p->exporters)
		allow_list_free(p->exporters);
	memset(p, 0, sizeof(*p));
}

void relay_rcvfile_free(struct relay_rcvfile *f)
{
	for (size_t i = 0; i < f->n; i++)
		pool_free(&f->pools[i]);
	free(f->pools);
	memset(f, 0, sizeof(*f));
}

/* Decimal in [min, max]; false on anything else. */
static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v)
{
	unsigned long long x = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		x = x * 10 + (unsigned)(*s - '0');
		if (x > max)
			return false;
	}
	if (x < min)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* "host:port" or "[v6]:port" into host and port text. */
static bool split_host_port(const char *item, char *host, size_t hlen, const char **port)
{
	const char *colon;
	size_t n;

	if (item[0] == '[') {
		const char *close = strchr(item, ']');
		if (!close || close[1] != ':')
			return false;
		n = (size_t)(close - item - 1);
		colon = close + 1;
		item++;
	} else {
		colon = strrchr(item, ':');
		if (!colon || strchr(item, ':') != colon)
			return false;
		n = (size_t)(colon - item);
	}
	if (n == 0 || n >= hlen)
		return false;
	memcpy(host, item, n);
	host[n] = '\0';
	*port = colon + 1;
	return true;
}

static void rcv_text(struct relay_rcv_def *r)
{
	char h[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	if (r->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&r->ss;
		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
		port = ntohs(s4->sin_port);
		snprintf(r->text, sizeof(r->text), "%s:%u", h, port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&r->ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
		port = ntohs(s6->sin6_port);
		snprintf(r->text, sizeof(r->text), "[%s]:%u", h, port);
	}
	r->in_port = port;
}

/* One receiver of ip=; names are resolved unless numeric_only (first address wins). */
static int parse_receiver(struct rf *f, const char *item, struct relay_rcv_def *r)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL;
	char host[256];
	const char *port;
	uint32_t pv;

	if (!split_host_port(item, host, sizeof(host), &port))
		return bad(f, "ip: '%.80s' is not host:port or [IPv6]:port", item);
	if (!parse_u32(port, 1, 65535, &pv))
		return bad(f, "ip: '%.80s': port must be 1..65535", item);
	hints.ai_flags = AI_NUMERICSERV | (f->o->numeric_only ? AI_NUMERICHOST : 0);
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || !res)
		return bad(f, "ip: cannot resolve '%.80s': %s", host,
		           rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	if (res->ai_addrlen > sizeof(r->ss)) {
		freeaddrinfo(res);
		return bad(f, "ip: '%.80s': unexpected address size", host);
	}
	memset(r, 0, sizeof(*r));
	memcpy(&r->ss, res->ai_addr, res->ai_addrlen);
	r->len = res->ai_addrlen;
	freeaddrinfo(res);
	rcv_text(r);
	return 0;
}

static int parse_ip(struct rf *f, struct relay_pool_def *p, const char *val)
{
	uint32_t max = f->o->max_receivers ? f->o->max_receivers : 32;
	char item[300];

	if (p->n_rcv)
		return bad(f, "ip given twice");
	for (const char *s = val; *s;) {
		size_t n = strcspn(s, ",");
		if (n == 0 || n >= sizeof(item))
			return bad(f, "ip: empty or overlong receiver in '%.80s'", val);
		if (p->n_rcv == max)
			return bad(f, "ip: more than %u receivers in one pool (tee_max_receivers)",
			           max);
		memcpy(item, s, n);
		item[n] = '\0';
		struct relay_rcv_def *grown = realloc(p->rcv, (p->n_rcv + 1) * sizeof(*p->rcv));
		if (!grown)
			return bad(f, "out of memory");
		p->rcv = grown;
		if (parse_receiver(f, item, &p->rcv[p->n_rcv]) < 0)
			return -1;
		p->n_rcv++;
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

static int parse_balance(struct rf *f, struct relay_pool_def *p, const char *val)
{
	if (!strcasecmp(val, "hash-crc32")) {
		p->bal = RB_HASH_AGENT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(balance_names) / sizeof(balance_names[0]); i++)
		if (!strcasecmp(val, balance_names[i])) {
			p->bal = (enum relay_balance)i;
			return 0;
		}
	return bad(f, "balance-alg: '%.40s' is not hash-agent, hash-tag, rr, dst-port or all", val);
}

static int parse_versions(struct rf *f, struct relay_pool_def *p, const char *val)
{
	char item[32];

	for (const char *s = val; *s;) {
		size_t n = strcspn(s, ",");
		if (n == 0 || n >= sizeof(item))
			return bad(f, "version: empty or unknown item in '%.60s'", val);
		memcpy(item, s, n);
		item[n] = '\0';
		if (!strcmp(item, "5"))
			p->protos |= RP_V5;
		else if (!strcmp(item, "9"))
			p->protos |= RP_V9;
		else if (!strcmp(item, "10") || !strcasecmp(item, "ipfix"))
			p->protos |= RP_IPFIX;
		else if (!strcasecmp(item, "sflow"))
			p->protos |= RP_SFLOW;
		else
			return bad(f, "version: '%.20s' is not 5, 9, 10 (ipfix) or sflow", item);
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* exporter=a/n,b/m: reuses the allow list (one prefix per line). */
static int parse_exporters(struct rf *f, struct relay_pool_def *p, const char *val)
{
	char msg[256];
	size_t n = strlen(val);
	char *text = malloc(n + 1);

	if (!text)
		return bad(f, "out of memory");
	for (size_t i = 0; i <= n; i++)
		text[i] = val[i] == ',' ? '\n' : val[i];
	if (p->exporters)
		allow_list_free(p->exporters);
	p->exporters = allow_list_parse("exporter", text, n, msg, sizeof(msg));
	free(text);
	if (!p->exporters)
		return bad(f, "exporter: %s (expected a comma list of addresses or prefixes)", msg);
	if (allow_list_count(p->exporters) == 0)
		return bad(f, "exporter: empty list");
	return 0;
}

/* A tag: decimal, 0..2^64-1. */
static bool parse_tag(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* tag=100,150,110-120,-150: pmacct's list of tags, lo-hi ranges (lo < hi), `-` negates. */
static int parse_tags(struct rf *f, struct relay_pool_def *p, const char *val)
{
	if (p->n_tags)
		return bad(f, "tag given twice");
	if (!*val)
		return bad(f, "tag: empty list");
	for (const char *s = val; *s;) {
		size_t n = strcspn(s, ",");
		struct relay_tag_item it = {0};
		const char *item = s;
		if (n == 0)
			return bad(f, "tag: empty item in '%.60s'", val);
		if (p->n_tags == RELAY_MAX_TAG_ITEMS)
			return bad(f, "tag: more than %d items", RELAY_MAX_TAG_ITEMS);
		if (*item == '-') {
			it.neg = true;
			item++;
		}
		size_t len = (size_t)(s + n - item);
		const char *dash = memchr(item, '-', len);
		size_t lo_len = dash ? (size_t)(dash - item) : len;
		if (!parse_tag(item, lo_len, &it.lo) ||
		    (dash && !parse_tag(dash + 1, len - lo_len - 1, &it.hi)))
			return bad(f, "tag: '%.*s' is not N, LOW-HIGH or -N (a tag is 0..2^64-1)",
			           (int)(n > 40 ? 40 : n), s);
		if (!dash)
			it.hi = it.lo;
		else if (it.hi <= it.lo)
			return bad(f, "tag: range '%.*s' must be LOW-HIGH with LOW < HIGH",
			           (int)(n > 40 ? 40 : n), s);
		struct relay_tag_item *grown = realloc(p->tags, (p->n_tags + 1) * sizeof(*grown));
		if (!grown)
			return bad(f, "out of memory");
		p->tags = grown;
		p->tags[p->n_tags++] = it;
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

bool relay_tags_pass(const struct relay_pool_def *p, uint64_t tag)
{
	if (!p->n_tags)
		return true;
	for (size_t i = 0; i < p->n_tags; i++) {
		const struct relay_tag_item *it = &p->tags[i];
		if (it->lo <= tag && tag <= it->hi)
			return !it->neg;
		if (it->neg)
			return true;
	}
	return false;
}

/* healthz=PORT or healthz=PORT/path */
static int parse_healthz(struct rf *f, struct relay_pool_def *p, const char *val)
{
	char num[8];
	const char *slash = strchr(val, '/');
	size_t n = slash ? (size_t)(slash - val) : strlen(val);
	uint32_t v;

	if (n == 0 || n >= sizeof(num))
		return bad(f, "healthz: '%.40s' is not PORT or PORT/path", val);
	memcpy(num, val, n);
	num[n] = '\0';
	if (!parse_u32(num, 1, 65535, &v))
		return bad(f, "healthz: port must be 1..65535");
	if (slash && (strlen(slash) >= sizeof(p->healthz_path) || strpbrk(slash, " \r\n")))
		return bad(f, "healthz: path too long or not printable");
	p->healthz_port = (uint16_t)v;
	snprintf(p->healthz_path, sizeof(p->healthz_path), "%s", slash ? slash : "/healthz");
	return 0;
}

static int parse_ports(struct rf *f, struct relay_pool_def *p, const char *val)
{
	size_t i = 0;

	for (const char *s = val; *s; i++) {
		char num[8];
		size_t n = strcspn(s, ",");
		uint32_t v;
		if (n == 0 || n >= sizeof(num))
			return bad(f, "ports: '%.60s' is not a comma list of ports", val);
		memcpy(num, s, n);
		num[n] = '\0';
		if (!parse_u32(num, 1, 65535, &v))
			return bad(f, "ports: '%.8s' must be 1..65535", num);
		if (i >= p->n_rcv)
			return bad(f, "ports: more ports than receivers (give ip= first)");
		p->rcv[i].in_port = (uint16_t)v;
		s += n;
		if (*s == ',')
			s++;
	}
	if (i != p->n_rcv)
		return bad(f, "ports: %zu ports for %zu receivers", i, p->n_rcv);
	return 0;
}

static int parse_kv(struct rf *f, struct relay_pool_def *p, const char *key, const char *val)
{
	uint32_t v;

	if (!strcmp(key, "id")) {
		if (!parse_u32(val, 1, UINT32_MAX, &v))
			return bad(f, "id: '%.20s' must be a number greater than zero", val);
		p->id = v;
		return 0;
	}
	if (!strcmp(key, "ip"))
		return parse_ip(f, p, val);
	if (!strcmp(key, "balance-alg"))
		return parse_balance(f, p, val);
	if (!strcmp(key, "src_port")) {
		if (!parse_u32(val, 1, 65535, &v))
			return bad(f, "src_port: must be 1..65535");
		p->src_port = (uint16_t)v;
		return 0;
	}
	if (!strcmp(key, "sample")) {
		if (!parse_u32(val, 1, 1000000, &v))
			return bad(f, "sample: must be 1..1000000 (1 in N datagrams)");
		p->sample = v;
		return 0;
	}
	if (!strcmp(key, "version"))
		return parse_versions(f, p, val);
	if (!strcmp(key, "exporter"))
		return parse_exporters(f, p, val);
	if (!strcmp(key, "healthz"))
		return parse_healthz(f, p, val);
	if (!strcmp(key, "ports"))
		return parse_ports(f, p, val);
	if (!strcmp(key, "tag"))
		return parse_tags(f, p, val);
	if (!strcmp(key, "kafka_broker") || !strcmp(key, "kafka_topic") ||
	    !strcmp(key, "zmq_address"))
		return bad(f, "%s: Kafka and ZeroMQ receivers are not supported", key);
	return bad(f,
	           "unknown key '%.40s' (id, ip, balance-alg, src_port, tag, exporter, version, "
	           "sample, ports, healthz)",
	           key);
}

static int check_pool(struct rf *f, struct relay_pool_def *p)
{
	if (!p->id)
		return bad(f, "pool without id=");
	if (!p->n_rcv)
		return bad(f, "pool %u has no receivers (ip= is required)", p->id);
	for (size_t i = 0; i < f->out->n; i++)
		if (f->out->pools[i].id == p->id)
			return bad(f, "pool id %u already defined on line %u", p->id,
			           f->out->pools[i].line);
	uint32_t max = f->o->max_pools ? f->o->max_pools : 128;
	if (f->out->n >= max)
		return bad(f, "more than %u pools (tee_max_receiver_pools)", max);
	if (!p->sample)
		p->sample = 1;
	return 0;
}

static int add_pool(struct rf *f, struct relay_pool_def *p)
{
	if (f->out->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct relay_pool_def *grown = realloc(f->out->pools, cap * sizeof(*grown));
		if (!grown)
			return bad(f, "out of memory");
		f->out->pools = grown;
		f->cap = cap;
	}
	f->out->pools[f->out->n++] = *p;
	return 0;
}

/* One line (comment already cut): key=value words. Lines with no words are skipped. */
static int parse_line(struct rf *f, char *line)
{
	struct relay_pool_def p;
	char *save = NULL;
	bool any = false;

	memset(&p, 0, sizeof(p));
	p.line = f->line;
	for (char *w = strtok_r(line, " \t\r\v\f", &save); w;
	     w = strtok_r(NULL, " \t\r\v\f", &save)) {
		char *eq = strchr(w, '=');
		any = true;
		if (!eq || eq == w) {
			pool_free(&p);
			return bad(f, "'%.60s' is not key=value", w);
		}
		*eq = '\0';
		if (parse_kv(f, &p, w, eq + 1) < 0) {
			pool_free(&p);
			return -1;
		}
	}
	if (!any)
		return 0;
	if (check_pool(f, &p) < 0 || add_pool(f, &p) < 0) {
		pool_free(&p);
		return -1;
	}
	return 0;
}

int relay_rcvfile_parse(const char *name, const char *text, size_t len,
                        const struct relay_rcvfile_opts *o, struct relay_rcvfile *out, char *err,
                        size_t errlen)
{
	struct rf f = {.name = name, .o = o, .out = out, .err = err, .errlen = errlen};
	char *line = malloc(LINE_MAX_LEN);
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (!line) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	while (pos < len) {
		size_t n = 0;
		f.line++;
		while (pos + n < len && text[pos + n] != '\n')
			n++;
		if (n >= LINE_MAX_LEN || memchr(text + pos, '\0', n)) {
			free(line);
			relay_rcvfile_free(out);
			return bad(&f, n >= LINE_MAX_LEN ? "line too long" : "NUL byte in line");
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		line[strcspn(line, "!#")] = '\0';
		pos += n + 1;
		if (parse_line(&f, line) < 0) {
			free(line);
			relay_rcvfile_free(out);
			return -1;
		}
	}
	free(line);
	if (out->n == 0) {
		snprintf(err, errlen, "%s: no pool defined (expected lines like id=1 ip=host:port)",
		         name);
		return -1;
	}
	return 0;
}

int relay_rcvfile_load(const char *path, const struct relay_rcvfile_opts *o,
                       struct relay_rcvfile *out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	char *buf;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(FILE_MAX_SIZE);
	if (!buf) {
		fclose(fp);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = fread(buf, 1, FILE_MAX_SIZE, fp);
	bool too_big = n == FILE_MAX_SIZE;
	bool failed = ferror(fp);
	fclose(fp);
	if (too_big || failed) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, too_big ? "file too large" : "read error");
		return -1;
	}
	int rc = relay_rcvfile_parse(path, buf, n, o, out, err, errlen);
	free(buf);
	return rc;
}
