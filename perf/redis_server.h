/* The redis-server the store strategies talk to: started once per qk_perf process by
 * tests/support's helper (tests/support/servers.h: a free loopback port in a temporary
 * directory, no persistence, stopped by pid at exit, and a crashed qk_perf takes it along:
 * PR_SET_PDEATHSIG). The binary is $QK_REDIS_SERVER, else redis-server on PATH. */
#ifndef QK_PERF_REDIS_SERVER_H
#define QK_PERF_REDIS_SERVER_H

#include <stddef.h>

/* Starts it if it is not running: 0, or -1 with why in err (no binary, no answer in 10 s). */
int perf_redis_start(char *err, size_t len);

/* Its port on 127.0.0.1; 0 before a successful start. */
int perf_redis_port(void);

/* `redis-server --version`'s words for the report, or "unknown". */
const char *perf_redis_version(void);

#endif
