/* influx.h - InfluxDB over HTTP: line protocol text and a /write client (influxdb sink, ship). */
#ifndef WEIR_INFLUX_H
#define WEIR_INFLUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct influx_target {
	const char *url;      /* http://127.0.0.1:8086 */
	const char *database; /* 1.x: /write?db= */
	const char *org;      /* 2.x: /api/v2/write?org=&bucket= when bucket is set */
	const char *bucket;
	const char *token; /* Authorization: Token ... */
	const char *user;  /* 1.x basic auth */
	const char *password;
	uint32_t timeout_ms;
	bool gzip;
};

/* Outcome of one POST. */
enum influx_rc {
	INFLUX_OK = 0,       /* 2xx: written */
	INFLUX_REJECTED = 1, /* 4xx: the data is wrong; retrying cannot help */
	INFLUX_RETRY = -1,   /* network error or 5xx: try again later */
};

#define INFLUX_LAT_BUCKETS 10
extern const double influx_lat_le[INFLUX_LAT_BUCKETS]; /* seconds; +Inf is implied */

struct influx_stats {
	uint64_t requests, ok, rejected, server_errors, network_errors;
	uint64_t bytes_sent;                                /* after compression */
	uint64_t lat_count, lat_bucket[INFLUX_LAT_BUCKETS]; /* cumulative (le) counts */
	double lat_sum;
};

struct influx_client;

/* Builds the write URL from t (strings are copied). NULL with err set on error. */
struct influx_client *influx_client_new(const struct influx_target *t, char *err, size_t errlen);
void influx_client_free(struct influx_client *c);

/*
 * POSTs body (line protocol, newline separated, gzip'd on the way when asked). On
 * INFLUX_REJECTED msg holds the status, the server's message and the offending line when the
 * server names one; on INFLUX_RETRY the reason.
 */
enum influx_rc influx_post(struct influx_client *c, const char *body, size_t len, char *msg,
                           size_t msglen);
void influx_client_stats(const struct influx_client *c, struct influx_stats *st);

/*
 * Appends s to out escaped for the line protocol: in a measurement name commas and blanks are
 * escaped, in tag keys/values and field keys also '='. Returns the length it needed (like
 * snprintf); out is NUL terminated when len > 0.
 */
enum influx_part { INFLUX_MEASUREMENT, INFLUX_TAG };
size_t influx_escape(char *out, size_t len, const char *s, enum influx_part part);

/*
 * Finds the line a server error names ("... at line 3", or the quoted text after "unable to
 * parse '") in body. Returns a pointer into body and its length in *n, or NULL.
 */
const char *influx_offending_line(const char *body, size_t body_len, const char *err, size_t *n);

#endif
