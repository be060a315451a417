/* quotakeeper error table: the single source of the error enum and qk_strerror().
 * Values are frozen: programs compare against them, so never renumber, only append. */
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
    XX(QK_ECORRUPT, -9, "state is corrupt or of a foreign format")

#endif
