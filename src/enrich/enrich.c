/* enrich.c - the enrich stage: derived fields filled in place before aggregation. */
#include "enrich/enrich.h"

#include <stdio.h>
#include <stdlib.h>

#include "conf/conf.h"
#include "enrich/networks.h"
#include "enrich/tagmap.h"

struct enrich {
	bool renormalize;
	struct networks *nets;
	struct tagmap *sampling;
	struct tagmap *pretag;
};

struct enrich *enrich_open(const struct conf *c, char *err, size_t errlen)
{
	struct enrich *e = calloc(1, sizeof(*e));

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->renormalize = c->renormalize;
	if (c->networks_file[0] && !(e->nets = networks_load(c->networks_file, err, errlen)))
		goto fail;
	if (c->sampling_map[0] &&
	    !(e->sampling = tagmap_load(TAGMAP_SAMPLING, c->sampling_map, err, errlen)))
		goto fail;
	if (c->pre_tag_map[0] &&
	    !(e->pretag = tagmap_load(TAGMAP_PRETAG, c->pre_tag_map, err, errlen)))
		goto fail;
	return e;
fail:
	enrich_free(e);
	return NULL;
}

bool enrich_active(const struct enrich *e)
{
	return e && (e->renormalize || e->nets || e->sampling || e->pretag);
}

static void resolve(const struct networks *n, struct flow *f, bool dst)
{
	struct net_match m;

	if (!FLOW_HAS(f, dst ? FF_DST_ADDR : FF_SRC_ADDR) ||
	    !networks_lookup(n, dst ? &f->dst : &f->src, &m))
		return;
	if (dst) {
		f->dst_mask = m.mask;
		FLOW_SET(f, FF_DST_MASK);
		if (m.as) {
			f->dst_as = m.as;
			FLOW_SET(f, FF_DST_AS);
		}
		if (m.peer_as)
			f->peer_dst_as = m.peer_as;
	} else {
		f->src_mask = m.mask;
		FLOW_SET(f, FF_SRC_MASK);
		if (m.as) {
			f->src_as = m.as;
			FLOW_SET(f, FF_SRC_AS);
		}
		if (m.peer_as)
			f->peer_src_as = m.peer_as;
	}
}

void enrich_flow(const struct enrich *e, struct flow *f)
{
	if (e->sampling)
		tagmap_apply(e->sampling, f);
	if (e->renormalize && f->sampling_rate > 1) {
		f->bytes *= f->sampling_rate;
		f->packets *= f->sampling_rate;
		f->sampling_rate = 1; /* as pmacct (and sfacctd_renormalize): the rate is applied */
	}
	if (e->nets) {
		resolve(e->nets, f, false);
		resolve(e->nets, f, true);
	}
	if (e->pretag)
		tagmap_apply(e->pretag, f);
}

void enrich_free(struct enrich *e)
{
	if (!e)
		return;
	networks_free(e->nets);
	tagmap_free(e->sampling);
	tagmap_free(e->pretag);
	free(e);
}
