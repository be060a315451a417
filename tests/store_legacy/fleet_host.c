/* qkt_fleet_host_v2 / qkt_fleet_host_v3: one host of a mixed fleet (tests/store_legacy). The
 * same source linked twice: to qk_store_v2 (today's library with the store backends of release
 * 3a831db: an "old host") and to qk_store_v3 (today's library: a "new host").
 *
 * Usage: qkt_fleet_host_vN URL SERVICE PERIOD LIMIT CALLS STATE SEED
 *   URL     the store (redis://..., dynamodb://...);
 *   SERVICE the service's name; PERIOD one of m h d M f (minute, hour, day, month, forever);
 *   LIMIT   its one window's limit; CALLS the consumes to try, one call each;
 *   STATE   a state file path (the host id lives there), or "-" for a private tracker;
 *   SEED    the pacing's seed: before each try it sleeps 0 to 2 ms drawn from it.
 *
 * It opens a tracker (outage policy CLOSED, so a store that does not answer grants nothing past
 * the host's lease), tries its calls, then qk_store_sync and qk_tracker_free (a private
 * tracker's last word), and prints one line:
 *   granted G refused R unavailable N host HOSTID sync RC
 * Exit 0 when every call returned OK, ELIMIT or EUNAVAIL and the final sync succeeded; 1
 * otherwise (a message on stderr); 2 on bad arguments. It dies with its parent
 * (PR_SET_PDEATHSIG) and after 60 s (alarm), so a test never leaves one behind. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "quotakeeper.h"

enum { RUN_LIMIT_S = 60 };
#define STORE_TIMEOUT_MS 5000 /* a sync must not fail by accident on a loaded 2-core machine */

static int period_of(const char *s, qk_period *out)
{
    static const char letters[] = "mhdMf";
    const char *p = strlen(s) == 1 ? strchr(letters, s[0]) : NULL;
    if (p == NULL)
        return -1;
    *out = (qk_period)(p - letters);
    return 0;
}

static int number(const char *s, unsigned long long *out)
{
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    *out = strtoull(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

static uint64_t next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    const pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 1; /* the parent is already gone */
    alarm(RUN_LIMIT_S);

    qk_period period;
    unsigned long long limit, calls, seed;
    if (argc != 8 || period_of(argv[3], &period) != 0 || number(argv[4], &limit) != 0 ||
        limit == 0 || number(argv[5], &calls) != 0 || number(argv[7], &seed) != 0) {
        fprintf(stderr, "usage: %s URL SERVICE PERIOD(m|h|d|M|f) LIMIT CALLS STATE|- SEED\n",
                argv[0]);
        return 2;
    }
    qk_service_def def;
    memset(&def, 0, sizeof def);
    def.name = argv[2];
    def.windows[0].period = period;
    def.windows[0].limit = limit;
    def.outage = QK_OUTAGE_CLOSED;
    qk_options o = QK_OPTIONS_INIT;
    o.services = &def;
    o.n_services = 1;
    o.store = argv[1];
    o.store_timeout_ms = STORE_TIMEOUT_MS;
    o.path = strcmp(argv[6], "-") == 0 ? NULL : argv[6];

    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK) {
        fprintf(stderr, "%s: qk_tracker_new: %s\n", argv[0], qk_errmsg());
        return 1;
    }
    const qk_service svc = 0;
    int bad = 0;
    unsigned long long granted = 0, refused = 0, unavailable = 0;
    uint64_t rng = seed;
    for (unsigned long long i = 0; i < calls && !bad; i++) {
        const long pause_us = (long)(next(&rng) % 2001);
        const struct timespec ts = {0, pause_us * 1000};
        nanosleep(&ts, NULL);
        const int rc = qk_try_consume(t, svc, 1, 0, NULL);
        if (rc == QK_OK) {
            granted++;
        } else if (rc == QK_ELIMIT) {
            refused++;
        } else if (rc == QK_EUNAVAIL) {
            unavailable++;
        } else {
            fprintf(stderr, "%s: qk_try_consume: %s: %s\n", argv[0], qk_strerror(rc), qk_errmsg());
            bad = 1;
        }
    }
    const int sync = qk_store_sync(t);
    if (sync != QK_OK) {
        fprintf(stderr, "%s: qk_store_sync: %s: %s\n", argv[0], qk_strerror(sync), qk_errmsg());
        bad = 1;
    }
    qk_store_info info;
    memset(&info, 0, sizeof info);
    info.version = QK_STORE_INFO_VERSION;
    if (qk_store_status(t, &info) != QK_OK) {
        fprintf(stderr, "%s: qk_store_status: %s\n", argv[0], qk_errmsg());
        bad = 1;
    }
    qk_tracker_free(t);
    printf("granted %llu refused %llu unavailable %llu host %s sync %d\n", granted, refused,
           unavailable, info.host_id, sync);
    return bad ? 1 : 0;
}
