/* asname.h - AS numbers to names: Team Cymru (DNS TXT or whois bulk), disk cache, CSV fallback. */
#ifndef WEIR_ASNAME_H
#define WEIR_ASNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum asname_proto { ASNAME_DNS = 0, ASNAME_WHOIS, ASNAME_OFF };

struct asname_conf {
	enum asname_proto proto;
	const char *server;     /* DNS: "ip[:port]" (default: the first resolv.conf nameserver);
	                           whois: "ip[:port]" (default port 43); Team Cymru's by default */
	const char *zone;       /* DNS zone, default "asn.cymru.com" */
	const char *cache_file; /* NULL/"" = no disk cache */
	const char *csv_file;   /* "asn,name" lines: the offline fallback; NULL/"" = none */
	uint32_t ttl_s;         /* cache lifetime of a name (default 7 days) */
	uint32_t timeout_ms;    /* per query */
};

struct asname_stats {
	uint64_t lookups, hits, csv_hits, queued, resolved, not_found, failures, bad_answers;
	size_t cached;
};

struct asname;

/*
 * Loads the cache and the CSV and starts the resolver thread (none with ASNAME_OFF). NULL with
 * err set when a given file cannot be read (a missing cache file is fine: it is created).
 */
struct asname *asname_open(const struct asname_conf *c, char *err, size_t errlen);

/*
 * Never blocks on the network: copies the name of asn into out ("AS57811 ATMSOFTWARE (PL)")
 * from the cache, else from the CSV, and returns true; else queues asn for the resolver and
 * returns false. An expired cache entry is still returned while it is being refreshed.
 */
bool asname_get(struct asname *a, uint32_t asn, char *out, size_t len);

/* Waits at most ms for the queued lookups to finish; true when none is left. */
bool asname_wait(struct asname *a, uint32_t ms);

/* Writes the cache file (atomically). 0 ok, -1 with errno. */
int asname_save(struct asname *a);

void asname_get_stats(struct asname *a, struct asname_stats *st);

/* Stops the resolver, saves the cache, frees everything. */
void asname_close(struct asname *a);

/*
 * Parsers of the two wire forms (exposed for tests and fuzzing). A Team Cymru AS record,
 * "57811 | PL | ripencc | 2012-03-06 | ATMSOFTWARE, PL", becomes "AS57811 ATMSOFTWARE (PL)";
 * false when the text is not such a record for asn.
 */
bool asname_from_cymru(uint32_t asn, const char *txt, size_t len, char *out, size_t outlen);

/*
 * A DNS response to query id `id` for a TXT question about asn: checks the header (response,
 * no error, one question), the question name and type, and returns the first TXT answer's
 * name. 1 found, 0 no such AS (NXDOMAIN / no TXT), -1 not the answer expected.
 */
int asname_dns_parse(const uint8_t *p, size_t len, uint16_t id, const char *qname, uint32_t asn,
                     char *out, size_t outlen);

/* Builds the TXT query for qname; returns its length (0 when it does not fit). */
size_t asname_dns_query(uint8_t *buf, size_t len, uint16_t id, const char *qname);

#endif
