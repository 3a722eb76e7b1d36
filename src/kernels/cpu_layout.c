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
#include "kernels/cpu_kernels.h"
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

/* One (n, channel block) is a transpose between s rows of `block` lanes
 * (blocked[i][l]) and `block` planes of s (plain[l][i]): cg_cpu_copy's
 * tiled SSE transpose (a scalar loop, 8 interleaved streams gcc did not
 * vectorise, took 4 ms a step of the cnn on one thread). */
static void unblock_one(int64_t block, int64_t s, const float *src, float *dst) {
    cg_cpu_copy_transposed(dst, s, src, block, block, s); /* dst[l*s + i] = src[l + i*block] */
}

static void block_one(int64_t block, int64_t s, const float *src, float *dst) {
    cg_cpu_copy_transposed(dst, block, src, s, s, block); /* dst[i*block + l] = src[i + l*s] */
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

/* One run in place: the s x block matrix (row i: position i's lanes) becomes
 * its block x s transpose (row l: lane l's plane).  The element at k = i*block
 * + l goes to l*s + i, which is k*s mod (m-1) for k < m-1 (m = s*block; the
 * first and last elements stay).  Each cycle of that permutation is moved
 * once, from its smallest index (its leader, found by walking the cycle from
 * each start until it returns or falls below it). */
static void unblock_one_in_place(int64_t block, int64_t s, float *run) {
    int64_t m = s * block;
    if (m < 3) return;
    for (int64_t start = 1; start < m - 1; start++) {
        int64_t j = start;
        do j = (int64_t)((__int128)j * s % (m - 1)); /* the index start's element goes to, then on */
        while (j > start);
        if (j != start) continue; /* the cycle has a smaller index: moved from there */
        float carried = run[start];
        j = (int64_t)((__int128)start * s % (m - 1));
        while (j != start) {
            float here = run[j];
            run[j] = carried;
            carried = here;
            j = (int64_t)((__int128)j * s % (m - 1));
        }
        run[start] = carried;
    }
}

void cg_layout_blocked_to_plain_in_place(int64_t block, int64_t n, int64_t c, int64_t s, float *buf) {
    int64_t pairs = n * (c / block), run = block * s;
    for (int64_t p = 0; p < pairs; p++) unblock_one_in_place(block, s, buf + p * run);
}
