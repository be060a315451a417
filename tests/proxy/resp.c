/* RESP framing (resp.h). Values nest only through arrays, and a reply of the Lua script is two
 * levels deep at most, but a depth cap keeps a hostile or corrupt stream from recursing far. */
#include "resp.h"

#include <string.h>

enum { DEPTH_MAX = 16, NUMBER_MAX = 20 };

/* The integer on the line starting at buf[from], and where the next line starts; 0 when the
 * line is incomplete, -1 when it is no integer. */
static int line_number(const char *buf, size_t len, size_t from, long long *out, size_t *next)
{
    const char *cr = memchr(buf + from, '\r', len - from);
    if (cr == NULL)
        return len - from > NUMBER_MAX + 1 ? -1 : 0;
    const size_t end = (size_t)(cr - buf);
    if (end + 1 >= len)
        return 0; /* the '\n' has not come yet */
    if (buf[end + 1] != '\n' || end == from || end - from > NUMBER_MAX)
        return -1;
    size_t i = from;
    const int negative = buf[i] == '-';
    i += negative;
    if (i == end)
        return -1;
    long long v = 0;
    for (; i < end; i++) {
        if (buf[i] < '0' || buf[i] > '9' || v > (1LL << 50))
            return -1;
        v = v * 10 + (buf[i] - '0');
    }
    *out = negative ? -v : v;
    *next = end + 2;
    return 1;
}

static long frame_at(const char *buf, size_t len, size_t from, int depth)
{
    if (from >= len)
        return 0;
    if (depth > DEPTH_MAX)
        return -1;
    long long n;
    size_t next;
    int rc;
    switch (buf[from]) {
    case '+':
    case '-': { /* a line of text */
        const char *cr = memchr(buf + from, '\r', len - from);
        if (cr == NULL)
            return 0;
        const size_t end = (size_t)(cr - buf);
        if (end + 1 >= len)
            return 0;
        return buf[end + 1] == '\n' ? (long)(end + 2) : -1;
    }
    case ':':
        rc = line_number(buf, len, from + 1, &n, &next);
        return rc <= 0 ? rc : (long)next;
    case '$':
        if ((rc = line_number(buf, len, from + 1, &n, &next)) <= 0)
            return rc;
        if (n == -1)
            return (long)next; /* nil */
        if (n < 0 || n > (1LL << 30))
            return -1;
        if (len < next + (size_t)n + 2)
            return 0;
        return buf[next + n] == '\r' && buf[next + n + 1] == '\n' ? (long)(next + (size_t)n + 2)
                                                                  : -1;
    case '*':
        if ((rc = line_number(buf, len, from + 1, &n, &next)) <= 0)
            return rc;
        if (n == -1)
            return (long)next; /* nil array */
        if (n < 0 || n > (1LL << 20))
            return -1;
        for (long long i = 0; i < n; i++) {
            const long at = frame_at(buf, len, next, depth + 1);
            if (at <= 0)
                return at;
            next = (size_t)at;
        }
        return (long)next;
    default:
        return -1;
    }
}

long qkp_resp_frame(const char *buf, size_t len)
{
    return frame_at(buf, len, 0, 0);
}
