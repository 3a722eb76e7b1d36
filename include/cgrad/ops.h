/* cgrad/ops.h — differentiable operations, PyTorch semantics.
 *
 * Binary ops broadcast both ways like NumPy/PyTorch: shapes are aligned from
 * the right, and a dim of size 1 (or a missing dim) stretches to match:
 *     [1010,28,28] - [28,28]  ->  [1010,28,28]      (valid_3_tens - mean3)
 * dtype promotion: any float32 operand makes the result float32; otherwise
 * integer/bool operands compute in int64 (tensor([1,2,3]) + tensor(1) is int64).
 * Division always gives float32 (true division).
 *
 * Each op records itself on the autograd tape when an input requires grad and
 * no-grad mode is off.  The backward of a broadcast op sums each gradient back
 * to its input's shape.  Every derivative rule lives in autograd/backward.c.
 *
 * The *_s forms take a scalar operand: cg_add_s(t, 1) is t+1,
 * cg_rsub_s(1, t) is 1-t, cg_rdiv_s(1, t) is 1/t. */
#ifndef CGRAD_OPS_H
#define CGRAD_OPS_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise, binary ------------------------------------------------ */
cg_tensor *cg_add(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b); /* res.max(tensor(0.0)) */
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_add_s(cg_tensor *a, double s);
cg_tensor *cg_sub_s(cg_tensor *a, double s);
cg_tensor *cg_rsub_s(double s, cg_tensor *a);
cg_tensor *cg_mul_s(cg_tensor *a, double s);
cg_tensor *cg_div_s(cg_tensor *a, double s);
cg_tensor *cg_rdiv_s(double s, cg_tensor *a);
/* torch.where(cond, a, b): cond is bool (or any dtype, nonzero = true). */
cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b);

/* ---- elementwise, unary ------------------------------------------------- */
cg_tensor *cg_neg(cg_tensor *t);
cg_tensor *cg_abs(cg_tensor *t);
cg_tensor *cg_sqrt(cg_tensor *t);
cg_tensor *cg_exp(cg_tensor *t);
cg_tensor *cg_log(cg_tensor *t);
cg_tensor *cg_sigmoid(cg_tensor *t);
cg_tensor *cg_relu(cg_tensor *t);
/* cg_relu for a caller that never reads t again and whose t came from an op
 * whose backward does not read its output (batch_norm, add, conv2d): the
 * result is written over t's buffer when only the caller holds t, so the
 * pair keeps one activation, not two (torchvision's ReLU(inplace=True)). */
cg_tensor *cg_relu_over(cg_tensor *t);
/* cg_add(a, b) written over a's buffer on the same terms (a's producer's
 * rule does not read its output; b of a's shape). */
cg_tensor *cg_add_over(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_tanh(cg_tensor *t);
cg_tensor *cg_pow_s(cg_tensor *t, double exponent); /* t**2 */
/* clamp(t, lo, hi); pass -INFINITY / INFINITY to leave a side open. */
cg_tensor *cg_clamp(cg_tensor *t, double lo, double hi);

/* ---- comparisons: bool results, no gradient ----------------------------- */
cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_le(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_lt_s(cg_tensor *a, double s);
cg_tensor *cg_le_s(cg_tensor *a, double s);
cg_tensor *cg_gt_s(cg_tensor *a, double s);
cg_tensor *cg_ge_s(cg_tensor *a, double s);
cg_tensor *cg_eq_s(cg_tensor *a, double s);
cg_tensor *cg_ne_s(cg_tensor *a, double s);

/* ---- reductions --------------------------------------------------------- */
/* dims: n dims to reduce (negative allowed); dims NULL or n 0 reduces all.
 * mnist_distance is cg_mean(cg_abs(cg_sub(a,b)), (int[]){-1,-2}, 2, false). */
cg_tensor *cg_sum(cg_tensor *t, const int *dims, int n, bool keepdim);
cg_tensor *cg_mean(cg_tensor *t, const int *dims, int n, bool keepdim);
/* max/min over one dim (values; gradient flows to the first arg-extreme),
 * or over everything when dim is CG_ALL_DIMS. */
#define CG_ALL_DIMS INT32_MIN
cg_tensor *cg_max(cg_tensor *t, int dim, bool keepdim);
cg_tensor *cg_min(cg_tensor *t, int dim, bool keepdim);
cg_tensor *cg_argmax(cg_tensor *t, int dim, bool keepdim); /* int64 */
cg_tensor *cg_argmin(cg_tensor *t, int dim, bool keepdim); /* int64 */

/* ---- linear algebra ----------------------------------------------------- */
/* torch.matmul: 1-d·1-d dot, 2-d·2-d, and batched with broadcast batch dims.
 * Every product goes through the backend's GEMM (oneDNN's sgemm on the CPU). */
cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b);

/* ---- softmax family (fused, numerically stable: x - max - log(sum(exp))) -- */
cg_tensor *cg_log_softmax(cg_tensor *t, int dim);
cg_tensor *cg_softmax(cg_tensor *t, int dim);
/* F.cross_entropy(logits [N,C], target int64 [N]) with mean reduction. */
cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target);
/* F.binary_cross_entropy_with_logits(x, y), mean; y is float (0/1) of x's shape. */
cg_tensor *cg_bce_with_logits(cg_tensor *x, cg_tensor *y);

/* ---- functional losses (F.l1_loss, F.mse_loss; mean reduction) ----------- */
cg_tensor *cg_l1_loss(cg_tensor *pred, cg_tensor *target);
cg_tensor *cg_mse_loss(cg_tensor *pred, cg_tensor *target);

/* ---- in-place, for parameter updates under no-grad ---------------------- */
/* t op= src (src broadcast to t's shape).  Refused (CG_ERR_GRAD) when t
 * requires grad and grad mode is on, as PyTorch refuses for leaves. */
cg_status cg_add_(cg_tensor *t, const cg_tensor *src);
cg_status cg_sub_(cg_tensor *t, const cg_tensor *src);
cg_status cg_mul_(cg_tensor *t, const cg_tensor *src);
cg_status cg_mul_s_(cg_tensor *t, double s);
/* t += alpha * src: the SGD step p.data -= lr * p.grad is cg_axpy_(p, -lr, p->grad). */
cg_status cg_axpy_(cg_tensor *t, double alpha, const cg_tensor *src);

#ifdef __cplusplus
}
#endif
#endif
