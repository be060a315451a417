/* What adapters may call besides their own code (harness.h): dying and aligned allocation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

_Noreturn void perf_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qk_perf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

void *perf_alloc(size_t size)
{
    const size_t rounded = (size + 127) / 128 * 128;
    void *p = aligned_alloc(128, rounded ? rounded : 128);
    if (p == NULL)
        perf_die("out of memory (%zu bytes)", size);
    memset(p, 0, rounded);
    return p;
}
