/* http.c - the HTTP endpoint: libmicrohttpd serving /metrics, /healthz and /api/v1/status. */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "http/prom.h"
#include "lib/log.h"

#ifndef WEIR_VERSION
#define WEIR_VERSION "0.1.0"
#endif

#define MAX_USERS 64

struct source {
	char name[64];
	http_metrics_fn metrics;
	http_status_fn status;
	void *arg;
};

struct user {
	char name[128];
	char pass[128];
};

struct http_server {
	pthread_mutex_t mu; /* the sources; held while they are called */
	struct source *src;
	size_t n_src, cap_src;
	struct MHD_Daemon *mhd;
	struct sockaddr_storage ss;
	socklen_t sslen;
	bool listen;
	char addr[80];
	char token[CONF_STR];
	struct user *users;
	size_t n_users;
	uint64_t start_ms, start_mono;
	uint64_t requests, denied; /* under mu */
};

/* "host:port" or "[v6]:port" into a socket address; false with a message. */
static bool parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len, char *err,
                         size_t errlen)
{
	char host[CONF_STR];
	const char *colon = strrchr(text, ':');
	char *end;

	if (!colon || colon == text) {
		snprintf(err, errlen, "http_listen: '%s' is not host:port", text);
		return false;
	}
	size_t hl = (size_t)(colon - text);
	if (text[0] == '[' && hl >= 2 && text[hl - 1] == ']') {
		memcpy(host, text + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		snprintf(host, sizeof(host), "%.*s", (int)hl, text);
	}
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !colon[1] || port > 65535) {
		snprintf(err, errlen, "http_listen: bad port in '%s'", text);
		return false;
	}
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		snprintf(err, errlen, "http_listen: '%s' is not a numeric address", host);
		return false;
	}
	return true;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a))
		return a->s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(a);
}

/* http_auth_basic_file: "user:password" per line; # comments and blank lines skipped. */
static int load_users(struct http_server *s, const char *path, char *err, size_t errlen)
{
	char line[512];
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "http_auth_basic_file %s: %s", path, strerror(errno));
		return -1;
	}
	s->users = calloc(MAX_USERS, sizeof(*s->users));
	while (s->users && fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		char *c = strchr(line, ':');
		if (!c || c == line || strlen(line) >= sizeof(s->users->name) ||
		    strlen(c + 1) >= sizeof(s->users->pass) || s->n_users == MAX_USERS) {
			snprintf(err, errlen, "%s:%u: expected user:password (at most %d users)",
			         path, lineno, MAX_USERS);
			fclose(f);
			return -1;
		}
		*c = '\0';
		snprintf(s->users[s->n_users].name, sizeof(s->users->name), "%.127s", line);
		snprintf(s->users[s->n_users].pass, sizeof(s->users->pass), "%.127s", c + 1);
		s->n_users++;
	}
	fclose(f);
	if (!s->users || !s->n_users) {
		snprintf(err, errlen, "http_auth_basic_file %s: no user:password line", path);
		return -1;
	}
	return 0;
}

struct http_server *http_new(const struct conf *c, char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->start_ms = now_ms();
	s->start_mono = mono_ms();
	snprintf(s->token, sizeof(s->token), "%s", c->http_auth_token);
	if (c->http_auth_basic_file[0] && load_users(s, c->http_auth_basic_file, err, errlen) < 0)
		goto fail;
	if (c->http_listen[0]) {
		if (!parse_listen(c->http_listen, &s->ss, &s->sslen, err, errlen))
			goto fail;
		if (!is_loopback(&s->ss) && !s->token[0] && !s->n_users) {
			snprintf(err, errlen,
			         "http_listen %s is not a loopback address: set http_auth_token or "
			         "http_auth_basic_file",
			         c->http_listen);
			goto fail;
		}
		s->listen = true;
	}
	return s;
fail:
	http_free(s);
	return NULL;
}

int http_add(struct http_server *s, const char *name, http_metrics_fn metrics,
             http_status_fn status, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (s->n_src == s->cap_src) {
		size_t cap = s->cap_src ? s->cap_src * 2 : 8;
		struct source *n = realloc(s->src, cap * sizeof(*n));
		if (!n) {
			rc = -1;
			goto out;
		}
		s->src = n;
		s->cap_src = cap;
	}
	struct source *src = &s->src[s->n_src++];
	snprintf(src->name, sizeof(src->name), "%s", name);
	src->metrics = metrics;
	src->status = status;
	src->arg = arg;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void http_remove(struct http_server *s, void *arg)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_src;) {
		if (s->src[i].arg == arg)
			memmove(&s->src[i], &s->src[i + 1], (--s->n_src - i) * sizeof(*s->src));
		else
			i++;
	}
	pthread_mutex_unlock(&s->mu);
}

size_t http_process_rss(void)
{
	unsigned long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* The process' own samples, beside what the sources add. */
static void process_metrics(struct http_server *s, struct prom *p)
{
	prom_family(p, "weir_build_info", "gauge", "weir's version (value 1).");
	prom_sample(p, "weir_build_info", NULL, "version=\"" WEIR_VERSION "\"", 1);
	prom_family(p, "weir_process_resident_memory_bytes", "gauge", "Resident set size.");
	prom_sample_u64(p, "weir_process_resident_memory_bytes", NULL, "", http_process_rss());
	prom_family(p, "weir_process_start_time_seconds", "gauge",
	            "Start time of the process since the epoch.");
	prom_sample(p, "weir_process_start_time_seconds", NULL, "", (double)s->start_ms / 1000.0);
	prom_family(p, "weir_http_requests_total", "counter", "HTTP requests served.");
	prom_sample_u64(p, "weir_http_requests_total", NULL, "", s->requests);
	prom_family(p, "weir_http_denied_total", "counter",
	            "HTTP requests refused for want of credentials.");
	prom_sample_u64(p, "weir_http_denied_total", NULL, "", s->denied);
}

char *http_render_metrics(struct http_server *s, size_t *len)
{
	char *text = NULL;
	struct prom *p = prom_new();
	FILE *f;

	*len = 0;
	if (!p)
		return NULL;
	pthread_mutex_lock(&s->mu);
	process_metrics(s, p);
	for (size_t i = 0; i < s->n_src; i++)
		if (s->src[i].metrics)
			s->src[i].metrics(s->src[i].arg, p);
	pthread_mutex_unlock(&s->mu);
	f = open_memstream(&text, len);
	if (f) {
		prom_render(p, f);
		fclose(f);
	}
	prom_free(p);
	return text;
}

char *http_render_status(struct http_server *s, size_t *len)
{
	json_t *root = json_object();
	char *text;

	*len = 0;
	if (!root)
		return NULL;
	json_object_set_new(root, "version", json_string(WEIR_VERSION));
	json_object_set_new(root, "pid", json_integer((json_int_t)getpid()));
	json_object_set_new(root, "started_ms", json_integer((json_int_t)s->start_ms));
	json_object_set_new(root, "uptime_seconds",
	                    json_integer((json_int_t)((mono_ms() - s->start_mono) / 1000)));
	json_object_set_new(root, "rss_bytes", json_integer((json_int_t)http_process_rss()));
	json_object_set_new(root, "http_listen", json_string(s->addr));
	pthread_mutex_lock(&s->mu);
	json_t *names = json_array();
	for (size_t i = 0; i < s->n_src; i++) {
		json_array_append_new(names, json_string(s->src[i].name));
		if (s->src[i].status)
			s->src[i].status(s->src[i].arg, (struct json_t *)root);
	}
	pthread_mutex_unlock(&s->mu);
	json_object_set_new(root, "sources", names);
	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text)
		*len = strlen(text);
	return text;
}

/* Compares without leaking where the first difference is. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return d == 0;
}

static bool authorized(struct http_server *s, struct MHD_Connection *conn)
{
	if (!s->token[0] && !s->n_users)
		return true;
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (s->token[0] && h && !strncasecmp(h, "Bearer ", 7) && same_secret(h + 7, s->token))
		return true;
	if (!s->n_users)
		return false;
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &pass);
	bool ok = false;
	for (size_t i = 0; user && pass && i < s->n_users && !ok; i++)
		ok = !strcmp(user, s->users[i].name) & same_secret(pass, s->users[i].pass);
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

/* body is malloc'd (owned: freed by MHD) or a constant string. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const char *body, size_t len, bool owned)
{
	union {
		const char *c;
		char *m;
	} b = {.c = body}; /* MHD takes void * but only writes to what it must free */
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    len, b.m, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(b.m);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (code == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"weir\"");
	enum MHD_Result rc = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return rc;
}

#define TEXT_CT "text/plain; charset=utf-8"

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
	struct http_server *s = cls;
	static const char not_found[] = "not found\n", bad_method[] = "method not allowed\n",
	                  denied[] = "unauthorized\n", ok[] = "ok\n";
	size_t len;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT_CT, bad_method,
		             sizeof(bad_method) - 1, false);
	if (!strcmp(url, "/healthz")) /* liveness probes carry no credentials */
		return reply(conn, MHD_HTTP_OK, TEXT_CT, ok, sizeof(ok) - 1, false);
	bool allowed = authorized(s, conn);
	pthread_mutex_lock(&s->mu);
	s->requests++;
	s->denied += !allowed;
	pthread_mutex_unlock(&s->mu);
	if (!allowed)
		return reply(conn, MHD_HTTP_UNAUTHORIZED, TEXT_CT, denied, sizeof(denied) - 1,
		             false);
	if (!strcmp(url, "/metrics")) {
		char *body = http_render_metrics(s, &len);
		if (!body)
			return MHD_NO;
		return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body,
		             len, true);
	}
	if (!strcmp(url, "/api/v1/status")) {
		char *body = http_render_status(s, &len);
		if (!body)
			return MHD_NO;
		return reply(conn, MHD_HTTP_OK, "application/json", body, len, true);
	}
	return reply(conn, MHD_HTTP_NOT_FOUND, TEXT_CT, not_found, sizeof(not_found) - 1, false);
}

static void bound_address(struct http_server *s)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (!di || getsockname(di->listen_fd, (struct sockaddr *)&ss, &len) < 0)
		ss = s->ss;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(s->addr, sizeof(s->addr), "%s:%u", host, ntohs(a->sin_port));
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(s->addr, sizeof(s->addr), "[%s]:%u", host, ntohs(a->sin6_port));
	}
}

int http_start(struct http_server *s, char *err, size_t errlen)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

	if (!s->listen || s->mhd)
		return 0;
	if (s->ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
	                          (struct sockaddr *)&s->ss, MHD_OPTION_CONNECTION_LIMIT,
	                          (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	                          MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "http: cannot listen on the configured http_listen address");
		return -1;
	}
	bound_address(s);
	return 0;
}

const char *http_address(const struct http_server *s)
{
	return s->addr;
}

void http_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	pthread_mutex_destroy(&s->mu);
	free(s->src);
	free(s->users);
	free(s);
}
