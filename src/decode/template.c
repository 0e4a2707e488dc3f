/* template.c - the template store of one exporter/domain and the template -> program compiler. */
#include "decode/template.h"

#include <stdlib.h>
#include <string.h>

#include "weir/flow.h"

void tmpl_store_init(struct tmpl_store *s)
{
	memset(s, 0, sizeof(*s));
}

void tmpl_store_free(struct tmpl_store *s)
{
	for (size_t p = 0; p < 256; p++) {
		if (!s->pages[p])
			continue;
		for (size_t i = 0; i < 256; i++)
			free(s->pages[p][i]);
		free(s->pages[p]);
	}
	memset(s, 0, sizeof(*s));
}

/* Keeps the lowest-ranked op of each group; the others become skips. */
static void resolve_groups(struct tmpl_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind == OP_SKIP || !ops[i].group)
			continue;
		for (size_t j = i + 1; j < n; j++) {
			if (ops[j].kind == OP_SKIP || ops[j].group != ops[i].group)
				continue;
			if (ops[j].rank < ops[i].rank) {
				ops[i].kind = OP_SKIP;
				break;
			}
			ops[j].kind = OP_SKIP;
		}
	}
}

static uint8_t post_flags(const struct tmpl_op *op)
{
	if (op->kind == OP_AUX) {
		switch (op->dst) {
		case AUX_UP_FIRST:
		case AUX_UP_LAST:
			return TP_UPTIME;
		case AUX_DELTA_FIRST:
		case AUX_DELTA_LAST:
			return TP_DELTA;
		case AUX_SYSINIT:
			return TP_SYSINIT;
		default:
			return TP_SAMPLING;
		}
	}
	if (op->bit == FF_MPLS)
		return TP_MPLS;
	if (op->bit == FF_SAMPLER_ID)
		return TP_SAMPLER;
	return 0;
}

/* Checks the shape of a template and returns its (minimum) record length, 0 when invalid. */
static uint32_t record_len(uint8_t version, const struct tmpl_field *f, uint16_t n, bool *varlen)
{
	uint32_t len = 0;

	*varlen = false;
	for (uint16_t i = 0; i < n; i++) {
		if (f[i].len == TMPL_VARLEN && version == 10) {
			*varlen = true;
			len += 1;
		} else {
			len += f[i].len;
		}
	}
	return len > TMPL_REC_MAX ? 0 : len;
}

static struct tmpl *compile(uint8_t version, uint16_t id, bool options, uint16_t scope_count,
                            const struct tmpl_field *f, uint16_t n, uint32_t min_len, bool varlen)
{
	size_t sz =
	    sizeof(struct tmpl) + n * sizeof(struct tmpl_field) + n * sizeof(struct tmpl_op);
	struct tmpl *t = calloc(1, sz);
	if (!t)
		return NULL;
	struct tmpl_field *fields = (struct tmpl_field *)(t + 1);
	struct tmpl_op *ops = (struct tmpl_op *)(fields + n);
	memcpy(fields, f, n * sizeof(*f));

	uint32_t off = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct tmpl_op *op = &ops[i];
		bool v9_scope = version == 9 && options && i < scope_count;
		if (!fld_map(f[i].pen, f[i].id, f[i].len, v9_scope, op)) {
			memset(op, 0, sizeof(*op));
			op->kind = OP_SKIP;
			op->len = f[i].len;
		}
		op->src = (uint16_t)off;
		off += f[i].len == TMPL_VARLEN ? 0 : f[i].len;
		if (op->kind != OP_SKIP && !v9_scope && !t->ip_version)
			t->ip_version = fld_ip_version(f[i].pen, f[i].id);
	}
	resolve_groups(ops, n);

	uint16_t n_ops = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (ops[i].kind == OP_SKIP && !varlen)
			continue; /* fixed offsets: unmapped fields cost nothing */
		t->post |= post_flags(&ops[i]);
		ops[n_ops++] = ops[i];
	}
	t->id = id;
	t->n_fields = n;
	t->scope_count = scope_count;
	t->min_len = (uint16_t)min_len;
	t->n_ops = n_ops;
	t->version = version;
	t->options = options;
	t->varlen = varlen;
	t->fields = fields;
	t->ops = ops;
	return t;
}

static bool same(const struct tmpl *t, uint8_t version, bool options, uint16_t scope_count,
                 const struct tmpl_field *f, uint16_t n)
{
	return t->version == version && t->options == options && t->scope_count == scope_count &&
	       t->n_fields == n && memcmp(t->fields, f, n * sizeof(*f)) == 0;
}

int tmpl_define(struct tmpl_store *s, const struct decode_limits *lim, uint8_t version, uint16_t id,
                bool options, uint16_t scope_count, const struct tmpl_field *fields, uint16_t n,
                enum drop_reason *why)
{
	bool varlen;
	uint32_t min_len;

	if (id < TMPL_MIN_ID || n == 0 || n > lim->max_template_fields) {
		*why = DROP_BAD_TEMPLATE;
		return -1;
	}
	if (options && (scope_count > n || (version == 10 && scope_count == 0))) {
		*why = DROP_BAD_OPTIONS;
		return -1;
	}
	min_len = record_len(version, fields, n, &varlen);
	if (min_len == 0) {
		*why = DROP_BAD_TEMPLATE;
		return -1;
	}

	struct tmpl **page = s->pages[id >> 8];
	struct tmpl *old = page ? page[id & 0xff] : NULL;
	if (old && same(old, version, options, scope_count, fields, n))
		return 0;
	if (!old && s->count >= lim->max_templates) {
		*why = DROP_TEMPLATE_LIMIT;
		return -1;
	}
	if (!page) {
		page = calloc(256, sizeof(*page));
		if (!page) {
			*why = DROP_TEMPLATE_LIMIT;
			return -1;
		}
		s->pages[id >> 8] = page;
	}
	struct tmpl *t = compile(version, id, options, scope_count, fields, n, min_len, varlen);
	if (!t) {
		*why = DROP_TEMPLATE_LIMIT;
		return -1;
	}
	if (old)
		free(old);
	else
		s->count++;
	page[id & 0xff] = t;
	s->last = NULL;
	return 1;
}

void tmpl_withdraw(struct tmpl_store *s, uint16_t id)
{
	struct tmpl **page = s->pages[id >> 8];
	if (!page || !page[id & 0xff])
		return;
	free(page[id & 0xff]);
	page[id & 0xff] = NULL;
	s->count--;
	s->last = NULL;
}

void tmpl_withdraw_all(struct tmpl_store *s, bool options)
{
	for (size_t p = 0; p < 256; p++) {
		if (!s->pages[p])
			continue;
		for (size_t i = 0; i < 256; i++) {
			struct tmpl *t = s->pages[p][i];
			if (t && t->options == options)
				tmpl_withdraw(s, t->id);
		}
	}
}

void tmpl_foreach(const struct tmpl_store *s, void (*fn)(void *arg, const struct tmpl *t),
                  void *arg)
{
	for (size_t p = 0; p < 256; p++) {
		if (!s->pages[p])
			continue;
		for (size_t i = 0; i < 256; i++)
			if (s->pages[p][i])
				fn(arg, s->pages[p][i]);
	}
}
