/* capture.h - libpcap input (pcap_interface live, pcap_savefile replay) metered into flows. */
#ifndef WEIR_CAPTURE_H
#define WEIR_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct conf;
struct plugin_set;
struct capture;

/* True when the configuration asks for packet capture (pcap_interface or pcap_savefile). */
bool capture_wanted(const struct conf *c);

/*
 * Opens the interface or file, compiles pcap_filter and allocates the flow cache. Flows go to
 * ps as worker `worker` (plugin_open() must have counted it). NULL with err set on failure.
 */
struct capture *capture_open(const struct conf *c, struct plugin_set *ps, unsigned worker,
                             char *err, size_t errlen);

/*
 * Starts the capture thread. A savefile read to its end flushes the cache and, unless
 * pcap_savefile_wait is set, asks the process to stop (SIGTERM), as pmacctd exits.
 */
int capture_start(struct capture *cap, char *err, size_t errlen);

/* Stops the thread; the flows still cached are exported first. */
void capture_stop(struct capture *cap);

/* Where it reads from, as one line. */
void capture_describe(const struct capture *cap, FILE *out);
/* Packets seen, kernel drops (live), the flow cache's counters. */
void capture_stats_print(struct capture *cap, FILE *out);
/* The description (and with stats, the counters) through the log. */
void capture_log(struct capture *cap, bool stats);

void capture_free(struct capture *cap);

#endif
