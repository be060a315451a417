/* Child processes that report through their exit status, a barrier across processes, memory
 * shared with children, and waiting until a task is parked on a lock.
 *
 * A child never touches the test framework: it reports through its exit code (QKT_CHILD_OK when
 * every check held) and shared memory, and ends with _exit() so that no atexit handler or stdio
 * buffer of the parent runs twice. */
#ifndef QKT_PROCS_H
#define QKT_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define QKT_CHILD_OK 0

/* Forks a child that runs fn(arg) and _exits with its result. A child still running after
 * limit_s seconds is killed by SIGALRM, so a deadlocked child becomes a failure, not a hang, and
 * a child whose parent dies (a test killed by its timeout) is killed with it. */
pid_t qkt_fork_run(int (*fn)(void *), void *arg, unsigned limit_s);

/* What every forked test helper runs first, in the child: it dies with the parent whose pid is
 * given (PR_SET_PDEATHSIG, and at once if that parent is already gone) and after limit_s
 * seconds (alarm). A traced child's alarm reaches it only through its tracer: the tracer must
 * pass signals on (tests/support/watchpoint.c does) or bound the child itself. */
void qkt_child_bounds(pid_t parent, unsigned limit_s);

/* Reads one byte from fd (a pipe a child writes to when it reaches a point), retrying after
 * signals; false at end of file (every writer gone: the child died first) or on an error. */
bool qkt_read_byte(int fd);

/* Reaps the child: its exit status, or 1000 + the signal that ended it. */
int qkt_wait_child(pid_t pid);

/* Shared anonymous memory, visible to every process forked after it is made. */
void *qkt_shared_mem(size_t size);

/* A barrier for processes: children block in qkt_pbarrier_wait() until the parent calls
 * qkt_pbarrier_release(), which closes the write end so that every read returns at once. */
typedef struct {
    int fd[2];
} qkt_pbarrier;

void qkt_pbarrier_init(qkt_pbarrier *b);
void qkt_pbarrier_wait(qkt_pbarrier *b);    /* in a child */
void qkt_pbarrier_release(qkt_pbarrier *b); /* in the parent */

/* Whether the thread (tid) or single-threaded process (pid, tid 0) is blocked in futex(2): used
 * to make sure a waiter is parked on a lock before the test moves on. Reading /proc is a
 * synchronisation aid, not an assertion: the result a test checks must not depend on it. */
bool qkt_in_futex(pid_t pid, pid_t tid);

/* Waits, up to about 10 s, until the task is blocked in futex(2). */
bool qkt_wait_futex(pid_t pid, pid_t tid);

/* The process's peak resident memory in kB (VmHWM of /proc/self/status), or -1. */
long qkt_peak_rss_kb(void);

#endif
