/* quotakeeper demo, in the original spec's terms: ingestion workers fetch news from Tiingo
 * (500 calls a month), Finnhub (60 a minute) and SendGrid (100 emails a day), each call gated
 * by qk_try_consume. Threshold events print as they happen; a snapshot table ends the run.
 *
 * The services and their limits come from a config file (examples/demo.ini, read with the
 * config library); the counts live in a state file (default ./quotakeeper-demo.qkstate), so a
 * second run continues them within their windows, and two demos running at once share them.
 * With --store URL (redis://host:port), the demo is one host of a fleet sharing the quotas
 * through Redis: two demos with their own state files (or --private) are two hosts, and
 * together they are granted exactly each limit (docs/store.md).
 * Usage: qk_demo [--config FILE] [--state PATH | --private] [--store URL] */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <quotakeeper.h>
#include <quotakeeper/config.h>

#define WORKERS      8
#define FETCHES_EACH 40

static qk_tracker *tracker;
static qk_service *sources; /* the config's services, by their index in the tracker */
static size_t n_sources;

static void on_event(const qk_event *ev, void *payload)
{
    (void)payload;
    printf("  event #%" PRIu64 " %-8s window %u: %s -> %s (%" PRIu64 "/%" PRIu64 ")\n", ev->seq,
           ev->name, ev->window, qk_level_name(ev->from), qk_level_name(ev->to), ev->used,
           ev->limit);
}

typedef struct {
    unsigned id;
    unsigned granted, refused, unavailable, failed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    unsigned seed = w->id * 2654435761u;
    for (int i = 0; i < FETCHES_EACH; i++) {
        const qk_service s = sources[(size_t)rand_r(&seed) % n_sources];
        qk_usage u;
        const int rc = qk_try_consume(tracker, s, 1, 0, &u);
        if (rc == QK_OK) {
            w->granted++;
            nanosleep(&(struct timespec){0, 200000}, NULL); /* the API call itself */
        } else if (rc == QK_ELIMIT) {
            w->refused++; /* skipped: the source is out of quota until u.reset_at_ms */
        } else if (rc == QK_EUNAVAIL) {
            w->unavailable++; /* --store: the store is out and the outage policy said no */
        } else {
            /* Reported, and the worker stops; exiting here would pull the process down under
             * the other threads. */
            fprintf(stderr, "worker %u: %s\n", w->id, qk_errmsg());
            w->failed++;
            return NULL;
        }
    }
    return NULL;
}

static void print_table(const char *title)
{
    qk_usage snap[64];
    size_t n = 0;
    if (qk_snapshot(tracker, snap, sizeof snap / sizeof snap[0], &n) != QK_OK) {
        fprintf(stderr, "demo: %s\n", qk_errmsg());
        exit(1);
    }
    printf("\n%s\n%-10s %8s %8s %10s %-10s %s\n", title, "service", "used", "limit", "remaining",
           "level", "resets at (UTC)");
    for (size_t i = 0; i < n; i++) {
        const qk_window_usage *w = &snap[i].windows[0];
        char when[32];
        const time_t reset = (time_t)(w->reset_at_ms / 1000);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime(&reset));
        printf("%-10s %8" PRIu64 " %8" PRIu64 " %10" PRIu64 " %-10s %s\n", snap[i].name, w->used,
               w->limit, w->remaining, qk_level_name(snap[i].level), when);
    }
}

int main(int argc, char **argv)
{
    const char *config = QK_DEMO_CONFIG; /* examples/demo.ini in the source tree */
    const char *path = "quotakeeper-demo.qkstate";
    const char *store = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--private") == 0) {
            path = NULL;
        } else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            store = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--config FILE] [--state PATH | --private] [--store URL]\n",
                    argv[0]);
            return 2;
        }
    }
    qk_config *cfg;
    if (qk_config_load(&cfg, config) != QK_OK) {
        fprintf(stderr, "demo: %s\n", qk_config_errmsg());
        return 1;
    }
    qk_options opts = *qk_config_options(cfg);
    opts.on_event = on_event;
    opts.path = path; /* the demo's own choice, whatever the file says */
    if (store != NULL)
        opts.store = store;
    n_sources = opts.n_services;
    sources = calloc(n_sources, sizeof *sources);
    if (n_sources == 0 || sources == NULL) {
        fprintf(stderr, "demo: %s defines no service\n", config);
        return 1;
    }
    if (qk_tracker_new(&tracker, &opts) != QK_OK) {
        fprintf(stderr, "demo: %s\n", qk_errmsg());
        return 1;
    }
    printf("quotakeeper %s demo: %d workers x %d fetches over ", qk_version_string(), WORKERS,
           FETCHES_EACH);
    for (size_t i = 0; i < n_sources; i++) {
        /* A state file keeps its own indices: look each service up by name. */
        if (qk_service_find(tracker, opts.services[i].name, &sources[i]) != QK_OK) {
            fprintf(stderr, "demo: %s\n", qk_errmsg());
            return 1;
        }
        printf("%s%s", opts.services[i].name, i + 1 < n_sources ? ", " : "\n");
    }
    qk_config_free(cfg); /* the tracker copied what it keeps */
    if (path != NULL)
        print_table("Counts found in the state file (run again to continue them):");
    printf("\nThreshold events as they happen:\n");

    pthread_t th[WORKERS];
    worker ws[WORKERS] = {{0}};
    for (unsigned i = 0; i < WORKERS; i++) {
        ws[i].id = i + 1;
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    unsigned granted = 0, refused = 0, unavailable = 0, failed = 0;
    for (unsigned i = 0; i < WORKERS; i++) {
        pthread_join(th[i], NULL);
        granted += ws[i].granted;
        refused += ws[i].refused;
        unavailable += ws[i].unavailable;
        failed += ws[i].failed;
    }

    if (store != NULL) {
        /* Send the last counts and give back the unused leases, then show the fleet. */
        if (qk_store_sync(tracker) != QK_OK)
            fprintf(stderr, "demo: %s (the counts stay here and go with the next sync)\n",
                    qk_errmsg());
        qk_store_info info = {.version = QK_STORE_INFO_VERSION};
        if (qk_store_status(tracker, &info) == QK_OK)
            printf("\nThis host in the store: %s%s\n", info.host_id,
                   info.degraded ? " (degraded: the store did not answer)" : "");
    }
    print_table(store ? "After this run, the whole fleet's counts:" : "After this run:");
    printf("\n%u calls granted, %u refused", granted, refused);
    if (store != NULL)
        printf(", %u not allowed while the store was out", unavailable);
    printf(", %u attempted\n", WORKERS * FETCHES_EACH);
    qk_tracker_free(tracker);
    free(sources);
    return failed == 0 && granted + refused + unavailable == WORKERS * FETCHES_EACH ? 0 : 1;
}
