/* http.h - weir's HTTP endpoint (libmicrohttpd): /metrics, /healthz and /api/v1/status. */
#ifndef WEIR_HTTP_H
#define WEIR_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct prom;
struct json_t;
struct http_server;

/* A source adds its samples to the exposition, or its members to the status object. */
typedef void (*http_metrics_fn)(void *arg, struct prom *p);
typedef void (*http_status_fn)(void *arg, struct json_t *root);

/*
 * Reads http_listen and the auth keys of c. A listen address that is not a loopback one needs
 * http_auth_token or http_auth_basic_file (else a configuration error). An empty http_listen
 * makes a server that only keeps sources (nothing listens). NULL with err set on error.
 */
struct http_server *http_new(const struct conf *c, char *err, size_t errlen);

/*
 * Registers a source (either callback may be NULL); arg identifies it for http_remove(). Sources
 * are called from the HTTP thread under the server's lock, so after http_remove() returns no
 * call is running or will run. 0 ok, -1 out of memory.
 */
int http_add(struct http_server *s, const char *name, http_metrics_fn metrics,
             http_status_fn status, void *arg);
void http_remove(struct http_server *s, void *arg);

/* Starts listening (after any fork). 0 ok (also when http_listen is empty), -1 with err set. */
int http_start(struct http_server *s, char *err, size_t errlen);

/* The address served ("127.0.0.1:9470", the real port when 0 was asked); "" when off. */
const char *http_address(const struct http_server *s);

/* The bodies the endpoints serve, malloc'd and NUL terminated (also for tests). */
char *http_render_metrics(struct http_server *s, size_t *len);
char *http_render_status(struct http_server *s, size_t *len);

/* Stops the listener (waits for the HTTP thread) and frees everything. NULL is fine. */
void http_free(struct http_server *s);

/* The resident set size of this process in bytes (0 when unknown). */
size_t http_process_rss(void);

#endif
