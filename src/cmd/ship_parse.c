/* ship_parse.c - print-plugin JSON lines (weir's and pmacct's) to rows for `weir ship`. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/ship.h"

/* Values of a row that are not tags: pmacct's event and time columns. */
static const char *const not_tags[] = {
    "event_type",        "stamp_inserted", "stamp_updated",      "timestamp_start", "timestamp_end",
    "timestamp_arrival", "timestamp_min",  "timestamp_max",      "writer_id",       "bytes",
    "packets",           "flows",          "export_proto_seqno",
};

static bool is_not_tag(const char *k)
{
	for (size_t i = 0; i < sizeof(not_tags) / sizeof(not_tags[0]); i++)
		if (!strcmp(k, not_tags[i]))
			return true;
	return false;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

bool ship_parse_time(const char *s, uint64_t *ms)
{
	int y, mo, d, h, mi, sec, n = 0;
	unsigned long long secs;
	char frac[16] = "";

	if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && n) {
		if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
		    sec > 60 || h < 0 || mi < 0 || sec < 0)
			return false;
		int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
		secs = (unsigned long long)(days * 86400 + h * 3600 + mi * 60 + sec);
	} else if (sscanf(s, "%llu%n", &secs, &n) == 1 && n && secs < 100000000000ull) {
		/* epoch seconds (timestamps_since_epoch) */
	} else {
		return false;
	}
	s += n;
	if (*s == '.' && sscanf(s + 1, "%15[0-9]", frac) != 1)
		return false;
	unsigned msec = 0;
	for (int i = 0; i < 3; i++)
		msec = msec * 10 +
		       (frac[0] && (size_t)i < strlen(frac) ? (unsigned)(frac[i] - '0') : 0);
	*ms = secs * 1000 + msec;
	return true;
}

static bool counter(json_t *v, uint64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1.8e19) {
		*out = (uint64_t)json_real_value(v);
		return true;
	}
	if (json_is_string(v)) {
		char *end;
		unsigned long long n = strtoull(json_string_value(v), &end, 10);
		if (*end || end == json_string_value(v))
			return false;
		*out = n;
		return true;
	}
	return json_is_null(v);
}

static bool tag_value(json_t *v, char *out, size_t len)
{
	if (json_is_string(v)) {
		snprintf(out, len, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(out, len, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		snprintf(out, len, "%.17g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(out, len, "%s", json_is_true(v) ? "true" : "false");
	} else if (json_is_null(v)) {
		out[0] = '\0';
	} else {
		char *t = json_dumps(v, JSON_COMPACT); /* pmacct's label map */
		if (!t)
			return false;
		snprintf(out, len, "%s", t);
		free(t);
	}
	return true;
}

static int fill(json_t *obj, struct ship_row *row)
{
	const char *k;
	json_t *v;

	row->n_tags = 0;
	row->bytes = row->packets = row->flows = 0;
	row->has_ts = false;
	json_t *ev = json_object_get(obj, "event_type");
	if (ev && (!json_is_string(ev) || strcmp(json_string_value(ev), "purge")))
		return 0; /* print_markers (purge_init/purge_close) and the like */
	if ((json_object_get(obj, "bytes") &&
	     !counter(json_object_get(obj, "bytes"), &row->bytes)) ||
	    (json_object_get(obj, "packets") &&
	     !counter(json_object_get(obj, "packets"), &row->packets)) ||
	    (json_object_get(obj, "flows") && !counter(json_object_get(obj, "flows"), &row->flows)))
		return -1;
	if (!json_object_get(obj, "bytes") && !json_object_get(obj, "packets"))
		return -1;
	json_t *ts = json_object_get(obj, "stamp_inserted");
	if (!ts)
		ts = json_object_get(obj, "timestamp_start");
	if (ts && json_is_string(ts))
		row->has_ts = ship_parse_time(json_string_value(ts), &row->ts_ms);
	json_object_foreach(obj, k, v)
	{
		if (is_not_tag(k) || row->n_tags == SHIP_TAGS || !*k || strlen(k) >= SHIP_TAG_NAME)
			continue;
		if (!tag_value(v, row->val[row->n_tags], SHIP_TAG_VAL))
			return -1;
		snprintf(row->tag[row->n_tags], SHIP_TAG_NAME, "%s", k);
		row->n_tags++;
	}
	return 1;
}

int ship_parse_line(const char *line, size_t len, struct ship_row *row)
{
	json_error_t e;
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
		i++;
	if (i == len)
		return 0;
	json_t *obj = json_loadb(line + i, len - i, JSON_REJECT_DUPLICATES, &e);
	if (!obj)
		return -1;
	int rc = json_is_object(obj) ? fill(obj, row) : -1;
	json_decref(obj);
	return rc;
}
