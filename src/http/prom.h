/* prom.h - a Prometheus text exposition built from samples given in any order. */
#ifndef WEIR_HTTP_PROM_H
#define WEIR_HTTP_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The text format (exposition 0.0.4) wants every sample of a metric family under one HELP and
 * TYPE line; sources that add samples of the same family (two prometheus plugins, several
 * workers) therefore write into a struct prom, which groups them at render time.
 */
struct prom;

struct prom *prom_new(void);
void prom_free(struct prom *p);

/*
 * Declares a family (type: "counter", "gauge", "histogram"). Declaring it again is a no-op, so
 * each source declares what it uses. Returns false when out of memory.
 */
bool prom_family(struct prom *p, const char *name, const char *type, const char *help);

/*
 * Adds one sample of family `name`: the series name is name + suffix ("_bucket", "_sum", ...;
 * NULL for none), labels is "" or `k="v",k2="v2"` (escaped with prom_label). An undeclared
 * family is declared untyped.
 */
void prom_sample(struct prom *p, const char *name, const char *suffix, const char *labels,
                 double v);
void prom_sample_u64(struct prom *p, const char *name, const char *suffix, const char *labels,
                     uint64_t v);

/* Writes the exposition. Returns the number of families written. */
size_t prom_render(const struct prom *p, FILE *out);

/*
 * Appends `k="v"` (with a comma when buf is not empty) to the NUL-terminated label list in buf,
 * escaping \, " and newlines in v and replacing characters a label name may not hold in k.
 * Returns false when it did not fit (buf is left unchanged).
 */
bool prom_label(char *buf, size_t len, const char *k, const char *v);

/* True for a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
bool prom_name_ok(const char *name);

#endif
