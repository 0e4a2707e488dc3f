/* log.c - leveled logging to a stream or syslog, and the token bucket for input errors. */
#include "lib/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* The one piece of process-wide logging state; written by log_setup() before threads start. */
static struct {
	enum log_level level;
	FILE *out;
	bool use_syslog;
	pthread_mutex_t lock;
} logger = {LL_NOTICE, NULL, false, PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"error", "warning", "notice", "info", "debug"};

void log_setup(enum log_level level, FILE *out, bool use_syslog, const char *ident)
{
	logger.level = level;
	logger.out = out;
	logger.use_syslog = use_syslog;
	if (use_syslog)
		openlog(ident ? ident : "weir", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

bool log_enabled(enum log_level level)
{
	return level <= logger.level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (logger.use_syslog) {
		syslog(prio[level], "%s", line);
		return;
	}
	FILE *out = logger.out ? logger.out : stderr;
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&logger.lock);
	fprintf(out, "%s.%03ldZ weir %s: %s\n", stamp, ts.tv_nsec / 1000000, level_names[level],
	        line);
	fflush(out);
	pthread_mutex_unlock(&logger.lock);
}

void ratelimit_init(struct ratelimit *rl, uint32_t per_sec)
{
	memset(rl, 0, sizeof(*rl));
	rl->rate = per_sec;
	rl->tokens = per_sec;
}

bool ratelimit_ok(struct ratelimit *rl, uint64_t now)
{
	if (now >= rl->last_ms + 1000) {
		uint64_t refill = (now - rl->last_ms) / 1000 * rl->rate;
		rl->tokens = refill > rl->rate ? rl->rate : (uint32_t)(rl->tokens + refill);
		if (rl->tokens > rl->rate)
			rl->tokens = rl->rate;
		rl->last_ms = now;
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	return true;
}

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
