/* A program compiled against quotakeeper 0.1.0's headers (tests/abi/v0.1.0/, options version 2:
 * a shorter qk_service_def and a qk_event without a kind) and run against this library, as a
 * binary built last year runs after an upgrade. It exits 0 only if every definition was read
 * at its stride, every event arrived in the old layout, and a state file works as it did.
 *
 * What it would catch: reading a version 2 array at the version 3 stride (the second service
 * would get the first's tail as its name and limits), qk_service_add reading past a version 2
 * definition, a store event handed to an old callback, or any renumbered error. */
#define _POSIX_C_SOURCE 200809L
#include <quotakeeper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(QK_OPTIONS_VERSION == 2, "compiled against the 0.1.0 headers");

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "old_consumer: %s:%d: ", __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, " (%s)\n", qk_errmsg());                                               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

typedef struct {
    int n;
    qk_event last;
} event_log;

static void on_event(const qk_event *ev, void *payload)
{
    event_log *log = payload;
    log->n++;
    log->last = *ev; /* sizeof(qk_event) as 0.1.0 knew it */
}

static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return INT64_C(1767960000000); /* 2026-01-09 12:00 UTC */
}

static void check_services(qk_tracker *t, const qk_service_def *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qk_service s = 99;
        CHECK(qk_service_find(t, defs[i].name, &s) == QK_OK && s == i, "find %s", defs[i].name);
        qk_usage u;
        CHECK(qk_peek(t, (qk_service)i, &u) == QK_OK, "peek %zu", i);
        CHECK(strcmp(u.name, defs[i].name) == 0, "service %zu is '%s'", i, u.name);
        unsigned nw = 0;
        while (nw < QK_MAX_WINDOWS && defs[i].windows[nw].limit != 0)
            nw++;
        CHECK(u.n_windows == nw, "%s has %u windows, not %u", defs[i].name, u.n_windows, nw);
        for (unsigned w = 0; w < nw; w++)
            CHECK(u.windows[w].limit == defs[i].windows[w].limit &&
                      u.windows[w].period == defs[i].windows[w].period,
                  "%s window %u", defs[i].name, w);
    }
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/qk-old-consumer-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 2;
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/state.qk", dir);

    /* Three definitions in a row: any stride error shows in the second and third. */
    const qk_service_def defs[3] = {
        {.name = "tiingo", .windows = {{QK_MONTH, 500}}, .reserve = 5},
        {.name = "finnhub", .windows = {{QK_MINUTE, 60}, {QK_DAY, 1000}}, .warn_pct = 10},
        {.name = "sendgrid", .windows = {{QK_DAY, 100}}, .critical_pct = 90},
    };
    event_log log = {0};
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = 3;
    o.capacity = 5;
    o.clock = fixed_clock;
    o.on_event = on_event;
    o.payload = &log;
    for (int pass = 0; pass < 2; pass++) { /* private memory, then a state file */
        o.path = pass ? path : NULL;
        qk_tracker *t = NULL;
        CHECK(qk_tracker_new(&t, &o) == QK_OK, "qk_tracker_new pass %d", pass);
        if (t == NULL)
            return 1;
        CHECK(qk_service_count(t) == 3, "3 services");
        check_services(t, defs, 3);

        qk_usage u;
        CHECK(qk_try_consume(t, 1, 6, 0, &u) == QK_OK, "consume");
        CHECK(log.n == pass * 2 + 1 && log.last.service == 1 && log.last.to == QK_LEVEL_WARN &&
                  log.last.used == 6 && log.last.limit == 60 &&
                  strcmp(log.last.name, "finnhub") == 0,
              "the WARN event, in the old layout");
        CHECK(qk_try_consume(t, 0, 496, 0, &u) == QK_ELIMIT && u.tripped == 0,
              "tiingo's reserve of 5 holds");

        const qk_service_def extra = {.name = "extra", .windows = {{QK_HOUR, 7}}};
        qk_service s = 99;
        CHECK(qk_service_add(t, &extra, &s) == QK_OK && s == 3, "add a 0.1.0 definition");
        CHECK(qk_peek(t, 3, &u) == QK_OK && u.windows[0].limit == 7, "extra's limit");
        qk_usage snap[5];
        size_t n = 0;
        CHECK(qk_snapshot(t, snap, 5, &n) == QK_OK && n == 4, "snapshot");
        CHECK(n == 4 && snap[1].windows[0].used == 6 && strcmp(snap[3].name, "extra") == 0,
              "snapshot contents");
        CHECK(qk_record(t, 7, 1, NULL) == QK_ENOENT && QK_ENOENT == -2, "error values");
        CHECK(qk_try_consume(t, 2, 100, 0, &u) == QK_OK, "sendgrid to its limit");
        CHECK(log.last.to == QK_LEVEL_EXHAUSTED && log.last.service == 2, "sendgrid exhausted");
        qk_tracker_free(t);
    }

    /* Reopen the file: what 0.1.0 wrote through this library stays. */
    qk_tracker *t = NULL;
    o.on_event = NULL;
    CHECK(qk_tracker_new(&t, &o) == QK_OK, "reopen");
    qk_usage u;
    CHECK(t && qk_peek(t, 1, &u) == QK_OK && u.windows[0].used == 6, "counts kept");
    qk_tracker_free(t);
    unlink(path);
    rmdir(dir);
    if (failures == 0)
        printf("old_consumer: a 0.1.0 program ran against quotakeeper %s\n", qk_version_string());
    (void)argc, (void)argv;
    return failures ? 1 : 0;
}
