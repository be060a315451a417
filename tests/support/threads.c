#include "threads.h"

#include <stdlib.h>
#include <string.h>

#include "fail.h"

void qkt_threads_start(pthread_t *th, size_t n, void *(*fn)(void *), void *args, size_t size)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (size_t i = 0; i < n; i++) {
        const int rc = pthread_create(&th[i], &attr, fn, (char *)args + i * size);
        if (rc != 0)
            qkt_die(__FILE__, __LINE__, "pthread_create: %s", strerror(rc));
    }
    pthread_attr_destroy(&attr);
}

void qkt_threads_join(pthread_t *th, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

void qkt_crew_init(qkt_crew *crew, long n, unsigned others)
{
    crew->n = (size_t)n;
    crew->threads = qkt_calloc(crew->n, sizeof *crew->threads);
    pthread_barrier_init(&crew->go, NULL, (unsigned)n + others);
}

void qkt_crew_start(qkt_crew *crew, void *(*fn)(void *), void *args, size_t size)
{
    qkt_threads_start(crew->threads, crew->n, fn, args, size);
}

void qkt_crew_join(qkt_crew *crew)
{
    qkt_threads_join(crew->threads, crew->n);
}

void qkt_crew_destroy(qkt_crew *crew)
{
    free(crew->threads);
    pthread_barrier_destroy(&crew->go);
}
