/* prefix.h - allow list of exporter addresses and prefixes (pmacct's nfacctd_allow_file). */
#ifndef WEIR_PREFIX_H
#define WEIR_PREFIX_H

#include <stdbool.h>
#include <stddef.h>

#include "weir/flow.h"

struct allow_list;

/*
 * Loads path: one IPv4/IPv6 address or CIDR prefix per line; `!` and `#` start a comment
 * that runs to the end of the line; blank lines are ignored. An empty list allows nothing
 * (as in pmacct). Returns NULL with "file:line: message" (or "file: strerror") in err.
 */
struct allow_list *allow_list_load(const char *path, char *err, size_t errlen);

/* Builds a list from text held in memory (name is used in error messages). */
struct allow_list *allow_list_parse(const char *name, const char *text, size_t len, char *err,
                                    size_t errlen);

/* True when a is inside one of the list's prefixes. */
bool allow_list_match(const struct allow_list *l, const struct wip *a);

size_t allow_list_count(const struct allow_list *l);
void allow_list_free(struct allow_list *l);

#endif
