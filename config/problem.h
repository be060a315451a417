/* The first problem found while reading a file: the line reader, libinih's handler and the
 * checks after it all report here, and only the first report counts. */
#ifndef QK_CONFIG_PROBLEM_H
#define QK_CONFIG_PROBLEM_H

typedef struct {
    int code;      /* a QK_E* code; 0: no problem yet */
    unsigned line; /* 1-based; 0: the file as a whole */
    char reason[512];
} qk__config_problem;

/* Records the problem unless one is already recorded. Returns 0, so that a libinih handler can
 * return its result. */
int qk__config_problem_set(qk__config_problem *p, int code, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
