/* config.c - `weir config`: check a configuration file, or print the key reference. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "conf/conf.h"
#include "lib/log.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: weir config [-q] [-f FILE] [-o KEY=VALUE]...\n"
	    "       weir config --reference\n"
	    "\n"
	    "Checks a configuration (pmacct syntax) and prints the listeners and plugins it\n"
	    "resolves to; without -f it checks the embedded default.\n"
	    "\n"
	    "  -f, --file FILE       the configuration file (also: weir config FILE)\n"
	    "  -o, --option K=V      override a key after the file; K may be key[name]\n"
	    "  -q, --quiet           no notices about ignored pmacct keys\n"
	    "      --reference       print the Markdown key reference (docs/configuration.md)\n"
	    "  -h, --help            this text\n"
	    "\n"
	    "Exit codes: 0 the configuration is valid, 2 it is not (the error names file:line).\n");
}

static void print_plugin(const struct plugin_conf *p)
{
	static const char *const formats[] = {"json", "csv", "formatted"};

	printf("plugin %s[%s]: aggregate '%s'", p->type, p->name, p->aggregate);
	if (*p->aggregate_filter)
		printf(", aggregate_filter '%s'", p->aggregate_filter);
	if (!strcmp(p->type, "print")) {
		unsigned f = (unsigned)p->print_output;
		printf(", print_output %s, print_output_file %s, print_refresh_time %u",
		       f < 3 ? formats[f] : "?",
		       *p->print_output_file ? p->print_output_file : "(stdout)",
		       p->print_refresh_time);
	}
	putchar('\n');
}

static void print_summary(const char *name, const struct conf *c)
{
	printf("%s: ok\n", name);
	for (size_t i = 0; i < c->n_listen; i++)
		printf("listen %s\n", c->listen[i].text);
	for (size_t i = 0; i < c->n_plugins; i++)
		print_plugin(&c->plugins[i]);
}

int cmd_config(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'}, {"option", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},      {"reference", no_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	const char **ov = calloc((size_t)argc + 1, sizeof(*ov));
	size_t n_ov = 0;
	bool reference = false, quiet = false;
	int opt, rc = 2;

	if (!ov) {
		fprintf(stderr, "weir config: out of memory\n");
		return 1;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:o:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			path = optarg;
			break;
		case 'o':
			ov[n_ov++] = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'R':
			reference = true;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc && !path)
		path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "weir config: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		goto out;
	}
	if (reference) {
		conf_write_reference(stdout);
		rc = fflush(stdout) == 0 ? 0 : 1;
		goto out;
	}
	log_setup(quiet ? LL_WARN : LL_NOTICE, stderr, false, "weir");

	struct conf *c = malloc(sizeof(*c));
	char err[1024];
	if (!c) {
		fprintf(stderr, "weir config: out of memory\n");
		rc = 1;
		goto out;
	}
	if (conf_load(c, path, ov, n_ov, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
	} else {
		print_summary(path ? path : "embedded default", c);
		rc = 0;
	}
	free(c);
out:
	free(ov);
	return rc;
}
