/* Configure-time check (CMakeLists.txt): state files need mutexes that are process-shared and
 * robust, and the owner-died report must really work. Preprocessor symbols cannot tell (glibc
 * leaves _POSIX_THREAD_ROBUST_PRIO_INHERIT undefined though it supports robust mutexes), so
 * this runs: a child locks a shared robust mutex and dies, and the parent must get EOWNERDEAD
 * and be able to make the mutex consistent. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pthread_mutex_t *m =
        mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t a;
    if (m == MAP_FAILED || pthread_mutexattr_init(&a) != 0 ||
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 || pthread_mutex_init(m, &a))
        return 1;
    const pid_t pid = fork();
    if (pid == 0) {
        pthread_mutex_lock(m);
        _exit(0);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 2;
    if (pthread_mutex_lock(m) != EOWNERDEAD || pthread_mutex_consistent(m) != 0)
        return 3;
    return pthread_mutex_unlock(m) == 0 ? 0 : 4;
}
