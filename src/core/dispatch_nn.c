/* The vision layers' kernels, called through the backend of the tensors'
 * storage: tensors in, plain pointers and descriptors out (kernels/nn_kernels.h).
 * Every tensor here is contiguous float32 (int64 for pool indices, bool for
 * dropout masks) and on one device: the ops floor made sure of both. */
#include "core/dispatch.h"
#include "core/dispatch_nn.h"
#include "core/internal.h"

static cg_status kernel_failed(const char *op, cg_nn_status st, const char *msg) {
    return cg_fail(st == CG_NN_ENOMEM ? CG_ERR_NOMEM : st == CG_NN_EINVAL ? CG_ERR_SHAPE : CG_ERR_VALUE,
                   "%s: %s", op, msg[0] ? msg : "the backend's kernel failed");
}

#define F32(t) ((float *)cg_data(t))
#define CF32(t) ((const float *)cg_data(t))
#define OPT_F32(t) ((t) ? (float *)cg_data(t) : NULL)

cg_status cg_k_conv2d_forward(const cg_conv2d_desc *d, const cg_tensor *x, const cg_tensor *w,
                              const cg_tensor *bias, cg_tensor *y) {
    char msg[256] = "";
    cg_nn_status st =
        cg_backend_of(y)->conv2d_forward(d, CF32(x), CF32(w), OPT_F32(bias), F32(y), msg, sizeof msg);
    return st ? kernel_failed("conv2d", st, msg) : CG_OK;
}

cg_status cg_k_conv2d_backward_data(const cg_conv2d_desc *d, const cg_tensor *dy, const cg_tensor *w,
                                    cg_tensor *dx) {
    char msg[256] = "";
    cg_nn_status st = cg_backend_of(dx)->conv2d_backward_data(d, CF32(dy), CF32(w), F32(dx), msg, sizeof msg);
    return st ? kernel_failed("conv2d backward (data)", st, msg) : CG_OK;
}

cg_status cg_k_conv2d_backward_weights(const cg_conv2d_desc *d, const cg_tensor *x, const cg_tensor *dy,
                                       cg_tensor *dw, cg_tensor *dbias) {
    char msg[256] = "";
    cg_nn_status st = cg_backend_of(dw)->conv2d_backward_weights(d, CF32(x), CF32(dy), F32(dw),
                                                                 OPT_F32(dbias), msg, sizeof msg);
    return st ? kernel_failed("conv2d backward (weights)", st, msg) : CG_OK;
}

void cg_k_batchnorm_forward_train(const cg_batchnorm_desc *d, const cg_tensor *x, const cg_tensor *gamma,
                                  const cg_tensor *beta, cg_tensor *y, cg_tensor *mean, cg_tensor *invstd,
                                  cg_tensor *running_mean, cg_tensor *running_var) {
    cg_backend_of(y)->batchnorm_forward_train(d, CF32(x), OPT_F32(gamma), OPT_F32(beta), F32(y), F32(mean),
                                              F32(invstd), OPT_F32(running_mean), OPT_F32(running_var));
}

void cg_k_batchnorm_forward_eval(const cg_batchnorm_desc *d, const cg_tensor *x, const cg_tensor *gamma,
                                 const cg_tensor *beta, const cg_tensor *running_mean,
                                 const cg_tensor *running_var, cg_tensor *y, cg_tensor *mean,
                                 cg_tensor *invstd) {
    cg_backend_of(y)->batchnorm_forward_eval(d, CF32(x), OPT_F32(gamma), OPT_F32(beta), CF32(running_mean),
                                             CF32(running_var), F32(y), OPT_F32(mean), OPT_F32(invstd));
}

void cg_k_batchnorm_backward(const cg_batchnorm_desc *d, bool training, const cg_tensor *dy,
                             const cg_tensor *x, const cg_tensor *y, const cg_tensor *gamma,
                             const cg_tensor *mean, const cg_tensor *invstd, cg_tensor *dx, cg_tensor *dgamma,
                             cg_tensor *dbeta) {
    cg_backend_of(dy)->batchnorm_backward(d, training, CF32(dy), CF32(x), OPT_F32(y), OPT_F32(gamma), CF32(mean),
                                          CF32(invstd), OPT_F32(dx), OPT_F32(dgamma), OPT_F32(dbeta));
}

void cg_k_pool2d_forward(cg_pool2d_kind kind, const cg_pool2d_desc *d, const cg_tensor *x, cg_tensor *y,
                         cg_tensor *idx) {
    const cg_backend *be = cg_backend_of(y);
    int64_t *pi = idx ? (int64_t *)cg_data(idx) : NULL;
    switch (kind) {
    case CG_POOL_MAX: be->max_pool2d_forward(d, CF32(x), F32(y), pi); break;
    case CG_POOL_AVG: be->avg_pool2d_forward(d, CF32(x), F32(y)); break;
    case CG_POOL_ADAPTIVE_MAX: be->adaptive_max_pool2d_forward(d, CF32(x), F32(y), pi); break;
    case CG_POOL_ADAPTIVE_AVG: be->adaptive_avg_pool2d_forward(d, CF32(x), F32(y)); break;
    }
}

void cg_k_pool2d_backward(cg_pool2d_kind kind, const cg_pool2d_desc *d, const cg_tensor *dy,
                          const cg_tensor *idx, cg_tensor *dx) {
    const cg_backend *be = cg_backend_of(dx);
    switch (kind) {
    case CG_POOL_MAX:
    case CG_POOL_ADAPTIVE_MAX: be->max_pool2d_backward(d, CF32(dy), (const int64_t *)cg_data(idx), F32(dx)); break;
    case CG_POOL_AVG: be->avg_pool2d_backward(d, CF32(dy), F32(dx)); break;
    case CG_POOL_ADAPTIVE_AVG: be->adaptive_avg_pool2d_backward(d, CF32(dy), F32(dx)); break;
    }
}

void cg_k_dropout_apply(const cg_tensor *x, const cg_tensor *mask, float scale, cg_tensor *y) {
    cg_backend_of(y)->dropout_apply(cg_numel(x), CF32(x), (const uint8_t *)cg_data(mask), scale, F32(y));
}
