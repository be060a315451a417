#include "watchpoint.h"

#if QKT_HAVE_WATCHPOINTS
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "fail.h"

bool qkt_trace(pid_t pid, bool syscalls)
{
    if (ptrace(PTRACE_SEIZE, pid, 0, syscalls ? PTRACE_O_TRACESYSGOOD : 0) != 0)
        return false;
    int status;
    QKT_REQUIRE(ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0, "PTRACE_INTERRUPT: %s", strerror(errno));
    QKT_REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    QKT_REQUIRE(WIFSTOPPED(status), "the tracee did not stop (status 0x%x)", status);
    return true;
}

void qkt_watch_writes(pid_t pid, uintptr_t addr)
{
    const unsigned long dr7 = 1ul | 1ul << 16 | 2ul << 18; /* L0, write, 8 bytes */
    QKT_REQUIRE(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[0]), addr) == 0,
                "DR0: %s", strerror(errno));
    QKT_REQUIRE(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), dr7) == 0,
                "DR7: %s", strerror(errno));
}

void qkt_wait_watchpoint(pid_t pid)
{
    int status;
    QKT_REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    QKT_REQUIRE(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP,
                "the child did not stop at the watchpoint (status 0x%x)", status);
}

void qkt_untrace(pid_t pid)
{
    QKT_REQUIRE(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), 0ul) == 0,
                "DR7: %s", strerror(errno));
    QKT_REQUIRE(ptrace(PTRACE_DETACH, pid, 0, 0) == 0, "PTRACE_DETACH: %s", strerror(errno));
}

uintptr_t qkt_run_to_shared_mmap(pid_t pid, size_t len)
{
    int sig = 0;
    for (;;) {
        QKT_REQUIRE(ptrace(PTRACE_SYSCALL, pid, 0, sig) == 0, "PTRACE_SYSCALL: %s",
                    strerror(errno));
        int status;
        QKT_REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
        if (!WIFSTOPPED(status))
            return 0;
        sig = 0;
        if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
            if (status >> 16 == 0 && WSTOPSIG(status) != SIGTRAP)
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
#endif
