/* meter.h - the bounded flow cache that meters captured packets into struct flow records. */
#ifndef WEIR_METER_H
#define WEIR_METER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decode/pkt.h"
#include "weir/flow.h"

struct meter_conf {
	uint32_t max_entries; /* flows held at once; a new flow beyond it evicts the idlest */
	uint32_t active_ms;   /* a flow older than this is exported at its next packet */
	uint32_t inactive_ms; /* a flow silent this long is exported */
	uint32_t in_if;       /* interface index put in every flow (0 = none) */
};

struct meter_stats {
	uint64_t packets;   /* metered into flows */
	uint64_t bytes;     /* IP bytes metered */
	uint64_t not_ip;    /* frames skipped: not IPv4/IPv6 (ARP, LLDP ...) */
	uint64_t malformed; /* bad IP header, zero-length or truncated before the IP header */
	uint64_t flows;     /* flow entries created */
	uint64_t exported;  /* flows handed on (sum of the four reasons below) */
	uint64_t ended_tcp; /* ... because of a FIN or RST */
	uint64_t active;    /* ... active timeout */
	uint64_t inactive;  /* ... inactive timeout (or the final flush) */
	uint64_t evicted;   /* ... the cache was full */
	uint32_t in_use;
};

struct meter;

/* NULL on allocation failure. The cache is allocated once: no malloc per packet. */
struct meter *meter_new(const struct meter_conf *c);
void meter_free(struct meter *m);

/*
 * Expired flows go to batch; when it is full, emit(arg, batch) is called and must empty it.
 * Set once before the first packet.
 */
void meter_set_output(struct meter *m, struct flow_batch *batch,
                      void (*emit)(void *arg, struct flow_batch *b), void *arg);

/*
 * Meters one captured frame of link type link: caplen bytes at p (never written), wire_len
 * the length on the wire, ts_ms its capture time.
 */
void meter_packet(struct meter *m, const uint8_t *p, size_t caplen, uint32_t wire_len,
                  enum pkt_link link, uint64_t ts_ms);

/*
 * The same for a frame pkt_parse() already read into pi (the caller parsed it to decide what
 * the frame is): wire_len its length on the wire, ts_ms its capture time.
 */
void meter_parsed(struct meter *m, const struct pkt_info *pi, uint32_t wire_len, uint64_t ts_ms);

/* Exports flows idle longer than inactive_ms at now_ms; call about once a second. */
void meter_expire(struct meter *m, uint64_t now_ms);

/* Exports every flow (end of a savefile, shutdown). */
void meter_flush(struct meter *m, uint64_t now_ms);

const struct meter_stats *meter_stats(const struct meter *m);
void meter_stats_print(const struct meter *m, FILE *out);

#endif
