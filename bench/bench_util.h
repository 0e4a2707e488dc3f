/* bench_util.h - what the offline benchmarks share: thread CPU time and the median of passes. */
#ifndef WEIR_BENCH_UTIL_H
#define WEIR_BENCH_UTIL_H

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

/* CPU seconds of the calling thread: rates per CPU second, not per wall second. */
static inline double bench_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static inline double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
