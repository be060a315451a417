/* Error reporting: every failing call records a message for its thread (qk_errmsg). */
#ifndef QK_ERROR_H
#define QK_ERROR_H

#include "quotakeeper.h"

/* Records a formatted message for this thread and returns code. */
int qk__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
