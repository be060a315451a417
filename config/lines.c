/* The line source libinih reads the file through: numbering, indentation, empty sections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <quotakeeper.h>

#include "lines.h"

/* The name between the brackets of a header line, for a message. */
static int bracket_text_len(const char *header)
{
    const char *end = strchr(header, ']');
    return (int)(end != NULL ? (size_t)(end - header - 1) : strlen(header + 1));
}

/* The section opened at header_line ended (another header, or the end of the file). A section
 * with no key is a mistake (a service left without windows, a name mistyped), except
 * [quotakeeper], whose keys are all optional. */
static void check_section_ended(qk__config_lines *l)
{
    if (l->headers == 0 || l->keys_in_section > 0)
        return;
    if (strncmp(l->header, "[quotakeeper]", 13) == 0)
        return;
    if (l->problem->code == 0)
        l->empty_section = 1;
    qk__config_problem_set(l->problem, QK_EINVAL, l->header_line, "section [%.*s] is empty",
                           bracket_text_len(l->header), l->header + 1);
}

static int remember_header(qk__config_lines *l, const char *text, size_t len)
{
    if (len + 1 > l->header_cap) {
        char *grown = realloc(l->header, len + 1);
        if (grown == NULL)
            return qk__config_problem_set(l->problem, QK_ENOMEM, 0, "out of memory");
        l->header = grown;
        l->header_cap = len + 1;
    }
    memcpy(l->header, text, len + 1);
    l->headers++;
    l->header_line = l->lineno;
    l->keys_in_section = 0;
    return 1;
}

char *qk__config_lines_read(char *str, int num, void *lines)
{
    qk__config_lines *l = lines;
    if (l->problem->code != 0)
        return NULL;
    errno = 0;
    ssize_t got = getline(&l->buf, &l->cap, l->file);
    if (got < 0) {
        if (ferror(l->file)) {
            l->read_error = errno != 0 ? errno : EIO;
            qk__config_problem_set(l->problem, QK_EIO, l->lineno + 1, "cannot read: %s",
                                   strerror(l->read_error));
        } else {
            check_section_ended(l);
        }
        return NULL;
    }
    l->lineno++;
    /* A config file is text: libinih and every check below read a line up to its first NUL,
     * so a NUL inside a value, a key or a section name would cut it short unseen. */
    const char *nul = memchr(l->buf, '\0', (size_t)got);
    if (nul != NULL) {
        qk__config_problem_set(l->problem, QK_EINVAL, l->lineno,
                               "a NUL byte at column %zu: a config file is text, and the line "
                               "would be cut short there",
                               (size_t)(nul - l->buf) + 1);
        return NULL;
    }
    char *text = l->buf;
    /* libinih skips a UTF-8 byte-order mark on the first line; it is skipped here instead,
     * before the indentation, so that the header test below sees what libinih sees. */
    if (l->lineno == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    while (*text == ' ' || *text == '\t' || *text == '\v' || *text == '\f')
        text++;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (num < 1 || len > (size_t)num - 1) {
        qk__config_problem_set(l->problem, QK_EINVAL, l->lineno,
                               "line is longer than %d characters, the most libinih reads",
                               num - 1);
        return NULL;
    }
    if (text[0] == '[') {
        check_section_ended(l);
        if (!remember_header(l, text, len))
            return NULL;
    }
    memcpy(str, text, len + 1);
    return str;
}

void qk__config_lines_release(qk__config_lines *lines)
{
    free(lines->buf);
    free(lines->header);
    lines->buf = lines->header = NULL;
}
