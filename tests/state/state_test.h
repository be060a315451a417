/* Helpers shared by the state-file suites (issue 5): a temporary directory per test, fixed
 * clocks, child processes that report through their exit status, process barriers, byte-exact
 * file fingerprints and white-box access to the file's layout (src/region.h).
 *
 * Criterion runs every test in its own process, so file statics are per test. Children forked
 * inside a test never touch Criterion: they report through _exit() codes (0 means every check
 * held) and shared anonymous memory, and _exit() so that no atexit handler or stdio buffer of
 * the test process runs twice. */
#ifndef QK_STATE_TEST_H
#define QK_STATE_TEST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../unit/qk_shared.h" /* svc_def, peek, used_of */
#include "quotakeeper.h"
#include "region.h"

/* ---- a temporary directory per test, removed by the suite's .fini ---- */

static char st_dir[PATH_MAX];

static inline void st_setup(void)
{
    snprintf(st_dir, sizeof st_dir, "%s/qk-state-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(st_dir), "mkdtemp: %s", strerror(errno));
}

static inline int st_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

/* Fingerprint buffers not yet released by st_assert_untouched (a failed assertion skips it). */
static unsigned char *st_pending[16];

static inline void st_teardown(void)
{
    for (size_t i = 0; i < sizeof st_pending / sizeof *st_pending; i++) {
        free(st_pending[i]);
        st_pending[i] = NULL;
    }
    if (st_dir[0] != '\0')
        nftw(st_dir, st_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dst (PATH_MAX bytes) = <test dir>/<name> */
static inline const char *st_path(char *dst, const char *name)
{
    const int n = snprintf(dst, PATH_MAX, "%s/%s", st_dir, name);
    cr_assert(n > 0 && n < PATH_MAX, "path too long");
    return dst;
}

/* ---- clocks: every process of a test agrees on the time, so no window rolls by accident ---- */

/* 2024-03-15 12:00:00.000 UTC: the first millisecond of a minute. */
#define T0    INT64_C(1710504000000)
#define T_MIN INT64_C(60000)

/* ctx points to an int64_t holding the time. */
static inline int64_t st_clock(void *ctx)
{
    return *(const volatile int64_t *)ctx;
}

static int64_t st_t0 = T0;

/* ---- service definitions and options ---- */

/* Options for a state file; the clock is *now (T0 unless the test moves it). */
static inline qk_options st_opts(const char *path, const qk_service_def *defs, size_t n,
                                 size_t capacity, int64_t *now)
{
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    o.services = defs;
    o.n_services = n;
    o.capacity = capacity;
    o.clock = st_clock;
    o.clock_ctx = now ? now : &st_t0;
    return o;
}

/* Options that open an existing file as it is, configuring nothing. The capacity is ignored for
 * an existing file, but check_options still refuses 0 when no service is configured
 * ("capacity is 0"), so 1 is passed. */
static inline qk_options st_opts_existing(const char *path)
{
    return st_opts(path, NULL, 0, 1, NULL);
}

static inline qk_tracker *st_open(const qk_options *o)
{
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, o);
    cr_assert_eq(rc, QK_OK, "qk_tracker_new(%s): %s (%s)", o->path ? o->path : "private",
                 qk_strerror(rc), qk_errmsg());
    return t;
}

static inline qk_service st_find(qk_tracker *t, const char *name)
{
    qk_service s = 0;
    const int rc = qk_service_find(t, name, &s);
    cr_assert_eq(rc, QK_OK, "qk_service_find(%s): %s", name, qk_errmsg());
    return s;
}

/* ---- child processes ---- */

/* Exit codes of children: 0 every check held; anything else says which failed. */
#define CHILD_OK 0

/* Forks a child that runs fn(arg) and _exits with its result. A child still running after
 * limit_s seconds is killed by SIGALRM, so a deadlocked child becomes a failure, not a hang. */
static inline pid_t st_spawn(int (*fn)(void *), void *arg, unsigned limit_s)
{
    fflush(NULL);
    const pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(limit_s);
        _exit(fn(arg));
    }
    return pid;
}

/* The child's exit status, or 1000 + the signal that ended it. */
static inline int st_wait(pid_t pid)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    cr_assert_eq(r, pid, "waitpid: %s", strerror(errno));
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 1000 + WTERMSIG(status);
}

#define assert_child_ok(pid, what)                                                                 \
    do {                                                                                           \
        const int st_rc_ = st_wait(pid);                                                           \
        cr_assert_eq(st_rc_, CHILD_OK, "%s: child %s %d", (what),                                  \
                     st_rc_ >= 1000 ? "killed by signal" : "exited with", st_rc_ % 1000);          \
    } while (0)

/* Shared anonymous memory, visible to every process forked after it is made. */
static inline void *st_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
    return p;
}

/* A barrier for processes: children block in st_barrier_wait() until the parent calls
 * st_barrier_release(), which closes the write end so that every read returns at once. */
typedef struct {
    int fd[2];
} st_barrier;

static inline void st_barrier_init(st_barrier *b)
{
    cr_assert_eq(pipe(b->fd), 0);
}

static inline void st_barrier_wait(st_barrier *b) /* in a child */
{
    close(b->fd[1]);
    char c;
    while (read(b->fd[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(b->fd[0]);
}

static inline void st_barrier_release(st_barrier *b) /* in the parent */
{
    close(b->fd[0]);
    close(b->fd[1]);
}

/* Whether the thread (tid) or single-threaded process (pid) is blocked in futex(2): used to
 * make sure a waiter is parked on a lock before the test moves on. Reading /proc is a
 * synchronisation aid, not an assertion: the result the tests check does not depend on it. */
static inline bool st_in_futex(pid_t pid, pid_t tid)
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

/* Waits, up to about 10 s, until the task is blocked in futex(2). */
static inline bool st_wait_futex(pid_t pid, pid_t tid)
{
    for (int i = 0; i < 100000; i++) {
        if (st_in_futex(pid, tid))
            return true;
        const struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Whether some open file description holds a lock on the state file's alive byte, that is
 * whether any tracker, in any process, has the file open (src/region.c). */
static inline bool st_file_in_use(const char *path)
{
    const int fd = open(path, O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1};
    cr_assert_eq(fcntl(fd, F_OFD_GETLK, &fl), 0, "F_OFD_GETLK: %s", strerror(errno));
    close(fd);
    return fl.l_type != F_UNLCK;
}

/* ---- forcing an interleaving: a hardware watchpoint on another process (x86_64) ----
 *
 * The test traces a child (ptrace) and arms debug register 0 on an address in the child's
 * memory, so that the child stops right after its next store there: between two stores of the
 * library that another process must never see apart, or that a crash must survive apart. */
#if defined(__x86_64__)
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#define ST_HAVE_WATCHPOINTS 1

/* Seizes pid and stops it. false (and pid untouched) where tracing is not allowed. With
 * syscalls, syscall stops are marked (PTRACE_O_TRACESYSGOOD) for st_run_to_shared_mmap. */
static inline bool st_trace(pid_t pid, bool syscalls)
{
    if (ptrace(PTRACE_SEIZE, pid, 0, syscalls ? PTRACE_O_TRACESYSGOOD : 0) != 0)
        return false;
    int status;
    cr_assert_eq(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSTOPPED(status));
    return true;
}

/* Arms the watchpoint on the 8 bytes at addr (write accesses) in the stopped tracee. */
static inline void st_watch_writes(pid_t pid, uintptr_t addr)
{
    const unsigned long dr7 = 1ul | 1ul << 16 | 2ul << 18; /* L0, write, 8 bytes */
    cr_assert_eq(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[0]), addr), 0,
                 "DR0: %s", strerror(errno));
    cr_assert_eq(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), dr7), 0,
                 "DR7: %s", strerror(errno));
}

/* Waits until the tracee stops at the watchpoint. */
static inline void st_wait_watchpoint(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP,
              "the child did not stop at the watchpoint (status 0x%x)", status);
}

/* Disarms the watchpoint and lets the stopped tracee go on, untraced. */
static inline void st_release(pid_t pid)
{
    cr_assert_eq(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), 0ul), 0);
    cr_assert_eq(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
}

/* Runs the stopped tracee (seized with syscalls) to the return of its first mmap(MAP_SHARED)
 * of len bytes and returns the address it got, the tracee stopped there; 0 if it exits first.
 * Other signals are passed on. */
static inline uintptr_t st_run_to_shared_mmap(pid_t pid, size_t len)
{
    int sig = 0;
    for (;;) {
        cr_assert_eq(ptrace(PTRACE_SYSCALL, pid, 0, sig), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        if (!WIFSTOPPED(status))
            return 0;
        sig = 0;
        if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
            if (status >> 16 == 0 && WSTOPSIG(status) != SIGTRAP)
                sig = WSTOPSIG(status);
            continue;
        }
        struct user_regs_struct regs;
        cr_assert_eq(ptrace(PTRACE_GETREGS, pid, 0, &regs), 0);
        const bool at_exit = (long)regs.rax != -ENOSYS;
        if (at_exit && regs.orig_rax == SYS_mmap && (regs.r10 & MAP_SHARED) && regs.rsi == len)
            return (uintptr_t)regs.rax;
    }
}
#else
#define ST_HAVE_WATCHPOINTS 0
#endif

/* ---- files: fingerprints for "left untouched" ---- */

typedef struct {
    size_t size;
    unsigned char *bytes;
    struct timespec mtime;
    mode_t mode;
} st_file;

static inline unsigned char *st_read_all(const char *path, size_t *size)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    struct stat sb;
    cr_assert_eq(fstat(fd, &sb), 0);
    unsigned char *b = malloc((size_t)sb.st_size + 1);
    cr_assert_not_null(b);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        const ssize_t r = pread(fd, b + got, (size_t)sb.st_size - got, (off_t)got);
        cr_assert_gt(r, 0, "read %s", path);
        got += (size_t)r;
    }
    close(fd);
    *size = got;
    return b;
}

static inline void st_write_all(const char *path, const void *data, size_t size, mode_t mode)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, size), (ssize_t)size);
    close(fd);
}

/* Sets the file's times to 2001-09-09 so that any write the test did not expect shows. */
static inline void st_age(const char *path)
{
    const struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0, "utimensat: %s",
                 strerror(errno));
}

/* Ages the file, then records its bytes, mtime and mode. */
static inline st_file st_fingerprint(const char *path)
{
    st_age(path);
    st_file f;
    f.bytes = st_read_all(path, &f.size);
    for (size_t i = 0; i < sizeof st_pending / sizeof *st_pending; i++)
        if (st_pending[i] == NULL) {
            st_pending[i] = f.bytes;
            break;
        }
    struct stat sb;
    cr_assert_eq(lstat(path, &sb), 0);
    f.mtime = sb.st_mtim;
    f.mode = sb.st_mode;
    return f;
}

static inline void st_assert_untouched(const char *path, st_file *before)
{
    size_t size = 0;
    unsigned char *now = st_read_all(path, &size);
    cr_assert_eq(size, before->size, "%s: size changed %zu -> %zu", path, before->size, size);
    cr_assert(memcmp(now, before->bytes, size) == 0, "%s: contents changed", path);
    struct stat sb;
    cr_assert_eq(lstat(path, &sb), 0);
    cr_assert(sb.st_mtim.tv_sec == before->mtime.tv_sec &&
                  sb.st_mtim.tv_nsec == before->mtime.tv_nsec,
              "%s: mtime changed", path);
    cr_assert_eq(sb.st_mode, before->mode, "%s: mode changed", path);
    free(now);
    for (size_t i = 0; i < sizeof st_pending / sizeof *st_pending; i++)
        if (st_pending[i] == before->bytes)
            st_pending[i] = NULL;
    free(before->bytes);
    before->bytes = NULL;
}

/* ---- the file's layout, white-box (src/region.h) ---- */

static inline size_t st_slots_offset(void)
{
    return (sizeof(qk_header) + _Alignof(qk_slot) - 1) / _Alignof(qk_slot) * _Alignof(qk_slot);
}

/* A writable mapping of a state file, for editing it into a bad or a crashed one. */
typedef struct {
    int fd;
    size_t size;
    unsigned char *base;
    qk_header *hdr;
    qk_slot *slots;
    char (*names)[QK_NAME_MAX];
} st_image;

static inline st_image st_image_map(const char *path)
{
    st_image im;
    im.fd = open(path, O_RDWR | O_CLOEXEC);
    cr_assert_geq(im.fd, 0, "open %s: %s", path, strerror(errno));
    struct stat sb;
    cr_assert_eq(fstat(im.fd, &sb), 0);
    im.size = (size_t)sb.st_size;
    im.base = mmap(NULL, im.size, PROT_READ | PROT_WRITE, MAP_SHARED, im.fd, 0);
    cr_assert_neq(im.base, MAP_FAILED);
    im.hdr = (qk_header *)im.base;
    im.slots = (qk_slot *)(im.base + st_slots_offset());
    im.names = (char(*)[QK_NAME_MAX])(im.slots + im.hdr->capacity);
    return im;
}

static inline void st_image_unmap(st_image *im)
{
    msync(im->base, im->size, MS_SYNC);
    munmap(im->base, im->size);
    close(im->fd);
}

/* FNV-1a over the header fields before the checksum, as the format defines it. */
static inline uint64_t st_header_checksum(const qk_header *h)
{
    const unsigned char *p = (const unsigned char *)h;
    uint64_t x = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < offsetof(qk_header, checksum); i++)
        x = (x ^ p[i]) * UINT64_C(1099511628211);
    return x;
}

#endif
