/* What the seeded fault runs share (test_proxy_fleet.c, test_proxy_rolling.c): the seed's mixer,
 * the proxy's schedule of faults for a run, and the loop that drives the proxy while the run's
 * host processes work. */
#ifndef QKP_PROXY_RUNS_H
#define QKP_PROXY_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proxy.h"

/* A seed's bits, well mixed (splitmix64's finaliser): a run's parameters are drawn from it. */
uint64_t qkp_mix(uint64_t x);

void qkp_sleep_ms(int ms);

/* The runs' proxy: faults on fault_pct of requests, a third of the delays beyond the client's
 * timeout (up to three times it), the short ones up to 20 ms. */
qkp_config qkp_run_config(int upstream_port, uint64_t seed, unsigned fault_pct,
                          int client_timeout_ms);

/* Opens the run's proxy in front of redis-server on upstream_port (qkp_run_config) and writes
 * the URL its hosts use; the test cannot go on without it. */
qkp_proxy *qkp_open_run(int upstream_port, uint64_t seed, unsigned fault_pct, int client_timeout_ms,
                        char *url, size_t url_len);

/* Drives p while the n hosts pid[] run, until every one has exited: status[i] is its exit status
 * (1000 + the signal when killed by one). each_round(ctx, status), when not NULL, is called after
 * every round (the fleet's runs turn the proxy calm there once every host is refused). A host
 * still running limit_s after the call began is SIGKILLed and killed(ctx, i) told. */
void qkp_drive_hosts(qkp_proxy *p, const pid_t *pid, int *status, unsigned n, int limit_s,
                     void (*each_round)(void *ctx, const int *status),
                     void (*killed)(void *ctx, unsigned i), void *ctx);

/* Says that run `seed` of program prog failed and why, with the command that replays it, and
 * counts the failure (fail.h). */
void qkp_run_failed(const char *prog, uint64_t seed, const char *why);

/* The runs' command line: [--runs N] [--first SEED] [--seed SEED] [-v], and the flags a program
 * adds (extra, each a bool set when given; NULL-terminated). Returns 0, or 2 after printing the
 * usage to stderr. */
typedef struct {
    const char *flag;
    bool *set;
} qkp_extra_flag;
int qkp_parse_runs(int argc, char **argv, uint64_t *first, uint64_t *runs, bool *verbose,
                   const qkp_extra_flag *extra);

#endif
