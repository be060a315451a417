/* Opening the tracker a subcommand works on, from -f STATEFILE or -c CONFIG.
 *
 * Inspecting (show, watch, metrics, serve) opens with QK_OPEN_READONLY: nothing is created,
 * configured or written. Changing (reset, set, refund, record, consume) opens the file as a
 * writer: with -f it configures no service and never creates a file (an existing one only);
 * with -c it configures the config's services, as a program using that config would. */
#ifndef QKCTL_OPEN_H
#define QKCTL_OPEN_H

#include <stdbool.h>

#include <quotakeeper.h>

#include "qkctl.h"

typedef struct {
    qk_tracker *t;
    const char *path; /* the state file, for messages */
    void *config;     /* the loaded config, if any; owns path then */
    int code;         /* on failure: the QK_E* code (qk_err_name for JSON) */
    char msg[1024];   /* on failure: what went wrong, naming the file */
} qkctl_tracker;

/* Fills *out and returns QK_OK, or returns out->code with out->msg set and nothing left open. */
int qkctl_open(const qkctl_target *tg, bool readonly, qkctl_tracker *out);

void qkctl_close(qkctl_tracker *tk);

/* Whether this build reads config files (-c, check). */
bool qkctl_have_config(void);

#endif
