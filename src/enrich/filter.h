/* filter.h - libpcap filter expressions evaluated on flow records (aggregate_filter, pre_tag_map).
 */
#ifndef WEIR_FLOW_FILTER_H
#define WEIR_FLOW_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "weir/flow.h"

struct flow_filter;

/*
 * Compiles expr (tcpdump syntax) once with libpcap for Ethernet frames. NULL with libpcap's
 * message in err when the expression does not compile.
 */
struct flow_filter *flow_filter_compile(const char *expr, char *err, size_t errlen);

/*
 * Runs the filter on a frame synthesized from the record, as pmacct does: Ethernet (MACs, an
 * 802.1Q tag when the VLAN is known), IPv4 or IPv6 (addresses, TOS, protocol), then TCP (ports,
 * flags), UDP (ports) or ICMP (type, code). Thread-safe: the program is only read.
 */
bool flow_filter_match(const struct flow_filter *ff, const struct flow *f);

void flow_filter_free(struct flow_filter *ff);

#endif
