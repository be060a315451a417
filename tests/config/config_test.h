/* What the config suites share: a temporary directory per test and files written into it. */
#ifndef QK_CONFIG_TEST_H
#define QK_CONFIG_TEST_H

#include <limits.h>
#include <string.h>

#include <quotakeeper/config.h>

#include "files.h"
#include "qkt_criterion.h"
#include "tmpdir.h"

static char test_dir[PATH_MAX];

static void config_setup(void)
{
    qkt_tmpdir_make(test_dir, "qk-config");
}

static void config_teardown(void)
{
    qkt_tmpdir_remove(test_dir);
}

/* Writes text to <test_dir>/<name>; path (PATH_MAX bytes) gets the file's path. */
static inline const char *write_ini(char *path, const char *name, const char *text)
{
    qkt_path(path, test_dir, name);
    qkt_write_file(path, text, strlen(text), 0644);
    return path;
}

/* Loads the file; the test fails if that fails. */
static inline qk_config *load_ok(const char *path)
{
    qk_config *cfg = NULL;
    const int rc = qk_config_load(&cfg, path);
    cr_assert_eq(rc, QK_OK, "qk_config_load: %s", qk_config_errmsg());
    cr_assert_not_null(cfg);
    return cfg;
}

#endif
