/* The line source libinih reads the file through (ini_parse_stream). It numbers the lines, so
 * that every key and section can be traced to its line, and hands each line to libinih without
 * its indentation: an indented line is then never taken as the continuation of the value above
 * it, which an indented `day = 1000` under `minute = 60` would otherwise be. */
#ifndef QK_CONFIG_LINES_H
#define QK_CONFIG_LINES_H

#include <stddef.h>
#include <stdio.h>

#include "problem.h"

typedef struct {
    FILE *file;
    qk__config_problem *problem;
    char *buf; /* getline's */
    size_t cap;
    unsigned lineno;        /* of the line last handed to libinih */
    size_t headers;         /* [section] lines so far */
    unsigned header_line;   /* the latest one's */
    char *header;           /* its text as handed to libinih */
    size_t header_cap;      /* bytes allocated at header */
    size_t keys_in_section; /* counted by the handler since that line */
    int read_error;         /* errno of a failed read, else 0 */
    int empty_section;      /* the problem recorded is a section left empty */
} qk__config_lines;

/* An ini_reader: copies the next line into str (num bytes), or returns NULL at the end of the
 * file, on a read error, or once a problem is recorded (which stops the parse). Records a line
 * too long for libinih's buffer, and a section left empty (except [quotakeeper]). */
char *qk__config_lines_read(char *str, int num, void *lines);

void qk__config_lines_release(qk__config_lines *lines);

#endif
