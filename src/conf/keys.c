/* keys.c - the key table: type, scope, bounds, default, help and pmacct meaning of each key. */
#include "conf/keys.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conf/conf.h"

#define MEMBER_SIZE(type, field) sizeof(((type *)0)->field)
#define G(field)                                                                                   \
	.scope = KS_GLOBAL, .off = offsetof(struct conf, field),                                   \
	.size = MEMBER_SIZE(struct conf, field)
#define P(field)                                                                                   \
	.scope = KS_PLUGIN, .off = offsetof(struct plugin_conf, field),                            \
	.size = MEMBER_SIZE(struct plugin_conf, field)

#define NOOP(n, pm)                                                                                \
	{                                                                                          \
		.name = n, .type = KT_NOOP, .scope = KS_ANY, .pmacct = pm                          \
	}
#define LATER(n, pm)                                                                               \
	{                                                                                          \
		.name = n, .type = KT_LATER, .scope = KS_ANY, .pmacct = pm                         \
	}

static const char *const print_formats[] = {
    [PRINT_JSON] = "json",
    [PRINT_CSV] = "csv",
    [PRINT_FORMATTED] = "formatted",
    NULL,
};

bool conf_list_next(const char **p, char *item, size_t len)
{
	const char *s = *p;

	if (!s)
		return false;
	const char *end = strchr(s, ',');
	size_t n = end ? (size_t)(end - s) : strlen(s);
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(item, s, n);
	item[n] = '\0';
	*p = end ? end + 1 : NULL;
	return true;
}

/* Calls fn on each item of a comma list; stops at the first false. */
static bool each_item(const char *val, bool (*fn)(const char *item, char *msg, size_t msglen),
                      char *msg, size_t msglen)
{
	char item[CONF_LIST];
	const char *p = val;

	while (conf_list_next(&p, item, sizeof(item)))
		if (!fn(item, msg, msglen))
			return false;
	return true;
}

static bool check_ip(const char *item, char *msg, size_t msglen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_DGRAM,
	                         .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *res = NULL;

	if (getaddrinfo(item, NULL, &hints, &res) != 0) {
		snprintf(msg, msglen, "'%.64s' is not a numeric IPv4 or IPv6 address", item);
		return false;
	}
	freeaddrinfo(res);
	return true;
}

static bool check_port(const char *item, char *msg, size_t msglen)
{
	unsigned long v = 0;
	const char *p = item;

	if (!*p) {
		snprintf(msg, msglen, "empty port");
		return false;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(msg, msglen, "'%.64s' is not a port number", item);
			return false;
		}
		if (v < 100000)
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535) {
		snprintf(msg, msglen, "'%.64s' is out of range (1..65535)", item);
		return false;
	}
	return true;
}

static bool check_ip_list(char *val, size_t len, char *msg, size_t msglen)
{
	return each_item(val, check_ip, msg, msglen);
}

static bool check_port_list(char *val, size_t len, char *msg, size_t msglen)
{
	return each_item(val, check_port, msg, msglen);
}

/* syslog(3) facilities by name, as pmacct's syslog key takes them. */
static bool check_syslog(char *val, size_t len, char *msg, size_t msglen)
{
	static const char *const fac[] = {"auth",   "authpriv", "cron",   "daemon", "ftp",
	                                  "kern",   "lpr",      "mail",   "news",   "syslog",
	                                  "user",   "uucp",     "local0", "local1", "local2",
	                                  "local3", "local4",   "local5", "local6", "local7"};

	if (!*val)
		return true;
	for (size_t i = 0; i < sizeof(fac) / sizeof(fac[0]); i++)
		if (!strcasecmp(val, fac[i])) {
			snprintf(val, len, "%s", fac[i]);
			return true;
		}
	snprintf(msg, msglen,
	         "'%.64s' is not a syslog facility (auth, daemon, user, local0..local7, ...)", val);
	return false;
}

/* pmacct: one character, or the strings \t (tab) and \s (space). */
static bool check_separator(char *val, size_t len, char *msg, size_t msglen)
{
	if (!strcmp(val, "\\t") || !strcasecmp(val, "tab"))
		snprintf(val, len, "\t");
	else if (!strcmp(val, "\\s") || !strcasecmp(val, "space"))
		snprintf(val, len, " ");
	if (strlen(val) != 1) {
		snprintf(msg, msglen, "'%.64s' is not one character (or \\t, \\s)", val);
		return false;
	}
	return true;
}

const struct key_def conf_keys[] = {
    /* --- general --- */
    {.name = "daemonize",
     .type = KT_BOOL,
     G(daemonize),
     .def = "false",
     .section = "General",
     .help = "Detach from the terminal and run in the background.",
     .pmacct = "Same: daemonizes the process."},
    {.name = "pidfile",
     .type = KT_PATH,
     G(pidfile),
     .def = "",
     .section = "General",
     .help = "Write the process id to this file.",
     .pmacct = "Same (pmacct also writes one file per plugin process)."},
    {.name = "logfile",
     .type = KT_PATH,
     G(logfile),
     .def = "",
     .section = "General",
     .help = "Log to this file instead of stderr; reopened on SIGHUP.",
     .pmacct = "Same: logs to a file instead of syslog/stderr."},
    {.name = "syslog",
     .type = KT_STRING,
     G(syslog),
     .def = "",
     .check = check_syslog,
     .section = "General",
     .help = "Log to syslog with this facility (daemon, user, local0..local7).",
     .pmacct = "Same: enables syslog logging with the given facility."},
    {.name = "debug",
     .type = KT_BOOL,
     G(debug),
     .def = "false",
     .section = "General",
     .help = "Log at debug level.",
     .pmacct = "Same: enables debug."},
    {.name = "workers",
     .type = KT_UINT,
     G(workers),
     .min = 0,
     .max = 256,
     .def = "0",
     .section = "General",
     .help = "Ingest threads, each with its own SO_REUSEPORT sockets; 0 = one per core."},

    /* --- listeners and decoding --- */
    {.name = "nfacctd_ip",
     .type = KT_LIST,
     G(nfacctd_ip),
     .def = "::",
     .check = check_ip_list,
     .section = "Listeners and decoding",
     .help = "Comma list of addresses to listen on; \"::\" is one dual-stack socket (IPv4 and "
             "IPv6).",
     .pmacct = "One address to bind nfacctd to (default: all interfaces)."},
    {.name = "nfacctd_port",
     .type = KT_LIST,
     G(nfacctd_port),
     .def = "2055, 4739",
     .check = check_port_list,
     .section = "Listeners and decoding",
     .help = "Comma list of UDP ports; every port takes NetFlow v5/v9 and IPFIX (e.g. 2055, 4739, "
             "9995, 6343). One listener per address and port.",
     .pmacct = "One UDP port (default 2100)."},
    {.name = "nfacctd_pipe_size",
     .type = KT_SIZE,
     G(pipe_size),
     .min = 0,
     .max = 1u << 30,
     .def = "8m",
     .section = "Listeners and decoding",
     .help = "SO_RCVBUF of each socket (capped by net.core.rmem_max); 0 = kernel default.",
     .pmacct = "Same: size of the kernel socket buffer."},
    {.name = "nfacctd_time_new",
     .type = KT_BOOL,
     G(time_new),
     .def = "false",
     .section = "Listeners and decoding",
     .help = "Stamp flows with their arrival time instead of the exporter's times.",
     .pmacct = "Same: ignores exporter timestamps and uses the arrival time."},
    {.name = "nfacctd_templates_file",
     .type = KT_PATH,
     G(templates_file),
     .def = "",
     .section = "Listeners and decoding",
     .help = "Keep NetFlow v9/IPFIX templates in this file across restarts.",
     .pmacct = "Same: JSON file of templates read at startup and kept up to date."},
    {.name = "nfacctd_allow_file",
     .type = KT_PATH,
     G(allow_file),
     .def = "",
     .section = "Listeners and decoding",
     .help = "Only accept export packets from the addresses/prefixes listed in this file (one "
             "per line).",
     .pmacct = "Same: list of exporters allowed to send (none = allow all)."},
    {.name = "nfacctd_renormalize",
     .type = KT_BOOL,
     G(renormalize),
     .def = "false",
     .section = "Listeners and decoding",
     .help = "Multiply bytes and packets by the sampling rate the exporter reports.",
     .pmacct = "Same: renormalizes counters using the available sampling information."},

    /* --- limits (weir's own) --- */
    {.name = "weir_max_exporters",
     .type = KT_UINT,
     G(max_exporters),
     .min = 1,
     .max = 1000000,
     .def = "4096",
     .section = "Limits",
     .help = "Exporters whose template state one worker keeps."},
    {.name = "weir_max_templates",
     .type = KT_UINT,
     G(max_templates),
     .min = 1,
     .max = 65535,
     .def = "256",
     .section = "Limits",
     .help = "Templates kept per exporter and observation domain."},
    {.name = "weir_max_template_fields",
     .type = KT_UINT,
     G(max_template_fields),
     .min = 1,
     .max = 65535,
     .def = "512",
     .section = "Limits",
     .help = "Fields accepted in one template."},
    {.name = "weir_hold_bytes",
     .type = KT_SIZE,
     G(hold_bytes),
     .min = 0,
     .max = 1u << 30,
     .def = "64k",
     .section = "Limits",
     .help = "Bytes of data sets held per exporter while their template is unknown; 0 = "
             "none."},
    {.name = "weir_hold_time",
     .type = KT_DURATION,
     G(hold_ms),
     .min = 0,
     .max = 3600000,
     .unit_ms = 1,
     .def = "30s",
     .section = "Limits",
     .help = "How long held data sets wait for their template (plain numbers are ms)."},
    {.name = "weir_log_rate",
     .type = KT_UINT,
     G(log_rate),
     .min = 0,
     .max = 100000,
     .def = "10",
     .section = "Limits",
     .help = "Log lines per second caused by malformed input, per worker; 0 = none."},

    /* --- timestamps --- */
    {.name = "timestamps_secs",
     .type = KT_BOOL,
     G(timestamps_secs),
     .def = "false",
     .section = "Timestamps",
     .help = "Print timestamps in whole seconds.",
     .pmacct = "Same: timestamp resolution in seconds."},
    {.name = "timestamps_since_epoch",
     .type = KT_BOOL,
     G(timestamps_since_epoch),
     .def = "false",
     .section = "Timestamps",
     .help = "Print timestamps as seconds since the epoch.",
     .pmacct = "Same: timestamps as seconds since the epoch."},
    {.name = "timestamps_utc",
     .type = KT_BOOL,
     G(timestamps_utc),
     .def = "true",
     .section = "Timestamps",
     .help = "Print timestamps in UTC rather than local time (weir's default: true).",
     .pmacct = "Same, but pmacct's default is false."},

    /* --- plugins --- */
    {.name = "plugins",
     .type = KT_PLUGINS,
     .scope = KS_GLOBAL,
     .def = "print[default]",
     .section = "Plugins",
     .help = "Comma list of type[name]; a bare type is named after itself (print = "
             "print[print]). Declaring plugins replaces the embedded default plugin.",
     .pmacct = "Same list syntax (but a bare type is named default_TYPE there)."},
    {.name = "aggregate",
     .type = KT_LIST,
     P(aggregate),
     .def = "src_host, dst_host, src_port, dst_port, proto",
     .section = "Plugins",
     .help = "Primitives that make up the plugin's key; flows with equal keys are summed.",
     .pmacct = "Same primitives (pmacct's default is src_host)."},
    {.name = "aggregate_filter",
     .type = KT_STRING,
     P(aggregate_filter),
     .def = "",
     .section = "Plugins",
     .help = "libpcap filter a flow must match to reach the plugin; empty = all.",
     .pmacct = "Same: tcpdump-syntax filter per plugin."},

    /* --- print plugin --- */
    {.name = "print_output",
     .type = KT_ENUM,
     P(print_output),
     .def = "json",
     .choices = print_formats,
     .section = "Print plugin",
     .help = "Output format.",
     .pmacct = "Same names (pmacct also has avro, the event formats and custom)."},
    {.name = "print_output_file",
     .type = KT_PATH,
     P(print_output_file),
     .def = "",
     .section = "Print plugin",
     .help = "File to write each interval to, a strftime pattern (%Y%m%d-%H%M); empty = stdout.",
     .pmacct = "Same: output file with time-based variables."},
    {.name = "print_latest_file",
     .type = KT_PATH,
     P(print_latest_file),
     .def = "",
     .section = "Print plugin",
     .help = "Symlink pointed at the newest output file.",
     .pmacct = "Same: pointer to the latest file."},
    {.name = "print_output_separator",
     .type = KT_STRING,
     P(print_output_separator),
     .def = ",",
     .check = check_separator,
     .section = "Print plugin",
     .help = "CSV separator: one character, or `\\t` (tab) and `\\s` (space).",
     .pmacct = "Same."},
    {.name = "print_refresh_time",
     .type = KT_DURATION,
     P(print_refresh_time),
     .min = 1,
     .max = 86400,
     .unit_ms = 1000,
     .def = "60",
     .section = "Print plugin",
     .help = "Seconds between flushes (suffixes s, m, h, d accepted).",
     .pmacct = "Same: seconds between cache purges."},
    {.name = "print_cache_entries",
     .type = KT_UINT,
     P(print_cache_entries),
     .min = 1,
     .max = 100000000,
     .def = "65535",
     .section = "Print plugin",
     .help = "Bound of the plugin's table per interval; reaching it flushes early.",
     .pmacct = "Same: cache buckets of the plugin."},
    {.name = "print_markers",
     .type = KT_BOOL,
     P(print_markers),
     .def = "false",
     .section = "Print plugin",
     .help = "Write start/end markers around each flush.",
     .pmacct = "Same: purge start/end markers."},
    {.name = "print_output_file_append",
     .type = KT_BOOL,
     P(print_output_file_append),
     .def = "false",
     .section = "Print plugin",
     .help = "Append to an existing output file instead of replacing it.",
     .pmacct = "Same."},
    {.name = "print_write_empty_file",
     .type = KT_BOOL,
     P(print_write_empty_file),
     .def = "false",
     .section = "Print plugin",
     .help = "Write an empty file when an interval had no data.",
     .pmacct = "Same."},

    /* --- pmacct keys with no meaning in weir's design --- */
    NOOP("debug_internal_msg", "Debug of core/plugin messaging; weir has no plugin processes."),
    NOOP("debug_netflow_parsing", "Extra NetFlow parsing debug (use weir decode)."),
    NOOP("plugin_pipe_size", "Size of the core-to-plugin pipe; weir hands tables to threads."),
    NOOP("plugin_buffer_size", "Buffer size of the core-to-plugin pipe."),
    NOOP("plugin_pipe_zmq", "ZeroMQ queue between core and plugins."),
    NOOP("plugin_pipe_zmq_retry", "ZeroMQ queue retry interval."),
    NOOP("plugin_pipe_zmq_profile", "ZeroMQ queue sizing profile."),
    NOOP("plugin_pipe_zmq_hwm", "ZeroMQ queue high-water mark."),
    NOOP("plugin_exit_any", "Exit when any plugin process exits."),
    NOOP("core_proc_name", "Name of the core process in ps and logs."),
    NOOP("nfacctd_proc_name", "Name of the core process in ps and logs."),
    NOOP("proc_priority", "Process nice value (use the service manager)."),
    NOOP("propagate_signals", "Forward signals to plugin processes."),
    NOOP("thread_stack", "Stack size of pmacct's threads."),
    NOOP("writer_id_string", "Writer id in markers and Kafka messages."),
    NOOP("nfacctd_pre_processing_checks", "Extra checks on NetFlow/IPFIX before processing."),
    NOOP("nfacctd_stitching", "Per-aggregate flow start/end stitching fields."),
    NOOP("nfacctd_rp_ebpf_prog", "eBPF program to balance SO_REUSEPORT sockets."),
    NOOP("nfacctd_zmq_address", "Read NetFlow/IPFIX from a ZeroMQ queue."),
    NOOP("nfacctd_nonroot", "Allow running as a non-root user."),
    NOOP("tcpflags_encode_as_array", "TCP flags as an array in Kafka/Avro output."),
    NOOP("fwd_status_encode_as_string", "Forwarding status as a string in Kafka/Avro output."),
    NOOP("mpls_label_stack_encode_as_array", "MPLS label stack as an array in Kafka/Avro output."),
    NOOP("as_path_encode_as_array", "AS path as an array in Kafka/Avro output."),
    NOOP("promisc", "Promiscuous mode of pmacctd's capture interface."),
    NOOP("snaplen", "Capture length of pmacctd."),
    NOOP("pmacctd_*", "Settings of pmacctd, pmacct's packet-capture daemon."),
    NOOP("uacctd_*", "Settings of uacctd, pmacct's NFLOG daemon."),
    NOOP("nfprobe_*", "Settings of the nfprobe plugin (exports NetFlow/IPFIX)."),
    NOOP("sfprobe_*", "Settings of the sfprobe plugin (exports sFlow)."),
    NOOP("imt_*", "Settings of the in-memory table plugin and its client."),
    NOOP("mongo_*", "Settings of the legacy MongoDB plugin."),
    NOOP("classifier_*", "nDPI traffic classification."),
    NOOP("telemetry_*", "Streaming telemetry daemon."),
    NOOP("isis_*", "IS-IS daemon."),
    NOOP("igp_*", "IGP daemon."),
    NOOP("tunnel_0", "Tunnel decapsulation in pmacctd."),
    NOOP("tmp_*", "Temporary pmacct knobs."),
    NOOP("redis_*", "Redis-based cluster state."),
    NOOP("cluster_name", "Cluster name for Redis-based state."),
    NOOP("cluster_id", "Cluster id for Redis-based state."),
    NOOP("print_output_custom_lib", "Shared library with a custom print format."),
    NOOP("print_output_custom_cfg_file", "Config file of the custom print library."),
    NOOP("print_num_protos", "Protocols known by number in print output."),
    NOOP("print_max_writers", "Concurrent writer processes of the print plugin."),

    /* --- pmacct keys that later issues implement --- */
    LATER("pcap_savefile", "Read export packets from a pcap file instead of the network."),
    LATER("pcap_*", "Other libpcap input settings (interface, filter, replay)."),
    LATER("aggregate_primitives", "File of custom aggregation primitives."),
    LATER("aggregate_unknown_etype", "Aggregate frames of unknown ethertype."),
    LATER("timestamps_rfc3339", "RFC 3339 timestamps."),
    LATER("tos_encode_as_dscp", "Print DSCP instead of the TOS byte."),
    LATER("networks_*", "networks_file: prefix to network/mask/AS map and its settings."),
    LATER("ports_file", "List of ports to account for."),
    LATER("protos_file", "List of protocols to account for."),
    LATER("tos_file", "List of TOS values to account for."),
    LATER("files_*", "umask, uid and gid of the files written."),
    LATER("print_output_lock_file", "Lock file serializing print output to stdout."),
    LATER("print_trigger_exec", "Command run after each print purge."),
    LATER("print_history", "Time bins of the print plugin."),
    LATER("print_history_offset", "Offset of the print plugin's time bins."),
    LATER("print_history_roundoff", "Rounding of the print plugin's time bins."),
    LATER("print_preprocess", "Conditions a row must meet before it is printed."),
    LATER("print_preprocess_type", "How print_preprocess conditions combine."),
    LATER("print_startup_delay", "Delay of the first print purge."),
    LATER("sql_*", "SQL plugins (mysql, pgsql, sqlite3)."),
    LATER("kafka_*", "Kafka plugin."),
    LATER("amqp_*", "AMQP/RabbitMQ plugin."),
    LATER("avro_*", "Avro encoding."),
    LATER("nfacctd_interface", "Bind the listener to an interface."),
    LATER("nfacctd_ipv6_only", "IPv6-only listener (no IPv4-mapped addresses)."),
    LATER("nfacctd_time_secs", "NetFlow v9 times in seconds rather than uptime-relative."),
    LATER("nfacctd_as", "Source of AS numbers (netflow, bgp, file)."),
    LATER("nfacctd_as_new", "Source of AS numbers (old name)."),
    LATER("nfacctd_net", "Source of network masks (netflow, bgp, file, mask)."),
    LATER("nfacctd_mcast_groups", "Multicast groups to join."),
    LATER("nfacctd_peer_as", "Report the peer AS instead of the origin AS."),
    LATER("nfacctd_pro_rating", "Spread flow counters across time bins."),
    LATER("nfacctd_templates_receiver", "Replicate templates to another collector."),
    LATER("nfacctd_templates_port", "Port that receives replicated templates."),
    LATER("nfacctd_account_options", "Account options data records as flows."),
    LATER("nfacctd_ext_sampling_rate", "Sampling rate applied by the exporter, when not reported."),
    LATER("nfacctd_disable_checks", "Disable sequence number checks."),
    LATER("nfacctd_disable_opt_scope_check", "Ignore the options scope when keying sampling info."),
    LATER("nfacctd_ignore_exporter_address", "Key template state by source id only."),
    LATER("nfacctd_kafka_*", "Read NetFlow/IPFIX from Kafka."),
    LATER("nfacctd_dtls_port", "NetFlow/IPFIX over DTLS."),
    LATER("dtls_path", "Certificates for DTLS."),
    LATER("maps_*", "Map file settings (refresh, index, entries, row length)."),
    LATER("pre_tag*", "pre_tag_map: tags and labels from a map, and filters on them."),
    LATER("post_tag*", "Static tags set after aggregation."),
    LATER("sampling_rate", "Sampling rate applied to every flow."),
    LATER("sampling_map", "Per-exporter sampling rates from a map."),
    LATER("sfacctd_*", "sFlow collector settings (sfacctd)."),
    LATER("tee_*", "Replication of export packets to other collectors (weir relay)."),
    LATER("bgp_*", "BGP daemon and BGP lookups."),
    LATER("bmp_*", "BMP daemon."),
    LATER("rpki_*", "RPKI validation."),
    LATER("flow_to_rd_map", "Map of flows to BGP/MPLS VPN route distinguishers."),
    LATER("use_ip_next_hop", "Use the IP next hop when BGP gives none."),
    LATER("geoip*", "GeoIP databases."),
};

const size_t conf_n_keys = sizeof(conf_keys) / sizeof(conf_keys[0]);

const char *const conf_plugin_types[] = {
    "print", "sqlite3", "mysql",   "pgsql",   "kafka",          "amqp", "memory",
    "tee",   "nfprobe", "sfprobe", "mongodb", "mongodb_legacy", NULL,
};

const char conf_embedded_default[] =
    "! weir's embedded default: what `weir collect` runs without a config file.\n"
    "nfacctd_ip: ::\n"
    "nfacctd_port: 2055, 4739\n"
    "plugins: print[default]\n"
    "print_output: json\n"
    "print_output_file: weir-data/flows-%Y%m%d-%H%M.json\n"
    "print_latest_file: weir-data/latest.json\n"
    "print_refresh_time: 60\n";

bool conf_key_is_family(const struct key_def *k)
{
	size_t n = strlen(k->name);
	return n && k->name[n - 1] == '*';
}

const struct key_def *conf_key_find(const char *name)
{
	const struct key_def *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < conf_n_keys; i++) {
		const struct key_def *k = &conf_keys[i];
		if (!conf_key_is_family(k)) {
			if (!strcmp(k->name, name))
				return k;
			continue;
		}
		/* The longest family prefix wins: nfacctd_kafka_* is not nfacctd_*. */
		size_t n = strlen(k->name) - 1;
		if (n > best_len && !strncmp(k->name, name, n)) {
			best = k;
			best_len = n;
		}
	}
	return best;
}
