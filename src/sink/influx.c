/* influx.c - InfluxDB /write client (libcurl, gzip through zlib) and line protocol escaping. */
#include "sink/influx.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/log.h"

const double influx_lat_le[INFLUX_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,  0.1,    0.25,  1,    5};

#define REPLY_MAX 4096

struct influx_client {
	CURL *curl;
	struct curl_slist *headers;
	char *url;
	char *userpwd;
	bool gzip;
	long timeout_ms;
	char reply[REPLY_MAX]; /* the server's answer, cut */
	size_t reply_len;
	uint8_t *z; /* compressed body */
	size_t z_cap;
	struct influx_stats st;
};

size_t influx_escape(char *out, size_t len, const char *s, enum influx_part part)
{
	size_t o = 0;

	for (; *s; s++) {
		bool esc = *s == ',' || *s == ' ' || (part == INFLUX_TAG && *s == '=');
		if (*s == '\n' || *s == '\r')
			continue; /* a newline would end the line: never valid inside one */
		if (esc) {
			if (o + 1 < len)
				out[o] = '\\';
			o++;
		}
		if (o + 1 < len)
			out[o] = *s;
		o++;
	}
	if (len)
		out[o < len ? o : len - 1] = '\0';
	return o;
}

static char *url_part(CURL *curl, const char *s)
{
	return curl_easy_escape(curl, s ? s : "", 0);
}

static char *build_url(CURL *curl, const struct influx_target *t)
{
	char *a = NULL, *b = NULL, *url = NULL;
	size_t base = strlen(t->url);

	while (base && t->url[base - 1] == '/')
		base--;
	if (t->bucket && t->bucket[0]) {
		a = url_part(curl, t->org);
		b = url_part(curl, t->bucket);
		if (a && b &&
		    asprintf(&url, "%.*s/api/v2/write?org=%s&bucket=%s&precision=ms", (int)base,
		             t->url, a, b) < 0)
			url = NULL;
	} else {
		a = url_part(curl, t->database);
		if (a && asprintf(&url, "%.*s/write?db=%s&precision=ms", (int)base, t->url, a) < 0)
			url = NULL;
	}
	curl_free(a);
	curl_free(b);
	return url;
}

struct influx_client *influx_client_new(const struct influx_target *t, char *err, size_t errlen)
{
	struct influx_client *c = calloc(1, sizeof(*c));
	char auth[512];

	if (!c || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(c->curl = curl_easy_init()))
		goto oom;
	if (strncmp(t->url, "http://", 7) && strncmp(t->url, "https://", 8)) {
		snprintf(err, errlen, "influxdb_url '%s' is not an http:// or https:// URL",
		         t->url);
		influx_client_free(c);
		return NULL;
	}
	if (!(c->url = build_url(c->curl, t)))
		goto oom;
	c->gzip = t->gzip;
	c->timeout_ms = t->timeout_ms ? (long)t->timeout_ms : 10000;
	c->headers = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
	if (c->gzip)
		c->headers = curl_slist_append(c->headers, "Content-Encoding: gzip");
	if (t->token && t->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Token %s", t->token);
		c->headers = curl_slist_append(c->headers, auth);
	}
	if (t->user && t->user[0] &&
	    asprintf(&c->userpwd, "%s:%s", t->user, t->password ? t->password : "") < 0)
		c->userpwd = NULL;
	if (!c->headers)
		goto oom;
	return c;
oom:
	snprintf(err, errlen, "influxdb: out of memory (or libcurl failed to start)");
	influx_client_free(c);
	return NULL;
}

void influx_client_free(struct influx_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->url);
	free(c->userpwd);
	free(c->z);
	free(c);
}

static size_t on_reply(char *p, size_t size, size_t n, void *arg)
{
	struct influx_client *c = arg;
	size_t len = size * n, room = REPLY_MAX - 1 - c->reply_len;

	memcpy(c->reply + c->reply_len, p, len < room ? len : room);
	c->reply_len += len < room ? len : room;
	c->reply[c->reply_len] = '\0';
	return len;
}

/* gzip (RFC 1952) of body into c->z. Returns the compressed length, 0 on failure. */
static size_t deflate_body(struct influx_client *c, const char *body, size_t len)
{
	z_stream zs = {0};
	size_t need = compressBound((uLong)len) + 64;

	if (need > c->z_cap) {
		uint8_t *z = realloc(c->z, need);
		if (!z)
			return 0;
		c->z = z;
		c->z_cap = need;
	}
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return 0;
	zs.next_in = (Bytef *)(uintptr_t)body;
	zs.avail_in = (uInt)len;
	zs.next_out = c->z;
	zs.avail_out = (uInt)c->z_cap;
	int rc = deflate(&zs, Z_FINISH);
	size_t out = zs.total_out;
	deflateEnd(&zs);
	return rc == Z_STREAM_END ? out : 0;
}

static void observe(struct influx_client *c, double secs)
{
	c->st.lat_count++;
	c->st.lat_sum += secs;
	for (int i = 0; i < INFLUX_LAT_BUCKETS; i++)
		if (secs <= influx_lat_le[i])
			c->st.lat_bucket[i]++;
}

const char *influx_offending_line(const char *body, size_t body_len, const char *err, size_t *n)
{
	const char *p = strstr(err, "line ");
	if (p && p[5] >= '1' && p[5] <= '9') {
		long want = strtol(p + 5, NULL, 10);
		const char *s = body, *end = body + body_len;
		for (long i = 1; i < want && s < end; i++) {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			s = nl ? nl + 1 : end;
		}
		if (s < end) {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			*n = (size_t)((nl ? nl : end) - s);
			return s;
		}
	}
	p = strstr(err, "unable to parse '");
	if (p) {
		p += 17;
		const char *q = strchr(p, '\'');
		size_t want = q ? (size_t)(q - p) : strlen(p);
		for (const char *s = body; s && s < body + body_len;) {
			const char *nl = memchr(s, '\n', (size_t)(body + body_len - s));
			size_t l = (size_t)((nl ? nl : body + body_len) - s);
			if (l == want && !memcmp(s, p, l)) {
				*n = l;
				return s;
			}
			s = nl ? nl + 1 : NULL;
		}
	}
	return NULL;
}

static void rejected_msg(struct influx_client *c, long code, const char *body, size_t len,
                         char *msg, size_t msglen)
{
	size_t n = 0;
	const char *line = influx_offending_line(body, len, c->reply, &n);

	if (line)
		snprintf(msg, msglen, "HTTP %ld: %.400s; offending line: %.*s", code, c->reply,
		         (int)(n > 512 ? 512 : n), line);
	else
		snprintf(msg, msglen, "HTTP %ld: %.400s; first line: %.*s", code, c->reply,
		         (int)strcspn(body, "\n") > 512 ? 512 : (int)strcspn(body, "\n"), body);
}

enum influx_rc influx_post(struct influx_client *c, const char *body, size_t len, char *msg,
                           size_t msglen)
{
	const void *data = body;
	size_t dlen = len;
	long code = 0;
	double secs = 0;

	msg[0] = '\0';
	if (c->gzip) {
		if (!(dlen = deflate_body(c, body, len))) {
			snprintf(msg, msglen, "gzip failed");
			return INFLUX_RETRY;
		}
		data = c->z;
	}
	c->reply_len = 0;
	c->reply[0] = '\0';
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)dlen);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	if (c->userpwd)
		curl_easy_setopt(c->curl, CURLOPT_USERPWD, c->userpwd);
	c->st.requests++;
	CURLcode rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME, &secs);
	observe(c, secs);
	if (rc != CURLE_OK) {
		c->st.network_errors++;
		snprintf(msg, msglen, "%s", curl_easy_strerror(rc));
		return INFLUX_RETRY;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300) {
		c->st.ok++;
		c->st.bytes_sent += dlen;
		return INFLUX_OK;
	}
	if (code >= 400 && code < 500 && code != 408 && code != 429) {
		c->st.rejected++;
		rejected_msg(c, code, body, len, msg, msglen);
		return INFLUX_REJECTED;
	}
	c->st.server_errors++;
	snprintf(msg, msglen, "HTTP %ld: %.400s", code, c->reply);
	return INFLUX_RETRY;
}

void influx_client_stats(const struct influx_client *c, struct influx_stats *st)
{
	*st = c->st;
}
