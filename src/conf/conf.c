/* conf.c - pmacct-syntax parser: lines, [name] labels, precedence, typed setters, listeners. */
#include "conf/conf.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conf/keys.h"
#include "lib/log.h"

#define CONF_FILE_MAX (4u << 20) /* a config file larger than this is a mistake */
#define KEY_SHOW      64         /* characters of a key or value quoted in a message */

/* One `key[label]: value` line; the strings point into the layer's buffer. */
struct entry {
	unsigned line;
	char *key;   /* lower case */
	char *label; /* NULL without [name] */
	char *value; /* trimmed */
	const struct key_def *def;
};

/* The lines of one source (the embedded default, a file, the -o overrides), applied in order. */
struct layer {
	const char *src; /* "weir.conf", "-o", ... */
	char *buf;
	struct entry *e;
	size_t n, cap;
};

/* Where a global key got its value, for errors found after parsing. */
struct origin {
	const char *src;
	unsigned line;
};

struct loader {
	struct conf *c;
	struct plugin_conf *scratch; /* plugin keys are checked here in line order */
	struct origin *where;        /* per conf_keys[] row */
	char *err;
	size_t errlen;
};

struct decl {
	char type[sizeof(((struct plugin_conf *)0)->type)];
	char name[sizeof(((struct plugin_conf *)0)->name)];
};

static int fail(struct loader *L, const char *src, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct loader *L, const char *src, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(L->err, L->errlen, "%s:%u: %s", src, line, msg);
	else
		snprintf(L->err, L->errlen, "%s: %s", src, msg);
	/* Values quoted from the input may hold control bytes; the message is one clean line. */
	for (char *p = L->err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

/* Copies s for a message: at most KEY_SHOW characters, control bytes as '?'. */
static const char *show(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] && i + 4 < len && i < KEY_SHOW; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* --- numbers, sizes, durations --- */

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};

	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, true;
		if (!strcasecmp(s, no[i]))
			return *out = false, true;
	}
	return false;
}

/* Leading decimal digits of s into *v (saturating); returns the first byte after them. */
static const char *parse_digits(const char *s, uint64_t *v)
{
	*v = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		*v = *v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : *v * 10 + (uint64_t)(*s - '0');
	return s;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* "64k" style when the value is a whole number of k/m/g. */
static void fmt_size(uint64_t v, char *buf, size_t len)
{
	if (v && v % (1u << 30) == 0)
		snprintf(buf, len, "%llug", (unsigned long long)(v >> 30));
	else if (v && v % (1u << 20) == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(v >> 20));
	else if (v && v % 1024 == 0)
		snprintf(buf, len, "%lluk", (unsigned long long)(v >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void fmt_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} u[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (ms && ms % u[i].ms == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / u[i].ms), u[i].unit);
			return;
		}
	snprintf(buf, len, "%llu%s", (unsigned long long)ms, ms ? "ms" : "");
}

void conf_key_bounds(const struct key_def *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	if (k->type == KT_SIZE) {
		fmt_size(k->min, lo, sizeof(lo));
		fmt_size(k->max, hi, sizeof(hi));
	} else if (k->type == KT_DURATION) {
		fmt_duration((uint64_t)k->min * k->unit_ms, lo, sizeof(lo));
		fmt_duration((uint64_t)k->max * k->unit_ms, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%u", k->min);
		snprintf(hi, sizeof(hi), "%u", k->max);
	}
	snprintf(buf, len, "%s..%s", lo, hi);
}

/* The multiplier of a size or duration suffix (in bytes or ms); 0 when not one. */
static uint64_t suffix_factor(enum key_type t, const char *s, uint32_t unit_ms)
{
	static const struct {
		const char *sfx;
		uint64_t f;
	} sizes[] = {{"", 1},          {"b", 1},         {"k", 1 << 10},   {"kb", 1 << 10},
	             {"kib", 1 << 10}, {"m", 1 << 20},   {"mb", 1 << 20},  {"mib", 1 << 20},
	             {"g", 1u << 30},  {"gb", 1u << 30}, {"gib", 1u << 30}},
	  durs[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};

	while (*s == ' ')
		s++;
	if (t == KT_SIZE) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (!strcasecmp(s, sizes[i].sfx))
				return sizes[i].f;
		return 0;
	}
	if (!*s)
		return unit_ms;
	for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++)
		if (!strcasecmp(s, durs[i].sfx))
			return durs[i].f;
	return 0;
}

/* The longest 1w / 1M history: ten years of months, or of weeks. */
#define CONF_CALENDAR_MAX 520u

/*
 * A calendar suffix of *_history: w (weeks) or M (months, case-sensitive since m is
 * minutes). Returns its CONF_HISTORY_* flag, 0 when s is another suffix.
 */
static uint32_t calendar_unit(const char *s)
{
	while (*s == ' ')
		s++;
	if (!strcmp(s, "w") || !strcmp(s, "W"))
		return CONF_HISTORY_WEEKS;
	if (!strcmp(s, "M"))
		return CONF_HISTORY_MONTHS;
	return 0;
}

static bool set_number(const struct key_def *k, char *dst, const char *val, char *msg,
                       size_t msglen)
{
	char shown[80], bounds[80];
	uint64_t v;
	const char *rest = parse_digits(val, &v);
	uint64_t f = 1;

	uint32_t cal = k->calendar && rest != val ? calendar_unit(rest) : 0;
	if (cal) {
		if (v < 1 || v > CONF_CALENDAR_MAX) {
			snprintf(msg, msglen, "'%s' is not 1 to %u weeks or months",
			         show(val, shown, sizeof(shown)), CONF_CALENDAR_MAX);
			return false;
		}
		cal |= (uint32_t)v;
		memcpy(dst, &cal, sizeof(cal));
		return true;
	}
	if (rest == val || (k->type == KT_UINT && *rest) ||
	    (k->type != KT_UINT && !(f = suffix_factor(k->type, rest, k->unit_ms)))) {
		snprintf(msg, msglen, "'%s' is not a %s", show(val, shown, sizeof(shown)),
		         k->type == KT_SIZE ? "size (bytes, or a number with k, m, g)"
		         : k->type == KT_DURATION && k->calendar
		             ? "duration (a number with s, m, h, d, w, M)"
		         : k->type == KT_DURATION ? "duration (a number with ms, s, m, h, d)"
		                                  : "number");
		return false;
	}
	v = mul_sat(v, f);
	if (k->type == KT_DURATION) {
		if (v % k->unit_ms) {
			snprintf(msg, msglen, "'%s' is not a whole number of seconds",
			         show(val, shown, sizeof(shown)));
			return false;
		}
		v /= k->unit_ms;
	}
	if (v < k->min || v > k->max) {
		conf_key_bounds(k, bounds, sizeof(bounds));
		snprintf(msg, msglen, "'%s' is out of range (%s)", show(val, shown, sizeof(shown)),
		         bounds);
		return false;
	}
	uint32_t u = (uint32_t)v;
	memcpy(dst, &u, sizeof(u));
	return true;
}

static bool set_enum(const struct key_def *k, char *dst, const char *val, char *msg, size_t msglen)
{
	char shown[80], names[128] = "";

	for (int i = 0; k->choices[i]; i++) {
		if (!strcasecmp(val, k->choices[i])) {
			memcpy(dst, &i, sizeof(i));
			return true;
		}
		size_t n = strlen(names);
		snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "", k->choices[i]);
	}
	snprintf(msg, msglen, "'%s' is not one of: %s", show(val, shown, sizeof(shown)), names);
	return false;
}

/* Strings, paths and lists: bounded copy, list items checked, then the key's own check. */
static bool set_text(const struct key_def *k, char *dst, const char *val, char *msg, size_t msglen)
{
	char tmp[PATH_MAX];
	size_t n = strlen(val);

	if (n >= k->size || n >= sizeof(tmp)) {
		snprintf(msg, msglen, "value is too long (at most %zu characters)", k->size - 1);
		return false;
	}
	memcpy(tmp, val, n + 1);
	if (k->type == KT_LIST && *tmp) {
		const char *p = tmp;
		char item[CONF_LIST];
		while (conf_list_next(&p, item, sizeof(item)))
			if (!*item) {
				snprintf(msg, msglen, "empty item in the list");
				return false;
			}
	}
	if (k->check && !k->check(tmp, k->size < sizeof(tmp) ? k->size : sizeof(tmp), msg, msglen))
		return false;
	memcpy(dst, tmp, strlen(tmp) + 1);
	return true;
}

/*
 * The generic setter: parses val as k's type into base (a struct conf or struct plugin_conf,
 * as k->scope says). Returns false with a message (without location or key) in msg.
 */
static bool set_value(const struct key_def *k, void *base, const char *val, char *msg,
                      size_t msglen)
{
	char *dst = (char *)base + k->off;
	char shown[80];
	bool b;

	if (!*val && k->type != KT_STRING && k->type != KT_PATH && k->type != KT_LIST) {
		snprintf(msg, msglen, "missing value");
		return false;
	}
	switch (k->type) {
	case KT_BOOL:
		if (!parse_bool(val, &b)) {
			snprintf(msg, msglen, "'%s' is not a boolean (true/false, yes/no, 1/0)",
			         show(val, shown, sizeof(shown)));
			return false;
		}
		memcpy(dst, &b, sizeof(b));
		return true;
	case KT_UINT:
	case KT_SIZE:
	case KT_DURATION:
		return set_number(k, dst, val, msg, msglen);
	case KT_ENUM:
		return set_enum(k, dst, val, msg, msglen);
	case KT_STRING:
	case KT_PATH:
	case KT_LIST:
		return set_text(k, dst, val, msg, msglen);
	default:
		return true;
	}
}

/* --- suggestions --- */

/* Optimal string alignment distance (Damerau-Levenshtein without repeated edits). */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned char d[KEY_SHOW + 1][KEY_SHOW + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > KEY_SHOW || lb > KEY_SHOW)
		return UINT32_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned char)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned char)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1u < v)
				v = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < v)
				v = d[i][j - 1] + 1u;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1u < v)
				v = d[i - 2][j - 2] + 1u;
			d[i][j] = (unsigned char)v;
		}
	return d[la][lb];
}

/* The closest of names[] to s, when close enough to be a typo; NULL otherwise. */
static const char *closest(const char *s, const char *const *names, size_t n)
{
	size_t len = strlen(s);
	unsigned limit = len <= 4 ? 1 : len <= 8 ? 2 : 3, best = UINT32_MAX;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!names[i])
			continue;
		unsigned d = edit_distance(s, names[i]);
		if (d < best) {
			best = d;
			pick = names[i];
		}
	}
	return best <= limit ? pick : NULL;
}

static const char *closest_key(const char *key)
{
	const char *names[256];
	size_t n = 0;

	for (size_t i = 0; i < conf_n_keys && n < sizeof(names) / sizeof(names[0]); i++)
		if (!conf_key_is_family(&conf_keys[i]))
			names[n++] = conf_keys[i].name;
	return closest(key, names, n);
}

/* --- lines --- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static char *trim(char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool is_key_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

static void show_char(char ch, char *buf, size_t len)
{
	if (isprint((unsigned char)ch))
		snprintf(buf, len, "'%c'", ch);
	else
		snprintf(buf, len, "byte 0x%02x", (unsigned char)ch);
}

/*
 * Splits `key[label] SEP value` (SEP one of seps) in place; key is lower-cased like pmacct does.
 * Returns false with the syntax error in msg.
 */
static bool split_line(char *line, const char *seps, struct entry *e, char *msg, size_t msglen)
{
	char *p = trim(line), ch[16];

	e->key = p;
	for (; is_key_char(*p); p++)
		*p = (char)tolower((unsigned char)*p);
	char *kend = p;
	while (is_blank(*p))
		p++;
	e->label = NULL;
	if (*p == '[') {
		char *l = p + 1, *close = strchr(l, ']');
		if (!close || strcspn(l, seps) < (size_t)(close - l) || memchr(l, '[', close - l)) {
			snprintf(msg, msglen, "syntax error: unbalanced '[' in the key");
			return false;
		}
		*close = '\0';
		e->label = trim(l);
		p = close + 1;
		while (is_blank(*p))
			p++;
		if (!*e->label) {
			snprintf(msg, msglen, "syntax error: empty [name]");
			return false;
		}
	}
	if (!*p || !strchr(seps, *p)) {
		if (!strpbrk(p, seps))
			snprintf(msg, msglen, "syntax error: expected 'key%svalue'",
			         seps[0] == ':' ? ": " : "=");
		else if (e->label)
			snprintf(msg, msglen, "syntax error: unexpected text after ']'");
		else {
			show_char(*p, ch, sizeof(ch));
			snprintf(msg, msglen, "syntax error: unexpected %s in the key", ch);
		}
		return false;
	}
	if (kend == e->key) {
		snprintf(msg, msglen, "syntax error: missing key before '%c'", *p);
		return false;
	}
	*kend = '\0';
	e->value = trim(p + 1);
	return true;
}

static int add_entry(struct loader *L, struct layer *ly, struct entry *e)
{
	char shown[80];

	e->def = conf_key_find(e->key);
	if (!e->def) {
		const char *near = closest_key(e->key);
		if (near)
			return fail(L, ly->src, e->line, "unknown key '%s'; did you mean '%s'?",
			            show(e->key, shown, sizeof(shown)), near);
		return fail(L, ly->src, e->line, "unknown key '%s'",
		            show(e->key, shown, sizeof(shown)));
	}
	if (ly->n == ly->cap) {
		size_t cap = ly->cap ? ly->cap * 2 : 32;
		struct entry *ne = realloc(ly->e, cap * sizeof(*ne));
		if (!ne)
			return fail(L, ly->src, e->line, "out of memory");
		ly->e = ne;
		ly->cap = cap;
	}
	ly->e[ly->n++] = *e;
	return 0;
}

/* A config text: '\n'-separated lines, '!' comment lines, blank lines. */
static int parse_text(struct loader *L, struct layer *ly, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	char msg[256];
	unsigned line = 1;

	if (nul) {
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		return fail(L, ly->src, line, "syntax error: NUL byte");
	}
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3; /* a UTF-8 byte order mark some editors write */
		len -= 3;
	}
	ly->buf = malloc(len + 1);
	if (!ly->buf)
		return fail(L, ly->src, 0, "out of memory");
	memcpy(ly->buf, text, len);
	ly->buf[len] = '\0';
	for (char *p = ly->buf; p; line++) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		char *s = trim(p);
		p = nl ? nl + 1 : NULL;
		if (!*s || *s == '!')
			continue;
		struct entry e = {.line = line};
		if (!split_line(s, ":", &e, msg, sizeof(msg)))
			return fail(L, ly->src, line, "%s", msg);
		if (add_entry(L, ly, &e) < 0)
			return -1;
	}
	return 0;
}

/* -o overrides: "key=value" or "key[name]=value" (':' works too); line N is the Nth -o. */
static int parse_overrides(struct loader *L, struct layer *ly, const char *const *ov, size_t n)
{
	size_t total = 0;
	char msg[256];

	for (size_t i = 0; i < n; i++)
		total += strlen(ov[i]) + 1;
	ly->buf = malloc(total + 1);
	if (!ly->buf)
		return fail(L, ly->src, 0, "out of memory");
	char *p = ly->buf;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(ov[i]);
		memcpy(p, ov[i], len + 1);
		struct entry e = {.line = (unsigned)(i + 1)};
		if (strchr(p, '\n'))
			return fail(L, ly->src, e.line, "syntax error: newline in an override");
		if (!split_line(p, "=:", &e, msg, sizeof(msg)))
			return fail(L, ly->src, e.line, "%s", msg);
		if (add_entry(L, ly, &e) < 0)
			return -1;
		p += len + 1;
	}
	return 0;
}

/* --- plugins --- */

static bool valid_name(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static bool known_type(const char *t)
{
	for (size_t i = 0; conf_plugin_types[i]; i++)
		if (!strcmp(t, conf_plugin_types[i]))
			return true;
	return false;
}

/* One item of plugins: "type" or "type[name]". */
static bool parse_decl(char *item, struct decl *d, char *msg, size_t msglen)
{
	char shown[80], *p = item, *name = NULL;

	for (; is_key_char(*p); p++)
		*p = (char)tolower((unsigned char)*p);
	size_t tlen = (size_t)(p - item);
	while (is_blank(*p))
		p++;
	if (*p == '[') {
		char *close = strchr(p, ']');
		if (!close || close[1]) {
			snprintf(msg, msglen, "'%s' is not type or type[name]",
			         show(item, shown, sizeof(shown)));
			return false;
		}
		*close = '\0';
		name = trim(p + 1);
	} else if (*p || !tlen) {
		snprintf(msg, msglen, "'%s' is not type or type[name]",
		         show(item, shown, sizeof(shown)));
		return false;
	}
	item[tlen] = '\0';
	if (!known_type(item)) {
		size_t nt = 0;
		while (conf_plugin_types[nt])
			nt++;
		const char *near = closest(item, conf_plugin_types, nt);
		snprintf(msg, msglen, "unknown plugin type '%s'%s%s%s",
		         show(item, shown, sizeof(shown)), near ? "; did you mean '" : "",
		         near ? near : "", near ? "'?" : "");
		return false;
	}
	if (!name)
		name = item;
	if (!*name || strlen(name) >= sizeof(d->name) || !valid_name(name)) {
		snprintf(msg, msglen,
		         "plugin name '%s' must be 1..%zu letters, digits, '_', '-' or '.'",
		         show(name, shown, sizeof(shown)), sizeof(d->name) - 1);
		return false;
	}
	/* Both fit: known types are short and the name length was checked. */
	memcpy(d->type, item, tlen + 1);
	memcpy(d->name, name, strlen(name) + 1);
	return true;
}

static bool parse_plugins(const char *val, struct decl *d, size_t *n, char *msg, size_t msglen)
{
	char item[CONF_LIST];
	const char *p = val;

	*n = 0;
	if (strlen(val) >= CONF_LIST) {
		snprintf(msg, msglen, "value is too long (at most %d characters)", CONF_LIST - 1);
		return false;
	}
	if (!*val) {
		snprintf(msg, msglen, "no plugin declared");
		return false;
	}
	while (conf_list_next(&p, item, sizeof(item))) {
		if (!*item) {
			snprintf(msg, msglen, "empty item in the list");
			return false;
		}
		if (*n == CONF_MAX_PLUGINS) {
			snprintf(msg, msglen, "more than %d plugins", CONF_MAX_PLUGINS);
			return false;
		}
		if (!parse_decl(item, &d[*n], msg, msglen))
			return false;
		for (size_t i = 0; i < *n; i++)
			if (!strcmp(d[i].name, d[*n].name)) {
				snprintf(msg, msglen, "plugin name '%s' is declared twice",
				         d[i].name);
				return false;
			}
		(*n)++;
	}
	return true;
}

/* Table defaults for every plugin key; they are constants, so they cannot fail. */
static void plugin_defaults(struct plugin_conf *pc, const struct decl *d)
{
	char msg[256];

	memset(pc, 0, sizeof(*pc));
	for (size_t i = 0; i < conf_n_keys; i++)
		if (conf_keys[i].scope == KS_PLUGIN && conf_keys[i].def)
			set_value(&conf_keys[i], pc, conf_keys[i].def, msg, sizeof(msg));
	memcpy(pc->name, d->name, sizeof(pc->name));
	memcpy(pc->type, d->type, sizeof(pc->type));
}

/* The last plugins: line of the last layer that has one decides; earlier ones are checked. */
static int declare_plugins(struct loader *L, struct layer *ly, size_t nl)
{
	struct decl d[CONF_MAX_PLUGINS];
	const struct entry *last = NULL;
	size_t n = 0;
	char msg[256];

	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < ly[i].n; j++) {
			const struct entry *e = &ly[i].e[j];
			if (e->def->type != KT_PLUGINS || e->label)
				continue;
			if (!parse_plugins(e->value, d, &n, msg, sizeof(msg)))
				return fail(L, ly[i].src, e->line, "plugins: %s", msg);
			last = e;
		}
	if (!last)
		return 0; /* keep the plugins of the base (the embedded default) */
	for (size_t i = 0; i < n; i++)
		plugin_defaults(&L->c->plugins[i], &d[i]);
	L->c->n_plugins = n;
	return 0;
}

static struct plugin_conf *find_plugin(struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_plugins; i++)
		if (!strcmp(c->plugins[i].name, name))
			return &c->plugins[i];
	return NULL;
}

static void plugin_names(const struct conf *c, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->n_plugins && at < len; i++)
		at +=
		    (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", c->plugins[i].name);
}

/* --- applying --- */

static const char *key_shown(const struct entry *e, char *buf, size_t len)
{
	char shown[80];

	if (e->label)
		snprintf(buf, len, "%s[%s]", e->key, show(e->label, shown, sizeof(shown)));
	else
		snprintf(buf, len, "%s", e->key);
	return buf;
}

/*
 * In line order: [name] rules, ignored-key notices, global keys set, plugin keys checked
 * against a scratch plugin (they are applied by apply_plugin_keys() in precedence order).
 */
static int check_entry(struct loader *L, const struct layer *ly, const struct entry *e)
{
	const struct key_def *k = e->def;
	char name[160], msg[256], list[256];

	key_shown(e, name, sizeof(name));
	if (e->label && k->scope == KS_GLOBAL)
		return fail(L, ly->src, e->line,
		            "%s: '%s' applies to the whole collector and takes no [name]", name,
		            e->key);
	if (e->label && !find_plugin(L->c, e->label)) {
		plugin_names(L->c, list, sizeof(list));
		return fail(L, ly->src, e->line, "%s: '%s' is not a declared plugin (plugins: %s)",
		            name, e->label, list);
	}
	switch (k->type) {
	case KT_NOOP:
		WLOG(LL_NOTICE, "%s:%u: key '%s' is a pmacct key with no meaning in weir; ignored",
		     ly->src, e->line, e->key);
		return 0;
	case KT_LATER:
		WLOG(LL_NOTICE, "%s:%u: key '%s' is not implemented yet; ignored", ly->src, e->line,
		     e->key);
		return 0;
	case KT_PLUGINS:
		return 0;
	default:
		break;
	}
	void *base = k->scope == KS_GLOBAL ? (void *)L->c : (void *)L->scratch;
	if (!set_value(k, base, e->value, msg, sizeof(msg)))
		return fail(L, ly->src, e->line, "%s: %s", name, msg);
	if (k->scope == KS_GLOBAL)
		L->where[k - conf_keys] = (struct origin){ly->src, e->line};
	return 0;
}

/* pmacct precedence: within a layer, keys without [name] first, then key[name] ones. */
static int apply_plugin_keys(struct loader *L, const struct layer *ly)
{
	char msg[256];

	for (int labeled = 0; labeled < 2; labeled++)
		for (size_t j = 0; j < ly->n; j++) {
			const struct entry *e = &ly->e[j];
			if (e->def->scope != KS_PLUGIN || !!e->label != labeled)
				continue;
			for (size_t i = 0; i < L->c->n_plugins; i++) {
				struct plugin_conf *pc = &L->c->plugins[i];
				if (e->label && strcmp(pc->name, e->label))
					continue;
				if (!set_value(e->def, pc, e->value, msg, sizeof(msg)))
					return fail(L, ly->src, e->line, "%s: %s", e->key, msg);
			}
		}
	return 0;
}

/* --- listeners --- */

static const struct origin *origin_of(struct loader *L, const char *key)
{
	return &L->where[conf_key_find(key) - conf_keys];
}

/* A listener error, placed at the line that set key (or "config" for a default). */
static int listen_fail(struct loader *L, const char *key, const char *msg)
{
	const struct origin *o = origin_of(L, key);

	if (!o->src)
		return fail(L, "config", 0, "%s: %s", key, msg);
	return fail(L, o->src, o->line, "%s: %s", key, msg);
}

static int add_listener(struct loader *L, const char *ip, const char *port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_DGRAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *res = NULL;
	struct conf *c = L->c;
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	char msg[128];

	if (getaddrinfo(ip, port, &hints, &res) != 0 || !res ||
	    res->ai_addrlen > sizeof(struct sockaddr_storage)) {
		if (res)
			freeaddrinfo(res);
		snprintf(msg, sizeof(msg), "'%.64s' is not a numeric IPv4 or IPv6 address", ip);
		return listen_fail(L, "nfacctd_ip", msg);
	}
	for (size_t i = 0; i < c->n_listen; i++)
		if (c->listen[i].len == res->ai_addrlen &&
		    !memcmp(&c->listen[i].ss, res->ai_addr, res->ai_addrlen)) {
			freeaddrinfo(res);
			return 0; /* listed twice: one socket */
		}
	if (c->n_listen == CONF_MAX_LISTEN) {
		freeaddrinfo(res);
		snprintf(msg, sizeof(msg), "more than %d listeners (nfacctd_ip x nfacctd_port)",
		         CONF_MAX_LISTEN);
		return listen_fail(
		    L, origin_of(L, "nfacctd_port")->src ? "nfacctd_port" : "nfacctd_ip", msg);
	}
	struct listen_addr *la = &c->listen[c->n_listen++];
	memset(la, 0, sizeof(*la));
	memcpy(&la->ss, res->ai_addr, res->ai_addrlen);
	la->len = res->ai_addrlen;
	freeaddrinfo(res);
	if (getnameinfo((struct sockaddr *)&la->ss, la->len, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, sizeof(host), "%.64s", ip);
		snprintf(serv, sizeof(serv), "%.5s", port);
	}
	if (la->ss.ss_family == AF_INET6)
		snprintf(la->text, sizeof(la->text), "[%.62s]:%.5s", host, serv);
	else
		snprintf(la->text, sizeof(la->text), "%.64s:%.5s", host, serv);
	return 0;
}

/*
 * conf->listen[] = nfacctd_ip x nfacctd_port, then sfacctd_ip x sfacctd_port, in the order
 * written, duplicates merged.
 */
static int resolve_listen(struct loader *L)
{
	struct conf *c = L->c;
	char ip[CONF_LIST], port[CONF_LIST];
	const char *pi = c->nfacctd_ip;

	c->n_listen = 0;
	if (!*c->nfacctd_ip)
		return listen_fail(L, "nfacctd_ip", "no address to listen on");
	if (!*c->nfacctd_port)
		return listen_fail(L, "nfacctd_port", "no port to listen on");
	while (conf_list_next(&pi, ip, sizeof(ip))) {
		const char *pp = c->nfacctd_port;
		while (conf_list_next(&pp, port, sizeof(port)))
			if (add_listener(L, ip, port) < 0)
				return -1;
	}
	/* sfacctd_ip x sfacctd_port (sFlow, 6343 by default); duplicates merge as above */
	pi = *c->sfacctd_ip ? c->sfacctd_ip : c->nfacctd_ip;
	while (*c->sfacctd_port && conf_list_next(&pi, ip, sizeof(ip))) {
		const char *pp = c->sfacctd_port;
		while (conf_list_next(&pp, port, sizeof(port)))
			if (add_listener(L, ip, port) < 0)
				return -1;
	}
	return 0;
}

/* --- loading --- */

static void free_layers(struct layer *ly, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ly[i].buf);
		free(ly[i].e);
	}
}

/* Where a global field was last set (any of its spellings); {"config", 0} when defaulted. */
static struct origin field_origin(const struct loader *L, size_t off, const char **key)
{
	struct origin o = {"config", 0};

	for (size_t i = 0; i < conf_n_keys; i++)
		if (conf_keys[i].scope == KS_GLOBAL && conf_keys[i].off == off && L->where[i].src &&
		    (!o.line || L->where[i].line >= o.line)) {
			o = L->where[i];
			*key = conf_keys[i].name;
		}
	return o;
}

/*
 * nfacctd_as / nfacctd_net: file needs networks_file, mask needs networks_mask (as pmacct);
 * bgp, bmp and igp load (pmacct configs load unchanged) with a warning: the exporter's values.
 */
static int check_sources(struct loader *L)
{
	const struct conf *c = L->c;
	const char *key = "nfacctd_as";
	struct origin o;

	if (c->nfacctd_as == CONF_SRC_BGP || c->nfacctd_as == CONF_SRC_BMP) {
		o = field_origin(L, offsetof(struct conf, nfacctd_as), &key);
		WLOG(LL_WARN,
		     "%s:%u: %s: '%s' needs the BGP/BMP listener, which weir does not have yet; "
		     "using the exporter's AS numbers",
		     o.src, o.line, key, c->nfacctd_as == CONF_SRC_BGP ? "bgp" : "bmp");
	}
	key = "nfacctd_net";
	if (c->nfacctd_net == CONF_SRC_BGP || c->nfacctd_net == CONF_SRC_BMP ||
	    c->nfacctd_net == CONF_SRC_IGP) {
		o = field_origin(L, offsetof(struct conf, nfacctd_net), &key);
		WLOG(LL_WARN,
		     "%s:%u: %s: '%s' needs the %s listener, which weir does not have yet; using "
		     "the "
		     "exporter's masks",
		     o.src, o.line, key,
		     c->nfacctd_net == CONF_SRC_BGP   ? "bgp"
		     : c->nfacctd_net == CONF_SRC_BMP ? "bmp"
		                                      : "igp",
		     c->nfacctd_net == CONF_SRC_IGP ? "IS-IS" : "BGP/BMP");
	}
	key = "nfacctd_as";

	if (c->nfacctd_as == CONF_SRC_FILE && !c->networks_file[0]) {
		o = field_origin(L, offsetof(struct conf, nfacctd_as), &key);
		return fail(L, o.src, o.line, "%s: 'file' needs a networks_file", key);
	}
	key = "nfacctd_net";
	if (c->nfacctd_net == CONF_SRC_FILE && !c->networks_file[0]) {
		o = field_origin(L, offsetof(struct conf, nfacctd_net), &key);
		return fail(L, o.src, o.line, "%s: 'file' needs a networks_file", key);
	}
	if (c->nfacctd_net == CONF_SRC_MASK && !c->networks_mask) {
		o = field_origin(L, offsetof(struct conf, nfacctd_net), &key);
		return fail(L, o.src, o.line, "%s: 'mask' needs networks_mask", key);
	}
	return 0;
}

/* Applies parsed layers to c (already holding its base), then resolves and validates. */
static int apply_layers(struct loader *L, struct layer *ly, size_t nl)
{
	if (declare_plugins(L, ly, nl) < 0)
		return -1;
	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < ly[i].n; j++)
			if (check_entry(L, &ly[i], &ly[i].e[j]) < 0)
				return -1;
	for (size_t i = 0; i < nl; i++)
		if (apply_plugin_keys(L, &ly[i]) < 0)
			return -1;
	if (L->c->n_plugins == 0)
		return fail(L, "config", 0, "no plugin declared");
	if (check_sources(L) < 0)
		return -1;
	if (resolve_listen(L) < 0)
		return -1;
	for (size_t i = 0; i < L->c->n_plugins; i++)
		L->c->plugins[i].conf = L->c;
	return 0;
}

/* Parses the sources (text and/or overrides) and applies them on top of c. */
static int load_into(struct conf *c, const char *src, const char *text, size_t len,
                     const char *const *ov, size_t n_ov, char *err, size_t errlen)
{
	struct layer ly[2];
	struct loader L = {.c = c, .err = err, .errlen = errlen};
	size_t nl = 0;

	memset(ly, 0, sizeof(ly));
	int rc = -1;

	L.scratch = calloc(1, sizeof(*L.scratch));
	L.where = calloc(conf_n_keys, sizeof(*L.where));
	if (!L.scratch || !L.where) {
		fail(&L, src ? src : "config", 0, "out of memory");
		goto out;
	}
	if (text) {
		ly[nl].src = src;
		if (parse_text(&L, &ly[nl++], text, len) < 0)
			goto out;
	}
	if (n_ov) {
		ly[nl].src = "-o";
		if (parse_overrides(&L, &ly[nl++], ov, n_ov) < 0)
			goto out;
	}
	rc = apply_layers(&L, ly, nl);
out:
	free_layers(ly, nl);
	free(L.scratch);
	free(L.where);
	return rc;
}

void conf_defaults(struct conf *c)
{
	char msg[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < conf_n_keys; i++)
		if (conf_keys[i].scope == KS_GLOBAL && conf_keys[i].def &&
		    conf_keys[i].type != KT_PLUGINS)
			set_value(&conf_keys[i], c, conf_keys[i].def, msg, sizeof(msg));
	/* A constant text the unit tests load; it cannot fail. */
	load_into(c, "embedded default", conf_embedded_default, strlen(conf_embedded_default), NULL,
	          0, msg, sizeof(msg));
}

/* Loads onto a copy so that c is untouched on error (a reload keeps the running config). */
static int load_copy(struct conf *c, const char *path, const char *src, const char *text,
                     size_t len, const char *const *ov, size_t n_ov, char *err, size_t errlen)
{
	struct conf *t = malloc(sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "%s: out of memory", src);
		return -1;
	}
	conf_defaults(t);
	if (path && strlen(path) >= sizeof(t->path)) {
		snprintf(err, errlen, "%s: path is too long", src);
		free(t);
		return -1;
	}
	if ((text || n_ov) && load_into(t, src, text, len, ov, n_ov, err, errlen) < 0) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s", path ? path : "");
	*c = *t;
	for (size_t i = 0; i < c->n_plugins; i++)
		c->plugins[i].conf = c;
	free(t);
	return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf = NULL;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", path);
		goto out;
	}
	buf = malloc(CONF_FILE_MAX + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	*len = fread(buf, 1, CONF_FILE_MAX + 1, f);
	if (ferror(f) || *len > CONF_FILE_MAX) {
		if (ferror(f))
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		else
			snprintf(err, errlen, "%s: larger than %u MiB", path, CONF_FILE_MAX >> 20);
		free(buf);
		buf = NULL;
	}
out:
	fclose(f);
	return buf;
}

int conf_load(struct conf *c, const char *path, const char *const *overrides, size_t n_overrides,
              char *err, size_t errlen)
{
	size_t len = 0;
	char *text = NULL;

	if (path && !(text = read_file(path, &len, err, errlen)))
		return -1;
	int rc = load_copy(c, path, path ? path : "config", text, len, overrides, n_overrides, err,
	                   errlen);
	free(text);
	return rc;
}

int conf_load_buffer(struct conf *c, const char *name, const char *text, size_t len, char *err,
                     size_t errlen)
{
	return load_copy(c, name, name ? name : "buffer", text ? text : "", text ? len : 0, NULL, 0,
	                 err, errlen);
}
