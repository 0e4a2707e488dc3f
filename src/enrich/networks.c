/* networks.c - networks_file: prefixes flattened into sorted disjoint ranges, binary searched. */
#include "enrich/networks.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/mapfile.h"

typedef unsigned __int128 u128;

struct pfx {
	u128 lo, hi;
	struct net_match m;
	unsigned bits; /* length in the 128-bit space (IPv4: 96 + len) */
	unsigned line;
	bool v4;
};

/* A maximal range of addresses whose longest match is one prefix. */
struct range {
	u128 lo, hi;
	struct net_match m;
};

/* Disjoint ranges sorted by start. */
struct rangeset {
	size_t n;
	struct range *r;
};

/* The families stay apart: an IPv6 prefix never answers for an IPv4 (mapped) address. */
struct networks {
	size_t n_prefixes;
	struct rangeset v4, v6;
};

static u128 to_u128(const struct wip *a)
{
	u128 v = 0;
	for (int i = 0; i < 16; i++)
		v = v << 8 | a->a[i];
	return v;
}

static bool parse_prefix(char *s, struct pfx *p)
{
	char *slash = strchr(s, '/');
	struct wip a;
	unsigned long len;
	char *end;

	if (slash)
		*slash = '\0';
	if (!wip_parse(&a, s))
		return false;
	bool v4 = wip_is_v4(&a);
	unsigned max = v4 ? 32 : 128;
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || len > max)
			return false;
	} else {
		len = max;
	}
	p->m.mask = (uint8_t)len;
	p->bits = (unsigned)len + (v4 ? 96 : 0);
	p->v4 = v4;
	u128 host = p->bits == 0 ? ~(u128)0 : p->bits == 128 ? 0 : ((u128)1 << (128 - p->bits)) - 1;
	p->lo = to_u128(&a) & ~host;
	p->hi = p->lo | host;
	return true;
}

static bool parse_as(const char *s, uint32_t *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || *end || end == s || n > UINT32_MAX || !isdigit((unsigned char)*s))
		return false;
	*v = (uint32_t)n;
	return true;
}

/* `[peer_as_]as,prefix` or `prefix`. */
static bool parse_line(char *line, struct pfx *p)
{
	char *comma = strchr(line, ',');

	memset(p, 0, sizeof(*p));
	if (!comma)
		return parse_prefix(line, p);
	*comma = '\0';
	char *us = strchr(line, '_');
	if (us) {
		*us = '\0';
		if (!parse_as(line, &p->m.peer_as) || !parse_as(us + 1, &p->m.as))
			return false;
	} else if (!parse_as(line, &p->m.as)) {
		return false;
	}
	return parse_prefix(comma + 1, p);
}

static int cmp_pfx(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;
	if (x->v4 != y->v4)
		return x->v4 ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->bits != y->bits)
		return x->bits < y->bits ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void emit(struct rangeset *n, u128 lo, u128 hi, const struct pfx *p)
{
	if (lo > hi)
		return;
	/* Adjacent pieces of one prefix (around a nested one) stay separate: harmless. */
	n->r[n->n++] = (struct range){lo, hi, p->m};
}

/*
 * CIDR prefixes nest or are disjoint, so a sweep in (start, length) order with a stack of the
 * open prefixes yields disjoint ranges, each labelled by its innermost prefix.
 */
static int flatten(struct rangeset *n, const struct pfx *p, size_t np)
{
	const struct pfx **stack = calloc(130, sizeof(*stack));
	size_t depth = 0;
	u128 pos = 0;
	bool done = false; /* pos wrapped past the last address */

	n->r = calloc(2 * np + 1, sizeof(*n->r));
	if (!stack || !n->r) {
		free(stack);
		return -1;
	}
	for (size_t i = 0; i < np; i++) {
		/* A repeated prefix: the later line wins, as a reload would. */
		if (depth && stack[depth - 1]->lo == p[i].lo &&
		    stack[depth - 1]->bits == p[i].bits) {
			stack[depth - 1] = &p[i];
			continue;
		}
		while (depth && stack[depth - 1]->hi < p[i].lo) {
			if (!done)
				emit(n, pos, stack[depth - 1]->hi, stack[depth - 1]);
			pos = stack[depth - 1]->hi + 1;
			depth--;
		}
		if (depth && !done && pos < p[i].lo)
			emit(n, pos, p[i].lo - 1, stack[depth - 1]);
		pos = p[i].lo;
		done = false;
		stack[depth++] = &p[i];
	}
	while (depth) {
		const struct pfx *t = stack[--depth];
		if (!done)
			emit(n, pos, t->hi, t);
		done = t->hi == ~(u128)0;
		pos = t->hi + 1;
	}
	free(stack);
	return 0;
}

struct networks *networks_parse(const char *name, const char *text, size_t len, char *err,
                                size_t errlen)
{
	struct networks *n = calloc(1, sizeof(*n));
	struct mapfile mf;
	struct pfx *p = NULL;
	size_t np = 0, cap = 0;
	char *line;

	if (!n) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	mapfile_init(&mf, text, len);
	while ((line = mapfile_next(&mf)) != NULL) {
		if (np == cap) {
			cap = cap ? cap * 2 : 64;
			struct pfx *bigger = realloc(p, cap * sizeof(*p));
			if (!bigger)
				goto oom;
			p = bigger;
		}
		if (!parse_line(line, &p[np])) {
			snprintf(err, errlen, "%s:%u: expected [peer_as_]as,prefix or prefix", name,
			         mf.line);
			goto fail;
		}
		p[np++].line = mf.line;
	}
	n->n_prefixes = np;
	size_t n4 = 0;
	if (np) {
		qsort(p, np, sizeof(*p), cmp_pfx); /* IPv4 first, then by start and length */
		while (n4 < np && p[n4].v4)
			n4++;
	}
	if (flatten(&n->v4, p, n4) < 0 || flatten(&n->v6, np ? p + n4 : NULL, np - n4) < 0)
		goto oom;
	free(p);
	mapfile_done(&mf);
	return n;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
fail:
	free(p);
	mapfile_done(&mf);
	networks_free(n);
	return NULL;
}

struct networks *networks_load(const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = mapfile_read(path, &len, err, errlen);
	if (!text)
		return NULL;
	struct networks *n = networks_parse(path, text, len, err, errlen);
	free(text);
	return n;
}

bool networks_lookup(const struct networks *nets, const struct wip *a, struct net_match *m)
{
	const struct rangeset *n = wip_is_v4(a) ? &nets->v4 : &nets->v6;
	u128 v = to_u128(a);
	size_t lo = 0, hi = n->n;

	/* The last range starting at or before v. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (n->r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || n->r[lo - 1].hi < v)
		return false;
	*m = n->r[lo - 1].m;
	return true;
}

size_t networks_count(const struct networks *n)
{
	return n->n_prefixes;
}

void networks_free(struct networks *n)
{
	if (!n)
		return;
	free(n->v4.r);
	free(n->v6.r);
	free(n);
}
