/* qkt_hostile_resp MODE: the hostile Redis of hostile_resp.h as a process of its own, for tests
 * of programs that are processes themselves (tests/cli: qkctl). MODE is drip, endless,
 * huge_array or silent. It prints "port N" on a line once it listens on 127.0.0.1, serves for
 * the server's lifetime (20 s) and exits 0; it dies with its parent (PR_SET_PDEATHSIG) and is
 * killed by an alarm after 30 s whatever happens, so a test that forgets it leaves nothing.
 * Exit 2: a usage error; 1: it could not listen. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hostile_resp.h"
#include "procs.h"

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        qkt_resp_mode mode;
    } modes[] = {{"drip", QKT_RESP_DRIP},
                 {"endless", QKT_RESP_ENDLESS},
                 {"huge_array", QKT_RESP_HUGE_ARRAY},
                 {"silent", QKT_RESP_SILENT}};
    const size_t n_modes = sizeof modes / sizeof modes[0];
    size_t m = n_modes;
    for (size_t i = 0; argc == 2 && i < n_modes; i++)
        if (strcmp(argv[1], modes[i].name) == 0)
            m = i;
    if (m == n_modes) {
        fprintf(stderr, "usage: qkt_hostile_resp drip|endless|huge_array|silent\n");
        return 2;
    }
    qkt_child_bounds(getppid(), 30);
    qkt_hostile_resp h;
    if (qkt_hostile_resp_start(&h, modes[m].mode) != 0) {
        fprintf(stderr, "qkt_hostile_resp: cannot listen: %s\n", strerror(errno));
        return 1;
    }
    printf("port %d\n", h.port);
    fflush(stdout);
    pthread_join(h.thread, NULL); /* the server's own lifetime ends it */
    close(h.listen_fd);
    return 0;
}
