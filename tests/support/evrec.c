#include "evrec.h"

#include <stdio.h>
#include <string.h>

void qkt_evrec_init(qkt_evrec *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

void qkt_evrec_fn(const qk_event *ev, void *payload)
{
    qkt_evrec *l = payload;
    pthread_mutex_lock(&l->mu);
    if (l->n < QKT_EVREC_MAX) {
        l->ev[l->n] = *ev;
        snprintf(l->name[l->n], QK_NAME_MAX, "%s", ev->name ? ev->name : "(null)");
        l->ev[l->n].name = l->name[l->n];
        l->thread[l->n] = pthread_self();
    }
    l->n++;
    pthread_mutex_unlock(&l->mu);
}

size_t qkt_evrec_count(qkt_evrec *l)
{
    pthread_mutex_lock(&l->mu);
    const size_t n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}
