/* The kernel interface: the only code that loops over tensor buffers.
 *
 * Every kernel takes tensors that already have the right shapes (the ops
 * floor broadcasts with stride-0 views, allocates outputs and checks dtypes),
 * so a kernel only walks strides.  Today all kernels run on the CPU
 * (kernels/cpu_*.c, OpenMP + OpenBLAS); a GPU backend would provide the same
 * functions for tensors whose storage lives on its device. */
#ifndef CGRAD_KERNELS_H
#define CGRAD_KERNELS_H

#include "cgrad/tensor.h"

typedef enum cg_unary_op {
    CG_U_NEG, CG_U_ABS, CG_U_SQRT, CG_U_EXP, CG_U_LOG, CG_U_SIGMOID, CG_U_RELU, CG_U_TANH,
    CG_U_POW,   /* x ** p0 */
    CG_U_CLAMP, /* min(max(x, p0), p1) */
    CG_U_AFFINE /* x * p0 + p1 */
} cg_unary_op;

typedef enum cg_binary_op {
    /* forward arithmetic (float32 or int64 in, same out) */
    CG_B_ADD, CG_B_SUB, CG_B_MUL, CG_B_DIV, CG_B_MAX, CG_B_MIN,
    /* comparisons (float32 or int64 in, bool out) */
    CG_B_LT, CG_B_LE, CG_B_GT, CG_B_GE, CG_B_EQ, CG_B_NE,
    /* fused backward rules: a is the upstream gradient g, b the saved value */
    CG_B_RELU_BACK,    /* g * (x > 0)                     b = input x  */
    CG_B_SIGMOID_BACK, /* g * y * (1 - y)                 b = output y */
    CG_B_TANH_BACK,    /* g * (1 - y*y)                   b = output y */
    CG_B_ABS_BACK,     /* g * sign(x)                     b = input x  */
    CG_B_SQRT_BACK,    /* g * 0.5 / y                     b = output y */
    CG_B_POW_BACK,     /* g * p0 * x**(p0-1)              b = input x  */
    CG_B_CLAMP_BACK,   /* g * (p0 <= x <= p1)             b = input x  */
    CG_B_OP_COUNT
} cg_binary_op;

typedef enum cg_reduce_op { CG_R_SUM, CG_R_MAX, CG_R_MIN } cg_reduce_op;

/* Element access by element offset from cg_data(t) (any dtype). */
double cg_k_get_at(const cg_tensor *t, int64_t offset);
void cg_k_set_at(cg_tensor *t, int64_t offset, double v);
void cg_k_set_flat(cg_tensor *t, int64_t i, double v); /* contiguous t */

/* t[...] = v over t's (possibly strided) layout. */
void cg_k_fill(cg_tensor *t, double v);
/* dst[...] = src[...], same shapes, any layouts and dtypes (bool <- nonzero). */
void cg_k_copy(cg_tensor *dst, const cg_tensor *src);

/* out = op(in), float32, same shapes, any layouts. */
void cg_k_unary(cg_unary_op op, cg_tensor *out, const cg_tensor *in, double p0, double p1);
/* out = op(a, b): a, b, out have out's shape (a, b may be stride-0 views).
 * a and b share a dtype (float32 or int64); out is that dtype, or bool for
 * comparisons.  May run in place (out aliasing a). */
void cg_k_binary(cg_binary_op op, cg_tensor *out, const cg_tensor *a, const cg_tensor *b,
                 double p0, double p1);
/* out = cond ? a : b; all of out's shape; a, b, out float32 (or int64). */
void cg_k_where(cg_tensor *out, const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b);
/* out (contiguous, float32, shape of `in` with reduced dims set to 1) =
 * reduction of float32 `in` over the dims whose bit is set in mask.
 * Every op may also run int64 -> int64 (exact integer sums and extremes).
 * For MAX/MIN, `index` (int64, out's shape, may be NULL) gets the position
 * along the single reduced dim (or the flat position when several are). */
void cg_k_reduce(cg_reduce_op op, cg_tensor *out, cg_tensor *index, const cg_tensor *in,
                 unsigned mask);
/* C = alpha * op(A) @ op(B) + beta * C, row-major float32, through cblas_sgemm. */
void cg_k_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc);
/* Row-wise log-softmax of a contiguous [rows, cols] float32 buffer. */
void cg_k_log_softmax_rows(float *out, const float *in, int64_t rows, int64_t cols);

#endif
