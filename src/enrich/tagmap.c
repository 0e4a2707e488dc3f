/* tagmap.c - pre_tag_map / sampling_map: parsing `key=value` rules and matching them top-down. */
#include "enrich/tagmap.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/filter.h"
#include "enrich/mapfile.h"

struct rule {
	struct wip net; /* exporter prefix, host bits cleared */
	unsigned bits;  /* its length in the 128-bit space; 0 = any exporter */
	bool has_ip, has_in, has_out, has_tag, has_tag2;
	uint32_t in, out;
	struct flow_filter *filter;
	uint64_t tag, tag2;
	char *label;
	uint32_t rate;
	unsigned line; /* in the map file */
};

struct tagmap {
	enum tagmap_kind kind;
	size_t n;
	struct rule *r;
};

static bool in_prefix(const struct wip *a, const struct rule *r)
{
	unsigned full = r->bits / 8, rest = r->bits % 8;

	if (memcmp(a->a, r->net.a, full))
		return false;
	return rest == 0 || ((a->a[full] ^ r->net.a[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || *end || end == s || !isdigit((unsigned char)*s) || n > max)
		return false;
	*v = n;
	return true;
}

static bool parse_ip(char *s, struct rule *r)
{
	char *slash = strchr(s, '/');
	uint64_t len;

	if (slash)
		*slash = '\0';
	if (!wip_parse(&r->net, s))
		return false;
	bool v4 = wip_is_v4(&r->net);
	if (!slash)
		len = v4 ? 32 : 128;
	else if (!parse_u64(slash + 1, v4 ? 32 : 128, &len))
		return false;
	r->bits = (unsigned)len + (v4 ? 96 : 0);
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = r->bits >= 8 * (i + 1) ? 8 : r->bits > 8 * i ? r->bits - 8 * i : 0;
		r->net.a[i] &= (uint8_t)(0xff00u >> keep);
	}
	r->has_ip = true;
	return true;
}

/* Cuts the next `key=value` (value optionally in ' or " quotes) off *p. */
static bool next_pair(char **p, char **key, char **val, char *msg, size_t msglen)
{
	char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	*key = s;
	while (*s && *s != '=' && *s != ' ' && *s != '\t')
		s++;
	if (*s != '=') {
		snprintf(msg, msglen, "expected key=value");
		*key = NULL;
		return false;
	}
	*s++ = '\0';
	if (*s == '\'' || *s == '"') {
		char q = *s++;
		*val = s;
		s = strchr(s, q);
		if (!s) {
			snprintf(msg, msglen, "unterminated quote");
			*key = NULL;
			return false;
		}
	} else {
		*val = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	if (*s)
		*s++ = '\0';
	*p = s;
	return true;
}

static bool set_pair(enum tagmap_kind kind, struct rule *r, const char *key, char *val, char *msg,
                     size_t msglen)
{
	uint64_t v;

	if (!strcmp(key, "ip")) {
		if (!parse_ip(val, r)) {
			snprintf(msg, msglen, "ip: '%.64s' is not an address or prefix", val);
			return false;
		}
	} else if (!strcmp(key, "in") || !strcmp(key, "out")) {
		if (!parse_u64(val, UINT32_MAX, &v)) {
			snprintf(msg, msglen, "%s: '%.64s' is not an interface index", key, val);
			return false;
		}
		if (key[0] == 'i')
			r->in = (uint32_t)v, r->has_in = true;
		else
			r->out = (uint32_t)v, r->has_out = true;
	} else if (!strcmp(key, "filter")) {
		char ferr[256];
		flow_filter_free(r->filter);
		r->filter = flow_filter_compile(val, ferr, sizeof(ferr));
		if (!r->filter) {
			snprintf(msg, msglen, "%s", ferr);
			return false;
		}
	} else if (kind == TAGMAP_PRETAG && (!strcmp(key, "set_tag") || !strcmp(key, "id") ||
	                                     !strcmp(key, "set_tag2") || !strcmp(key, "id2"))) {
		if (!parse_u64(val, UINT64_MAX, &v)) {
			snprintf(msg, msglen, "%s: '%.64s' is not a number", key, val);
			return false;
		}
		if (strchr(key, '2'))
			r->tag2 = v, r->has_tag2 = true;
		else
			r->tag = v, r->has_tag = true;
	} else if (kind == TAGMAP_PRETAG && !strcmp(key, "set_label")) {
		free(r->label);
		r->label = strdup(val);
		if (!r->label) {
			snprintf(msg, msglen, "out of memory");
			return false;
		}
	} else if (kind == TAGMAP_SAMPLING && !strcmp(key, "set_sampling_rate")) {
		if (!parse_u64(val, UINT32_MAX, &v) || v == 0) {
			snprintf(msg, msglen,
			         "set_sampling_rate: '%.64s' is not a rate (1..2^32-1)", val);
			return false;
		}
		r->rate = (uint32_t)v;
	} else {
		snprintf(msg, msglen, "unknown key '%.64s'", key);
		return false;
	}
	return true;
}

static void rule_free(struct rule *r)
{
	flow_filter_free(r->filter);
	free(r->label);
}

static bool parse_rule(enum tagmap_kind kind, char *line, struct rule *r, char *msg, size_t msglen)
{
	char *key, *val;

	memset(r, 0, sizeof(*r));
	msg[0] = '\0';
	while (next_pair(&line, &key, &val, msg, msglen))
		if (!set_pair(kind, r, key, val, msg, msglen))
			return false;
	if (msg[0])
		return false;
	if (kind == TAGMAP_PRETAG ? !(r->has_tag || r->has_tag2 || r->label) : !r->rate) {
		snprintf(msg, msglen, "the rule sets nothing (%s)",
		         kind == TAGMAP_PRETAG ? "set_tag, set_tag2 or set_label"
		                               : "set_sampling_rate");
		return false;
	}
	return true;
}

struct tagmap *tagmap_parse(enum tagmap_kind kind, const char *name, const char *text, size_t len,
                            char *err, size_t errlen)
{
	struct tagmap *m = calloc(1, sizeof(*m));
	struct mapfile mf;
	size_t cap = 0;
	char *line, msg[300];

	if (!m) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	m->kind = kind;
	mapfile_init(&mf, text, len);
	while ((line = mapfile_next(&mf)) != NULL) {
		if (m->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct rule *bigger = realloc(m->r, cap * sizeof(*m->r));
			if (!bigger) {
				snprintf(err, errlen, "%s: out of memory", name);
				goto fail;
			}
			m->r = bigger;
		}
		if (!parse_rule(kind, line, &m->r[m->n], msg, sizeof(msg))) {
			rule_free(&m->r[m->n]);
			snprintf(err, errlen, "%s:%u: %s", name, mf.line, msg);
			goto fail;
		}
		m->r[m->n].line = mf.line;
		m->n++;
	}
	mapfile_done(&mf);
	return m;
fail:
	mapfile_done(&mf);
	tagmap_free(m);
	return NULL;
}

struct tagmap *tagmap_load(enum tagmap_kind kind, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = mapfile_read(path, &len, err, errlen);
	if (!text)
		return NULL;
	struct tagmap *m = tagmap_parse(kind, path, text, len, err, errlen);
	free(text);
	return m;
}

static bool rule_matches(const struct rule *r, const struct flow *f)
{
	if (r->has_ip && !in_prefix(&f->exporter, r))
		return false;
	if (r->has_in && f->in_if != r->in)
		return false;
	if (r->has_out && f->out_if != r->out)
		return false;
	return !r->filter || flow_filter_match(r->filter, f);
}

bool tagmap_apply(const struct tagmap *m, struct flow *f)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct rule *r = &m->r[i];
		if (!rule_matches(r, f))
			continue;
		if (m->kind == TAGMAP_SAMPLING) {
			f->sampling_rate = r->rate;
			FLOW_SET(f, FF_SAMPLING);
			return true;
		}
		if (r->has_tag)
			f->tag = r->tag;
		if (r->has_tag2)
			f->tag2 = r->tag2;
		if (r->label)
			f->label = r->label;
		return true;
	}
	return false;
}

bool tagmap_exporter_only(const struct tagmap *m, unsigned *line, const char **key)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct rule *r = &m->r[i];
		const char *k = r->has_in ? "in" : r->has_out ? "out" : r->filter ? "filter" : NULL;
		if (k) {
			*line = r->line;
			*key = k;
			return false;
		}
	}
	return true;
}

bool tagmap_exporter_tag(const struct tagmap *m, const struct wip *exporter, uint64_t *tag)
{
	*tag = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct rule *r = &m->r[i];
		if (r->has_in || r->has_out || r->filter || (r->has_ip && !in_prefix(exporter, r)))
			continue;
		if (r->has_tag)
			*tag = r->tag;
		return true;
	}
	return false;
}

size_t tagmap_count(const struct tagmap *m)
{
	return m->n;
}

void tagmap_free(struct tagmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		rule_free(&m->r[i]);
	free(m->r);
	free(m);
}
