/* Forcing an interleaving across processes: a hardware watchpoint on another process (x86_64).
 *
 * The test traces a child (ptrace) and arms debug register 0 on an address in the child's
 * memory, so that the child stops right after its next store there: between two stores that
 * another process must never see apart, or that a crash must survive apart.
 *
 * Not every machine fires a watchpoint: on some virtual machines the debug registers are
 * accepted and never trigger, and on some a watchpoint armed at a syscall-exit or
 * PTRACE_INTERRUPT stop never fires while one armed in a SIGSTOP group stop does. So every
 * watchpoint here is armed in a group stop, and qkt_watchpoints_fire() probes once whether that
 * works on this machine. A test that uses a watchpoint must prove the same property another way
 * where it does not (the hooked library's test points, src/test_hooks.h) and say so plainly.
 *
 * Every wait is bounded in time by the tracer itself: a traced child's alarm reaches it only if
 * the tracer passes the signal on, which these waits do, and past the limit they kill the child.
 * Failures of ptrace itself, once tracing is allowed, die (fail.h). */
#ifndef QKT_WATCHPOINT_H
#define QKT_WATCHPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__x86_64__)
#define QKT_HAVE_WATCHPOINTS 1

/* Whether a write watchpoint armed in a SIGSTOP group stop fires on this machine (and tracing
 * is allowed at all). Probed once per process with a child of its own; why_not, when it is
 * false, says what the probe saw. */
bool qkt_watchpoints_fire(const char **why_not);

/* In a Criterion test: skips it, saying why and which test proves the same property without a
 * watchpoint, where watchpoints do not fire here. */
#define QKT_NEED_WATCHPOINTS(proven_by)                                                            \
    do {                                                                                           \
        const char *qkt_why_ = NULL;                                                               \
        if (!qkt_watchpoints_fire(&qkt_why_))                                                      \
            cr_skip_test("no watchpoint on this machine (%s); the same property is proven by %s",  \
                         qkt_why_, proven_by);                                                     \
    } while (0)

/* Seizes pid and brings it into a group stop. false (and pid untouched) where tracing is not
 * allowed. With syscalls, syscall stops are marked (PTRACE_O_TRACESYSGOOD) for
 * qkt_run_to_shared_mmap. */
bool qkt_trace(pid_t pid, bool syscalls);

/* From any ptrace stop, brings the tracee into a group stop without it running a user
 * instruction (a SIGSTOP is delivered on the way back to user space). */
void qkt_group_stop(pid_t pid);

/* Arms the watchpoint on the 8 bytes at addr (write accesses) in the tracee, which must be in
 * a group stop, and lets it run on. */
void qkt_watch_writes(pid_t pid, uintptr_t addr);

/* Waits up to limit_ms until the tracee stops at the watchpoint; other signals are passed on
 * (its alarm included). false, the tracee killed and reaped, when it did not stop there in time
 * or ended first. */
bool qkt_wait_watchpoint(pid_t pid, unsigned limit_ms);

/* Disarms the watchpoint and lets the stopped tracee go on, untraced. */
void qkt_untrace(pid_t pid);

/* Runs the stopped tracee (seized with syscalls) to the return of its first mmap(MAP_SHARED)
 * of len bytes and returns the address it got, the tracee stopped there; 0 if it exits first or
 * limit_ms passes (then it is killed and reaped). Other signals are passed on. */
uintptr_t qkt_run_to_shared_mmap(pid_t pid, size_t len, unsigned limit_ms);

#else
#define QKT_HAVE_WATCHPOINTS 0
#endif

#endif
