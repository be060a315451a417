/* An event recorder for qk_options.on_event: every event in delivery order, with the thread
 * that delivered it and a copy of its name, so a test can assert the exact sequence. Bounded:
 * events past QKT_EVREC_MAX are counted, not kept. */
#ifndef QKT_EVREC_H
#define QKT_EVREC_H

#include <pthread.h>
#include <stddef.h>

#include "quotakeeper.h"

#define QKT_EVREC_MAX 512

typedef struct {
    pthread_mutex_t mu;
    size_t n;
    qk_event ev[QKT_EVREC_MAX];
    char name[QKT_EVREC_MAX][QK_NAME_MAX];
    pthread_t thread[QKT_EVREC_MAX];
} qkt_evrec;

void qkt_evrec_init(qkt_evrec *l);

/* The callback; payload is the qkt_evrec. */
void qkt_evrec_fn(const qk_event *ev, void *payload);

size_t qkt_evrec_count(qkt_evrec *l);

#endif
