#include "watchpoint.h"

#if QKT_HAVE_WATCHPOINTS
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fail.h"

#ifndef TRAP_HWBKPT
#define TRAP_HWBKPT 4
#endif

/* The tracee's next stop or end, or false when deadline (monotonic ms) passes first. */
static bool next_status(pid_t pid, int *status, int64_t deadline)
{
    for (;;) {
        const pid_t r = waitpid(pid, status, WNOHANG | __WALL);
        if (r == pid)
            return true;
        QKT_REQUIRE(r == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        if (qkt_mono_ms() >= deadline)
            return false;
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
        ;
}

static bool is_event_stop(int status)
{
    return status >> 16 == PTRACE_EVENT_STOP;
}

static bool is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void cont(pid_t pid, int sig)
{
    QKT_REQUIRE(ptrace(PTRACE_CONT, pid, 0, sig) == 0, "PTRACE_CONT: %s", strerror(errno));
}

/* With a SIGSTOP on its way to the running tracee: waits for its signal-delivery stop, lets it
 * be delivered (the tracee enters the group stop), and waits for that stop's report. Signals
 * that arrive meanwhile are passed on. */
static void await_group_stop(pid_t pid)
{
    const int64_t deadline = qkt_mono_ms() + 10000;
    for (;;) {
        int status;
        QKT_REQUIRE(next_status(pid, &status, deadline), "the tracee never reached a group stop");
        QKT_REQUIRE(WIFSTOPPED(status), "the tracee ended (status 0x%x) before a group stop",
                    status);
        const int sig = WSTOPSIG(status);
        if (is_event_stop(status) && is_stop_signal(sig))
            return;
        cont(pid, is_event_stop(status) || sig == (SIGTRAP | 0x80) ? 0 : sig);
    }
}

bool qkt_trace(pid_t pid, bool syscalls)
{
    if (ptrace(PTRACE_SEIZE, pid, 0, syscalls ? PTRACE_O_TRACESYSGOOD : 0) != 0)
        return false;
    QKT_REQUIRE(kill(pid, SIGSTOP) == 0, "kill: %s", strerror(errno));
    await_group_stop(pid);
    return true;
}

void qkt_group_stop(pid_t pid)
{
    QKT_REQUIRE(kill(pid, SIGSTOP) == 0, "kill: %s", strerror(errno));
    cont(pid, 0); /* the SIGSTOP is delivered before any user instruction runs */
    await_group_stop(pid);
}

void qkt_watch_writes(pid_t pid, uintptr_t addr)
{
    const unsigned long dr7 = 1ul | 1ul << 16 | 2ul << 18; /* L0, write, 8 bytes */
    QKT_REQUIRE(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[0]), addr) == 0,
                "DR0: %s", strerror(errno));
    QKT_REQUIRE(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), dr7) == 0,
                "DR7: %s", strerror(errno));
    /* Out of the group stop: SIGCONT ends it for the job, PTRACE_CONT for the tracer. */
    QKT_REQUIRE(kill(pid, SIGCONT) == 0, "kill: %s", strerror(errno));
    cont(pid, 0);
}

bool qkt_wait_watchpoint(pid_t pid, unsigned limit_ms)
{
    const int64_t deadline = qkt_mono_ms() + limit_ms;
    for (;;) {
        int status;
        if (!next_status(pid, &status, deadline)) {
            kill_and_reap(pid);
            return false;
        }
        if (!WIFSTOPPED(status))
            return false; /* ended: reaped by this waitpid */
        const int sig = WSTOPSIG(status);
        if (!is_event_stop(status) && sig == SIGTRAP) {
            siginfo_t si;
            QKT_REQUIRE(ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0, "PTRACE_GETSIGINFO: %s",
                        strerror(errno));
            if (si.si_code == TRAP_HWBKPT)
                return true;
        }
        cont(pid, is_event_stop(status) || sig == (SIGTRAP | 0x80) ? 0 : sig);
    }
}

void qkt_untrace(pid_t pid)
{
    QKT_REQUIRE(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), 0ul) == 0,
                "DR7: %s", strerror(errno));
    QKT_REQUIRE(ptrace(PTRACE_DETACH, pid, 0, 0) == 0, "PTRACE_DETACH: %s", strerror(errno));
}

uintptr_t qkt_run_to_shared_mmap(pid_t pid, size_t len, unsigned limit_ms)
{
    const int64_t deadline = qkt_mono_ms() + limit_ms;
    int sig = 0;
    for (;;) {
        QKT_REQUIRE(ptrace(PTRACE_SYSCALL, pid, 0, sig) == 0, "PTRACE_SYSCALL: %s",
                    strerror(errno));
        int status;
        if (!next_status(pid, &status, deadline)) {
            kill_and_reap(pid);
            return 0;
        }
        if (!WIFSTOPPED(status))
            return 0;
        sig = 0;
        if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
            if (!is_event_stop(status) && WSTOPSIG(status) != SIGTRAP)
                sig = WSTOPSIG(status);
            continue;
        }
        struct user_regs_struct regs;
        QKT_REQUIRE(ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0, "PTRACE_GETREGS: %s",
                    strerror(errno));
        const bool at_exit = (long)regs.rax != -ENOSYS;
        if (at_exit && regs.orig_rax == SYS_mmap && (regs.r10 & MAP_SHARED) && regs.rsi == len)
            return (uintptr_t)regs.rax;
    }
}

/* ---- the probe ---- */

static volatile uint64_t probe_target;

bool qkt_watchpoints_fire(const char **why_not)
{
    static int known = -1; /* -1 not probed, 0 no, 1 yes */
    static const char *why = "";
    if (known < 0) {
        int go[2];
        QKT_REQUIRE(pipe(go) == 0, "pipe: %s", strerror(errno));
        const pid_t parent = getpid();
        const pid_t pid = fork();
        QKT_REQUIRE(pid != -1, "fork: %s", strerror(errno));
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            alarm(10);
            close(go[1]);
            char c;
            while (read(go[0], &c, 1) < 0 && errno == EINTR)
                ;
            for (uint64_t i = 1; i <= 1000; i++)
                probe_target = i;
            _exit(0);
        }
        close(go[0]);
        if (!qkt_trace(pid, false)) {
            why = "ptrace is not permitted here";
            kill_and_reap(pid);
            known = 0;
        } else {
            qkt_watch_writes(pid, (uintptr_t)&probe_target);
            QKT_REQUIRE(write(go[1], "g", 1) == 1, "write: %s", strerror(errno));
            known = qkt_wait_watchpoint(pid, 3000);
            if (known)
                kill_and_reap(pid);
            else
                why = "a write watchpoint armed in a SIGSTOP group stop never fired (this "
                      "machine's debug registers do not trigger)";
        }
        close(go[1]);
    }
    if (why_not != NULL)
        *why_not = why;
    return known == 1;
}
#endif
