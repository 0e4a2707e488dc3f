/* filter.c - libpcap BPF programs run on a frame synthesized from a flow record. */
#include "enrich/filter.h"

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX 128

struct flow_filter {
	struct bpf_program prog;
};

struct flow_filter *flow_filter_compile(const char *expr, char *err, size_t errlen)
{
	struct flow_filter *ff = calloc(1, sizeof(*ff));
	pcap_t *p = pcap_open_dead(DLT_EN10MB, FRAME_MAX);

	if (!ff || !p) {
		snprintf(err, errlen, "out of memory");
		free(ff);
		if (p)
			pcap_close(p);
		return NULL;
	}
	if (pcap_compile(p, &ff->prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "filter '%.128s': %s", expr, pcap_geterr(p));
		pcap_close(p);
		free(ff);
		return NULL;
	}
	pcap_close(p);
	return ff;
}

void flow_filter_free(struct flow_filter *ff)
{
	if (!ff)
		return;
	pcap_freecode(&ff->prog);
	free(ff);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The transport header: ports and flags, as far as the record knows them. */
static size_t put_l4(uint8_t *p, const struct flow *f)
{
	switch (f->proto) {
	case 6:
		memset(p, 0, 20);
		put16(p, f->src_port);
		put16(p + 2, f->dst_port);
		p[12] = 5 << 4;
		p[13] = f->tcp_flags;
		return 20;
	case 17:
	case 132:
		memset(p, 0, 8);
		put16(p, f->src_port);
		put16(p + 2, f->dst_port);
		put16(p + 4, 8);
		return 8;
	case 1:
	case 58: {
		/* NetFlow carries ICMP type/code in the destination port when there is no IE 32. */
		uint16_t tc = FLOW_HAS(f, FF_ICMP) ? f->icmp : f->dst_port;
		memset(p, 0, 8);
		p[0] = (uint8_t)(tc >> 8);
		p[1] = (uint8_t)tc;
		return 8;
	}
	default:
		return 0;
	}
}

static size_t synth(uint8_t *b, const struct flow *f)
{
	size_t n = 12;
	bool v6 = f->ip_version == 6 ||
	          (f->ip_version == 0 && FLOW_HAS(f, FF_SRC_ADDR) && !wip_is_v4(&f->src));

	memcpy(b, f->dst_mac, 6);
	memcpy(b + 6, f->src_mac, 6);
	if (FLOW_HAS(f, FF_VLAN) && f->vlan) {
		put16(b + n, 0x8100);
		put16(b + n + 2, f->vlan & 0x0fff);
		n += 4;
	}
	put16(b + n, v6 ? 0x86dd : 0x0800);
	n += 2;
	uint8_t *ip = b + n;
	size_t l4 = put_l4(ip + (v6 ? 40 : 20), f);
	if (v6) {
		memset(ip, 0, 40);
		ip[0] = (uint8_t)(0x60 | f->tos >> 4);
		ip[1] = (uint8_t)(f->tos << 4);
		put16(ip + 4, (uint16_t)l4);
		ip[6] = f->proto;
		ip[7] = 64;
		memcpy(ip + 8, f->src.a, 16);
		memcpy(ip + 24, f->dst.a, 16);
		return n + 40 + l4;
	}
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[1] = f->tos;
	put16(ip + 2, (uint16_t)(20 + l4));
	ip[8] = 64;
	ip[9] = f->proto;
	memcpy(ip + 12, f->src.a + 12, 4);
	memcpy(ip + 16, f->dst.a + 12, 4);
	return n + 20 + l4;
}

bool flow_filter_match(const struct flow_filter *ff, const struct flow *f)
{
	uint8_t frame[FRAME_MAX];
	size_t len = synth(frame, f);

	return bpf_filter(ff->prog.bf_insns, frame, (u_int)len, (u_int)len) != 0;
}
