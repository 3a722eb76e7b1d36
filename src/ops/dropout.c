/* F.dropout(x, p, training): y = x * mask / (1-p), mask ~ Bernoulli(1-p)
 * drawn as rand < 1-p from the default generator (so a seeded run repeats;
 * PyTorch's bernoulli_ draws a different stream).  The node saves the mask;
 * the backward is the same multiply on the gradient. */
#include <math.h>

#include "autograd/node.h"
#include "cgrad/random.h"
#include "core/dispatch_nn.h"
#include "ops/nn_ops.h"

cg_tensor *cg_dropout(cg_tensor *x, double p, bool training) {
    CG_CHECK_NULL(x);
    if (!(p >= 0 && p <= 1)) {
        cg_fail(CG_ERR_VALUE, "dropout: p must be in [0, 1], got %g", p);
        return NULL;
    }
    if (x->dtype != CG_FLOAT32) {
        cg_fail(CG_ERR_DTYPE, "dropout: input must be float32, got %s", cg_dtype_name(x->dtype));
        return NULL;
    }
    if (!training || p == 0) return cg_scope_adopt(cg_retain(x));
    cg_scope_begin();
    cg_no_grad_begin();
    cg_tensor *xc = cg_contiguous(x);
    /* p == 1 drops everything (PyTorch returns zeros); scale 0 keeps it finite. */
    cg_tensor *mask = cg_lt_s(cg_rand(NULL, x->ndim, x->shape), 1.0 - p);
    cg_no_grad_end();
    cg_tensor *y = cg_tensor_new(CG_FLOAT32, x->ndim, x->shape);
    if (!xc || !mask || !y) return cg_scope_return(NULL);
    float scale = p < 1 ? (float)(1.0 / (1.0 - p)) : 0.0f;
    cg_k_dropout_apply(xc, mask, scale, y);
    cg_node *n = cg_record(CG_OP_DROPOUT, y, 1, &x);
    if (n) {
        n->p[0] = scale;
        cg_node_save(n, mask);
    }
    return cg_scope_return(y);
}
