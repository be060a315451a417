"""cffi builder for quotakeeper._native (API mode: compiled against include/quotakeeper.h).

API mode rather than ABI mode: the C compiler reads the real header, so every struct layout,
enum value and constant the binding uses is checked at build time (the `...` below), where
ABI mode would repeat the layouts by hand and misread memory if they drifted. It also gives
`extern "Python"` callbacks (no run-time trampolines) and the faster direct call path. cffi
releases the GIL around every call into the library.

Where the library is found, first match wins:

1. QUOTAKEEPER_BUILD_DIR: a CMake build tree of this repository (headers from the source
   tree's include/ and the build's generated include/, libquotakeeper.so from the build; an
   rpath to it is recorded, so nothing else is needed at run time).
2. QUOTAKEEPER_INCLUDE_DIR / QUOTAKEEPER_LIB_DIR: explicit directories.
3. pkg-config quotakeeper (an installed library; PKG_CONFIG_PATH for a non-default prefix).
4. The compiler's default search paths.
"""

import os
import shlex
import subprocess

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

CDEF = r"""
typedef enum {
    QK_OK, QK_EINVAL, QK_ENOENT, QK_EEXIST, QK_ENOMEM, QK_ELIMIT, QK_EFULL, QK_ERANGE,
    QK_EIO, QK_ECORRUPT, QK_EUNAVAIL, QK_EREADONLY, ...
} qk_error;

#define QK_MAX_WINDOWS ...
#define QK_NAME_MAX ...
#define QK_OPTIONS_VERSION ...
#define QK_PRIORITY ...
#define QK_OPEN_READONLY ...
#define QK_NEVER ...
#define QK_VERSION_MAJOR ...
#define QK_VERSION_MINOR ...
#define QK_VERSION_PATCH ...

typedef struct qk_tracker qk_tracker;
typedef uint32_t qk_service;

typedef enum { QK_MINUTE, QK_HOUR, QK_DAY, QK_MONTH, QK_FOREVER, QK_SECOND, QK_WEEK, ... }
    qk_period;
#define QK_WINDOW_ROLLING ...
typedef enum { QK_LEVEL_OK, QK_LEVEL_WARN, QK_LEVEL_CRITICAL, QK_LEVEL_EXHAUSTED, ... } qk_level;
typedef enum { QK_OUTAGE_SAFE, QK_OUTAGE_CLOSED, QK_OUTAGE_OPEN, ... } qk_outage;
typedef enum { QK_EVENT_LEVEL, QK_EVENT_STORE_DEGRADED, QK_EVENT_STORE_RECOVERED, ... }
    qk_event_kind;

typedef struct {
    qk_period period;
    uint64_t limit;
    unsigned every;
    unsigned flags;
    int64_t offset_ms;
    const char *tz;
    ...;
} qk_window_def;

typedef struct {
    const char *name;
    qk_window_def windows[...];
    uint8_t warn_pct;
    uint8_t critical_pct;
    uint64_t reserve;
    qk_outage outage;
    uint64_t lease_max;
    ...;
} qk_service_def;

typedef struct {
    qk_service service;
    const char *name;
    unsigned window;
    qk_level from, to;
    uint64_t used, limit;
    int64_t window_start_ms;
    uint64_t seq;
    qk_event_kind kind;
    ...;
} qk_event;

typedef void (*qk_event_fn)(const qk_event *ev, void *payload);

typedef struct {
    unsigned version;
    const qk_service_def *services;
    size_t n_services;
    size_t capacity;
    int64_t (*clock)(void *clock_ctx);
    void *clock_ctx;
    qk_event_fn on_event;
    void *payload;
    const char *path;
    unsigned mode;
    unsigned flags;
    const char *store;
    int64_t store_timeout_ms;
    ...;
} qk_options;

typedef struct {
    qk_period period;
    uint64_t limit, used;
    uint64_t remaining;
    int64_t window_start_ms;
    int64_t reset_at_ms;
    qk_level level;
    ...;
} qk_window_usage;

typedef struct {
    qk_service service;
    char name[...];
    qk_level level;
    uint64_t remaining;
    int64_t reset_at_ms;
    int tripped;
    unsigned n_windows;
    qk_window_usage windows[...];
    ...;
} qk_usage;

#define QK_STORE_INFO_VERSION ...

typedef struct {
    qk_period period;
    int64_t window_start_ms;
    uint64_t held;
    uint64_t unsynced;
    uint64_t fleet_used;
    uint64_t fleet_limit;
    uint64_t overdraft;
    ...;
} qk_store_window_info;

typedef struct {
    qk_service service;
    unsigned n_windows;
    qk_store_window_info windows[...];
    ...;
} qk_store_service_info;

typedef struct {
    unsigned version;
    int degraded;
    uint32_t consecutive_failures, consecutive_successes;
    uint64_t syncs, failures;
    int64_t clock_offset_ms;
    char host_id[...];
    char last_error[...];
    qk_store_service_info *services;
    size_t cap, count;
    ...;
} qk_store_info;

int qk_tracker_new(qk_tracker **out, const qk_options *opts);
void qk_tracker_free(qk_tracker *t);
int qk_tracker_flush(qk_tracker *t);
void qk_atfork_prepare(qk_tracker *t);
void qk_atfork_parent(qk_tracker *t);
void qk_atfork_child(qk_tracker *t);
int qk_service_add(qk_tracker *t, const qk_service_def *def, qk_service *out);
int qk_service_find(const qk_tracker *t, const char *name, qk_service *out);
size_t qk_service_count(const qk_tracker *t);
int qk_record(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out);
int qk_try_consume(qk_tracker *t, qk_service s, uint64_t n, unsigned flags, qk_usage *out);
int qk_refund(qk_tracker *t, qk_service s, uint64_t n);
int qk_peek(qk_tracker *t, qk_service s, qk_usage *out);
int qk_window_get(qk_tracker *t, qk_service s, unsigned window, qk_window_def *out);
int qk_set_used(qk_tracker *t, qk_service s, unsigned window, uint64_t used);
int qk_reset(qk_tracker *t, qk_service s);
int qk_reset_all(qk_tracker *t);
int qk_snapshot(qk_tracker *t, qk_usage *out, size_t cap, size_t *count);
int qk_store_sync(qk_tracker *t);
int qk_store_status(qk_tracker *t, qk_store_info *out);
int qk_store_init(int *created, const char *url, int64_t timeout_ms);
const char *qk_strerror(int code);
const char *qk_err_name(int code);
const char *qk_level_name(qk_level level);
const char *qk_errmsg(void);
const char *qk_version_string(void);
unsigned qk_version(void);

extern "Python" int64_t qk_py_clock(void *ctx);
extern "Python" void qk_py_event(const qk_event *ev, void *payload);
"""


def _pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "quotakeeper"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def locate():
    """Returns (include_dirs, library_dirs, runtime_library_dirs) for the library."""
    build = os.environ.get("QUOTAKEEPER_BUILD_DIR")
    if build:
        build = os.path.abspath(build)
        src = os.environ.get("QUOTAKEEPER_SOURCE_DIR") or os.path.normpath(
            os.path.join(HERE, "..", ".."))
        return ([os.path.join(src, "include"), os.path.join(build, "include")], [build],
                [build])
    inc = os.environ.get("QUOTAKEEPER_INCLUDE_DIR")
    lib = os.environ.get("QUOTAKEEPER_LIB_DIR")
    if inc or lib:
        return ([inc] if inc else [], [lib] if lib else [], [lib] if lib else [])
    cflags = _pkg_config("--cflags-only-I")
    libs = _pkg_config("--libs-only-L")
    if cflags is not None and libs is not None:
        incs = [f[2:] for f in cflags if f.startswith("-I")]
        libdirs = [f[2:] for f in libs if f.startswith("-L")]
        # The default system directories need no rpath; anything else (/usr/local/lib, a
        # private prefix) gets one, so the module loads without LD_LIBRARY_PATH or ldconfig.
        system = {"/usr/lib", "/lib", "/usr/lib64", "/lib64", "/usr/lib/x86_64-linux-gnu",
                  "/usr/lib/aarch64-linux-gnu"}
        return incs, libdirs, [d for d in libdirs if os.path.normpath(d) not in system]
    return [], [], []


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
_inc, _libdirs, _rpath = locate()
ffibuilder.set_source(
    "quotakeeper._native",
    "#include <quotakeeper.h>\n",
    libraries=["quotakeeper"],
    include_dirs=_inc,
    library_dirs=_libdirs,
    runtime_library_dirs=_rpath,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
