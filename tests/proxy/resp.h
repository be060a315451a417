/* Just enough RESP (the Redis protocol, version 2) for the fault proxy to act per request and
 * per reply: where the first complete value in a buffer ends. Requests are arrays of bulk
 * strings; replies are any value (simple string, error, integer, bulk string, nested array,
 * nil). Nothing is decoded beyond the lengths. */
#ifndef QKP_RESP_H
#define QKP_RESP_H

#include <stddef.h>

/* The length in bytes of the complete RESP value at buf[0..len), 0 when more bytes are needed,
 * -1 when the bytes are not RESP (the proxy then cuts the connection). */
long qkp_resp_frame(const char *buf, size_t len);

#endif
