/* mapfile.c - reading pmacct map files line by line. */
#include "enrich/mapfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAPFILE_MAX (64u << 20)

char *mapfile_read(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	char *text;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size > MAPFILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
		         st.st_size > MAPFILE_MAX ? "larger than 64 MiB" : strerror(errno));
		fclose(f);
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(f);
		return NULL;
	}
	*len = fread(text, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		free(text);
		fclose(f);
		return NULL;
	}
	text[*len] = '\0';
	fclose(f);
	return text;
}

void mapfile_init(struct mapfile *mf, const char *text, size_t len)
{
	memset(mf, 0, sizeof(*mf));
	mf->buf = malloc(len + 1);
	if (!mf->buf)
		return;
	memcpy(mf->buf, text, len);
	mf->buf[len] = '\0';
	mf->len = len;
}

char *mapfile_next(struct mapfile *mf)
{
	while (mf->buf && mf->pos < mf->len) {
		char *s = mf->buf + mf->pos;
		char *nl = memchr(s, '\n', mf->len - mf->pos);
		size_t n = nl ? (size_t)(nl - s) : mf->len - mf->pos;
		mf->pos += n + 1;
		mf->line++;
		s[n] = '\0';
		/* A NUL inside the line ends it: the text is a C string from here on. */
		n = strlen(s);
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			s[--n] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != '!' && *s != '#')
			return s;
	}
	return NULL;
}

void mapfile_done(struct mapfile *mf)
{
	free(mf->buf);
	mf->buf = NULL;
}
