/* keys.h - the typed key table behind conf.c and the generated reference (internal to conf/). */
#ifndef WEIR_CONF_KEYS_H
#define WEIR_CONF_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum key_type {
	KT_BOOL,     /* true/false, yes/no, 1/0; stored as bool */
	KT_UINT,     /* decimal, min..max; stored as uint32_t */
	KT_SIZE,     /* bytes with an optional k/m/g suffix (powers of 1024); uint32_t */
	KT_DURATION, /* number with an optional ms/s/m/h/d suffix; uint32_t in unit_ms units */
	KT_STRING,   /* text copied into a char[] */
	KT_PATH,     /* a file name (strftime patterns allowed where the help says so) */
	KT_ENUM,     /* one of choices[]; stored as int (the index) */
	KT_LIST,     /* comma list, no empty items; stored as written */
	KT_PLUGINS,  /* the plugins: declaration; handled by the parser itself */
	KT_NOOP,     /* pmacct key with no meaning in weir: accepted with a notice */
	KT_LATER,    /* pmacct key weir does not implement yet: accepted with a notice */
};

enum key_scope {
	KS_GLOBAL, /* the whole collector: struct conf; takes no [name] */
	KS_PLUGIN, /* struct plugin_conf: without [name] it sets every plugin */
	KS_ANY,    /* ignored keys: with or without [name] */
};

/*
 * Validates (and may rewrite, within len bytes) a value after the generic checks of its type.
 * Returns false with a message (no key name, no location) in msg.
 */
typedef bool (*key_check_fn)(char *val, size_t len, char *msg, size_t msglen);

struct key_def {
	const char *name; /* "kafka_*" matches a family of ignored keys by prefix */
	enum key_type type;
	enum key_scope scope;
	size_t off;  /* offsetof into struct conf or struct plugin_conf */
	size_t size; /* size of that member */
	uint32_t min, max;
	uint32_t unit_ms; /* KT_DURATION: 1 = stored in ms, 1000 = in seconds */
	bool calendar;   /* KT_DURATION: also N w / N M, stored as CONF_HISTORY_WEEKS/_MONTHS | N */
	const char *def; /* default, as config text, applied through the setter */
	const char *const *choices; /* KT_ENUM: NULL-terminated, index = stored value */
	key_check_fn check;
	const char *section; /* heading in the reference */
	const char *help;    /* one line: what weir does with it */
	const char *pmacct;  /* one line: pmacct's meaning; NULL = weir's own key */
};

extern const struct key_def conf_keys[];
extern const size_t conf_n_keys;

/* Plugin types the parser accepts in plugins: (pmacct's, and weir's planned sinks). */
extern const char *const conf_plugin_types[];

/* The config text conf_defaults() applies on top of the table defaults. */
extern const char conf_embedded_default[];

/* The row for a key (exact names first, then families); NULL when unknown. */
const struct key_def *conf_key_find(const char *name);

/* True when the row names a family ("kafka_*") rather than one key. */
bool conf_key_is_family(const struct key_def *k);

/* The bounds of a numeric key as text: "1..65535", "0..1g", "1s..1d". */
void conf_key_bounds(const struct key_def *k, char *buf, size_t len);

/*
 * Copies the next item of a comma list at *p, without surrounding blanks, into item and
 * advances *p (to NULL after the last item). Returns false once *p is NULL. "" is one empty
 * item and "a,,b" has an empty second one. Items longer than len are cut.
 */
bool conf_list_next(const char **p, char *item, size_t len);

#endif
