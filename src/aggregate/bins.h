/* bins.h - time bins (*_history, *_history_offset) and pro-rating of flows across them. */
#ifndef WEIR_AGG_BINS_H
#define WEIR_AGG_BINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

#define AGG_PRORATE_MAX 64 /* a flow spanning more bins is accounted to its first one */

/* agg_bins.restart: s/m/h/d bins also start at every week / month start (*_history_roundoff). */
enum agg_restart { AGG_RESTART_NONE = 0, AGG_RESTART_WEEK, AGG_RESTART_MONTH };

#define AGG_WEEK        604800u /* seconds */
#define AGG_WEEK_ANCHOR 345600u /* 1970-01-05, the first Monday (the epoch was a Thursday) */

/*
 * Bins are [anchor + k * history) shifted by offset (plus [0, anchor) before the first), or
 * calendar months when months is set; restart cuts them at every week/month start as well.
 */
struct agg_bins {
	uint32_t history; /* seconds; 0 = no bins (unless months) */
	uint32_t offset;  /* seconds the boundaries are shifted by */
	bool pro_rating;
	uint32_t months; /* bins of this many calendar months (UTC); history is then 0 */
	uint32_t anchor; /* a boundary, seconds since the epoch: AGG_WEEK_ANCHOR for weeks */
	uint8_t restart; /* enum agg_restart */
};

/* Fills b's history/months/anchor/restart from plugin_conf's history and roundoff letters. */
void agg_bins_set(struct agg_bins *b, uint32_t history, const char *roundoff);

/* The start of the bin after the one starting at bin (seconds since the epoch). */
uint64_t agg_bin_next(const struct agg_bins *b, uint32_t bin);

/* One bin's part of a flow. */
struct agg_share {
	uint32_t bin; /* start of the bin, seconds since the epoch */
	uint64_t bytes, packets, flows;
};

/* The start of the bin holding t_ms (seconds since the epoch). */
uint32_t agg_bin_of(const struct agg_bins *b, uint64_t t_ms);

/*
 * Splits f's counters over the bins it lands in: one share at the bin of t_ms, or with
 * pro_rating and known start/end times one share per bin the flow spans, each proportional to
 * its overlap (the last takes the rounding remainder, so the shares sum to the flow exactly;
 * the flow count `flows` goes to the first). Returns the number of shares written
 * (1..AGG_PRORATE_MAX).
 */
size_t agg_bins_split(const struct agg_bins *b, const struct flow *f, uint64_t t_ms, uint64_t flows,
                      struct agg_share *out);

#endif
