#include "tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fail.h"

void qkt_tmpdir_make(char *dir, const char *prefix)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const int n = snprintf(dir, PATH_MAX, "%s/%s-XXXXXX", base, prefix);
    QKT_REQUIRE(n > 0 && n < PATH_MAX, "temporary directory name too long");
    QKT_REQUIRE(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

static int remove_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

int qkt_tmpdir_remove(const char *dir)
{
    if (dir == NULL || dir[0] == '\0')
        return 0;
    const int rc = nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc != 0 && errno != ENOENT ? -1 : 0;
}

const char *qkt_path(char *dst, const char *dir, const char *name)
{
    const int n = snprintf(dst, PATH_MAX, "%s/%s", dir, name);
    QKT_REQUIRE(n > 0 && n < PATH_MAX, "path too long");
    return dst;
}
