/* The mixed-fleet scenarios (issue 21, item 4), written once over a store row (mixed_row): hosts
 * of release 3a831db (qkt_fleet_host_v2) and of today's code (qkt_fleet_host_v3) run as real
 * processes against one real server, and the store is read straight from the server (hiredis,
 * GetItem) by the row, independent of either library's code. test_redis.c and test_dynamodb.c
 * each give a row and register the scenarios. Criterion only.
 *
 * Every window is a QK_FOREVER one ('f'): a calendar window could roll over between two rounds
 * and split the totals, and a test must not depend on when it runs. */
#ifndef QK_STORE_LEGACY_MIXED_H
#define QK_STORE_LEGACY_MIXED_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "servers.h"
#include "tmpdir.h"

enum { MX_MAX_HOSTS = 64, MX_RUN_MAX = 16 };

/* One host's counters as the store keeps them, wherever it keeps them. */
typedef struct {
    char id[40];
    uint64_t g, x, u, r;
    int live;    /* its counters are in the window's hot key / item (Redis hash, item entry) */
    int retired; /* they are in the retired place (Redis :gone, DynamoDB tomb item) */
    int marked;  /* new-code mark: Redis: in :seen; DynamoDB: the entry's t % 1000 == 1 */
} mx_host;

/* A window as the store holds it. */
typedef struct {
    uint64_t L, G, U;
    unsigned n;
    mx_host h[MX_MAX_HOSTS];
} mx_view;

/* A store row: how to start its server, its URL, and how to read a window of a service (with
 * the hosts the caller names, so that a retired host's own item can be looked up). */
typedef struct {
    const char *name;
    void (*start)(qkt_server *s);
    void (*url)(char *buf, size_t len, const qkt_server *s);
    void (*view)(const qkt_server *s, const char *svc, const char *const *ids, unsigned n_ids,
                 mx_view *out);
    /* Whether a retired host that syncs again leaves the retired place: Redis moves it from
     * :gone back into the hash; DynamoDB keeps the tomb (rewritten at the next retirement), the
     * item's entry being the host's counters while it is there. */
    int back_clears_record;
} mixed_row;

/* ---- hosts as processes ---- */

typedef struct {
    pid_t pid;
    int fd;
    char what[160];
    /* its report */
    uint64_t granted, refused, unavailable;
    char id[40];
} mx_run;

typedef struct {
    const char *url, *svc;
    uint64_t limit;
    /* QK_TEST_RETIRE_MS and QK_TEST_LEASE_TERM_MS for the host (NULL: the defaults). */
    const char *retire_ms, *term_ms;
} mx_fleet;

/* Starts one host: version 2 or 3, calls to try, a state file path or NULL, a seed. */
static inline void mx_start(mx_run *h, const mx_fleet *f, int version, unsigned calls,
                            const char *state, unsigned seed)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    memset(h, 0, sizeof *h);
    snprintf(h->what, sizeof h->what, "v%d host (%u calls, state %s, seed %u)", version, calls,
             state ? state : "private", seed);
    const pid_t parent = getpid();
    h->pid = fork();
    cr_assert_neq(h->pid, -1, "fork: %s", strerror(errno));
    if (h->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        if (f->retire_ms)
            setenv("QK_TEST_RETIRE_MS", f->retire_ms, 1);
        if (f->term_ms)
            setenv("QK_TEST_LEASE_TERM_MS", f->term_ms, 1);
        char limit[24], n[24], sd[24];
        snprintf(limit, sizeof limit, "%llu", (unsigned long long)f->limit);
        snprintf(n, sizeof n, "%u", calls);
        snprintf(sd, sizeof sd, "%u", seed);
        const char *prog = version == 2 ? QKT_HOST_V2 : QKT_HOST_V3;
        execl(prog, prog, f->url, f->svc, "f", limit, n, state ? state : "-", sd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    h->fd = p[0];
}

/* Waits for the host, which must exit 0 with its one report line. */
static inline void mx_finish(mx_run *h)
{
    char out[512];
    size_t len = 0;
    for (;;) {
        const ssize_t k = read(h->fd, out + len, sizeof out - 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
        if (len == sizeof out - 1)
            break;
    }
    out[len] = '\0';
    close(h->fd);
    int status = 0;
    while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
        ;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status 0x%x, output '%s'",
              h->what, status, out);
    unsigned long long g, r, u;
    int sync;
    cr_assert_eq(sscanf(out, "granted %llu refused %llu unavailable %llu host %39s sync %d", &g, &r,
                        &u, h->id, &sync),
                 5, "%s: report '%s'", h->what, out);
    h->granted = g;
    h->refused = r;
    h->unavailable = u;
}

/* ---- what the test knows each host was granted ---- */

typedef struct {
    unsigned n;
    char id[MX_MAX_HOSTS][40];
    int version[MX_MAX_HOSTS]; /* the version of its last run */
    uint64_t granted[MX_MAX_HOSTS];
    uint64_t total, refused;
} mx_ledger;

static inline void mx_book(mx_ledger *l, const mx_run *h, int version)
{
    unsigned i = 0;
    while (i < l->n && strcmp(l->id[i], h->id) != 0)
        i++;
    if (i == l->n) {
        cr_assert_lt(l->n, MX_MAX_HOSTS);
        snprintf(l->id[i], sizeof l->id[i], "%s", h->id);
        l->n++;
    }
    l->version[i] = version;
    l->granted[i] += h->granted;
    l->total += h->granted;
    l->refused += h->refused;
}

static inline const mx_host *mx_find(const mx_view *v, const char *id)
{
    for (unsigned i = 0; i < v->n; i++)
        if (strcmp(v->h[i].id, id) == 0)
            return &v->h[i];
    return NULL;
}

static inline mx_view mx_read(const mixed_row *row, const qkt_server *s, const char *svc,
                              const mx_ledger *l)
{
    const char *ids[MX_MAX_HOSTS];
    for (unsigned i = 0; i < l->n; i++)
        ids[i] = l->id[i];
    mx_view v;
    memset(&v, 0, sizeof v);
    row->view(s, svc, ids, l->n, &v);
    return v;
}

/* What holds whenever no host is running: the store's U is exactly what the hosts report they
 * were granted, never above L; every lease came back (G == U); each host's use, where it is
 * kept (hot or retired, never both), is what it reported. */
static inline void mx_check(const mixed_row *row, const mx_view *v, const mx_ledger *l,
                            const char *when)
{
    cr_assert_eq(v->U, l->total, "%s: the store's U %llu, the hosts were granted %llu", when,
                 (unsigned long long)v->U, (unsigned long long)l->total);
    cr_assert_leq(v->U, v->L, "%s: U %llu over L %llu", when, (unsigned long long)v->U,
                  (unsigned long long)v->L);
    cr_assert_eq(v->G, v->U, "%s: G %llu != U %llu with every host gone", when,
                 (unsigned long long)v->G, (unsigned long long)v->U);
    for (unsigned i = 0; i < l->n; i++) {
        const mx_host *h = mx_find(v, l->id[i]);
        cr_assert_not_null(h, "%s: host %s (v%d, granted %llu) is nowhere in the store", when,
                           l->id[i], l->version[i], (unsigned long long)l->granted[i]);
        cr_assert(!(h->live && h->retired && row->back_clears_record),
                  "%s: host %s is both live and retired", when, h->id);
        cr_assert_eq(h->u - h->r, l->granted[i], "%s: host %s (v%d): u - r = %llu, granted %llu",
                     when, h->id, l->version[i], (unsigned long long)(h->u - h->r),
                     (unsigned long long)l->granted[i]);
    }
}

/* While the hosts h[0..n) run, reads the window again and again (its counters only, no tomb):
 * no read may show U or G above L. Returns once every host has exited (each within its own
 * 60 s bound), without reaping them: mx_finish does. */
static inline void mx_watch(const mixed_row *row, const qkt_server *s, const char *svc,
                            const mx_run *h, unsigned n, const char *when)
{
    unsigned reads = 0;
    for (;;) {
        unsigned running = 0;
        for (unsigned i = 0; i < n; i++) {
            siginfo_t si;
            memset(&si, 0, sizeof si);
            cr_assert_eq(waitid(P_PID, (id_t)h[i].pid, &si, WEXITED | WNOHANG | WNOWAIT), 0,
                         "waitid: %s", strerror(errno));
            running += si.si_pid == 0;
        }
        mx_view v;
        memset(&v, 0, sizeof v);
        row->view(s, svc, NULL, 0, &v);
        reads++;
        cr_assert_leq(v.U, v.L, "%s, read %u while hosts ran: U %llu over L %llu", when, reads,
                      (unsigned long long)v.U, (unsigned long long)v.L);
        cr_assert_leq(v.G, v.L, "%s, read %u while hosts ran: G %llu over L %llu", when, reads,
                      (unsigned long long)v.G, (unsigned long long)v.L);
        if (running == 0)
            return;
        const struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* ---- the scenarios ---- */

/* Old hosts write the window first; then rounds of old and new hosts at once, with demand well
 * above the limit. After each round the store holds exactly what was granted. New private hosts
 * are retired by their last word; old hosts never are. */
static inline void mx_rounds(const mixed_row *row)
{
    qkt_server s;
    row->start(&s);
    char url[160];
    row->url(url, sizeof url, &s);
    const mx_fleet f = {url, "mixed", 200, NULL, NULL};
    mx_ledger l;
    memset(&l, 0, sizeof l);
    mx_run h[MX_RUN_MAX];

    /* Round 0: the old release alone makes the window. */
    for (unsigned i = 0; i < 3; i++)
        mx_start(&h[i], &f, 2, 20, NULL, 100 + i);
    for (unsigned i = 0; i < 3; i++) {
        mx_finish(&h[i]);
        mx_book(&l, &h[i], 2);
    }
    mx_view v = mx_read(row, &s, f.svc, &l);
    mx_check(row, &v, &l, "after the old hosts alone");
    cr_assert_gt(l.total, 0, "the old hosts alone were granted nothing");

    for (unsigned round = 1; round <= 3; round++) {
        char when[64];
        snprintf(when, sizeof when, "mixed round %u", round);
        for (unsigned i = 0; i < 6; i++)
            mx_start(&h[i], &f, i % 2 ? 3 : 2, 40, NULL, round * 10 + i);
        mx_watch(row, &s, f.svc, h, 6, when);
        for (unsigned i = 0; i < 6; i++) {
            mx_finish(&h[i]);
            mx_book(&l, &h[i], i % 2 ? 3 : 2);
        }
        snprintf(when, sizeof when, "after mixed round %u", round);
        v = mx_read(row, &s, f.svc, &l);
        mx_check(row, &v, &l, when);
        for (unsigned i = 0; i < l.n; i++) {
            const mx_host *x = mx_find(&v, l.id[i]);
            if (l.version[i] == 2) {
                cr_assert_not_null(x, "%s: old host %s is nowhere in the store", when, l.id[i]);
                cr_assert(x->live && !x->retired && !x->marked,
                          "%s: old host %s: live %d retired %d marked %d", when, x->id, x->live,
                          x->retired, x->marked);
            } else { /* a private tracker's free: its last word */
                cr_assert(!x->live && x->retired, "%s: freed new host %s: live %d retired %d", when,
                          x->id, x->live, x->retired);
            }
        }
    }
    cr_assert_gt(l.refused, 0, "demand never met the limit (granted %llu)",
                 (unsigned long long)l.total);
    cr_assert_eq(v.L, 200);
    cr_assert_eq(qkt_server_stop(&s), 0, "%s", s.error);
}

/* Sleeps past twice the retirement bound, then runs a new private host: its syncs retire
 * whatever the rule lets them retire (at most a few hosts per sync: the window holds fewer). */
static inline void mx_sweep(const mx_fleet *f, mx_ledger *l, unsigned seed)
{
    const long ms = 2 * atol(f->retire_ms) + 200;
    const struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    mx_run sweep;
    mx_start(&sweep, f, 3, 5, NULL, seed);
    mx_finish(&sweep);
    mx_book(l, &sweep, 3);
}

/* One host on one state file (one host id) upgraded in place and rolled back: old, new, old,
 * new, old, with a new private host syncing beside each run. Its counts continue exactly:
 * nothing lost, nothing doubled. With retire_ms set, each old run is followed by a wait past the
 * bound and a sweep by a new host: a host that synced through the new script and then through
 * the old one is an old host again and must not be retired (its later old syncs would count its
 * whole use again). Each old run starts right after the new one (well inside the bound, 3 s in
 * the test: a rollback done after the bound is docs/store.md's case, "Upgrading a fleet"). */
static inline void mx_upgrade(const mixed_row *row, const char *retire_ms, const char *term_ms)
{
    qkt_server s;
    row->start(&s);
    char url[160];
    row->url(url, sizeof url, &s);
    const mx_fleet f = {url, "upgrade", 1000, retire_ms, term_ms};
    char dir[PATH_MAX], state[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-legacy");
    qkt_path(state, dir, "host.qkstate");
    mx_ledger l;
    memset(&l, 0, sizeof l);
    const int versions[] = {2, 3, 2, 3, 2};
    char first_id[40] = "";
    for (unsigned step = 0; step < sizeof versions / sizeof versions[0]; step++) {
        mx_run h, other;
        mx_start(&h, &f, versions[step], 30, state, step);
        mx_start(&other, &f, 3, 10, NULL, 50 + step); /* a new host syncs beside it */
        mx_finish(&h);
        mx_finish(&other);
        mx_book(&l, &h, versions[step]);
        mx_book(&l, &other, 3);
        if (step == 0)
            snprintf(first_id, sizeof first_id, "%s", h.id);
        cr_assert_str_eq(h.id, first_id, "the state file's host id changed");
        cr_assert_gt(h.granted, 0, "step %u: v%d granted nothing of 30 under a limit of 1000", step,
                     versions[step]);
        char when[128];
        snprintf(when, sizeof when, "after step %u (v%d on the state file)", step, versions[step]);
        if (retire_ms && versions[step] == 2) {
            mx_sweep(&f, &l, 60 + step);
            snprintf(when, sizeof when,
                     "after step %u (v%d on the state file) and a sweep past "
                     "the retirement bound",
                     step, versions[step]);
        }
        const mx_view v = mx_read(row, &s, f.svc, &l);
        mx_check(row, &v, &l, when);
        const mx_host *x = mx_find(&v, first_id);
        cr_assert(x->live && !x->retired, "%s: the host on the state file: live %d retired %d",
                  when, x->live, x->retired);
    }
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
    cr_assert_eq(qkt_server_stop(&s), 0, "%s", s.error);
}

/* The rollback docs/store.md prescribes past the bound: a new host on a state file falls silent,
 * a sweep retires it, and the host is rolled back to the old release on a NEW state file (a new
 * host id; the old release cannot read a retired host back). The retired id keeps its counts,
 * the new id starts from nothing, and the totals stay exact. */
static inline void mx_rollback_fresh(const mixed_row *row, const char *retire_ms,
                                     const char *term_ms)
{
    qkt_server s;
    row->start(&s);
    char url[160];
    row->url(url, sizeof url, &s);
    const mx_fleet f = {url, "rollback", 1000, retire_ms, term_ms};
    char dir[PATH_MAX], before[PATH_MAX], after[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-legacy");
    qkt_path(before, dir, "upgraded.qkstate");
    qkt_path(after, dir, "rolled-back.qkstate");
    mx_ledger l;
    memset(&l, 0, sizeof l);
    mx_run h;
    mx_start(&h, &f, 3, 30, before, 1);
    mx_finish(&h);
    mx_book(&l, &h, 3);
    char upgraded[40];
    snprintf(upgraded, sizeof upgraded, "%s", h.id);
    mx_sweep(&f, &l, 2);
    mx_view v = mx_read(row, &s, f.svc, &l);
    mx_check(row, &v, &l, "after the upgraded host fell silent and a sweep");
    const mx_host *x = mx_find(&v, upgraded);
    cr_assert(!x->live && x->retired, "the silent new host %s: live %d retired %d", upgraded,
              x->live, x->retired);
    mx_start(&h, &f, 2, 30, after, 3);
    mx_finish(&h);
    cr_assert_str_neq(h.id, upgraded, "a new state file kept the host id");
    mx_book(&l, &h, 2);
    v = mx_read(row, &s, f.svc, &l);
    mx_check(row, &v, &l, "after the rollback on a new state file");
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
    cr_assert_eq(qkt_server_stop(&s), 0, "%s", s.error);
}

/* Retirement after silence: new hosts on state files (no last word) and old hosts run and leave;
 * once the retirement bound has passed, new hosts' syncs retire the departed new hosts and never
 * the old ones; the totals stay exact before and after. */
static inline void mx_retire(const mixed_row *row, const char *retire_ms, const char *term_ms)
{
    qkt_server s;
    row->start(&s);
    char url[160];
    row->url(url, sizeof url, &s);
    const mx_fleet f = {url, "retire", 500, retire_ms, term_ms};
    char dir[PATH_MAX], state[4][PATH_MAX];
    qkt_tmpdir_make(dir, "qk-legacy");
    mx_ledger l;
    memset(&l, 0, sizeof l);
    mx_run h[MX_RUN_MAX];
    for (unsigned i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "new%u.qkstate", i);
        qkt_path(state[i], dir, name);
        mx_start(&h[i], &f, 3, 25, state[i], 200 + i);
    }
    for (unsigned i = 4; i < 8; i++)
        mx_start(&h[i], &f, 2, 25, NULL, 200 + i);
    for (unsigned i = 0; i < 8; i++) {
        mx_finish(&h[i]);
        mx_book(&l, &h[i], i < 4 ? 3 : 2);
    }
    mx_view v = mx_read(row, &s, f.svc, &l);
    mx_check(row, &v, &l, "before the retirement bound");
    for (unsigned i = 0; i < 8; i++) {
        const mx_host *x = mx_find(&v, h[i].id);
        cr_assert(x->live && !x->retired, "before the bound: v%d host %s: live %d retired %d",
                  i < 4 ? 3 : 2, x->id, x->live, x->retired);
        cr_assert_eq(x->marked, i < 4, "v%d host %s: marked %d", i < 4 ? 3 : 2, x->id, x->marked);
    }

    mx_sweep(&f, &l, 300);
    v = mx_read(row, &s, f.svc, &l);
    mx_check(row, &v, &l, "after the retirement bound");
    for (unsigned i = 0; i < 8; i++) {
        const mx_host *x = mx_find(&v, h[i].id);
        if (i < 4)
            cr_assert(!x->live && x->retired,
                      "after the bound: departed new host %s: live %d retired %d", x->id, x->live,
                      x->retired);
        else
            cr_assert(x->live && !x->retired && !x->marked,
                      "after the bound: old host %s: live %d retired %d marked %d", x->id, x->live,
                      x->retired, x->marked);
    }

    /* A retired new host comes back on its state file and resumes exactly. */
    mx_run back;
    mx_start(&back, &f, 3, 10, state[0], 400);
    mx_finish(&back);
    cr_assert_str_eq(back.id, h[0].id);
    mx_book(&l, &back, 3);
    v = mx_read(row, &s, f.svc, &l);
    mx_check(row, &v, &l, "after a retired host came back");
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
    cr_assert_eq(qkt_server_stop(&s), 0, "%s", s.error);
}

#endif
