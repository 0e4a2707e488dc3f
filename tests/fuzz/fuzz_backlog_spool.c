/* fuzz_backlog_spool.c - libFuzzer target: any bytes as a spool file left from before. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "sink/backlog.h"
#include "sink/sql_common.h"

/*
 * The file is taken over, every item it still holds is read back (and decoded as an SQL batch,
 * as a replay would), new items are pushed behind them and the backlog is closed. Nothing may
 * crash, read out of bounds or leak; items handed back must be within BACKLOG_ITEM_MAX.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct backlog_conf bc = {.path = path, .mem_max = 64, .spool_max = 1 << 20, .who = "fuzz"};
	struct sql_batch b;
	struct sql_val *vals = NULL;
	size_t vcap = 0, len;
	const uint8_t *p;
	char err[256];

	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/weir-fuzz-spool.%ld", (long)getpid());
		log_setup(LL_ERR, NULL, false, NULL); /* damage is logged: not per run */
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	struct backlog *bl = backlog_open(&bc, err, sizeof(err));
	if (!bl)
		abort(); /* a damaged file is set aside, never a reason to fail */
	for (int i = 0; i < 3; i++)
		backlog_push(bl, "pushed-after", 12);
	backlog_sync(bl);
	size_t n = 0;
	while (backlog_peek(bl, &p, &len) == 1) {
		if (len > BACKLOG_ITEM_MAX)
			abort();
		sql_batch_decode(p, len, &b, &vals, &vcap);
		if (backlog_pop(bl) < 0 || ++n > size + 3)
			break;
	}
	backlog_close(bl);
	free(vals);
	unlink(path);
	char aside[80];
	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	unlink(aside);
	return 0;
}
