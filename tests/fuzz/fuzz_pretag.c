/* fuzz_pretag.c - libFuzzer target: any bytes as a pre_tag_map and as a sampling_map, then the
 * parsed rules applied to a record. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/tagmap.h"
#include "lib/log.h"

static void apply(const struct tagmap *m, const uint8_t *data, size_t size)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	if (size >= 16)
		wip_from_v6(&f.exporter, data);
	else
		wip_from_v4(&f.exporter, 0x7f000001);
	wip_from_v4(&f.src, 0x0a000001);
	wip_from_v4(&f.dst, 0xc0000201);
	f.present = UINT64_C(1) << FF_SRC_ADDR | UINT64_C(1) << FF_DST_ADDR;
	f.ip_version = 4;
	f.proto = 6;
	f.in_if = size;
	tagmap_apply(m, &f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	static bool quiet;

	if (!quiet) {
		log_setup(LL_ERR, NULL, false, NULL);
		quiet = true;
	}
	for (int kind = TAGMAP_PRETAG; kind <= TAGMAP_SAMPLING; kind++) {
		struct tagmap *m = tagmap_parse((enum tagmap_kind)kind, "fuzz", (const char *)data,
		                                size, err, sizeof(err));
		if (!m) {
			if (!err[0] || !memchr(err, '\0', sizeof(err)))
				abort();
			continue;
		}
		apply(m, data, size);
		tagmap_free(m);
	}
	return 0;
}
