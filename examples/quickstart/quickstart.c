/* The README's "Use" snippet as a whole program, built against the installed package
 * (CMakeLists.txt here, or the pkg-config line in README.md). With an argument, the counts live
 * in that state file and a second run continues them; without one, in this process only. */
#include <quotakeeper.h>
#include <stdio.h>
#include <stdlib.h>

static void die(const char *msg)
{
    fprintf(stderr, "quickstart: %s\n", msg);
    exit(1);
}

static void call_finnhub(const qk_usage *u)
{
    printf("quickstart: finnhub call allowed, %llu of %llu used this minute\n",
           (unsigned long long)u->windows[0].used, (unsigned long long)u->windows[0].limit);
}

static void retry_after(const qk_usage *u)
{
    printf("quickstart: finnhub window %d is full, retry at %lld ms\n", u->tripped,
           (long long)u->reset_at_ms);
}

static const qk_service_def services[] = {
    {.name = "finnhub", .windows = {{QK_MINUTE, 60}, {QK_DAY, 1000}}},
    {.name = "sendgrid", .windows = {{QK_DAY, 100}}, .reserve = 10}, /* 10 kept for alerts */
};

int main(int argc, char **argv)
{
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = services;
    opts.n_services = 2;
    opts.path = argc > 1 ? argv[1] : NULL; /* NULL: this process only */

    qk_tracker *t;
    if (qk_tracker_new(&t, &opts) != QK_OK)
        die(qk_errmsg());

    qk_usage u;
    switch (qk_try_consume(t, 0, 1, 0, &u)) {
    case QK_OK:
        call_finnhub(&u);
        break;
    case QK_ELIMIT:
        retry_after(&u); /* window u.tripped is full */
        break;
    default:
        die(qk_errmsg());
    }
    qk_tracker_free(t);
    return 0;
}
