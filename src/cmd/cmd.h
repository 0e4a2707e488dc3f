/* cmd.h - the subcommands of the weir binary, one file each under src/cmd/. */
#ifndef WEIR_CMD_H
#define WEIR_CMD_H

#include <stddef.h>
#include <stdio.h>

/* Each returns the process exit code: 0 ok, 1 runtime error, 2 usage or config error. */
int cmd_collect(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_relay(int argc, char **argv);
int cmd_ship(int argc, char **argv);
int cmd_top(int argc, char **argv);

struct conf;
struct plugin_conf;
/*
 * The relay daemon on a loaded configuration, with logging set up: `weir relay`, and
 * `weir collect` when every plugin is a tee plugin (nothing to decode). Returns the exit code.
 */
int relay_daemon(const struct conf *c, FILE *logf, const struct plugin_conf *const *pcs,
                 size_t n_pcs);

#endif
