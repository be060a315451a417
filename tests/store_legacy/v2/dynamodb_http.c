/* FIXTURE (tests/store_legacy): src/store/dynamodb_http.c as released at commit 3a831db, kept
 * verbatim as the "old host" of the mixed-fleet test (the qk_store_v2 library variant). Never edit
 * it to follow today's code: it is what a host of that release writes into the store. The only
 * changes are this comment and what compiling against today's internal headers takes, all made by
 * tests/store_legacy/CMakeLists.txt, none in the text: quoted includes of store/merge.h,
 * store/dynamodb.h, store/redis.h and qk_merge_lua.h resolve to the frozen copies (-iquote), and
 * qk__store_merge_window and qk__store_retention_ms are renamed qk__v2_* so that they do not
 * clash with today's merge.c, which the rest of the library keeps. */
/* DynamoDB's transport: one libcurl easy handle per connection (so its TCP/TLS connection is
 * reused between calls), signed by libcurl's own SigV4 (CURLOPT_AWS_SIGV4) rather than a signer
 * of ours, every call bounded by the caller's deadline, and DynamoDB's retry rules: throttling,
 * 5xx and dropped connections are retried with full-jitter backoff while time is left; any
 * other answer goes back to the caller, a failed condition included. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "store/dynamodb.h"
#include "store/lease.h"

/* A body larger than this is not a DynamoDB answer (an item is at most 400 KB). */
#define BODY_MAX (2u << 20)
/* Backoff: full jitter over base * 2^attempt, capped. */
#define BACKOFF_BASE_MS 5
#define BACKOFF_CAP_MS  200

struct qk__ddb_http {
    CURL *curl;
    char url[QK__DDB_ENDPOINT_MAX + 2];
    char endpoint[QK__DDB_ENDPOINT_MAX]; /* named in every message about an answer */
    char sigv4[QK__DDB_REGION_MAX + 32];
    char *body;
    size_t len, cap;
    int overflow;
    int64_t date_ms;
    uint64_t rng; /* the jitter's state */
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init once per process; never cleaned up, as other code may use libcurl too. */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    qk__ddb_http *h = arg;
    const size_t add = size * n;
    if (h->len + add + 1 > BODY_MAX) {
        h->overflow = 1;
        return 0;
    }
    if (h->len + add + 1 > h->cap) {
        size_t cap = h->cap ? h->cap : 4096;
        while (cap < h->len + add + 1)
            cap *= 2;
        char *grown = realloc(h->body, cap);
        if (grown == NULL)
            return 0;
        h->body = grown;
        h->cap = cap;
    }
    memcpy(h->body + h->len, data, add);
    h->len += add;
    h->body[h->len] = '\0';
    return add;
}

/* The server's clock, from its Date header (1 s resolution). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    qk__ddb_http *h = arg;
    const size_t len = size * n;
    if (len > 5 && len < 128 && strncasecmp(data, "date:", 5) == 0) {
        char value[128];
        memcpy(value, data + 5, len - 5);
        value[len - 5] = '\0';
        const time_t t = curl_getdate(value, NULL);
        if (t > 0)
            h->date_ms = (int64_t)t * 1000;
    }
    return len;
}

int qk__ddb_http_new(qk__ddb_http **out, const qk__ddb_target *t)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return qk__fail(QK_ENOMEM, "dynamodb: libcurl did not initialise (%s)",
                        curl_easy_strerror(global_rc));
    qk__ddb_http *h = calloc(1, sizeof *h);
    if (h == NULL || (h->curl = curl_easy_init()) == NULL) {
        free(h);
        return qk__fail(QK_ENOMEM, "dynamodb: no memory for an HTTP handle");
    }
    snprintf(h->url, sizeof h->url, "%s/", t->endpoint);
    snprintf(h->endpoint, sizeof h->endpoint, "%s", t->endpoint);
    snprintf(h->sigv4, sizeof h->sigv4, "aws:amz:%s:dynamodb", t->region);
    h->rng = (uint64_t)(uintptr_t)h ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u;
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, h->sigv4);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    *out = h;
    return QK_OK;
}

void qk__ddb_http_free(qk__ddb_http *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    free(h->body);
    free(h);
}

static int64_t jitter(qk__ddb_http *h, int64_t max)
{
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    return max > 0 ? (int64_t)(h->rng % (uint64_t)(max + 1)) : 0;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* DynamoDB's retryable errors (its documentation's "error retries and exponential backoff"). */
static int retryable_type(const char *type)
{
    static const char *const types[] = {"ProvisionedThroughputExceededException",
                                        "ThrottlingException",
                                        "RequestLimitExceeded",
                                        "LimitExceededException",
                                        "InternalServerError",
                                        "ServiceUnavailable",
                                        "TransactionInProgressException"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(type, types[i]) == 0)
            return 1;
    return 0;
}

/* Whether the Date header (1 s resolution, rounded down) is within QK__STORE_SKEW_MAX_MS of the
 * host's clock. Past it the answer is refused, not used with the host's time instead: DynamoDB's
 * Date is the time the store-side merge runs at, and a far-future one makes every window of the
 * item "ended long ago", so writing the merge back would erase the other hosts' counts, and no
 * grant would be given. Refusing changes nothing in the store; the host's counts wait, unsynced,
 * for an answer with a true Date. *off_s gets the distance in seconds. */
static int date_believed(int64_t date_ms, long long *off_s)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const int64_t off = date_ms + 500 - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    *off_s = (long long)(off / 1000);
    return off <= QK__STORE_SKEW_MAX_MS + 500 && off >= -QK__STORE_SKEW_MAX_MS - 500;
}

/* One signed POST. CURLE_OK with the answer in h, or curl's error. */
static CURLcode perform(qk__ddb_http *h, const char *op, const char *json, int64_t left_ms,
                        const char *key, const char *secret, const char *token)
{
    char target[64], token_header[4096];
    snprintf(target, sizeof target, "X-Amz-Target: DynamoDB_20120810.%s", op);
    struct curl_slist *headers = NULL, *next;
    /* No "Expect:" to switch 100-continue off: curl 7.88 would sign the removed header (and AWS
     * refuse the signature); it sends Expect only for bodies over 1 MiB, beyond any item. */
    const char *lines[] = {"Content-Type: application/x-amz-json-1.0", target};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if ((next = curl_slist_append(headers, lines[i])) == NULL)
            goto nomem;
        headers = next;
    }
    if (token != NULL) {
        /* Temporary credentials: libcurl does not add the token; it signs it as any x-amz-*
         * header. */
        if ((size_t)snprintf(token_header, sizeof token_header, "X-Amz-Security-Token: %s",
                             token) >= sizeof token_header)
            goto nomem;
        if ((next = curl_slist_append(headers, token_header)) == NULL)
            goto nomem;
        headers = next;
    }
    CURL *c = h->curl;
    h->len = 0;
    h->overflow = 0;
    h->date_ms = -1;
    h->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERNAME, key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)left_ms);
    const CURLcode rc = curl_easy_perform(c);
    /* The secret stays in the handle's options no longer than the call. */
    curl_easy_setopt(c, CURLOPT_PASSWORD, "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    return rc;
nomem:
    curl_slist_free_all(headers);
    return CURLE_OUT_OF_MEMORY;
}

int qk__ddb_call(qk__ddb_http *h, const char *op, const char *json, int64_t deadline_ms,
                 qk__ddb_answer *a)
{
    const char *key = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (key == NULL || *key == '\0' || secret == NULL || *secret == '\0')
        return qk__fail(QK_EINVAL, "dynamodb: no credentials: set AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
                                   "ones)");
    if (token != NULL && *token == '\0')
        token = NULL;
    char why[QK__DDB_MESSAGE_MAX] = "no answer";
    for (unsigned attempt = 0;; attempt++) {
        const int64_t left = deadline_ms - qk__store_now_ms();
        if (left <= 0)
            return qk__fail(QK_EUNAVAIL, "dynamodb %s at %s: no answer in time (%s)", op,
                            h->endpoint, why);
        const CURLcode rc = perform(h, op, json, left, key, secret, token);
        memset(a, 0, sizeof *a);
        if (rc == CURLE_OUT_OF_MEMORY || (rc == CURLE_WRITE_ERROR && !h->overflow))
            return qk__fail(QK_ENOMEM, "dynamodb %s: no memory for the request or answer", op);
        if (rc == CURLE_WRITE_ERROR)
            return qk__fail(QK_EIO, "dynamodb %s at %s: an answer over %u bytes", op, h->endpoint,
                            BODY_MAX);
        if (rc == CURLE_PARTIAL_FILE)
            return qk__fail(QK_EIO, "dynamodb %s at %s: the answer was cut short (%s)", op,
                            h->endpoint, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        if (rc == CURLE_OPERATION_TIMEDOUT)
            return qk__fail(QK_EUNAVAIL, "dynamodb %s at %s: no answer in time (%s)", op,
                            h->endpoint, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        int retry = 0;
        if (rc != CURLE_OK) {
            /* Refused, reset, closed before an answer: the server may be restarting. */
            snprintf(why, sizeof why, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
            retry = 1;
        } else {
            curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &a->status);
            a->body = h->body != NULL ? h->body : "";
            a->len = h->len;
            a->date_ms = h->date_ms;
            long long off_s = 0;
            if (a->date_ms >= 0 && !date_believed(a->date_ms, &off_s)) {
                char shown[32] = "?";
                const time_t d = (time_t)(a->date_ms / 1000);
                struct tm tm;
                if (gmtime_r(&d, &tm) != NULL)
                    strftime(shown, sizeof shown, "%Y-%m-%dT%H:%M:%SZ", &tm);
                return qk__fail(QK_EIO,
                                "dynamodb %s at %s: the answer's Date header (%s) is %lld s from "
                                "this host's clock, past the %lld s a store's clock is believed: "
                                "the answer is not used",
                                op, h->endpoint, shown, off_s,
                                (long long)(QK__STORE_SKEW_MAX_MS / 1000));
            }
            if (a->status != 200)
                qk__ddb_json_error(a->body, a->len, a->error_type, sizeof a->error_type, a->message,
                                   sizeof a->message);
            if (a->status >= 500 || (a->status == 400 && retryable_type(a->error_type))) {
                snprintf(why, sizeof why, "HTTP %ld %s", a->status,
                         a->error_type[0] ? a->error_type : "");
                retry = 1;
            }
        }
        if (!retry)
            return QK_OK;
        int64_t backoff = BACKOFF_BASE_MS << (attempt < 6 ? attempt : 6);
        if (backoff > BACKOFF_CAP_MS)
            backoff = BACKOFF_CAP_MS;
        const int64_t wait = jitter(h, backoff), rest = deadline_ms - qk__store_now_ms();
        if (wait >= rest)
            return qk__fail(QK_EUNAVAIL, "dynamodb %s at %s: no answer in time (%s)", op,
                            h->endpoint, why);
        sleep_ms(wait);
    }
}
