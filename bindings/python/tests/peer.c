/* The C process of the Python binding's state-file tests (test_state_file.py).
 *
 *   qk_py_peer record PATH THREADS N SERVICE...   THREADS threads each record N calls, one at a
 *                                                 time, on every SERVICE
 *   qk_py_peer consume PATH THREADS N SERVICE     THREADS threads each try N single consumes;
 *                                                 prints the number granted
 *
 * It opens the existing state file without configuring any service (the file's own are used),
 * prints "ready", waits for a line on stdin (the test starts every process at once), works, and
 * exits 0, or 1 with a message on any unexpected error. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <quotakeeper.h>

static qk_tracker *tracker;
static int consume_mode;
static unsigned long per_thread;
static qk_service services[8];
static int n_services;
static atomic_ulong granted;
static atomic_int failed;

static void *worker(void *arg)
{
    (void)arg;
    for (unsigned long i = 0; i < per_thread; i++) {
        for (int s = 0; s < n_services; s++) {
            int rc = consume_mode ? qk_try_consume(tracker, services[s], 1, 0, NULL)
                                  : qk_record(tracker, services[s], 1, NULL);
            if (rc == QK_OK && consume_mode) {
                atomic_fetch_add(&granted, 1);
            } else if (rc != QK_OK && !(consume_mode && rc == QK_ELIMIT)) {
                fprintf(stderr, "qk_py_peer: %s: %s\n", qk_err_name(rc), qk_errmsg());
                atomic_store(&failed, 1);
                return NULL;
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc - 5 > 8 ||
        (strcmp(argv[1], "record") != 0 && strcmp(argv[1], "consume") != 0)) {
        fprintf(stderr, "usage: qk_py_peer record|consume PATH THREADS N SERVICE...\n");
        return 2;
    }
    consume_mode = strcmp(argv[1], "consume") == 0;
    int threads = atoi(argv[3]);
    per_thread = strtoul(argv[4], NULL, 10);
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "qk_py_peer: THREADS must be 1..64\n");
        return 2;
    }

    qk_options opts = QK_OPTIONS_INIT;
    opts.path = argv[2];
    int rc = qk_tracker_new(&tracker, &opts);
    if (rc != QK_OK) {
        fprintf(stderr, "qk_py_peer: open %s: %s\n", argv[2], qk_errmsg());
        return 1;
    }
    n_services = argc - 5;
    for (int i = 0; i < n_services; i++) {
        if (qk_service_find(tracker, argv[5 + i], &services[i]) != QK_OK) {
            fprintf(stderr, "qk_py_peer: %s\n", qk_errmsg());
            return 1;
        }
    }

    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "qk_py_peer: no start line\n");
        return 1;
    }

    pthread_t tids[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    if (consume_mode)
        printf("%lu\n", atomic_load(&granted));
    qk_tracker_free(tracker);
    return atomic_load(&failed);
}
