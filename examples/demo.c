/* quotakeeper demo, in the original spec's terms: ingestion workers fetch news from Tiingo
 * (500 calls a month), Finnhub (60 a minute) and SendGrid (100 emails a day), each call gated
 * by qk_try_consume. Threshold events print as they happen; a snapshot table ends the run.
 *
 * The services and their limits come from a config file (examples/demo.ini, read with the
 * config library); the counts live in a state file (default ./quotakeeper-demo.qkstate), so a
 * second run continues them within their windows, and two demos running at once share them.
 * With --store URL (redis://host:port), the demo is one host of a fleet sharing the quotas
 * through Redis: two demos with their own state files (or --private) are two hosts, and
 * together they are granted exactly each limit (docs/store.md), except for what the outage
 * policy let through while the store was out, which the demo prints as the fleet's overdraft.
 * --store-timeout MS sets store_timeout_ms over the config file's: a DynamoDB sync is two or
 * three requests and wants more than Redis's one round trip.
 * The demo exits 0 when every call was decided, 1 on an error, 2 on a bad argument, and 3 when
 * the store was out and no call was granted (a demo that counted nothing did not work).
 * Usage: qk_demo [--config FILE] [--state PATH | --private] [--store URL] [--store-timeout MS] */
#include <errno.h>
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

/* Level events name a service's window; the store's own events (options version 3) name no
 * service (ev->name is NULL), so each kind prints its own line. */
static void on_event(const qk_event *ev, void *payload)
{
    (void)payload;
    switch (ev->kind) {
    case QK_EVENT_LEVEL:
        printf("  event #%" PRIu64 " %-8s window %u: %s -> %s (%" PRIu64 "/%" PRIu64 ")\n", ev->seq,
               ev->name ? ev->name : "?", ev->window, qk_level_name(ev->from),
               qk_level_name(ev->to), ev->used, ev->limit);
        break;
    case QK_EVENT_STORE_DEGRADED:
        printf("  store event: degraded (the store stopped answering; the outage policy "
               "decides past the lease)\n");
        break;
    case QK_EVENT_STORE_RECOVERED:
        printf("  store event: recovered (the store answers again)\n");
        break;
    default:
        printf("  event of unknown kind %d\n", (int)ev->kind);
        break;
    }
}

static const char *period_name(qk_period p)
{
    static const char *const names[] = {"minute", "hour", "day", "month", "forever"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

/* The fleet's overdraft: use beyond a window's limit, counted at the last sync. Prints each
 * window that has one and returns how many did. */
static unsigned print_overdraft(void)
{
    qk_store_service_info svc[64];
    qk_store_info info = {
        .version = QK_STORE_INFO_VERSION, .services = svc, .cap = sizeof svc / sizeof svc[0]};
    if (qk_store_status(tracker, &info) != QK_OK) {
        fprintf(stderr, "demo: %s\n", qk_errmsg());
        return 0;
    }
    unsigned n = 0;
    for (size_t i = 0; i < info.count && i < info.cap; i++) {
        qk_usage u;
        if (qk_peek(tracker, svc[i].service, &u) != QK_OK)
            continue;
        for (unsigned w = 0; w < svc[i].n_windows; w++) {
            const qk_store_window_info *wi = &svc[i].windows[w];
            if (wi->overdraft == 0)
                continue;
            if (n++ == 0)
                printf("\nThe fleet's overdraft (SAFE's counted overshoot: while the store "
                       "was out, each host went\npast its lease by its share of 25 %% of what "
                       "was left at its last sync; docs/store.md, \"Outage\"):\n");
            printf("  %-8s %-7s %" PRIu64 " over the limit of %" PRIu64 " (fleet used %" PRIu64
                   ")\n",
                   u.name, period_name(wi->period), wi->overdraft, wi->fleet_limit, wi->fleet_used);
        }
    }
    return n;
}

static const char usage[] =
    "usage: %s [--config FILE] [--state PATH | --private] [--store URL] [--store-timeout MS]\n"
    "  --config FILE        the services and limits (default: examples/demo.ini)\n"
    "  --state PATH         the state file (default: ./quotakeeper-demo.qkstate)\n"
    "  --private            no state file: the counts live in this process only\n"
    "  --store URL          share the quotas with a fleet: redis://host:port or\n"
    "                       dynamodb://table?region=R[&endpoint=URL] (docs/store.md)\n"
    "  --store-timeout MS   the longest a store call may block, 1..600000 ms (default: the\n"
    "                       config file's store_timeout_ms, else the library's default)\n"
    "  --help               this text\n"
    "Exit status: 0 every call decided; 1 an error; 2 a bad argument; 3 the store was out and\n"
    "no call was granted.\n";

/* A positive number of ms, digits only; -1 when s is not one. */
static int64_t parse_ms(const char *s)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > 600000)
        return -1;
    return (int64_t)v;
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
    int64_t store_timeout = 0; /* 0: the config file's, else the library's default */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(usage, argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--store-timeout") == 0 && i + 1 < argc) {
            store_timeout = parse_ms(argv[++i]);
            if (store_timeout < 0) {
                fprintf(stderr,
                        "demo: --store-timeout %s: not a whole number of ms from 1 to "
                        "600000\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--private") == 0) {
            path = NULL;
        } else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            store = argv[++i];
        } else {
            fprintf(stderr, "demo: %s: unknown option or missing value\n", argv[i]);
            fprintf(stderr, usage, argv[0]);
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
    if (store_timeout > 0)
        opts.store_timeout_ms = store_timeout;
    store = opts.store; /* the file may name one too */
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
    printf("\nEvents as they happen (thresholds, and the store's):\n");

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
            fprintf(stderr, "demo: %s (%s)\n", qk_errmsg(),
                    path != NULL ? "the counts stay in the state file and go with the next run's "
                                   "sync"
                                 : "--private: these counts end with the demo unless the store "
                                   "answers before it exits");
        qk_store_info info = {.version = QK_STORE_INFO_VERSION};
        if (qk_store_status(tracker, &info) == QK_OK) {
            printf("\nThis host in the store: %s\n", info.host_id);
            if (info.degraded)
                printf("The store is degraded (it stopped answering; %" PRIu32
                       " answers in a row since)\n",
                       info.consecutive_successes);
            if (info.last_error[0] != '\0')
                printf("The store's last error: %s\n", info.last_error);
        }
    }
    print_table(store ? "After this run, the whole fleet's counts:" : "After this run:");
    if (store != NULL)
        print_overdraft();
    printf("\n%u calls granted, %u refused", granted, refused);
    if (store != NULL)
        printf(", %u not allowed while the store was out", unavailable);
    printf(", %u attempted\n", WORKERS * FETCHES_EACH);
    qk_tracker_free(tracker);
    free(sources);
    if (failed != 0 || granted + refused + unavailable != WORKERS * FETCHES_EACH)
        return 1;
    if (store != NULL && granted == 0 && unavailable > 0) {
        /* Nothing was counted: exit 0 would call a run that never reached the store a success. */
        fprintf(stderr,
                "demo: the store was out: no call was granted (%u not allowed); is it "
                "running at that URL? (--store-timeout MS if it is slow)\n",
                unavailable);
        return 3;
    }
    return 0;
}
