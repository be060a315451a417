/* Opening the tracker (open.h). The library already refuses links, directories and missing
 * files; qkctl looks first (lstat) only to say so in words an operator acts on, and to keep a
 * changing command with -f from ever creating a file. */
#include "open.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifdef QKCTL_HAVE_CONFIG
#include <quotakeeper/config.h>
#endif

bool qkctl_have_config(void)
{
#ifdef QKCTL_HAVE_CONFIG
    return true;
#else
    return false;
#endif
}

__attribute__((format(printf, 3, 4))) static int fail(qkctl_tracker *tk, int code, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tk->msg, sizeof tk->msg, fmt, ap);
    va_end(ap);
    tk->code = code;
    return code;
}

/* What lstat says about the path, in words; QK_OK when it is a non-empty regular file. */
static int look(qkctl_tracker *tk, const char *path, const char *how)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return fail(tk, QK_EIO, "no state file at '%s'%s", path, how);
        return fail(tk, QK_EIO, "cannot look at '%s': %s", path, strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        return fail(tk, QK_EIO,
                    "'%s' is a symbolic link: state files are never opened through a link, "
                    "give the file's own path",
                    path);
    if (S_ISDIR(st.st_mode))
        return fail(tk, QK_EIO, "'%s' is a directory, not a state file", path);
    if (!S_ISREG(st.st_mode))
        return fail(tk, QK_EIO, "'%s' is not a regular file, so not a state file", path);
    if (st.st_size == 0)
        return fail(tk, QK_EIO, "'%s' is empty: not a state file (yet)", path);
    return QK_OK;
}

static int open_path(qkctl_tracker *tk, const char *path, bool readonly, const qk_options *conf)
{
    qk_options o = QK_OPTIONS_INIT;
    if (conf != NULL && !readonly)
        o = *conf; /* the config's services, as a program using it would configure them */
    o.path = path;
    if (readonly) {
        o.flags = QK_OPEN_READONLY;
        o.services = NULL;
        o.n_services = 0;
    } else if (conf == NULL) {
        /* Capacity 0 lets the library open an existing file only: should the file vanish
         * between our look and the open, the library refuses to build a new one. */
        o.capacity = 0;
    }
    const int rc = qk_tracker_new(&tk->t, &o);
    if (rc != QK_OK)
        return fail(tk, rc, "%s", qk_errmsg());
    return QK_OK;
}

int qkctl_open(const qkctl_target *tg, bool readonly, qkctl_tracker *out)
{
    memset(out, 0, sizeof *out);
    out->code = QK_OK;
    if (tg->state_path != NULL) {
        out->path = tg->state_path;
        const int rc = look(out, tg->state_path,
                            readonly ? "" : " (qkctl -f never creates one; -c CONFIG does)");
        return rc != QK_OK ? rc : open_path(out, tg->state_path, readonly, NULL);
    }
#ifdef QKCTL_HAVE_CONFIG
    qk_config *cfg = NULL;
    const int loaded = qk_config_load(&cfg, tg->config_path);
    if (loaded != QK_OK)
        return fail(out, loaded, "%s", qk_config_errmsg());
    const qk_options *conf = qk_config_options(cfg);
    if (conf->path == NULL) {
        qk_config_free(cfg);
        return fail(out, QK_EINVAL,
                    "%s names no state file (set state = PATH in its [quotakeeper] section)",
                    tg->config_path);
    }
    out->config = cfg;
    out->path = conf->path;
    int rc = readonly ? look(out, conf->path, "") : QK_OK;
    if (rc == QK_OK)
        rc = open_path(out, conf->path, readonly, conf);
    if (rc != QK_OK) {
        qk_config_free(cfg); /* out->msg was written first: it holds its own copy of the path */
        out->config = NULL;
        out->path = NULL;
    }
    return rc;
#else
    return fail(out, QK_EINVAL,
                "this build has no config support (-c): use -f STATEFILE, or build qkctl with "
                "the quotakeeper config library");
#endif
}

void qkctl_close(qkctl_tracker *tk)
{
    qk_tracker_free(tk->t);
    tk->t = NULL;
#ifdef QKCTL_HAVE_CONFIG
    qk_config_free(tk->config);
#endif
    tk->config = NULL;
}
