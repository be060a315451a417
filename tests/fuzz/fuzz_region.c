/* libFuzzer harness over the state file's validation (issue 5, item 6): qk__region_check
 * (src/region.h) is what stands between an arbitrary file on disk and code that trusts it.
 * Built with clang -fsanitize=fuzzer,address,undefined together with the library's sources.
 *
 * QK_FUZZ_MODE=check (default): the check alone, on an exactly sized, 128-byte-aligned copy
 * (the alignment a mapping has), so any read past the image is an ASan report. It must answer
 * QK_OK or QK_ECORRUPT, with a reason for the latter, and leave the image untouched.
 *
 * QK_FUZZ_MODE=repair: what "validated" promises. An image that passes is then treated as a
 * cold open treats it (src/region.c repair_cold: every published slot's open update journal is
 * rolled back or forward), must still pass the check afterwards, and is then read and updated
 * as a tracker would (roll, record, usage). Anything that validation let through and that
 * breaks this is a validation gap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"
#include "slot.h"

static int repair_mode;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *mode = getenv("QK_FUZZ_MODE");
    repair_mode = mode != NULL && strcmp(mode, "repair") == 0;
    return 0;
}

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "qk fuzz (%s mode): %s%s%s\n", repair_mode ? "repair" : "check", what,
            why ? ": " : "", why ? why : "");
    abort();
}

static size_t slots_offset(void)
{
    return (sizeof(qk_header) + _Alignof(qk_slot) - 1) / _Alignof(qk_slot) * _Alignof(qk_slot);
}

/* 2024-03-15 12:00:00 UTC, then a month later: windows roll between the two. */
#define NOW_1 INT64_C(1710504000000)
#define NOW_2 (NOW_1 + INT64_C(31) * 86400000)

static void use_like_a_tracker(unsigned char *image, size_t size)
{
    qk_header *h = (qk_header *)image;
    qk_slot *slots = (qk_slot *)(image + slots_offset());
    const uint32_t n = atomic_load(&h->n_services);
    qk_ring_set *rings = qk__region_image_rings(image);
    const qk_slot_ext ext = {rings, qk__region_image_zones(image)};

    /* A cold open: roll every open journal back, or forward when its epoch committed. */
    const uint64_t committed = atomic_load(&h->all_op_committed);
    for (uint32_t s = 0; s < n; s++)
        qk__slot_recover(&slots[s], rings ? &rings[s] : NULL, committed);
    char why[160];
    if (qk__region_check(image, size, why, sizeof why) != QK_OK)
        fail("a validated image no longer validates after the cold-open repair", why);

    /* Then what operations do with it. */
    for (uint32_t s = 0; s < n; s++) {
        qk_event ev[QK_EVENTS_PER_SLOT_OP];
        qk_event_sink sink = {ev, 0, 0};
        int tripped = -1;
        const qk_op peek = {QK_OP_PEEK, 0, 0, 0};
        const qk_op record = {QK_OP_RECORD, 1, 0, 0};
        const qk_op consume = {QK_OP_CONSUME, 1, 0, 0};
        qk__slot_apply(&slots[s], &ext, s, &peek, NOW_1, &sink, &tripped);
        sink.n = 0;
        qk__slot_apply(&slots[s], &ext, s, &record, NOW_1, &sink, &tripped);
        sink.n = 0;
        qk__slot_apply(&slots[s], &ext, s, &consume, NOW_2, &sink, &tripped);
        qk_usage u;
        qk__slot_usage(&slots[s], s, tripped, &u);
        if (u.n_windows == 0 || u.n_windows > QK_MAX_WINDOWS)
            fail("a slot in use has an impossible window count", NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *buf = NULL;
    if (posix_memalign(&buf, 128, size ? size : 1) != 0)
        return 0;
    memcpy(buf, data, size);

    char why[160];
    memset(why, 0x55, sizeof why);
    const int rc = qk__region_check(buf, size, why, sizeof why);
    if (rc != QK_OK && rc != QK_ECORRUPT)
        fail("qk__region_check returned neither QK_OK nor QK_ECORRUPT", NULL);
    if (memcmp(buf, data, size) != 0)
        fail("qk__region_check changed the image", NULL);
    if (rc == QK_ECORRUPT && (memchr(why, '\0', sizeof why) == NULL || why[0] == '\0'))
        fail("QK_ECORRUPT without a terminated reason", NULL);
    if (rc == QK_OK) {
        const qk_header *h = buf;
        if (size < qk__region_size_layout(h->layout_version, h->capacity) ||
            atomic_load(&h->n_services) > h->capacity)
            fail("an image too small for its own header passed", NULL);
        if (repair_mode)
            use_like_a_tracker(buf, size);
    }
    free(buf);
    return 0;
}
