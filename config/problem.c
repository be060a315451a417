/* The first problem found while reading a file. */
#include <stdarg.h>
#include <stdio.h>

#include "problem.h"

int qk__config_problem_set(qk__config_problem *p, int code, unsigned line, const char *fmt, ...)
{
    if (p->code != 0)
        return 0;
    p->code = code;
    p->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof p->reason, fmt, ap);
    va_end(ap);
    return 0;
}
