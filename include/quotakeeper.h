/* quotakeeper: count and gate calls to rate-limited APIs from many threads, losing no count.
 *
 * Conventions (see docs/api.md):
 * - Fallible functions return 0 (QK_OK) or a negative QK_E* code; outputs come first in
 *   constructors and last elsewhere. On error nothing is changed, outputs included, and
 *   qk_errmsg() describes the failure for the calling thread.
 * - Every function is thread-safe except qk_tracker_free().
 * - Times are milliseconds since the Unix epoch, UTC.
 */
#ifndef QUOTAKEEPER_H
#define QUOTAKEEPER_H

#include <stddef.h>
#include <stdint.h>

#include "quotakeeper/errors.h"
#include "quotakeeper/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Only the public API is exported from the shared library; everything else is hidden. */
#if defined(QK_BUILDING)
#define QK_EXTERN __attribute__((visibility("default")))
#else
#define QK_EXTERN
#endif

/* Error codes, generated from the single table in quotakeeper/errors.h. */
typedef enum {
#define QK_ERROR_ENUM_(name, value, msg) name = (value),
    QK_ERROR_TABLE(QK_ERROR_ENUM_)
#undef QK_ERROR_ENUM_
} qk_error;

enum {
    QK_MAX_WINDOWS = 4,         /* windows per service */
    QK_NAME_MAX = 64,           /* service name buffer, terminating NUL included */
    QK_OPTIONS_VERSION = 4,     /* current qk_options layout; versions 1 to 3 are still read */
    QK_PRIORITY = 1u << 0,      /* qk_try_consume flag: may use the reserve */
    QK_OPEN_READONLY = 1u << 0, /* qk_options.flags: inspect an existing state file only */
};

/* reset_at_ms of a window that never resets (QK_FOREVER). */
#define QK_NEVER INT64_MAX

typedef struct qk_tracker qk_tracker;
/* Dense index 0..n-1 in registration order, stable for the tracker's life. */
typedef uint32_t qk_service;

/* A window's unit. Fixed windows of a second to a week are aligned to multiples of their length
 * from the UTC epoch (weeks from Monday 1969-12-29), months to calendar months; a window's tz and
 * offset_ms move those boundaries (docs/windows.md). */
typedef enum {
    QK_MINUTE = 0,
    QK_HOUR = 1,
    QK_DAY = 2,     /* resets at 00:00 UTC */
    QK_MONTH = 3,   /* resets at 00:00 UTC on the first of the month */
    QK_FOREVER = 4, /* never resets */
    QK_SECOND = 5,  /* options version 4 */
    QK_WEEK = 6     /* options version 4: an ISO week, from Monday 00:00 */
} qk_period;

/* qk_window_def.flags. */
enum {
    /* At most `limit` calls consumed in any interval of the window's length: a sliding window
     * counted in 50 sub-buckets (docs/windows.md, "Rolling windows"). */
    QK_WINDOW_ROLLING = 1u << 0
};

typedef enum {
    QK_LEVEL_OK = 0,
    QK_LEVEL_WARN = 1,     /* used*100 >= warn_pct*limit */
    QK_LEVEL_CRITICAL = 2, /* used*100 >= critical_pct*limit */
    QK_LEVEL_EXHAUSTED = 3 /* used >= limit */
} qk_level;

/* E.g. {QK_MINUTE, 900, .every = 15}: 900 calls per quarter hour; {QK_SECOND, 30, .flags =
 * QK_WINDOW_ROLLING}: 30 in any second; {QK_DAY, 10000, .tz = "America/Los_Angeles"}. */
typedef struct {
    qk_period period;
    uint64_t limit; /* 0 ends the window list */
    /* Options version 4. */
    unsigned every;    /* windows of `every` periods; 0 and 1 mean one */
    unsigned flags;    /* QK_WINDOW_ROLLING */
    int64_t offset_ms; /* a fixed window's boundaries this much later: 0 <= offset < its length */
    const char *tz;    /* an IANA zone for QK_DAY, QK_WEEK, QK_MONTH midnights; NULL: UTC; copied */
} qk_window_def;

/* What a service's consumes do beyond the host's lease while the shared store cannot be
 * reached (docs/stability.md: used only with qk_options.store). */
typedef enum {
    QK_OUTAGE_SAFE = 0,   /* a bounded share of what was left at the last sync */
    QK_OUTAGE_CLOSED = 1, /* refuse */
    QK_OUTAGE_OPEN = 2    /* the local limit only: the fleet may admit up to hosts x limit */
} qk_outage;

/* Its layout follows the options version the tracker was opened with: a caller of version 1 or
 * 2 passes the layout without the version 3 fields (arrays are read at that stride, and
 * qk_service_add reads that much), so binaries built against older headers keep working. */
typedef struct {
    const char *name; /* 1..QK_NAME_MAX-1 characters from [A-Za-z0-9_.-]; copied */
    qk_window_def windows[QK_MAX_WINDOWS];
    uint8_t warn_pct;     /* 0 means 50 */
    uint8_t critical_pct; /* 0 means 80 */
    uint64_t reserve;     /* calls only QK_PRIORITY consumers may take; below every limit */
    /* Version 3; both matter only with a shared store (qk_options.store). */
    qk_outage outage;   /* QK_OUTAGE_SAFE by default */
    uint64_t lease_max; /* most calls one host holds at a time; 0: adaptive, 1: no lease */
} qk_service_def;

/* What an event reports. Callers of options versions 1 and 2 only ever get QK_EVENT_LEVEL (and
 * their qk_event has no `kind`): the other kinds reach callbacks of version 3 and later. */
typedef enum {
    QK_EVENT_LEVEL = 0,          /* a window's level changed: window, from, to, used, limit */
    QK_EVENT_STORE_DEGRADED = 1, /* the shared store stopped answering (service is unset) */
    QK_EVENT_STORE_RECOVERED = 2 /* the shared store answers again (service is unset) */
} qk_event_kind;

typedef struct {
    qk_service service;
    const char *name; /* valid for the tracker's life */
    unsigned window;  /* index into the service's windows */
    qk_level from, to;
    uint64_t used, limit; /* the window's count and limit right after the change */
    int64_t window_start_ms;
    uint64_t seq;       /* per service, from 1, in the order the changes happened */
    qk_event_kind kind; /* options version 3 */
} qk_event;

/* Called after every lock is released, in the thread whose operation caused the change. It
 * may call any qk_ function on the same tracker except qk_tracker_free(). */
typedef void (*qk_event_fn)(const qk_event *ev, void *payload);

typedef struct {
    unsigned version; /* QK_OPTIONS_VERSION */
    const qk_service_def *services;
    size_t n_services;
    size_t capacity;                   /* most services ever; 0 means n_services */
    int64_t (*clock)(void *clock_ctx); /* ms since the epoch, UTC; NULL: system clock */
    void *clock_ctx;
    qk_event_fn on_event; /* may be NULL */
    void *payload;        /* passed to on_event */
    /* Version 2: a state file shared by every process on the host that opens the same path,
     * surviving restarts (docs/state-file.md). NULL: private memory. */
    const char *path;
    unsigned mode; /* permissions when the file is created; 0 means 0600 */
    /* Version 3. */
    unsigned flags; /* QK_OPEN_READONLY */
    /* The shared store through which a fleet of hosts shares each quota (docs/store.md), as a
     * URL whose scheme picks the backend; NULL: none. */
    const char *store;
    int64_t store_timeout_ms; /* the longest any store call may block a caller; 0 means 100 */
} qk_options;

#define QK_OPTIONS_INIT                                                                            \
    {                                                                                              \
        QK_OPTIONS_VERSION, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0                \
    }

typedef struct {
    qk_period period;
    uint64_t limit, used;
    uint64_t remaining; /* limit - used, 0 when over; ignores the reserve */
    int64_t window_start_ms;
    int64_t reset_at_ms; /* end of the window; QK_NEVER for QK_FOREVER */
    qk_level level;
} qk_window_usage;

typedef struct {
    qk_service service;
    char name[QK_NAME_MAX];
    qk_level level;      /* highest level among the windows */
    uint64_t remaining;  /* of the binding window: the tripped one, else the least remaining */
    int64_t reset_at_ms; /* of the binding window */
    int tripped;         /* window that refused a consume, else -1 */
    unsigned n_windows;
    qk_window_usage windows[QK_MAX_WINDOWS];
} qk_usage;

/* Creates a tracker with opts->services registered in order.
 * With opts->path, opens the state file there, creating it if missing.
 * With QK_OPEN_READONLY in opts->flags, opens an existing state file to inspect it: nothing is
 * created, configured or reconciled, and every call that would change a count or a definition
 * fails with QK_EREADONLY; peeks and snapshots show windows that ended as rolled over without
 * writing it. The process still needs write access to the file, whose locks it takes to read a
 * consistent cut (docs/state-file.md). An existing file keeps
 * its capacity and its services' indices (use qk_service_find); configured services take their
 * new definitions, keeping their counts per window period; stored services that are not
 * configured are kept; windows that ended while no process ran are rolled over. Events caused
 * by that are delivered before this returns.
 * Errors: QK_EINVAL (NULL out/opts, unsupported version, capacity below n_services, zero or
 * above 2^20, services NULL with n_services > 0, mode above 07777, unknown flag bits,
 * QK_OPEN_READONLY without a path or with services or a store, a malformed store URL or one whose
 * scheme this build has no backend for, a negative store_timeout_ms, any invalid service as in
 * qk_service_add), QK_EEXIST (duplicate names), QK_ENOMEM, QK_EFULL (the file has no room for
 * the configured services), QK_EIO (the file cannot be opened, locked, sized or mapped; a
 * symbolic link is refused; a read-only open of a missing or unfinished file; a build without
 * robust process-shared mutexes; no room left on the filesystem for a new file: its blocks are
 * reserved before it is mapped), QK_ECORRUPT (truncated, corrupt, foreign or other-version
 * file, or an empty or half-created one that another process has open; it is left untouched). On
 * error *out is left untouched. A store URL's password never appears in qk_errmsg().
 */
QK_EXTERN int qk_tracker_new(qk_tracker **out, const qk_options *opts);

/* Frees the tracker, flushing a state file first. NULL is a no-op. Not thread-safe: no other
 * call on t may be in flight. */
QK_EXTERN void qk_tracker_free(qk_tracker *t);

/* Writes a state file's pages to disk (msync). Every count is in the file's shared pages as
 * soon as its call returns, so a crash of the process loses nothing; this guards against power
 * loss. A no-op for private trackers. Errors: QK_EINVAL (NULL t), QK_EIO. */
QK_EXTERN int qk_tracker_flush(qk_tracker *t);

/* fork() with a private tracker in use: call prepare before fork(), parent in the parent and
 * child in the child after it. The child then has a usable copy. A tracker on a state file
 * needs none of this (the calls do nothing): both processes share the file. NULL is a no-op. */
QK_EXTERN void qk_atfork_prepare(qk_tracker *t);
QK_EXTERN void qk_atfork_parent(qk_tracker *t);
QK_EXTERN void qk_atfork_child(qk_tracker *t);

/* Registers a service; its windows start in the current calendar period. def is read in the
 * layout of the options version t was opened with.
 * Errors: QK_EINVAL (NULL t/def, bad name, no windows, a window after the list's end, unknown
 * period, a window's every on QK_FOREVER, an offset_ms that is negative or not below the window's
 * shortest length, unknown window flag bits, a rolling window of QK_MONTH or QK_FOREVER or with
 * an offset, a tz (not yet supported), two windows of the same shape, pct above 100, warn above
 * critical, reserve not below every limit, unknown outage policy; each message names the service,
 * the window and the field), QK_EEXIST, QK_EFULL (capacity reached), QK_EREADONLY, QK_ECORRUPT (a
 * state file that shrank while open), QK_EIO (fstat failed). `out` may be NULL. */
QK_EXTERN int qk_service_add(qk_tracker *t, const qk_service_def *def, qk_service *out);

/* Errors: QK_EINVAL (NULL argument), QK_ENOENT (no service of that name), QK_ECORRUPT (a state
 * file that shrank while open), QK_EIO (fstat failed). */
QK_EXTERN int qk_service_find(const qk_tracker *t, const char *name, qk_service *out);

/* Number of registered services; 0 for NULL and for a state file that shrank while open. */
QK_EXTERN size_t qk_service_count(const qk_tracker *t);

/* Counts n calls already made, in every window. Never refuses for being over the limit.
 * Errors: QK_EINVAL (NULL t, n == 0), QK_ENOENT, QK_ERANGE (a count would overflow),
 * QK_EREADONLY, QK_ECORRUPT and QK_EIO as for a counting call on a state file (below). */
QK_EXTERN int qk_record(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out);

/* Atomically checks every window and counts n in all of them, or in none.
 * Without QK_PRIORITY the last `reserve` calls of each window are off limits.
 * Errors: QK_EINVAL (NULL t, n == 0, unknown flag bits), QK_ENOENT, QK_ELIMIT (nothing
 * counted; out->tripped names the window), QK_EREADONLY, QK_EUNAVAIL (with a store: it cannot
 * be reached and the service's outage policy allows no more calls past this host's lease;
 * nothing counted), QK_ECORRUPT or QK_EIO (a state file whose lock cannot be taken or flushed,
 * or as below). `out` may be NULL.
 *
 * A counting call on a state file (qk_record, qk_try_consume, qk_refund, qk_set_used,
 * qk_reset) also fails with QK_ECORRUPT, counting nothing, when the service's slot fails its
 * seal (a word changed outside the library) and once the file is known to have shrunk while
 * open (a truncation faults, or its size is seen shorter: looked at every 100 ms of the
 * tracker's clock), and from then on; QK_EIO when that fstat fails (docs/state-file.md). */
QK_EXTERN int qk_try_consume(qk_tracker *t, qk_service s, uint64_t n, unsigned flags,
                             qk_usage *out);

/* Gives back n calls that never reached the provider, in the current windows; a window's count
 * stops at 0. Errors: QK_EINVAL (NULL t, n == 0), QK_ENOENT, QK_EREADONLY, QK_ECORRUPT and
 * QK_EIO as for qk_try_consume on a state file. */
QK_EXTERN int qk_refund(qk_tracker *t, qk_service s, uint64_t n);

/* Current usage. Errors: QK_EINVAL (NULL t/out), QK_ENOENT, QK_ECORRUPT (a state file that
 * shrank while open, or whose slot fails its check: a bound or a level that does not match its
 * count, or its seal; the message names the service and window; nothing is rolled), QK_EIO
 * (fstat failed). */
QK_EXTERN int qk_peek(qk_tracker *t, qk_service s, qk_usage *out);

/* Window `window` of service s as the tracker counts it: period and limit, every (1 or more),
 * flags, offset_ms, and tz (NULL: UTC), for tools that show a window's shape (qkctl show). Read
 * in one hold of the service's lock, as stored: it rolls no window and delivers no event.
 * Errors as for qk_peek, and QK_EINVAL for a window the service does not have. */
QK_EXTERN int qk_window_get(qk_tracker *t, qk_service s, unsigned window, qk_window_def *out);

/* Sets the current window's count, e.g. to the provider's own figure.
 * Errors: QK_EINVAL (NULL t, window out of range), QK_ENOENT, QK_EREADONLY, QK_ECORRUPT and
 * QK_EIO as for qk_try_consume on a state file. */
QK_EXTERN int qk_set_used(qk_tracker *t, qk_service s, unsigned window, uint64_t used);

/* Zeroes every current window of one service / of all services, atomically against records.
 * Errors: QK_EINVAL (NULL t), QK_ENOENT (qk_reset), QK_ENOMEM (qk_reset_all), QK_EREADONLY,
 * QK_ECORRUPT or QK_EIO (qk_reset: as for qk_try_consume on a state file; qk_reset_all: as for
 * qk_snapshot). */
QK_EXTERN int qk_reset(qk_tracker *t, qk_service s);
QK_EXTERN int qk_reset_all(qk_tracker *t);

/* A consistent cut of every service: no record is half-seen, and the cut lies between
 * operations. Errors: QK_EINVAL (NULL t/count, NULL out with cap > 0), QK_ERANGE (cap too
 * small; *count is the number needed), QK_ENOMEM, QK_ECORRUPT and QK_EIO as for qk_peek (also
 * from qk_reset_all, which checks every slot the same way before changing any). */
QK_EXTERN int qk_snapshot(qk_tracker *t, qk_usage *out, size_t cap, size_t *count);

/* ---- The shared store (docs/store.md): one quota shared by a fleet of hosts ---- */

/* Sends every service's counts to the store and gives back the lease this host holds but has
 * not used, so that other hosts may use it: call it before a short-lived process or a Lambda
 * handler returns. Returns once the store has them, or after qk_options.store_timeout_ms.
 * Errors: QK_EINVAL (NULL t, or t has no store), QK_EUNAVAIL (the store did not answer in time;
 * nothing is lost: the counts stay here and go with the next sync), QK_EIO (the store answered
 * with an error, named in qk_errmsg(); the other services were still synced), QK_ENOMEM. */
QK_EXTERN int qk_store_sync(qk_tracker *t);

/* One window of one service, as this host holds it. */
typedef struct {
    qk_period period;
    int64_t window_start_ms;
    uint64_t held;        /* granted to this host and not used yet: consumes stay local */
    uint64_t unsynced;    /* used here and not yet acknowledged by the store */
    uint64_t fleet_used;  /* every host's use at the last sync */
    uint64_t fleet_limit; /* the limit at the last sync */
    uint64_t overdraft;   /* use recorded beyond the limit, fleet-wide, at the last sync */
} qk_store_window_info;

typedef struct {
    qk_service service;
    unsigned n_windows;
    qk_store_window_info windows[QK_MAX_WINDOWS];
} qk_store_service_info;

#define QK_STORE_INFO_VERSION 1

typedef struct {
    unsigned version; /* QK_STORE_INFO_VERSION */
    int degraded;     /* 1: the store is treated as unreachable (docs/store.md, "Outage") */
    uint32_t consecutive_failures, consecutive_successes;
    uint64_t syncs, failures; /* store operations since the tracker opened */
    int64_t clock_offset_ms;  /* the store's clock minus this host's, at the last sync */
    char host_id[33];         /* this host in the store's keys */
    char last_error[256];     /* the last failure in words; "" when none */
    /* Per service, when services is not NULL: the caller's array of cap entries; count is set
     * to the number of services (more than cap when it was too small). */
    qk_store_service_info *services;
    size_t cap, count;
} qk_store_info;

/* Errors: QK_EINVAL (NULL t/out, t has no store, unsupported out->version). */
QK_EXTERN int qk_store_status(qk_tracker *t, qk_store_info *out);

/* Makes what the store at url needs before trackers use it, once, as an operator would (qkctl
 * store init calls it); a tracker never creates anything. DynamoDB: creates the table (partition
 * key pk, a string; on-demand billing) and waits until it is ACTIVE, or finds it there with that
 * key. Redis: nothing to make; checks that the server answers with these credentials.
 * *created (may be NULL) is 1 when something was made, 0 when it was already there. timeout_ms:
 * 0 means 30 s. Errors: QK_EINVAL (NULL or malformed url, a scheme this build lacks, a negative
 * timeout, a DynamoDB table of that name with another key), QK_EUNAVAIL (the store did not
 * answer in time, or the new table was not ACTIVE in time: call again), QK_EIO (the store
 * answered with an error, named in qk_errmsg()), QK_ENOMEM. */
QK_EXTERN int qk_store_init(int *created, const char *url, int64_t timeout_ms);

/* Never NULL: "unknown error" for codes outside the table. */
QK_EXTERN const char *qk_strerror(int code);
/* The code's name in the table ("QK_ELIMIT"), stable across versions, for logs, JSON and
 * bindings; never NULL: "unknown" for codes outside the table. */
QK_EXTERN const char *qk_err_name(int code);
/* Never NULL: "unknown" for values outside the enum. */
QK_EXTERN const char *qk_level_name(qk_level level);
/* What went wrong in this thread's last failing qk_ call, in words. */
QK_EXTERN const char *qk_errmsg(void);
QK_EXTERN const char *qk_version_string(void);
/* The library's QK_VERSION_HEX, which may differ from the headers' when it was loaded at run
 * time: compare the major version (qk_version() >> 16) before relying on a layout. */
QK_EXTERN unsigned qk_version(void);

#ifdef __cplusplus
}
#endif

#endif
