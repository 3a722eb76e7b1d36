/* Internals shared by the tensor core, the kernels, the ops and autograd.
 * Not installed; nothing above the ops floor includes it. */
#ifndef CGRAD_CORE_INTERNAL_H
#define CGRAD_CORE_INTERNAL_H

#include <stdatomic.h>

#include "cgrad/autograd.h"
#include "cgrad/ops.h"
#include "cgrad/tensor.h"
#include "core/shape_check.h" /* cg_shape_numel_checked, cg_mul_overflow_size */

/* A reference-counted buffer.  `data` comes from the pool (core/pool.c). */
struct cg_storage {
    void *data;
    size_t nbytes;
    atomic_int refcount;
    cg_device device;
};

/* ---- pool (core/pool.c) -------------------------------------------------- */
void *cg_pool_alloc(size_t nbytes);          /* 64-byte aligned; NULL on failure */
void cg_pool_free(void *p, size_t nbytes);
cg_storage *cg_storage_new(size_t nbytes);   /* refcount 1 */
void cg_storage_release(cg_storage *s);

/* Frees an autograd node (autograd/tape.c); called when its output dies. */
void cg_node_release(cg_node *n);

/* ---- tensor construction (core/tensor.c) -------------------------------- */
/* A new contiguous tensor of dtype/shape with uninitialised data, registered
 * with the current scope.  NULL (message set) on bad shape or no memory. */
cg_tensor *cg_tensor_new(cg_dtype dt, int ndim, const int64_t *shape);
/* A new tensor header viewing t's storage with the given layout (retains the
 * storage), registered with the current scope; no autograd. */
cg_tensor *cg_tensor_view_of(const cg_tensor *t, int ndim, const int64_t *shape,
                             const int64_t *strides, int64_t offset);
void cg_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);
int64_t cg_shape_numel(int ndim, const int64_t *shape);
/* Formats a shape like "[3, 4]" into buf. */
char *cg_dims_str(int ndim, const int64_t *shape, char *buf, size_t n);

/* Broadcasts shapes a and b (NumPy rules); CG_ERR_SHAPE naming op on failure. */
cg_status cg_broadcast_shapes(const char *op, int na, const int64_t *sa, int nb,
                              const int64_t *sb, int *nout, int64_t *sout);
/* A stride-0 view of t expanded to shape (no autograd; kernels' helper). */
cg_tensor *cg_expand_raw(const cg_tensor *t, int ndim, const int64_t *shape);
/* Sums g over the dims that broadcasting added or stretched so that the result
 * has `shape` (the backward of broadcasting).  Returns g retained if equal. */
cg_tensor *cg_sum_to_shape(cg_tensor *g, int ndim, const int64_t *shape);
/* t converted to dtype dt (t retained when it already is). */
cg_tensor *cg_cast_raw(cg_tensor *t, cg_dtype dt);

/* Internal scope helpers for ops: begin, then end keeping one result. */
static inline cg_tensor *cg_scope_return(cg_tensor *result) {
    cg_keep(result);
    cg_scope_end();
    return result;
}

#define CG_CHECK_NULL(...)                                            \
    do {                                                              \
        const void *cg_args_[] = {__VA_ARGS__};                       \
        for (size_t cg_i_ = 0; cg_i_ < sizeof cg_args_ / sizeof *cg_args_; cg_i_++) \
            if (!cg_args_[cg_i_]) {                                   \
                if (cg_last_status() == CG_OK)                        \
                    cg_fail(CG_ERR_VALUE, "%s: NULL tensor argument", __func__); \
                return NULL;                                          \
            }                                                         \
    } while (0)

#endif
