/* The three timed operations of an adapter that copies qk_record's shell around its own lock
 * (global-slot, combining): each forwards to the adapter's out-of-line public function,
 * record_call, consume_call or refund_call (state, service) -> a qk error code. Included by such
 * an adapter after it defines them. */
#ifndef QK_PERF_CALL_OPS_H
#define QK_PERF_CALL_OPS_H

QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    record_call(state, s);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    return consume_call(state, s) == QK_OK;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    refund_call(state, s);
}

#endif
