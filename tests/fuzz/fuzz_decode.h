/* fuzz_decode.h - one libFuzzer harness for the flow decoders: a state that persists across inputs.
 */
#ifndef WEIR_FUZZ_DECODE_H
#define WEIR_FUZZ_DECODE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "weir/decoder.h"

/* Touches every record so that a bad one shows up under the sanitizers, then empties the batch. */
static void fuzz_emit(void *arg, struct flow_batch *b)
{
	uint64_t *sink = arg;
	for (size_t i = 0; i < b->n; i++)
		*sink += b->rec[i].bytes + b->rec[i].first_ms + b->rec[i].present;
	b->n = 0;
}

/*
 * Feeds one input as a datagram of the given version (the first two bytes are forced, so every
 * run exercises that decoder). Templates, samplers and held sets persist from input to input,
 * like a collector's state; the bounds are small so that the state stays small too.
 */
static int fuzz_datagram(const uint8_t *data, size_t size, uint16_t version)
{
	static struct decode_state *st;
	static struct flow_batch batch;
	static uint64_t sink, now = 1700000000000ull, inputs;
	static uint8_t buf[65536];
	struct decode_ctx ctx;

	if (!st) {
		struct decode_limits l;
		log_setup(LL_ERR, stderr, false, "fuzz");
		decode_limits_default(&l);
		l.max_exporters = 64;
		l.max_templates = 64;
		l.max_template_fields = 128;
		l.hold_bytes = 16384;
		l.hold_ms = 5000;
		st = decode_state_new(&l);
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	if (size >= 2) {
		buf[0] = (uint8_t)(version >> 8);
		buf[1] = (uint8_t)version;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.st = st;
	/* two exporters, one per family, chosen by a byte of the input */
	wip_parse(&ctx.src, size > 4 && (data[size - 1] & 1) ? "2001:db8::1" : "192.0.2.1");
	ctx.now_ms = now += 250;
	ctx.batch = &batch;
	ctx.emit = fuzz_emit;
	ctx.emit_arg = &sink;
	ctx.want_options = inputs & 1;
	decode_datagram(&ctx, buf, size);
	fuzz_emit(&sink, &batch);
	if (++inputs % 64 == 0)
		decode_expire(st, now);
	return 0;
}

#endif
