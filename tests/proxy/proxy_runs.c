/* The seeded fault runs' common parts (proxy_runs.h). */
#include "proxy_runs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clock.h"
#include "fail.h"
#include "procs.h"

uint64_t qkp_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

void qkp_sleep_ms(int ms)
{
    const struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

qkp_config qkp_run_config(int upstream_port, uint64_t seed, unsigned fault_pct,
                          int client_timeout_ms)
{
    return (qkp_config){.upstream_port = upstream_port,
                        .seed = seed,
                        .fault_pct = fault_pct,
                        .long_pct = 30,
                        .short_delay_ms = 20,
                        .long_delay_ms = 3 * client_timeout_ms,
                        .only = -1};
}

qkp_proxy *qkp_open_run(int upstream_port, uint64_t seed, unsigned fault_pct, int client_timeout_ms,
                        char *url, size_t url_len)
{
    const qkp_config cfg = qkp_run_config(upstream_port, seed, fault_pct, client_timeout_ms);
    qkp_proxy *p = NULL;
    char err[256];
    QKT_REQUIRE(qkp_open(&p, &cfg, err, sizeof err) == 0, "proxy: %s", err);
    snprintf(url, url_len, "redis://127.0.0.1:%d", qkp_port(p));
    return p;
}

void qkp_drive_hosts(qkp_proxy *p, const pid_t *pid, int *status, unsigned n, int limit_s,
                     void (*each_round)(void *ctx, const int *status),
                     void (*killed)(void *ctx, unsigned i), void *ctx)
{
    const int64_t t0 = qkt_mono_ms();
    char err[256];
    for (unsigned i = 0; i < n; i++)
        status[i] = -1;
    unsigned running = n;
    while (running > 0) {
        QKT_REQUIRE(qkp_step(p, 2, err, sizeof err) == 0, "proxy: %s", err);
        if (each_round != NULL)
            each_round(ctx, status);
        for (unsigned i = 0; i < n; i++) {
            int st;
            if (status[i] < 0 && waitpid(pid[i], &st, WNOHANG) == pid[i]) {
                status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
                running--;
            }
        }
        if (qkt_mono_ms() - t0 > (int64_t)limit_s * 1000) {
            for (unsigned i = 0; i < n; i++)
                if (status[i] < 0) {
                    kill(pid[i], SIGKILL);
                    status[i] = qkt_wait_child(pid[i]);
                    killed(ctx, i);
                }
            running = 0;
        }
    }
}

void qkp_run_failed(const char *prog, uint64_t seed, const char *why)
{
    printf("FAILED seed %llu:%s\n  replay: %s --seed %llu -v\n", (unsigned long long)seed, why,
           prog, (unsigned long long)seed);
    qkt_fail(__FILE__, __LINE__, "seed %llu", (unsigned long long)seed);
}

int qkp_parse_runs(int argc, char **argv, uint64_t *first, uint64_t *runs, bool *verbose,
                   const qkp_extra_flag *extra)
{
    for (int i = 1; i < argc; i++) {
        const qkp_extra_flag *e = extra;
        while (e != NULL && e->flag != NULL && strcmp(argv[i], e->flag) != 0)
            e++;
        if (e != NULL && e->flag != NULL) {
            *e->set = true;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            *runs = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc) {
            *first = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            *first = strtoull(argv[++i], NULL, 10);
            *runs = 1;
            *verbose = true;
        } else if (strcmp(argv[i], "-v") == 0) {
            *verbose = true;
        } else {
            fprintf(stderr, "usage: %s [--runs N] [--first SEED] [--seed SEED] [-v]", argv[0]);
            for (e = extra; e != NULL && e->flag != NULL; e++)
                fprintf(stderr, " [%s]", e->flag);
            fprintf(stderr, "\n");
            return 2;
        }
    }
    return 0;
}
