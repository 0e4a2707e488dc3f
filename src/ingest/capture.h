/*
 * capture.h - libpcap input (pcap_interface live, pcap_savefile replay): export datagrams to a
 * listener port decoded as if received, every other packet metered into flows.
 */
#ifndef WEIR_CAPTURE_H
#define WEIR_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct conf;
struct plugin_set;
struct capture;
struct pkt_info;

/* What capture_udp_payload() found. */
enum cap_udp {
	CAP_UDP_NONE = 0, /* not UDP, or a UDP length the IP header contradicts */
	CAP_UDP_PARTIAL,  /* UDP, but fragmented or cut short by the snap length */
	CAP_UDP_WHOLE,    /* the whole datagram is in the frame */
};

/*
 * The UDP payload of a frame: p[0..caplen) as pkt_parse() read it into pi. CAP_UDP_WHOLE sets
 * *payload (inside p) and *len (the UDP length field minus its header). Reads nothing past
 * p + caplen.
 */
enum cap_udp capture_udp_payload(const uint8_t *p, size_t caplen, const struct pkt_info *pi,
                                 const uint8_t **payload, size_t *len);

/* True when the configuration asks for packet capture (pcap_interface or pcap_savefile). */
bool capture_wanted(const struct conf *c);

/*
 * Opens the interface or file, compiles pcap_filter and allocates the flow cache and (with
 * weir_pcap_decode_exports) the decode state for the UDP datagrams sent to a port of c's
 * listeners that a decoder recognises: they are decoded, exporter = their IP source address,
 * arrival = their capture time, and not metered. Records and flows go to ps as worker `worker`
 * (plugin_open() must have counted it). NULL with err set on failure.
 */
struct capture *capture_open(const struct conf *c, struct plugin_set *ps, unsigned worker,
                             char *err, size_t errlen);

/*
 * Where sFlow counter samples of decoded export datagrams go (decode_ctx.counters; e.g.
 * sfcounters_write, which is thread-safe). Before capture_start(); none by default.
 */
struct if_counters;
void capture_set_counters(struct capture *cap, void (*fn)(void *, const struct if_counters *),
                          void *arg);

/*
 * Starts the capture thread. A savefile read to its end flushes the cache and, unless
 * pcap_savefile_wait is set, asks the process to stop (SIGTERM), as pmacctd exits.
 */
int capture_start(struct capture *cap, char *err, size_t errlen);

/* Stops the thread; the flows still cached are exported first. */
void capture_stop(struct capture *cap);

/* Where it reads from, as one line. */
void capture_describe(const struct capture *cap, FILE *out);
/*
 * Packets seen, kernel drops (live), the flow cache's counters, the export datagrams decoded
 * and (once stopped) the per-exporter decode counters.
 */
void capture_stats_print(struct capture *cap, FILE *out);
/* The description (and with stats, the counters) through the log. */
void capture_log(struct capture *cap, bool stats);

/*
 * Stops and frees. The texts of decoded records (AS paths, communities) live in the capture's
 * pool: free it after plugin_free().
 */
void capture_free(struct capture *cap);

#endif
