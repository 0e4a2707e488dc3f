/* log.h - leveled logging with a token bucket for lines caused by network input. */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum log_level { LL_ERR = 0, LL_WARN, LL_NOTICE, LL_INFO, LL_DEBUG };

/* Process-wide sink settings; set once by main() before threads start. */
void log_setup(enum log_level level, FILE *out, bool use_syslog, const char *ident);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks the level before any argument is formatted (Redis serverLog). */
#define WLOG(level, ...)                                                                           \
	do {                                                                                       \
		if (log_enabled(level))                                                            \
			log_msg(level, __VA_ARGS__);                                               \
	} while (0)

/*
 * Token bucket: at most `rate` lines per second, burst of `rate`. Owned by whoever logs
 * (one per worker and per decoder is fine); not thread-safe by design.
 */
struct ratelimit {
	uint32_t rate;
	uint32_t tokens;
	uint64_t last_ms;
	uint64_t suppressed;
};

void ratelimit_init(struct ratelimit *rl, uint32_t per_sec);
/* True when a line may be logged now; counts the ones that may not. */
bool ratelimit_ok(struct ratelimit *rl, uint64_t now_ms);

/* Milliseconds since the epoch (CLOCK_REALTIME) and a monotonic clock. */
uint64_t now_ms(void);
uint64_t mono_ms(void);

#endif
