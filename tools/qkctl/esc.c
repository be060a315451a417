/* Escaping untrusted text for a terminal (esc.h). */
#include "esc.h"

#include <stdint.h>
#include <string.h>

/* Whether code point c, well-formed, is still shown escaped. */
static int hidden(uint32_t c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 ||
           c == 0x2029;
}

/* The length of the well-formed UTF-8 sequence at p (2 to 4 bytes) and its code point, or 0. */
static size_t utf8_len(const unsigned char *p, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, c = p[0] & 0x1fu, min = 0x80;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, c = p[0] & 0x0fu, min = 0x800;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, c = p[0] & 0x07u, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* a NUL ends the string here too */
            return 0;
        c = c << 6 | (p[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* One unit of *p (a byte, or a character) as it is shown, into out (at most 6 bytes); returns
 * its length and advances *p. */
static size_t unit(const unsigned char **p, char out[8])
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char b = **p;
    if (b == '\\') {
        (*p)++;
        memcpy(out, "\\\\", 2);
        return 2;
    }
    if (b >= 0x20 && b < 0x7f) {
        (*p)++;
        out[0] = (char)b;
        return 1;
    }
    uint32_t c = 0;
    const size_t n = b >= 0x80 ? utf8_len(*p, &c) : 0;
    if (n == 0) {
        (*p)++;
        out[0] = '\\', out[1] = 'x', out[2] = hex[b >> 4], out[3] = hex[b & 15];
        return 4;
    }
    if (hidden(c)) {
        *p += n;
        out[0] = '\\', out[1] = 'u';
        for (int i = 0; i < 4; i++)
            out[2 + i] = hex[(c >> (12 - 4 * i)) & 15];
        return 6;
    }
    memcpy(out, *p, n);
    *p += n;
    return n;
}

size_t qkctl_esc(char *buf, size_t size, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0, kept = 0;
    int cut = size == 0; /* once a unit does not fit, none after it is written */
    while (*p != '\0') {
        char u[8];
        const size_t n = unit(&p, u);
        if (!cut && kept + n < size) {
            memcpy(buf + kept, u, n);
            kept += n;
        } else {
            cut = 1;
        }
        len += n;
    }
    if (size > 0)
        buf[kept] = '\0';
    return len;
}

void qkctl_fputs_esc(const char *s, FILE *out)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        char u[8];
        fwrite(u, 1, unit(&p, u), out);
    }
}
