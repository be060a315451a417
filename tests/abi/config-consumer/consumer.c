/* A program outside the tree, built against the installed config library: loads the file
 * named on the command line and consumes from its first service. */
#include <quotakeeper/config.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    qk_config *cfg = NULL;
    if (argc != 2 || qk_config_load(&cfg, argv[1]) != QK_OK) {
        fprintf(stderr, "config_consumer: %s\n", argc == 2 ? qk_config_errmsg() : "usage: FILE");
        return 1;
    }
    qk_tracker *t = NULL;
    qk_usage u;
    if (qk_tracker_new(&t, qk_config_options(cfg)) != QK_OK ||
        qk_try_consume(t, 0, 3, 0, &u) != QK_OK) {
        fprintf(stderr, "config_consumer: %s\n", qk_errmsg());
        return 1;
    }
    printf("config_consumer: %s used %llu of %llu\n", u.name, (unsigned long long)u.windows[0].used,
           (unsigned long long)u.windows[0].limit);
    qk_tracker_free(t);
    qk_config_free(cfg);
    return u.windows[0].used == 3 && u.windows[0].limit == 500 ? 0 : 1;
}
