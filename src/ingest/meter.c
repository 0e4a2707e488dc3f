/* meter.c - captured packets into flows: a bounded hash cache with LRU expiry (what pmacctd does).
 */
#include "ingest/meter.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/log.h"

#define NIL      UINT32_MAX
#define TCP_FIN  0x01
#define TCP_RST  0x04
#define LOAD_MAX 2 /* index slots per entry: keeps probe chains short */

/* The flow key, packed and zero-padded so that it hashes and compares as bytes. */
struct mkey {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport; /* ICMP: 0 */
	uint16_t dport; /* ICMP: type << 8 | code */
	uint16_t vlan;
	uint8_t proto;
	uint8_t tos;
	uint8_t ipv;
	uint8_t has_vlan;
	uint8_t pad[6];
};

struct mentry {
	struct mkey k;
	uint32_t hash;
	uint32_t prev, next; /* LRU list by last packet (head = idlest); next chains free ones */
	uint64_t first_ms, last_ms;
	uint64_t bytes, packets;
	uint8_t tcp_flags;
	uint8_t mpls_depth;
	uint8_t src_mac[6], dst_mac[6];
	uint8_t has_mac;
	uint32_t mpls[FLOW_MPLS_MAX];
};

struct meter {
	struct meter_conf c;
	struct mentry *e;
	uint32_t *slot; /* open addressing: entry index + 1, 0 = empty */
	uint32_t mask;
	uint32_t free_head;
	uint32_t head, tail;
	uint64_t seed;
	struct meter_stats st;
	struct flow_batch *batch;
	void (*emit)(void *arg, struct flow_batch *b);
	void *emit_arg;
};

enum why { WHY_TCP, WHY_ACTIVE, WHY_INACTIVE, WHY_EVICT };

struct meter *meter_new(const struct meter_conf *c)
{
	struct meter *m = calloc(1, sizeof(*m));
	uint32_t n = 16;

	if (!m)
		return NULL;
	m->c = *c;
	if (!m->c.max_entries)
		m->c.max_entries = 1;
	while (n < (uint64_t)m->c.max_entries * LOAD_MAX && n < (1u << 30))
		n <<= 1;
	m->mask = n - 1;
	m->slot = calloc(n, sizeof(*m->slot));
	m->e = calloc(m->c.max_entries, sizeof(*m->e));
	if (!m->slot || !m->e) {
		meter_free(m);
		return NULL;
	}
	for (uint32_t i = 0; i < m->c.max_entries; i++)
		m->e[i].next = i + 1 < m->c.max_entries ? i + 1 : NIL;
	m->free_head = 0;
	m->head = m->tail = NIL;
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed))
		m->seed = (uint64_t)(uintptr_t)m ^ mono_ms();
	return m;
}

void meter_free(struct meter *m)
{
	if (!m)
		return;
	free(m->slot);
	free(m->e);
	free(m);
}

void meter_set_output(struct meter *m, struct flow_batch *batch,
                      void (*emit)(void *arg, struct flow_batch *b), void *arg)
{
	m->batch = batch;
	m->emit = emit;
	m->emit_arg = arg;
}

const struct meter_stats *meter_stats(const struct meter *m)
{
	return &m->st;
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static uint32_t key_hash(const struct meter *m, const struct mkey *k)
{
	uint64_t w[sizeof(*k) / 8], h = m->seed;
	_Static_assert(sizeof(struct mkey) % 8 == 0, "mkey hashes as whole words");
	memcpy(w, k, sizeof(w));
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		h = mix64(h ^ w[i]);
	return (uint32_t)(h ^ h >> 32);
}

/* --- LRU list --- */

static void lru_unlink(struct meter *m, uint32_t i)
{
	struct mentry *e = &m->e[i];
	if (e->prev != NIL)
		m->e[e->prev].next = e->next;
	else
		m->head = e->next;
	if (e->next != NIL)
		m->e[e->next].prev = e->prev;
	else
		m->tail = e->prev;
}

static void lru_append(struct meter *m, uint32_t i)
{
	m->e[i].prev = m->tail;
	m->e[i].next = NIL;
	if (m->tail != NIL)
		m->e[m->tail].next = i;
	else
		m->head = i;
	m->tail = i;
}

/* --- the index: linear probing with backward-shift deletion --- */

static uint32_t slot_find(const struct meter *m, const struct mkey *k, uint32_t h, uint32_t *pos)
{
	for (uint32_t s = h & m->mask;; s = (s + 1) & m->mask) {
		uint32_t v = m->slot[s];
		if (!v) {
			*pos = s;
			return NIL;
		}
		if (m->e[v - 1].hash == h && !memcmp(&m->e[v - 1].k, k, sizeof(*k))) {
			*pos = s;
			return v - 1;
		}
	}
}

static void slot_delete(struct meter *m, uint32_t idx)
{
	uint32_t i = m->e[idx].hash & m->mask, j;

	while (m->slot[i] != idx + 1)
		i = (i + 1) & m->mask;
	m->slot[i] = 0;
	for (j = (i + 1) & m->mask; m->slot[j]; j = (j + 1) & m->mask) {
		uint32_t home = m->e[m->slot[j] - 1].hash & m->mask;
		/* the entry at j may move to the hole at i unless its home lies in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			m->slot[i] = m->slot[j];
			m->slot[j] = 0;
			i = j;
		}
	}
}

/* --- export --- */

static void entry_to_flow(const struct meter *m, const struct mentry *e, uint64_t now,
                          struct flow *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->src.a, e->k.src, 16);
	memcpy(f->dst.a, e->k.dst, 16);
	f->ip_version = e->k.ipv;
	f->proto = e->k.proto;
	f->tos = e->k.tos;
	f->bytes = e->bytes;
	f->packets = e->packets;
	f->flows = 1;
	f->first_ms = e->first_ms;
	f->last_ms = e->last_ms;
	f->arrival_ms = now;
	f->present = (UINT64_C(1) << FF_SRC_ADDR) | (UINT64_C(1) << FF_DST_ADDR) |
	             (UINT64_C(1) << FF_PROTO) | (UINT64_C(1) << FF_TOS) |
	             (UINT64_C(1) << FF_BYTES) | (UINT64_C(1) << FF_PACKETS) |
	             (UINT64_C(1) << FF_FIRST) | (UINT64_C(1) << FF_LAST);
	if (e->k.proto == 1 || e->k.proto == 58) {
		f->icmp = e->k.dport;
		FLOW_SET(f, FF_ICMP);
	} else if (e->k.sport || e->k.dport || e->k.proto == 6 || e->k.proto == 17) {
		f->src_port = e->k.sport;
		f->dst_port = e->k.dport;
		FLOW_SET(f, FF_SRC_PORT);
		FLOW_SET(f, FF_DST_PORT);
	}
	if (e->k.proto == 6) {
		f->tcp_flags = e->tcp_flags;
		FLOW_SET(f, FF_TCP_FLAGS);
	}
	if (e->k.has_vlan) {
		f->vlan = e->k.vlan;
		FLOW_SET(f, FF_VLAN);
	}
	if (e->has_mac) {
		memcpy(f->src_mac, e->src_mac, 6);
		memcpy(f->dst_mac, e->dst_mac, 6);
		FLOW_SET(f, FF_SRC_MAC);
		FLOW_SET(f, FF_DST_MAC);
	}
	if (e->mpls_depth) {
		f->mpls_depth = e->mpls_depth;
		memcpy(f->mpls, e->mpls, sizeof(f->mpls));
		FLOW_SET(f, FF_MPLS);
	}
	if (m->c.in_if) {
		f->in_if = m->c.in_if;
		FLOW_SET(f, FF_IN_IF);
	}
}

/* Hands the flow on and returns its entry to the free list. */
static void export_entry(struct meter *m, uint32_t idx, enum why why, uint64_t now)
{
	uint64_t *const reason[] = {&m->st.ended_tcp, &m->st.active, &m->st.inactive,
	                            &m->st.evicted};

	if (m->batch->n >= FLOW_BATCH_MAX)
		m->emit(m->emit_arg, m->batch);
	entry_to_flow(m, &m->e[idx], now, &m->batch->rec[m->batch->n++]);
	(*reason[why])++;
	m->st.exported++;
	slot_delete(m, idx);
	lru_unlink(m, idx);
	m->e[idx].next = m->free_head;
	m->free_head = idx;
	m->st.in_use--;
}

/* A new entry for k at index position pos (from slot_find); the cache evicts when full. */
static uint32_t entry_new(struct meter *m, const struct mkey *k, uint32_t h, uint32_t pos,
                          uint64_t ts)
{
	uint32_t idx;

	if (m->free_head == NIL) {
		export_entry(m, m->head, WHY_EVICT, ts);
		slot_find(m, k, h, &pos); /* the deletion may have moved the empty slot */
	}
	idx = m->free_head;
	m->free_head = m->e[idx].next;
	memset(&m->e[idx], 0, sizeof(m->e[idx]));
	m->e[idx].k = *k;
	m->e[idx].hash = h;
	m->e[idx].first_ms = ts;
	m->e[idx].last_ms = ts;
	m->slot[pos] = idx + 1;
	lru_append(m, idx);
	m->st.in_use++;
	m->st.flows++;
	return idx;
}

static void key_of(const struct pkt_info *pi, struct mkey *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, pi->src.a, 16);
	memcpy(k->dst, pi->dst.a, 16);
	k->proto = pi->proto;
	k->tos = pi->tos;
	k->ipv = pi->ip_version;
	if (pi->have & PKT_HAVE_VLAN) {
		k->vlan = pi->vlan;
		k->has_vlan = 1;
	}
	if (pi->have & PKT_HAVE_ICMP) {
		k->dport = pi->icmp;
	} else if (pi->have & PKT_HAVE_PORTS) {
		k->sport = pi->src_port;
		k->dport = pi->dst_port;
	}
}

/* IP bytes of the packet: its header's length, or what the wire had past the L2 headers. */
static uint64_t ip_bytes(const struct pkt_info *pi, uint32_t wire_len)
{
	if (pi->ip_len)
		return pi->ip_len;
	return wire_len > pi->l3_off ? wire_len - pi->l3_off : 0;
}

static void entry_update(struct mentry *e, const struct pkt_info *pi, uint64_t bytes, uint64_t ts)
{
	e->bytes += bytes;
	e->packets++;
	if (ts > e->last_ms)
		e->last_ms = ts;
	e->tcp_flags |= pi->tcp_flags;
	if (!e->has_mac && (pi->have & PKT_HAVE_ETH)) {
		memcpy(e->src_mac, pi->src_mac, 6);
		memcpy(e->dst_mac, pi->dst_mac, 6);
		e->has_mac = 1;
	}
	if (!e->mpls_depth && pi->mpls_depth) {
		e->mpls_depth = pi->mpls_depth;
		memcpy(e->mpls, pi->mpls, sizeof(e->mpls));
	}
}

void meter_packet(struct meter *m, const uint8_t *p, size_t caplen, uint32_t wire_len,
                  enum pkt_link link, uint64_t ts_ms)
{
	struct pkt_info pi;

	if (caplen == 0 || wire_len == 0) {
		m->st.malformed++;
		return;
	}
	pkt_parse(p, caplen, link, &pi);
	meter_parsed(m, &pi, wire_len, ts_ms);
}

void meter_parsed(struct meter *m, const struct pkt_info *pi, uint32_t wire_len, uint64_t ts_ms)
{
	struct mkey k;
	uint32_t h, pos, idx;
	uint64_t bytes;

	if (wire_len == 0) {
		m->st.malformed++;
		return;
	}
	if (!(pi->have & PKT_HAVE_IP)) {
		if (pi->stop == PKT_NOT_IP)
			m->st.not_ip++;
		else
			m->st.malformed++;
		return;
	}
	key_of(pi, &k);
	bytes = ip_bytes(pi, wire_len);
	h = key_hash(m, &k);
	idx = slot_find(m, &k, h, &pos);
	if (idx != NIL && ts_ms >= m->e[idx].first_ms + m->c.active_ms) {
		export_entry(m, idx, WHY_ACTIVE, ts_ms);
		idx = slot_find(m, &k, h, &pos);
	}
	if (idx == NIL)
		idx = entry_new(m, &k, h, pos, ts_ms);
	else {
		lru_unlink(m, idx);
		lru_append(m, idx);
	}
	entry_update(&m->e[idx], pi, bytes, ts_ms);
	m->st.packets++;
	m->st.bytes += bytes;
	if (pi->proto == 6 && (pi->tcp_flags & (TCP_FIN | TCP_RST)))
		export_entry(m, idx, WHY_TCP, ts_ms);
}

void meter_expire(struct meter *m, uint64_t now_ms)
{
	while (m->head != NIL && m->e[m->head].last_ms + m->c.inactive_ms <= now_ms)
		export_entry(m, m->head, WHY_INACTIVE, now_ms);
}

void meter_flush(struct meter *m, uint64_t now_ms)
{
	while (m->head != NIL)
		export_entry(m, m->head, WHY_INACTIVE, now_ms);
}

void meter_stats_print(const struct meter *m, FILE *out)
{
	const struct meter_stats *s = &m->st;
	fprintf(out,
	        "meter: %llu packets %llu bytes metered, %llu not IP, %llu malformed; flows: %llu "
	        "created, %u in cache, %llu exported (%llu tcp fin/rst, %llu active, %llu "
	        "inactive, %llu evicted)\n",
	        (unsigned long long)s->packets, (unsigned long long)s->bytes,
	        (unsigned long long)s->not_ip, (unsigned long long)s->malformed,
	        (unsigned long long)s->flows, s->in_use, (unsigned long long)s->exported,
	        (unsigned long long)s->ended_tcp, (unsigned long long)s->active,
	        (unsigned long long)s->inactive, (unsigned long long)s->evicted);
}
