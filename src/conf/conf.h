/* conf.h - weir's configuration: pmacct syntax, typed key tables, file:line errors. */
#ifndef WEIR_CONF_H
#define WEIR_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONF_MAX_PLUGINS 32
#define CONF_MAX_LISTEN  32
#define CONF_STR         256
#define CONF_LIST        1024

/* plugin_conf.history: the unit flags of 1w / 1M values (the low bits hold the count). */
#define CONF_HISTORY_WEEKS  0x40000000u /* 7-day bins from Monday 00:00 UTC */
#define CONF_HISTORY_MONTHS 0x80000000u /* calendar months, UTC */
#define CONF_HISTORY_COUNT  0x3fffffffu

enum print_format { PRINT_JSON = 0, PRINT_CSV, PRINT_FORMATTED };

/*
 * Where nfacctd_as / nfacctd_net take AS numbers and masks from (pmacct's NF_AS_* / NF_NET_*).
 * The AS key offers the first CONF_SRC_N_AS; mask and igp are networks only.
 */
enum conf_src {
	CONF_SRC_NETFLOW = 0, /* the exporter's values (netflow and sflow: the same) */
	CONF_SRC_SFLOW,
	CONF_SRC_FILE,     /* networks_file */
	CONF_SRC_LONGEST,  /* networks_file or the exporter's, the longer prefix wins */
	CONF_SRC_FALLBACK, /* pmacct's older name of longest */
	CONF_SRC_BGP,      /* refused: weir has no BGP listener yet */
	CONF_SRC_BMP,
	CONF_SRC_MASK, /* networks_mask (nets only) */
	CONF_SRC_IGP,  /* refused: no IS-IS listener (nets only) */
};
#define CONF_SRC_N_AS (CONF_SRC_BMP + 1)

/* One UDP listener, resolved from nfacctd_ip x nfacctd_port (and later sfacctd_*). */
struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[72]; /* "[::]:2055" / "0.0.0.0:2055" */
};

struct conf;
struct http_server;

/* Keys that take a [plugin] label, or apply to every plugin when given without one. */
struct plugin_conf {
	char name[64]; /* the label in plugins: type[name]; the type when no label is given */
	char type[32]; /* print, sqlite3, mysql, pgsql, ... (sink_find() name) */
	char aggregate[CONF_LIST];        /* raw primitive list, as written */
	char aggregate_filter[CONF_LIST]; /* libpcap filter syntax */
	int print_output;                 /* enum print_format */
	char print_output_file[PATH_MAX]; /* strftime pattern; empty = stdout */
	char print_latest_file[PATH_MAX]; /* symlink to the newest output file */
	char print_output_separator[8];   /* CSV separator, default "," */
	uint32_t print_refresh_time;      /* seconds between flushes */
	uint32_t print_cache_entries;     /* table bound */
	bool print_markers;
	bool print_output_file_append;
	bool print_write_empty_file;
	uint32_t history;         /* print_history / sql_history: time bin, seconds; 0 = none; or a
	                             count of weeks / months flagged CONF_HISTORY_WEEKS / _MONTHS */
	char history_roundoff[8]; /* *_history_roundoff: subset of "mhdwM" */
	uint32_t history_offset;  /* *_history_offset: seconds the bins are shifted by */
	char pre_tag_filter[CONF_LIST]; /* tags (and a-b ranges) a flow must carry; empty = all */
	/* tee plugin and `weir relay` (src/relay/) */
	char tee_receivers[PATH_MAX]; /* pools of receivers, pmacct's tee_receivers format */
	bool tee_transparent;         /* keep the exporter's source address (raw sockets) */
	char tee_source_ip[64];       /* numeric source address of replicated datagrams */
	uint32_t tee_pipe_size;       /* SO_SNDBUF of each sending socket; 0 = kernel default */
	uint32_t tee_max_pools;       /* tee_max_receiver_pools */
	uint32_t tee_max_receivers;   /* receivers per pool */
	uint32_t tee_ipprec;          /* IP precedence (0..7) of replicated datagrams */
	uint32_t tee_probe_ms;        /* weir_tee_probe_interval: receiver state checks */
	/* time-series sinks (src/sink/prometheus.c, src/sink/influxdb.c) */
	uint32_t prom_max_series;       /* prometheus_max_series: series beyond fold into other */
	uint32_t prom_stale_s;          /* prometheus_stale_time: unseen series age out */
	char influx_url[CONF_STR];      /* influxdb_url: http://host:port */
	char influx_database[CONF_STR]; /* influxdb_database: 1.x /write?db= */
	char influx_org[CONF_STR];      /* influxdb_org: 2.x /api/v2/write?org= */
	char influx_bucket[CONF_STR];   /* influxdb_bucket */
	char influx_token[CONF_STR];    /* influxdb_token: Authorization: Token ... */
	char influx_user[CONF_STR];     /* influxdb_user / influxdb_password: 1.x basic auth */
	char influx_password[CONF_STR];
	char influx_measurement[CONF_STR]; /* influxdb_measurement */
	char influx_tags[CONF_LIST];       /* influxdb_tags: key primitives as tags; empty = all */
	char influx_fields[CONF_LIST];     /* influxdb_fields: subset of bytes, packets, flows */
	uint32_t influx_batch;             /* influxdb_batch_lines */
	bool influx_gzip;                  /* influxdb_gzip */
	uint32_t influx_timeout_ms;        /* influxdb_timeout */
	uint32_t influx_retries;           /* influxdb_retries: attempts per flush on 5xx/network */
	/* SQL plugins: sqlite3, mysql, pgsql (src/sink/sql_common.c) */
	char sql_db[PATH_MAX];    /* sqlite3: the file; mysql/pgsql: the database */
	char sql_table[CONF_STR]; /* strftime pattern; empty = acct (v1) or acct_vN */
	char sql_host[CONF_STR];  /* host name, address, or a unix socket path */
	uint32_t sql_port;        /* 0 = the backend's default */
	char sql_user[CONF_STR];
	char sql_passwd[CONF_STR];
	uint32_t sql_table_version;      /* pmacct's column sets, 1..9 */
	bool sql_optimize_clauses;       /* only the columns of the configured primitives */
	bool sql_dont_try_update;        /* plain INSERT, no upsert */
	bool sql_num_protos;             /* ip_proto as a number rather than a name */
	uint32_t sql_multi_values;       /* bytes of one multi-row INSERT; 0 = per backend */
	char sql_table_schema[PATH_MAX]; /* CREATE TABLE text run when the table is missing */
	char sql_backlog_file[PATH_MAX]; /* spool file; empty = weir-TYPE-NAME.spool */
	uint32_t sql_backlog_memory;     /* bytes of refused batches held in memory */
	uint32_t sql_backlog_size;       /* bytes the spool file may grow to */
	const struct conf *conf;         /* the global part, for timestamps_* and the like */
};

/* Everything else. main() owns the one instance; modules get what they need from it. */
struct conf {
	char path[PATH_MAX]; /* the file loaded; empty = embedded default */

	/* general */
	bool daemonize;
	char pidfile[PATH_MAX];
	char logfile[PATH_MAX];
	char syslog[CONF_STR]; /* facility; empty = no syslog */
	bool debug;
	uint32_t workers; /* ingest threads; 0 = one per core */

	/* ingest / decode */
	char nfacctd_ip[CONF_LIST];   /* comma list of addresses; default "::" (dual stack) */
	char nfacctd_port[CONF_LIST]; /* comma list of ports; default "2055, 4739" */
	uint32_t pipe_size;           /* nfacctd_pipe_size: SO_RCVBUF bytes */
	bool time_new;                /* nfacctd_time_new */
	char templates_file[PATH_MAX];
	char allow_file[PATH_MAX];
	bool renormalize; /* nfacctd_renormalize */
	bool pro_rating;  /* nfacctd_pro_rating */

	/* enrichment maps (src/enrich/) */
	char networks_file[PATH_MAX];
	int nfacctd_as;         /* enum conf_src: src_as, dst_as, peer_src_as, peer_dst_as */
	int nfacctd_net;        /* enum conf_src: src/dst masks (hence src_net, dst_net) */
	uint32_t networks_mask; /* the mask nfacctd_net: mask applies; 0 = none */
	char sampling_map[PATH_MAX];
	char pre_tag_map[PATH_MAX];
	bool pre_tag_label_encode_as_map;
	uint32_t max_exporters;
	uint32_t max_templates;
	uint32_t max_template_fields;
	uint32_t hold_bytes;
	uint32_t hold_ms;
	uint32_t log_rate; /* malformed-input log lines per second */

	/* sFlow (sfacctd_*): listeners beside nfacctd's, and counter samples */
	char sfacctd_ip[CONF_LIST];   /* comma list; empty = nfacctd_ip */
	char sfacctd_port[CONF_LIST]; /* comma list; default "6343" */
	bool sfacctd_renormalize;
	char sfacctd_counter_file[PATH_MAX]; /* JSON lines of counter samples; empty = none */

	/* libpcap capture metered into flows (pmacctd) */
	char pcap_interface[CONF_STR];
	char pcap_savefile[PATH_MAX];
	char pcap_filter[CONF_LIST];
	bool pcap_savefile_wait; /* stay up once the savefile is read */
	bool promisc;
	uint32_t snaplen;
	uint32_t savefile_speed;    /* 0 = flat out, N = N x recorded speed */
	bool pcap_decode_exports;   /* decode export datagrams to a listener port, not meter them */
	uint32_t meter_entries;     /* flow cache bound */
	uint32_t meter_active_ms;   /* active timeout */
	uint32_t meter_inactive_ms; /* inactive timeout */

	/* output formatting */
	bool timestamps_secs;
	bool timestamps_since_epoch;
	bool timestamps_utc;

	/* HTTP endpoint (src/http/) */
	char http_listen[CONF_STR];          /* "127.0.0.1:9470"; empty = no listener */
	char http_auth_token[CONF_STR];      /* bearer token; empty = none */
	char http_auth_basic_file[PATH_MAX]; /* user:password lines; empty = none */
	struct http_server *http; /* runtime, set by weir collect: /metrics sources; NULL = none */

	/* AS names of the as_src_name/as_dst_name primitives (src/enrich/asname.c) */
	int asname_source;                /* enum asname_proto: dns, whois, off */
	char asname_server[CONF_STR];     /* host[:port]; empty = resolv.conf / whois.cymru.com */
	char asname_zone[CONF_STR];       /* DNS zone; empty = asn.cymru.com */
	char asname_cache_file[PATH_MAX]; /* names kept across restarts; empty = none */
	char asname_csv_file[PATH_MAX];   /* offline "asn,name" lines; empty = none */
	uint32_t asname_ttl;              /* seconds a name is cached */
	uint32_t asname_timeout_ms;       /* per query */

	size_t n_listen;
	struct listen_addr listen[CONF_MAX_LISTEN]; /* resolved by conf_load() */

	size_t n_plugins;
	struct plugin_conf plugins[CONF_MAX_PLUGINS];
};

/* The embedded default: what `weir collect` runs with no config file. */
void conf_defaults(struct conf *c);

/*
 * Loads path (NULL = the embedded default only), then applies overrides ("key=value" or
 * "key[name]=value", as -o gives them). On error returns -1 with "file:line: message" in err.
 * Notices (ignored pmacct keys) go to the log.
 */
int conf_load(struct conf *c, const char *path, const char *const *overrides, size_t n_overrides,
              char *err, size_t errlen);

/* Parses a config text held in memory (the fuzz target and unit tests use this). */
int conf_load_buffer(struct conf *c, const char *name, const char *text, size_t len, char *err,
                     size_t errlen);

/* Writes the Markdown configuration reference generated from the key tables. */
void conf_write_reference(FILE *out);

#endif
