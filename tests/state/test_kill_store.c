/* The leases' gates against a kill (docs/design.md, "A lease's gate"): a host on a state file
 * gives its unused lease back (qk_store_sync) and is SIGKILLed after the give-back is written to
 * the store area and before the gates are opened again (QK_TP_STORE_GIVEN_BACK, the slot lock
 * held). The gates were closed before the give-back, so the next process on the file finds no
 * lease in hand: with the store out of reach and QK_OUTAGE_CLOSED its consume is refused
 * (QK_EUNAVAIL). Catches: a gate left at its value from before the give-back, which would let the
 * fast path consume calls the host had given back to the fleet (checked by mutation: plan_sync
 * without its close_gates passes the consume). Against a real redis-server, stopped before the
 * kill. Linked against qk_state_hooked (the library built with -DQK_TEST_HOOKS). */
#include "servers.h"
#include "state_test.h"
#include "test_hooks.h"

TestSuite(kill_store, .init = st_setup, .fini = st_teardown, .timeout = 60);

static char path[PATH_MAX];
static char url[64];
static int hook_fd = -1;

static qk_options store_opts(int64_t timeout_ms)
{
    static qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "gb";
    d.windows[0].period = QK_DAY;
    d.windows[0].limit = 1000000;
    d.outage = QK_OUTAGE_CLOSED;
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    o.services = &d;
    o.n_services = 1;
    o.capacity = 1;
    o.store = url;
    o.store_timeout_ms = timeout_ms;
    return o; /* the built-in clock: the store corrects it to the server's */
}

static uint64_t held_here(qk_tracker *t)
{
    qk_store_service_info svc[1];
    qk_store_info info;
    memset(&info, 0, sizeof info);
    info.version = QK_STORE_INFO_VERSION;
    info.services = svc;
    info.cap = 1;
    if (qk_store_status(t, &info) != QK_OK || info.count != 1)
        _exit(10);
    return svc[0].windows[0].held;
}

static void pause_after_give_back(qk_test_point point, uint32_t service)
{
    if (point != QK_TP_STORE_GIVEN_BACK || service != 0)
        return;
    const char c = 'p';
    if (write(hook_fd, &c, 1) != 1)
        _exit(20);
    for (;;)
        pause();
}

/* Builds a lease of at least 10 unused calls, then gives it back and dies inside. */
static int victim(void *arg)
{
    (void)arg;
    const qk_options o = store_opts(3000);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    for (int round = 0; held_here(t) < 10; round++) {
        if (round == 500)
            return 3;
        for (int i = 0; i < 100; i++)
            if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
                return 4;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    qk__test_hook = pause_after_give_back;
    qk_store_sync(t);
    return 5; /* the hook never returns */
}

Test(kill_store, a_give_back_killed_before_the_gates_open_leaves_them_closed)
{
    qkt_server srv;
    cr_assert_eq(qkt_server_start(&srv, QKT_REDIS, NULL), 0, "%s", srv.error);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", srv.port);
    st_path(path, "host.qk");

    int p[2];
    cr_assert_eq(pipe(p), 0);
    hook_fd = p[1];
    const pid_t pid = qkt_fork_run(victim, NULL, 30);
    close(p[1]);
    const bool reached = qkt_read_byte(p[0]);
    close(p[0]);
    if (!reached)
        cr_assert_fail("the victim never gave its lease back (exit %d)", qkt_wait_child(pid));

    /* The store goes out of reach first, so nothing can refill the lease afterwards. */
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    qkt_wait_child(pid);

    const qk_options o = store_opts(100);
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "reopen: %s", qk_errmsg());
    cr_assert_eq(held_here(t), 0, "the give-back was not written before the kill");
    const int rc = qk_try_consume(t, 0, 1, 0, NULL);
    cr_assert_eq(rc, QK_EUNAVAIL,
                 "a consume on a lease given back, with the store out and a closed policy: %s (%s)",
                 qk_strerror(rc), qk_errmsg());
    qk_tracker_free(t);
}
