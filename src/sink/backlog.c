/* backlog.c - a sink's FIFO of refused batches: bounded memory, then a checksummed spool file. */
#include "sink/backlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cursor.h"
#include "lib/log.h"

/*
 * Spool layout: a 24-byte header ("WEIRSPL1", u64 offset of the oldest unconsumed record,
 * u32 checksum of those 16 bytes, u32 zero), then records: u32 payload length, u32 checksum
 * of the payload, payload. All integers big-endian. The file only grows by appends; it is
 * truncated back to the header once everything was consumed, and compacted (rewritten from
 * the read offset) when an append would exceed spool_max.
 */
#define SPOOL_MAGIC "WEIRSPL1"
#define SPOOL_HDR   24u
#define REC_HDR     8u

struct mitem {
	struct mitem *next;
	size_t len;
	uint8_t data[];
};

struct backlog {
	char path[PATH_MAX];
	char who[96];
	uint64_t mem_max, spool_max;
	int fd; /* -1: memory only */
	bool dirty;

	struct mitem *head, *tail;
	uint64_t mem_items, mem_bytes;

	uint64_t rd;  /* offset of the oldest unconsumed record */
	uint64_t end; /* file size: where the next record goes */
	uint64_t spool_items;

	uint8_t *buf; /* the peeked spool record */
	size_t cap;
	int peeked; /* 0 none, 1 memory head, 2 spool record at rd */
	size_t peek_len;

	struct backlog_stats st;
};

uint32_t backlog_sum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void make_header(uint8_t h[SPOOL_HDR], uint64_t rd)
{
	memcpy(h, SPOOL_MAGIC, 8);
	put_u64(h + 8, rd);
	put_u32(h + 16, backlog_sum(h, 16));
	put_u32(h + 20, 0);
}

static int write_header(int fd, uint64_t rd)
{
	uint8_t h[SPOOL_HDR];

	make_header(h, rd);
	return pwrite_full(fd, h, sizeof(h), 0);
}

static bool grow(struct backlog *b, size_t len)
{
	if (len <= b->cap)
		return true;
	uint8_t *n = realloc(b->buf, len);
	if (!n)
		return false;
	b->buf = n;
	b->cap = len;
	return true;
}

/*
 * Reads and checks the record at off into b->buf. Returns its payload length, or -1 when it
 * is torn or damaged (length past the end or over the bound, checksum mismatch).
 */
static long read_record(struct backlog *b, uint64_t off)
{
	uint8_t h[REC_HDR];
	struct cursor c;
	uint32_t len, sum;

	if (off + REC_HDR > b->end || pread_full(b->fd, h, sizeof(h), off) < 0)
		return -1;
	cur_init(&c, h, sizeof(h));
	if (!cur_u32(&c, &len) || !cur_u32(&c, &sum))
		return -1;
	if (len > BACKLOG_ITEM_MAX || off + REC_HDR + len > b->end || !grow(b, len ? len : 1))
		return -1;
	if (len && pread_full(b->fd, b->buf, len, off + REC_HDR) < 0)
		return -1;
	if (backlog_sum(b->buf, len) != sum)
		return -1;
	return (long)len;
}

/* Cuts the spool at off (a damaged record and all after it), counting what was lost. */
static void cut_tail(struct backlog *b, uint64_t off, const char *why)
{
	WLOG(LL_ERR, "%s: spool %s: %s at offset %llu; %llu bytes after it are dropped", b->who,
	     b->path, why, (unsigned long long)off, (unsigned long long)(b->end - off));
	b->st.corrupt++;
	if (ftruncate(b->fd, (off_t)off) < 0)
		b->st.io_errors++;
	b->end = off;
}

/* Counts the records of a spool taken over; a damaged tail is cut off. */
static void scan_spool(struct backlog *b)
{
	uint64_t off = b->rd;

	while (off < b->end) {
		long n = read_record(b, off);
		if (n < 0) {
			cut_tail(b, off, "damaged record");
			break;
		}
		off += REC_HDR + (uint64_t)n;
		b->spool_items++;
	}
}

/* Moves a spool with a damaged header aside; the caller starts a new one. */
static void set_aside(struct backlog *b)
{
	char aside[PATH_MAX + 16];

	snprintf(aside, sizeof(aside), "%s.corrupt", b->path);
	WLOG(LL_ERR, "%s: spool %s has a damaged header: moved to %s", b->who, b->path, aside);
	b->st.corrupt++;
	if (rename(b->path, aside) < 0)
		b->st.io_errors++;
}

static int open_spool(struct backlog *b, char *err, size_t errlen)
{
	struct stat sb;
	uint8_t h[SPOOL_HDR];

	b->fd = open(b->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (b->fd < 0 || fstat(b->fd, &sb) < 0) {
		snprintf(err, errlen, "spool %s: %s", b->path, strerror(errno));
		return -1;
	}
	b->end = (uint64_t)sb.st_size;
	if (b->end >= SPOOL_HDR && pread_full(b->fd, h, sizeof(h), 0) == 0 &&
	    !memcmp(h, SPOOL_MAGIC, 8) && get_u32(h + 16) == backlog_sum(h, 16) &&
	    get_u64(h + 8) >= SPOOL_HDR && get_u64(h + 8) <= b->end) {
		b->rd = get_u64(h + 8);
		scan_spool(b);
		if (b->spool_items)
			WLOG(LL_NOTICE,
			     "%s: spool %s holds %llu batches from before: replaying them", b->who,
			     b->path, (unsigned long long)b->spool_items);
		return 0;
	}
	if (b->end > 0) {
		close(b->fd);
		set_aside(b);
		b->fd = open(b->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (b->fd < 0) {
			snprintf(err, errlen, "spool %s: %s", b->path, strerror(errno));
			return -1;
		}
	}
	b->rd = b->end = SPOOL_HDR;
	if (ftruncate(b->fd, 0) < 0 || write_header(b->fd, b->rd) < 0 || fdatasync(b->fd) < 0) {
		snprintf(err, errlen, "spool %s: %s", b->path, strerror(errno));
		return -1;
	}
	return 0;
}

struct backlog *backlog_open(const struct backlog_conf *bc, char *err, size_t errlen)
{
	struct backlog *b = calloc(1, sizeof(*b));

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->fd = -1;
	b->mem_max = bc->mem_max;
	b->spool_max = bc->spool_max;
	snprintf(b->who, sizeof(b->who), "%s", bc->who ? bc->who : "backlog");
	if (bc->path && bc->path[0]) {
		if (strlen(bc->path) >= sizeof(b->path)) {
			snprintf(err, errlen, "spool path too long");
			free(b);
			return NULL;
		}
		snprintf(b->path, sizeof(b->path), "%s", bc->path);
		/* A spool is created when first needed: a healthy database leaves no file behind.
		 */
		if (access(b->path, F_OK) == 0 && open_spool(b, err, errlen) < 0) {
			if (b->fd >= 0)
				close(b->fd);
			free(b);
			return NULL;
		}
	}
	return b;
}

/* Rewrites the spool as [first items] + its unconsumed records; used by compaction and close. */
static int rewrite_spool(struct backlog *b, const struct mitem *first)
{
	char tmp[PATH_MAX + 8];
	uint8_t rh[REC_HDR];
	uint64_t at = SPOOL_HDR, items = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", b->path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_header(fd, SPOOL_HDR) < 0)
		goto fail;
	for (const struct mitem *m = first; m; m = m->next, items++) {
		put_u32(rh, (uint32_t)m->len);
		put_u32(rh + 4, backlog_sum(m->data, m->len));
		if (pwrite_full(fd, rh, REC_HDR, at) < 0 ||
		    pwrite_full(fd, m->data, m->len, at + REC_HDR) < 0)
			goto fail;
		at += REC_HDR + m->len;
	}
	for (uint64_t off = b->rd; off < b->end;) {
		long n = read_record(b, off);
		if (n < 0)
			goto fail;
		put_u32(rh, (uint32_t)n);
		put_u32(rh + 4, backlog_sum(b->buf, (size_t)n));
		if (pwrite_full(fd, rh, REC_HDR, at) < 0 ||
		    pwrite_full(fd, b->buf, (size_t)n, at + REC_HDR) < 0)
			goto fail;
		at += REC_HDR + (uint64_t)n;
		off += REC_HDR + (uint64_t)n;
	}
	if (fdatasync(fd) < 0 || rename(tmp, b->path) < 0)
		goto fail;
	close(b->fd);
	b->fd = fd;
	b->rd = SPOOL_HDR;
	b->end = at;
	b->spool_items += items;
	b->peeked = 0;
	return 0;
fail:
	close(fd);
	unlink(tmp);
	b->st.io_errors++;
	return -1;
}

/* Creates the spool on first use; false (logged once per failure) when it cannot be. */
static bool have_spool(struct backlog *b)
{
	char err[PATH_MAX + 64];

	if (b->fd >= 0)
		return true;
	if (!b->path[0])
		return false;
	if (open_spool(b, err, sizeof(err)) == 0)
		return true;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	b->st.io_errors++;
	WLOG(LL_ERR, "%s: %s", b->who, err);
	return false;
}

static int spool_append(struct backlog *b, const void *data, size_t len)
{
	uint8_t rh[REC_HDR];

	if (b->end + REC_HDR + len > b->spool_max && b->rd > SPOOL_HDR)
		rewrite_spool(b, NULL); /* compaction: drop the consumed records */
	if (b->end + REC_HDR + len > b->spool_max)
		return -1;
	put_u32(rh, (uint32_t)len);
	put_u32(rh + 4, backlog_sum(data, len));
	if (pwrite_full(b->fd, rh, REC_HDR, b->end) < 0 ||
	    pwrite_full(b->fd, data, len, b->end + REC_HDR) < 0) {
		b->st.io_errors++;
		if (ftruncate(b->fd, (off_t)b->end) < 0)
			b->st.io_errors++;
		return -1;
	}
	b->end += REC_HDR + len;
	b->spool_items++;
	b->dirty = true;
	return 0;
}

int backlog_push(struct backlog *b, const void *data, size_t len)
{
	b->st.pushed++;
	if (len > BACKLOG_ITEM_MAX)
		goto drop;
	if (b->spool_items == 0 && b->mem_bytes + len <= b->mem_max) {
		struct mitem *m = malloc(sizeof(*m) + len);
		if (m) {
			m->next = NULL;
			m->len = len;
			memcpy(m->data, data, len);
			if (b->tail)
				b->tail->next = m;
			else
				b->head = m;
			b->tail = m;
			b->mem_items++;
			b->mem_bytes += len;
			return 0;
		}
	}
	if (have_spool(b) && spool_append(b, data, len) == 0) {
		b->st.spooled++;
		return 0;
	}
drop:
	b->st.dropped++;
	WLOG(LL_ERR,
	     "%s: backlog full (memory %llu bytes, spool %s %llu bytes): a batch of %zu bytes is "
	     "dropped",
	     b->who, (unsigned long long)b->mem_max, b->path[0] ? b->path : "(none)",
	     (unsigned long long)b->spool_max, len);
	return -1;
}

int backlog_sync(struct backlog *b)
{
	if (!b->dirty)
		return 0;
	b->dirty = false;
	if (fdatasync(b->fd) < 0) {
		b->st.io_errors++;
		WLOG(LL_ERR, "%s: spool %s: fdatasync: %s", b->who, b->path, strerror(errno));
		return -1;
	}
	return 0;
}

int backlog_peek(struct backlog *b, const uint8_t **data, size_t *len)
{
	b->peeked = 0;
	if (b->head) {
		*data = b->head->data;
		*len = b->head->len;
		b->peeked = 1;
		return 1;
	}
	if (b->fd < 0 || b->rd >= b->end)
		return 0;
	long n = read_record(b, b->rd);
	if (n < 0) {
		/* Checked at open and written by us since: the file was damaged under us. */
		cut_tail(b, b->rd, "damaged record");
		b->spool_items = 0;
		b->st.io_errors++;
		return -1;
	}
	*data = b->buf;
	*len = (size_t)n;
	b->peek_len = (size_t)n;
	b->peeked = 2;
	return 1;
}

int backlog_pop(struct backlog *b)
{
	if (b->peeked == 1) {
		struct mitem *m = b->head;
		b->head = m->next;
		if (!b->head)
			b->tail = NULL;
		b->mem_items--;
		b->mem_bytes -= m->len;
		free(m);
	} else if (b->peeked == 2) {
		b->rd += REC_HDR + b->peek_len;
		b->spool_items--;
		if (b->rd >= b->end) {
			b->rd = b->end = SPOOL_HDR;
			if (ftruncate(b->fd, (off_t)SPOOL_HDR) < 0)
				b->st.io_errors++;
		}
		if (write_header(b->fd, b->rd) < 0 || fdatasync(b->fd) < 0) {
			b->st.io_errors++;
			b->peeked = 0;
			return -1;
		}
	} else {
		return -1;
	}
	b->peeked = 0;
	b->st.popped++;
	return 0;
}

size_t backlog_items(const struct backlog *b)
{
	return (size_t)(b->mem_items + b->spool_items);
}

void backlog_get_stats(const struct backlog *b, struct backlog_stats *st)
{
	*st = b->st;
	st->items = b->mem_items + b->spool_items;
	st->mem_bytes = b->mem_bytes;
	st->spool_bytes = b->fd >= 0 ? b->end - b->rd : 0;
}

int backlog_close(struct backlog *b)
{
	int rc = 0;

	if (!b)
		return 0;
	if (b->head) {
		if (!have_spool(b) || rewrite_spool(b, b->head) < 0) {
			WLOG(LL_ERR, "%s: %llu batches in memory could not be spooled: lost",
			     b->who, (unsigned long long)b->mem_items);
			b->st.dropped += b->mem_items;
			rc = -1;
		}
	}
	for (struct mitem *m = b->head, *n; m; m = n) {
		n = m->next;
		free(m);
	}
	if (b->fd >= 0) {
		if (backlog_sync(b) < 0)
			rc = -1;
		close(b->fd);
	}
	free(b->buf);
	free(b);
	return rc;
}
