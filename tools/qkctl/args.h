/* Command-line arguments: each subcommand's options and positionals, and the values they carry
 * (counts, intervals, listen addresses), parsed strictly: a value with a sign, a fraction where a
 * whole number belongs, trailing junk or an overflow is a usage error naming the argument,
 * never silently cut. */
#ifndef QKCTL_ARGS_H
#define QKCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One option of a subcommand: "--name" sets *flag; "--name VALUE" or "--name=VALUE" sets
 * *value (exactly one of flag and value is non-NULL). */
typedef struct {
    const char *name; /* with the dashes: "--json" */
    bool *flag;
    const char **value;
} qkctl_opt;

/* Splits argv[1..argc) (argv[0] is the subcommand) into options, anywhere on the line, and
 * positionals, stored in pos (room for argc entries) and counted in *n_pos. "--" ends the
 * options; "-5" is a positional (a negative number, refused by the number's own check with a
 * clear message). An unknown option, a repeated one or a missing value is a usage error:
 * returns QKCTL_USAGE after the message, else 0. */
int qkctl_args(int argc, char **argv, const qkctl_opt *opts, size_t n_opts, char **pos, int *n_pos);

/* A count in decimal digits only, at least min. `what` names it in the message
 * ("N", "USED"). 0, or QKCTL_USAGE after the message. */
int qkctl_parse_count(const char *s, const char *what, uint64_t min, uint64_t *out);

/* Seconds as DIGITS[.DIGITS], between min_ms and max_ms once in milliseconds. 0, or
 * QKCTL_USAGE after the message. */
int qkctl_parse_seconds(const char *s, const char *what, int64_t min_ms, int64_t max_ms,
                        int64_t *out_ms);

/* ADDRESS:PORT with a numeric IPv4 address, or [ADDRESS]:PORT with a numeric IPv6 one; PORT
 * 0..65535 (0: any free port). *loopback says whether the address is 127.0.0.0/8 or ::1. 0, or
 * QKCTL_USAGE after the message. */
int qkctl_parse_listen(const char *s, struct sockaddr_storage *addr, socklen_t *len,
                       bool *loopback);

#endif
