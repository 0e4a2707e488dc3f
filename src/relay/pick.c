/* pick.c - protocol and template-set detection on raw datagrams, and the relay's hashes. */
#include "relay/pick.h"

#include <string.h>

#include "lib/cursor.h"
#include "relay/rcvfile.h"

#define V9_HDR    20 /* RFC 3954 §5.1 */
#define IPFIX_HDR 16 /* RFC 7011 §3.1 */

uint32_t relay_proto_of(const uint8_t *p, size_t len)
{
	struct cursor c;
	uint16_t v;
	uint32_t v32;

	cur_init(&c, p, len);
	if (!cur_u16(&c, &v))
		return RP_OTHER;
	if (v == 5)
		return RP_V5;
	if (v == 9)
		return RP_V9;
	if (v == 10)
		return RP_IPFIX;
	cur_init(&c, p, len);
	/* sFlow v5 §5: the datagram starts with a 32-bit version. */
	if (cur_u32(&c, &v32) && v32 == 5)
		return RP_SFLOW;
	return RP_OTHER;
}

bool relay_sflow_agent(const uint8_t *p, size_t len, struct wip *agent)
{
	struct cursor c;
	uint32_t v, type, v4;
	uint8_t v6[16];

	cur_init(&c, p, len);
	if (!cur_u32(&c, &v) || v != 5 || !cur_u32(&c, &type))
		return false;
	if (type == 1 && cur_u32(&c, &v4)) {
		wip_from_v4(agent, v4);
		return true;
	}
	if (type == 2 && cur_bytes(&c, v6, sizeof(v6))) {
		wip_from_v6(agent, v6);
		return true;
	}
	return false;
}

static bool is_template_set(bool ipfix, uint16_t id)
{
	return ipfix ? id == 2 || id == 3 : id == 0 || id == 1;
}

/* Walks the sets after the header; calls back nothing, only classifies. */
unsigned relay_sets_of(const uint8_t *p, size_t len)
{
	uint32_t proto = relay_proto_of(p, len);
	bool ipfix = proto == RP_IPFIX;
	size_t hdr = ipfix ? IPFIX_HDR : V9_HDR;
	unsigned out = 0;
	struct cursor c;

	if (proto != RP_V9 && !ipfix)
		return 0;
	cur_init(&c, p, len);
	if (!cur_skip(&c, hdr))
		return 0;
	while (cur_left(&c) >= 4) {
		uint16_t id, slen;
		struct cursor set;
		if (!cur_u16(&c, &id) || !cur_u16(&c, &slen) || slen < 4 ||
		    !cur_sub(&c, slen - 4, &set))
			return 0;
		out |= is_template_set(ipfix, id) ? RS_TEMPLATES : RS_DATA;
	}
	return out;
}

/* RFC 3954 §5.2/§6.1: records in a v9 (options) template flowset, for the header count. */
static unsigned v9_template_records(uint16_t id, struct cursor set)
{
	unsigned n = 0;

	while (cur_left(&set) >= 4) {
		uint16_t tid, a, b;
		if (!cur_u16(&set, &tid) || !cur_u16(&set, &a))
			break;
		if (id == 0) {
			if (!cur_skip(&set, (size_t)a * 4))
				break;
		} else {
			if (!cur_u16(&set, &b) || !cur_skip(&set, (size_t)a + b))
				break;
		}
		n++;
		/* Option template flowsets end with padding shorter than a record. */
	}
	return n;
}

size_t relay_templates_copy(const uint8_t *p, size_t len, uint8_t *out, size_t cap)
{
	uint32_t proto = relay_proto_of(p, len);
	bool ipfix = proto == RP_IPFIX;
	size_t hdr = ipfix ? IPFIX_HDR : V9_HDR, n;
	unsigned records = 0;
	struct cursor c;

	if ((proto != RP_V9 && !ipfix) || len < hdr || cap < hdr)
		return 0;
	memcpy(out, p, hdr);
	n = hdr;
	cur_init(&c, p, len);
	cur_skip(&c, hdr);
	while (cur_left(&c) >= 4) {
		const uint8_t *start = c.p;
		uint16_t id, slen;
		struct cursor set;
		if (!cur_u16(&c, &id) || !cur_u16(&c, &slen) || slen < 4 ||
		    !cur_sub(&c, slen - 4, &set))
			return 0;
		if (!is_template_set(ipfix, id))
			continue;
		if (cap - n < slen)
			return 0;
		memcpy(out + n, start, slen);
		n += slen;
		if (!ipfix)
			records += v9_template_records(id, set);
	}
	if (n == hdr)
		return 0;
	if (ipfix) {
		if (n > UINT16_MAX)
			return 0;
		put_u16(out + 2, (uint16_t)n);
	} else {
		put_u16(out + 2, (uint16_t)(records > UINT16_MAX ? UINT16_MAX : records));
	}
	return n;
}

/* FNV-1a over the bytes, then the splitmix64 finalizer for the avalanche FNV lacks. */
static uint64_t hash_bytes(const uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return relay_score(h, 0);
}

uint64_t relay_hash_addr(const struct wip *a)
{
	return hash_bytes(a->a, sizeof(a->a), 0x77656972ULL);
}

uint64_t relay_hash_tag(uint64_t tag)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(tag >> (8 * i));
	return hash_bytes(b, sizeof(b), 0x746167ULL);
}

uint64_t relay_rcv_key(const char *text)
{
	return hash_bytes((const uint8_t *)text, strlen(text), 0x72656c6179ULL);
}
