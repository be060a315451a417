/* The config library's per-thread error message. The core exports no way to set qk_errmsg(),
 * so this library keeps its own, in the same way. */
#include <stdarg.h>
#include <stdio.h>

#include <quotakeeper/config.h>

#include "errmsg.h"

/* Room for a long path, a line number and the reason. */
static _Thread_local char last_message[768];

int qk__config_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return code;
}

const char *qk_config_errmsg(void)
{
    return last_message[0] ? last_message : "no error";
}
