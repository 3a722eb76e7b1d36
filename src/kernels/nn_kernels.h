/* Kernels of the vision layers: conv2d, batch_norm, pooling, dropout.
 *
 * Floor 1 (kernels).  Everything here sees plain float / int64 / uint8
 * pointers to contiguous row-major buffers plus a shape descriptor; nothing
 * includes a cgrad header, so a backend table (or a CUDA sibling) can take
 * these functions as they are.  Shapes follow PyTorch: x is (N,C,H,W).
 *
 * Each op has a reference kernel (`_ref`: plain loops in the order of the
 * definition, double accumulators, single thread: obviously right, slow)
 * and a fast kernel, and tests/test_nn_kernels.c holds them to each other.
 *
 * Conventions shared by every function below:
 * - Buffers are contiguous, in the shapes stated, and do not alias unless
 *   said so.  Outputs are overwritten, never accumulated into: the autograd
 *   floor adds a returned gradient to .grad itself.
 * - A descriptor is validated once by its _init function (which also fills
 *   the output sizes) before any kernel sees it; kernels trust it.  _init
 *   returns CG_NN_OK or CG_NN_EINVAL with a message naming the field and its
 *   value written into msg (msg may be NULL).  Nothing here prints, exits or
 *   aborts.
 * - Threads: fast kernels run on OpenMP threads when the work pays for it;
 *   how many is decided per call by cg_nn_threads (cpu_nn_threads.h), which
 *   measures one thread against all of them as calls go by, so a loaded
 *   machine is not made slower than one thread would be.  Every function is
 *   safe to call from several threads at once (the conv primitive cache has
 *   its own locks).
 */
#ifndef CGRAD_NN_KERNELS_H
#define CGRAD_NN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cg_nn_status {
    CG_NN_OK = 0,
    CG_NN_EINVAL,  /* a descriptor field out of range (msg names it) */
    CG_NN_ENOMEM,  /* an allocation failed */
    CG_NN_EBACKEND /* oneDNN refused the shape or failed (msg has its status) */
} cg_nn_status;

/* ---- conv2d ---------------------------------------------------------------
 * PyTorch's F.conv2d: x is (N,C,H,W), w is (OC,C/groups,KH,KW), bias is (OC)
 * or NULL, y is (N,OC,OH,OW) with
 *   OH = (H + 2*pad_h - dil_h*(KH-1) - 1) / stride_h + 1   (floor), OW alike,
 *   y[n,o,i,j] = bias[o] + sum_{c in o's group, a, b}
 *                w[o,c',a,b] * x[n,c, i*stride_h - pad_h + a*dil_h, j*stride_w - pad_w + b*dil_w]
 * (terms outside the input are zero; group g = o / (OC/groups) reads input
 * channels g*C/groups .. (g+1)*C/groups-1, c' = c - g*C/groups). */
typedef struct cg_conv2d_desc {
    int64_t n, c, h, w;         /* input (N,C,H,W) */
    int64_t oc, kh, kw;         /* weight (OC, C/groups, KH, KW) */
    int64_t stride_h, stride_w; /* >= 1 */
    int64_t pad_h, pad_w;       /* >= 0, zero padding on both sides */
    int64_t dil_h, dil_w;       /* >= 1 */
    int64_t groups;             /* >= 1, divides C and OC */
    int64_t oh, ow;             /* output size: filled by cg_conv2d_desc_init */
    /* The layouts of the buffers (0 in every descriptor the ops floor does
     * not mark): 0 = plain NCHW; 8 or 16 = oneDNN's blocked nChw8c /
     * nChw16c (cg_layout_blocked_index), whose channel count must be a
     * multiple of it.  x_block: x (forward, weight backward) or dx (data
     * backward); y_block: y (forward) or dy (both backwards).  A kernel takes
     * them as they are when its primitive runs in that layout (no reorder:
     * cg_conv2d_native_blocks says which), else reorders. */
    int64_t x_block, y_block;
} cg_conv2d_desc;

/* The blocked layouts, shared by conv2d and batch_norm: element (n, c, s)
 * of an (N, C, S) tensor (S = H*W) with C % block == 0 lives at
 *   ((n * (C / block) + c / block) * S + s) * block + c % block. */
static inline int64_t cg_layout_blocked_index(int64_t c_total, int64_t s_total, int64_t block, int64_t n,
                                              int64_t c, int64_t s) {
    return ((n * (c_total / block) + c / block) * s_total + s) * block + c % block;
}
/* dst (N,C,S) plain <- src (N,C,S) in `block` (8 or 16), on the kernels' threads. */
void cg_layout_blocked_to_plain(int64_t block, int64_t n, int64_t c, int64_t s, const float *src, float *dst);
/* dst in `block` <- src plain (for tests and benchmarks). */
void cg_layout_plain_to_blocked(int64_t block, int64_t n, int64_t c, int64_t s, const float *src, float *dst);
/* buf (N,C,S) in `block` made plain where it lies, with no memory beyond a
 * few words: the settle of a storage whose plain buffer could not be had
 * (core/storage.c).  Slower than the copy (it follows the transpose's
 * cycles), and one thread: it only runs when memory has run out. */
void cg_layout_blocked_to_plain_in_place(int64_t block, int64_t n, int64_t c, int64_t s, float *buf);

/* Checks every field (positive sizes, groups dividing C and OC, a kernel
 * that fits the padded input, products that fit in int64 and in oneDNN's
 * dims) and fills oh, ow. */
cg_nn_status cg_conv2d_desc_init(cg_conv2d_desc *d, char *msg, size_t msg_size);

/* Work of one pass in floating-point operations (2 per multiply-add); the
 * forward, the data backward and the weight backward each do this much. */
double cg_conv2d_flops(const cg_conv2d_desc *d);

/* Reference kernels.  Forward: y = conv(x, w) + bias.  Backward data:
 * dx (N,C,H,W) = the adjoint of the forward applied to dy (N,OC,OH,OW).
 * Backward weights: dw (OC,C/groups,KH,KW) = sum over n,i,j of dy * x taps,
 * and dbias (OC) = sum of dy over n,i,j when dbias is not NULL. */
void cg_conv2d_forward_ref(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                           float *y);
void cg_conv2d_backward_data_ref(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx);
void cg_conv2d_backward_weights_ref(const cg_conv2d_desc *d, const float *x, const float *dy, float *dw,
                                    float *dbias);

/* Fast kernels (cpu_conv_dnnl.c), same inputs and outputs as the reference
 * ones.  What backward needs saved: the data backward needs w (not x); the
 * weight backward needs x (not w); neither needs y.  Which kernel runs a
 * (shape, pass) is a fixed rule, cg_conv2d_kernel_for (measured once and
 * written down in cpu_conv_dnnl.c and docs/DESIGN.md), never a timing made
 * at run time, so a program gives the same bits in every process; the
 * primitives are built on a shape's first call and reused.  Errors:
 * CG_NN_ENOMEM, CG_NN_EBACKEND, with msg. */
typedef enum cg_conv2d_pass { CG_CONV2D_FWD, CG_CONV2D_BWD_DATA, CG_CONV2D_BWD_WEIGHTS, CG_CONV2D_PASSES } cg_conv2d_pass;
typedef enum cg_conv2d_kernel {
    CG_CONV2D_AUTO = -1,    /* the rule (cg_conv2d_kernel_for) */
    CG_CONV2D_DNNL_PLAIN,   /* oneDNN on cgrad's NCHW buffers as they are */
    CG_CONV2D_DNNL_BLOCKED, /* oneDNN's own layout (format_tag_any: nChw16c on AVX-512), reorders in and out */
    CG_CONV2D_DNNL_NHWC,    /* oneDNN channels-last, reorders in and out */
    CG_CONV2D_GEMM,         /* the batch SGEMM below */
    CG_CONV2D_DIRECT,       /* cgrad's direct kernels for thin layers below (forward, weight backward) */
    CG_CONV2D_DNNL_WINOGRAD, /* the blocked layout with oneDNN's winograd algorithm (3x3, stride 1, AVX-512) */
    CG_CONV2D_WINOGRAD,      /* cgrad's F(4x4,3x3) winograd kernel below (3x3 s1 p1, AVX2, every pass) */
    CG_CONV2D_KERNELS
} cg_conv2d_kernel;
/* The rule's columns: oneDNN's kernels rank differently on AVX-512 and on
 * AVX2 (measured on each, cpu_conv_dnnl.c).  CG_CONV2D_ISA_AVX2 is also
 * the column of a CPU without AVX2. */
typedef enum cg_conv2d_isa { CG_CONV2D_ISA_AVX2, CG_CONV2D_ISA_AVX512, CG_CONV2D_ISAS } cg_conv2d_isa;
/* This CPU's column: AVX512 when oneDNN's effective ISA (dnnl_get_effective_cpu_isa,
 * which ONEDNN_MAX_CPU_ISA can lower) includes avx512_core, else AVX2. */
cg_conv2d_isa cg_conv2d_isa_active(void);
/* "avx2", "avx512" */
const char *cg_conv2d_isa_name(cg_conv2d_isa isa);
/* The kernel the rule picks for d and pass in the column of `isa` (any
 * column on any machine, for tests); cg_conv2d_kernel_for: in this CPU's. */
cg_conv2d_kernel cg_conv2d_kernel_for_isa(const cg_conv2d_desc *d, cg_conv2d_pass pass, cg_conv2d_isa isa);
cg_conv2d_kernel cg_conv2d_kernel_for(const cg_conv2d_desc *d, cg_conv2d_pass pass);
/* "dnnl-plain", "dnnl-blocked", "dnnl-nhwc", "gemm", "direct", "dnnl-winograd", "winograd" ("auto" for CG_CONV2D_AUTO). */
const char *cg_conv2d_kernel_name(cg_conv2d_kernel k);
/* For benchmarks and tests: every later call runs kernel k (CG_CONV2D_AUTO:
 * the rule again).  Process-wide; not for use while conv calls run. */
void cg_conv2d_force_kernel(cg_conv2d_kernel k);
/* The blocked layouts pass `pass` of d (with x_block = y_block = 0) runs
 * its x side and y side in natively (*x_block, *y_block: 8, 16, or 0 for
 * plain or a layout the ops floor does not keep): handing it buffers in
 * those layouts (and asking for its output in it) skips the reorders.
 * Found once per (shape, pass) from the kernel the rule picks and the
 * primitive oneDNN builds for it; 0 and 0 when layouts are not kept
 * (cg_conv2d_keep_layouts) or the kernel is cgrad's own. */
cg_nn_status cg_conv2d_native_blocks(const cg_conv2d_desc *d, cg_conv2d_pass pass, int64_t *x_block,
                                     int64_t *y_block, char *msg, size_t msg_size);
/* Whether conv2d and batch_norm keep oneDNN's blocked layout between
 * layers (default on; off: every output is plain NCHW, as before, for
 * tests and benchmarks that compare the two).  Process-wide. */
void cg_conv2d_keep_layouts(bool on);
bool cg_conv2d_keeps_layouts(void);
/* The channel block oneDNN's blocked kernels use on this CPU (16 on
 * AVX-512, 8 on AVX2), 0 when layouts are not kept: batch_norm normalises
 * a plain (N,C,H,W) input in it (the conv after it then reads it as it is). */
int64_t cg_conv2d_preferred_block(void);
cg_nn_status cg_conv2d_forward(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                               float *y, char *msg, size_t msg_size);
cg_nn_status cg_conv2d_backward_data(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx,
                                     char *msg, size_t msg_size);
cg_nn_status cg_conv2d_backward_weights(const cg_conv2d_desc *d, const float *x, const float *dy,
                                        float *dw, float *dbias, char *msg, size_t msg_size);

/* The second fast path: the whole batch as one SGEMM per group, with the
 * taps that read only padding dropped (cpu_conv_gemm.c; it wins on small
 * feature maps, where the rule picks it).  These entry points let tests
 * hold it to the reference.  work holds cg_conv2d_gemm_workspace(d) floats.
 * Each SGEMM is cut into `blocks` fixed pieces (one-thread dnnl_sgemm calls)
 * run on `threads` OpenMP threads: the result's bits depend on blocks, not
 * on threads.
 * CG_NN_EINVAL for kernels of more than CG_CONV2D_GEMM_MAX_TAPS taps. */
#define CG_CONV2D_GEMM_MAX_TAPS 256
int64_t cg_conv2d_gemm_workspace(const cg_conv2d_desc *d);
cg_nn_status cg_conv2d_forward_gemm(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                    float *y, float *work, int blocks, int threads);
cg_nn_status cg_conv2d_backward_data_gemm(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx,
                                          float *work, int blocks, int threads);
cg_nn_status cg_conv2d_backward_weights_gemm(const cg_conv2d_desc *d, const float *x, const float *dy,
                                             float *dw, float *dbias, float *work, int blocks, int threads);

/* The third: direct kernels for thin layers (cpu_conv_direct.c), where one
 * output reads at most CG_CONV2D_DIRECT_MAX_TAPS values (C*KH*KW, groups
 * 1: the cnn's 1->32 3x3 first layer has 9), vectorised at the CPU's level
 * (cpu_dispatch.h), on cgrad's NCHW x as it is, and y (dy) in NCHW or in
 * d->y_block (8 or 16, a multiple of the level's vector, OC a multiple of it).  work holds
 * cg_conv2d_direct_workspace(d, threads) floats (aligned to 8 bytes); the
 * bits do not depend on threads.  CG_NN_EINVAL where
 * cg_conv2d_direct_supports(d) is 0.  (The data backward of these layers
 * stays with oneDNN's plain kernel.) */
#define CG_CONV2D_DIRECT_MAX_TAPS 16
int cg_conv2d_direct_supports(const cg_conv2d_desc *d);
int64_t cg_conv2d_direct_workspace(const cg_conv2d_desc *d, int threads);
cg_nn_status cg_conv2d_forward_direct(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                      float *y, float *work, int threads);
cg_nn_status cg_conv2d_backward_weights_direct(const cg_conv2d_desc *d, const float *x, const float *dy,
                                               float *dw, float *dbias, float *work, int threads);

/* The fourth: Winograd F(4x4, 3x3) for 3x3, stride 1, pad 1, dilation 1,
 * groups 1, C and OC multiples of 8 (cpu_conv_winograd.c), every pass,
 * on AVX2+FMA (cg_conv2d_winograd_supports is 0 on a CPU
 * without AVX2); stride 2 both ways too, forward and data backward only
 * (cpu_conv_winograd_s2.c; the weight backward there says CG_NN_EINVAL).
 * x_block / y_block 0, 8 or 16 are read and written as they are.  work
 * holds cg_conv2d_winograd_workspace(d, threads) floats;
 * the bits do not depend on threads.  CG_NN_EINVAL where unsupported. */
int cg_conv2d_winograd_supports(const cg_conv2d_desc *d);
int64_t cg_conv2d_winograd_workspace(const cg_conv2d_desc *d, int threads);
cg_nn_status cg_conv2d_forward_winograd(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                        float *y, float *work, int threads);
cg_nn_status cg_conv2d_backward_data_winograd(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx,
                                              float *work, int threads);
/* dw (OC, C, 3, 3) and dbias (OC, when not NULL) from x and dy; summed over
 * the batch's tiles in a fixed order (dbias in double, as the reference). */
cg_nn_status cg_conv2d_backward_weights_winograd(const cg_conv2d_desc *d, const float *x, const float *dy,
                                                 float *dw, float *dbias, float *work, int threads);

/* Frees every cached primitive and buffer (call at shutdown, or to bound
 * memory after many shapes); safe while no conv call is running. */
void cg_conv2d_cache_clear(void);
/* Number of cached (shape, pass, bias, kernel) entries: for tests. */
int cg_conv2d_cache_size(void);

/* ---- batch_norm -------------------------------------------------------------
 * x is (N,C,HW): BatchNorm2d's (N,C,H,W) with HW = H*W, BatchNorm1d's (N,C)
 * with HW = 1.  Statistics are per channel over the N*HW values.
 * Training:  mean_c = mean(x_c), var_c = mean((x_c - mean_c)^2) (biased),
 *            invstd_c = 1/sqrt(var_c + eps),
 *            y = (x - mean_c) * invstd_c * gamma_c + beta_c,
 *            running_mean = (1-momentum)*running_mean + momentum*mean_c,
 *            running_var  = (1-momentum)*running_var + momentum*var_c*M/(M-1),
 *            M = N*HW (the unbiased variance, as PyTorch).
 * Eval:      the same y with running_mean and 1/sqrt(running_var + eps).
 * relu:      y = relu(that y) (BatchNorm then ReLU in one pass over y), and
 *            the backward takes the gradient of that y: dy*(y > 0) first. */
typedef struct cg_batchnorm_desc {
    int64_t n, c, hw;
    double eps;      /* PyTorch: 1e-5 */
    double momentum; /* PyTorch: 0.1 */
    bool relu;       /* a ReLU fused after the BatchNorm */
    /* x, y, dy, dx's layout: 0 = plain (N,C,HW); 8 or 16 = oneDNN's blocked
     * nChw8c / nChw16c, value (n, c, s) at ((n*(C/block) + c/block)*HW + s)*block
     * + c%block (C % block == 0).  gamma, beta, the saved and running
     * statistics are plain [C] either way.  Zero (the designated
     * initialisers' default) is plain. */
    int64_t block;
} cg_batchnorm_desc;

/* Checks sizes (n*c*hw fits, c >= 1), eps > 0, momentum in [0,1], block
 * in {0, 8, 16} with c % block == 0.
 * `training` also requires N*HW > 1, as PyTorch ("Expected more than 1
 * value per channel when training"). */
cg_nn_status cg_batchnorm_desc_init(const cg_batchnorm_desc *d, bool training, char *msg, size_t msg_size);

/* Training forward.  gamma/beta (C) may be NULL (1 and 0: affine=False).
 * Writes y (N,C,HW), save_mean (C) and save_invstd (C), which backward
 * needs (with x and gamma), and updates running_mean/running_var (C) in
 * place when they are not NULL (track_running_stats=False passes NULL). */
void cg_batchnorm_forward_train(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                const float *beta, float *y, float *save_mean, float *save_invstd,
                                float *running_mean, float *running_var);
void cg_batchnorm_forward_train_ref(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                    const float *beta, float *y, float *save_mean, float *save_invstd,
                                    float *running_mean, float *running_var);

/* Eval forward from the running statistics.  Also writes save_mean =
 * running_mean and save_invstd = 1/sqrt(running_var+eps) when those are not
 * NULL, so the same backward (with training=false) can run in eval mode. */
void cg_batchnorm_forward_eval(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                               const float *beta, const float *running_mean, const float *running_var,
                               float *y, float *save_mean, float *save_invstd);

/* Backward.  Inputs: dy and x (N,C,HW), y (the forward's output, read only
 * for the ReLU's mask when d->relu, else may be NULL), gamma (C, NULL = 1),
 * the saved mean and invstd (C).  With d->relu, dy below is dy*(y > 0).
 * Outputs (each may be NULL when not needed):
 *   dbeta_c  = sum dy,  dgamma_c = sum dy * xhat,  xhat = (x-mean)*invstd,
 *   dx = gamma*invstd * (dy - dbeta_c/M - xhat*dgamma_c/M)   (training)
 *   dx = gamma*invstd * dy                                   (eval: the
 *        statistics are constants there). */
void cg_batchnorm_backward(const cg_batchnorm_desc *d, bool training, const float *dy, const float *x,
                           const float *y, const float *gamma, const float *save_mean, const float *save_invstd,
                           float *dx, float *dgamma, float *dbeta);
void cg_batchnorm_backward_ref(const cg_batchnorm_desc *d, bool training, const float *dy, const float *x,
                               const float *y, const float *gamma, const float *save_mean,
                               const float *save_invstd, float *dx, float *dgamma, float *dbeta);

/* The blocked layout's fast kernels (cpu_batchnorm_blocked.c), same
 * contracts as above; the entry points above call them when d->block != 0.
 * Each channel block's sums are done by one thread in a fixed order, so
 * they give the same bits on any thread count and at every CPU level. */
void cg_batchnorm_forward_train_blocked(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                        const float *beta, float *y, float *save_mean, float *save_invstd,
                                        float *running_mean, float *running_var);
void cg_batchnorm_forward_eval_blocked(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                       const float *beta, const float *running_mean, const float *running_var,
                                       float *y, float *save_mean, float *save_invstd);
void cg_batchnorm_backward_blocked(const cg_batchnorm_desc *d, bool training, const float *dy, const float *x,
                                   const float *y, const float *gamma, const float *save_mean,
                                   const float *save_invstd, float *dx, float *dgamma, float *dbeta);

/* ---- pooling ------------------------------------------------------------------
 * x is (N,C,H,W), y is (N,C,OH,OW); every (n,c) plane is pooled alone.
 * Fixed windows (max_pool2d, avg_pool2d, ceil_mode=False, dilation 1):
 *   OH = (H + 2*pad_h - KH) / stride_h + 1, window i covers input rows
 *   i*stride_h - pad_h .. + KH-1 (clipped to the input for max).
 * Adaptive windows (adaptive_*_pool2d): kh..pad_w unused, oh/ow given,
 *   window i covers rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1. */
typedef struct cg_pool2d_desc {
    int64_t n, c, h, w;
    int64_t kh, kw, stride_h, stride_w, pad_h, pad_w; /* fixed windows only */
    int64_t oh, ow; /* filled by cg_pool2d_desc_init; given for adaptive */
    /* 0: x, y (dx, dy) plain NCHW; 8 or 16: in that channel block
     * (cg_layout_blocked_index; C a multiple of it, H*W < 2^31),
     * max_pool2d's fixed windows only.  idx is plain (N,C,OH,OW) either way. */
    int64_t block;
} cg_pool2d_desc;

/* Fixed windows: kernel >= 1, stride >= 1, 0 <= pad <= kernel/2 (PyTorch's
 * rule), output >= 1; fills oh, ow. */
cg_nn_status cg_pool2d_desc_init(cg_pool2d_desc *d, char *msg, size_t msg_size);
/* Adaptive: oh, ow >= 1 set by the caller (H, W >= 1). */
cg_nn_status cg_adaptive_pool2d_desc_init(const cg_pool2d_desc *d, char *msg, size_t msg_size);

/* Max: y and idx (N,C,OH,OW); idx is PyTorch's flat index h*W + w of the
 * maximum inside its plane (the first maximum in row-major window order;
 * a NaN wins, the last of several NaNs, as in PyTorch's CPU kernel).  Backward needs only idx (and the shapes). */
void cg_max_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx);
void cg_max_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx);
void cg_adaptive_max_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx);
void cg_adaptive_max_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx);
/* Backward of both max pools: dx (N,C,H,W) = 0, then dx[plane][idx] += dy
 * (overlapping windows add up). */
void cg_max_pool2d_backward(const cg_pool2d_desc *d, const float *dy, const int64_t *idx, float *dx);
/* The two on a channel block (cpu_pool_blocked.c; the entry points above
 * call them when d->block != 0): the same y, idx and dx bits as on the
 * same values in NCHW. */
void cg_max_pool2d_forward_blocked(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx);
void cg_max_pool2d_backward_blocked(const cg_pool2d_desc *d, const float *dy, const int64_t *idx, float *dx);

/* Average over the window with count_include_pad=True (PyTorch's default):
 * the divisor is always KH*KW.  Backward needs nothing saved. */
void cg_avg_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y);
void cg_avg_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y);
void cg_avg_pool2d_backward(const cg_pool2d_desc *d, const float *dy, float *dx);
void cg_avg_pool2d_backward_ref(const cg_pool2d_desc *d, const float *dy, float *dx);
/* Adaptive average: divisor is the window's own size. */
void cg_adaptive_avg_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y);
void cg_adaptive_avg_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y);
void cg_adaptive_avg_pool2d_backward(const cg_pool2d_desc *d, const float *dy, float *dx);
void cg_adaptive_avg_pool2d_backward_ref(const cg_pool2d_desc *d, const float *dy, float *dx);

/* ---- dropout --------------------------------------------------------------------
 * The ops floor draws mask (n values, 1 = keep, 0 = drop) from cgrad's RNG;
 * the kernel computes y = x * mask * scale with scale = 1/(1-p).  The
 * backward is the same call on dy (dx = dy * mask * scale), so only the mask
 * is saved.  x and y may be the same buffer. */
void cg_dropout_apply(int64_t n, const float *x, const uint8_t *mask, float scale, float *y);

#endif
