/* A program outside the tree, built against the installed package. */
#include <quotakeeper.h>
#include <stdio.h>

int main(void)
{
    const qk_service_def def = {.name = "tiingo", .windows = {{QK_MONTH, 500}}};
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = &def;
    opts.n_services = 1;
    qk_tracker *t = NULL;
    qk_usage u;
    if (qk_tracker_new(&t, &opts) != QK_OK || qk_try_consume(t, 0, 3, 0, &u) != QK_OK) {
        fprintf(stderr, "consumer: %s\n", qk_errmsg());
        return 1;
    }
    printf("consumer: quotakeeper %s, %s used %llu of %llu\n", qk_version_string(), u.name,
           (unsigned long long)u.windows[0].used, (unsigned long long)u.windows[0].limit);
    qk_tracker_free(t);
    return u.windows[0].used == 3 ? 0 : 1;
}
