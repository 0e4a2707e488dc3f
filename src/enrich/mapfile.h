/* mapfile.h - line reader shared by the pmacct map files (networks_file, sampling_map,
 * pre_tag_map). */
#ifndef WEIR_MAPFILE_H
#define WEIR_MAPFILE_H

#include <stddef.h>

struct mapfile {
	char *buf; /* a private copy of the text, cut into lines in place */
	size_t len, pos;
	unsigned line; /* number of the line mapfile_next() returned last */
};

/* Reads a whole map file (at most 64 MiB). NULL with "path: reason" in err. */
char *mapfile_read(const char *path, size_t *len, char *err, size_t errlen);

void mapfile_init(struct mapfile *mf, const char *text, size_t len);

/*
 * The next meaningful line, trimmed; lines starting with `!` or `#` and blank ones are
 * skipped. NULL at the end (or when the copy could not be allocated).
 */
char *mapfile_next(struct mapfile *mf);

void mapfile_done(struct mapfile *mf);

#endif
