/* asname.c - AS names from Team Cymru (DNS TXT or whois bulk) in a background thread, cached. */
#include "enrich/asname.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/cursor.h"
#include "lib/log.h"

#define NAME_LEN    96
#define QUEUE_MAX   4096
#define BATCH_MAX   100
#define RETRY_S     60 /* a failed lookup is not retried sooner */
#define NEG_TTL_S   3600
#define WHOIS_MAX   (1u << 20)
#define DEF_TTL_S   (7u * 86400)
#define DEF_TIMEOUT 2000
#define DEF_ZONE    "asn.cymru.com"
#define DEF_WHOIS   "whois.cymru.com"

enum st { S_EMPTY = 0, S_KNOWN, S_NOTFOUND, S_PENDING, S_FAILED };

struct entry {
	uint32_t asn;
	uint8_t state;
	int64_t until; /* S_KNOWN/S_NOTFOUND: expiry; S_FAILED: no retry before */
	char name[NAME_LEN];
};

struct table {
	struct entry *e;
	size_t cap, n; /* cap: power of two */
};

struct asname {
	struct asname_conf c;
	char server[256], zone[128], cache_file[4096];
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	pthread_t thr;
	bool running, stop;
	struct table cache, csv;
	uint32_t queue[QUEUE_MAX];
	size_t n_queue;
	bool busy; /* the thread holds a batch */
	bool dirty;
	uint16_t next_id;
	struct asname_stats st;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static struct entry *slot(struct table *t, uint32_t asn, bool add)
{
	if (add && (t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct entry *e = calloc(cap, sizeof(*e));
		if (!e)
			return NULL;
		for (size_t i = 0; i < t->cap; i++) {
			if (t->e[i].state == S_EMPTY)
				continue;
			size_t h = (t->e[i].asn * 2654435761u) & (cap - 1);
			while (e[h].state != S_EMPTY)
				h = (h + 1) & (cap - 1);
			e[h] = t->e[i];
		}
		free(t->e);
		t->e = e;
		t->cap = cap;
	}
	if (!t->cap)
		return NULL;
	size_t h = (asn * 2654435761u) & (t->cap - 1);
	while (t->e[h].state != S_EMPTY) {
		if (t->e[h].asn == asn)
			return &t->e[h];
		h = (h + 1) & (t->cap - 1);
	}
	if (!add)
		return NULL;
	t->e[h].asn = asn;
	t->n++;
	return &t->e[h];
}

/* "AS" prefixes and blanks tolerated: "AS57811", " 57811". */
static bool parse_asn(const char *s, uint32_t *asn)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!strncasecmp(s, "AS", 2))
		s += 2;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || v > UINT32_MAX)
		return false;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end)
		return false;
	*asn = (uint32_t)v;
	return true;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	size_t i = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	memmove(s, s + i, n - i + 1);
}

bool asname_from_cymru(uint32_t asn, const char *txt, size_t len, char *out, size_t outlen)
{
	char buf[512], *f[8];
	size_t n = 0;
	uint32_t got;

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, txt, len);
	buf[len] = '\0';
	if (strchr(buf, '\n'))
		*strchr(buf, '\n') = '\0';
	for (char *p = buf, *save = NULL, *t; n < 8 && (t = strtok_r(p, "|", &save)); p = NULL)
		f[n++] = t;
	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++)
		trim(f[i]);
	if (!parse_asn(f[0], &got) || got != asn)
		return false;
	char *name = f[n - 1]; /* AS | CC | registry | allocated | name, or AS | name */
	for (char *s = name; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
			*s = ' ';
	if (!*name || !strcmp(name, "NA"))
		return false;
	char *comma = strrchr(name, ',');
	if (comma && strlen(comma + 1) >= 2 && strlen(comma + 1) <= 3) {
		*comma = '\0';
		char *cc = comma + 1;
		trim(cc);
		trim(name);
		snprintf(out, outlen, "AS%u %.*s (%s)", asn, NAME_LEN - 24, name, cc);
	} else {
		snprintf(out, outlen, "AS%u %.*s", asn, NAME_LEN - 16, name);
	}
	return true;
}

/* --- DNS (RFC 1035) --- */

size_t asname_dns_query(uint8_t *buf, size_t len, uint16_t id, const char *qname)
{
	size_t o = 12, ql = strlen(qname);

	if (len < 12 + ql + 2 + 4 || ql > 253)
		return 0;
	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;    /* QDCOUNT */
	for (const char *s = qname; *s;) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		if (!l || l > 63)
			return 0;
		buf[o++] = (uint8_t)l;
		memcpy(buf + o, s, l);
		o += l;
		s += l + (dot ? 1 : 0);
	}
	buf[o++] = 0;
	buf[o++] = 0, buf[o++] = 16; /* TXT */
	buf[o++] = 0, buf[o++] = 1;  /* IN */
	return o;
}

/* Reads a (possibly compressed) name at c into out, dotted and lower case. */
static bool read_name(const uint8_t *msg, size_t msglen, struct cursor *c, char *out, size_t len)
{
	struct cursor at = *c;
	size_t o = 0;
	bool jumped = false;

	for (int hops = 0;;) {
		uint8_t l;
		if (!cur_u8(&at, &l))
			return false;
		if ((l & 0xc0) == 0xc0) {
			uint8_t lo;
			if (!cur_u8(&at, &lo))
				return false;
			size_t off = (size_t)(l & 0x3f) << 8 | lo;
			if (off >= msglen)
				return false;
			if (!jumped)
				*c = at;
			jumped = true;
			if (++hops > 16)
				return false; /* a pointer loop */
			cur_init(&at, msg + off, msglen - off);
			continue;
		}
		if (l & 0xc0)
			return false;
		if (!l)
			break;
		if (o + l + 2 > len)
			return false;
		if (o)
			out[o++] = '.';
		if (!cur_bytes(&at, out + o, l))
			return false;
		for (size_t i = 0; i < l; i++)
			if (out[o + i] >= 'A' && out[o + i] <= 'Z')
				out[o + i] = (char)(out[o + i] - 'A' + 'a');
		o += l;
	}
	out[o] = '\0';
	if (!jumped)
		*c = at;
	return true;
}

static bool same_name(const char *a, const char *b)
{
	return !strcasecmp(a, b);
}

/* The first TXT record's strings, joined. */
static bool txt_rdata(struct cursor *rd, char *out, size_t len)
{
	size_t o = 0;
	uint8_t l;

	while (cur_u8(rd, &l)) {
		if (o + l + 1 > len || !cur_bytes(rd, out + o, l))
			return false;
		o += l;
	}
	out[o] = '\0';
	return o > 0;
}

int asname_dns_parse(const uint8_t *p, size_t len, uint16_t id, const char *qname, uint32_t asn,
                     char *out, size_t outlen)
{
	struct cursor c;
	uint8_t h[12];
	char name[256], txt[512];

	cur_init(&c, p, len);
	if (!cur_bytes(&c, h, sizeof(h)) || get_u16(h) != id || !(h[2] & 0x80) || (h[2] & 0x78) ||
	    get_u16(h + 4) != 1)
		return -1; /* not a response to our standard query */
	unsigned rcode = h[3] & 0x0f;
	if (rcode == 3)
		return 0; /* NXDOMAIN: no such AS */
	if (rcode)
		return -1;
	uint8_t qt[4];
	if (!read_name(p, len, &c, name, sizeof(name)) || !same_name(name, qname) ||
	    !cur_bytes(&c, qt, 4) || get_u16(qt) != 16)
		return -1;
	for (unsigned i = 0, an = get_u16(h + 6); i < an; i++) {
		uint8_t rr[10];
		struct cursor rd;
		if (!read_name(p, len, &c, name, sizeof(name)) || !cur_bytes(&c, rr, 10) ||
		    !cur_sub(&c, get_u16(rr + 8), &rd))
			return -1;
		if (get_u16(rr) != 16 || !same_name(name, qname))
			continue; /* a CNAME on the way, or something else */
		if (!txt_rdata(&rd, txt, sizeof(txt)))
			return -1;
		return asname_from_cymru(asn, txt, strlen(txt), out, outlen) ? 1 : -1;
	}
	return 0;
}

/* --- the resolver thread --- */

static int connect_to(const char *server, const char *defport, int type, uint32_t timeout_ms)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = type}, *res = NULL;
	const char *colon = strrchr(server, ':');

	snprintf(port, sizeof(port), "%s", defport);
	if (server[0] == '[' && strchr(server, ']')) {
		const char *rb = strchr(server, ']');
		snprintf(host, sizeof(host), "%.*s", (int)(rb - server - 1), server + 1);
		if (rb[1] == ':')
			snprintf(port, sizeof(port), "%s", rb + 2);
	} else if (colon && strchr(server, ':') == colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - server), server);
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", server);
	}
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	struct timeval tv = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000};
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static void set_result(struct asname *a, uint32_t asn, int rc, const char *name)
{
	pthread_mutex_lock(&a->mu);
	struct entry *e = slot(&a->cache, asn, true);
	if (e) {
		if (rc > 0) {
			e->state = S_KNOWN;
			e->until = now_s() + a->c.ttl_s;
			snprintf(e->name, sizeof(e->name), "%s", name);
			a->st.resolved++;
		} else if (rc == 0) {
			e->state = S_NOTFOUND;
			e->until = now_s() + NEG_TTL_S;
			a->st.not_found++;
		} else {
			/* keep a stale name; retry later */
			e->state = e->name[0] ? S_KNOWN : S_FAILED;
			e->until = e->name[0] ? e->until : now_s() + RETRY_S;
			a->st.failures++;
		}
		a->dirty = true;
	}
	pthread_mutex_unlock(&a->mu);
}

static void dns_one(struct asname *a, uint32_t asn)
{
	char qname[160], name[NAME_LEN];
	uint8_t q[300], r[4096];
	int rc = -1;

	snprintf(qname, sizeof(qname), "as%u.%s", asn, a->zone);
	int fd = connect_to(a->server, "53", SOCK_DGRAM, a->c.timeout_ms);
	for (int attempt = 0; fd >= 0 && attempt < 2 && rc < 0; attempt++) {
		uint16_t id = (uint16_t)(++a->next_id * 40503u + (uint16_t)asn);
		size_t ql = asname_dns_query(q, sizeof(q), id, qname);
		if (!ql || send(fd, q, ql, 0) != (ssize_t)ql)
			break;
		for (;;) { /* answers that are not ours are skipped until the timeout */
			ssize_t n = recv(fd, r, sizeof(r), 0);
			if (n < 0)
				break;
			rc = asname_dns_parse(r, (size_t)n, id, qname, asn, name, sizeof(name));
			if (rc >= 0)
				break;
			pthread_mutex_lock(&a->mu);
			a->st.bad_answers++;
			pthread_mutex_unlock(&a->mu);
		}
	}
	if (fd >= 0)
		close(fd);
	set_result(a, asn, rc, name);
}

/* One bulk query (begin/verbose/.../end) for the batch; unanswered ASNs fail. */
static void whois_batch(struct asname *a, const uint32_t *asn, size_t n)
{
	char *buf = malloc(WHOIS_MAX + 1), name[NAME_LEN];
	size_t len = 0;
	bool *done = calloc(n, sizeof(*done));
	int fd = buf && done ? connect_to(a->server, "43", SOCK_STREAM, a->c.timeout_ms) : -1;

	if (fd >= 0) {
		int o = snprintf(buf, WHOIS_MAX, "begin\nverbose\n");
		for (size_t i = 0; i < n; i++)
			o += snprintf(buf + o, WHOIS_MAX - (size_t)o, "AS%u\n", asn[i]);
		o += snprintf(buf + o, WHOIS_MAX - (size_t)o, "end\n");
		if (send(fd, buf, (size_t)o, MSG_NOSIGNAL) == o) {
			ssize_t r;
			while (len < WHOIS_MAX && (r = recv(fd, buf + len, WHOIS_MAX - len, 0)) > 0)
				len += (size_t)r;
		}
		close(fd);
	}
	if (buf) {
		buf[len] = '\0';
		for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			uint32_t got;
			char first[32];
			if (sscanf(l, " %31[^| ]", first) != 1 || !parse_asn(first, &got))
				continue;
			for (size_t i = 0; i < n; i++) {
				if (done[i] || asn[i] != got)
					continue;
				done[i] = asname_from_cymru(got, l, strlen(l), name, sizeof(name));
				if (done[i])
					set_result(a, got, 1, name);
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!done || !done[i])
			set_result(a, asn[i], len ? 0 : -1, "");
	free(done);
	free(buf);
}

static void *resolver_main(void *arg)
{
	struct asname *a = arg;
	uint32_t batch[BATCH_MAX];

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		if (!a->n_queue) {
			a->busy = false;
			pthread_cond_broadcast(&a->idle);
			pthread_cond_wait(&a->work, &a->mu);
			continue;
		}
		size_t n = a->n_queue < BATCH_MAX ? a->n_queue : BATCH_MAX;
		memcpy(batch, a->queue, n * sizeof(*batch));
		memmove(a->queue, a->queue + n, (a->n_queue - n) * sizeof(*batch));
		a->n_queue -= n;
		a->busy = true;
		pthread_mutex_unlock(&a->mu);
		if (a->c.proto == ASNAME_WHOIS)
			whois_batch(a, batch, n);
		else
			for (size_t i = 0; i < n && !a->stop; i++)
				dns_one(a, batch[i]);
		pthread_mutex_lock(&a->mu);
	}
	a->busy = false;
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* --- files --- */

static int load_cache(struct asname *a, char *err, size_t errlen)
{
	char line[512];
	FILE *f = fopen(a->cache_file, "re");

	if (!f)
		return errno == ENOENT ? 0
		                       : (snprintf(err, errlen, "asn cache %s: %s", a->cache_file,
		                                   strerror(errno)),
		                          -1);
	while (fgets(line, sizeof(line), f)) {
		unsigned asn;
		long long until;
		int used = 0;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%u\t%lld\t%n", &asn, &until, &used) != 2 || !used)
			continue; /* a damaged line costs one lookup, nothing more */
		struct entry *e = slot(&a->cache, asn, true);
		if (!e)
			break;
		e->until = until;
		e->state = line[used] ? S_KNOWN : S_NOTFOUND;
		snprintf(e->name, sizeof(e->name), "%.95s", line + used);
	}
	fclose(f);
	return 0;
}

static int load_csv(struct asname *a, const char *path, char *err, size_t errlen)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "asn csv %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		uint32_t asn;
		line[strcspn(line, "\r\n")] = '\0';
		char *comma = strchr(line, ',');
		if (!comma || line[0] == '#')
			continue;
		*comma = '\0';
		if (!parse_asn(line, &asn))
			continue; /* a header line */
		char *name = comma + 1;
		trim(name);
		if (name[0] == '"' && strlen(name) > 1 && name[strlen(name) - 1] == '"') {
			name[strlen(name) - 1] = '\0';
			name++;
		}
		struct entry *e = slot(&a->csv, asn, true);
		if (!e)
			break;
		e->state = S_KNOWN;
		snprintf(e->name, sizeof(e->name), "AS%u %.80s", asn, name);
	}
	fclose(f);
	return 0;
}

int asname_save(struct asname *a)
{
	char tmp[4200];

	if (!a->cache_file[0])
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->cache_file);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -1;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->cache.cap; i++) {
		const struct entry *e = &a->cache.e[i];
		if (e->state == S_KNOWN || e->state == S_NOTFOUND)
			fprintf(f, "%u\t%lld\t%s\n", e->asn, (long long)e->until,
			        e->state == S_KNOWN ? e->name : "");
	}
	a->dirty = false;
	pthread_mutex_unlock(&a->mu);
	if (fflush(f) || fsync(fileno(f)) || fclose(f)) {
		unlink(tmp);
		return -1;
	}
	return rename(tmp, a->cache_file);
}

/* The first nameserver of /etc/resolv.conf, else 127.0.0.1. */
static void default_dns(char *out, size_t len)
{
	char line[256], ns[200];
	FILE *f = fopen("/etc/resolv.conf", "re");

	snprintf(out, len, "127.0.0.1");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %199s", ns) == 1) {
			snprintf(out, len, strchr(ns, ':') ? "[%s]" : "%s", ns);
			break;
		}
	}
	if (f)
		fclose(f);
}

struct asname *asname_open(const struct asname_conf *c, char *err, size_t errlen)
{
	struct asname *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "asn: out of memory");
		return NULL;
	}
	a->c = *c;
	a->c.ttl_s = c->ttl_s ? c->ttl_s : DEF_TTL_S;
	a->c.timeout_ms = c->timeout_ms ? c->timeout_ms : DEF_TIMEOUT;
	if (c->server && c->server[0])
		snprintf(a->server, sizeof(a->server), "%s", c->server);
	else if (c->proto == ASNAME_WHOIS)
		snprintf(a->server, sizeof(a->server), "%s", DEF_WHOIS);
	else
		default_dns(a->server, sizeof(a->server));
	snprintf(a->zone, sizeof(a->zone), "%s", c->zone && c->zone[0] ? c->zone : DEF_ZONE);
	snprintf(a->cache_file, sizeof(a->cache_file), "%s", c->cache_file ? c->cache_file : "");
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->idle, NULL);
	if ((a->cache_file[0] && load_cache(a, err, errlen) < 0) ||
	    (c->csv_file && c->csv_file[0] && load_csv(a, c->csv_file, err, errlen) < 0)) {
		asname_close(a);
		return NULL;
	}
	if (c->proto != ASNAME_OFF) {
		if (pthread_create(&a->thr, NULL, resolver_main, a)) {
			snprintf(err, errlen, "asn: cannot start the resolver thread");
			asname_close(a);
			return NULL;
		}
		a->running = true;
	}
	return a;
}

static void enqueue(struct asname *a, struct entry *e)
{
	if (!a->running || a->n_queue == QUEUE_MAX)
		return;
	e->state = S_PENDING;
	a->queue[a->n_queue++] = e->asn;
	a->st.queued++;
	pthread_cond_signal(&a->work);
}

bool asname_get(struct asname *a, uint32_t asn, char *out, size_t len)
{
	bool found = false;
	int64_t now = now_s();

	if (!asn)
		return false;
	pthread_mutex_lock(&a->mu);
	a->st.lookups++;
	struct entry *e = slot(&a->cache, asn, true);
	if (e && e->state == S_EMPTY)
		e->state = S_FAILED, e->until = 0; /* new: due now */
	if (e && e->name[0] && (e->state == S_KNOWN || e->state == S_PENDING)) {
		snprintf(out, len, "%s", e->name);
		found = true;
		a->st.hits++;
	}
	bool expired = e && (e->state == S_KNOWN || e->state == S_NOTFOUND) && now >= e->until;
	if (e && (expired || (e->state == S_FAILED && now >= e->until)))
		enqueue(a, e);
	if (!found) {
		const struct entry *c = slot(&a->csv, asn, false);
		if (c) {
			snprintf(out, len, "%s", c->name);
			found = true;
			a->st.csv_hits++;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return found;
}

bool asname_wait(struct asname *a, uint32_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->mu);
	while (a->running && (a->n_queue || a->busy))
		if (pthread_cond_timedwait(&a->idle, &a->mu, &ts) == ETIMEDOUT)
			break;
	bool empty = !a->n_queue && !a->busy;
	pthread_mutex_unlock(&a->mu);
	return empty;
}

void asname_get_stats(struct asname *a, struct asname_stats *st)
{
	pthread_mutex_lock(&a->mu);
	*st = a->st;
	st->cached = a->cache.n;
	pthread_mutex_unlock(&a->mu);
}

void asname_close(struct asname *a)
{
	if (!a)
		return;
	if (a->running) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_broadcast(&a->work);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thr, NULL);
		if (a->dirty && asname_save(a) < 0)
			WLOG(LL_ERR, "asn cache %s: %s", a->cache_file, strerror(errno));
	}
	free(a->cache.e);
	free(a->csv.e);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->idle);
	free(a);
}
