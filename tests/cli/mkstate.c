/* qkctl_mkstate: makes the state files the cli tests run qkctl against, with the real library,
 * so that qkctl is checked against files it did not make itself.
 *
 *   qkctl_mkstate PATH SPEC...
 *   SPEC = NAME:PERIOD=LIMIT[,PERIOD=LIMIT...][:reserve=R][:record=N]
 *
 * e.g. finnhub:minute=60,day=1000:reserve=10:record=5. PERIOD is second, minute, hour, day,
 * week, month or forever, optionally with a shape: PERIOD[/EVERY][@OFFSET_MS], e.g.
 * minute/15=900 or day@25200000=1000, and rolling- before it for QK_WINDOW_ROLLING, e.g.
 * rolling-hour=100 (a word, not a flag character, so a spec reads as the INI key it stands for).
 * The file gets room for two more services than given. Exit 0, or 1 with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <quotakeeper.h>

#define MAX_SERVICES 16

static int period_of(const char *s, qk_period *p)
{
    static const char *const names[] = {"minute",  "hour",   "day", "month",
                                        "forever", "second", "week"};
    for (int i = 0; i < 7; i++) {
        if (strcmp(s, names[i]) == 0) {
            *p = (qk_period)i;
            return 0;
        }
    }
    return -1;
}

static int parse(char *spec, qk_service_def *d, unsigned long long *record)
{
    char *save = NULL;
    d->name = strtok_r(spec, ":", &save);
    char *windows = strtok_r(NULL, ":", &save);
    if (d->name == NULL || windows == NULL)
        return -1;
    unsigned w = 0;
    char *wsave = NULL;
    for (char *one = strtok_r(windows, ",", &wsave); one != NULL;
         one = strtok_r(NULL, ",", &wsave)) {
        char *eq = strchr(one, '=');
        if (eq == NULL || w == QK_MAX_WINDOWS)
            return -1;
        *eq = '\0';
        if (strncmp(one, "rolling-", 8) == 0) {
            d->windows[w].flags = QK_WINDOW_ROLLING;
            one += 8;
        }
        char *at = strchr(one, '@');
        if (at != NULL) {
            *at = '\0';
            d->windows[w].offset_ms = strtoll(at + 1, NULL, 10);
        }
        char *slash = strchr(one, '/');
        if (slash != NULL) {
            *slash = '\0';
            d->windows[w].every = (unsigned)strtoul(slash + 1, NULL, 10);
        }
        if (period_of(one, &d->windows[w].period) != 0)
            return -1;
        d->windows[w++].limit = strtoull(eq + 1, NULL, 10);
    }
    for (char *opt = strtok_r(NULL, ":", &save); opt != NULL; opt = strtok_r(NULL, ":", &save)) {
        if (strncmp(opt, "reserve=", 8) == 0)
            d->reserve = strtoull(opt + 8, NULL, 10);
        else if (strncmp(opt, "record=", 7) == 0)
            *record = strtoull(opt + 7, NULL, 10);
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_SERVICES) {
        fprintf(stderr, "usage: qkctl_mkstate PATH NAME:PERIOD=LIMIT[,...][:reserve=R]"
                        "[:record=N]...\n");
        return 1;
    }
    qk_service_def defs[MAX_SERVICES];
    unsigned long long record[MAX_SERVICES] = {0};
    memset(defs, 0, sizeof defs);
    const size_t n = (size_t)(argc - 2);
    for (size_t i = 0; i < n; i++) {
        if (parse(argv[i + 2], &defs[i], &record[i]) != 0) {
            fprintf(stderr, "qkctl_mkstate: bad spec '%s'\n", argv[i + 2]);
            return 1;
        }
    }
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = n;
    o.capacity = n + 2;
    o.path = argv[1];
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK) {
        fprintf(stderr, "qkctl_mkstate: %s\n", qk_errmsg());
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (record[i] != 0 && qk_record(t, (qk_service)i, record[i], NULL) != QK_OK) {
            fprintf(stderr, "qkctl_mkstate: record: %s\n", qk_errmsg());
            qk_tracker_free(t);
            return 1;
        }
    }
    qk_tracker_free(t);
    return 0;
}
