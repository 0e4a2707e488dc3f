/* tagmap.h - pmacct's pre_tag_map and sampling_map: `key=value` rules matched top-down. */
#ifndef WEIR_TAGMAP_H
#define WEIR_TAGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

enum tagmap_kind {
	TAGMAP_PRETAG,   /* set_tag=N, set_tag2=N, set_label=TEXT (id=/id2= as older names) */
	TAGMAP_SAMPLING, /* set_sampling_rate=N */
};

struct tagmap;

/*
 * One rule per line: its set_* keys and the match keys ip=ADDR[/len] (the exporter), in=IF,
 * out=IF, filter='libpcap expression'. A rule without match keys matches every flow. Unknown
 * keys, bad values and rules that set nothing are refused with "name:line: message".
 */
struct tagmap *tagmap_parse(enum tagmap_kind kind, const char *name, const char *text, size_t len,
                            char *err, size_t errlen);
struct tagmap *tagmap_load(enum tagmap_kind kind, const char *path, char *err, size_t errlen);

/*
 * Applies the first rule that matches f: tags/label (pre_tag_map) or the sampling rate
 * (sampling_map, which also marks FF_SAMPLING). Returns false when no rule matched.
 */
bool tagmap_apply(const struct tagmap *m, struct flow *f);

/*
 * For users that see whole datagrams, not records (the relay): false with the line and key of
 * the first rule that needs a decoded record (in=, out=, filter=), true when every rule matches
 * on the exporter alone.
 */
bool tagmap_exporter_only(const struct tagmap *m, unsigned *line, const char **key);

/*
 * The set_tag of the first rule that matches exporter, 0 when that rule sets no tag (only
 * set_tag2 / set_label) or when no rule matches (then false). Rules with record keys never
 * match here.
 */
bool tagmap_exporter_tag(const struct tagmap *m, const struct wip *exporter, uint64_t *tag);

size_t tagmap_count(const struct tagmap *m);
void tagmap_free(struct tagmap *m);

#endif
