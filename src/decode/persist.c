/* persist.c - nfacctd_templates_file: every template of a decode state as one text line each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode/decode_int.h"

/*
 * Format, one template per line:
 *   ADDRESS DOMAIN VERSION data|options TEMPLATE_ID SCOPE_COUNT N ID/PEN/LEN ... (N times)
 * e.g. "192.0.2.1 0 10 data 256 0 2 8/0/4 12/0/4". Lines starting with '#' are comments.
 */
#define PERSIST_MAGIC "# weir templates v1"

struct save_ctx {
	FILE *f;
	const struct exporter *e;
};

static void save_one(void *arg, const struct tmpl *t)
{
	struct save_ctx *s = arg;
	char addr[WIP_STRLEN];

	fprintf(s->f, "%s %u %u %s %u %u %u", wip_str(&s->e->st.addr, addr, sizeof(addr)),
	        s->e->st.domain, s->e->st.version, t->options ? "options" : "data", t->id,
	        t->scope_count, t->n_fields);
	for (uint16_t i = 0; i < t->n_fields; i++)
		fprintf(s->f, " %u/%u/%u", t->fields[i].id, t->fields[i].pen, t->fields[i].len);
	fputc('\n', s->f);
}

int decode_templates_save(const struct decode_state *st, const char *path)
{
	char tmp[4096];
	struct save_ctx s;
	int err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!(s.f = fopen(tmp, "w")))
		return -1;
	fprintf(s.f, "%s\n", PERSIST_MAGIC);
	for (uint32_t b = 0; b <= st->mask; b++) {
		for (const struct exporter *e = st->buckets[b]; e; e = e->next) {
			s.e = e;
			tmpl_foreach(&e->tmpl, save_one, &s);
		}
	}
	if (fflush(s.f) || ferror(s.f) || fsync(fileno(s.f))) {
		err = errno ? errno : EIO;
		fclose(s.f);
		unlink(tmp);
		errno = err;
		return -1;
	}
	if (fclose(s.f) || rename(tmp, path)) {
		err = errno;
		unlink(tmp);
		errno = err;
		return -1;
	}
	return 0;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *v)
{
	char *end;
	unsigned long x;

	if (!s)
		return false;
	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > max)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* Parses one template line and defines it. False when the line is malformed or refused. */
static bool load_line(struct decode_state *st, char *line)
{
	char *save = NULL, *tok[7];
	uint32_t domain, version, id, scope, n;
	struct wip addr;
	struct exporter *e;
	enum drop_reason why;

	for (int i = 0; i < 7; i++)
		tok[i] = strtok_r(i ? NULL : line, " \t\r\n", &save);
	if (!tok[6] || !wip_parse(&addr, tok[0]) || !parse_u32(tok[1], UINT32_MAX, &domain) ||
	    !parse_u32(tok[2], 10, &version) || (version != 9 && version != 10) ||
	    (strcmp(tok[3], "data") && strcmp(tok[3], "options")) ||
	    !parse_u32(tok[4], 65535, &id) || !parse_u32(tok[5], 65535, &scope) ||
	    !parse_u32(tok[6], st->lim.max_template_fields, &n))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		char *f = strtok_r(NULL, " \t\r\n", &save);
		uint32_t fid, pen, len;
		char *s1 = f ? strchr(f, '/') : NULL, *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
		if (!s2)
			return false;
		*s1 = *s2 = '\0';
		if (!parse_u32(f, 65535, &fid) || !parse_u32(s1 + 1, UINT32_MAX, &pen) ||
		    !parse_u32(s2 + 1, 65535, &len))
			return false;
		st->fields[i].id = (uint16_t)fid;
		st->fields[i].pen = pen;
		st->fields[i].len = (uint16_t)len;
	}
	if (strtok_r(NULL, " \t\r\n", &save))
		return false;
	e = exp_find_create(st, &addr, domain, (uint8_t)version, now_ms());
	return e && tmpl_define(&e->tmpl, &st->lim, (uint8_t)version, (uint16_t)id,
	                        !strcmp(tok[3], "options"), (uint16_t)scope, st->fields,
	                        (uint16_t)n, &why) >= 0;
}

int decode_templates_load(struct decode_state *st, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	bool bad = false;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		char *p = line + strspn(line, " \t\r\n");
		if (*p == '#' || *p == '\0')
			continue;
		if (!load_line(st, p)) {
			WLOG(LL_WARN, "%s:%zu: template line ignored", path, lineno);
			bad = true;
		}
	}
	free(line);
	fclose(f);
	if (bad) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
