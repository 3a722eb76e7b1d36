/* nn/layer_util.c — parameter and buffer creation shared by the layers. */
#include "cgrad/autograd.h"
#include "cgrad/nn.h"
#include "nn/layer_util.h"

cg_status cg_layer_add_uniform_param(cg_module *m, const char *name, int ndim, const int64_t *shape,
                                     double bound) {
    cg_scope_begin();
    cg_tensor *t = cg_empty(CG_FLOAT32, ndim, shape);
    cg_status st = t ? cg_init_uniform_(t, bound) : cg_last_status();
    if (!st && !cg_requires_grad_(t, true)) st = cg_last_status();
    if (!st) st = cg_module_add_param(m, name, t);
    cg_scope_end();
    return st;
}

cg_status cg_layer_add_full(cg_module *m, const char *name, cg_dtype dt, int ndim,
                            const int64_t *shape, double value, bool param) {
    cg_scope_begin();
    cg_tensor *t = cg_full(dt, ndim, shape, value);
    cg_status st = t ? CG_OK : cg_last_status();
    if (!st && param && !cg_requires_grad_(t, true)) st = cg_last_status();
    if (!st) st = param ? cg_module_add_param(m, name, t) : cg_module_add_buffer(m, name, t);
    cg_scope_end();
    return st;
}
