/* gen.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_gen(int argc, char **argv)
{
	fprintf(stderr, "weir gen: placeholder\n");
	return 1;
}
