/* fuzz_pkt.c - libFuzzer target: the shared header parser on every link type. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first byte picks the link type; the rest is the packet, parsed in place (never written). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pkt_link links[] = {PKT_LINK_ETH, PKT_LINK_IPV4, PKT_LINK_IPV6,
	                                      PKT_LINK_RAW, PKT_LINK_SLL,  PKT_LINK_NULL};
	struct pkt_info pi;
	struct flow f;

	if (size < 1)
		return 0;
	pkt_parse(data + 1, size - 1, links[data[0] % 6], &pi);
	memset(&f, 0, sizeof(f));
	pkt_to_flow(&pi, &f);
	/* what was marked present must lie inside the input */
	if ((pi.have & PKT_HAVE_IP) && pi.l3_off >= size)
		__builtin_trap();
	return 0;
}
