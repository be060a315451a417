/* quotakeeper_config: services and settings from an INI file, as qk_options (docs/config.md).
 *
 * A companion library (libquotakeeper_config, pkg-config quotakeeper-config, CMake target
 * quotakeeper::quotakeeper_config), so that the core library needs no INI parser. Conventions
 * as in <quotakeeper.h>: 0 or a negative QK_E* code, outputs first, NULL-safe free, nothing
 * changed on error. Its messages come from qk_config_errmsg(), not qk_errmsg(): each library
 * keeps its own per-thread message.
 *
 *   qk_config *cfg;
 *   if (qk_config_load(&cfg, "/etc/myapp/quota.ini") != QK_OK)
 *       die(qk_config_errmsg());      // "/etc/myapp/quota.ini:7: ..."
 *   qk_tracker *t;
 *   if (qk_tracker_new(&t, qk_config_options(cfg)) != QK_OK)
 *       die(qk_errmsg());
 *   qk_config_free(cfg);              // after the tracker is open: it copies what it keeps
 */
#ifndef QUOTAKEEPER_CONFIG_H
#define QUOTAKEEPER_CONFIG_H

#include <stddef.h>

#include <quotakeeper.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(QK_CONFIG_BUILDING)
#define QK_CONFIG_EXTERN __attribute__((visibility("default")))
#else
#define QK_CONFIG_EXTERN
#endif

/* A loaded configuration file; immutable, so every function below may be called from any
 * thread at once, except qk_config_free(). */
typedef struct qk_config qk_config;

/* Reads and checks the INI file at path (format: quotakeeper.ini(5), docs/config.md).
 * Errors: QK_EINVAL (NULL out or path; anything wrong in the file: a line libinih cannot parse
 * or longer than it reads, an unknown section or key, a key outside any section, an empty
 * section other than [quotakeeper], a duplicate section, service or key, a bad service name,
 * a bad number (empty, negative, trailing characters, too large), a limit of 0, more than
 * QK_MAX_WINDOWS windows, a service without a window, a window key of an unknown unit or an
 * every of 0, two windows of one shape, a bad offset (`@ ...`: a bad time or weekday, past the
 * window's length, on `forever`) or a misplaced `tz`, a window the library refuses (its message
 * at the window's line: e.g. a rolling month, a zone with an offset), warn or critical
 * outside 1..100, warn above critical, a reserve not below every limit, an unknown outage
 * policy, an empty state or store), QK_EIO (the file cannot be opened or read, or is a directory),
 * QK_ENOMEM. Every message names the file, and the line when one is at fault ("quota.ini:7: ...").
 * On error *out is left untouched. */
QK_CONFIG_EXTERN int qk_config_load(qk_config **out, const char *path);

/* The file as tracker options: version QK_OPTIONS_VERSION, services in file order, path from
 * `state =` (relative to the file's directory), store and store_timeout_ms from [quotakeeper];
 * every other field as QK_OPTIONS_INIT sets it. Copy it to set a clock or an event callback.
 * Valid, like every pointer in it, until qk_config_free(cfg). NULL for NULL. */
QK_CONFIG_EXTERN const qk_options *qk_config_options(const qk_config *cfg);

/* The path the file was loaded from, as given to qk_config_load. NULL for NULL. */
QK_CONFIG_EXTERN const char *qk_config_path(const qk_config *cfg);

/* The line of service i's [service NAME] header (i indexes qk_config_options(cfg)->services),
 * for messages that point back into the file; 0 for NULL or i out of range. */
QK_CONFIG_EXTERN unsigned qk_config_service_line(const qk_config *cfg, size_t i);

/* Frees cfg and everything qk_config_options(cfg) points to. NULL is a no-op. */
QK_CONFIG_EXTERN void qk_config_free(qk_config *cfg);

/* What went wrong in this thread's last failing qk_config_ call, in words; "no error" before
 * the first. Never NULL. */
QK_CONFIG_EXTERN const char *qk_config_errmsg(void);

#ifdef __cplusplus
}
#endif

#endif
