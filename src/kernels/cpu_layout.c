/* Between cgrad's plain NCHW and oneDNN's blocked nChw8c / nChw16c
 * (nn_kernels.h: cg_layout_blocked_index), for the storages that hold a
 * conv2d's or batch_norm's output in the blocked layout (core/storage.c
 * settles one into its plain buffer when anything else reads it).
 *
 * One (n, channel block) at a time: its `block` planes of S floats are
 * written from one run of S*block floats (read in order, each plane written
 * in order), so both sides stream; the work is split over (n, block) pairs,
 * each done by one thread (an exact copy either way: the bits never depend
 * on the thread count). */
#include <xmmintrin.h>

#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

/* One (n, channel block): blocked[i][l] (s rows of `block` lanes) ->
 * plain[l][i] (`block` planes of s), in 4x4 tiles (SSE, the baseline ISA:
 * four 16-byte loads, a transpose in registers, four 16-byte stores), the
 * last s % 4 positions one by one.  The scalar loop (8 interleaved streams
 * gcc does not vectorise) took 4 ms a step of the cnn on one thread. */
static void unblock_one(int64_t block, int64_t s, const float *src, float *dst) {
    int64_t s4 = s & ~(int64_t)3;
    for (int64_t l = 0; l < block; l += 4) {
        for (int64_t i = 0; i < s4; i += 4) {
            __m128 r0 = _mm_loadu_ps(src + (i + 0) * block + l), r1 = _mm_loadu_ps(src + (i + 1) * block + l);
            __m128 r2 = _mm_loadu_ps(src + (i + 2) * block + l), r3 = _mm_loadu_ps(src + (i + 3) * block + l);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(dst + (l + 0) * s + i, r0), _mm_storeu_ps(dst + (l + 1) * s + i, r1);
            _mm_storeu_ps(dst + (l + 2) * s + i, r2), _mm_storeu_ps(dst + (l + 3) * s + i, r3);
        }
        for (int64_t i = s4; i < s; i++)
            for (int64_t k = 0; k < 4; k++) dst[(l + k) * s + i] = src[i * block + l + k];
    }
}

/* The other way: plain[l][i] -> blocked[i][l]. */
static void block_one(int64_t block, int64_t s, const float *src, float *dst) {
    int64_t s4 = s & ~(int64_t)3;
    for (int64_t l = 0; l < block; l += 4) {
        for (int64_t i = 0; i < s4; i += 4) {
            __m128 r0 = _mm_loadu_ps(src + (l + 0) * s + i), r1 = _mm_loadu_ps(src + (l + 1) * s + i);
            __m128 r2 = _mm_loadu_ps(src + (l + 2) * s + i), r3 = _mm_loadu_ps(src + (l + 3) * s + i);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(dst + (i + 0) * block + l, r0), _mm_storeu_ps(dst + (i + 1) * block + l, r1);
            _mm_storeu_ps(dst + (i + 2) * block + l, r2), _mm_storeu_ps(dst + (i + 3) * block + l, r3);
        }
        for (int64_t i = s4; i < s; i++)
            for (int64_t k = 0; k < 4; k++) dst[i * block + l + k] = src[(l + k) * s + i];
    }
}

void cg_layout_blocked_to_plain(int64_t block, int64_t n, int64_t c, int64_t s, const float *src, float *dst) {
    int64_t pairs = n * (c / block), run = block * s;
    CG_NN_TUNED_FOR(CG_NN_TUNE_LAYOUT, n * c * s,
                    for (int64_t p = 0; p < pairs; p++) unblock_one(block, s, src + p * run, dst + p * run););
}

void cg_layout_plain_to_blocked(int64_t block, int64_t n, int64_t c, int64_t s, const float *src, float *dst) {
    int64_t pairs = n * (c / block), run = block * s;
    CG_NN_TUNED_FOR(CG_NN_TUNE_LAYOUT, n * c * s,
                    for (int64_t p = 0; p < pairs; p++) block_one(block, s, src + p * run, dst + p * run););
}
