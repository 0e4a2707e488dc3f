/* main.c - the weir binary: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

#ifndef WEIR_VERSION
#define WEIR_VERSION "0.1.0"
#endif

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
    {"collect", cmd_collect, "the collector daemon: NetFlow v5/v9, IPFIX over UDP"},
    {"decode", cmd_decode, "decode a pcap of export packets to JSON lines"},
    {"gen", cmd_gen, "send generated NetFlow v5/v9/IPFIX to a collector"},
    {"config", cmd_config, "check a config file, or print the key reference"},
    {"relay", cmd_relay, "replicate and balance export datagrams over collectors"},
    {"ship", cmd_ship, "print-plugin JSON files into InfluxDB, with AS names"},
    {"top", cmd_top, "top talkers and totals from the SQL store (weir.db, or -f CONF)"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: weir COMMAND [options]   (weir COMMAND --help for its options)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(out,
	        "\nweir %s - network flow collector. Exit codes: 0 ok, 1 runtime error, "
	        "2 usage or config error.\n",
	        WEIR_VERSION);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("weir %s\n", WEIR_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "weir: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
