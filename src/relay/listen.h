/* listen.h - `weir relay`'s receive side: UDP listeners whose datagrams go to the relay only. */
#ifndef WEIR_RELAY_LISTEN_H
#define WEIR_RELAY_LISTEN_H

#include <stddef.h>
#include <stdio.h>

struct conf;
struct relay;
struct relay_listen;

/* One SO_REUSEPORT socket per worker and listener of c; no thread runs yet. */
struct relay_listen *relay_listen_open(const struct conf *c, unsigned n_workers, struct relay *r,
                                       char *err, size_t errlen);
int relay_listen_start(struct relay_listen *l, char *err, size_t errlen);
/* Stops the workers after they relayed what their sockets already hold. */
void relay_listen_stop(struct relay_listen *l);
void relay_listen_describe(const struct relay_listen *l, FILE *out);
/* Per worker and socket: datagrams, bytes, kernel drops, errors. */
void relay_listen_stats(const struct relay_listen *l, FILE *out);
void relay_listen_free(struct relay_listen *l);

#endif
