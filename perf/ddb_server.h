/* The dynalite (a DynamoDB emulator on node) the DynamoDB store strategies talk to: started once
 * per qk_perf process by tests/support's helper (tests/support/servers.h: a free loopback port,
 * in memory, stopped by pid at exit, and a crashed qk_perf takes it along: PR_SET_PDEATHSIG).
 * The script is $QK_DYNALITE, else the one `scripts/need.sh --npm build/node dynalite@4.0.0`
 * installs; node must be on PATH. At start qk_store_init makes one table for the process, as an
 * operator would (and waits until it is ACTIVE). Requests go through perf_ddb_call, whose handles
 * are signed with dummy credentials (dynalite accepts any signature), which also go into the
 * environment for the library. */
#ifndef QK_PERF_DDB_SERVER_H
#define QK_PERF_DDB_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Starts it and creates the table if that is not done: 0, or -1 with why in err. */
int perf_ddb_start(char *err, size_t len);

/* Its port on 127.0.0.1 and the table's name; 0 and "" before a successful start. */
int perf_ddb_port(void);
const char *perf_ddb_table(void);

/* The store URL of the table, for qk_options.store. */
void perf_ddb_store_url(char *url, size_t len);

/* One signed request, op the DynamoDB operation ("UpdateItem"), body its JSON: the HTTP status
 * (0 when no answer came) and, when answer is not NULL, the answer's JSON (NULL when it did
 * not parse), which the caller frees. Safe from any thread: each call takes a handle of its
 * own from a pool, so connections are kept alive. */
long perf_ddb_call(const char *op, const char *body, json_t **answer);

/* Every HTTP request made to DynamoDB by this process (the library's too: perf/CMakeLists.txt
 * wraps curl_easy_perform), for the strategies' store_ops. */
uint64_t perf_ddb_requests(void);

#endif
