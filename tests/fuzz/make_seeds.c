/* Writes the fuzzer's seed corpus into a directory, from real state files made by the library
 * itself (so no binary blob is committed, and the seeds follow the layout as it changes):
 *   seed-full          3 services (2, 3 and 4 windows, a reserve, a zoned day, a rolling second
 *                      with a closed bucket), counts, a reset_all behind it (non-zero epochs,
 *                      filled undo copies), one free slot;
 *   seed-empty         a file with room for 2 services and none registered;
 *   seed-open-journal  seed-full as a crash leaves it: slot 1 mid-update (odd journal, the undo
 *                      copy holding the state before), a legitimate image;
 *   seed-truncated     the first 100 bytes of seed-full.
 * Exits 1 if a full seed does not pass qk__region_check, since the corpus would then teach the
 * fuzzer nothing about valid files. Usage: make_seeds DIR */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "files.h"
#include "quotakeeper.h"
#include "region.h"
#include "tmpdir.h"

static qkt_clock fixed_clock = {INT64_C(1710504000000)}; /* 2024-03-15 12:00:00 UTC */

static int make_file(const char *path, const qk_service_def *defs, size_t n, size_t capacity)
{
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    o.services = defs;
    o.n_services = n;
    o.capacity = capacity;
    o.clock = qkt_clock_read;
    o.clock_ctx = &fixed_clock;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK) {
        fprintf(stderr, "make_seeds: %s: %s\n", path, qk_errmsg());
        return 1;
    }
    for (qk_service s = 0; s < n; s++)
        if (qk_record(t, s, 7 + s, NULL) != QK_OK)
            return 1;
    if (n > 0 && (qk_reset_all(t) != QK_OK || qk_record(t, 0, 3, NULL) != QK_OK ||
                  qk_try_consume(t, 1, 2, QK_PRIORITY, NULL) != QK_OK))
        return 1;
    /* A slide later: finnhub's rolling second closes a bucket into its ring. */
    qkt_clock_advance(&fixed_clock, 100);
    if (n > 1 && qk_record(t, 1, 4, NULL) != QK_OK)
        return 1;
    qk_tracker_free(t);
    return 0;
}

static int must_pass(const char *name, const unsigned char *image, size_t size)
{
    void *copy = NULL;
    if (posix_memalign(&copy, 128, size) != 0)
        return 1;
    memcpy(copy, image, size);
    char why[160];
    const int rc = qk__region_check(copy, size, why, sizeof why);
    free(copy);
    if (rc != QK_OK)
        fprintf(stderr, "make_seeds: %s does not validate: %s\n", name, why);
    return rc != QK_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char full[4096], empty[4096];
    snprintf(full, sizeof full, "%s/seed-full", dir);
    snprintf(empty, sizeof empty, "%s/seed-empty", dir);
    unlink(full);
    unlink(empty);

    qk_service_def defs[3];
    memset(defs, 0, sizeof defs);
    defs[0].name = "tiingo";
    defs[0].windows[0] = (qk_window_def){QK_MONTH, 500};
    defs[0].windows[1] = (qk_window_def){QK_DAY, 100, .tz = "Europe/London"}; /* the zone table */
    defs[1].name = "finnhub.v2";
    defs[1].windows[0] = (qk_window_def){QK_MINUTE, 60};
    defs[1].windows[1] = (qk_window_def){QK_DAY, 1000};
    defs[1].windows[2] = (qk_window_def){QK_SECOND, 30, .flags = QK_WINDOW_ROLLING}; /* a ring */
    defs[1].reserve = 5;
    defs[2].name = "all-periods_x";
    defs[2].windows[0] = (qk_window_def){QK_MINUTE, 10};
    defs[2].windows[1] = (qk_window_def){QK_HOUR, 100};
    defs[2].windows[2] = (qk_window_def){QK_DAY, 1000};
    defs[2].windows[3] = (qk_window_def){QK_FOREVER, 100000};
    defs[2].warn_pct = 10;
    defs[2].critical_pct = 90;
    if (make_file(full, defs, 3, 4) != 0 || make_file(empty, NULL, 0, 2) != 0)
        return 1;

    size_t size = 0;
    unsigned char *image = qkt_read_file(full, &size);
    if (must_pass("seed-full", image, size) != 0)
        return 1;

    /* As a SIGKILL mid-update leaves it: undo copy written, journal odd, update half done. */
    unsigned char *open_journal = malloc(size);
    if (open_journal == NULL)
        return 1;
    memcpy(open_journal, image, size);
    const size_t off =
        (sizeof(qk_header) + _Alignof(qk_slot) - 1) / _Alignof(qk_slot) * _Alignof(qk_slot);
    qk_slot *sl = (qk_slot *)(void *)(open_journal + off) + 1;
    sl->undo_epoch = 0;
    sl->undo_seq = sl->seq;
    sl->undo_reserve = sl->reserve;
    sl->undo_n_windows = sl->n_windows;
    memcpy(sl->undo, sl->w, sizeof sl->w);
    sl->journal |= 1;
    sl->w[0].used += 1;
    if (must_pass("seed-open-journal", open_journal, size) != 0)
        return 1;

    char path[PATH_MAX];
    qkt_write_file(qkt_path(path, dir, "seed-open-journal"), open_journal, size, 0644);
    qkt_write_file(qkt_path(path, dir, "seed-truncated"), image, size < 100 ? size : 100, 0644);
    free(open_journal);
    free(image);
    return 0;
}
