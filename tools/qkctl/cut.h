/* One consistent cut of the file's services (qk_snapshot), optionally narrowed to the services
 * named on the command line, with the time it was taken. Every view (table, JSON, metrics) is
 * drawn from one cut, so no view mixes two moments. */
#ifndef QKCTL_CUT_H
#define QKCTL_CUT_H

#include <stddef.h>
#include <stdint.h>

#include <quotakeeper.h>

/* A service's window shapes as the tracker counts them (qk_window_get), each tz pointing at the
 * cut's own copy of the zone's name, so a cut outlives the tracker it was taken from. */
typedef struct {
    qk_window_def w[QK_MAX_WINDOWS];
    char tz[QK_MAX_WINDOWS][64]; /* an IANA name is at most 63 bytes (the library's limit) */
} qkctl_shapes;

typedef struct {
    qk_usage *u;          /* malloc'd */
    qkctl_shapes *shapes; /* malloc'd, one per u[i] */
    size_t n;
    int64_t now_ms; /* when it was taken: "resets in" counts from here */
    int code;       /* on failure: the QK_E* code */
    char msg[512];  /* on failure: why */
} qkctl_cut;

/* Takes the cut. QK_OK, or the failure's code with c->msg set and nothing allocated. */
int qkctl_cut_take(qk_tracker *t, qkctl_cut *c);

/* Keeps only the services named, in the order named (a name given twice shows twice).
 * QK_ENOENT with c->msg listing the file's services when one is not there; the cut is then
 * unchanged. */
int qkctl_cut_select(qkctl_cut *c, char *const *names, int n);

void qkctl_cut_free(qkctl_cut *c);

/* The current time, ms since the epoch (the clock the library uses). */
int64_t qkctl_now_ms(void);

#endif
