/* A cut in the Prometheus text exposition format (version 0.0.4), for `metrics` and for
 * `serve`'s /metrics. docs/qkctl.md lists the metrics. */
#ifndef QKCTL_METRICS_H
#define QKCTL_METRICS_H

#include <stdio.h>

#include "cut.h"

/* The content type of what qkctl_metrics_write produces. */
#define QKCTL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes every metric of the cut to out. */
void qkctl_metrics_write(FILE *out, const qkctl_cut *c);

#endif
