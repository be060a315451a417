/* show --json: a cut, or an error, as one JSON document on stdout (jansson), for scripts.
 * docs/qkctl.md gives the shape. */
#ifndef QKCTL_JSON_H
#define QKCTL_JSON_H

#include "cut.h"

/* Writes the cut; 0, or -1 when it could not be built or written (message on stderr). */
int qkctl_json_cut(const qkctl_cut *c, const char *path);

/* {"error": {"code": "QK_EIO", "value": -8, "message": "..."}}: code is a QK_E* value, named
 * with qk_err_name so scripts compare stable names. */
void qkctl_json_error(int code, const char *message);

#endif
