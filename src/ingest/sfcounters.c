/* sfcounters.c - sFlow counter samples to a JSON lines file (sfacctd's names) and /metrics. */
#include "ingest/sfcounters.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/prom.h"
#include "lib/log.h"
#include "weir/decoder.h"

/* The latest generic counters of one interface. */
struct sfc_if {
	struct wip agent;
	uint32_t sub_agent;
	uint32_t if_index;
	uint64_t seen_ms;
	uint64_t v[8]; /* in/out octets, packets, errors, discards: metric_names[] order */
};

struct sfcounters {
	pthread_mutex_t mu;
	FILE *f; /* NULL: no sfacctd_counter_file */
	uint64_t seq;
	uint64_t errors;
	uint64_t evicted;
	size_t n_if;
	struct sfc_if *ifs; /* SFC_MAX_IF */
};

static const char *const metric_names[8][2] = {
    {"weir_sflow_if_in_octets_total", "ifInOctets of the latest sFlow counter sample"},
    {"weir_sflow_if_out_octets_total", "ifOutOctets of the latest sFlow counter sample"},
    {"weir_sflow_if_in_packets_total", "ifIn{Ucast,Multicast,Broadcast}Pkts summed"},
    {"weir_sflow_if_out_packets_total", "ifOut{Ucast,Multicast,Broadcast}Pkts summed"},
    {"weir_sflow_if_in_errors_total", "ifInErrors of the latest sFlow counter sample"},
    {"weir_sflow_if_out_errors_total", "ifOutErrors of the latest sFlow counter sample"},
    {"weir_sflow_if_in_discards_total", "ifInDiscards of the latest sFlow counter sample"},
    {"weir_sflow_if_out_discards_total", "ifOutDiscards of the latest sFlow counter sample"},
};

struct sfcounters *sfcounters_open(const char *path, char *err, size_t errlen)
{
	struct sfcounters *s = calloc(1, sizeof(*s));

	if (!s || !(s->ifs = calloc(SFC_MAX_IF, sizeof(*s->ifs)))) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	if (path && *path && !(s->f = fopen(path, "ae"))) {
		snprintf(err, errlen, "sfacctd_counter_file %s: %s", path, strerror(errno));
		free(s->ifs);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

/* "2024-05-14 09:00:00.030000" (UTC), as weir's print output writes times. */
static void ts_text(uint64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06u", (unsigned)(ms % 1000) * 1000u);
}

/* The keys every line shares: where the sample came from. */
static void head(struct sfcounters *s, const struct if_counters *k, const char *type)
{
	char when[40], agent[WIP_STRLEN];

	ts_text(k->arrival_ms, when, sizeof(when));
	fprintf(
	    s->f,
	    "{\"seq\": %" PRIu64 ", \"timestamp\": \"%s\", \"peer_ip_src\": \"%s\", "
	    "\"event_type\": \"log\", \"agent_subid\": %u, \"source_id_index\": %u, "
	    "\"sflow_seq\": %u, \"sflow_cnt_seq\": %u, \"sf_cnt_type\": \"%s\", \"ifIndex\": %u",
	    ++s->seq, when, wip_str(&k->agent, agent, sizeof(agent)), k->sub_agent,
	    k->source_id & 0xffffff, k->dgram_seq, k->sample_seq, type, k->if_index);
}

static void generic(struct sfcounters *s, const struct if_counters *k)
{
	head(s, k, "sflow_cnt_generic");
	fprintf(
	    s->f,
	    ", \"ifType\": %u, \"ifSpeed\": %" PRIu64 ", \"ifDirection\": %u, \"ifStatus\": %u, "
	    "\"ifInOctets\": %" PRIu64 ", \"ifInUcastPkts\": %u, \"ifInMulticastPkts\": %u, "
	    "\"ifInBroadcastPkts\": %u, \"ifInDiscards\": %u, \"ifInErrors\": %u, "
	    "\"ifInUnknownProtos\": %u, \"ifOutOctets\": %" PRIu64 ", \"ifOutUcastPkts\": %u, "
	    "\"ifOutMulticastPkts\": %u, \"ifOutBroadcastPkts\": %u, \"ifOutDiscards\": %u, "
	    "\"ifOutErrors\": %u, \"ifPromiscuousMode\": %u}\n",
	    k->if_type, k->if_speed, k->if_direction, k->if_status, k->in_octets, k->in_ucast,
	    k->in_mcast, k->in_bcast, k->in_discards, k->in_errors, k->in_unknown, k->out_octets,
	    k->out_ucast, k->out_mcast, k->out_bcast, k->out_discards, k->out_errors, k->promisc);
}

static void ethernet(struct sfcounters *s, const struct if_counters *k)
{
	static const char *const names[IF_DOT3_COUNT] = {
	    "dot3StatsAlignmentErrors",
	    "dot3StatsFCSErrors",
	    "dot3StatsSingleCollisionFrames",
	    "dot3StatsMultipleCollisionFrames",
	    "dot3StatsSQETestErrors",
	    "dot3StatsDeferredTransmissions",
	    "dot3StatsLateCollisions",
	    "dot3StatsExcessiveCollisions",
	    "dot3StatsInternalMacTransmitErrors",
	    "dot3StatsCarrierSenseErrors",
	    "dot3StatsFrameTooLongs",
	    "dot3StatsInternalMacReceiveErrors",
	    "dot3StatsSymbolErrors",
	};

	head(s, k, "sflow_cnt_ethernet");
	for (int i = 0; i < IF_DOT3_COUNT; i++)
		fprintf(s->f, ", \"%s\": %u", names[i], k->dot3[i]);
	fputs("}\n", s->f);
}

/* The interface's slot: found, free, or the one updated longest ago (evicted). */
static struct sfc_if *if_slot(struct sfcounters *s, const struct if_counters *k)
{
	struct sfc_if *old = NULL;

	for (size_t i = 0; i < s->n_if; i++) {
		struct sfc_if *e = &s->ifs[i];
		if (e->if_index == k->if_index && e->sub_agent == k->sub_agent &&
		    !memcmp(&e->agent, &k->agent, sizeof(e->agent)))
			return e;
		if (!old || e->seen_ms < old->seen_ms)
			old = e;
	}
	if (s->n_if < SFC_MAX_IF)
		return &s->ifs[s->n_if++];
	s->evicted++;
	return old;
}

static void keep_latest(struct sfcounters *s, const struct if_counters *k)
{
	struct sfc_if *e = if_slot(s, k);

	e->agent = k->agent;
	e->sub_agent = k->sub_agent;
	e->if_index = k->if_index;
	e->seen_ms = k->arrival_ms;
	e->v[0] = k->in_octets;
	e->v[1] = k->out_octets;
	e->v[2] = (uint64_t)k->in_ucast + k->in_mcast + k->in_bcast;
	e->v[3] = (uint64_t)k->out_ucast + k->out_mcast + k->out_bcast;
	e->v[4] = k->in_errors;
	e->v[5] = k->out_errors;
	e->v[6] = k->in_discards;
	e->v[7] = k->out_discards;
}

void sfcounters_write(void *arg, const struct if_counters *k)
{
	struct sfcounters *s = arg;

	pthread_mutex_lock(&s->mu);
	if (k->has_generic)
		keep_latest(s, k);
	if (s->f) {
		if (k->has_generic)
			generic(s, k);
		if (k->has_ethernet)
			ethernet(s, k);
		/* a reader (tail -f, a log shipper) sees whole samples promptly */
		if (fflush(s->f) != 0 && s->errors++ == 0)
			WLOG(LL_ERR, "sfacctd_counter_file: %s", strerror(errno));
	}
	pthread_mutex_unlock(&s->mu);
}

void sfcounters_metrics(struct sfcounters *s, struct prom *p)
{
	char labels[160], num[2][16], agent[WIP_STRLEN];

	for (int m = 0; m < 8; m++)
		prom_family(p, metric_names[m][0], "counter", metric_names[m][1]);
	prom_family(p, "weir_sflow_if_evicted_total", "counter",
	            "interfaces whose counters made room for others (table bound)");
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_if; i++) {
		const struct sfc_if *e = &s->ifs[i];
		labels[0] = '\0';
		snprintf(num[0], sizeof(num[0]), "%u", e->sub_agent);
		snprintf(num[1], sizeof(num[1]), "%u", e->if_index);
		prom_label(labels, sizeof(labels), "agent",
		           wip_str(&e->agent, agent, sizeof(agent)));
		prom_label(labels, sizeof(labels), "sub_agent", num[0]);
		prom_label(labels, sizeof(labels), "ifindex", num[1]);
		for (int m = 0; m < 8; m++)
			prom_sample_u64(p, metric_names[m][0], NULL, labels, e->v[m]);
	}
	prom_sample_u64(p, "weir_sflow_if_evicted_total", NULL, "", s->evicted);
	pthread_mutex_unlock(&s->mu);
}

void sfcounters_close(struct sfcounters *s)
{
	if (!s)
		return;
	if (s->f)
		fclose(s->f);
	pthread_mutex_destroy(&s->mu);
	free(s->ifs);
	free(s);
}
