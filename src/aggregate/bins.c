/* bins.c - time bins and pro-rating: pure arithmetic on a flow's times and counters. */
#include "aggregate/bins.h"

#include <string.h>

#include "conf/conf.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Months since 1970-01 of the month holding u seconds since the epoch (civil_from_days). */
static uint64_t month_index(uint64_t u)
{
	uint64_t z = u / 86400 + 719468; /* days since 0000-03-01 */
	uint64_t era = z / 146097, doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153, m = mp < 10 ? mp + 3 : mp - 9;
	uint64_t y = yoe + era * 400 + (m <= 2);
	return (y - 1970) * 12 + m - 1;
}

static uint64_t month_start(uint64_t idx)
{
	return (uint64_t)days_from_civil(1970 + (int64_t)(idx / 12), (unsigned)(idx % 12) + 1, 1) *
	       86400;
}

/* Weeks run from Monday; the days before the first Monday make a short week of their own. */
static uint64_t week_start(uint64_t u)
{
	return u < AGG_WEEK_ANCHOR ? 0 : u - (u - AGG_WEEK_ANCHOR) % AGG_WEEK;
}

/* The bin start at or before u, both in offset-shifted seconds. */
static uint64_t start_of(const struct agg_bins *b, uint64_t u)
{
	if (b->months)
		return month_start(month_index(u) / b->months * b->months);

	uint64_t base = 0;
	if (b->restart == AGG_RESTART_WEEK)
		base = week_start(u);
	else if (b->restart == AGG_RESTART_MONTH)
		base = month_start(month_index(u));
	else if (u >= b->anchor)
		base = b->anchor;
	return base + (u - base) / b->history * b->history;
}

/* The start of the bin after the one starting at s, in offset-shifted seconds. */
static uint64_t next_of(const struct agg_bins *b, uint64_t s)
{
	if (b->months)
		return month_start(month_index(s) + b->months);

	uint64_t n = s + b->history, cut = n;
	if (b->restart == AGG_RESTART_WEEK)
		cut = s < AGG_WEEK_ANCHOR ? AGG_WEEK_ANCHOR : week_start(s) + AGG_WEEK;
	else if (b->restart == AGG_RESTART_MONTH)
		cut = month_start(month_index(s) + 1);
	else if (s < b->anchor)
		cut = b->anchor;
	return n < cut ? n : cut;
}

void agg_bins_set(struct agg_bins *b, uint32_t history, const char *roundoff)
{
	b->history = b->months = b->anchor = 0;
	b->restart = AGG_RESTART_NONE;
	if (history & CONF_HISTORY_MONTHS) {
		b->months = history & CONF_HISTORY_COUNT;
	} else if (history & CONF_HISTORY_WEEKS) {
		b->history = (history & CONF_HISTORY_COUNT) * AGG_WEEK;
		b->anchor = AGG_WEEK_ANCHOR;
	} else {
		b->history = history;
		/* m, h, d need nothing: epoch multiples already start on them */
		if (history && roundoff && strchr(roundoff, 'M'))
			b->restart = AGG_RESTART_MONTH;
		else if (history && roundoff && strchr(roundoff, 'w'))
			b->restart = AGG_RESTART_WEEK;
	}
}

uint32_t agg_bin_of(const struct agg_bins *b, uint64_t t_ms)
{
	uint64_t t = t_ms / 1000;

	if (!b->history && !b->months)
		return 0;
	if (t < b->offset)
		return b->offset;
	if (!b->months && !b->anchor && b->restart == AGG_RESTART_NONE)
		return (uint32_t)((t - b->offset) / b->history * b->history + b->offset);
	return (uint32_t)(start_of(b, t - b->offset) + b->offset);
}

uint64_t agg_bin_next(const struct agg_bins *b, uint32_t bin)
{
	if (!b->history && !b->months)
		return bin;
	if (!b->months && !b->anchor && b->restart == AGG_RESTART_NONE)
		return (uint64_t)bin + b->history;
	return next_of(b, bin - b->offset) + b->offset;
}

static uint64_t part(uint64_t v, uint64_t num, uint64_t den)
{
	return (uint64_t)((unsigned __int128)v * num / den);
}

size_t agg_bins_split(const struct agg_bins *b, const struct flow *f, uint64_t t_ms, uint64_t flows,
                      struct agg_share *out)
{
	out[0] = (struct agg_share){agg_bin_of(b, t_ms), f->bytes, f->packets, flows};
	if ((!b->history && !b->months) || !b->pro_rating || !FLOW_HAS(f, FF_FIRST) ||
	    !FLOW_HAS(f, FF_LAST) || f->last_ms <= f->first_ms)
		return 1;

	uint64_t first = f->first_ms, last = f->last_ms, span = last - first;
	uint32_t b0 = agg_bin_of(b, first), b1 = agg_bin_of(b, last);
	if (b0 == b1)
		return 1;

	struct agg_share whole = out[0];
	size_t n = 0;
	uint64_t bytes = 0, packets = 0;
	for (uint64_t bin = b0, next; bin <= b1; bin = next) {
		if (n == AGG_PRORATE_MAX) { /* too many bins: all of it to one */
			out[0] = whole;
			return 1;
		}
		next = agg_bin_next(b, (uint32_t)bin);
		uint64_t lo = bin * 1000 > first ? bin * 1000 : first;
		uint64_t hi = next * 1000 < last ? next * 1000 : last;
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
