/* dropout's kernel: y = x * mask * scale (nn_kernels.h).
 *
 * The mask comes from the ops floor (cgrad's RNG, so a seed reproduces it);
 * the same multiply is the backward, on dy.  One streaming pass: memory
 * bound, so more than one thread pays only on large tensors, and the tuner
 * decides that as for the other vision kernels. */
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

static void apply_block(int64_t begin, int64_t end, const float *x, const uint8_t *mask, float scale, float *y) {
#pragma omp simd
    for (int64_t i = begin; i < end; i++) y[i] = mask[i] ? x[i] * scale : 0.0f;
}

void cg_dropout_apply(int64_t n, const float *x, const uint8_t *mask, float scale, float *y) {
    /* Blocks of 16384 so each thread gets long runs the compiler vectorises. */
    const int64_t block = 16384, blocks = (n + block - 1) / block;
    CG_NN_TUNED_FOR(CG_NN_TUNE_DROPOUT, n,
                    for (int64_t b = 0; b < blocks; b++)
                        apply_block(b * block, (b + 1) * block < n ? (b + 1) * block : n, x, mask, scale, y););
}
