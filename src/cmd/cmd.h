/* cmd.h - the subcommands of the weir binary, one file each under src/cmd/. */
#ifndef WEIR_CMD_H
#define WEIR_CMD_H

/* Each returns the process exit code: 0 ok, 1 runtime error, 2 usage or config error. */
int cmd_collect(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_config(int argc, char **argv);

#endif
