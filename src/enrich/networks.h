/* networks.h - pmacct's networks_file: prefixes to net, mask and AS by longest prefix match. */
#ifndef WEIR_NETWORKS_H
#define WEIR_NETWORKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

struct networks;

struct net_match {
	uint32_t as;      /* 0 when the line gave none */
	uint32_t peer_as; /* the optional `peer_as_` part */
	uint8_t mask;     /* prefix length in the address's family (0..32 or 0..128) */
};

/*
 * Parses pmacct's format: one `[peer_as_]as,prefix`, `as,prefix` or `prefix` per line (prefix =
 * address[/len], IPv4 or IPv6); `!` and `#` start comments; blank lines are skipped. Returns
 * NULL with "name:line: message" in err.
 */
struct networks *networks_parse(const char *name, const char *text, size_t len, char *err,
                                size_t errlen);
struct networks *networks_load(const char *path, char *err, size_t errlen);

/* The longest prefix holding a; false when none does. Lock-free: the structure is read-only. */
bool networks_lookup(const struct networks *n, const struct wip *a, struct net_match *m);

size_t networks_count(const struct networks *n);
void networks_free(struct networks *n);

#endif
