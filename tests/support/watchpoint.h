/* Forcing an interleaving across processes: a hardware watchpoint on another process (x86_64).
 *
 * The test traces a child (ptrace) and arms debug register 0 on an address in the child's
 * memory, so that the child stops right after its next store there: between two stores that
 * another process must never see apart, or that a crash must survive apart. Failures of ptrace
 * itself, once tracing is allowed, die (fail.h). */
#ifndef QKT_WATCHPOINT_H
#define QKT_WATCHPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__x86_64__)
#define QKT_HAVE_WATCHPOINTS 1

/* Seizes pid and stops it. false (and pid untouched) where tracing is not allowed. With
 * syscalls, syscall stops are marked (PTRACE_O_TRACESYSGOOD) for qkt_run_to_shared_mmap. */
bool qkt_trace(pid_t pid, bool syscalls);

/* Arms the watchpoint on the 8 bytes at addr (write accesses) in the stopped tracee. */
void qkt_watch_writes(pid_t pid, uintptr_t addr);

/* Waits until the tracee stops at the watchpoint. */
void qkt_wait_watchpoint(pid_t pid);

/* Disarms the watchpoint and lets the stopped tracee go on, untraced. */
void qkt_untrace(pid_t pid);

/* Runs the stopped tracee (seized with syscalls) to the return of its first mmap(MAP_SHARED)
 * of len bytes and returns the address it got, the tracee stopped there; 0 if it exits first.
 * Other signals are passed on. */
uintptr_t qkt_run_to_shared_mmap(pid_t pid, size_t len);

#else
#define QKT_HAVE_WATCHPOINTS 0
#endif

#endif
