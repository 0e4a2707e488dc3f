/* fuzz_sflow.c - libFuzzer target: arbitrary bytes as sFlow v5 datagrams, one persistent state. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/intern.h"
#include "lib/log.h"
#include "weir/decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every record so that a bad one shows up under the sanitizers, then empties the batch. */
static void fuzz_emit(void *arg, struct flow_batch *b)
{
	uint64_t *sink = arg;
	for (size_t i = 0; i < b->n; i++) {
		const struct flow *f = &b->rec[i];
		*sink += f->bytes + f->packets + f->present;
		*sink +=
		    (f->as_path ? strlen(f->as_path) : 0) + (f->std_comm ? strlen(f->std_comm) : 0);
	}
	b->n = 0;
}

static void fuzz_counters(void *arg, const struct if_counters *k)
{
	*(uint64_t *)arg += k->in_octets + k->if_index + k->dot3[12];
}

/*
 * The version word is forced to 5 and the agent address type to 1 or 2 (by the input's own
 * bit), so that every run reaches the sample parser; the rest is the input as it is.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct decode_state *states[2]; /* the second renormalizes and interns */
	static struct flow_batch batch;
	static uint64_t sink, now = 1700000000000ull, inputs;
	static uint8_t buf[65536];
	struct decode_ctx ctx;

	if (!states[0]) {
		struct decode_limits l;
		log_setup(LL_ERR, stderr, false, "fuzz");
		decode_limits_default(&l);
		l.max_exporters = 64;
		states[0] = decode_state_new(&l);
		l.sflow_renormalize = true;
		l.intern =
		    intern_new(1 << 20); /* the second also keeps AS path / community texts */
		states[1] = decode_state_new(&l);
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	if (size >= 8) {
		memset(buf, 0, 7);
		buf[3] = 5;
		buf[7] = (uint8_t)(1 + (data[7] & 1));
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.st = states[(inputs >> 1) & 1];
	wip_parse(&ctx.src, "192.0.2.1");
	ctx.now_ms = now += 250;
	ctx.batch = &batch;
	ctx.emit = fuzz_emit;
	ctx.emit_arg = &sink;
	ctx.want_options = inputs++ & 1;
	ctx.counters = fuzz_counters;
	ctx.counters_arg = &sink;
	decode_datagram(&ctx, buf, size);
	fuzz_emit(&sink, &batch);
	return 0;
}
