/* Loopback sockets for the tests' own servers and clients (the hostile servers, the fault
 * proxy): 127.0.0.1 only, close-on-exec, nothing else ever reached. */
#ifndef QKT_LOOPBACK_H
#define QKT_LOOPBACK_H

/* A listening socket on a port the kernel picks (*port). The fd, or -1 with errno set. */
int qkt_loopback_listen(int backlog, int *port);

/* A connected socket to 127.0.0.1:port. The fd, or -1 with errno set. */
int qkt_loopback_connect(int port);

#endif
