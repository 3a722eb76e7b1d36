/* max_pool2d on oneDNN's blocked activation layout (nChw8c, nChw16c), so
 * that resnet's stem (conv -> BatchNorm+ReLU -> max-pool -> layer1's convs)
 * runs without a reorder: x (N, C/B, H*W, B) -> y (N, C/B, OH*OW, B), B =
 * d->block; idx plain (N, C, OH, OW), PyTorch's flat index in the plane.
 *
 * Before, the pool settled the BatchNorm's blocked output into NCHW for the
 * plain kernel (cpu_pool.c), a 3.2 MB transpose a step at batch 64, kept
 * both copies for the BatchNorm's backward, and layer1's first conv copied
 * the pool's plain output back into the block.
 *
 * The forward is max_scan's rule (cpu_pool.c) with the block's B channels
 * in the vector lanes: per window, every tap in row-major order, a lane
 * taking the value when it is larger or NaN.  So each channel gets the
 * scan's answer, which the plain kernel's fast paths give too: the same y
 * and idx bits.  y is the taken value, x at idx bit for bit (a window of
 * -inf keeps its first position, whose value is -inf).  The backward adds
 * dy into dx at idx lane by lane, each lane's outputs in order: the plain
 * backward's sums in its order.  Each (image, channel block) is one
 * thread's, so the bits do not depend on the thread count either.
 *
 * Per CPU level (cpu_dispatch.h's cg_cpu_level_active), from
 * cpu_pool_blocked_impl.h; the loops only compare and select, so the level
 * cannot change a bit. */
#include <math.h>
#include <string.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

#define SUF base
#define TGT
#define LEVEL_W 4
#define BLK 8
#include "kernels/cpu_pool_blocked_impl.h"
#undef BLK
#define BLK 16
#include "kernels/cpu_pool_blocked_impl.h"
#undef BLK
#undef LEVEL_W
#undef TGT
#undef SUF

#define SUF avx2
#define TGT __attribute__((target("avx2")))
#define LEVEL_W 8
#define BLK 8
#include "kernels/cpu_pool_blocked_impl.h"
#undef BLK
#define BLK 16
#include "kernels/cpu_pool_blocked_impl.h"
#undef BLK
#undef LEVEL_W
#undef TGT
#undef SUF

#define SUF avx512
#define TGT __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2")))
#define LEVEL_W 16
#define BLK 8
#include "kernels/cpu_pool_blocked_impl.h"
#undef BLK
#define BLK 16
#include "kernels/cpu_pool_blocked_impl.h"
#undef BLK
#undef LEVEL_W
#undef TGT
#undef SUF

typedef void (*unit_fn)(const cg_pool2d_desc *, const float *, float *, int64_t *);
/* [level][block 8, 16] */
static const unit_fn UNIT[CG_CPU_LEVELS][2] = {{max_unit_base_8, max_unit_base_16},
                                               {max_unit_avx2_8, max_unit_avx2_16},
                                               {max_unit_avx512_8, max_unit_avx512_16}};

void cg_max_pool2d_forward_blocked(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx) {
    const unit_fn f = UNIT[cg_cpu_level_active()][d->block == 16];
    const int64_t B = d->block, CB = d->c / B, S = d->h * d->w, OS = d->oh * d->ow;
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_FWD, d->n * d->c * S, for (int64_t u = 0; u < d->n * CB; u++) {
        /* lane l's idx plane at ix + l*OS */
        f(d, x + u * S * B, y + u * OS * B, idx + ((u / CB) * d->c + (u % CB) * B) * OS);
    });
}

void cg_max_pool2d_backward_blocked(const cg_pool2d_desc *d, const float *dy, const int64_t *idx, float *dx) {
    const int64_t B = d->block, CB = d->c / B, S = d->h * d->w, OS = d->oh * d->ow;
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_BWD, d->n * d->c * S, for (int64_t u = 0; u < d->n * CB; u++) {
        float *g = dx + u * S * B;
        const float *gy = dy + u * OS * B;
        const int64_t *ix = idx + ((u / CB) * d->c + (u % CB) * B) * OS;
        memset(g, 0, (size_t)(S * B) * sizeof *g);
        for (int64_t o = 0; o < OS; o++)
            for (int64_t l = 0; l < B; l++) g[ix[l * OS + o] * B + l] += gy[o * B + l];
    });
}
