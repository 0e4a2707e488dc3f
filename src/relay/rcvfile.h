/* rcvfile.h - pmacct's tee_receivers file: pools of receivers, with weir's extra keys. */
#ifndef WEIR_RELAY_RCVFILE_H
#define WEIR_RELAY_RCVFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct allow_list;

/* How a pool picks one of its receivers for a datagram. */
enum relay_balance {
	RB_HASH_AGENT = 0, /* rendezvous hash of the exporter address (consistent) */
	RB_RR,             /* round robin; templates go to every receiver */
	RB_DST_PORT,       /* the receiver that owns the port the datagram arrived on */
	RB_ALL,            /* every receiver gets every datagram (pmacct without balance-alg) */
	RB_HASH_TAG,       /* the datagram's pre_tag_map tag: tag % receivers, as pmacct */
};

/* Export protocols a pool may be limited to (version=). */
enum relay_proto {
	RP_V5 = 1u << 0,
	RP_V9 = 1u << 1,
	RP_IPFIX = 1u << 2,
	RP_SFLOW = 1u << 3,
	RP_OTHER = 1u << 4,
};

struct relay_rcv_def {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80];    /* "127.0.0.1:2100", "[::1]:2100" */
	uint16_t in_port; /* dst-port: arrival port it owns (ports=, else its own port) */
};

/* One item of tag=: a tag or lo-hi range; neg (`-N`) excludes it (pmacct's pretag_filter). */
struct relay_tag_item {
	uint64_t lo, hi;
	bool neg;
};

#define RELAY_MAX_TAG_ITEMS 64

struct relay_pool_def {
	uint32_t id;
	unsigned line;
	enum relay_balance bal;
	size_t n_rcv;
	struct relay_rcv_def *rcv;
	struct allow_list *exporters; /* exporter=: only these sources; NULL = all */
	uint32_t protos;              /* version=: RP_* bits; 0 = all */
	uint32_t sample;              /* sample=N: 1 datagram in N (templates always pass) */
	uint16_t src_port;            /* src_port=: local port when not transparent */
	uint16_t healthz_port;        /* healthz=PORT[/path]: HTTP probe of each receiver */
	char healthz_path[64];
	size_t n_tags; /* tag=: the pool takes only datagrams whose tag passes; 0 = all */
	struct relay_tag_item *tags;
};

struct relay_rcvfile {
	size_t n;
	struct relay_pool_def *pools;
};

struct relay_rcvfile_opts {
	uint32_t max_pools;     /* 0 = 128 */
	uint32_t max_receivers; /* per pool; 0 = 32 */
	bool numeric_only;      /* never resolve names (fuzzing) */
};

/*
 * Parses a receivers file held in memory. Lines hold key=value words separated by blanks;
 * `!` and `#` start comments. Required: id (unique, > 0) and ip (comma list of host:port,
 * [v6]:port). Returns 0, or -1 with "name:line: message" in err; out is then empty.
 */
int relay_rcvfile_parse(const char *name, const char *text, size_t len,
                        const struct relay_rcvfile_opts *o, struct relay_rcvfile *out, char *err,
                        size_t errlen);

/* Reads path and parses it; "path: strerror" when it cannot be read. */
int relay_rcvfile_load(const char *path, const struct relay_rcvfile_opts *o,
                       struct relay_rcvfile *out, char *err, size_t errlen);

void relay_rcvfile_free(struct relay_rcvfile *f);

const char *relay_balance_name(enum relay_balance b);

/*
 * Whether a datagram tagged `tag` passes the pool's tag= list, as pmacct's tee: items are tried
 * in order; one that holds the tag decides (taken, or refused when negated); a negated one that
 * does not hold it takes the datagram; none deciding refuses it. No list takes everything.
 */
bool relay_tags_pass(const struct relay_pool_def *p, uint64_t tag);

/* Whether the pool needs datagram tags (tag= or balance-alg=hash-tag). */
static inline bool relay_pool_needs_tags(const struct relay_pool_def *p)
{
	return p->n_tags || p->bal == RB_HASH_TAG;
}

#endif
