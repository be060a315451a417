/* The table `show` and `watch` print: one row per window of every service in a cut. */
#ifndef QKCTL_TABLE_H
#define QKCTL_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include "cut.h"

/* Whether to colour levels on out: a terminal, NO_COLOR unset or empty, TERM not "dumb". */
bool qkctl_use_color(FILE *out);

/* Writes the table: service, window, used, limit, remaining, level, resets at (UTC), in. */
void qkctl_table_print(FILE *out, const qkctl_cut *c, bool color);

/* One line per window of one service, for the changing commands' report:
 * "finnhub  minute  12/60 used, 48 left, ok, resets 2024-05-01T12:35:00Z (in 37s)". */
void qkctl_usage_print(FILE *out, const qk_usage *u, int64_t now_ms);

#endif
