/* enrich.c - the enrich stage: derived fields filled in place before aggregation. */
#include "enrich/enrich.h"

#include <stdio.h>
#include <stdlib.h>

#include "conf/conf.h"
#include "enrich/networks.h"
#include "enrich/tagmap.h"

/* How one field group is filled, decided once in enrich_open(). */
enum method { M_KEEP, M_FILE, M_LONGEST, M_MASK };

struct enrich {
	bool renormalize;
	enum method as;       /* src_as, dst_as, peer_src_as, peer_dst_as */
	enum method net;      /* src_mask, dst_mask */
	enum method as_meter; /* the same for flows metered from packets (pcap input) */
	enum method net_meter;
	uint8_t mask4, mask6;  /* networks_mask per family (M_MASK) */
	struct networks *nets; /* networks_file; NULL = none */
	struct tagmap *sampling;
	struct tagmap *pretag;
};

/*
 * pmacct's choice for nfacctd/sfacctd: file and longest read networks_file (longest without
 * one is the exporter's values), mask applies networks_mask; bgp/bmp/igp (no listener yet,
 * warned about at load) keep the exporter's values.
 */
static enum method method_of(int src, const struct conf *c)
{
	switch (src) {
	case CONF_SRC_FILE:
		return c->networks_file[0] ? M_FILE : M_KEEP;
	case CONF_SRC_LONGEST:
	case CONF_SRC_FALLBACK:
		return c->networks_file[0] ? M_LONGEST : M_KEEP;
	case CONF_SRC_MASK:
		return c->networks_mask ? M_MASK : M_KEEP;
	default:
		return M_KEEP;
	}
}

struct enrich *enrich_open(const struct conf *c, char *err, size_t errlen)
{
	struct enrich *e = calloc(1, sizeof(*e));

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->renormalize = c->renormalize;
	e->as = method_of(c->nfacctd_as, c);
	e->net = method_of(c->nfacctd_net, c);
	e->mask6 = (uint8_t)(c->networks_mask > 128 ? 128 : c->networks_mask);
	e->mask4 = (uint8_t)(e->mask6 > 32 ? 32 : e->mask6);
	/* Loaded (and so checked) even when no method reads it, as pmacct does. */
	if (c->networks_file[0] && !(e->nets = networks_load(c->networks_file, err, errlen)))
		goto fail;
	/*
	 * Flows metered from packets carry no exporter masks or ASes: for them the default is
	 * pmacctd's (networks_file for nets and ASes, else networks_mask for nets).
	 */
	e->as_meter = e->as != M_KEEP ? e->as : e->nets ? M_FILE : M_KEEP;
	e->net_meter = e->net != M_KEEP       ? e->net
	               : e->nets              ? M_FILE
	               : c->networks_mask > 0 ? M_MASK
	                                      : M_KEEP;
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
	return e && (e->renormalize || e->as != M_KEEP || e->net != M_KEEP ||
	             e->as_meter != M_KEEP || e->net_meter != M_KEEP || e->sampling || e->pretag);
}

/*
 * One side's mask and AS numbers, as pmacct's nfacctd does: the mask first (file: the
 * matching prefix or 0; longest: the file's when longer than the exporter's; mask: the fixed
 * one), then the AS numbers (file: the matching line's or 0; longest: the line's when its
 * prefix is at least as long as the mask just chosen).
 */
static void resolve(const struct enrich *e, enum method as_m, enum method net_m, struct flow *f,
                    bool dst)
{
	const struct wip *a = dst ? &f->dst : &f->src;
	uint8_t *mask = dst ? &f->dst_mask : &f->src_mask;
	uint32_t *as = dst ? &f->dst_as : &f->src_as;
	uint32_t *peer = dst ? &f->peer_dst_as : &f->peer_src_as;
	uint64_t fmask = dst ? FF_DST_MASK : FF_SRC_MASK;
	uint64_t fas = dst ? FF_DST_AS : FF_SRC_AS;
	struct net_match m;
	bool hit = false;

	if (e->nets && FLOW_HAS(f, dst ? FF_DST_ADDR : FF_SRC_ADDR))
		hit = networks_lookup(e->nets, a, &m);
	if (!FLOW_HAS(f, fmask))
		*mask = 0;
	switch (net_m) {
	case M_FILE:
		*mask = hit ? m.mask : 0;
		FLOW_SET(f, fmask);
		break;
	case M_LONGEST:
		if (hit && m.mask > *mask) {
			*mask = m.mask;
			FLOW_SET(f, fmask);
		}
		break;
	case M_MASK:
		if (FLOW_HAS(f, dst ? FF_DST_ADDR : FF_SRC_ADDR)) {
			*mask = wip_is_v4(a) ? e->mask4 : e->mask6;
			FLOW_SET(f, fmask);
		}
		break;
	case M_KEEP:
		break;
	}
	if (as_m == M_FILE || (as_m == M_LONGEST && hit && m.mask >= *mask)) {
		*as = hit ? m.as : 0;
		*peer = hit ? m.peer_as : 0;
		FLOW_SET(f, fas);
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
	bool metered = f->export_version == 0; /* decoders set 5, 9, 10 or 105 */
	enum method as_m = metered ? e->as_meter : e->as, net_m = metered ? e->net_meter : e->net;
	if (as_m != M_KEEP || net_m != M_KEEP) {
		resolve(e, as_m, net_m, f, false);
		resolve(e, as_m, net_m, f, true);
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
