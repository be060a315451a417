#include "fail.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic int failures;
static _Atomic(qkt_die_handler) die_handler;

void qkt_fail(const char *file, int line, const char *fmt, ...)
{
    const int n = atomic_fetch_add(&failures, 1);
    if (n >= 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int qkt_failures(void)
{
    return atomic_load(&failures);
}

int qkt_verdict(const char *name)
{
    const int n = qkt_failures();
    if (n > 0) {
        fprintf(stderr, "%s: FAILED (%d invariant violations)\n", name, n);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

void qkt_set_die_handler(qkt_die_handler fn)
{
    atomic_store(&die_handler, fn);
}

void qkt_die(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const qkt_die_handler fn = atomic_load(&die_handler);
    if (fn != NULL)
        fn(file, line, msg);
    fprintf(stderr, "%s:%d: FAIL: %s\n", file, line, msg);
    exit(2);
}

void *qkt_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        qkt_die(__FILE__, __LINE__, "out of memory");
    return p;
}
