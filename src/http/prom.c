/* prom.c - Prometheus text exposition: families collected from many sources, rendered once. */
#include "http/prom.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct family {
	char *name;
	char *help;
	char type[16];
	char *text; /* the samples, one per line */
	size_t len, cap;
};

struct prom {
	struct family *f;
	size_t n, cap;
};

struct prom *prom_new(void)
{
	return calloc(1, sizeof(struct prom));
}

void prom_free(struct prom *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->f[i].name);
		free(p->f[i].help);
		free(p->f[i].text);
	}
	free(p->f);
	free(p);
}

static struct family *find(struct prom *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->f[i].name, name))
			return &p->f[i];
	return NULL;
}

bool prom_name_ok(const char *name)
{
	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *s = name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

bool prom_family(struct prom *p, const char *name, const char *type, const char *help)
{
	if (find(p, name))
		return true;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		struct family *f = realloc(p->f, cap * sizeof(*f));
		if (!f)
			return false;
		p->f = f;
		p->cap = cap;
	}
	struct family *f = &p->f[p->n];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help) {
		free(f->name);
		free(f->help);
		return false;
	}
	snprintf(f->type, sizeof(f->type), "%s", type ? type : "untyped");
	p->n++;
	return true;
}

static void append(struct family *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct family *f, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(f->text ? f->text + f->len : NULL, f->cap - f->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < f->cap - f->len) {
			f->len += (size_t)n;
			return;
		}
		size_t cap = f->cap ? f->cap * 2 : 1024;
		while (cap - f->len <= (size_t)n)
			cap *= 2;
		char *t = realloc(f->text, cap);
		if (!t)
			return; /* the sample is lost, the exposition stays well formed */
		f->text = t;
		f->cap = cap;
	}
}

static struct family *family_for(struct prom *p, const char *name)
{
	struct family *f = find(p, name);
	if (!f && prom_name_ok(name) && prom_family(p, name, "untyped", ""))
		f = find(p, name);
	return f;
}

void prom_sample(struct prom *p, const char *name, const char *suffix, const char *labels, double v)
{
	struct family *f = family_for(p, name);
	if (!f)
		return;
	append(f, "%s%s%s%s%s %.17g\n", name, suffix ? suffix : "", labels && *labels ? "{" : "",
	       labels ? labels : "", labels && *labels ? "}" : "", v);
}

void prom_sample_u64(struct prom *p, const char *name, const char *suffix, const char *labels,
                     uint64_t v)
{
	struct family *f = family_for(p, name);
	if (!f)
		return;
	append(f, "%s%s%s%s%s %" PRIu64 "\n", name, suffix ? suffix : "",
	       labels && *labels ? "{" : "", labels ? labels : "", labels && *labels ? "}" : "", v);
}

/* HELP text escapes only \ and newline. */
static void put_help(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

size_t prom_render(const struct prom *p, FILE *out)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct family *f = &p->f[i];
		if (!f->len)
			continue; /* a declared family without samples says nothing */
		fprintf(out, "# HELP %s ", f->name);
		put_help(out, f->help);
		fprintf(out, "\n# TYPE %s %s\n", f->name, f->type);
		fwrite(f->text, 1, f->len, out);
		n++;
	}
	return n;
}

bool prom_label(char *buf, size_t len, const char *k, const char *v)
{
	size_t at = strlen(buf), o = at;

#define PUT(ch)                                                                                    \
	do {                                                                                       \
		if (o + 1 >= len)                                                                  \
			goto full;                                                                 \
		buf[o++] = (ch);                                                                   \
	} while (0)
	if (at)
		PUT(',');
	for (const char *s = k; *s; s++) {
		char ch = *s;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
		          (s != k && ch >= '0' && ch <= '9');
		PUT(ok ? ch : '_');
	}
	PUT('=');
	PUT('"');
	for (const char *s = v; *s; s++) {
		if (*s == '\\' || *s == '"') {
			PUT('\\');
			PUT(*s);
		} else if (*s == '\n') {
			PUT('\\');
			PUT('n');
		} else {
			PUT(*s);
		}
	}
	PUT('"');
#undef PUT
	buf[o] = '\0';
	return true;
full:
	buf[at] = '\0';
	return false;
}
