/* The vision layers' kernels through the backend of the tensors' storage
 * (core/dispatch_nn.c).  Callers pass contiguous tensors of the shapes the
 * descriptor states, all on one device; optional tensors may be NULL where
 * kernels/nn_kernels.h allows a NULL pointer. */
#ifndef CGRAD_CORE_DISPATCH_NN_H
#define CGRAD_CORE_DISPATCH_NN_H

#include "cgrad/tensor.h"
#include "kernels/backend.h"
#include "kernels/nn_kernels.h"

/* The conv kernels can fail (out of memory, a shape the library refuses):
 * CG_OK, or the status with the kernel's message recorded. */
cg_status cg_k_conv2d_forward(const cg_conv2d_desc *d, const cg_tensor *x, const cg_tensor *w,
                              const cg_tensor *bias, cg_tensor *y);
cg_status cg_k_conv2d_backward_data(const cg_conv2d_desc *d, const cg_tensor *dy, const cg_tensor *w,
                                    cg_tensor *dx);
cg_status cg_k_conv2d_backward_weights(const cg_conv2d_desc *d, const cg_tensor *x, const cg_tensor *dy,
                                       cg_tensor *dw, cg_tensor *dbias);

void cg_k_batchnorm_forward_train(const cg_batchnorm_desc *d, const cg_tensor *x, const cg_tensor *gamma,
                                  const cg_tensor *beta, cg_tensor *y, cg_tensor *mean, cg_tensor *invstd,
                                  cg_tensor *running_mean, cg_tensor *running_var);
void cg_k_batchnorm_forward_eval(const cg_batchnorm_desc *d, const cg_tensor *x, const cg_tensor *gamma,
                                 const cg_tensor *beta, const cg_tensor *running_mean,
                                 const cg_tensor *running_var, cg_tensor *y, cg_tensor *mean,
                                 cg_tensor *invstd);
/* y: the forward's output, for the fused ReLU's mask (d->relu; else NULL) */
void cg_k_batchnorm_backward(const cg_batchnorm_desc *d, bool training, const cg_tensor *dy,
                             const cg_tensor *x, const cg_tensor *y, const cg_tensor *gamma,
                             const cg_tensor *mean, const cg_tensor *invstd, cg_tensor *dx, cg_tensor *dgamma,
                             cg_tensor *dbeta);

/* Elementwise ops on kept layouts (core/dispatch.c asks first): when every
 * operand is a whole (N,C,H,W) tensor kept in one block, of out's shape,
 * and out is a fresh tensor or one of the operands' storages (the in-place
 * add and ReLU of a residual block), the op runs on the blocked buffers
 * (every operand permuted alike, so element i of each is one (n,c,h,w))
 * and out is left in that block.  false: nothing done, the caller runs the
 * op plain. */
bool cg_k_unary_kept(cg_unary_op op, cg_tensor *out, const cg_tensor *in, double p0, double p1);
bool cg_k_binary_kept(cg_binary_op op, cg_tensor *out, const cg_tensor *a, const cg_tensor *b, double p0,
                      double p1);

typedef enum cg_pool2d_kind { CG_POOL_MAX, CG_POOL_AVG, CG_POOL_ADAPTIVE_MAX, CG_POOL_ADAPTIVE_AVG } cg_pool2d_kind;
/* idx (int64, y's shape) is written by the max pools and read by their backward. */
void cg_k_pool2d_forward(cg_pool2d_kind kind, const cg_pool2d_desc *d, const cg_tensor *x, cg_tensor *y,
                         cg_tensor *idx);
void cg_k_pool2d_backward(cg_pool2d_kind kind, const cg_pool2d_desc *d, const cg_tensor *dy,
                          const cg_tensor *idx, cg_tensor *dx);

/* y = x * mask * scale over x's elements (mask bool/uint8, 1 = keep). */
void cg_k_dropout_apply(const cg_tensor *x, const cg_tensor *mask, float scale, cg_tensor *y);

#endif
