/* The strategy registry, built from the one list in strategies.h. */
#include <string.h>

#include "strategies.h"

#define DECLARE_ADAPTER(id, name, snapshot, role, style, lock)                                     \
    extern const perf_adapter perf_adapter_##id;
PERF_STRATEGIES(DECLARE_ADAPTER)
PERF_STORE_STRATEGIES(DECLARE_ADAPTER)
#undef DECLARE_ADAPTER

#define STRATEGY_ROW(id, name_, snapshot, role_, style, lock_)                                     \
    {.name = name_,                                                                                \
     .snapshot_kind = snapshot,                                                                    \
     .role = role_,                                                                                \
     .scope = PERF_SCOPE_LOCAL,                                                                    \
     .chart_style = style,                                                                         \
     .lock = lock_,                                                                                \
     .ops = &perf_adapter_##id},
#define STORE_STRATEGY_ROW(id, name_, snapshot, role_, style, lock_)                               \
    {.name = name_,                                                                                \
     .snapshot_kind = snapshot,                                                                    \
     .role = role_,                                                                                \
     .scope = PERF_SCOPE_STORE,                                                                    \
     .chart_style = style,                                                                         \
     .lock = lock_,                                                                                \
     .ops = &perf_adapter_##id},
const perf_strategy perf_strategies[] = {PERF_STRATEGIES(STRATEGY_ROW)
                                             PERF_STORE_STRATEGIES(STORE_STRATEGY_ROW)};
#undef STRATEGY_ROW
#undef STORE_STRATEGY_ROW
const size_t perf_n_strategies = sizeof perf_strategies / sizeof perf_strategies[0];

const perf_strategy *perf_strategy_named(const char *name)
{
    for (size_t i = 0; i < perf_n_strategies; i++)
        if (strcmp(perf_strategies[i].name, name) == 0)
            return &perf_strategies[i];
    return NULL;
}

void perf_print_strategies(FILE *f)
{
    static const char *const kinds[] = {"consistent", "not-consistent", "lossy"};
    static const char *const roles[] = {"peer", "subject", "baseline"};
    static const char *const scopes[] = {"local", "store"};
    for (size_t i = 0; i < perf_n_strategies; i++) {
        const perf_strategy *st = &perf_strategies[i];
        fprintf(f, "%s,%s,%s,%s,%s,%s\n", st->name, kinds[st->snapshot_kind], roles[st->role],
                scopes[st->scope], st->chart_style, st->lock);
    }
}

void perf_print_strategy_names(FILE *f)
{
    for (size_t i = 0; i < perf_n_strategies; i++)
        fprintf(f, "%s%s", i ? "," : "", perf_strategies[i].name);
}
