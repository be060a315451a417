/* Worker threads that start together: they wait on a barrier before their first operation, so
 * that they really contend instead of running one after another as they are created. What each
 * records stays in its own memory until qkt_crew_join, which orders it before the checks for
 * every checker (TSan, helgrind) without atomics of the test's own. */
#ifndef QKT_THREADS_H
#define QKT_THREADS_H

#include <pthread.h>
#include <stddef.h>

/* Starts n threads running fn(&args[i*size]) with small stacks (200 threads fit anywhere); a
 * failed pthread_create dies. */
void qkt_threads_start(pthread_t *th, size_t n, void *(*fn)(void *), void *args, size_t size);

void qkt_threads_join(pthread_t *th, size_t n);

typedef struct {
    pthread_barrier_t go;
    pthread_t *threads;
    size_t n;
} qkt_crew;

/* Makes room for n workers. The barrier also waits for `others` threads that the program starts
 * apart (checkers running beside the workers), so that those start with them. */
void qkt_crew_init(qkt_crew *crew, long n, unsigned others);

/* Starts worker i on fn(&args[i*size]); each must wait on crew->go first. */
void qkt_crew_start(qkt_crew *crew, void *(*fn)(void *), void *args, size_t size);

/* Waits for every worker: what they recorded is then ordered before the checks. */
void qkt_crew_join(qkt_crew *crew);

void qkt_crew_destroy(qkt_crew *crew);

#endif
