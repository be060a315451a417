/* qkctl: what every subcommand shares (exit codes, the target file, messages). docs/qkctl.md
 * describes the command; each file here is one part of it. */
#ifndef QKCTL_H
#define QKCTL_H

#include <stdarg.h>
#include <stdbool.h>

/* Exit codes, documented in --help, qkctl(1) and docs/qkctl.md: frozen once shipped, since
 * shell scripts branch on them. */
enum {
    QKCTL_OK = 0,      /* done */
    QKCTL_ERROR = 1,   /* the operation failed: a missing or corrupt file, an unknown service */
    QKCTL_USAGE = 2,   /* the command line is wrong: nothing was opened */
    QKCTL_REFUSED = 3, /* consume: the quota would be exceeded; nothing counted */
};

/* Where the quotas live: exactly one of the two (-f or -c). */
typedef struct {
    const char *state_path;  /* -f PATH */
    const char *config_path; /* -c CONFIG */
} qkctl_target;

/* "qkctl: <message>" on stderr. */
__attribute__((format(printf, 1, 2))) void qkctl_error(const char *fmt, ...);

/* A usage error: the message, a pointer to --help, and QKCTL_USAGE to return. */
__attribute__((format(printf, 1, 2))) int qkctl_usage_error(const char *fmt, ...);

/* The subcommands: argv[0] is the subcommand's name, argv[1..argc) its arguments. Each returns
 * the process's exit code. */
int qkctl_cmd_show(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_watch(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_metrics(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_serve(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_reset(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_set(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_refund(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_record(const qkctl_target *tg, int argc, char **argv);
int qkctl_cmd_consume(const qkctl_target *tg, int argc, char **argv);
/* store init URL: needs no state file. */
int qkctl_cmd_store(int argc, char **argv);
/* check takes CONFIG as its argument, or the -c option when it has none. */
int qkctl_cmd_check(const char *config_opt, int argc, char **argv);

/* The --help text. */
void qkctl_print_help(void);

#endif
