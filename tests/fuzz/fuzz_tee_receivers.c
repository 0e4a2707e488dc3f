/* fuzz_tee_receivers.c - libFuzzer target: any bytes through the tee_receivers file parser and,
 * when a pool parses, the datagram inspection that template copies rely on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "relay/pick.h"
#include "relay/rcvfile.h"

static void check_file(const struct relay_rcvfile *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct relay_pool_def *p = &f->pools[i];
		/* A parsed pool is usable: an id, receivers within the bound, a sampler. */
		if (!p->id || !p->n_rcv || p->n_rcv > 4 || !p->sample || !p->rcv)
			abort();
		for (size_t k = 0; k < p->n_rcv; k++)
			if (!p->rcv[k].len || !memchr(p->rcv[k].text, '\0', sizeof(p->rcv[k].text)))
				abort();
	}
}

/* The same bytes as a datagram: the template copy never outgrows its input. */
static void check_datagram(const uint8_t *data, size_t size)
{
	static uint8_t out[65536];
	unsigned sets = relay_sets_of(data, size);
	size_t n = relay_templates_copy(data, size, out, sizeof(out));

	if (n > size || (n && !(sets & RS_TEMPLATES)))
		abort();
	if (n && relay_sets_of(out, n) != RS_TEMPLATES)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Never resolve names: a fuzzer must not query DNS. */
	const struct relay_rcvfile_opts o = {
	    .numeric_only = true, .max_pools = 8, .max_receivers = 4};
	struct relay_rcvfile f;
	char err[512];
	static bool init;

	if (!init) {
		log_setup(LL_ERR, NULL, false, NULL);
		init = true;
	}
	err[0] = '\0';
	if (relay_rcvfile_parse("fuzz", (const char *)data, size, &o, &f, err, sizeof(err)) == 0) {
		check_file(&f);
		relay_rcvfile_free(&f);
	} else if (!err[0] || f.n || f.pools) {
		abort();
	}
	if (size <= 65536)
		check_datagram(data, size);
	return 0;
}
