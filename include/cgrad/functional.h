/* cgrad/functional.h — the vision layers' ops, PyTorch's torch.nn.functional.
 *
 * Shapes are PyTorch's: images are [N, C, H, W] (row-major, W fastest).  Each
 * op is one differentiable node with a fused backward (the derivative rules
 * live in autograd/backward.c with the others); its kernels sit behind the
 * backend seam (src/kernels/backend.h), so a GPU backend provides them without
 * any change here.
 *
 *     // torchvision's stem: conv 7x7/2 pad 3, BatchNorm, ReLU, max-pool 3x3/2 pad 1
 *     cg_tensor *y = cg_conv2d(x, w, NULL, &(cg_conv2d_opts){.stride = {2, 2}, .padding = {3, 3}});
 *     y = cg_relu(cg_batch_norm(y, rm, rv, gamma, beta, true, 0.1, 1e-5));
 *     y = cg_max_pool2d(y, (int64_t[]){3, 3}, (int64_t[]){2, 2}, (int64_t[]){1, 1});
 */
#ifndef CGRAD_FUNCTIONAL_H
#define CGRAD_FUNCTIONAL_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* F.conv2d's keyword arguments.  Zero fields take PyTorch's defaults
 * (stride 1, padding 0, dilation 1, groups 1), so (cg_conv2d_opts){0} is
 * F.conv2d(x, w, b) and NULL means the same. */
typedef struct cg_conv2d_opts {
    int64_t stride[2];   /* (sH, sW) */
    int64_t padding[2];  /* (pH, pW): zeros on both sides */
    int64_t dilation[2]; /* (dH, dW) */
    int64_t groups;
} cg_conv2d_opts;

/* F.conv2d(x [N,C,H,W], weight [OC, C/groups, KH, KW], bias [OC] or NULL):
 * y [N, OC, OH, OW] with OH = (H + 2pH - dH(KH-1) - 1) / sH + 1. */
cg_tensor *cg_conv2d(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, const cg_conv2d_opts *opts);

/* F.batch_norm(x [N,C] or [N,C,L] or [N,C,H,W], running_mean [C], running_var [C],
 * weight [C] or NULL, bias [C] or NULL, training, momentum, eps).
 * training: normalise with the batch mean and the BIASED variance, and (when
 *   the running tensors are given) update running_mean and running_var with
 *   momentum and the UNBIASED variance, in place, as PyTorch does.
 * eval: normalise with the running statistics. */
cg_tensor *cg_batch_norm(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var,
                         cg_tensor *weight, cg_tensor *bias, bool training, double momentum,
                         double eps);
/* cg_relu(cg_batch_norm(...)) as one op, the same values and gradients: the
 * ReLU is applied as the normalised values are written, and the backward
 * masks the gradient (y > 0) as BatchNorm's backward reads it. */
cg_tensor *cg_batch_norm_relu(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var,
                              cg_tensor *weight, cg_tensor *bias, bool training, double momentum,
                              double eps);

/* F.max_pool2d / F.avg_pool2d(x [N,C,H,W], kernel (kH,kW), stride (sH,sW), padding (pH,pW)):
 * stride NULL = kernel (PyTorch's default), padding NULL = 0; ceil_mode False;
 * avg_pool2d counts padded zeros (count_include_pad=True). */
cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride,
                         const int64_t *padding);
cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride,
                         const int64_t *padding);
/* F.adaptive_avg_pool2d / F.adaptive_max_pool2d(x, (OH, OW)): window i along a
 * dim of size n spans [floor(i*n/OH), ceil((i+1)*n/OH)). */
cg_tensor *cg_adaptive_avg_pool2d(cg_tensor *x, int64_t out_h, int64_t out_w);
cg_tensor *cg_adaptive_max_pool2d(cg_tensor *x, int64_t out_h, int64_t out_w);

/* F.dropout(x, p, training): in training, zeroes each element with
 * probability p (drawn from the default generator, so seeded runs repeat) and
 * scales the rest by 1/(1-p); in eval (or p == 0) returns x itself (retained). */
cg_tensor *cg_dropout(cg_tensor *x, double p, bool training);

#ifdef __cplusplus
}
#endif
#endif
