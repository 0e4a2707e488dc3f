/* bins.c - time bins and pro-rating: pure arithmetic on a flow's times and counters. */
#include "aggregate/bins.h"

uint32_t agg_bin_of(const struct agg_bins *b, uint64_t t_ms)
{
	uint64_t t = t_ms / 1000;

	if (!b->history)
		return 0;
	if (t < b->offset)
		return b->offset;
	return (uint32_t)((t - b->offset) / b->history * b->history + b->offset);
}

static uint64_t part(uint64_t v, uint64_t num, uint64_t den)
{
	return (uint64_t)((unsigned __int128)v * num / den);
}

size_t agg_bins_split(const struct agg_bins *b, const struct flow *f, uint64_t t_ms, uint64_t flows,
                      struct agg_share *out)
{
	out[0] = (struct agg_share){agg_bin_of(b, t_ms), f->bytes, f->packets, flows};
	if (!b->history || !b->pro_rating || !FLOW_HAS(f, FF_FIRST) || !FLOW_HAS(f, FF_LAST) ||
	    f->last_ms <= f->first_ms)
		return 1;

	uint64_t first = f->first_ms, last = f->last_ms, span = last - first;
	uint32_t b0 = agg_bin_of(b, first), b1 = agg_bin_of(b, last);
	if (b0 == b1 || (b1 - b0) / b->history >= AGG_PRORATE_MAX)
		return 1;

	size_t n = 0;
	uint64_t bytes = 0, packets = 0;
	for (uint64_t bin = b0; bin <= b1; bin += b->history) {
		uint64_t lo = bin * 1000 > first ? bin * 1000 : first;
		uint64_t hi = (bin + b->history) * 1000 < last ? (bin + b->history) * 1000 : last;
		struct agg_share *s = &out[n++];
		s->bin = (uint32_t)bin;
		s->flows = n == 1 ? flows : 0;
		if (bin == b1) {
			s->bytes = f->bytes - bytes;
			s->packets = f->packets - packets;
		} else {
			s->bytes = part(f->bytes, hi - lo, span);
			s->packets = part(f->packets, hi - lo, span);
		}
		bytes += s->bytes;
		packets += s->packets;
	}
	return n;
}
