/* fuzz_conf.c - libFuzzer target: any bytes through conf_load_buffer(), with and without -o. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf *c; /* 350 KB: allocated once, not per input */
	char err[512];

	if (!c) {
		log_setup(LL_ERR, NULL, false, NULL); /* notices would slow every run */
		c = malloc(sizeof(*c));
		if (!c)
			return 0;
	}
	if (conf_load_buffer(c, "fuzz", (const char *)data, size, err, sizeof(err)) == 0) {
		/* A loaded config is internally consistent. */
		if (c->n_plugins == 0 || c->n_plugins > CONF_MAX_PLUGINS || c->n_listen == 0 ||
		    c->n_listen > CONF_MAX_LISTEN || c->plugins[0].conf != c)
			abort();
	} else if (!err[0] || !memchr(err, '\0', sizeof(err))) {
		abort();
	}

	/* The first line again, as an override (the -o path has its own splitter). */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	if (n < 4096 && !memchr(data, '\0', n)) {
		char ov[4096];
		memcpy(ov, data, n);
		ov[n] = '\0';
		const char *ovs[] = {ov};
		conf_load(c, NULL, ovs, 1, err, sizeof(err));
	}
	return 0;
}
