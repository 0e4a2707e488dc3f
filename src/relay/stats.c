/* stats.c - the relay's counters per pool, receiver and exporter, summed over workers. */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "enrich/tagmap.h"
#include "relay/relay.h"
#include "relay/relay_int.h"

#define RLX memory_order_relaxed

static unsigned long long ld(const _Atomic uint64_t *v)
{
	return (unsigned long long)atomic_load_explicit(v, RLX);
}

static void describe_set(const struct relay_set *s, FILE *out)
{
	for (size_t i = 0; i < s->n_pools; i++) {
		const struct relay_pool *pl = &s->pools[i];
		fprintf(out, "relay: pool %u (%s%s%s%s%s%s%s): %zu receiver%s:", pl->def.id,
		        relay_plugin_type(pl->pc->type) ? "tee[" : "",
		        relay_plugin_type(pl->pc->type) ? pl->pc->name : "",
		        relay_plugin_type(pl->pc->type) ? "], " : "",
		        relay_balance_name(pl->def.bal), pl->transparent ? ", transparent" : "",
		        pl->def.sample > 1 ? ", sampled" : "", pl->def.n_tags ? ", by tag" : "",
		        pl->def.n_rcv, pl->def.n_rcv == 1 ? "" : "s");
		for (size_t k = 0; k < pl->def.n_rcv; k++)
			fprintf(out, " %s", pl->def.rcv[k].text);
		fputc('\n', out);
	}
}

void relay_describe(struct relay *r, FILE *out)
{
	pthread_mutex_lock(&r->lock);
	describe_set(relay_set_locked(r), out);
	pthread_mutex_unlock(&r->lock);
}

void relay_log_describe(struct relay *r)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	relay_describe(r, f);
	fclose(f);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		WLOG(LL_NOTICE, "%s", line);
	free(text);
}

static const char *state_of(unsigned down)
{
	if (!down)
		return "up";
	return down & DOWN_HEALTH ? "down(healthz)" : "down(icmp)";
}

static void pool_stats(const struct relay *r, const struct relay_set *s, FILE *out)
{
	for (size_t i = 0; i < s->n_pools; i++) {
		unsigned long long c[7] = {0};
		for (unsigned k = 0; k < r->n_workers; k++) {
			const struct rw_pool *p = s->w[k].pool[i];
			c[0] += ld(&p->in), c[1] += ld(&p->bytes_in), c[2] += ld(&p->filtered);
			c[3] += ld(&p->sampled), c[4] += ld(&p->none), c[5] += ld(&p->tmpl_copies);
			c[6] += ld(&p->tag_filtered);
		}
		fprintf(out,
		        "relay pool %u: datagrams_in %llu bytes_in %llu filtered %llu sampled_out "
		        "%llu no_receiver %llu template_copies %llu tag_filtered %llu\n",
		        s->pools[i].def.id, c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
	}
}

static void receiver_stats(const struct relay *r, const struct relay_set *s, FILE *out)
{
	for (size_t g = 0; g < s->n_rcv; g++) {
		const struct relay_rcv *rc = s->rcv[g];
		unsigned long long p = 0, b = 0, f = 0;
		for (unsigned k = 0; k < r->n_workers; k++) {
			p += ld(&s->w[k].q[g]->pkts);
			b += ld(&s->w[k].q[g]->bytes);
			f += ld(&s->w[k].q[g]->fails);
		}
		fprintf(out,
		        "relay receiver %s pool %u: state %s packets_out %llu bytes_out %llu "
		        "send_failed %llu state_changes %llu\n",
		        rc->def->text, rc->pool->def.id,
		        state_of(atomic_load_explicit(&rc->st->down, RLX)), p, b, f,
		        ld(&rc->st->changes));
	}
}

struct exp_row {
	struct wip a;
	unsigned long long c[4];
};

static int row_cmp(const void *x, const void *y)
{
	return memcmp(&((const struct exp_row *)x)->a, &((const struct exp_row *)y)->a,
	              sizeof(struct wip));
}

/* Every worker's table into one sorted array; an exporter seen by two workers sums. */
static void exporter_stats(const struct relay *r, FILE *out)
{
	size_t n = 0, cap = (size_t)r->n_workers * RELAY_EXP_SLOTS;
	struct exp_row *rows = calloc(cap, sizeof(*rows));
	unsigned long long oi = 0, ob = 0;

	if (!rows)
		return;
	for (unsigned k = 0; k < r->n_workers; k++) {
		const struct relay_worker *w = &r->w[k];
		oi += ld(&w->other_in), ob += ld(&w->other_bytes);
		for (size_t i = 0; i < RELAY_EXP_SLOTS; i++) {
			const struct rw_exp *e = &w->exp[i];
			if (!atomic_load_explicit(&e->used, memory_order_acquire))
				continue;
			rows[n].a = e->a;
			rows[n].c[0] = ld(&e->pin), rows[n].c[1] = ld(&e->bin);
			rows[n].c[2] = ld(&e->pout), rows[n].c[3] = ld(&e->bout);
			n++;
		}
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	for (size_t i = 0; i < n;) {
		struct exp_row sum = rows[i];
		size_t j = i + 1;
		for (; j < n && !memcmp(&rows[j].a, &sum.a, sizeof(sum.a)); j++)
			for (int m = 0; m < 4; m++)
				sum.c[m] += rows[j].c[m];
		char a[64];
		fprintf(out,
		        "relay exporter %s: packets_in %llu bytes_in %llu packets_out %llu "
		        "bytes_out %llu\n",
		        wip_str(&sum.a, a, sizeof(a)), sum.c[0], sum.c[1], sum.c[2], sum.c[3]);
		i = j;
	}
	if (oi)
		fprintf(out, "relay exporter other: packets_in %llu bytes_in %llu\n", oi, ob);
	free(rows);
}

/* Worker totals of the pre_tag_map lookups; printed while a map is in use. */
static void tag_stats(const struct relay *r, const struct relay_set *s, FILE *out)
{
	unsigned long long c[4] = {0};

	if (!s->tags)
		return;
	for (unsigned k = 0; k < r->n_workers; k++) {
		const struct relay_worker *w = &r->w[k];
		c[0] += ld(&w->tagged), c[1] += ld(&w->untagged);
		c[2] += ld(&w->no_tag_pool), c[3] += ld(&w->tag_lookups);
	}
	fprintf(out,
	        "relay pre_tag_map %s: rules %zu datagrams_tagged %llu untagged %llu no_tag_pool "
	        "%llu lookups %llu\n",
	        s->tags_path, tagmap_count(s->tags), c[0], c[1], c[2], c[3]);
}

void relay_stats_print(struct relay *r, FILE *out)
{
	pthread_mutex_lock(&r->lock);
	const struct relay_set *s = relay_set_locked(r);
	pool_stats(r, s, out);
	receiver_stats(r, s, out);
	tag_stats(r, s, out);
	pthread_mutex_unlock(&r->lock);
	exporter_stats(r, out);
	fprintf(out, "relay reloads %llu reload_failures %llu\n", ld(&r->reloads),
	        ld(&r->reload_fails));
}
