/* The backend seam: what a device must provide for cgrad to run on it.
 *
 * A backend is one table of functions (cg_backend below): memory (alloc,
 * free, copies to and from the host, synchronize) and the kernels, the only
 * code that loops over tensor data.  A tensor's storage records its device;
 * the core floor looks the backend up with cg_backend_for(storage->device)
 * and calls through the table, so ops and autograd never know which backend
 * runs (core/dispatch.c).  The CPU backend is kernels/cpu_*.c (OpenMP +
 * OpenBLAS), its table in kernels/cpu_backend.c; a CUDA backend would be a
 * sibling set of files filling the same table (docs/DESIGN.md lists what it
 * must provide).
 *
 * Kernels see plain descriptors, never a cg_tensor: this header includes
 * nothing of the tensor core, so a backend's files compile without it.
 * Every kernel takes operands that already have the right shapes (the ops
 * floor broadcasts with stride-0 views, allocates outputs, checks dtypes and
 * devices), so a kernel only walks strides. */
#ifndef CGRAD_BACKEND_H
#define CGRAD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgrad/dtype.h"
#include "kernels/nn_kernels.h"

/* ---- descriptors --------------------------------------------------------- */
/* An n-d view of device memory: element (i0,..,ik) of type dtype lives at
 * (char *)data + sum(i_d * strides[d]) * cg_kdtype_size(dtype).  data points
 * at element 0 (the tensor's offset already applied); strides are in
 * elements and may be 0 (a broadcast). */
typedef struct cg_kview {
    void *data;
    cg_dtype dtype;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_MAX_DIMS];
} cg_kview;

static inline size_t cg_kdtype_size(cg_dtype dt) {
    switch (dt) {
    case CG_FLOAT32: return 4;
    case CG_UINT8: return 1;
    case CG_INT64: return 8;
    case CG_BOOL: return 1;
    default: return 0;
    }
}

/* One element of type dt at p, as a double (bool: any nonzero byte is 1). */
static inline double cg_kload(cg_dtype dt, const void *p) {
    switch (dt) {
    case CG_FLOAT32: return *(const float *)p;
    case CG_UINT8: return *(const uint8_t *)p;
    case CG_INT64: return (double)*(const int64_t *)p;
    case CG_BOOL: return *(const uint8_t *)p ? 1 : 0;
    default: return 0;
    }
}
/* Stores v at p as type dt (integers truncate, bool is v != 0). */
static inline void cg_kstore(cg_dtype dt, void *p, double v) {
    switch (dt) {
    case CG_FLOAT32: *(float *)p = (float)v; break;
    case CG_UINT8: *(uint8_t *)p = (uint8_t)(int64_t)v; break;
    case CG_INT64: *(int64_t *)p = (int64_t)v; break;
    case CG_BOOL: *(uint8_t *)p = v != 0; break;
    default: break;
    }
}

/* ---- kernel operations --------------------------------------------------- */
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

/* Hyper-parameters of one fused optimizer update (fastai's steppers). */
typedef struct cg_sgd_args {
    double lr;
    double mom;   /* used only when grad_avg is given: momentum_step */
    double decay; /* weight_decay's factor 1 - lr*wd; exactly 1 skips it */
} cg_sgd_args;

typedef struct cg_adam_args {
    double lr, mom, sqr_mom, eps;
    double decay; /* 1 - lr*wd; exactly 1 skips the weight_decay pass */
    int64_t step; /* step_stat after this step's increment (>= 1) */
} cg_adam_args;

/* ---- the table ----------------------------------------------------------- */
/* Pointers named `const float *` / `float *` with a count are contiguous
 * device buffers.  No entry fails except alloc: shapes, dtypes and ranges are
 * checked by the ops floor before it calls. */
typedef struct cg_backend {
    const char *name; /* "cpu" */
    cg_device device;

    /* -- memory ---------------------------------------------------------- */
    /* nbytes of device memory, 64-byte aligned; NULL when out of memory.
     * free gets the same nbytes back (a caching allocator keys on it). */
    void *(*alloc)(size_t nbytes);
    void (*free)(void *p, size_t nbytes);
    /* Copies nbytes between host memory and this device's memory. */
    void (*to_host)(void *host_dst, const void *dev_src, size_t nbytes);
    void (*from_host)(void *dev_dst, const void *host_src, size_t nbytes);
    /* Returns once every kernel launched so far has finished (a no-op for
     * the CPU, whose kernels return when done). */
    void (*synchronize)(void);
    /* The allocator's books: bytes handed out, bytes cached for reuse, and
     * giving the cache back (cg_mem_in_use, cg_mem_cached, cg_pool_trim). */
    size_t (*mem_in_use)(void);
    size_t (*mem_cached)(void);
    void (*trim)(void);

    /* -- elementwise ----------------------------------------------------- */
    /* t[...] = v over t's (possibly strided) layout, any dtype. */
    void (*fill)(const cg_kview *t, double v);
    /* dst[...] = src[...], same shapes, any layouts and dtypes (bool <- nonzero). */
    void (*copy)(const cg_kview *dst, const cg_kview *src);
    /* t[i] = start + i * step for a contiguous 1-d t (float32 or int64). */
    void (*arange)(const cg_kview *t, double start, double step);
    /* t[i] of a contiguous 1-d float32 t of n >= 1 steps: PyTorch's linspace,
     * the first half counted from start and the second from end. */
    void (*linspace)(const cg_kview *t, double start, double end);
    /* out = op(in), float32, same shapes, any layouts. */
    void (*unary)(cg_unary_op op, const cg_kview *out, const cg_kview *in, double p0, double p1);
    /* out = op(a, b): a, b, out have out's shape (a, b may be stride-0 views).
     * a and b share a dtype (float32 or int64); out is that dtype, or bool for
     * comparisons.  May run in place (out aliasing a). */
    void (*binary)(cg_binary_op op, const cg_kview *out, const cg_kview *a, const cg_kview *b,
                   double p0, double p1);
    /* out = cond ? a : b; all of out's shape; a, b, out float32 (or int64). */
    void (*where)(const cg_kview *out, const cg_kview *cond, const cg_kview *a, const cg_kview *b);

    /* -- reductions ------------------------------------------------------ */
    /* out (contiguous, shape of `in` with reduced dims set to 1) = reduction
     * of float32 (or int64) `in` over the dims whose bit is set in mask.
     * For MAX/MIN, `index` (int64, out's shape, may be NULL) gets the position
     * along the single reduced dim (or the flat position when several are). */
    void (*reduce)(cg_reduce_op op, const cg_kview *out, const cg_kview *index, const cg_kview *in,
                   unsigned mask);
    /* The backward of max/min over mask: gx (float32, contiguous, the input's
     * shape, zeroed by the caller) [at the picked position] += g, for every
     * element of g (float32, contiguous, keepdim shape) and its index (int64,
     * as `reduce` wrote it). */
    void (*reduce_index_backward)(const cg_kview *gx, const cg_kview *g, const cg_kview *index,
                                  unsigned mask);

    /* -- matrices and rows ----------------------------------------------- */
    /* C = alpha * op(A) @ op(B) + beta * C, row-major float32. */
    void (*gemm)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc);
    /* Row-wise log-softmax of a contiguous [rows, cols] float32 buffer. */
    void (*log_softmax_rows)(float *out, const float *in, int64_t rows, int64_t cols);
    /* out (0-d float32) = -mean_i logp[i, target[i]] for contiguous logp
     * [rows, cols] float32 and target [rows] int64.  Returns the first row
     * whose target is outside [0, cols) (out untouched), or -1. */
    int64_t (*nll_loss)(float *out, const float *logp, const int64_t *target, int64_t rows,
                        int64_t cols);
    /* Its backward: gx [rows, cols] (zeroed by the caller)[i, target[i]] = -g / rows. */
    void (*nll_loss_backward)(float *gx, const int64_t *target, int64_t rows, int64_t cols, double g);

    /* -- fused optimizer updates (contiguous float32, n elements) --------- */
    /* p += alpha * x  (cg_axpy_'s fast path) */
    void (*axpy)(float *p, const float *x, int64_t n, double alpha);
    /* fastai's SGD: weight_decay (p *= decay) when decay != 1, then
     * momentum_step (grad_avg = grad_avg*mom + g; p -= lr*grad_avg) when
     * grad_avg is given, else sgd_step (p -= lr*g). */
    void (*sgd_update)(float *p, const float *g, float *grad_avg, int64_t n, const cg_sgd_args *a);
    /* fastai's Adam: weight_decay, average_grad(dampening), average_sqr_grad,
     * adam_step with the debiasing of a->step. */
    void (*adam_update)(float *p, const float *g, float *grad_avg, float *sqr_avg, int64_t n,
                        const cg_adam_args *a);

    /* -- vision layers (descriptors and contracts: kernels/nn_kernels.h) -- */
    /* Kept layouts.  A conv2d or batch_norm output may be left in a layout of
     * the backend's own (a channel block: nChw8c, nChw16c), which the next
     * conv2d or batch_norm reads as it is; the storage (core/storage.c)
     * records it and, when anything else reads the tensor, settles it into
     * its plain buffer with blocked_to_plain (an exact copy); plain_to_blocked
     * makes the blocked copy of a plain tensor that such a kernel reads.  A backend
     * that keeps no layout answers 0 and 0 from conv2d_native_blocks.
     * conv2d_native_blocks: the blocks pass `pass` of d (blocks 0) runs its
     * x side and y side in (d's x_block / y_block then take them). */
    cg_nn_status (*conv2d_native_blocks)(const cg_conv2d_desc *d, cg_conv2d_pass pass, int64_t *x_block,
                                         int64_t *y_block, char *msg, size_t msg_size);
    void (*blocked_to_plain)(int64_t block, int64_t n, int64_t c, int64_t s, const float *src, float *dst);
    void (*plain_to_blocked)(int64_t block, int64_t n, int64_t c, int64_t s, const float *src, float *dst);
    /* buf made plain where it lies, needing no memory (the settle of a
     * storage whose plain buffer cannot be allocated: a storage whose value
     * is kept blocked holds no plain buffer until something reads it plain) */
    void (*blocked_to_plain_in_place)(int64_t block, int64_t n, int64_t c, int64_t s, float *buf);
    /* the block a batch_norm puts a plain (N,C,H,W) input in (0: none) */
    int64_t (*preferred_block)(void);
    /* conv2d: x (N,C,H,W), w (OC,C/groups,KH,KW), bias (OC) or NULL, y (N,OC,OH,OW),
     * contiguous float32, x and y (dx and dy) in d's x_block / y_block layouts;
     * the descriptor is validated (cg_conv2d_desc_init).
     * May fail (out of memory, a library refusing a shape): CG_NN_OK or a status
     * with a message written into msg. */
    cg_nn_status (*conv2d_forward)(const cg_conv2d_desc *d, const float *x, const float *w,
                                   const float *bias, float *y, char *msg, size_t msg_size);
    cg_nn_status (*conv2d_backward_data)(const cg_conv2d_desc *d, const float *dy, const float *w,
                                         float *dx, char *msg, size_t msg_size);
    cg_nn_status (*conv2d_backward_weights)(const cg_conv2d_desc *d, const float *x, const float *dy,
                                            float *dw, float *dbias, char *msg, size_t msg_size);
    /* batch_norm over (N,C,HW): training statistics (writing the saved mean and
     * invstd, updating the running ones when given), eval, and the backward. */
    void (*batchnorm_forward_train)(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                    const float *beta, float *y, float *save_mean, float *save_invstd,
                                    float *running_mean, float *running_var);
    void (*batchnorm_forward_eval)(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                   const float *beta, const float *running_mean,
                                   const float *running_var, float *y, float *save_mean,
                                   float *save_invstd);
    void (*batchnorm_backward)(const cg_batchnorm_desc *d, bool training, const float *dy,
                               const float *x, const float *y, const float *gamma, const float *save_mean,
                               const float *save_invstd, float *dx, float *dgamma, float *dbeta);
    /* pooling over (N,C,H,W) planes: the max pools write PyTorch's int64
     * indices (h*W + w in the plane), which their shared backward scatters by. */
    void (*max_pool2d_forward)(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx);
    void (*adaptive_max_pool2d_forward)(const cg_pool2d_desc *d, const float *x, float *y,
                                        int64_t *idx);
    void (*max_pool2d_backward)(const cg_pool2d_desc *d, const float *dy, const int64_t *idx,
                                float *dx);
    void (*avg_pool2d_forward)(const cg_pool2d_desc *d, const float *x, float *y);
    void (*avg_pool2d_backward)(const cg_pool2d_desc *d, const float *dy, float *dx);
    void (*adaptive_avg_pool2d_forward)(const cg_pool2d_desc *d, const float *x, float *y);
    void (*adaptive_avg_pool2d_backward)(const cg_pool2d_desc *d, const float *dy, float *dx);
    /* dropout: y[i] = x[i] * mask[i] * scale (mask 1 = keep); also its backward. */
    void (*dropout_apply)(int64_t n, const float *x, const uint8_t *mask, float scale, float *y);
} cg_backend;

/* The backend that owns memory of `device`; NULL for a device this build
 * has no backend for. */
const cg_backend *cg_backend_for(cg_device device);

/* The CPU backend's table (kernels/cpu_backend.c). */
extern const cg_backend cg_cpu_backend;

#endif
