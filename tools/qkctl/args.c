/* Strict parsing of qkctl's arguments (args.h). strtoull alone would take "-1" (as 2^64-1),
 * " 5", "5x" and "0x10"; every value is checked character by character first. */
#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "qkctl.h"

static bool looks_numeric(const char *s)
{
    return s[0] == '-' && (s[1] >= '0' && s[1] <= '9');
}

int qkctl_args(int argc, char **argv, const qkctl_opt *opts, size_t n_opts, char **pos, int *n_pos)
{
    bool seen[16] = {false};
    if (n_opts > sizeof seen / sizeof seen[0])
        return qkctl_usage_error("internal: too many options for %s", argv[0]);
    *n_pos = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0' || looks_numeric(a)) {
            pos[(*n_pos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        const char *eq = strchr(a, '=');
        const size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        size_t k = 0;
        while (k < n_opts &&
               !(strlen(opts[k].name) == name_len && strncmp(opts[k].name, a, name_len) == 0))
            k++;
        if (k == n_opts)
            return qkctl_usage_error("%s: unknown option '%s'", argv[0], a);
        if (seen[k])
            return qkctl_usage_error("%s: %s given twice", argv[0], opts[k].name);
        seen[k] = true;
        if (opts[k].flag != NULL) {
            if (eq != NULL)
                return qkctl_usage_error("%s: %s takes no value", argv[0], opts[k].name);
            *opts[k].flag = true;
        } else if (eq != NULL) {
            *opts[k].value = eq + 1;
        } else if (i + 1 < argc) {
            *opts[k].value = argv[++i];
        } else {
            return qkctl_usage_error("%s: %s needs a value", argv[0], opts[k].name);
        }
    }
    return 0;
}

int qkctl_parse_count(const char *s, const char *what, uint64_t min, uint64_t *out)
{
    if (s[0] == '\0')
        return qkctl_usage_error("%s is empty: give a whole number", what);
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            if (p == s && *p == '-')
                return qkctl_usage_error("%s '%s' is negative: give a whole number from %llu", what,
                                         s, (unsigned long long)min);
            return qkctl_usage_error("%s '%s' is not a whole number (digits only)", what, s);
        }
        const uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return qkctl_usage_error("%s '%s' is too large (at most %llu)", what, s,
                                     (unsigned long long)UINT64_MAX);
        v = v * 10 + d;
    }
    if (v < min)
        return qkctl_usage_error("%s must be at least %llu, not %s", what, (unsigned long long)min,
                                 s);
    *out = v;
    return 0;
}

int qkctl_parse_seconds(const char *s, const char *what, int64_t min_ms, int64_t max_ms,
                        int64_t *out_ms)
{
    int64_t whole = 0, frac_ms = 0;
    int frac_digits = 0;
    const char *p = s;
    bool any = false;
    for (; *p >= '0' && *p <= '9'; p++, any = true) {
        whole = whole * 10 + (*p - '0');
        if (whole > max_ms / 1000 + 1)
            return qkctl_usage_error("%s '%s' is too long (at most %lld s)", what, s,
                                     (long long)(max_ms / 1000));
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, any = true) {
            if (++frac_digits <= 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        }
        for (int d = frac_digits; d < 3; d++)
            frac_ms *= 10;
    }
    if (!any || *p != '\0')
        return qkctl_usage_error("%s '%s' is not a number of seconds (like 2 or 0.5)", what, s);
    const int64_t ms = whole * 1000 + frac_ms;
    if (ms < min_ms || ms > max_ms)
        return qkctl_usage_error("%s must be from %lld.%03lld to %lld s, not %s", what,
                                 (long long)(min_ms / 1000), (long long)(min_ms % 1000),
                                 (long long)(max_ms / 1000), s);
    *out_ms = ms;
    return 0;
}

int qkctl_parse_listen(const char *s, struct sockaddr_storage *addr, socklen_t *len, bool *loopback)
{
    char host[64];
    const char *port_s;
    const bool v6 = s[0] == '[';
    if (v6) {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return qkctl_usage_error("--listen '%s': an IPv6 address goes in brackets, "
                                     "[::1]:PORT",
                                     s);
        if ((size_t)(close - s - 1) >= sizeof host)
            return qkctl_usage_error("--listen '%s': the address is too long", s);
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port_s = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            return qkctl_usage_error("--listen '%s': give ADDRESS:PORT, like 127.0.0.1:9464", s);
        if ((size_t)(colon - s) >= sizeof host)
            return qkctl_usage_error("--listen '%s': the address is too long", s);
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port_s = colon + 1;
    }
    uint64_t port = 0;
    if (port_s[0] == '\0' || strspn(port_s, "0123456789") != strlen(port_s) || strlen(port_s) > 5 ||
        (port = strtoull(port_s, NULL, 10)) > 65535)
        return qkctl_usage_error("--listen '%s': the port must be a number from 0 to 65535", s);

    memset(addr, 0, sizeof *addr);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return qkctl_usage_error("--listen '%s': '%s' is not a numeric IPv6 address", s, host);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)addr;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return qkctl_usage_error("--listen '%s': '%s' is not a numeric IPv4 address "
                                     "(names are not looked up)",
                                     s, host);
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        *len = sizeof *a;
    }
    return 0;
}
