#include "clock.h"

#include <stdatomic.h>
#include <time.h>

int64_t qkt_clock_read(void *ctx)
{
    return atomic_load_explicit(&((qkt_clock *)ctx)->ms, memory_order_relaxed);
}

void qkt_clock_set(qkt_clock *c, int64_t ms)
{
    atomic_store_explicit(&c->ms, ms, memory_order_relaxed);
}

int64_t qkt_clock_advance(qkt_clock *c, int64_t delta)
{
    return atomic_fetch_add_explicit(&c->ms, delta, memory_order_relaxed) + delta;
}

int64_t qkt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
