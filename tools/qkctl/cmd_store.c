/* qkctl store init URL: makes what a shared store needs before trackers use it, through the
 * library's qk_store_init (docs/store.md). A tracker never creates tables; an operator runs
 * this once per store. */
#include <stdio.h>
#include <quotakeeper.h>
#include <string.h>

#include "args.h"
#include "qkctl.h"

int qkctl_cmd_store(int argc, char **argv)
{
    /* argv[0] is "store", argv[1] its subcommand */
    if (argc < 2 || strcmp(argv[1], "init") != 0)
        return qkctl_usage_error("store takes a subcommand: store init URL [--timeout S]");
    const char *timeout = NULL;
    const qkctl_opt opts[] = {{"--timeout", NULL, &timeout}};
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc - 1, argv + 1, opts, 1, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    if (n_pos != 1)
        return qkctl_usage_error("store init takes one store URL");
    int64_t ms = 0; /* the library's default: 30 s */
    if (timeout != NULL && qkctl_parse_seconds(timeout, "--timeout", 1, 3600000, &ms) != 0)
        return QKCTL_USAGE;
    int created = 0;
    if (qk_store_init(&created, pos[0], ms) != QK_OK) {
        qkctl_error("store init: %s", qk_errmsg()); /* the library's messages name no secret */
        return QKCTL_ERROR;
    }
    printf(created ? "store init: created; the store is ready\n"
                   : "store init: already there and ready; nothing changed\n");
    return fflush(stdout) == 0 ? QKCTL_OK : QKCTL_ERROR;
}
