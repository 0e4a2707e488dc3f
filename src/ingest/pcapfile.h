/* pcapfile.h - UDP datagrams read out of a pcap/pcapng savefile (weir decode, replay). */
#ifndef WEIR_PCAPFILE_H
#define WEIR_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/flow.h"

/* An IPv4 or IPv6 fragment (FRAME_FRAGMENT): what reassembly needs. */
struct pcap_frag {
	const uint8_t *data; /* the fragment's part of the IP payload */
	size_t len;
	uint32_t offset; /* in bytes */
	uint32_t id;     /* IPv4 identification / IPv6 fragment header identification */
	uint8_t proto;   /* IPv4 protocol / IPv6 next header after the fragment header */
	bool more;       /* more fragments follow */
	bool v6;
};

/* One UDP datagram of a captured frame. payload points into libpcap's buffer or the reassembly
 * buffer: read only, valid until the next pcapfile_next() call. */
struct pcap_udp {
	struct wip src; /* IP source: the exporter */
	struct wip dst;
	uint16_t src_port;
	uint16_t dst_port;
	const uint8_t *payload;
	size_t len;
	uint64_t ts_ms;        /* capture time, ms since the epoch */
	struct pcap_frag frag; /* filled when pcap_frame_udp() returns FRAME_FRAGMENT */
};

/* What pcap_frame_udp() found in a frame. */
enum frame_kind {
	FRAME_UDP = 0,   /* a complete UDP datagram */
	FRAME_OTHER,     /* well formed but not UDP over IP (ARP, TCP, ICMP, ...) */
	FRAME_FRAGMENT,  /* an IPv4/IPv6 fragment: out->frag says which part of what */
	FRAME_MALFORMED, /* truncated or inconsistent headers, or cut short by the snap length */
};

struct pcapfile_stats {
	uint64_t frames;
	uint64_t udp;          /* datagrams returned */
	uint64_t filtered;     /* UDP datagrams to another port than the filter */
	uint64_t other;        /* FRAME_OTHER */
	uint64_t fragments;    /* fragment frames */
	uint64_t reassembled;  /* datagrams rebuilt from fragments (also counted in udp) */
	uint64_t frag_dropped; /* datagrams whose fragments never completed or overlapped */
	uint64_t malformed;    /* FRAME_MALFORMED */
};

struct pcapfile;

/*
 * Opens a pcap or pcapng file ("-" = stdin). Link types: EN10MB (802.1Q/802.1ad tags), LINUX_SLL,
 * LINUX_SLL2, NULL, LOOP, RAW, IPV4, IPV6. dst_port != 0 keeps only datagrams to that UDP port.
 * IPv4 and IPv6 fragments are reassembled (a few datagrams at a time, 30 s of capture time each;
 * overlapping fragments drop the datagram, exact duplicates are ignored). Returns NULL with a
 * message in err when the file cannot be read or its link type is unknown.
 */
struct pcapfile *pcapfile_open(const char *path, uint16_t dst_port, char *err, size_t errlen);

/* Next UDP datagram: 1 = *out filled, 0 = end of file, -1 = read error (message in err). */
int pcapfile_next(struct pcapfile *pf, struct pcap_udp *out, char *err, size_t errlen);

const struct pcapfile_stats *pcapfile_stats(const struct pcapfile *pf);
void pcapfile_close(struct pcapfile *pf);

/*
 * Parses one captured frame of libpcap link type dlt (DLT_* value). Bounds-checked: never reads
 * past p + caplen. Fills *out (all but ts_ms) when it returns FRAME_UDP.
 */
enum frame_kind pcap_frame_udp(int dlt, const uint8_t *p, size_t caplen, struct pcap_udp *out);

/* True when libpcap link type dlt is one pcap_frame_udp() understands. */
bool pcap_dlt_supported(int dlt);

#endif
