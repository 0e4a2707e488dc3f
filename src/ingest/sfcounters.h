/* sfcounters.h - sFlow counter samples: sfacctd_counter_file JSON lines and /metrics series. */
#ifndef WEIR_SFCOUNTERS_H
#define WEIR_SFCOUNTERS_H

#include <stddef.h>

struct if_counters;
struct prom;
struct sfcounters;

/* Interfaces (agent, sub-agent, ifIndex) whose latest counters are kept for /metrics. */
#define SFC_MAX_IF 4096

/*
 * Opens path for appending (NULL or "": no file, the counters only feed /metrics). NULL with
 * err set on failure.
 */
struct sfcounters *sfcounters_open(const char *path, char *err, size_t errlen);

/*
 * decode_ctx.counters: writes one line per counter record of the sample (generic interface,
 * ethernet) and keeps the interface's latest generic counters (SFC_MAX_IF interfaces; the
 * one updated longest ago makes room, counted). Thread-safe (a mutex: counter samples are rare
 * next to flow samples).
 */
void sfcounters_write(void *arg, const struct if_counters *k);

/*
 * Adds the latest counters of every interface to p: weir_sflow_if_{in,out}_{octets,packets,
 * errors,discards}_total with labels agent, sub_agent, ifindex.
 */
void sfcounters_metrics(struct sfcounters *s, struct prom *p);

void sfcounters_close(struct sfcounters *s);

#endif
