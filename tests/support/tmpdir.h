/* Temporary directories: made under $TMPDIR (or /tmp), removed with everything in them. */
#ifndef QKT_TMPDIR_H
#define QKT_TMPDIR_H

#include <limits.h>

/* Makes <$TMPDIR or /tmp>/<prefix>-XXXXXX in dir (PATH_MAX bytes); dies on failure. */
void qkt_tmpdir_make(char *dir, const char *prefix);

/* Removes dir and everything under it, without following links; a missing dir is no error.
 * Returns 0, or -1 when something could not be removed. */
int qkt_tmpdir_remove(const char *dir);

/* dst (PATH_MAX bytes) = <dir>/<name>; dies when it does not fit. Returns dst. */
const char *qkt_path(char *dst, const char *dir, const char *name);

#endif
