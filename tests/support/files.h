/* Whole files: read, write, and fingerprints for "this call left the file untouched" (bytes,
 * mtime, mode). Failures die (fail.h): in a Criterion suite they fail the test. */
#ifndef QKT_FILES_H
#define QKT_FILES_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* The file's bytes in a malloc'd block (one spare byte after them); *size gets their number. */
unsigned char *qkt_read_file(const char *path, size_t *size);

/* Creates or truncates path (with mode) and writes size bytes. */
void qkt_write_file(const char *path, const void *data, size_t size, mode_t mode);

/* Sets the file's times to 2001-09-09 so that any write the test did not expect shows. */
void qkt_file_age(const char *path);

typedef struct {
    size_t size;
    unsigned char *bytes;
    struct timespec mtime;
    mode_t mode;
} qkt_file_fp;

/* Ages the file, then records its bytes, mtime and mode. */
qkt_file_fp qkt_file_fingerprint(const char *path);

/* The file is as the fingerprint recorded (dies otherwise, saying what changed); releases the
 * fingerprint's bytes. */
void qkt_file_assert_untouched(const char *path, qkt_file_fp *before);

/* Frees the bytes of fingerprints not yet released by qkt_file_assert_untouched (a failed
 * assertion skips it): for a test's teardown, so leak checkers stay quiet. */
void qkt_file_fingerprints_release(void);

#endif
