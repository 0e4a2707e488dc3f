/* pick.h - what the relay reads of a datagram (protocol, template sets) and how it hashes. */
#ifndef WEIR_RELAY_PICK_H
#define WEIR_RELAY_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

/* The export protocol of a datagram as an RP_* bit (rcvfile.h); RP_OTHER when unknown. */
uint32_t relay_proto_of(const uint8_t *p, size_t len);

/* What the sets of a NetFlow v9 / IPFIX datagram hold. */
enum relay_sets {
	RS_TEMPLATES = 1u << 0, /* (options) template sets */
	RS_DATA = 1u << 1,      /* data sets, or anything that is not a template */
};

/* RS_* bits; 0 for other protocols and for datagrams whose sets do not parse. */
unsigned relay_sets_of(const uint8_t *p, size_t len);

/*
 * Writes into out (cap bytes) a copy of datagram p that holds only its header and its
 * (options) template sets, with the header's length (IPFIX) or record count (v9) fixed. p is
 * only read. Returns the copy's length, 0 when p has no template set or out is too small.
 */
size_t relay_templates_copy(const uint8_t *p, size_t len, uint8_t *out, size_t cap);

/*
 * The agent address of an sFlow v5 datagram (sFlow v5 §5: version, address type 1 = IPv4 or
 * 2 = IPv6, address): what sfacctd's pre_tag_map ip= compares. false when p is not one.
 */
bool relay_sflow_agent(const uint8_t *p, size_t len, struct wip *agent);

/* Seeded 64-bit hash of an exporter address (the same for IPv4 and its mapped form). */
uint64_t relay_hash_addr(const struct wip *a);

/* Rendezvous score of an exporter hash for a receiver key: the highest score wins. */
static inline uint64_t relay_score(uint64_t agent, uint64_t rcv_key)
{
	/* splitmix64 finalizer: cheap, and every input bit reaches every output bit. */
	uint64_t z = agent ^ rcv_key;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Hash of a pre_tag_map tag (balance-alg=hash-tag when its receiver is down). */
uint64_t relay_hash_tag(uint64_t tag);

/* Key of a receiver for relay_score(), from its address text ("127.0.0.1:2100"). */
uint64_t relay_rcv_key(const char *text);

#endif
