/* Per-thread last error: see include/cgrad/status.h. */
#include "cgrad/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];
static _Thread_local cg_status last_status = CG_OK;

static const char *const status_names[CG_STATUS_COUNT] = {
    [CG_OK] = "ok",
    [CG_ERR_SHAPE] = "shape error",
    [CG_ERR_DIM] = "dim error",
    [CG_ERR_DTYPE] = "dtype error",
    [CG_ERR_VALUE] = "value error",
    [CG_ERR_GRAD] = "autograd error",
    [CG_ERR_NOMEM] = "out of memory",
    [CG_ERR_IO] = "io error",
    [CG_ERR_FORMAT] = "format error",
    [CG_ERR_CHECKSUM] = "checksum error",
    [CG_ERR_NETWORK] = "network error",
    [CG_ERR_STATE] = "state error",
    [CG_ERR_CANCELLED] = "cancelled",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == CG_STATUS_COUNT,
               "every cg_status needs a name");

const char *cg_last_error(void) { return last_status == CG_OK ? "" : last_message; }
cg_status cg_last_status(void) { return last_status; }

const char *cg_status_name(cg_status s) {
    return (s >= 0 && s < CG_STATUS_COUNT) ? status_names[s] : "unknown status";
}

cg_status cg_fail(cg_status s, const char *fmt, ...) {
    /* Formatted into a copy first: an argument may be cg_last_error() itself
     * ("retrying after: %s"), and vsnprintf into the buffer it reads from is
     * undefined behaviour. */
    char message[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memcpy(last_message, message, sizeof last_message);
    last_status = s;
    return s;
}

void cg_clear_error(void) {
    last_status = CG_OK;
    last_message[0] = '\0';
}
