/* Shared by the vision layers' ops (ops/conv.c, batch_norm.c, pool.c,
 * dropout.c) and their derivative rules in autograd/backward.c. */
#ifndef CGRAD_OPS_NN_OPS_H
#define CGRAD_OPS_NN_OPS_H

#include "cgrad/functional.h"
#include "core/internal.h"
#include "kernels/nn_kernels.h"

/* t must be float32 with ndim dims (what names it in messages). */
cg_status cg_nn_check_input(const char *op, const char *what, const cg_tensor *t, int ndim);
/* t must be a float32 vector of n elements. */
cg_status cg_nn_check_vector(const char *op, const char *what, const cg_tensor *t, int64_t n);
/* Every non-NULL tensor must live on a's device. */
cg_status cg_nn_check_device(const char *op, const cg_tensor *a, const cg_tensor *b, const cg_tensor *c);

/* conv2d's descriptor from x, w and the 7 arguments the node keeps
 * (stride h/w, padding h/w, dilation h/w, groups). */
cg_status cg_conv2d_describe(const cg_tensor *x, const cg_tensor *w, const int64_t *args, cg_conv2d_desc *d);
/* BatchNorm's descriptor for x [N,C], [N,C,L] or [N,C,H,W]. */
cg_batchnorm_desc cg_batch_norm_describe(const cg_tensor *x, double eps, double momentum);
/* A pool's descriptor for x [N,C,H,W] and the node's iv (kernel 2, stride 2,
 * padding 2 for window pools; output 2 for adaptive ones). */
cg_pool2d_desc cg_pool2d_describe(const cg_tensor *x, bool adaptive, const int64_t *iv);

#endif
