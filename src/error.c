/* The error table's strings and names, the level names, the version, and the per-thread error
 * message. */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

static _Thread_local char last_message[256];

const char *qk_strerror(int code)
{
    switch (code) {
#define QK_ERROR_STRING_(name, value, msg)                                                         \
    case (value):                                                                                  \
        return msg;
        QK_ERROR_TABLE(QK_ERROR_STRING_)
#undef QK_ERROR_STRING_
    }
    return "unknown error";
}

const char *qk_err_name(int code)
{
    switch (code) {
#define QK_ERROR_NAME_(name, value, msg)                                                           \
    case (value):                                                                                  \
        return #name;
        QK_ERROR_TABLE(QK_ERROR_NAME_)
#undef QK_ERROR_NAME_
    }
    return "unknown";
}

const char *qk_level_name(qk_level level)
{
    switch (level) {
    case QK_LEVEL_OK:
        return "ok";
    case QK_LEVEL_WARN:
        return "warn";
    case QK_LEVEL_CRITICAL:
        return "critical";
    case QK_LEVEL_EXHAUSTED:
        return "exhausted";
    }
    return "unknown";
}

const char *qk_version_string(void)
{
    return QK_VERSION_STRING;
}

unsigned qk_version(void)
{
    return QK_VERSION_HEX;
}

int qk__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = snprintf(last_message, sizeof last_message, "%s: ", qk_strerror(code));
    if (len > 0 && (size_t)len < sizeof last_message)
        vsnprintf(last_message + len, sizeof last_message - (size_t)len, fmt, ap);
    va_end(ap);
    return code;
}

const char *qk_errmsg(void)
{
    return last_message[0] ? last_message : "no error";
}
