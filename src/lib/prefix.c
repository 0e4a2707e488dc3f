/* prefix.c - the exporter allow list: prefixes grouped by length, binary search per length. */
#include "lib/prefix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct allow_entry {
	struct wip net; /* masked to len bits */
	uint8_t len;    /* 0..128 over the 16-byte (IPv4-mapped) form */
};

struct allow_list {
	struct allow_entry *v; /* sorted by len (descending), then net */
	size_t n;
	size_t n_groups;
	struct {
		uint8_t len;
		size_t start, end;
	} groups[129];
};

static void mask_wip(struct wip *w, unsigned len)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = len > i * 8 ? len - i * 8 : 0;
		if (bits < 8)
			w->a[i] &= (uint8_t)(0xff00u >> bits);
	}
}

static int entry_cmp(const void *a, const void *b)
{
	const struct allow_entry *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return memcmp(&x->net, &y->net, sizeof(x->net));
}

/* Parses "addr" or "addr/len" into e. Returns NULL or what is wrong. */
static const char *parse_prefix(char *s, struct allow_entry *e)
{
	char *slash = strchr(s, '/');
	unsigned max, len;

	if (slash)
		*slash = '\0';
	if (!wip_parse(&e->net, s))
		return "invalid address";
	max = wip_is_v4(&e->net) && !strchr(s, ':') ? 32 : 128;
	len = max;
	if (slash) {
		char *end;
		unsigned long l;
		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || l > max)
			return "invalid prefix length";
		len = (unsigned)l;
	}
	e->len = (uint8_t)(max == 32 ? 96 + len : len);
	mask_wip(&e->net, e->len);
	return NULL;
}

/* Strips the comment and surrounding blanks; returns the token or NULL for an empty line. */
static char *line_token(char *line, const char **bad)
{
	char *p = line + strcspn(line, "!#");
	*p = '\0';
	p = line + strspn(line, " \t\r");
	char *end = p + strcspn(p, " \t\r");
	if (*p == '\0')
		return NULL;
	if (end[strspn(end, " \t\r")] != '\0')
		*bad = "unexpected text after the prefix";
	*end = '\0';
	return p;
}

static bool push(struct allow_list *l, size_t *cap, const struct allow_entry *e)
{
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct allow_entry *v = realloc(l->v, ncap * sizeof(*v));
		if (!v)
			return false;
		l->v = v;
		*cap = ncap;
	}
	l->v[l->n++] = *e;
	return true;
}

static void build_groups(struct allow_list *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (l->n_groups && l->groups[l->n_groups - 1].len == l->v[i].len) {
			l->groups[l->n_groups - 1].end = i + 1;
			continue;
		}
		l->groups[l->n_groups].len = l->v[i].len;
		l->groups[l->n_groups].start = i;
		l->groups[l->n_groups].end = i + 1;
		l->n_groups++;
	}
}

struct allow_list *allow_list_parse(const char *name, const char *text, size_t len, char *err,
                                    size_t errlen)
{
	struct allow_list *l = calloc(1, sizeof(*l));
	size_t cap = 0, lineno = 0, off = 0;
	char line[512];

	if (!l) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	while (off < len) {
		size_t n = 0;
		const char *bad = NULL;
		struct allow_entry e;

		lineno++;
		while (off < len && text[off] != '\n') {
			if (n + 1 < sizeof(line))
				line[n++] = text[off];
			else
				bad = "line too long";
			off++;
		}
		off++;
		line[n] = '\0';
		char *tok = line_token(line, &bad);
		if (!bad && tok)
			bad = parse_prefix(tok, &e);
		if (!bad && tok && !push(l, &cap, &e))
			bad = "out of memory";
		if (bad) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, bad);
			allow_list_free(l);
			return NULL;
		}
	}
	build_groups(l);
	return l;
}

struct allow_list *allow_list_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	struct allow_list *l;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (len + 4096 > cap) {
			char *t = realloc(text, cap = cap ? cap * 2 : 8192);
			if (!t) {
				free(text);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return NULL;
			}
			text = t;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(text);
		fclose(f);
		return NULL;
	}
	fclose(f);
	l = allow_list_parse(path, text, len, err, errlen);
	free(text);
	return l;
}

bool allow_list_match(const struct allow_list *l, const struct wip *a)
{
	for (size_t g = 0; g < l->n_groups; g++) {
		struct wip m = *a;
		size_t lo = l->groups[g].start, hi = l->groups[g].end;
		mask_wip(&m, l->groups[g].len);
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = memcmp(&l->v[mid].net, &m, sizeof(m));
			if (c == 0)
				return true;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return false;
}

size_t allow_list_count(const struct allow_list *l)
{
	return l->n;
}

void allow_list_free(struct allow_list *l)
{
	if (!l)
		return;
	free(l->v);
	free(l);
}
