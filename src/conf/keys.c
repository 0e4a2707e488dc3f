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

/* The order of enum conf_src: the AS key offers the first CONF_SRC_N_AS. */
static const char *const as_sources[] = {"netflow",  "sflow", "file", "longest",
                                         "fallback", "bgp",   "bmp",  NULL};
static const char *const net_sources[] = {"netflow", "sflow", "file", "longest", "fallback",
                                          "bgp",     "bmp",   "mask", "igp",     NULL};

/* nfacctd_as, nfacctd_net and their pmacct spellings: one field each, the same row each. */
#define AS_SOURCE(n, h, pm)                                                                        \
	{                                                                                          \
		.name = n, .type = KT_ENUM, G(nfacctd_as), .def = "netflow",                       \
		.choices = as_sources, .section = "Enrichment maps", .help = h, .pmacct = pm       \
	}
#define NET_SOURCE(n, h, pm)                                                                       \
	{                                                                                          \
		.name = n, .type = KT_ENUM, G(nfacctd_net), .def = "netflow",                      \
		.choices = net_sources, .section = "Enrichment maps", .help = h, .pmacct = pm      \
	}

/* The order of enum asname_proto (src/enrich/asname.h). */
static const char *const asname_sources[] = {"dns", "whois", "off", NULL};

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

/* sfacctd_ip / sfacctd_port: empty is allowed (nfacctd_ip; no sFlow-only listener). */
static bool check_opt_ip_list(char *val, size_t len, char *msg, size_t msglen)
{
	return !*val || each_item(val, check_ip, msg, msglen);
}

static bool check_opt_port_list(char *val, size_t len, char *msg, size_t msglen)
{
	return !*val || each_item(val, check_port, msg, msglen);
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

/* *_history_roundoff: pmacct's letters m, h, d, w, M. */
static bool check_roundoff(char *val, size_t len, char *msg, size_t msglen)
{
	if (strspn(val, "mhdwM") != strlen(val)) {
		snprintf(msg, msglen, "'%.64s' is not made of the letters m, h, d, w, M", val);
		return false;
	}
	return true;
}

/* An empty value or one numeric IPv4/IPv6 address. */
static bool check_opt_ip(char *val, size_t len, char *msg, size_t msglen)
{
	return !*val || check_ip(val, msg, msglen);
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
    {.name = "nfacctd_pro_rating",
     .type = KT_BOOL,
     G(pro_rating),
     .def = "false",
     .section = "Listeners and decoding",
     .help = "Spread a flow's counters over the time bins its start..end spans (needs "
             "*_history).",
     .pmacct = "Same: pro-rates counters across time bins."},

    /* --- enrichment maps (src/enrich/) --- */
    {.name = "networks_file",
     .type = KT_PATH,
     G(networks_file),
     .def = "",
     .section = "Enrichment maps",
     .help = "Lines `[peer_as_]as,net/len` (IPv4 and IPv6), looked up by longest match where "
             "nfacctd_as / nfacctd_net say file or longest.",
     .pmacct = "Same format: networks/ASNs for src_net, dst_net, masks and AS numbers."},
    AS_SOURCE("nfacctd_as",
              "Where src_as, dst_as, peer_src_as, peer_dst_as come from: the exporter (netflow, "
              "sflow), networks_file (file: the matching line's, 0 when none matches), or "
              "longest (the line's when its prefix is at least as long as the mask).",
              "Same values and default; bgp and bmp load with a warning and use the exporter's "
              "values (no BGP listener yet)."),
    AS_SOURCE("nfacctd_as_new", "Same as nfacctd_as.", "Older name of nfacctd_as."),
    AS_SOURCE("sfacctd_as", "Same as nfacctd_as.", "sfacctd's name of nfacctd_as."),
    AS_SOURCE("pmacctd_as", "Same as nfacctd_as.", "pmacctd's name of nfacctd_as."),
    AS_SOURCE("uacctd_as", "Same as nfacctd_as.", "uacctd's name of nfacctd_as."),
    NET_SOURCE("nfacctd_net",
               "Where src_mask, dst_mask (hence src_net, dst_net) come from: the exporter, "
               "networks_file (file: the matching prefix, 0 when none matches), networks_mask "
               "(mask), or longest (the longer of the file's prefix and the exporter's).",
               "Same values and default (networks_file or networks_mask alone change no mask "
               "in nfacctd/sfacctd); igp, bgp and bmp load with a warning and use the "
               "exporter's values (no IS-IS/BGP listener yet)."),
    NET_SOURCE("sfacctd_net", "Same as nfacctd_net.", "sfacctd's name of nfacctd_net."),
    NET_SOURCE("pmacctd_net", "Same as nfacctd_net.", "pmacctd's name of nfacctd_net."),
    NET_SOURCE("uacctd_net", "Same as nfacctd_net.", "uacctd's name of nfacctd_net."),
    {.name = "networks_mask",
     .type = KT_UINT,
     G(networks_mask),
     .min = 0,
     .max = 128,
     .def = "0",
     .section = "Enrichment maps",
     .help = "Prefix length nfacctd_net: mask gives src/dst masks (IPv4: at most 32); 0 = "
             "none.",
     .pmacct = "Same: a fixed mask for src_net/dst_net (pmacct applies it only with "
               "nfacctd_net: mask in nfacctd/sfacctd)."},
    {.name = "sampling_map",
     .type = KT_PATH,
     G(sampling_map),
     .def = "",
     .section = "Enrichment maps",
     .help = "Lines `set_sampling_rate=N ip=EXPORTER [in=IF] [out=IF]`: overrides the rate "
             "used by renormalization and the sampling_rate primitive.",
     .pmacct = "Same: per-exporter (and interface) sampling rates."},
    {.name = "pre_tag_map",
     .type = KT_PATH,
     G(pre_tag_map),
     .def = "",
     .section = "Enrichment maps",
     .help = "Lines `set_tag=N|set_tag2=N|set_label=TEXT [ip=EXPORTER[/len]] [in=IF] [out=IF] "
             "[filter='libpcap expr']`; the first matching line tags the flow. The tee relay "
             "reads it for tag= and hash-tag pools, per datagram: only ip= rules (the sFlow "
             "agent for sFlow), reloaded on SIGUSR2.",
     .pmacct = "Same syntax (the subset listed; jeq/stack chains are not supported)."},
    {.name = "pre_tag_label_encode_as_map",
     .type = KT_BOOL,
     G(pre_tag_label_encode_as_map),
     .def = "false",
     .section = "Enrichment maps",
     .help = "Print labels `k1%v1,k2%v2` as a JSON object {\"k1\": \"v1\", ...}.",
     .pmacct = "Same."},

    /* --- sFlow (sfacctd) --- */
    {.name = "sfacctd_port",
     .type = KT_LIST,
     G(sfacctd_port),
     .def = "",
     .check = check_opt_port_list,
     .section = "sFlow",
     .help = "Comma list of UDP ports listened on besides nfacctd_port (every port takes every "
             "protocol; the embedded default takes sFlow on 6343 through nfacctd_port).",
     .pmacct = "The UDP port sfacctd listens on (default 6343)."},
    {.name = "sfacctd_ip",
     .type = KT_LIST,
     G(sfacctd_ip),
     .def = "",
     .check = check_opt_ip_list,
     .section = "sFlow",
     .help = "Addresses the sfacctd_port listeners bind to; empty = those of nfacctd_ip.",
     .pmacct = "The address sfacctd binds to."},
    {.name = "sfacctd_renormalize",
     .type = KT_BOOL,
     G(sfacctd_renormalize),
     .def = "false",
     .section = "sFlow",
     .help = "Multiply sFlow sample bytes and packets by the sampling rate, which then reads 1.",
     .pmacct = "Same: renormalizes counters by the sampling rate."},
    {.name = "sfacctd_counter_file",
     .type = KT_PATH,
     G(sfacctd_counter_file),
     .def = "",
     .section = "sFlow",
     .help = "Append counter samples (interface octets, packets, errors, discards per agent and "
             "ifIndex) to this file as JSON lines; empty = not written.",
     .pmacct = "Same: file of sFlow counter samples (weir writes JSON only)."},

    /* --- packet capture (pmacctd) --- */
    {.name = "pcap_interface",
     .type = KT_STRING,
     G(pcap_interface),
     .def = "",
     .section = "Packet capture",
     .help = "Capture this interface and meter its packets into flows (needs CAP_NET_RAW); "
             "NetFlow/IPFIX/sFlow datagrams to a listener port are decoded instead (raise "
             "snaplen to capture them whole; see weir_pcap_decode_exports).",
     .pmacct = "Same: pmacctd's capture interface."},
    {.name = "pcap_savefile",
     .type = KT_PATH,
     G(pcap_savefile),
     .def = "",
     .section = "Packet capture",
     .help = "Read this pcap file instead of pcap_interface: NetFlow/IPFIX/sFlow datagrams "
             "to a listener port (nfacctd_port, sfacctd_port) are decoded as if received, "
             "other packets are metered into flows; weir collect stops at its end unless "
             "pcap_savefile_wait is set.",
     .pmacct = "Same for pmacctd (nfacctd/sfacctd read export packets from it instead)."},
    {.name = "pcap_filter",
     .type = KT_STRING,
     G(pcap_filter),
     .def = "",
     .section = "Packet capture",
     .help = "libpcap filter applied to captured packets; empty = all.",
     .pmacct = "Same."},
    {.name = "pcap_savefile_wait",
     .type = KT_BOOL,
     G(pcap_savefile_wait),
     .def = "false",
     .section = "Packet capture",
     .help = "Keep running once pcap_savefile is read (listeners stay up).",
     .pmacct = "Same."},
    {.name = "promisc",
     .type = KT_BOOL,
     G(promisc),
     .def = "true",
     .section = "Packet capture",
     .help = "Put pcap_interface in promiscuous mode.",
     .pmacct = "Same."},
    {.name = "snaplen",
     .type = KT_UINT,
     G(snaplen),
     .min = 64,
     .max = 65535,
     .def = "128",
     .section = "Packet capture",
     .help = "Bytes captured per packet: the headers are all the flow cache needs.",
     .pmacct = "Same."},
    {.name = "weir_pcap_savefile_speed",
     .type = KT_UINT,
     G(savefile_speed),
     .min = 0,
     .max = 1000,
     .def = "0",
     .section = "Packet capture",
     .help = "Replay pcap_savefile at N times its recorded speed; 0 = as fast as possible."},
    {.name = "weir_pcap_decode_exports",
     .type = KT_BOOL,
     G(pcap_decode_exports),
     .def = "true",
     .section = "Packet capture",
     .help = "Decode the captured UDP datagrams sent to a listener port (nfacctd_port, "
             "sfacctd_port) as NetFlow/IPFIX/sFlow, as if they had arrived on the listener, "
             "instead of metering them; false meters every packet."},
    {.name = "weir_flow_cache_entries",
     .type = KT_UINT,
     G(meter_entries),
     .min = 1,
     .max = 16777216,
     .def = "65536",
     .section = "Packet capture",
     .help = "Flows the capture's cache holds; a new flow beyond it evicts the idlest one "
             "(counted)."},
    {.name = "weir_flow_active_timeout",
     .type = KT_DURATION,
     G(meter_active_ms),
     .min = 1000,
     .max = 86400000,
     .unit_ms = 1,
     .def = "60s",
     .section = "Packet capture",
     .help = "A captured flow older than this is exported at its next packet."},
    {.name = "weir_flow_inactive_timeout",
     .type = KT_DURATION,
     G(meter_inactive_ms),
     .min = 1000,
     .max = 86400000,
     .unit_ms = 1,
     .def = "15s",
     .section = "Packet capture",
     .help = "A captured flow idle this long is exported; TCP FIN or RST exports it at once."},

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
     .help = "Primitives that make up the plugin's key; flows with equal keys are summed. "
             "weir adds as_src_name/as_dst_name: the AS's name (asname_* keys) beside the key's "
             "src_as/dst_as. as_path, std_comm, local_pref, peer_src_as and peer_dst_as come "
             "from sFlow's extended_gateway records (AS_SETs flattened, texts cut at 255 "
             "bytes); ext_comm, lrg_comm, med and the src_* BGP primitives print empty until "
             "the BGP listener lands.",
     .pmacct = "Same primitives (pmacct's default is src_host); sfacctd's values for the "
               "extended_gateway ones."},
    {.name = "aggregate_filter",
     .type = KT_STRING,
     P(aggregate_filter),
     .def = "",
     .section = "Plugins",
     .help = "libpcap filter a flow must match to reach the plugin; empty = all.",
     .pmacct = "Same: tcpdump-syntax filter per plugin."},
    {.name = "pre_tag_filter",
     .type = KT_LIST,
     P(pre_tag_filter),
     .def = "",
     .section = "Plugins",
     .help = "Tags (N or A-B ranges; 0 = untagged) a flow needs to reach the plugin; empty = all.",
     .pmacct = "Same."},
    {.name = "print_history",
     .type = KT_DURATION,
     P(history),
     .min = 0,
     .max = 31 * 86400,
     .unit_ms = 1000,
     .def = "0",
     .section = "Plugins",
     .calendar = true,
     .help =
         "Time bin of the plugin's rows (10s, 5m, 1h, 1d; 1w = weeks from Monday 00:00 UTC; "
         "1M = calendar months in UTC, N months starting at multiples of N since 1970-01; 1 to 520 "
         "w or M); "
         "0 = the refresh interval. Rows carry stamp_inserted/stamp_updated when set.",
     .pmacct = "Same, with the same s/m/h/d/w/M units."},
    {.name = "print_history_roundoff",
     .type = KT_STRING,
     P(history_roundoff),
     .def = "",
     .check = check_roundoff,
     .section = "Plugins",
     .help = "m, h, d are implied: weir's bins are multiples of the bin length since the "
             "epoch (UTC), so they start on whole minutes/hours/days whenever the length divides "
             "them. w / M make s/m/h/d bins also start at every week (Monday 00:00 UTC) / month "
             "start, the bin before it cut short; 1w and 1M bins always align so.",
     .pmacct = "Same letters (pmacct rounds the first bin's start; weir aligns every bin)."},
    {.name = "print_history_offset",
     .type = KT_DURATION,
     P(history_offset),
     .min = 0,
     .max = 86400,
     .unit_ms = 1000,
     .def = "0",
     .section = "Plugins",
     .help = "Shift the bin boundaries by this many seconds.",
     .pmacct = "Same."},
    {.name = "sql_history",
     .type = KT_DURATION,
     P(history),
     .min = 0,
     .max = 31 * 86400,
     .unit_ms = 1000,
     .calendar = true,
     .def = "0",
     .section = "Plugins",
     .help = "Alias of print_history for configurations written for the SQL plugins.",
     .pmacct = "Time bin of the SQL plugins."},
    {.name = "sql_history_roundoff",
     .type = KT_STRING,
     P(history_roundoff),
     .def = "",
     .check = check_roundoff,
     .section = "Plugins",
     .help = "Alias of print_history_roundoff.",
     .pmacct = "Rounding of the SQL plugins' time bins."},
    {.name = "sql_history_offset",
     .type = KT_DURATION,
     P(history_offset),
     .min = 0,
     .max = 86400,
     .unit_ms = 1000,
     .def = "0",
     .section = "Plugins",
     .help = "Alias of print_history_offset.",
     .pmacct = "Offset of the SQL plugins' time bins."},

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

/* --- SQL plugins: sqlite3, mysql, pgsql --- */
#define SQL_S(n, field, d, h, pm)                                                                  \
	{                                                                                          \
		.name = n, .type = KT_STRING, P(field), .def = d, .section = "SQL plugins",        \
		.help = h, .pmacct = pm                                                            \
	}
#define SQL_B(n, field, d, h, pm)                                                                  \
	{                                                                                          \
		.name = n, .type = KT_BOOL, P(field), .def = d, .section = "SQL plugins",          \
		.help = h, .pmacct = pm                                                            \
	}
    {.name = "sql_db",
     .type = KT_PATH,
     P(sql_db),
     .def = "",
     .section = "SQL plugins",
     .help = "sqlite3: the database file (empty = /tmp/pmacct.db; `weir collect --db` sets it); "
             "mysql/pgsql: the database name (empty = pmacct).",
     .pmacct = "Same."},
    SQL_S("sql_table", sql_table, "",
          "Table; strftime variables (%Y%m%d ...) of the time bin make one table per period, "
          "created when missing. Empty = acct (version 1) or acct_vN.",
          "Same (pmacct also expands $peer_src_ip and the like)."),
    SQL_S("sql_host", sql_host, "",
          "Server host or address (empty = 127.0.0.1); mysql/pgsql: a path starting with / is a "
          "unix socket (directory for pgsql).",
          "Same."),
    {.name = "sql_port",
     .type = KT_UINT,
     P(sql_port),
     .min = 0,
     .max = 65535,
     .def = "0",
     .section = "SQL plugins",
     .help = "Server port; 0 = the backend's default (3306, 5432).",
     .pmacct = "Same."},
    SQL_S("sql_user", sql_user, "", "User name (empty = pmacct).", "Same."),
    SQL_S("sql_passwd", sql_passwd, "", "Password (empty = arealsmartpwd, as pmacct).", "Same."),
    {.name = "sql_refresh_time",
     .type = KT_DURATION,
     P(print_refresh_time),
     .min = 1,
     .max = 86400,
     .unit_ms = 1000,
     .def = "60",
     .section = "SQL plugins",
     .help = "Seconds between flushes (one transaction each); alias of print_refresh_time.",
     .pmacct = "Same."},
    {.name = "sql_cache_entries",
     .type = KT_UINT,
     P(print_cache_entries),
     .min = 1,
     .max = 100000000,
     .def = "65535",
     .section = "SQL plugins",
     .help = "Bound of the plugin's table per interval; alias of print_cache_entries.",
     .pmacct = "Same: cache buckets."},
    {.name = "sql_table_version",
     .type = KT_UINT,
     P(sql_table_version),
     .min = 1,
     .max = 9,
     .def = "9",
     .section = "SQL plugins",
     .help = "pmacct's column set (1..9) written without sql_optimize_clauses; primitives a "
             "set lacks get a column of their own.",
     .pmacct = "Same sets (pmacct's default is 1)."},
    SQL_B("sql_optimize_clauses", sql_optimize_clauses, "false",
          "Write only the columns of the configured primitives (plus counters and stamps).",
          "Same."),
    SQL_B("sql_dont_try_update", sql_dont_try_update, "false",
          "Plain INSERT instead of an upsert that adds a bin written twice.", "Same."),
    {.name = "sql_multi_values",
     .type = KT_SIZE,
     P(sql_multi_values),
     .min = 0,
     .max = 64u << 20,
     .def = "0",
     .section = "SQL plugins",
     .help = "Size of one multi-row INSERT, ~256 bytes a row; 0 = the backend's default "
             "(sqlite3 64 rows, mysql/pgsql 1000 rows).",
     .pmacct = "Same idea: bytes of the multi-values buffer (mysql only there)."},
    SQL_B("sql_num_protos", sql_num_protos, "false",
          "ip_proto as a number instead of a name (always a number for pgsql).", "Same."),
    {.name = "sql_table_schema",
     .type = KT_PATH,
     P(sql_table_schema),
     .def = "",
     .section = "SQL plugins",
     .help = "File with the CREATE TABLE statement run when the table is missing (weir's own "
             "schema when empty).",
     .pmacct = "Same."},
    {.name = "sql_backlog_file",
     .type = KT_PATH,
     P(sql_backlog_file),
     .def = "",
     .section = "SQL plugins",
     .help = "Spool file of batches the database refused, replayed in order when it is back "
             "and after a restart; empty = weir-TYPE-NAME.spool in the working directory.",
     .pmacct = NULL},
    {.name = "sql_backlog_memory",
     .type = KT_SIZE,
     P(sql_backlog_memory),
     .min = 0,
     .max = 1u << 30,
     .def = "64m",
     .section = "SQL plugins",
     .help = "Refused batches held in memory before they go to the spool file.",
     .pmacct = NULL},
    {.name = "sql_backlog_size",
     .type = KT_SIZE,
     P(sql_backlog_size),
     .min = 4096,
     .max = 4095u << 20,
     .def = "1g",
     .section = "SQL plugins",
     .help = "Bound of the spool file; a batch that does not fit is dropped, logged and "
             "counted.",
     .pmacct = NULL},
#undef SQL_S
#undef SQL_B
    LATER("sql_*", "Other SQL plugin settings (sql_backup_host, sql_locking_style ...)."),

    /* --- tee plugin and weir relay --- */
    {.name = "tee_receivers",
     .type = KT_PATH,
     P(tee_receivers),
     .def = "",
     .section = "Tee plugin and relay",
     .help = "File of receiver pools (id=, ip=, balance-alg=, tag=, ...); every pool gets "
             "each datagram, one receiver of it by hash-agent (default), hash-tag, rr, "
             "dst-port or all. See docs/relay.md.",
     .pmacct = "Same file format (weir adds exporter=, version=, sample=, ports=, healthz=)."},
    {.name = "tee_transparent",
     .type = KT_BOOL,
     P(tee_transparent),
     .def = "false",
     .section = "Tee plugin and relay",
     .help = "Keep the exporter's source address and port (raw sockets, IPv4 and IPv6; needs "
             "CAP_NET_RAW).",
     .pmacct = "Same: spoofs the original sender, needs super-user permissions."},
    {.name = "tee_source_ip",
     .type = KT_STRING,
     P(tee_source_ip),
     .def = "",
     .check = check_opt_ip,
     .section = "Tee plugin and relay",
     .help = "Numeric address replicated datagrams leave from; ignored when transparent.",
     .pmacct = "Same."},
    {.name = "tee_pipe_size",
     .type = KT_SIZE,
     P(tee_pipe_size),
     .min = 0,
     .max = 1u << 30,
     .def = "0",
     .section = "Tee plugin and relay",
     .help = "SO_SNDBUF of each sending socket; 0 = kernel default.",
     .pmacct = "Same: size of the socket that writes replicated data."},
    {.name = "tee_max_receiver_pools",
     .type = KT_UINT,
     P(tee_max_pools),
     .min = 1,
     .max = 4096,
     .def = "128",
     .section = "Tee plugin and relay",
     .help = "Most pools a receivers file may define.",
     .pmacct = "Same."},
    {.name = "tee_max_receivers",
     .type = KT_UINT,
     P(tee_max_receivers),
     .min = 1,
     .max = 255,
     .def = "32",
     .section = "Tee plugin and relay",
     .help = "Most receivers in one pool.",
     .pmacct = "Same."},
    {.name = "tee_ipprec",
     .type = KT_UINT,
     P(tee_ipprec),
     .min = 0,
     .max = 7,
     .def = "0",
     .section = "Tee plugin and relay",
     .help = "IP precedence of replicated datagrams (not applied in transparent mode).",
     .pmacct = "Same."},
    {.name = "weir_tee_probe_interval",
     .type = KT_DURATION,
     P(tee_probe_ms),
     .min = 10,
     .max = 3600000,
     .unit_ms = 1,
     .def = "1s",
     .section = "Tee plugin and relay",
     .help = "How often down receivers are probed, and healthz= URLs fetched (plain numbers "
             "are ms)."},

    /* --- HTTP endpoint and time-series plugins (src/http/, prometheus, influxdb) --- */
    {.name = "http_listen",
     .type = KT_STRING,
     G(http_listen),
     .def = "127.0.0.1:9470",
     .section = "HTTP endpoint",
     .help = "host:port ([v6]:port) serving /metrics, /healthz and /api/v1/status; empty = "
             "off. A non-loopback address needs http_auth_token or http_auth_basic_file."},
    {.name = "http_auth_token",
     .type = KT_STRING,
     G(http_auth_token),
     .def = "",
     .section = "HTTP endpoint",
     .help = "Bearer token the HTTP endpoint requires (`Authorization: Bearer ...`); "
             "/healthz is always open."},
    {.name = "http_auth_basic_file",
     .type = KT_PATH,
     G(http_auth_basic_file),
     .def = "",
     .section = "HTTP endpoint",
     .help = "File of `user:password` lines accepted as HTTP basic auth."},
    {.name = "asname_source",
     .type = KT_ENUM,
     G(asname_source),
     .def = "dns",
     .choices = asname_sources,
     .section = "AS names",
     .help = "Where the as_src_name/as_dst_name primitives get names (\"AS57811 ATMSOFTWARE "
             "(PL)\"): Team Cymru over DNS TXT or whois bulk, or off (cache and CSV only). "
             "Looked up when rows are written, never blocking: an unknown name prints as "
             "\"\" until a later flush."},
    {.name = "asname_server",
     .type = KT_STRING,
     G(asname_server),
     .def = "",
     .section = "AS names",
     .help = "host[:port] of the DNS server or whois server; empty = the first resolv.conf "
             "nameserver (dns) or whois.cymru.com:43 (whois)."},
    {.name = "asname_zone",
     .type = KT_STRING,
     G(asname_zone),
     .def = "",
     .section = "AS names",
     .help = "DNS zone of the AS records; empty = asn.cymru.com."},
    {.name = "asname_cache_file",
     .type = KT_PATH,
     G(asname_cache_file),
     .def = "",
     .section = "AS names",
     .help = "File the names are kept in across restarts (written at exit); empty = none."},
    {.name = "asname_csv_file",
     .type = KT_PATH,
     G(asname_csv_file),
     .def = "",
     .section = "AS names",
     .help = "Offline `asn,name` lines: the names used while a lookup fails or is pending."},
    {.name = "asname_ttl",
     .type = KT_DURATION,
     G(asname_ttl),
     .min = 60,
     .max = 31536000,
     .unit_ms = 1000,
     .def = "7d",
     .section = "AS names",
     .help = "How long a resolved name is used before it is looked up again."},
    {.name = "asname_timeout",
     .type = KT_DURATION,
     G(asname_timeout_ms),
     .min = 100,
     .max = 60000,
     .unit_ms = 1,
     .def = "2s",
     .section = "AS names",
     .help = "Time one DNS or whois query may take."},
    {.name = "prometheus_max_series",
     .type = KT_UINT,
     P(prom_max_series),
     .min = 1,
     .max = 10000000,
     .def = "10000",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Series a prometheus plugin exposes; new keys beyond the top ones by bytes fold "
             "into one `other` series (counted in weir_prometheus_folded_total)."},
    {.name = "prometheus_stale_time",
     .type = KT_DURATION,
     P(prom_stale_s),
     .min = 0,
     .max = 31536000,
     .unit_ms = 1000,
     .def = "1h",
     .section = "Prometheus and InfluxDB plugins",
     .help = "A series without data for this long is dropped from /metrics; 0 = never."},
    {.name = "influxdb_url",
     .type = KT_STRING,
     P(influx_url),
     .def = "http://127.0.0.1:8086",
     .section = "Prometheus and InfluxDB plugins",
     .help = "InfluxDB base URL (http or https)."},
    {.name = "influxdb_database",
     .type = KT_STRING,
     P(influx_database),
     .def = "weir",
     .section = "Prometheus and InfluxDB plugins",
     .help = "InfluxDB 1.x database: rows go to /write?db=...; ignored when influxdb_bucket is "
             "set."},
    {.name = "influxdb_org",
     .type = KT_STRING,
     P(influx_org),
     .def = "",
     .section = "Prometheus and InfluxDB plugins",
     .help = "InfluxDB 2.x organization (with influxdb_bucket: /api/v2/write)."},
    {.name = "influxdb_bucket",
     .type = KT_STRING,
     P(influx_bucket),
     .def = "",
     .section = "Prometheus and InfluxDB plugins",
     .help = "InfluxDB 2.x bucket; set, the 2.x API is used with influxdb_token."},
    {.name = "influxdb_token",
     .type = KT_STRING,
     P(influx_token),
     .def = "",
     .section = "Prometheus and InfluxDB plugins",
     .help = "InfluxDB token (`Authorization: Token ...`)."},
    {.name = "influxdb_user",
     .type = KT_STRING,
     P(influx_user),
     .def = "",
     .section = "Prometheus and InfluxDB plugins",
     .help = "InfluxDB 1.x user (basic auth), with influxdb_password."},
    {.name = "influxdb_password",
     .type = KT_STRING,
     P(influx_password),
     .def = "",
     .section = "Prometheus and InfluxDB plugins",
     .help = "InfluxDB 1.x password."},
    {.name = "influxdb_measurement",
     .type = KT_STRING,
     P(influx_measurement),
     .def = "flows",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Measurement name of the lines written."},
    {.name = "influxdb_tags",
     .type = KT_STRING,
     P(influx_tags),
     .def = "",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Comma list of key primitives written as tags (pmacct names); empty = every "
             "primitive of the plugin's aggregate key."},
    {.name = "influxdb_fields",
     .type = KT_STRING,
     P(influx_fields),
     .def = "bytes, packets, flows",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Comma list of the counters written as integer fields: bytes, packets, flows."},
    {.name = "influxdb_batch_lines",
     .type = KT_UINT,
     P(influx_batch),
     .min = 1,
     .max = 1000000,
     .def = "5000",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Lines per HTTP request."},
    {.name = "influxdb_gzip",
     .type = KT_BOOL,
     P(influx_gzip),
     .def = "true",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Send request bodies gzip-compressed (Content-Encoding: gzip)."},
    {.name = "influxdb_timeout",
     .type = KT_DURATION,
     P(influx_timeout_ms),
     .min = 100,
     .max = 600000,
     .unit_ms = 1,
     .def = "10s",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Timeout of one HTTP request (plain numbers are ms)."},
    {.name = "influxdb_retries",
     .type = KT_UINT,
     P(influx_retries),
     .min = 0,
     .max = 100,
     .def = "3",
     .section = "Prometheus and InfluxDB plugins",
     .help = "Retries of a batch on a network error or 5xx within a flush; what still fails "
             "stays in the plugin's backlog and is sent first at the next flush. A 4xx is not "
             "retried: it is logged with the offending line and the batch is dropped "
             "(counted)."},

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
    LATER("pcap_*", "Other libpcap input settings (pcap_ifindex, pcap_arista_*, replay counts)."),
    LATER("aggregate_primitives", "File of custom aggregation primitives."),
    LATER("aggregate_unknown_etype", "Aggregate frames of unknown ethertype."),
    LATER("timestamps_rfc3339", "RFC 3339 timestamps."),
    LATER("tos_encode_as_dscp", "Print DSCP instead of the TOS byte."),
    LATER("networks_*", "Other networks_file settings (networks_file_filter, "
                        "networks_file_no_lpm, networks_cache_entries ...)."),
    LATER("ports_file", "List of ports to account for."),
    LATER("protos_file", "List of protocols to account for."),
    LATER("tos_file", "List of TOS values to account for."),
    LATER("files_*", "umask, uid and gid of the files written."),
    LATER("print_output_lock_file", "Lock file serializing print output to stdout."),
    LATER("print_trigger_exec", "Command run after each print purge."),
    LATER("print_preprocess", "Conditions a row must meet before it is printed."),
    LATER("print_preprocess_type", "How print_preprocess conditions combine."),
    LATER("print_startup_delay", "Delay of the first print purge."),
    LATER("kafka_*", "Kafka plugin."),
    LATER("amqp_*", "AMQP/RabbitMQ plugin."),
    LATER("avro_*", "Avro encoding."),
    LATER("nfacctd_interface", "Bind the listener to an interface."),
    LATER("nfacctd_ipv6_only", "IPv6-only listener (no IPv4-mapped addresses)."),
    LATER("nfacctd_time_secs", "NetFlow v9 times in seconds rather than uptime-relative."),
    LATER("nfacctd_mcast_groups", "Multicast groups to join."),
    LATER("nfacctd_peer_as", "Report the peer AS instead of the origin AS."),
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
    LATER("pre_tag*", "Other pre_tag_map settings (pre_tag2_filter, pre_tag_label_filter ...)."),
    LATER("post_tag*", "Static tags set after aggregation."),
    LATER("sampling_rate", "Sampling rate applied to every flow."),
    LATER("sfacctd_*", "Other sFlow collector settings (sfacctd_ext_sampling_rate, maps ...)."),
    LATER("tee_kafka_config_file", "librdkafka settings of a tee receiver that is a Kafka broker."),
    LATER("bgp_*", "BGP daemon and BGP lookups."),
    LATER("bmp_*", "BMP daemon."),
    LATER("rpki_*", "RPKI validation."),
    LATER("flow_to_rd_map", "Map of flows to BGP/MPLS VPN route distinguishers."),
    LATER("use_ip_next_hop", "Use the IP next hop when BGP gives none."),
    LATER("geoip*", "GeoIP databases."),
};

const size_t conf_n_keys = sizeof(conf_keys) / sizeof(conf_keys[0]);

const char *const conf_plugin_types[] = {
    "print",   "sqlite3", "mysql",   "pgsql",          "kafka",      "amqp",     "memory", "tee",
    "nfprobe", "sfprobe", "mongodb", "mongodb_legacy", "prometheus", "influxdb", NULL,
};

const char conf_embedded_default[] =
    "! weir's embedded default: what `weir collect` runs without a config file.\n"
    "nfacctd_ip: ::\n"
    "nfacctd_port: 2055, 4739, 6343\n"
    "plugins: sqlite3[default]\n"
    "aggregate: src_host, dst_host, src_port, dst_port, proto, tcpflags, peer_src_ip\n"
    "sql_db: weir.db\n"
    "sql_table: flows\n"
    "sql_optimize_clauses: true\n"
    "sql_history: 1m\n"
    "sql_refresh_time: 60\n";

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
