/* The config library's per-thread error message (qk_config_errmsg), apart from the core's. */
#ifndef QK_CONFIG_ERRMSG_H
#define QK_CONFIG_ERRMSG_H

/* Sets this thread's message from a printf format and returns code. */
int qk__config_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
