/* batch_norm on oneDNN's blocked activation layout (nChw8c, nChw16c), so
 * that conv -> BatchNorm(+ReLU) -> conv needs no reorder between the layers.
 *
 * x, y, dy, dx are (N, C/B, HW, B) with B = d->block (8 or 16): value
 * (n, c, s) at ((n*(C/B) + c/B)*HW + s)*B + c%B (nn_kernels.h).  A channel
 * block (B channels side by side) is the unit: its B channels are the lanes
 * of one vector, each image's run of the block is HW contiguous vectors, so
 * every pass is a contiguous vector loop at any HW (the plain kernels need
 * three code paths for long, short and 1-value runs).  The sums are the
 * plain kernels' in kind: per channel, each image's run summed in float
 * (cpu_batchnorm_blocked_impl.h gives the order), the runs added into a
 * double total in image order, two passes (mean, then squared deviations);
 * the results agree with the plain kernels on the same values to ~1e-6
 * relative, not bit for bit (their float runs are summed in another order).
 *
 * Threads: each OpenMP thread takes whole channel blocks (schedule static),
 * and a block's sums depend on nothing but the shape, so the bits are the
 * same on any thread count; and, as the lanes never mix and nothing is
 * fused, the same at every CPU level (SSE2, AVX2, AVX-512, picked at run
 * time, cpu_dispatch.h). */
#include <math.h>
#include <stdint.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

#ifdef __clang__
/* clang fuses a*b+c within an expression by default (-ffp-contract=on), at
 * the levels that have FMA; gcc's -std=c11 does not.  Off: the same bits
 * at every level and with either compiler. */
#pragma STDC FP_CONTRACT OFF
#endif

/* running = (1-m)*running + m*value, PyTorch's update (as cpu_batchnorm.c's
 * update_running: the unbiased variance, M/(M-1)). */
static void bnb_update_running(const cg_batchnorm_desc *d, int64_t c, double mean, double var, float *running_mean,
                               float *running_var) {
    int64_t m = d->n * d->hw;
    if (running_mean) running_mean[c] = (float)((1 - d->momentum) * running_mean[c] + d->momentum * mean);
    if (running_var)
        running_var[c] = (float)((1 - d->momentum) * running_var[c] + d->momentum * var * (double)m / (double)(m - 1));
}

#define SUF base
#define TGT
#define LEVEL_W 4
#define BLK 8
#include "kernels/cpu_batchnorm_blocked_impl.h"
#undef BLK
#define BLK 16
#include "kernels/cpu_batchnorm_blocked_impl.h"
#undef BLK
#undef LEVEL_W
#undef TGT
#undef SUF

#define SUF avx2
#define TGT __attribute__((target("avx2")))
#define LEVEL_W 8
#define BLK 8
#include "kernels/cpu_batchnorm_blocked_impl.h"
#undef BLK
#define BLK 16
#include "kernels/cpu_batchnorm_blocked_impl.h"
#undef BLK
#undef LEVEL_W
#undef TGT
#undef SUF

#define SUF avx512
#define TGT __attribute__((target("avx512f,avx2")))
#define LEVEL_W 16
#define BLK 8
#include "kernels/cpu_batchnorm_blocked_impl.h"
#undef BLK
#define BLK 16
#include "kernels/cpu_batchnorm_blocked_impl.h"
#undef BLK
#undef LEVEL_W
#undef TGT
#undef SUF

typedef void (*train_fn)(const cg_batchnorm_desc *, int64_t, const float *, const float *, const float *, float *,
                         float *, float *, float *, float *);
typedef void (*eval_fn)(const cg_batchnorm_desc *, int64_t, const float *, const float *, const float *,
                        const float *, const float *, float *, float *, float *);
typedef void (*bwd_fn)(const cg_batchnorm_desc *, int64_t, bool, const float *, const float *, const float *,
                       const float *, const float *, const float *, float *, float *, float *);

/* [level][block 8, 16] */
static const train_fn TRAIN[CG_CPU_LEVELS][2] = {
    {train_base_8, train_base_16}, {train_avx2_8, train_avx2_16}, {train_avx512_8, train_avx512_16}};
static const eval_fn EVAL[CG_CPU_LEVELS][2] = {
    {eval_base_8, eval_base_16}, {eval_avx2_8, eval_avx2_16}, {eval_avx512_8, eval_avx512_16}};
static const bwd_fn BWD[CG_CPU_LEVELS][2] = {
    {bwd_base_8, bwd_base_16}, {bwd_avx2_8, bwd_avx2_16}, {bwd_avx512_8, bwd_avx512_16}};

static int width_index(const cg_batchnorm_desc *d) { return d->block == 16; }

void cg_batchnorm_forward_train_blocked(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                        const float *beta, float *y, float *save_mean, float *save_invstd,
                                        float *running_mean, float *running_var) {
    const train_fn f = TRAIN[cg_cpu_level_active()][width_index(d)];
    const int64_t blocks = d->c / d->block;
    CG_NN_TUNED_FOR(CG_NN_TUNE_BN_FWD, d->n * d->c * d->hw,
                    for (int64_t cb = 0; cb < blocks; cb++)
                        f(d, cb, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var););
}

void cg_batchnorm_forward_eval_blocked(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                       const float *beta, const float *running_mean, const float *running_var,
                                       float *y, float *save_mean, float *save_invstd) {
    const eval_fn f = EVAL[cg_cpu_level_active()][width_index(d)];
    const int64_t blocks = d->c / d->block;
    CG_NN_TUNED_FOR(CG_NN_TUNE_BN_FWD, d->n * d->c * d->hw,
                    for (int64_t cb = 0; cb < blocks; cb++)
                        f(d, cb, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd););
}

void cg_batchnorm_backward_blocked(const cg_batchnorm_desc *d, bool training, const float *dy, const float *x,
                                   const float *y_in, const float *gamma, const float *save_mean,
                                   const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
    const bwd_fn f = BWD[cg_cpu_level_active()][width_index(d)];
    const float *y = d->relu ? y_in : NULL; /* the mask's source, when the ReLU is fused */
    const int64_t blocks = d->c / d->block;
    CG_NN_TUNED_FOR(CG_NN_TUNE_BN_BWD, d->n * d->c * d->hw,
                    for (int64_t cb = 0; cb < blocks; cb++)
                        f(d, cb, training, dy, x, y, gamma, save_mean, save_invstd, dx, dgamma, dbeta););
}
