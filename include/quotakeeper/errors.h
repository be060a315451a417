/* quotakeeper error table: the single source of the error enum, qk_strerror() and qk_err_name().
 * Values and names are frozen: programs, qkctl's exit codes and JSON, and language bindings
 * compare against them, so never renumber or rename, only append (docs/stability.md). */
#ifndef QUOTAKEEPER_ERRORS_H
#define QUOTAKEEPER_ERRORS_H

/* XX(name, value, message) */
#define QK_ERROR_TABLE(XX)                                                                         \
    XX(QK_OK, 0, "success")                                                                        \
    XX(QK_EINVAL, -1, "invalid argument")                                                          \
    XX(QK_ENOENT, -2, "unknown service")                                                           \
    XX(QK_EEXIST, -3, "a service with that name already exists")                                   \
    XX(QK_ENOMEM, -4, "out of memory")                                                             \
    XX(QK_ELIMIT, -5, "the quota would be exceeded")                                               \
    XX(QK_EFULL, -6, "no room for another service")                                                \
    XX(QK_ERANGE, -7, "value out of range or buffer too small")                                    \
    XX(QK_EIO, -8, "input/output error")                                                           \
    XX(QK_ECORRUPT, -9, "state is corrupt or of a foreign format")                                 \
    XX(QK_EUNAVAIL, -10, "the shared store cannot be reached")                                     \
    XX(QK_EREADONLY, -11, "the tracker was opened read-only")

#endif
