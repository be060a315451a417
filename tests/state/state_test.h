/* What the state-file suites (issue 5) share beyond tests/support: a temporary directory per
 * test, the fixed clock every process of a test agrees on, options and trackers for a state file,
 * and white-box access to the file's layout (src/region.h). Temporary directories, child
 * processes, process barriers, file fingerprints and watchpoints come from tests/support.
 *
 * Criterion runs every test in its own process, so file statics are per test. Children forked
 * inside a test never touch Criterion: they report through _exit() codes (QKT_CHILD_OK means
 * every check held) and shared anonymous memory. */
#ifndef QK_STATE_TEST_H
#define QK_STATE_TEST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
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

#include "clock.h"
#include "evrec.h"
#include "files.h"
#include "procs.h"
#include "qkt_criterion.h" /* peek, used_of, assert_child_ok */
#include "quotakeeper.h"
#include "region.h"
#include "tmpdir.h"
#include "usage.h"
#include "watchpoint.h"
#if QKT_HAVE_WATCHPOINTS
#include <sys/ptrace.h>
#include <sys/user.h>
#endif

/* ---- a temporary directory per test, removed by the suite's .fini ---- */

static char st_dir[PATH_MAX];

static inline void st_setup(void)
{
    qkt_tmpdir_make(st_dir, "qk-state");
}

static inline void st_teardown(void)
{
    qkt_file_fingerprints_release();
    if (st_dir[0] != '\0')
        qkt_tmpdir_remove(st_dir);
}

/* dst (PATH_MAX bytes) = <test dir>/<name> */
static inline const char *st_path(char *dst, const char *name)
{
    return qkt_path(dst, st_dir, name);
}

/* ---- clocks: every process of a test agrees on the time, so no window rolls by accident ---- */

/* 2024-03-15 12:00:00.000 UTC: the first millisecond of a minute. */
#define T0 INT64_C(1710504000000)

static qkt_clock st_t0 = {T0};

/* ---- service definitions and options ---- */

/* Options for a state file; the clock is *now (T0 unless the test moves it). */
static inline qk_options st_opts(const char *path, const qk_service_def *defs, size_t n,
                                 size_t capacity, qkt_clock *now)
{
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    o.services = defs;
    o.n_services = n;
    o.capacity = capacity;
    o.clock = qkt_clock_read;
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
