/* qk_config_load: the file is read by libinih through the line source (lines.c); the handler
 * below turns its sections and keys into services and settings, and the checks that need a
 * whole section run when the section ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config_impl.h"
#include "errmsg.h"

static int is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static int check_service_name(qk__config_parse *p, const char *name, unsigned line)
{
    const size_t len = strlen(name);
    if (len == 0)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "a service section needs a name: [service NAME]");
    if (len >= QK_NAME_MAX)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "service name '%s' is longer than %d characters", name,
                                      QK_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        if (!is_name_char(name[i]))
            return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                          "service name '%s' has a character outside "
                                          "[A-Za-z0-9_.-] at %zu",
                                          name, i);
    }
    const qk_config *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (strcmp(cfg->services[i].name, name) == 0)
            return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                          "duplicate service '%s' (first at line %u)", name,
                                          cfg->services[i].line);
    }
    return 1;
}

static int add_service(qk__config_parse *p, const char *name, unsigned line)
{
    if (!check_service_name(p, name, line))
        return 0;
    qk_config *cfg = p->cfg;
    if (cfg->n_services == cfg->cap_services) {
        const size_t cap = cfg->cap_services != 0 ? 2 * cfg->cap_services : 8;
        qk__config_service *grown = realloc(cfg->services, cap * sizeof *grown);
        if (grown == NULL)
            return qk__config_problem_set(&p->problem, QK_ENOMEM, 0, "out of memory");
        cfg->services = grown;
        cfg->cap_services = cap;
    }
    qk__config_service *s = &cfg->services[cfg->n_services++];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, strlen(name) + 1);
    s->line = line;
    return 1;
}

/* A new section's first key has arrived: section is its name as libinih read it. */
static int begin_section(qk__config_parse *p, const char *section)
{
    const unsigned line = p->lines.header_line;
    const char *header = p->lines.header;
    const size_t len = strlen(section);
    /* libinih keeps the section of a header it could not parse, and cuts a long name short:
     * either way the header text is not [section]. */
    if (strncmp(header + 1, section, len) != 0)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "not a section header libinih can read");
    if (header[1 + len] != ']')
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "section name longer than the %zu characters libinih keeps",
                                      len);

    if (strcmp(section, "quotakeeper") == 0) {
        if (p->settings_line != 0)
            return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                          "duplicate section [quotakeeper] (first at line %u)",
                                          p->settings_line);
        p->settings_line = line;
        p->section = QK__SECTION_SETTINGS;
        return 1;
    }
    if (strncmp(section, "service", 7) == 0 &&
        (section[7] == '\0' || section[7] == ' ' || section[7] == '\t')) {
        const char *name = section + 7;
        while (*name == ' ' || *name == '\t')
            name++;
        if (!add_service(p, name, line))
            return 0;
        p->section = QK__SECTION_SERVICE;
        return 1;
    }
    return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                  "unknown section [%s] (expected [quotakeeper] or "
                                  "[service NAME])",
                                  section);
}

static int handle_key(qk__config_parse *p, const char *section, const char *key, const char *value,
                      unsigned line)
{
    p->lines.keys_in_section++;
    if (p->lines.headers != p->headers_handled) {
        if (p->section == QK__SECTION_SERVICE && !qk__config_service_done(p))
            return 0;
        p->headers_handled = p->lines.headers;
        if (!begin_section(p, section))
            return 0;
    }
    switch (p->section) {
    case QK__SECTION_SETTINGS:
        return qk__config_settings_key(p, key, value, line);
    case QK__SECTION_SERVICE:
        return qk__config_service_key(p, key, value, line);
    case QK__SECTION_NONE:
        break;
    }
    return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                  "key '%s' is outside any section (put it under "
                                  "[quotakeeper] or [service NAME])",
                                  key);
}

/* libinih's handler: 1 to go on, 0 for an error, whose line libinih then returns. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
    qk__config_parse *p = user;
    const unsigned line = p->lines.lineno;
    if (p->problem.code == 0 && handle_key(p, section, key, value, line))
        return 1;
    if (p->handler_failed_line == 0)
        p->handler_failed_line = line;
    return 0;
}

/* libinih returns the first line it failed on: one the handler refused, or one it could not
 * parse itself, which the handler never saw. The earliest problem is reported, except that a
 * line libinih could not parse inside a section explains why the section looked empty. */
static void take_parse_result(qk__config_parse *p, int ret)
{
    if (ret == -2) {
        qk__config_problem_set(&p->problem, QK_ENOMEM, 0, "out of memory");
        return;
    }
    if (ret <= 0 || (unsigned)ret == p->handler_failed_line)
        return;
    const int fatal = p->problem.code == QK_ENOMEM || p->problem.code == QK_EIO;
    if (p->problem.code == 0 || (!fatal && (unsigned)ret <= p->problem.line) ||
        p->lines.empty_section) {
        p->problem.code = 0;
        qk__config_problem_set(&p->problem, QK_EINVAL, (unsigned)ret,
                               "libinih cannot parse this line (expected [section], "
                               "key = value, or a comment after ; or #)");
    }
}

/* A relative state path means relative to the file's directory, wherever the program runs. */
static char *state_path(const char *config_path, const char *state)
{
    const char *slash = strrchr(config_path, '/');
    if (state[0] == '/' || slash == NULL)
        return strdup(state);
    const size_t dir_len = (size_t)(slash - config_path) + 1;
    char *joined = malloc(dir_len + strlen(state) + 1);
    if (joined != NULL) {
        memcpy(joined, config_path, dir_len);
        memcpy(joined + dir_len, state, strlen(state) + 1);
    }
    return joined;
}

static int build_options(qk_config *cfg)
{
    if (cfg->n_services > 0) {
        cfg->defs = calloc(cfg->n_services, sizeof *cfg->defs);
        if (cfg->defs == NULL)
            return QK_ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        cfg->defs[i] = cfg->services[i].def;
        cfg->defs[i].name = cfg->services[i].name;
        for (unsigned w = 0; w < QK_MAX_WINDOWS; w++)
            if (cfg->services[i].window_tz[w][0] != '\0')
                cfg->defs[i].windows[w].tz = cfg->services[i].window_tz[w];
    }
    if (cfg->state != NULL) {
        char *resolved = state_path(cfg->path, cfg->state);
        if (resolved == NULL)
            return QK_ENOMEM;
        free(cfg->state);
        cfg->state = resolved;
    }
    const qk_options init = QK_OPTIONS_INIT;
    cfg->options = init;
    cfg->options.services = cfg->defs;
    cfg->options.n_services = cfg->n_services;
    cfg->options.path = cfg->state;
    cfg->options.store = cfg->store;
    cfg->options.store_timeout_ms = cfg->store_timeout_ms;
    return QK_OK;
}

static int parse(qk_config *cfg, FILE *file)
{
    qk__config_parse p = {.cfg = cfg};
    p.lines.file = file;
    p.lines.problem = &p.problem;
    const int ret = ini_parse_stream(qk__config_lines_read, &p.lines, on_key, &p);
    if (p.problem.code == 0 && p.section == QK__SECTION_SERVICE)
        qk__config_service_done(&p);
    take_parse_result(&p, ret);
    qk__config_lines_release(&p.lines);
    if (p.problem.code == 0)
        return QK_OK;
    if (p.problem.line == 0)
        return qk__config_fail(p.problem.code, "%s: %s", cfg->path, p.problem.reason);
    return qk__config_fail(p.problem.code, "%s:%u: %s", cfg->path, p.problem.line,
                           p.problem.reason);
}

static int open_file(FILE **out, const char *path)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qk__config_fail(QK_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    const int err = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (err != 0) {
        close(fd);
        return qk__config_fail(QK_EIO, "%s: cannot read: %s", path, strerror(err));
    }
    FILE *file = fdopen(fd, "r");
    if (file == NULL) {
        close(fd);
        return qk__config_fail(QK_ENOMEM, "%s: out of memory", path);
    }
    *out = file;
    return QK_OK;
}

int qk_config_load(qk_config **out, const char *path)
{
    if (out == NULL || path == NULL)
        return qk__config_fail(QK_EINVAL, "qk_config_load: %s is NULL",
                               out == NULL ? "out" : "path");
    FILE *file = NULL; /* set by open_file on success; gcc -O2 with TSan cannot see that */
    int rc = open_file(&file, path);
    if (rc != QK_OK)
        return rc;
    qk_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
        fclose(file);
        free(cfg);
        return qk__config_fail(QK_ENOMEM, "%s: out of memory", path);
    }
    rc = parse(cfg, file);
    fclose(file);
    if (rc == QK_OK && build_options(cfg) != QK_OK)
        rc = qk__config_fail(QK_ENOMEM, "%s: out of memory", path);
    if (rc != QK_OK) {
        qk_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return QK_OK;
}
