/* collect.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_collect(int argc, char **argv)
{
	fprintf(stderr, "weir collect: placeholder\n");
	return 1;
}
