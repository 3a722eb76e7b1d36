/* F.batch_norm as one op (PyTorch's native_batch_norm).
 *
 * x [N,C], [N,C,L] or [N,C,H,W] is seen by the kernels as (N, C, HW).  The
 * node's inputs are x, then weight and bias when given (iv[0], iv[1] say
 * which); it saves the batch mean and inverse std (the running ones in eval
 * mode) for the backward, iv[2] says whether it was training and iv[3]
 * whether a ReLU is fused after it (cg_batch_norm_relu: the rule then reads
 * the node's output for the ReLU's mask, so that output must not be
 * overwritten: cg_node_reads_output). */
#include "autograd/node.h"
#include "core/dispatch_nn.h"
#include "ops/nn_ops.h"

cg_batchnorm_desc cg_batch_norm_describe(const cg_tensor *x, double eps, double momentum) {
    int64_t hw = 1;
    for (int d = 2; d < x->ndim; d++) hw *= x->shape[d];
    return (cg_batchnorm_desc){.n = x->shape[0], .c = x->shape[1], .hw = hw, .eps = eps, .momentum = momentum};
}

/* A running statistic the kernel updates in place: float32 [C], contiguous,
 * outside autograd. */
static cg_status check_running(const char *what, const cg_tensor *t, int64_t c) {
    if (cg_nn_check_vector("batch_norm", what, t, c)) return cg_last_status();
    if (!cg_is_contiguous(t) || t->requires_grad)
        return cg_fail(CG_ERR_VALUE, "batch_norm: %s must be contiguous and not require grad", what);
    return CG_OK;
}

static cg_tensor *batch_norm(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var, cg_tensor *weight,
                             cg_tensor *bias, bool training, double momentum, double eps, bool relu) {
    CG_CHECK_NULL(x);
    if (x->dtype != CG_FLOAT32 || x->ndim < 2 || x->ndim > 4) {
        char s[64];
        cg_fail(CG_ERR_SHAPE, "batch_norm: input must be float32 [N,C], [N,C,L] or [N,C,H,W], got %s %s",
                cg_dtype_name(x->dtype), cg_shape_str(x, s, sizeof s));
        return NULL;
    }
    int64_t c = x->shape[1];
    if ((weight && cg_nn_check_vector("batch_norm", "weight", weight, c)) ||
        (bias && cg_nn_check_vector("batch_norm", "bias", bias, c)) ||
        (running_mean && check_running("running_mean", running_mean, c)) ||
        (running_var && check_running("running_var", running_var, c)) ||
        cg_nn_check_device("batch_norm", x, weight, bias) ||
        cg_nn_check_device("batch_norm", x, running_mean, running_var))
        return NULL;
    if (!training && (!running_mean || !running_var)) {
        cg_fail(CG_ERR_VALUE, "batch_norm: eval mode needs running_mean and running_var");
        return NULL;
    }
    if ((running_mean == NULL) != (running_var == NULL)) {
        cg_fail(CG_ERR_VALUE, "batch_norm: give both running_mean and running_var, or neither");
        return NULL;
    }
    cg_batchnorm_desc d = cg_batch_norm_describe(x, eps, momentum);
    d.relu = relu;
    char msg[200] = "";
    if (cg_batchnorm_desc_init(&d, training, msg, sizeof msg) != CG_NN_OK) {
        char s[64];
        cg_fail(CG_ERR_SHAPE, "batch_norm: input %s: %s", cg_shape_str(x, s, sizeof s), msg);
        return NULL;
    }
    cg_scope_begin();
    cg_no_grad_begin();
    cg_tensor *xc = cg_contiguous(x);
    cg_tensor *wc = weight ? cg_contiguous(weight) : NULL, *bc = bias ? cg_contiguous(bias) : NULL;
    cg_no_grad_end();
    cg_tensor *y = cg_tensor_new(CG_FLOAT32, x->ndim, x->shape);
    cg_tensor *mean = cg_tensor_new(CG_FLOAT32, CG_SHAPE(c)), *invstd = cg_tensor_new(CG_FLOAT32, CG_SHAPE(c));
    if (!xc || (weight && !wc) || (bias && !bc) || !y || !mean || !invstd) return cg_scope_return(NULL);
    if (training)
        cg_k_batchnorm_forward_train(&d, xc, wc, bc, y, mean, invstd, running_mean, running_var);
    else
        cg_k_batchnorm_forward_eval(&d, xc, wc, bc, running_mean, running_var, y, mean, invstd);
    cg_tensor *in[3] = {x};
    int n_in = 1;
    if (weight) in[n_in++] = weight;
    if (bias) in[n_in++] = bias;
    cg_node *n = cg_record(CG_OP_BATCH_NORM, y, n_in, in);
    if (n) {
        n->iv[0] = weight != NULL;
        n->iv[1] = bias != NULL;
        n->iv[2] = training;
        n->iv[3] = relu;
        n->n_iv = 4;
        n->p[0] = eps;
        n->p[1] = momentum;
        cg_node_save(n, mean);
        cg_node_save(n, invstd);
    }
    return cg_scope_return(y);
}

cg_tensor *cg_batch_norm(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var, cg_tensor *weight,
                         cg_tensor *bias, bool training, double momentum, double eps) {
    return batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, false);
}

cg_tensor *cg_batch_norm_relu(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var, cg_tensor *weight,
                              cg_tensor *bias, bool training, double momentum, double eps) {
    return batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, true);
}
