/* gen_fields.c - the record layout v9 and IPFIX share: template fields and their writer. */
#include <string.h>

#include "cmd/gen.h"

/* NetFlow v9 field type numbers equal the IPFIX information element ids used here. */
const struct gen_field gen_body_v4[GEN_BODY_FIELDS] = {
    {8, 4},  /* sourceIPv4Address */
    {12, 4}, /* destinationIPv4Address */
    {15, 4}, /* ipNextHopIPv4Address */
    {7, 2},  /* sourceTransportPort */
    {11, 2}, /* destinationTransportPort */
    {4, 1},  /* protocolIdentifier */
    {5, 1},  /* ipClassOfService */
    {6, 1},  /* tcpControlBits (reduced size) */
    {9, 1},  /* sourceIPv4PrefixLength */
    {13, 1}, /* destinationIPv4PrefixLength */
    {10, 4}, /* ingressInterface */
    {14, 4}, /* egressInterface */
    {16, 4}, /* bgpSourceAsNumber */
    {17, 4}, /* bgpDestinationAsNumber */
    {1, 8},  /* octetDeltaCount */
    {2, 4},  /* packetDeltaCount (reduced size) */
};

const struct gen_field gen_body_v6[GEN_BODY_FIELDS] = {
    {27, 16}, /* sourceIPv6Address */
    {28, 16}, /* destinationIPv6Address */
    {62, 16}, /* ipNextHopIPv6Address */
    {7, 2},   /* sourceTransportPort */
    {11, 2},  /* destinationTransportPort */
    {4, 1},   /* protocolIdentifier */
    {5, 1},   /* ipClassOfService */
    {6, 1},   /* tcpControlBits (reduced size) */
    {29, 1},  /* sourceIPv6PrefixLength */
    {30, 1},  /* destinationIPv6PrefixLength */
    {10, 4},  /* ingressInterface */
    {14, 4},  /* egressInterface */
    {16, 4},  /* bgpSourceAsNumber */
    {17, 4},  /* bgpDestinationAsNumber */
    {1, 8},   /* octetDeltaCount */
    {2, 4},   /* packetDeltaCount (reduced size) */
};

/* Must follow gen_body_v4/v6 field for field: the tests check the lengths against them. */
uint8_t *gen_put_body(uint8_t *p, const struct gen_rec *r)
{
	size_t alen = r->v6 ? 16 : 4;

	memcpy(p, r->src, alen);
	memcpy(p + alen, r->dst, alen);
	memcpy(p + 2 * alen, r->nexthop, alen);
	p += 3 * alen;
	p = gen_put16(p, r->src_port);
	p = gen_put16(p, r->dst_port);
	p = gen_put8(p, r->proto);
	p = gen_put8(p, r->tos);
	p = gen_put8(p, r->tcp_flags);
	p = gen_put8(p, r->src_mask);
	p = gen_put8(p, r->dst_mask);
	p = gen_put32(p, r->in_if);
	p = gen_put32(p, r->out_if);
	p = gen_put32(p, r->src_as);
	p = gen_put32(p, r->dst_as);
	p = gen_put64(p, r->bytes);
	return gen_put32(p, r->packets);
}

uint8_t *gen_put_template(uint8_t *p, uint16_t id, const struct gen_field *body,
                          const struct gen_field *tail, size_t ntail)
{
	p = gen_put16(p, id);
	p = gen_put16(p, (uint16_t)(GEN_BODY_FIELDS + ntail));
	for (size_t i = 0; i < GEN_BODY_FIELDS; i++) {
		p = gen_put16(p, body[i].id);
		p = gen_put16(p, body[i].len);
	}
	for (size_t i = 0; i < ntail; i++) {
		p = gen_put16(p, tail[i].id);
		p = gen_put16(p, tail[i].len);
	}
	return p;
}
