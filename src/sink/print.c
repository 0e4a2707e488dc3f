/* print.c - the print sink: pmacct-style JSON/CSV to stdout, or to whole files renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "sink/format.h"
#include "weir/sink.h"

/*
 * Files: each refresh interval is written to a hidden temporary file in the target directory
 * (".NAME.XXXXXX"), then fsync'ed and rename(2)d to the strftime() expansion of
 * print_output_file for the interval start. A reader watching the directory (inotify
 * IN_MOVED_TO) therefore only ever sees whole files. With print_output_file_append the
 * previous content is copied into the temporary file first, so appending stays atomic too.
 * print_output "formatted" is pmacct's fixed-width table (fmt_formatted()).
 */
#define RECENT_FILES 16

struct sink {
	const struct plugin_conf *pc;
	struct fmt_opts fo;
	int format;
	bool to_stdout;
	bool stdout_header_done;
	bool utc;
	mode_t mode; /* for the final files: 0666 minus the umask */

	FILE *out;
	bool open;
	bool failed; /* a write of this interval failed: the file is discarded, not published */
	bool direct; /* the target is no regular file (/dev/null, a FIFO): written in place */
	uint64_t bin_ms;
	char tmp[PATH_MAX];
	char final[PATH_MAX];
	unsigned link_seq;

	char *line;
	size_t cap;

	/*
	 * Files this sink published lately. Rows of a time bin can come in more than one write (a
	 * table that filled early, late records): a file of ours written again is extended, not
	 * replaced, so that no row is lost. A file of an earlier bin is replaced, as in pmacct.
	 */
	char recent[RECENT_FILES][PATH_MAX];
	uint64_t recent_bin[RECENT_FILES];
	unsigned n_recent;
};

static char sep_char(const char *s)
{
	if (!s[0])
		return ',';
	if (!strcmp(s, "\\t") || !strcasecmp(s, "tab"))
		return '\t';
	if (!strcasecmp(s, "space"))
		return ' ';
	return s[0];
}

static struct sink *print_open(const struct plugin_conf *pc, char *err, size_t errlen)
{
	struct sink *s = calloc(1, sizeof(*s));
	mode_t um;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->pc = pc;
	s->format = pc->print_output;
	s->to_stdout = pc->print_output_file[0] == '\0';
	fmt_opts_default(&s->fo);
	if (pc->conf) {
		s->fo.ts_secs = pc->conf->timestamps_secs;
		s->fo.ts_since_epoch = pc->conf->timestamps_since_epoch;
		s->fo.ts_utc = pc->conf->timestamps_utc;
		s->fo.label_map = pc->conf->pre_tag_label_encode_as_map;
	}
	s->utc = s->fo.ts_utc;
	s->fo.csv_sep = s->format == PRINT_FORMATTED ? ' ' : sep_char(pc->print_output_separator);
	um = umask(0);
	umask(um);
	s->mode = 0666 & ~um;
	s->cap = 4096;
	s->line = malloc(s->cap);
	if (!s->line) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!s->to_stdout && pc->print_latest_file[0] &&
	    !strcmp(pc->print_latest_file, pc->print_output_file)) {
		snprintf(err, errlen, "print_latest_file must differ from print_output_file");
		free(s->line);
		free(s);
		return NULL;
	}
	return s;
}

/* Splits path into its directory ("." when none) and last component. */
static void split_path(const char *path, char *dir, size_t dlen, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, dlen, ".");
		*base = path;
	} else if (slash == path) {
		snprintf(dir, dlen, "/");
		*base = slash + 1;
	} else {
		snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
		*base = slash + 1;
	}
}

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* The file name of an interval: strftime(print_output_file) of its start. */
static int expand_into(const struct sink *s, uint64_t bin_ms, char *out, size_t len)
{
	time_t t = (time_t)(bin_ms / 1000);
	struct tm tm;

	if (s->utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
		/* The pattern is the operator's print_output_file: a format string by design. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	size_t n = strftime(out, len, s->pc->print_output_file, &tm);
#pragma GCC diagnostic pop
	if (n == 0 || out[n - 1] == '/') {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int expand_name(struct sink *s, uint64_t bin_ms)
{
	return expand_into(s, bin_ms, s->final, sizeof(s->final));
}

/*
 * Rows of another time bin go on in the open output when they would land in the same file
 * (stdout, or a name without the time fields that differ): one purge is one file, as in pmacct.
 */
static bool same_output(const struct sink *s, uint64_t bin_ms)
{
	char name[PATH_MAX];

	if (s->to_stdout)
		return true;
	return expand_into(s, bin_ms, name, sizeof(name)) == 0 && !strcmp(name, s->final);
}

/* print_output_file_append: the temporary file starts as a copy of the published one. */
static int copy_previous(struct sink *s, bool *had_content)
{
	char buf[65536];
	size_t n;
	FILE *in = fopen(s->final, "re");

	*had_content = false;
	if (!in)
		return errno == ENOENT ? 0 : -1;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		*had_content = true;
		if (fwrite(buf, 1, n, s->out) != n) {
			fclose(in);
			return -1;
		}
	}
	int bad = ferror(in);
	fclose(in);
	return bad ? -1 : 0;
}

static int open_tmp(struct sink *s)
{
	char dir[PATH_MAX];
	const char *base;

	split_path(s->final, dir, sizeof(dir), &base);
	if (mkdir_p(dir) < 0)
		return -1;
	if (snprintf(s->tmp, sizeof(s->tmp), "%s/.%s.XXXXXX", dir, base) >= (int)sizeof(s->tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = mkostemp(s->tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fchmod(fd, s->mode) < 0 || !(s->out = fdopen(fd, "w"))) {
		int e = errno;
		close(fd);
		unlink(s->tmp);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * A target that exists and is no regular file (a device such as /dev/null, a FIFO, a symlink)
 * is opened and written in place, as pmacct does: renaming over it would replace it.
 */
static int open_output(struct sink *s)
{
	struct stat st;

	s->direct = lstat(s->final, &st) == 0 && !S_ISREG(st.st_mode);
	if (!s->direct)
		return open_tmp(s);
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	s->out = fopen(s->final, s->pc->print_output_file_append ? "ae" : "we");
	return s->out ? 0 : -1;
}

static void write_header(struct sink *s, uint64_t fields)
{
	struct fmt_opts o = s->fo;
	size_t need;

	o.fields = fields;
	while ((need = s->format == PRINT_FORMATTED
	                   ? fmt_formatted_header(s->line, s->cap, &o)
	                   : fmt_csv_header(s->line, s->cap, &o)) >= s->cap) {
		char *bigger = realloc(s->line, need + 256);
		if (!bigger)
			return;
		s->line = bigger;
		s->cap = need + 256;
	}
	fwrite(s->line, 1, need, s->out);
	fputc('\n', s->out);
}

static bool published_before(const struct sink *s)
{
	unsigned n = s->n_recent < RECENT_FILES ? s->n_recent : RECENT_FILES;

	for (unsigned i = 0; i < n; i++)
		if (s->recent_bin[i] == s->bin_ms && !strcmp(s->recent[i], s->final))
			return true;
	return false;
}

static void remember_published(struct sink *s)
{
	if (published_before(s))
		return;
	s->recent_bin[s->n_recent % RECENT_FILES] = s->bin_ms;
	snprintf(s->recent[s->n_recent++ % RECENT_FILES], PATH_MAX, "%s", s->final);
}

/* Starts the output of one interval: temporary file, CSV header, START marker. */
static int open_interval(struct sink *s, const struct sink_rows *r)
{
	bool had_content = false;

	s->bin_ms = r->stamp_inserted_ms;
	s->failed = false;
	if (s->to_stdout) {
		s->out = stdout;
	} else {
		if (expand_name(s, s->bin_ms) < 0 || open_output(s) < 0) {
			WLOG(LL_ERR, "print[%s]: cannot create the output for '%s': %s",
			     s->pc->name, s->pc->print_output_file, strerror(errno));
			return -1;
		}
		setvbuf(s->out, NULL, _IOFBF, 1 << 18);
		if ((s->pc->print_output_file_append || published_before(s)) && !s->direct &&
		    copy_previous(s, &had_content) < 0)
			s->failed = true;
	}
	if (s->format != PRINT_JSON && !had_content && !(s->to_stdout && s->stdout_header_done)) {
		write_header(s, r->fields);
		s->stdout_header_done = s->to_stdout;
	}
	if (s->pc->print_markers)
		fprintf(s->out, "--START (%llu+%u)--\n", (unsigned long long)(s->bin_ms / 1000),
		        s->pc->print_refresh_time);
	s->open = true;
	return 0;
}

static size_t format_row(struct sink *s, const struct flow *f, const struct fmt_opts *o)
{
	for (;;) {
		size_t need = s->format == PRINT_JSON        ? fmt_json(s->line, s->cap, f, o)
		              : s->format == PRINT_FORMATTED ? fmt_formatted(s->line, s->cap, f, o)
		                                             : fmt_csv(s->line, s->cap, f, o);
		if (need < s->cap)
			return need;
		/* Grows once to the longest row seen; not a per-record allocation. */
		char *bigger = realloc(s->line, need + 256);
		if (!bigger)
			return 0;
		s->line = bigger;
		s->cap = need + 256;
	}
}

static int print_flush(struct sink *s, uint64_t now);

static int print_write(struct sink *s, const struct sink_rows *r)
{
	struct fmt_opts o = s->fo;

	if (s->open && r->n && r->stamp_inserted_ms != s->bin_ms &&
	    !same_output(s, r->stamp_inserted_ms))
		print_flush(s, now_ms());
	if (!s->open) {
		if (r->n == 0 && !s->pc->print_write_empty_file)
			return 0;
		if (open_interval(s, r) < 0)
			return -1;
	}
	o.fields = r->fields;
	o.stamp_inserted_ms = r->stamp_inserted_ms;
	o.stamp_updated_ms = r->stamp_updated_ms;
	for (size_t i = 0; i < r->n; i++) {
		size_t len = format_row(s, &r->rows[i], &o);
		if (len == 0)
			continue;
		s->line[len] = '\n';
		fwrite(s->line, 1, len + 1, s->out);
	}
	if (ferror(s->out)) {
		s->failed = true;
		clearerr(s->out);
		return -1;
	}
	return 0;
}

/* Points print_latest_file at the file just published: symlink to a temporary name, rename. */
static void update_latest(struct sink *s)
{
	char ldir[PATH_MAX], fdir[PATH_MAX], tmp[PATH_MAX], target[PATH_MAX];
	const char *lbase, *fbase;

	struct stat st;

	/* Only a symlink of ours is replaced; any other file in the way is left alone. */
	if (lstat(s->pc->print_latest_file, &st) == 0 && !S_ISLNK(st.st_mode)) {
		errno = EEXIST;
		goto fail;
	}
	split_path(s->pc->print_latest_file, ldir, sizeof(ldir), &lbase);
	split_path(s->final, fdir, sizeof(fdir), &fbase);
	/* Relative within one directory (the pair can move together), absolute otherwise. */
	if (!strcmp(ldir, fdir))
		snprintf(target, sizeof(target), "%s", fbase);
	else if (!realpath(s->final, target))
		goto fail;
	if (mkdir_p(ldir) < 0)
		goto fail;
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%u", ldir, lbase, (long)getpid(),
	             s->link_seq++) >= (int)sizeof(tmp))
		goto fail;
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		goto fail;
	if (rename(tmp, s->pc->print_latest_file) < 0) {
		unlink(tmp);
		goto fail;
	}
	return;
fail:
	WLOG(LL_ERR, "print[%s]: cannot update %s: %s", s->pc->name, s->pc->print_latest_file,
	     strerror(errno));
}

static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *base;

	split_path(path, dir, sizeof(dir), &base);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Closes the temporary file and renames it into place (or discards it after an error). */
static int publish(struct sink *s)
{
	if (s->direct) {
		int rc = fclose(s->out) == 0 && !s->failed ? 0 : -1;
		s->out = NULL;
		return rc;
	}
	int bad = fflush(s->out) != 0 || fsync(fileno(s->out)) < 0;
	int e = errno;

	bad |= fclose(s->out) != 0;
	s->out = NULL;
	if (bad || s->failed) {
		WLOG(LL_ERR, "print[%s]: writing %s failed (%s); the interval is discarded",
		     s->pc->name, s->final, strerror(bad ? e : EIO));
		unlink(s->tmp);
		return -1;
	}
	if (rename(s->tmp, s->final) < 0) {
		WLOG(LL_ERR, "print[%s]: rename to %s: %s", s->pc->name, s->final, strerror(errno));
		unlink(s->tmp);
		return -1;
	}
	sync_dir(s->final);
	remember_published(s);
	if (s->pc->print_latest_file[0])
		update_latest(s);
	return 0;
}

static int print_flush(struct sink *s, uint64_t now)
{
	if (!s->open)
		return 0;
	if (s->pc->print_markers)
		fputs("--END--\n", s->out);
	s->open = false;
	if (s->to_stdout) {
		s->out = NULL;
		return fflush(stdout) == 0 ? 0 : -1;
	}
	return publish(s);
}

static void print_close(struct sink *s)
{
	if (!s)
		return;
	print_flush(s, now_ms());
	free(s->line);
	free(s);
}

const struct sink_ops sink_print = {
    .name = "print",
    .open = print_open,
    .write = print_write,
    .flush = print_flush,
    .close = print_close,
    .reconfigure = NULL,
};
