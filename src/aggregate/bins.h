/* bins.h - time bins (*_history, *_history_offset) and pro-rating of flows across them. */
#ifndef WEIR_AGG_BINS_H
#define WEIR_AGG_BINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

#define AGG_PRORATE_MAX 64 /* a flow spanning more bins is accounted to its first one */

struct agg_bins {
	uint32_t history; /* seconds; 0 = no bins */
	uint32_t offset;  /* seconds the boundaries are shifted by */
	bool pro_rating;
};

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
