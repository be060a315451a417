/* qkctl --help: every subcommand, option and exit code. qkctl(1) and docs/qkctl.md say the same
 * at length. */
#include <stdio.h>

#include "open.h"
#include "qkctl.h"

void qkctl_print_help(void)
{
    fputs(
        "usage: qkctl -f STATEFILE COMMAND [ARGS...]\n"
        "       qkctl -c CONFIG COMMAND [ARGS...]\n"
        "       qkctl check CONFIG\n"
        "       qkctl store init URL [--timeout S]\n"
        "\n"
        "Inspect and change the quotas in a quotakeeper state file.\n"
        "\n"
        "  -f, --file STATEFILE   the state file (an existing one: qkctl never creates it)\n"
        "  -c, --config CONFIG    a config file; its [quotakeeper] state = names the file\n"
        "  -h, --help             this text\n"
        "  -V, --version          qkctl's and the library's versions\n"
        "\n"
        "Inspecting (opens the file read-only: never creates or changes it)\n"
        "  show [SERVICE...] [--json]\n"
        "        one consistent snapshot: service, window, used, limit, remaining, level,\n"
        "        when it resets (UTC) and in how long; --json for scripts\n"
        "  watch [SERVICE...] [--interval S] [--count N]\n"
        "        the table redrawn every S seconds (default 2, from 0.1) until Ctrl-C, or N\n"
        "        times\n"
        "  metrics [SERVICE...]\n"
        "        the Prometheus text format on stdout\n"
        "  serve --listen ADDRESS:PORT [--allow-remote]\n"
        "        /metrics over HTTP until SIGINT or SIGTERM; ADDRESS is 127.0.0.1 or [::1]\n"
        "        (port 0: any free port, printed at start); any other address needs\n"
        "        --allow-remote, since the metrics are served without authentication\n"
        "\n"
        "Changing (print the service's windows afterwards)\n"
        "  reset SERVICE | --all     zero the current windows of one service, or of all\n"
        "  set SERVICE WINDOW USED   set one current window's count, e.g. to the provider's\n"
        "                            figure; WINDOW is an index (0...) or a period name\n"
        "  record SERVICE N          count N calls already made (never refused)\n"
        "  refund SERVICE N          give back N calls that never reached the provider\n"
        "  consume SERVICE N [--priority]\n"
        "        count N calls only if every window has room (--priority may use the\n"
        "        reserve); refused: exit 3, saying which window and when it resets\n"
        "\n"
        "Config\n"
        "  check CONFIG              validate a config file and print what it defines\n"
        "\n"
        "Shared store\n"
        "  store init URL [--timeout S]\n"
        "        make what the store needs before trackers use it, once: a DynamoDB table\n"
        "        (dynamodb://TABLE?region=R[&endpoint=URL], credentials from AWS_*), waited for\n"
        "        until ACTIVE; for Redis, check that it answers. Already there: exit 0, nothing\n"
        "        changed. S defaults to 30\n"
        "\n"
        "N and USED are whole numbers in decimal (N from 1). With -f, changing commands work on\n"
        "the services the file holds; with -c they first configure the config's services, as\n"
        "a program using that config would (creating the file if it is missing).\n"
        "\n"
        "Exit codes\n"
        "  0  done\n"
        "  1  error: the file is missing, corrupt or not a state file, the service or window\n"
        "     does not exist, the library refused the operation (the message says why)\n"
        "  2  usage: the command line is wrong; nothing was opened\n"
        "  3  refused: consume would exceed a quota; nothing was counted\n"
        "\n"
        "Environment: NO_COLOR (set and not empty) turns the level colours off; they are on only\n"
        "on a terminal.\n",
        stdout);
    if (!qkctl_have_config())
        fputs("\nThis build has no config support: -c and check report an error.\n", stdout);
    fputs("\nSee qkctl(1) and docs/qkctl.md.\n", stdout);
}
