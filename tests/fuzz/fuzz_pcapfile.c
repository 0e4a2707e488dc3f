/* fuzz_pcapfile.c - libFuzzer target: any bytes as a pcap/pcapng savefile and as one frame. */
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ingest/pcapfile.h"

#define FILTER_DEFAULT 2055

/* Every datagram of the file at path, each payload read to its last byte so that ASan sees any
 * pointer past its buffer. Returns the datagrams read; *st gets the module's counters. */
static uint64_t drain(const char *path, uint16_t port, struct pcapfile_stats *st,
                      uint16_t *first_port)
{
	char err[256] = "";
	struct pcap_udp u;
	struct pcapfile *pf;
	uint64_t n = 0;
	uint8_t x = 0;
	int rc;

	pf = pcapfile_open(path, port, err, sizeof(err));
	if (!pf) {
		if (!err[0])
			abort();
		return 0;
	}
	while ((rc = pcapfile_next(pf, &u, err, sizeof(err))) == 1) {
		if (u.len > 65535 || (port && u.dst_port != port) || (u.len && !u.payload))
			abort();
		for (size_t i = 0; i < u.len; i++)
			x ^= u.payload[i];
		if (n++ == 0 && first_port)
			*first_port = u.dst_port;
	}
	__asm__ volatile("" : : "r"(x)); /* keep the reads */
	*st = *pcapfile_stats(pf);
	pcapfile_close(pf);
	/* Each frame ends in one counter, or in fragments; each rebuilt whole in one more. */
	if (st->udp != n || st->reassembled > st->fragments || st->frag_dropped > st->fragments ||
	    st->udp + st->filtered + st->other + st->malformed !=
	        st->frames - st->fragments + st->reassembled)
		abort();
	return n;
}

/* The same bytes as one captured frame of every link type: results stay inside the frame. */
static void frame_all_dlts(const uint8_t *data, size_t size)
{
	static const int dlts[] = {DLT_NULL,      DLT_EN10MB,     DLT_RAW,  DLT_LOOP,
	                           DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_IPV4, DLT_IPV6};
	const uint8_t *end = data + size;
	struct pcap_udp u;

	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		switch (pcap_frame_udp(dlts[i], data, size, &u)) {
		case FRAME_UDP:
			if (u.payload < data || u.len > (size_t)(end - u.payload))
				abort();
			break;
		case FRAME_FRAGMENT:
			if (u.frag.data < data || u.frag.len > (size_t)(end - u.frag.data))
				abort();
			break;
		default:
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1; /* one in-memory file, rewritten for every input */
	static char path[64];
	struct pcapfile_stats all = {0}, some = {0};
	uint16_t port = FILTER_DEFAULT;
	uint64_t n;

	if (fd < 0) {
		fd = memfd_create("fuzz_pcapfile", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();

	n = drain(path, 0, &all, &port);
	/* The port filter only sorts datagrams between returned and filtered. */
	drain(path, port, &some, NULL);
	if (some.frames != all.frames || some.udp + some.filtered != n ||
	    some.reassembled != all.reassembled || some.frag_dropped != all.frag_dropped)
		abort();

	frame_all_dlts(data, size);
	return 0;
}
