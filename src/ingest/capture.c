/*
 * capture.c - pcap_interface / pcap_savefile: a capture thread that decodes the export datagrams
 * (NetFlow/IPFIX/sFlow to a listener port) it sees and meters every other packet into flows.
 */
#include "ingest/capture.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/plugin.h"
#include "conf/conf.h"
#include "ingest/ingest.h"
#include "ingest/meter.h"
#include "lib/cursor.h"
#include "lib/intern.h"
#include "lib/log.h"
#include "lib/prefix.h"
#include "weir/decoder.h"

#define CAP_BATCH       512  /* packets per pcap_dispatch() call */
#define CAP_POLL_MS     100  /* longest the live loop sleeps: ticks and stop stay prompt */
#define CAP_EXPIRE_MS   1000 /* flow cache expiry pass, in capture time */
#define CAP_SLEEP_MAX   200  /* recorded-speed replay sleeps in slices this long (ms) */
#define CAP_HOLD_END_MS (24u * 3600 * 1000) /* at end of file: past any hold time */

struct capture {
	const struct conf *c;
	struct plugin_set *ps;
	unsigned worker;
	pcap_t *pc;
	bool live;
	enum pkt_link link;
	int stop_fd;
	atomic_bool stop;
	bool started;
	pthread_t thr;
	struct meter *m;
	struct flow_batch *batch;
	uint64_t last_expire;
	uint64_t now;                  /* capture time of the newest packet (ms) */
	uint64_t first_ts, first_mono; /* recorded-speed replay: file and wall clock origins */
	_Atomic uint64_t frames, frame_bytes, kernel_drops, if_drops;
	/* export datagrams (weir_pcap_decode_exports); st NULL when off */
	struct decode_state *st;
	struct intern *intern;    /* AS path / community texts: the plugins' keys point into it */
	struct allow_list *allow; /* nfacctd_allow_file, as the listeners apply it; NULL = none */
	struct decode_ctx ctx;
	uint16_t ports[CONF_MAX_LISTEN]; /* the listeners' ports, host order */
	size_t n_ports;
	_Atomic uint64_t dgrams, dgram_bytes, partial;
	bool partial_warned;
	atomic_bool eof;
	char what[PATH_MAX + 32];
};

bool capture_wanted(const struct conf *c)
{
	return c->pcap_interface[0] || c->pcap_savefile[0];
}

static void cap_emit(void *arg, struct flow_batch *b)
{
	struct capture *cap = arg;
	plugin_push(cap->ps, cap->worker, b);
	b->n = 0;
}

/* --- export datagrams: NetFlow/IPFIX/sFlow sent to a listener port --- */

enum cap_udp capture_udp_payload(const uint8_t *p, size_t caplen, const struct pkt_info *pi,
                                 const uint8_t **payload, size_t *len)
{
	size_t off, ulen;

	if (!(pi->have & PKT_HAVE_PORTS) || pi->proto != 17 || pi->l3_off >= caplen)
		return CAP_UDP_NONE;
	/* a first fragment (later ones have no ports): the rest of the datagram is elsewhere */
	if (pi->fragment)
		return CAP_UDP_PARTIAL;
	off = pi->l4_off; /* the parser found the UDP header there (ports read) */
	if (!off)
		return CAP_UDP_NONE;
	if (off + 8 > caplen)
		return CAP_UDP_PARTIAL;
	ulen = get_u16(p + off + 4);
	if (ulen < 8 || (pi->ip_len && off + ulen > (size_t)pi->l3_off + pi->ip_len))
		return CAP_UDP_NONE; /* a UDP length the IP header contradicts (or a jumbogram) */
	if (off + ulen > caplen)
		return CAP_UDP_PARTIAL;
	*payload = p + off + 8;
	*len = ulen - 8;
	return CAP_UDP_WHOLE;
}

static bool listener_port(const struct capture *cap, uint16_t port)
{
	for (size_t i = 0; i < cap->n_ports; i++)
		if (cap->ports[i] == port)
			return true;
	return false;
}

static bool any_decoder(const uint8_t *p, size_t len)
{
	for (const struct decoder_ops *const *d = decoder_table; *d; d++)
		if ((*d)->probe(p, len))
			return true;
	return false;
}

/*
 * Decodes the frame when it is a whole export datagram to a listener port, as if the listener
 * had received it at the frame's capture time; false when it is to be metered.
 */
static bool decode_export(struct capture *cap, const uint8_t *p, size_t caplen,
                          const struct pkt_info *pi, uint64_t ts)
{
	const uint8_t *d = NULL;
	size_t len = 0;

	if (!(pi->have & PKT_HAVE_PORTS) || pi->proto != 17 || !listener_port(cap, pi->dst_port))
		return false;
	switch (capture_udp_payload(p, caplen, pi, &d, &len)) {
	case CAP_UDP_NONE:
		return false;
	case CAP_UDP_PARTIAL:
		atomic_fetch_add_explicit(&cap->partial, 1, memory_order_relaxed);
		if (!cap->partial_warned)
			WLOG(LL_WARN,
			     "capture %s: a datagram to listener port %u is fragmented or cut by "
			     "snaplen %u: metered, not decoded (raise snaplen)",
			     cap->what, pi->dst_port, cap->c->snaplen);
		cap->partial_warned = true;
		return false;
	case CAP_UDP_WHOLE:
		break;
	}
	if (!any_decoder(d, len))
		return false;
	cap->ctx.src = pi->src;
	cap->ctx.src_port = pi->src_port;
	cap->ctx.now_ms = ts;
	decode_datagram(&cap->ctx, d, len);
	atomic_fetch_add_explicit(&cap->dgrams, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cap->dgram_bytes, len, memory_order_relaxed);
	return true;
}

static int exports_open(struct capture *cap, char *err, size_t errlen)
{
	const struct conf *c = cap->c;
	struct decode_limits l;

	for (size_t i = 0; i < c->n_listen; i++) {
		const struct sockaddr_storage *ss = &c->listen[i].ss;
		uint16_t port =
		    ss->ss_family == AF_INET6
		        ? ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port)
		        : ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
		if (!listener_port(cap, port))
			cap->ports[cap->n_ports++] = port;
	}
	if (c->allow_file[0] && !(cap->allow = allow_list_load(c->allow_file, err, errlen)))
		return -1;
	if ((cap->intern = intern_new(0))) {
		ingest_decode_limits(&l, c, cap->allow);
		l.intern = cap->intern;
		cap->st = decode_state_new(&l);
	}
	if (!cap->st) {
		snprintf(err, errlen, "capture: out of memory");
		return -1;
	}
	cap->ctx.st = cap->st;
	cap->ctx.batch = cap->batch; /* shared with the meter: both run on the capture thread */
	cap->ctx.emit = cap_emit;
	cap->ctx.emit_arg = cap;
	return 0;
}

void capture_set_counters(struct capture *cap, void (*fn)(void *, const struct if_counters *),
                          void *arg)
{
	cap->ctx.counters = fn;
	cap->ctx.counters_arg = arg;
}

static bool link_of(int dlt, enum pkt_link *link)
{
	switch (dlt) {
	case DLT_EN10MB:
		*link = PKT_LINK_ETH;
		return true;
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		*link = PKT_LINK_RAW;
		return true;
	case DLT_LINUX_SLL:
		*link = PKT_LINK_SLL;
		return true;
	case DLT_NULL:
	case DLT_LOOP:
		*link = PKT_LINK_NULL;
		return true;
	default:
		return false;
	}
}

static pcap_t *open_live(const struct conf *c, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_create(c->pcap_interface, perr);

	if (!pc) {
		snprintf(err, errlen, "pcap_interface %s: %s", c->pcap_interface, perr);
		return NULL;
	}
	pcap_set_snaplen(pc, (int)c->snaplen);
	pcap_set_promisc(pc, c->promisc);
	pcap_set_timeout(pc, CAP_POLL_MS);
	pcap_set_buffer_size(pc, 8 << 20);
	int rc = pcap_activate(pc);
	if (rc < 0) {
		const char *why = pcap_geterr(pc);
		snprintf(err, errlen, "pcap_interface %s: %s", c->pcap_interface,
		         why && *why ? why : pcap_statustostr(rc));
		pcap_close(pc);
		return NULL;
	}
	if (pcap_setnonblock(pc, 1, perr) < 0) {
		snprintf(err, errlen, "pcap_interface %s: %s", c->pcap_interface, perr);
		pcap_close(pc);
		return NULL;
	}
	return pc;
}

static int set_filter(struct capture *cap, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (!cap->c->pcap_filter[0])
		return 0;
	if (pcap_compile(cap->pc, &prog, cap->c->pcap_filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
	    pcap_setfilter(cap->pc, &prog) < 0) {
		snprintf(err, errlen, "pcap_filter '%s': %s", cap->c->pcap_filter,
		         pcap_geterr(cap->pc));
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

static int cap_pcap_open(struct capture *cap, char *err, size_t errlen)
{
	const struct conf *c = cap->c;
	char perr[PCAP_ERRBUF_SIZE] = "";

	cap->live = c->pcap_interface[0] != '\0';
	if (cap->live) {
		cap->pc = open_live(c, err, errlen);
		snprintf(cap->what, sizeof(cap->what), "interface %s%s", c->pcap_interface,
		         c->promisc ? " (promiscuous)" : "");
	} else {
		cap->pc = pcap_open_offline(c->pcap_savefile, perr);
		if (!cap->pc)
			snprintf(err, errlen, "pcap_savefile %s: %s", c->pcap_savefile, perr);
		snprintf(cap->what, sizeof(cap->what), "savefile %s (%s)", c->pcap_savefile,
		         c->savefile_speed ? "recorded speed" : "flat out");
	}
	if (!cap->pc)
		return -1;
	if (!link_of(pcap_datalink(cap->pc), &cap->link)) {
		snprintf(err, errlen, "%s: link type %s is not supported", cap->what,
		         pcap_datalink_val_to_name(pcap_datalink(cap->pc)));
		return -1;
	}
	return set_filter(cap, err, errlen);
}

struct capture *capture_open(const struct conf *c, struct plugin_set *ps, unsigned worker,
                             char *err, size_t errlen)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct meter_conf mc = {
	    .max_entries = c->meter_entries,
	    .active_ms = c->meter_active_ms,
	    .inactive_ms = c->meter_inactive_ms,
	};

	if (!cap) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cap->c = c;
	cap->ps = ps;
	cap->worker = worker;
	cap->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->pcap_interface[0])
		mc.in_if = if_nametoindex(c->pcap_interface);
	cap->m = meter_new(&mc);
	cap->batch = calloc(1, sizeof(*cap->batch));
	if (cap->stop_fd < 0 || !cap->m || !cap->batch) {
		snprintf(err, errlen, "capture: %s",
		         cap->stop_fd < 0 ? strerror(errno) : "out of memory");
		capture_free(cap);
		return NULL;
	}
	meter_set_output(cap->m, cap->batch, cap_emit, cap);
	if (c->pcap_decode_exports && exports_open(cap, err, errlen) < 0) {
		capture_free(cap);
		return NULL;
	}
	if (cap_pcap_open(cap, err, errlen) < 0) {
		capture_free(cap);
		return NULL;
	}
	return cap;
}

/* Recorded speed: waits until the wall clock has advanced as far as the file (x speed). */
static void pace(struct capture *cap, uint64_t ts)
{
	if (!cap->first_mono) {
		cap->first_ts = ts;
		cap->first_mono = mono_ms();
		return;
	}
	uint64_t due = cap->first_mono +
	               (ts > cap->first_ts ? ts - cap->first_ts : 0) / cap->c->savefile_speed;
	for (uint64_t now = mono_ms(); now < due && !atomic_load(&cap->stop); now = mono_ms()) {
		uint64_t ms = due - now > CAP_SLEEP_MAX ? CAP_SLEEP_MAX : due - now;
		struct timespec ts_sleep = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
		nanosleep(&ts_sleep, NULL);
		plugin_tick(cap->ps, cap->worker, now_ms());
	}
}

/* Flows idle too long, and export data held too long for its template. */
static void expire(struct capture *cap, uint64_t now)
{
	meter_expire(cap->m, now);
	if (cap->st)
		decode_expire(cap->st, now);
	cap->last_expire = now;
}

static void on_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *cap = (struct capture *)(void *)arg;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;

	if (!cap->live && cap->c->savefile_speed)
		pace(cap, ts);
	cap->now = cap->live ? now_ms() : ts;
	atomic_fetch_add_explicit(&cap->frames, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cap->frame_bytes, h->len, memory_order_relaxed);
	if (!cap->st || !h->caplen) {
		meter_packet(cap->m, bytes, h->caplen, h->len, cap->link, cap->now);
	} else {
		struct pkt_info pi;
		pkt_parse(bytes, h->caplen, cap->link, &pi);
		if (!decode_export(cap, bytes, h->caplen, &pi, ts))
			meter_parsed(cap->m, &pi, h->len, cap->now);
	}
	if (cap->now >= cap->last_expire + CAP_EXPIRE_MS)
		expire(cap, cap->now);
}

static void housekeeping(struct capture *cap)
{
	struct pcap_stat ps;

	if (cap->batch->n)
		cap_emit(cap, cap->batch);
	plugin_tick(cap->ps, cap->worker, now_ms());
	if (cap->live && pcap_stats(cap->pc, &ps) == 0) {
		atomic_store_explicit(&cap->kernel_drops, ps.ps_drop, memory_order_relaxed);
		atomic_store_explicit(&cap->if_drops, ps.ps_ifdrop, memory_order_relaxed);
	}
}

static void live_loop(struct capture *cap)
{
	struct pollfd pfd[2] = {{.fd = pcap_get_selectable_fd(cap->pc), .events = POLLIN},
	                        {.fd = cap->stop_fd, .events = POLLIN}};

	while (!atomic_load(&cap->stop)) {
		poll(pfd, 2, CAP_POLL_MS);
		int n = pcap_dispatch(cap->pc, CAP_BATCH, on_packet, (u_char *)cap);
		if (n < 0) {
			WLOG(LL_ERR, "capture %s: %s", cap->what, pcap_geterr(cap->pc));
			break;
		}
		/* the wall clock expires idle flows even when no packet comes */
		uint64_t now = now_ms();
		if (now >= cap->last_expire + CAP_EXPIRE_MS)
			expire(cap, now);
		housekeeping(cap);
	}
	/* Frames the kernel already holds were on the wire before the stop: take them too. */
	for (int idle = 0, i = 0; idle < 3 && i < 50; i++) {
		poll(pfd, 1, CAP_POLL_MS / 2);
		int n = pcap_dispatch(cap->pc, -1, on_packet, (u_char *)cap);
		idle = n > 0 ? 0 : idle + 1;
		if (n < 0)
			break;
	}
}

static void file_loop(struct capture *cap)
{
	while (!atomic_load(&cap->stop)) {
		int n = pcap_dispatch(cap->pc, CAP_BATCH, on_packet, (u_char *)cap);
		if (n < 0)
			WLOG(LL_ERR, "capture %s: %s", cap->what, pcap_geterr(cap->pc));
		housekeeping(cap);
		if (n <= 0)
			break;
	}
	meter_flush(cap->m, cap->now);
	if (cap->st) /* data still waiting for its template never gets one: count it dropped */
		decode_expire(cap->st, cap->now + CAP_HOLD_END_MS);
	housekeeping(cap);
	atomic_store(&cap->eof, true);
	WLOG(LL_NOTICE, "capture %s: end of file after %llu frames", cap->what,
	     (unsigned long long)atomic_load(&cap->frames));
	if (!cap->c->pcap_savefile_wait) {
		if (!atomic_load(&cap->stop))
			kill(getpid(), SIGTERM); /* pmacctd exits once its savefile is read */
		return;
	}
	/* Staying up: the plugins still expect this worker's (empty) tables at each refresh. */
	struct pollfd pfd = {.fd = cap->stop_fd, .events = POLLIN};
	while (!atomic_load(&cap->stop)) {
		poll(&pfd, 1, CAP_POLL_MS);
		housekeeping(cap);
	}
}

static void *capture_main(void *arg)
{
	struct capture *cap = arg;

	if (cap->live)
		live_loop(cap);
	else
		file_loop(cap);
	return NULL;
}

int capture_start(struct capture *cap, char *err, size_t errlen)
{
	int rc = pthread_create(&cap->thr, NULL, capture_main, cap);
	if (rc) {
		snprintf(err, errlen, "capture thread: %s", strerror(rc));
		return -1;
	}
	cap->started = true;
	return 0;
}

void capture_stop(struct capture *cap)
{
	uint64_t one = 1;

	if (!cap || !cap->started)
		return;
	atomic_store(&cap->stop, true);
	if (write(cap->stop_fd, &one, sizeof(one)) < 0)
		WLOG(LL_WARN, "capture: wake-up: %s", strerror(errno));
	pthread_join(cap->thr, NULL);
	cap->started = false;
	if (cap->live) { /* the file loop flushed at its end already */
		meter_flush(cap->m, now_ms());
		housekeeping(cap);
	}
}

void capture_describe(const struct capture *cap, FILE *out)
{
	fprintf(out,
	        "capture: %s, filter '%s', flow cache %u entries, timeouts %u s active, %u s "
	        "inactive\n",
	        cap->what, cap->c->pcap_filter, cap->c->meter_entries,
	        cap->c->meter_active_ms / 1000, cap->c->meter_inactive_ms / 1000);
}

void capture_stats_print(struct capture *cap, FILE *out)
{
	fprintf(out,
	        "capture %s: %llu frames, %llu bytes, %llu dropped by the kernel, %llu by the "
	        "interface%s\n",
	        cap->what, (unsigned long long)atomic_load(&cap->frames),
	        (unsigned long long)atomic_load(&cap->frame_bytes),
	        (unsigned long long)atomic_load(&cap->kernel_drops),
	        (unsigned long long)atomic_load(&cap->if_drops),
	        atomic_load(&cap->eof) ? " (end of file)" : "");
	/* the meter's counters are the capture thread's: read racy but only for display */
	meter_stats_print(cap->m, out);
	if (!cap->st)
		return;
	fprintf(out,
	        "capture exports: %llu datagrams, %llu bytes decoded; %llu fragmented or cut by "
	        "snaplen (metered)\n",
	        (unsigned long long)atomic_load(&cap->dgrams),
	        (unsigned long long)atomic_load(&cap->dgram_bytes),
	        (unsigned long long)atomic_load(&cap->partial));
	/* the exporter table is not safe to walk while the thread may resize it */
	if (cap->started)
		fprintf(out, "capture exporters: counters at exit\n");
	else
		decode_stats_print(cap->st, out);
}

void capture_log(struct capture *cap, bool stats)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	capture_describe(cap, f);
	if (stats)
		capture_stats_print(cap, f);
	fclose(f);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		WLOG(LL_NOTICE, "%s", line);
	free(text);
}

void capture_free(struct capture *cap)
{
	if (!cap)
		return;
	capture_stop(cap);
	if (cap->pc)
		pcap_close(cap->pc);
	if (cap->stop_fd >= 0)
		close(cap->stop_fd);
	meter_free(cap->m);
	if (cap->st)
		decode_state_free(cap->st);
	intern_free(cap->intern); /* after plugin_free(): their keys point into it */
	if (cap->allow)
		allow_list_free(cap->allow);
	free(cap->batch);
	free(cap);
}
