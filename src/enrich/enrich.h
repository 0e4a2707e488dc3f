/* enrich.h - the enrich stage: sampling_map, renormalization, networks_file, pre_tag_map. */
#ifndef WEIR_ENRICH_H
#define WEIR_ENRICH_H

#include <stdbool.h>
#include <stddef.h>

#include "weir/flow.h"

struct conf;
struct enrich;

/*
 * Loads the maps the configuration uses (networks_file when nfacctd_as or nfacctd_net reads
 * it, sampling_map, pre_tag_map). NULL with "file:line: message" in err when one does not
 * parse.
 */
struct enrich *enrich_open(const struct conf *c, char *err, size_t errlen);

/* False when the configuration asks for no enrichment: records can be used as decoded. */
bool enrich_active(const struct enrich *e);

/*
 * Fills the derived fields of one record in place, in pmacct's order: sampling_map rate,
 * renormalization (bytes and packets times the rate), masks then AS numbers as nfacctd_net /
 * nfacctd_as chose at enrich_open() (the exporter's, networks_file, longest prefix of the
 * two, or networks_mask), then pre_tag_map tag/tag2/label.
 * Read-only on e: safe from every worker at once.
 */
void enrich_flow(const struct enrich *e, struct flow *f);

void enrich_free(struct enrich *e);

#endif
