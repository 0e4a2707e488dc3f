/* decode.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_decode(int argc, char **argv)
{
	fprintf(stderr, "weir decode: placeholder\n");
	return 1;
}
