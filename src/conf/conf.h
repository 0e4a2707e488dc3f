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

enum print_format { PRINT_JSON = 0, PRINT_CSV, PRINT_FORMATTED };

/* One UDP listener, resolved from nfacctd_ip x nfacctd_port (and later sfacctd_*). */
struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[72]; /* "[::]:2055" / "0.0.0.0:2055" */
};

struct conf;

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
	const struct conf *conf; /* the global part, for timestamps_* and the like */
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
	uint32_t max_exporters;
	uint32_t max_templates;
	uint32_t max_template_fields;
	uint32_t hold_bytes;
	uint32_t hold_ms;
	uint32_t log_rate; /* malformed-input log lines per second */

	/* output formatting */
	bool timestamps_secs;
	bool timestamps_since_epoch;
	bool timestamps_utc;

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
