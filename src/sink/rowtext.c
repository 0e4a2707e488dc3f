/* rowtext.c - a row's key as name/value text, through the print plugin's own formatter. */
#include "sink/rowtext.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/format.h"

/* Counters and stamps are the values of a row, not its key. */
static const uint64_t not_key = (UINT64_C(1) << FF_BYTES) | (UINT64_C(1) << FF_PACKETS) |
                                (UINT64_C(1) << FF_FLOWS) | (UINT64_C(1) << FF_REV_COUNTERS) |
                                FMT_BIT(FMT_F_STAMPS);

static bool skipped(const char *name)
{
	return !strcmp(name, "event_type") || !strcmp(name, "bytes") || !strcmp(name, "packets") ||
	       !strcmp(name, "flows");
}

int rowtext_get(const struct flow *f, uint64_t fields, struct rowtext *rt)
{
	char buf[4096];
	struct fmt_opts o;
	const char *k;
	json_t *v;

	rt->n = 0;
	fmt_opts_default(&o);
	o.fields = fields & ~not_key;
	size_t n = fmt_json(buf, sizeof(buf), f, &o);
	if (n >= sizeof(buf))
		return -1;
	json_t *obj = json_loadb(buf, n, 0, NULL);
	if (!obj)
		return -1;
	json_object_foreach(obj, k, v)
	{
		if (skipped(k) || rt->n == ROWTEXT_MAX)
			continue;
		snprintf(rt->name[rt->n], ROWTEXT_NAME, "%s", k);
		char *val = rt->value[rt->n];
		if (json_is_string(v)) {
			snprintf(val, ROWTEXT_VAL, "%s", json_string_value(v));
		} else if (json_is_integer(v)) {
			snprintf(val, ROWTEXT_VAL, "%lld", (long long)json_integer_value(v));
		} else {
			char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			snprintf(val, ROWTEXT_VAL, "%s", t ? t : "");
			free(t);
		}
		rt->n++;
	}
	json_decref(obj);
	return (int)rt->n;
}
