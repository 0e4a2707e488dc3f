/* format.h - a flow record as pmacct-style JSON or CSV text (print sink, weir decode). */
#ifndef WEIR_FORMAT_H
#define WEIR_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

struct fmt_opts {
	bool ts_secs;        /* timestamps_secs: no fractional part */
	bool ts_since_epoch; /* timestamps_since_epoch: "1715677200.030000" */
	bool ts_utc;         /* timestamps_utc (weir's default is UTC: true) */
	char csv_sep;        /* print_output_separator */
	/*
	 * FF_* bits to print. FMT_PRESENT prints what each record carries (weir decode, and the
	 * print plugin until aggregation); otherwise exactly these fields, absent ones as pmacct
	 * prints them (0, "0.0.0.0", ...).
	 */
	uint64_t fields;
};
#define FMT_PRESENT UINT64_MAX

/*
 * Selectors for o->fields beyond the FF_* bits, for values every record carries and that have
 * no presence bit (pmacct primitives peer_src_ip, timestamp_arrival, export_proto_*).
 * FMT_PRESENT prints them whenever they are known.
 */
enum fmt_field {
	FMT_F_EXPORTER = FF_COUNT, /* peer_ip_src */
	FMT_F_ARRIVAL,             /* timestamp_arrival */
	FMT_F_SEQNO,               /* export_proto_seqno */
	FMT_F_VERSION,             /* export_proto_version */
	FMT_F_SYSID,               /* export_proto_sysid */
	FMT_F_COUNT
};
#define FMT_BIT(b) (UINT64_C(1) << (b))

void fmt_opts_default(struct fmt_opts *o);

/*
 * Writes one JSON object (pmacct field names, no newline) to buf. Returns the length it needed;
 * when that is >= len the output was truncated (like snprintf).
 */
size_t fmt_json(char *buf, size_t len, const struct flow *f, const struct fmt_opts *o);

/* CSV with pmacct's (upper-case) headers; the header depends only on o->fields. */
size_t fmt_csv_header(char *buf, size_t len, const struct fmt_opts *o);
size_t fmt_csv(char *buf, size_t len, const struct flow *f, const struct fmt_opts *o);

/* pmacct's protocol names ("tcp", "udp", "icmp", ...; a number as text otherwise). */
const char *fmt_proto_name(uint8_t proto, char *buf, size_t len);

#endif
