/* check: validates a config file and prints what it defines, as a program using it would be
 * configured. The config library's messages name file:line. */
#include <inttypes.h>
#include <stdio.h>

#include "args.h"
#include "esc.h"
#include "open.h"
#include "qkctl.h"

#ifdef QKCTL_HAVE_CONFIG
#include <quotakeeper/config.h>

#include "timefmt.h"

static void print_config(const char *path, const qk_options *o)
{
    qkctl_fputs_esc(path, stdout);
    printf(": valid\n");
    if (o->path != NULL) {
        printf("state file: ");
        qkctl_fputs_esc(o->path, stdout);
        putchar('\n');
    } else {
        printf("state file: none (counts in each process's memory)\n");
    }
    printf("%zu service%s\n", o->n_services, o->n_services == 1 ? "" : "s");
    for (size_t i = 0; i < o->n_services; i++) {
        const qk_service_def *d = &o->services[i];
        printf("  ");
        qkctl_fputs_esc(d->name, stdout);
        putchar(':');
        for (unsigned w = 0; w < QK_MAX_WINDOWS && d->windows[w].limit != 0; w++)
            printf("%s %s %" PRIu64, w ? "," : "", qkctl_period_name(d->windows[w].period),
                   d->windows[w].limit);
        printf("; warn %u%%, critical %u%%, reserve %" PRIu64 "\n", d->warn_pct ? d->warn_pct : 50u,
               d->critical_pct ? d->critical_pct : 80u, d->reserve);
    }
}
#endif

int qkctl_cmd_check(const char *config_opt, int argc, char **argv)
{
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, NULL, 0, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    if (n_pos > 1 || (n_pos == 0 && config_opt == NULL))
        return qkctl_usage_error("check takes one CONFIG file");
    const char *path = n_pos == 1 ? pos[0] : config_opt;
#ifdef QKCTL_HAVE_CONFIG
    qk_config *cfg = NULL;
    if (qk_config_load(&cfg, path) != QK_OK) {
        qkctl_error("%s", qk_config_errmsg());
        return QKCTL_ERROR;
    }
    print_config(path, qk_config_options(cfg));
    qk_config_free(cfg);
    return fflush(stdout) == 0 ? QKCTL_OK : QKCTL_ERROR;
#else
    qkctl_error("cannot check %s: this build has no config support (built without the "
                "quotakeeper config library)",
                path);
    return QKCTL_ERROR;
#endif
}
