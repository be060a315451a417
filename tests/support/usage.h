/* Service definitions and usages, compared field by field. */
#ifndef QKT_USAGE_H
#define QKT_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "quotakeeper.h"

/* A one-service definition with up to two windows (limit 0 ends the list). */
qk_service_def qkt_svc_def(const char *name, qk_period p0, uint64_t l0, qk_period p1, uint64_t l1);

/* Whether two usages are equal in every field (qk_usage has padding: no memcmp). */
bool qkt_usage_eq(const qk_usage *a, const qk_usage *b);

/* n service definitions named <prefix>0, <prefix>1, ..., windows left for the caller to set.
 * The names live in the same block, after the definitions, so that free(defs) releases both. */
qk_service_def *qkt_named_defs(long n, const char *prefix);

#endif
