/* qkctl: inspect and change the quotas in a quotakeeper state file from a shell (issue 9).
 * This file reads the global options and hands the rest to the subcommand. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <quotakeeper.h>

#include "esc.h"
#include "qkctl.h"

/* The message, formatted, then escaped as a whole (esc.h): it may quote arguments, paths,
 * config values and the library's or the store's words, any of which may hold bytes a
 * terminal would obey. */
static void put_message(const char *fmt, va_list ap)
{
    char small[1024];
    va_list again;
    va_copy(again, ap);
    const int len = vsnprintf(small, sizeof small, fmt, ap);
    char *text = small;
    if (len >= (int)sizeof small && (text = malloc((size_t)len + 1)) != NULL)
        vsnprintf(text, (size_t)len + 1, fmt, again);
    va_end(again);
    fputs("qkctl: ", stderr);
    qkctl_fputs_esc(text != NULL ? text : small, stderr); /* cut short when out of memory */
    if (text != small)
        free(text);
}

void qkctl_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_message(fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int qkctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_message(fmt, ap);
    fputs("\n(qkctl --help lists the commands)\n", stderr);
    va_end(ap);
    return QKCTL_USAGE;
}

/* Each subcommand opens the file itself: read-only for show, watch, metrics and serve, as a
 * writer for the others (open.h). */
static const struct {
    const char *name;
    int (*run)(const qkctl_target *, int, char **);
} commands[] = {
    {"show", qkctl_cmd_show},     {"watch", qkctl_cmd_watch},   {"metrics", qkctl_cmd_metrics},
    {"serve", qkctl_cmd_serve},   {"reset", qkctl_cmd_reset},   {"set", qkctl_cmd_set},
    {"refund", qkctl_cmd_refund}, {"record", qkctl_cmd_record}, {"consume", qkctl_cmd_consume},
};

/* "-f PATH", "-fPATH", "--file PATH" and "--file=PATH" (likewise -c). 1 when argv[*i] was
 * this option (its value in *value), 0 when not, -1 on a usage error. */
static int option(int argc, char **argv, int *i, const char *s, const char *l, const char **value)
{
    const char *a = argv[*i];
    const size_t ll = strlen(l);
    const char *v = NULL;
    if (strcmp(a, s) == 0 || strcmp(a, l) == 0) {
        if (*i + 1 >= argc) {
            qkctl_usage_error("%s needs a value", a);
            return -1;
        }
        v = argv[++*i];
    } else if (strncmp(a, s, 2) == 0 && a[2] != '\0' && a[1] != '-') {
        v = a + 2;
    } else if (strncmp(a, l, ll) == 0 && a[ll] == '=') {
        v = a + ll + 1;
    } else {
        return 0;
    }
    if (*value != NULL) {
        qkctl_usage_error("%s given twice", l);
        return -1;
    }
    if (v[0] == '\0') {
        qkctl_usage_error("%s is empty", l);
        return -1;
    }
    *value = v;
    return 1;
}

int main(int argc, char **argv)
{
    qkctl_target tg = {NULL, NULL};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            qkctl_print_help();
            return QKCTL_OK;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("qkctl %s (library %s)\n", QK_VERSION_STRING, qk_version_string());
            return QKCTL_OK;
        }
        int got = option(argc, argv, &i, "-f", "--file", &tg.state_path);
        if (got == 0)
            got = option(argc, argv, &i, "-c", "--config", &tg.config_path);
        if (got < 0)
            return QKCTL_USAGE;
        if (got == 0)
            return qkctl_usage_error("unknown option '%s'", a);
    }
    if (i == argc)
        return qkctl_usage_error("no command given");
    const char *cmd = argv[i];
    if (strcmp(cmd, "help") == 0) {
        qkctl_print_help();
        return QKCTL_OK;
    }
    if (tg.state_path != NULL && tg.config_path != NULL)
        return qkctl_usage_error("give -f STATEFILE or -c CONFIG, not both");
    if (strcmp(cmd, "store") == 0) {
        if (tg.state_path != NULL || tg.config_path != NULL)
            return qkctl_usage_error("store init takes a store URL, not a state or config file");
        return qkctl_cmd_store(argc - i, argv + i);
    }
    if (strcmp(cmd, "check") == 0) {
        if (tg.state_path != NULL)
            return qkctl_usage_error("check reads a config file, not a state file (-f)");
        return qkctl_cmd_check(tg.config_path, argc - i, argv + i);
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(cmd, commands[k].name) != 0)
            continue;
        if (tg.state_path == NULL && tg.config_path == NULL)
            return qkctl_usage_error("%s needs the state file: -f STATEFILE or -c CONFIG", cmd);
        return commands[k].run(&tg, argc - i, argv + i);
    }
    return qkctl_usage_error("unknown command '%s'", cmd);
}
