/* How tests/state/data/v0.2.0.qkstate was made: this program, built against the library at
 * a54ec7c (0.2.0, layout 2, before the window shapes of issue 22), run once on Debian 12 amd64:
 *   cc -std=c11 -I<src>/include -I<build>/include make_v0.2.0.c <build>/libquotakeeper.a \
 *      -lhiredis -lcurl -ljansson -lpthread && ./a.out v0.2.0.qkstate
 * Not built by the project: the file is kept as that release wrote it (tests/state/test_compat.c).
 */
#include <stdio.h>
#include <string.h>
#include "quotakeeper.h"
static int64_t fixed(void *ctx)
{
    return *(int64_t *)ctx;
}
int main(int argc, char **argv)
{
    int64_t now = INT64_C(1767960000000) + 15000; /* 2026-01-09T12:00:15Z */
    qk_service_def d[2];
    memset(d, 0, sizeof d);
    d[0].name = "tiingo";
    d[0].windows[0] = (qk_window_def){QK_MINUTE, 100};
    d[0].windows[1] = (qk_window_def){QK_DAY, 1000};
    d[0].reserve = 5;
    d[1].name = "finnhub";
    d[1].windows[0] = (qk_window_def){QK_FOREVER, 50};
    qk_options o = QK_OPTIONS_INIT;
    o.services = d;
    o.n_services = 2;
    o.capacity = 4;
    o.path = argv[1];
    o.clock = fixed;
    o.clock_ctx = &now;
    qk_tracker *t;
    if (argc < 2 || qk_tracker_new(&t, &o) != QK_OK) {
        fprintf(stderr, "%s\n", qk_errmsg());
        return 1;
    }
    if (qk_record(t, 0, 57, NULL) || qk_try_consume(t, 1, 3, 0, NULL))
        return 1;
    qk_tracker_free(t);
    printf("%s\n", qk_version_string());
    return 0;
}
