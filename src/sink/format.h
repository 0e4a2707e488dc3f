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
	/* FMT_F_STAMPS: the row's time bin and flush time (ms); set per sink_rows. */
	uint64_t stamp_inserted_ms;
	uint64_t stamp_updated_ms;
	bool label_map; /* pre_tag_label_encode_as_map: "k1%v1,k2%v2" as a JSON object */
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
	/* aggregation primitives (rows of the aggregate stage) */
	FMT_F_SRC_NET,     /* net_src: ip_src masked by mask_src */
	FMT_F_DST_NET,     /* net_dst */
	FMT_F_TAG,         /* tag (pre_tag_map set_tag) */
	FMT_F_TAG2,        /* tag2 */
	FMT_F_LABEL,       /* label (pre_tag_map set_label) */
	FMT_F_PEER_SRC_AS, /* peer_as_src */
	FMT_F_PEER_DST_AS, /* peer_as_dst */
	FMT_F_STAMPS,      /* stamp_inserted, stamp_updated (fmt_opts.stamp_*) */
	FMT_F_AS_PATH,     /* BGP primitives: printed empty until bgp/ lands */
	FMT_F_STD_COMM,
	FMT_F_EXT_COMM,
	FMT_F_LRG_COMM,
	FMT_F_LOCAL_PREF,
	FMT_F_MED,
	FMT_F_AS_SRC_NAME, /* as_src_name: flow.as_src_name, "" when unknown */
	FMT_F_AS_DST_NAME, /* as_dst_name */
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

/*
 * pmacct's print_output "formatted": columns padded to fixed widths, separated by two blanks.
 * The header depends only on o->fields.
 */
size_t fmt_formatted_header(char *buf, size_t len, const struct fmt_opts *o);
size_t fmt_formatted(char *buf, size_t len, const struct flow *f, const struct fmt_opts *o);

/* pmacct's protocol names ("tcp", "udp", "icmp", ...; a number as text otherwise). */
const char *fmt_proto_name(uint8_t proto, char *buf, size_t len);

#endif
