/* config.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_config(int argc, char **argv)
{
	fprintf(stderr, "weir config: placeholder\n");
	return 1;
}
