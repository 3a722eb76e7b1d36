/* Argument checks shared by the vision layers' ops. */
#include "ops/nn_ops.h"

cg_status cg_nn_check_input(const char *op, const char *what, const cg_tensor *t, int ndim) {
    char s[64];
    if (t->dtype != CG_FLOAT32)
        return cg_fail(CG_ERR_DTYPE, "%s: %s must be float32, got %s", op, what, cg_dtype_name(t->dtype));
    if (t->ndim != ndim)
        return cg_fail(CG_ERR_SHAPE, "%s: %s must be %d-d, got %s", op, what, ndim, cg_shape_str(t, s, sizeof s));
    return CG_OK;
}

cg_status cg_nn_check_vector(const char *op, const char *what, const cg_tensor *t, int64_t n) {
    char s[64];
    if (t->dtype != CG_FLOAT32)
        return cg_fail(CG_ERR_DTYPE, "%s: %s must be float32, got %s", op, what, cg_dtype_name(t->dtype));
    if (t->ndim != 1 || t->shape[0] != n)
        return cg_fail(CG_ERR_SHAPE, "%s: %s must have shape [%lld], got %s", op, what, (long long)n,
                       cg_shape_str(t, s, sizeof s));
    return CG_OK;
}

cg_status cg_nn_check_device(const char *op, const cg_tensor *a, const cg_tensor *b, const cg_tensor *c) {
    const cg_tensor *ts[2] = {b, c};
    for (int i = 0; i < 2; i++)
        if (ts[i] && ts[i]->storage->device != a->storage->device)
            return cg_fail(CG_ERR_VALUE, "%s: tensors are on different devices", op);
    return CG_OK;
}
