#include "procs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fail.h"

void qkt_child_bounds(pid_t parent, unsigned limit_s)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(125); /* the parent died before the death signal was set up */
    alarm(limit_s);
}

pid_t qkt_fork_run(int (*fn)(void *), void *arg, unsigned limit_s)
{
    fflush(NULL);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    QKT_REQUIRE(pid != -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        qkt_child_bounds(parent, limit_s);
        _exit(fn(arg));
    }
    return pid;
}

bool qkt_read_byte(int fd)
{
    char c;
    ssize_t r;
    do
        r = read(fd, &c, 1);
    while (r < 0 && errno == EINTR);
    return r == 1;
}

int qkt_wait_child(pid_t pid)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    QKT_REQUIRE(r == pid, "waitpid: %s", strerror(errno));
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 1000 + WTERMSIG(status);
}

void *qkt_shared_mem(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    QKT_REQUIRE(p != MAP_FAILED, "mmap: %s", strerror(errno));
    return p;
}

void qkt_pbarrier_init(qkt_pbarrier *b)
{
    QKT_REQUIRE(pipe(b->fd) == 0, "pipe: %s", strerror(errno));
}

void qkt_pbarrier_wait(qkt_pbarrier *b)
{
    close(b->fd[1]);
    char c;
    while (read(b->fd[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(b->fd[0]);
}

void qkt_pbarrier_release(qkt_pbarrier *b)
{
    close(b->fd[0]);
    close(b->fd[1]);
}

bool qkt_in_futex(pid_t pid, pid_t tid)
{
    char p[96], line[64];
    if (tid > 0)
        snprintf(p, sizeof p, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    else
        snprintf(p, sizeof p, "/proc/%d/syscall", (int)pid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return false;
    char num[16];
    snprintf(num, sizeof num, "%ld ", (long)SYS_futex);
    const bool in = fgets(line, sizeof line, f) != NULL && strncmp(line, num, strlen(num)) == 0;
    fclose(f);
    return in;
}

bool qkt_wait_futex(pid_t pid, pid_t tid)
{
    for (int i = 0; i < 100000; i++) {
        if (qkt_in_futex(pid, tid))
            return true;
        const struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return false;
}

long qkt_peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}
