/* cpu_winograd_impl.h: the pieces cgrad's two Winograd kernels share
 * (cpu_conv_winograd.c, stride 1; cpu_conv_winograd_s2.c, stride 2): the
 * AVX2+FMA micro-kernels of their per-alpha products
 * M (rows x K) = V (rows x C) U (C x K), summed over c in order, one fused
 * multiply-add a term, so a value's bits do not depend on which micro-kernel
 * or thread computed it.  Include once per kernel file, after immintrin.h. */
#ifndef CG_CPU_WINOGRAD_IMPL_H
#define CG_CPU_WINOGRAD_IMPL_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels/cpu_nn_threads.h"

#define TGT __attribute__((target("avx2,fma")))

/* 6 rows x 16 columns of M, summed over c = 0..C-1 in order: 12
 * accumulators named one by one (an array of them was kept on the stack by
 * gcc, at a third of the speed) */
static TGT void micro6x16(int64_t C, const float *v, int64_t ldv, int64_t vs, const float *u, int64_t ldu,
                          float *m, int64_t ldm) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
    __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    const float *v1 = v + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv, *v4 = v3 + ldv, *v5 = v4 + ldv;
    for (int64_t c = 0; c < C; c++) {
        __m256 u0 = _mm256_loadu_ps(u + c * ldu), u1 = _mm256_loadu_ps(u + c * ldu + 8), b;
        b = _mm256_broadcast_ss(v + c * vs), a00 = _mm256_fmadd_ps(b, u0, a00), a01 = _mm256_fmadd_ps(b, u1, a01);
        b = _mm256_broadcast_ss(v1 + c * vs), a10 = _mm256_fmadd_ps(b, u0, a10), a11 = _mm256_fmadd_ps(b, u1, a11);
        b = _mm256_broadcast_ss(v2 + c * vs), a20 = _mm256_fmadd_ps(b, u0, a20), a21 = _mm256_fmadd_ps(b, u1, a21);
        b = _mm256_broadcast_ss(v3 + c * vs), a30 = _mm256_fmadd_ps(b, u0, a30), a31 = _mm256_fmadd_ps(b, u1, a31);
        b = _mm256_broadcast_ss(v4 + c * vs), a40 = _mm256_fmadd_ps(b, u0, a40), a41 = _mm256_fmadd_ps(b, u1, a41);
        b = _mm256_broadcast_ss(v5 + c * vs), a50 = _mm256_fmadd_ps(b, u0, a50), a51 = _mm256_fmadd_ps(b, u1, a51);
    }
    _mm256_storeu_ps(m, a00), _mm256_storeu_ps(m + 8, a01), m += ldm;
    _mm256_storeu_ps(m, a10), _mm256_storeu_ps(m + 8, a11), m += ldm;
    _mm256_storeu_ps(m, a20), _mm256_storeu_ps(m + 8, a21), m += ldm;
    _mm256_storeu_ps(m, a30), _mm256_storeu_ps(m + 8, a31), m += ldm;
    _mm256_storeu_ps(m, a40), _mm256_storeu_ps(m + 8, a41), m += ldm;
    _mm256_storeu_ps(m, a50), _mm256_storeu_ps(m + 8, a51);
}

/* the edges: one row x 8 columns at a time, the same sum in the same order
 * (c ascending, one fused multiply-add each), so the bits do not depend on
 * which kernel computed a value */
static TGT void micro1x8(int64_t C, const float *v, int64_t vs, const float *u, int64_t ldu, float *m) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t c = 0; c < C; c++)
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(v + c * vs), _mm256_loadu_ps(u + c * ldu), acc);
    _mm256_storeu_ps(m, acc);
}

/* rows x nv*8 of m = v (rows x C: (r, c) at v + r*ldv + c*vs) times u (C x nv*8) */
static TGT void micro_any(int rows, int nv, int64_t C, const float *v, int64_t ldv, int64_t vs, const float *u,
                          int64_t ldu, float *m, int64_t ldm) {
    if (rows == 6 && nv == 2) {
        micro6x16(C, v, ldv, vs, u, ldu, m, ldm);
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < nv; j++) micro1x8(C, v + r * ldv, vs, u + j * 8, ldu, m + r * ldm + j * 8);
}

/* The per-alpha products of both kernels: for each alpha a < alphas,
 * M[a] (T x K) = V[a] (T x C) U[a] (C x K), one task per (a, chunk of
 * `chunk` tiles, a multiple of 6), each value summed by one task in
 * c order: the same bits on any thread count. */
static void wg_batched_products(int64_t alphas, int64_t T, int64_t C, int64_t K, int64_t chunk, const float *V,
                                const float *U, float *M, int threads) {
    int64_t chunks = (T + chunk - 1) / chunk;
    CG_NN_PARALLEL_FOR(threads, for (int64_t task = 0; task < alphas * chunks; task++) {
        int64_t a = task / chunks, t0 = (task % chunks) * chunk, t1 = t0 + chunk < T ? t0 + chunk : T;
        const float *va = V + a * T * C, *ua = U + a * C * K;
        float *ma = M + a * T * K;
        for (int64_t k = 0; k < K; k += 16) {
            int nv = K - k >= 16 ? 2 : 1;
            for (int64_t t = t0; t < t1; t += 6) {
                int rows = t1 - t >= 6 ? 6 : (int)(t1 - t);
                micro_any(rows, nv, C, va + t * C, C, 1, ua + k, K, ma + t * K + k, K);
            }
        }
    });
}

/* The stride-2 kernel (cpu_conv_winograd_s2.c) behind cpu_conv_winograd.c's
 * entry points, which check the descriptor first. */
struct cg_conv2d_desc;
int64_t cg_wg_s2_workspace(const struct cg_conv2d_desc *d);
void cg_wg_s2_forward(const struct cg_conv2d_desc *d, const float *x, const float *w, const float *bias, float *y,
                      float *work, int threads);
void cg_wg_s2_backward_data(const struct cg_conv2d_desc *d, const float *dy, const float *w, float *dx, float *work,
                            int threads);

#endif
