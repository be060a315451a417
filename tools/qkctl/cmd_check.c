/* check: validates a config file and prints what it defines, as a program using it would be
 * configured. The config library's messages name file:line.
 *
 * The store line (docs/qkctl.md, "check"): which store the config names, its URL with the
 * password shown as ***, and whether it answers now. The URL is checked as qk_tracker_new checks
 * it, by opening a tracker on it with no service and no state file, which contacts nothing; a
 * URL that tracker refuses makes the config bad. Reachability is asked only where asking
 * changes nothing: for Redis qk_store_init makes nothing and only asks the server's clock with
 * the URL's credentials; for DynamoDB it would create a missing table, so the store is not
 * contacted and the line says so. A store that does not answer is reported, not an error: the
 * file is valid and a program using it opens and runs its outage policy. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        /* Each window by its shape, as show names it ("rolling minute", "15 minutes"), not
         * its period alone: a rolling minute printed as "minute" would read as a fixed one. */
        for (unsigned w = 0; w < QK_MAX_WINDOWS && d->windows[w].limit != 0; w++) {
            char shape[QKCTL_SHAPE_MAX];
            printf("%s %s %" PRIu64, w ? "," : "", qkctl_shape_text(&d->windows[w], shape),
                   d->windows[w].limit);
        }
        printf("; warn %u%%, critical %u%%, reserve %" PRIu64 "\n", d->warn_pct ? d->warn_pct : 50u,
               d->critical_pct ? d->critical_pct : 80u, d->reserve);
    }
}

/* The URL with the password of its user information (between the first ':' and the last '@'
 * of the authority) shown as ***, as the library's messages show it. malloc'd; NULL when out
 * of memory. */
static char *redacted(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep != NULL ? sep + 3 : url;
    const size_t auth_len = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + auth_len; p++)
        if (*p == '@')
            at = p;
    const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    char *out = malloc(strlen(url) + 4);
    if (out == NULL)
        return NULL;
    if (colon == NULL)
        strcpy(out, url);
    else
        sprintf(out, "%.*s:***%s", (int)(colon - url), url, at);
    return out;
}

static bool is_redis(const char *url)
{
    return strncmp(url, "redis://", 8) == 0 || strncmp(url, "redis+unix://", 13) == 0;
}

/* The store's URL as qk_tracker_new checks it: QK_OK, or the library's code and message. */
static int store_url_ok(const qk_options *conf)
{
    qk_options o = QK_OPTIONS_INIT;
    o.store = conf->store;
    o.store_timeout_ms = conf->store_timeout_ms;
    o.capacity = 1; /* the least a private tracker takes; no service is ever added */
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    if (rc == QK_OK)
        qk_tracker_free(t);
    return rc;
}

/* "store: URL: reachable", "... unreachable: why", or "store: none ...". */
static void print_store(const qk_options *o, const char *shown, int64_t timeout_ms)
{
    if (o->store == NULL) {
        printf("store: none (the counts are this host's alone)\n");
        return;
    }
    printf("store: ");
    qkctl_fputs_esc(shown, stdout);
    if (!is_redis(o->store)) {
        printf(": not contacted (the one call that reaches a DynamoDB table, qk_store_init, "
               "creates it when missing: qkctl store init URL makes and checks it)\n");
        return;
    }
    int created = 0;
    const int rc = qk_store_init(&created, o->store, timeout_ms);
    if (rc == QK_OK) {
        printf(": reachable\n");
        return;
    }
    printf(rc == QK_EUNAVAIL ? ": unreachable: " : ": refused: ");
    qkctl_fputs_esc(qk_errmsg(), stdout); /* the library's messages never show a password */
    putchar('\n');
}
#endif

int qkctl_cmd_check(const char *config_opt, int argc, char **argv)
{
    const char *timeout = NULL;
    const qkctl_opt opts[] = {{"--timeout", NULL, &timeout}};
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, opts, 1, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    if (n_pos > 1 || (n_pos == 0 && config_opt == NULL))
        return qkctl_usage_error("check takes one CONFIG file");
    int64_t timeout_ms = 5000;
    if (timeout != NULL &&
        qkctl_parse_seconds(timeout, "--timeout", 100, 3600000, &timeout_ms) != 0)
        return QKCTL_USAGE;
    const char *path = n_pos == 1 ? pos[0] : config_opt;
#ifdef QKCTL_HAVE_CONFIG
    qk_config *cfg = NULL;
    if (qk_config_load(&cfg, path) != QK_OK) {
        qkctl_error("%s", qk_config_errmsg());
        return QKCTL_ERROR;
    }
    const qk_options *o = qk_config_options(cfg);
    if (o->store != NULL && store_url_ok(o) != QK_OK) {
        /* What a program using the file would hear from qk_tracker_new. */
        qkctl_error("%s: store: %s", path, qk_errmsg());
        qk_config_free(cfg);
        return QKCTL_ERROR;
    }
    char *shown = o->store != NULL ? redacted(o->store) : NULL;
    if (o->store != NULL && shown == NULL) {
        qkctl_error("out of memory");
        qk_config_free(cfg);
        return QKCTL_ERROR;
    }
    print_config(path, o);
    print_store(o, shown, timeout_ms);
    free(shown);
    qk_config_free(cfg);
    return fflush(stdout) == 0 ? QKCTL_OK : QKCTL_ERROR;
#else
    (void)timeout_ms;
    qkctl_error("cannot check %s: this build has no config support (built without the "
                "quotakeeper config library)",
                path);
    return QKCTL_ERROR;
#endif
}
