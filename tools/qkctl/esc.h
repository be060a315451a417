/* Untrusted text as qkctl prints it: arguments echoed in messages, paths, service names, config
 * values and the library's and the store's messages may hold bytes that a terminal takes as
 * commands (ESC, a CSI sequence, BEL, CR). Everything qkctl writes for a person goes through
 * here, so that no such byte reaches the terminal raw. docs/qkctl.md ("Untrusted text") gives
 * the rule:
 *
 *   - printable ASCII is itself, except the backslash, written \\ so that the escapes cannot be
 *     forged;
 *   - a control byte (0x00-0x1f, 0x7f) is \xHH, lower-case hex: ESC is \x1b;
 *   - well-formed UTF-8 is itself (names and paths in any script stay readable), except the C1
 *     controls U+0080-U+009F, the bidirectional controls (U+061C, U+200E, U+200F,
 *     U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators (U+2028, U+2029),
 *     written \uHHHH;
 *   - any other byte (a stray continuation byte, an overlong or truncated sequence, a
 *     surrogate, past U+10FFFF) is \xHH. */
#ifndef QKCTL_ESC_H
#define QKCTL_ESC_H

#include <stddef.h>
#include <stdio.h>

/* The most an escape makes of one input byte (\xHH): a buffer of QKCTL_ESC_SIZE(n) holds any
 * escaped string of n bytes. */
#define QKCTL_ESC_SIZE(n) (4 * (n) + 1)

/* Escapes s into buf as snprintf would: at most size - 1 bytes and a NUL (when size > 0), never
 * cutting an escape or a character in two; returns the length of the whole escaped text. */
size_t qkctl_esc(char *buf, size_t size, const char *s);

/* Writes s to out, escaped. */
void qkctl_fputs_esc(const char *s, FILE *out);

#endif
