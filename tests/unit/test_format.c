/* test_format.c - pmacct-style JSON and CSV of hand-built flow records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "sink/format.h"
#include "weir/flow.h"

/* 2024-05-14 09:00:03.870 UTC */
#define T0 UINT64_C(1715677203870)

static void v4_record(struct flow *f)
{
	memset(f, 0, sizeof(*f));
	wip_parse(&f->exporter, "127.0.0.1");
	wip_parse(&f->src, "10.1.1.84");
	wip_parse(&f->dst, "198.51.100.70");
	f->ip_version = 4;
	f->src_port = 41969;
	f->dst_port = 443;
	f->proto = 6;
	f->tcp_flags = 0x1a;
	f->tos = 2;
	f->packets = 24;
	f->bytes = 2885;
	f->first_ms = T0;
	f->last_ms = T0 + 4679;
	f->export_version = 9;
	f->export_seq = 1;
	f->domain = 10;
	FLOW_SET(f, FF_SRC_ADDR);
	FLOW_SET(f, FF_DST_ADDR);
	FLOW_SET(f, FF_SRC_PORT);
	FLOW_SET(f, FF_DST_PORT);
	FLOW_SET(f, FF_PROTO);
	FLOW_SET(f, FF_TCP_FLAGS);
	FLOW_SET(f, FF_TOS);
	FLOW_SET(f, FF_PACKETS);
	FLOW_SET(f, FF_BYTES);
	FLOW_SET(f, FF_FIRST);
	FLOW_SET(f, FF_LAST);
}

static void json_v4_present_fields_only(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char buf[2048];

	v4_record(&f);
	fmt_opts_default(&o);
	size_t n = fmt_json(buf, sizeof(buf), &f, &o);
	const char *want =
	    "{\"event_type\": \"purge\", \"peer_ip_src\": \"127.0.0.1\", \"ip_src\": "
	    "\"10.1.1.84\", "
	    "\"ip_dst\": \"198.51.100.70\", \"port_src\": 41969, \"port_dst\": 443, "
	    "\"tcp_flags\": \"26\", \"ip_proto\": \"tcp\", \"tos\": 2, "
	    "\"timestamp_start\": \"2024-05-14 09:00:03.870000\", "
	    "\"timestamp_end\": \"2024-05-14 09:00:08.549000\", \"export_proto_seqno\": 1, "
	    "\"export_proto_version\": 9, \"export_proto_sysid\": 10, \"packets\": 24, "
	    "\"bytes\": 2885}";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void json_v6_all_fields(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char buf[4096];
	const uint8_t smac[6] = {0x02, 0x7e, 0x30, 0xe9, 0xe1, 0x99};

	memset(&f, 0, sizeof(f));
	/* every field but the BGP attributes (test_bgpattr.c has those) */
	f.present = ((UINT64_C(1) << FF_COUNT) - 1) & ~(UINT64_C(1) << FF_BGP);
	wip_parse(&f.exporter, "2001:db8::1");
	wip_parse(&f.src, "2001:db8:1:8::78ea");
	wip_parse(&f.dst, "2001:db8:100::119");
	wip_parse(&f.nexthop, "fe80::1");
	wip_parse(&f.bgp_nexthop, "2001:db8::ff");
	wip_parse(&f.post_nat_src, "192.0.2.1");
	wip_parse(&f.post_nat_dst, "192.0.2.2");
	memcpy(f.src_mac, smac, 6);
	f.dst_mac[5] = 0xea;
	f.vlan = 10;
	f.out_vlan = 20;
	f.src_as = 64500;
	f.dst_as = 4200000000u;
	f.in_if = 3;
	f.out_if = 4;
	f.src_mask = 48;
	f.dst_mask = 64;
	f.src_port = 53496;
	f.dst_port = 80;
	f.tcp_flags = 0x1e;
	f.fwd_status = 64;
	f.mpls_depth = 2;
	f.mpls[0] = 16065u << 4;
	f.mpls[1] = 16033u << 4 | 1;
	f.proto = 58;
	f.tos = 184;
	f.sampling_rate = 100;
	f.post_nat_src_port = 1024;
	f.post_nat_dst_port = 2048;
	f.first_ms = T0;
	f.last_ms = T0 + 1;
	f.arrival_ms = T0 + 2000;
	f.export_seq = 7;
	f.export_version = 10;
	f.domain = 7;
	f.direction = 1;
	f.icmp = 128 << 8 | 0;
	f.sampler_id = 1;
	f.end_reason = 3;
	f.flow_id = 99;
	f.engine_type = 1;
	f.engine_id = 2;
	f.packets = 6;
	f.flows = 1;
	f.bytes = 800;
	f.rev_packets = 4;
	f.rev_bytes = 1598;
	fmt_opts_default(&o);
	fmt_json(buf, sizeof(buf), &f, &o);
	const char *want =
	    "{\"event_type\": \"purge\", \"mac_src\": \"02:7e:30:e9:e1:99\", "
	    "\"mac_dst\": \"00:00:00:00:00:ea\", \"vlan\": 10, \"vlan_out\": 20, \"as_src\": "
	    "64500, "
	    "\"as_dst\": 4200000000, \"peer_ip_src\": \"2001:db8::1\", "
	    "\"peer_ip_dst\": \"2001:db8::ff\", \"iface_in\": 3, \"iface_out\": 4, "
	    "\"ip_src\": \"2001:db8:1:8::78ea\", \"ip_dst\": \"2001:db8:100::119\", "
	    "\"mask_src\": 48, \"mask_dst\": 64, \"port_src\": 53496, \"port_dst\": 80, "
	    "\"tcp_flags\": \"30\", \"fwd_status\": \"64\", \"mpls_label_stack\": \"16065_16033\", "
	    "\"ip_proto\": \"ipv6-icmp\", \"tos\": 184, \"sampling_rate\": 100, "
	    "\"post_nat_ip_src\": \"192.0.2.1\", \"post_nat_ip_dst\": \"192.0.2.2\", "
	    "\"post_nat_port_src\": 1024, \"post_nat_port_dst\": 2048, \"mpls_label_top\": 16065, "
	    "\"mpls_label_bottom\": 16033, \"mpls_stack_depth\": 2, "
	    "\"timestamp_start\": \"2024-05-14 09:00:03.870000\", "
	    "\"timestamp_end\": \"2024-05-14 09:00:03.871000\", "
	    "\"timestamp_arrival\": \"2024-05-14 09:00:05.870000\", \"export_proto_seqno\": 7, "
	    "\"export_proto_version\": 10, \"export_proto_sysid\": 7, \"nexthop\": \"fe80::1\", "
	    "\"direction\": \"egress\", \"icmp_type\": 128, \"icmp_code\": 0, \"sampler_id\": 1, "
	    "\"flow_end_reason\": 3, \"flow_id\": 99, \"engine_type\": 1, \"engine_id\": 2, "
	    "\"packets\": 6, \"flows\": 1, \"bytes\": 800, \"rev_packets\": 4, "
	    "\"rev_bytes\": 1598}";
	assert_string_equal(buf, want);
}

/* Selected fields print even when absent, as pmacct prints them: zeroes. */
static void json_explicit_fields_absent_as_zero(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char buf[1024];

	v4_record(&f);
	fmt_opts_default(&o);
	o.fields = FMT_BIT(FF_SRC_ADDR) | FMT_BIT(FF_BGP_NEXTHOP) | FMT_BIT(FF_SRC_MAC) |
	           FMT_BIT(FF_SRC_AS) | FMT_BIT(FF_MPLS) | FMT_BIT(FMT_F_EXPORTER) |
	           FMT_BIT(FF_FIRST) | FMT_BIT(FMT_F_ARRIVAL);
	f.present &= ~(UINT64_C(1) << FF_FIRST);
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_string_equal(buf, "{\"event_type\": \"purge\", \"mac_src\": \"00:00:00:00:00:00\", "
	                         "\"as_src\": 0, \"peer_ip_src\": \"127.0.0.1\", "
	                         "\"peer_ip_dst\": \"0.0.0.0\", \"ip_src\": \"10.1.1.84\", "
	                         "\"mpls_label_stack\": \"\", \"mpls_label_top\": 0, "
	                         "\"mpls_label_bottom\": 0, \"mpls_stack_depth\": 0, "
	                         "\"timestamp_start\": \"0000-00-00 00:00:00.000000\", "
	                         "\"timestamp_arrival\": \"0000-00-00 00:00:00.000000\", "
	                         "\"packets\": 24, \"bytes\": 2885}");
}

static void json_option_record(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char buf[512];

	memset(&f, 0, sizeof(f));
	f.event = FLOW_EV_OPTION;
	wip_parse(&f.exporter, "127.0.0.1");
	f.export_version = 10;
	f.sampling_rate = 1;
	f.sampler_id = 1;
	FLOW_SET(&f, FF_SAMPLING);
	FLOW_SET(&f, FF_SAMPLER_ID);
	fmt_opts_default(&o);
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_string_equal(buf, "{\"event_type\": \"option\", \"peer_ip_src\": \"127.0.0.1\", "
	                         "\"sampling_rate\": 1, \"export_proto_seqno\": 0, "
	                         "\"export_proto_version\": 10, \"export_proto_sysid\": 0, "
	                         "\"sampler_id\": 1}");
	f.event = FLOW_EV_COUNTER;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"event_type\": \"counter\""));
}

static void timestamp_forms(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char buf[1024];

	v4_record(&f);
	fmt_opts_default(&o);
	o.fields = FMT_BIT(FF_FIRST);

	o.ts_since_epoch = true;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"timestamp_start\": \"1715677203.870000\""));

	o.ts_secs = true;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"timestamp_start\": \"1715677203\""));

	o.ts_since_epoch = false;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"timestamp_start\": \"2024-05-14 09:00:03\""));

	/* A leap day, and a time just after the epoch (not the zero time). */
	o.ts_secs = false;
	f.first_ms = UINT64_C(951782400000) + 5; /* 2000-02-29 00:00:00.005 */
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"timestamp_start\": \"2000-02-29 00:00:00.005000\""));
	f.first_ms = 1000;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"timestamp_start\": \"1970-01-01 00:00:01.000000\""));

	/* Local time: TZ two hours east of UTC. */
	setenv("TZ", "WEIR-2", 1); /* POSIX form: needs no tzdata */
	tzset();
	o.ts_utc = false;
	f.first_ms = T0;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"timestamp_start\": \"2024-05-14 11:00:03.870000\""));
	unsetenv("TZ");
	tzset();
}

static void truncation_returns_needed_length(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char full[2048], small[40];

	v4_record(&f);
	fmt_opts_default(&o);
	size_t need = fmt_json(full, sizeof(full), &f, &o);
	assert_int_equal(need, strlen(full));

	memset(small, 'x', sizeof(small));
	size_t got = fmt_json(small, sizeof(small), &f, &o);
	assert_int_equal(got, need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, full, sizeof(small) - 1);

	/* Exactly one byte short: still cut, still terminated. */
	char *tight = malloc(need);
	assert_non_null(tight);
	assert_int_equal(fmt_json(tight, need, &f, &o), need);
	assert_int_equal(strlen(tight), need - 1);
	free(tight);

	/* A zero-length buffer is never written. */
	assert_int_equal(fmt_json(NULL, 0, &f, &o), need);
	assert_int_equal(fmt_csv(NULL, 0, &f, &o), fmt_csv(full, sizeof(full), &f, &o));
	size_t hn = fmt_csv_header(full, sizeof(full), &o);
	assert_int_equal(fmt_csv_header(small, 4, &o), hn);
	assert_string_equal(small, "SRC");
}

static void csv_header_and_row(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char hdr[1024], row[1024];

	v4_record(&f);
	fmt_opts_default(&o);
	o.fields = FMT_BIT(FMT_F_EXPORTER) | FMT_BIT(FF_SRC_ADDR) | FMT_BIT(FF_DST_ADDR) |
	           FMT_BIT(FF_SRC_PORT) | FMT_BIT(FF_DST_PORT) | FMT_BIT(FF_TCP_FLAGS) |
	           FMT_BIT(FF_PROTO) | FMT_BIT(FF_TOS) | FMT_BIT(FF_VLAN) | FMT_BIT(FF_FIRST);
	fmt_csv_header(hdr, sizeof(hdr), &o);
	assert_string_equal(hdr, "VLAN,PEER_SRC_IP,SRC_IP,DST_IP,SRC_PORT,DST_PORT,TCP_FLAGS,"
	                         "PROTOCOL,TOS,TIMESTAMP_START,PACKETS,BYTES");
	fmt_csv(row, sizeof(row), &f, &o);
	assert_string_equal(row, "0,127.0.0.1,10.1.1.84,198.51.100.70,41969,443,26,tcp,2,"
	                         "2024-05-14 09:00:03.870000,24,2885");

	o.csv_sep = ';';
	o.fields |= FMT_BIT(FF_FLOWS);
	fmt_csv_header(hdr, sizeof(hdr), &o);
	assert_non_null(strstr(hdr, ";PACKETS;FLOWS;BYTES"));
	fmt_csv(row, sizeof(row), &f, &o);
	assert_non_null(strstr(row, ";24;0;2885"));

	/* FMT_PRESENT in CSV: every column, the same for every record. */
	o.fields = FMT_PRESENT;
	size_t all = fmt_csv_header(hdr, sizeof(hdr), &o);
	assert_true(all < sizeof(hdr));
	assert_non_null(strstr(hdr, "SRC_MAC;DST_MAC;VLAN;OUT_VLAN;SRC_AS"));
	size_t ncols = 1;
	for (const char *p = hdr; *p; p++)
		ncols += *p == ';';
	fmt_csv(row, sizeof(row), &f, &o);
	size_t nvals = 1;
	for (const char *p = row; *p; p++)
		nvals += *p == ';';
	assert_int_equal(ncols, nvals);
}

static void protocol_names(void **state)
{
	char buf[8];

	assert_string_equal(fmt_proto_name(6, buf, sizeof(buf)), "tcp");
	assert_string_equal(fmt_proto_name(17, buf, sizeof(buf)), "udp");
	assert_string_equal(fmt_proto_name(1, buf, sizeof(buf)), "icmp");
	assert_string_equal(fmt_proto_name(58, buf, sizeof(buf)), "ipv6-icmp");
	assert_string_equal(fmt_proto_name(112, buf, sizeof(buf)), "vrrp");
	assert_string_equal(fmt_proto_name(132, buf, sizeof(buf)), "sctp");
	assert_string_equal(fmt_proto_name(0, buf, sizeof(buf)), "0");
	assert_string_equal(fmt_proto_name(5, buf, sizeof(buf)), "5");
	assert_string_equal(fmt_proto_name(200, buf, sizeof(buf)), "200");
	assert_string_equal(fmt_proto_name(255, buf, sizeof(buf)), "255");
}

static void direction_and_odd_values(void **state)
{
	struct flow f;
	struct fmt_opts o;
	char buf[1024];

	v4_record(&f);
	fmt_opts_default(&o);
	FLOW_SET(&f, FF_DIRECTION);
	f.direction = 0;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"direction\": \"ingress\""));
	f.direction = 7;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"direction\": \"7\""));
	/* A depth beyond the array is clamped, never read past it. */
	FLOW_SET(&f, FF_MPLS);
	f.mpls_depth = 200;
	for (int i = 0; i < FLOW_MPLS_MAX; i++)
		f.mpls[i] = (uint32_t)(i + 1) << 4;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"mpls_label_stack\": \"1_2_3_4_5_6_7_8_9_10\""));
	assert_non_null(strstr(buf, "\"mpls_label_bottom\": 10"));
	f.proto = 250;
	fmt_json(buf, sizeof(buf), &f, &o);
	assert_non_null(strstr(buf, "\"ip_proto\": \"250\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(json_v4_present_fields_only),
	    cmocka_unit_test(json_v6_all_fields),
	    cmocka_unit_test(json_explicit_fields_absent_as_zero),
	    cmocka_unit_test(json_option_record),
	    cmocka_unit_test(timestamp_forms),
	    cmocka_unit_test(truncation_returns_needed_length),
	    cmocka_unit_test(csv_header_and_row),
	    cmocka_unit_test(protocol_names),
	    cmocka_unit_test(direction_and_odd_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
