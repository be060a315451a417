/* Signatures (issue 10): dynalite accepts any signature, so the requests the backend sends are
 * captured on a loopback listener and each Authorization header is checked by an independent
 * SigV4 implementation, botocore's (Debian's python3-botocore, run by /usr/bin/python3), with
 * long-term and with temporary credentials. The check itself is shown to bite: a signature
 * changed by one digit, or a wrong secret, fails it. */
#include <sys/wait.h>

#include "ddb_test.h"
#include "fakehttp.h"

TestSuite(ddb_sigv4, .timeout = 120);

#define KEY    "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN  "IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars"

static const char *answer(unsigned i, const char *op, int *close_after, void *ctx)
{
    (void)i, (void)close_after, (void)ctx;
    if (strcmp(op, "DescribeTable") == 0)
        return fakehttp_ok(FAKEHTTP_TABLE_OK);
    return fakehttp_ok("{}"); /* GetItem: no item yet; PutItem: done */
}

/* Runs the verifier over the first n captured requests; its exit status. */
static int verify(const fakehttp *f, unsigned n, const char *dir, const char *secret,
                  const char *token)
{
    char cmd[8192];
    int off =
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/verify_sigv4.py %s '%s' us-east-1 '%s'",
                 QK_DDB_TEST_DIR, KEY, secret, token ? token : "-");
    for (unsigned i = 0; i < n; i++) {
        char path[PATH_MAX], name[32];
        snprintf(name, sizeof name, "req%u.http", i);
        qkt_path(path, dir, name);
        FILE *out = fopen(path, "wb");
        cr_assert_not_null(out);
        fwrite(f->raw[i], 1, f->raw_len[i], out);
        fclose(out);
        off += snprintf(cmd + off, sizeof cmd - (size_t)off, " %s", path);
    }
    const int st = system(cmd);
    cr_assert(WIFEXITED(st), "the verifier did not run");
    return WEXITSTATUS(st);
}

static void signed_requests(const char *token)
{
    setenv("AWS_ACCESS_KEY_ID", KEY, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    if (token)
        setenv("AWS_SESSION_TOKEN", token, 1);
    else
        unsetenv("AWS_SESSION_TOKEN");
    fakehttp f;
    cr_assert_eq(fakehttp_start(&f, answer, NULL), 0);
    char url[128], dir[PATH_MAX];
    snprintf(url, sizeof url, "dynamodb://qk_quota?region=us-east-1&endpoint=http://127.0.0.1:%d",
             f.port);
    const qk_service_def d = one_window("signed", QK_FOREVER, 100, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_record(t, 0, 3, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
    pthread_mutex_lock(&f.mu);
    const unsigned n = f.n;
    pthread_mutex_unlock(&f.mu);
    cr_assert_geq(n, 3, "DescribeTable, GetItem and PutItem at least; %u requests", n);
    for (unsigned i = 0; i < n; i++)
        cr_assert(strstr(f.raw[i], SECRET) == NULL, "the secret travelled in request %u", i);

    qkt_tmpdir_make(dir, "qk-sigv4");
    cr_assert_eq(verify(&f, n, dir, SECRET, token), 0, "botocore disagrees with a signature");
    /* The check bites: a wrong secret, and a signature off by one digit. */
    cr_assert_eq(verify(&f, n, dir, "not-the-secret", token), 1);
    char *sig = strstr(f.raw[1], "Signature=");
    cr_assert_not_null(sig);
    sig[10] = sig[10] == '0' ? '1' : '0';
    cr_assert_eq(verify(&f, n, dir, SECRET, token), 1, "a wrong signature passed the check");
    if (token) { /* the token is required, and signed */
        cr_assert_not_null(strcasestr(f.raw[0], "x-amz-security-token"));
    }
    qkt_tmpdir_remove(dir);
    fakehttp_stop(&f);
    unsetenv("AWS_SESSION_TOKEN");
}

Test(ddb_sigv4, long_term_credentials)
{
    signed_requests(NULL);
}

Test(ddb_sigv4, temporary_credentials_sign_the_token)
{
    signed_requests(TOKEN);
}
