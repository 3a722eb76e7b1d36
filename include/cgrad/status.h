/* cgrad/status.h — how every cgrad call reports failure.
 *
 * The library never exits or aborts on bad input.  A call that can fail
 * either returns a cg_status, or returns a pointer that is NULL on failure.
 * In both cases the reason is kept, per thread, until the next failure:
 *
 *     cg_tensor *c = cg_add(a, b);
 *     if (!c) fprintf(stderr, "%s\n", cg_last_error());
 *     // "add: shapes [3,4] and [5] cannot be broadcast (dim -1: 4 vs 5)"
 *
 * Tensor functions accept NULL arguments and return NULL at once without
 * touching the message, so a chained expression such as
 *     cg_mean(cg_abs(cg_sub(a, b)), NULL, 0, false)
 * reports the first thing that went wrong, not a later consequence. */
#ifndef CGRAD_STATUS_H
#define CGRAD_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cg_status {
    CG_OK = 0,
    CG_ERR_SHAPE,    /* shapes do not match or cannot broadcast */
    CG_ERR_DIM,      /* a dim index is out of range, or repeated */
    CG_ERR_DTYPE,    /* the op does not accept this dtype */
    CG_ERR_VALUE,    /* an argument value is invalid (negative size, step 0, ...) */
    CG_ERR_GRAD,     /* autograd misuse: backward from a non-scalar, in-place on a leaf, ... */
    CG_ERR_NOMEM,    /* an allocation failed */
    CG_ERR_IO,       /* a file could not be opened, read or written */
    CG_ERR_FORMAT,   /* a file is corrupt, truncated or of the wrong type */
    CG_ERR_CHECKSUM, /* downloaded or mirrored data has the wrong checksum */
    CG_ERR_NETWORK,  /* a download failed */
    CG_ERR_STATE,    /* the object is not in a state that allows this call */
    CG_ERR_CANCELLED,/* stopped on request (Ctrl-C, a callback) */
    CG_STATUS_COUNT
} cg_status;

/* The message and status of the last failure on this thread. */
const char *cg_last_error(void);
cg_status cg_last_status(void);
/* A short name for a status: "shape error", "io error", ... */
const char *cg_status_name(cg_status s);

/* Records a failure (printf-style) and returns `s`, so library code can
 * write `return cg_fail(CG_ERR_IO, "%s: %s", path, strerror(errno));`. */
cg_status cg_fail(cg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Clears the last failure. */
void cg_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
