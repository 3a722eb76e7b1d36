/* conv2d by Winograd's minimal filtering at stride 2: cgrad's own kernel
 * for 3x3, stride 2, pad 1, dilation 1, groups 1, C and OC multiples of 8,
 * on AVX2+FMA: the stride-2 half of the "winograd" kernel
 * (cpu_conv_winograd.c's entry points branch here on stride 2).
 *
 * Why: these are the layers (the cnn's 32->64 at 28x28, 64->128 at 14x14,
 * 128->256 at 7x7; resnet18's downsampling 3x3s) where cgrad ran the same
 * oneDNN AVX2 blocked direct kernel as PyTorch, near the FMA peak: only
 * fewer multiplies get below it.
 *
 * How (polyphase decomposition): along one dimension, with the input's
 * even phase E[i] = x[2i] and odd phase O[i] = x[2i+1] (O[-1] = 0, the pad),
 *   y[o] = w0 x[2o-1] + w1 x[2o] + w2 x[2o+1] = w1 E[o] + (w0 O[o-1] + w2 O[o]):
 * a 1-tap conv on E plus a 2-tap stride-1 conv on O.  For a tile of 4
 * outputs o0..o0+3 the 9 inputs d[j] = x[2 o0 - 1 + j], j = 0..8, give 9
 * "alpha" values: 4 of E (d[1], d[3], d[5], d[7], times w1) and 5 of
 * Winograd's F(4, 2) on O (B5^T (d[0], d[2], .., d[8]), times G5 (w0, w2));
 * the tile is the E values plus A5^T of the O ones.  F(4, 2) at the points
 * 0, 1, -1, 2 and infinity (Toom-Cook, checked in exact arithmetic):
 *   B5^T = [2 -1 -2 1 0; 0 2 1 -1 0; 0 -2 3 -1 0; 0 -1 0 1 0; 0 2 -1 -2 1]
 *   G5   = [1/2 0; 1/2 1/2; 1/6 -1/6; 1/6 1/3; 0 1]
 *   A5^T = [1 1 1 1 0; 0 1 -1 2 0; 0 1 1 4 0; 0 1 -1 8 1]
 * In 2D the tensor product of this 9-point algorithm: a 4x4 output tile
 * takes 9x9 = 81 products per (input, output) channel pair (the four
 * phase terms EE, EO, OE, OO: 16 + 20 + 20 + 25) instead of direct's 144,
 * 1.78x fewer multiplies, with the stride-1 kernel's three phases:
 *   U[a][c][k] = (G9 g[k][c] G9^T)[a]        a = 0..80
 *   V[a][t][c] = (B9^T d[t][c] B9)[a]        each tile's 9x9 input patch
 *   M[a][t][k] = sum_c V[a][t][c] U[a][c][k] 81 products [T x C] x [C x K]
 *   y[t][k]    = A9^T M[.][t][k] A9 (+ bias) the 4x4 output tile
 * The data backward is the same with C and OC swapped: along one dimension
 * dx[2i] = w1 dy[i] and dx[2i+1] = w2 dy[i] + w0 dy[i+1], so the 5 values
 * dy[i0..i0+4] give 4 identity alphas (times w1) and F(4, 2)'s 5 (times
 * G5 (w2, w0)), and the tile's 8 outputs dx[2 i0 .. 2 i0 + 7] are the 4
 * identity values (even) and A5^T of the others (odd).  Tiles cover the
 * output (dy) map in both passes: T = N * ceil(OH/4) * ceil(OW/4).
 *
 * The three phases run on S2_SUPER (24) tiles at a time, so that V and M
 * (81 floats a tile and channel: M is 5x the output it makes) stay in the
 * 1 MiB L2 instead of going through memory: on the cnn's 32->64 at 28x28
 * forward that took 15.6 ms (the whole batch's 1024 tiles at once, as
 * cpu_conv_winograd.c) to 8.1 (12 tiles: 8.7; 48: 10.0; 96: 10.2).
 *
 * Status: correct (tests/test_conv_winograd_s2.c: max |err| / max |ref|
 * 1.7e-5 forward, 3.9e-5 data backward), reachable only by forcing the
 * "winograd" kernel (the bench, tests): it does not beat oneDNN's AVX2
 * blocked kernel, so the rule does not pick it.  On the EPYC (Zen 3,
 * `chrt -f 10 bench_conv --kernels 2`, 3 December, batch 64, 1-thread CPU /
 * 2-thread wall ms, blocked -> this): the cnn's 32->64 at 28 forward 6.57 /
 * 3.13 -> 8.11 / 4.35, data backward 6.06 / 3.15 -> 8.19 / 4.33; 64->128
 * at 14 forward 6.52 / 3.23 -> 7.06 / 3.67, data backward 6.32 / 3.05 ->
 * 7.35 / 3.95; 128->256 at 7 forward 7.66 / 3.91 -> 9.47 / 5.05, data
 * backward 7.84 / 3.92 -> 9.41 / 4.61; on 4x4 and 2x2 inputs (one tile,
 * 4-16x the work) 3-9x slower.  perf on the 32->64 forward: the products
 * take about half the time (1.6x under the direct kernel, as the
 * multiplies say), the input and output transforms the other half.  Ways
 * forward: transforms fused into the products (a tile's 81 alphas kept in
 * registers / L1 instead of V and M), or F(2, 2) / smaller tiles.
 *
 * Layouts, threads, bits: as cpu_conv_winograd.c (8 channels a vector;
 * plain buffers reordered to nChw8c in the workspace, 8 and 16 blocks read
 * and written as they are; every value summed by one task in a fixed
 * order: the same bits on any thread count).  No weight backward at
 * stride 2 (cg_conv2d_backward_weights_winograd says CG_NN_EINVAL, the
 * conv op's rule and forced kernel fall back to oneDNN).
 *
 * Workspace (floats): U 81*C*K, V 81*S*Cin, M 81*S*Cout with S =
 * min(T, S2_SUPER), and the plain input's and output's nChw8c copies. */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"
#include "kernels/cpu_winograd_impl.h"

#define S2_ALPHA 81
/* tiles per product task: a multiple of the micro-kernel's 6 rows */
#define S2_CHUNK 96

static int64_t s2_tiles(const cg_conv2d_desc *d) { return d->n * ((d->oh + 3) / 4) * ((d->ow + 3) / 4); }
#ifndef S2_SUPER
#define S2_SUPER 24
#endif
/* tiles per pass of the three phases (V and M of one pass stay in cache) */
static int64_t s2_super(const cg_conv2d_desc *d) { int64_t t = s2_tiles(d); return t < S2_SUPER ? t : S2_SUPER; }
static int64_t up16(int64_t v) { return (v + 15) & ~(int64_t)15; }

int64_t cg_wg_s2_workspace(const cg_conv2d_desc *d) {
    int64_t t = s2_super(d);
    return up16(S2_ALPHA * d->c * d->oc) + up16(S2_ALPHA * t * d->c) + up16(S2_ALPHA * t * d->oc) +
           up16(d->n * d->c * d->h * d->w) + up16(d->n * d->oc * d->oh * d->ow);
}

typedef struct s2_geom {
    int64_t n, cin, cout;   /* the products' input and output channels */
    int64_t ih, iw, oh, ow; /* the transforms' input map and output map */
    int64_t th, tw, tiles;  /* tiles (over the dy / y map) per column, per row, in all */
    int64_t tb, tc;         /* this pass's first tile and tile count (V, M hold tc tiles) */
} s2_geom;

/* ---- weights: U[a][ci][co] ---- */

static const float S2_G5[5][2] = {{0.5f, 0}, {0.5f, 0.5f}, {1.f / 6, -1.f / 6}, {1.f / 6, 1.f / 3}, {0, 1}};

/* 1D: taps (f0, f1, f2) -> 9 alphas: f1 four times, then G5 (f0, f2) */
static TGT inline void g9(const __m256 f[3], __m256 o[9]) {
    for (int m = 0; m < 4; m++) o[m] = f[1];
    for (int j = 0; j < 5; j++)
        o[4 + j] = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(S2_G5[j][0]), f[0]),
                                 _mm256_mul_ps(_mm256_set1_ps(S2_G5[j][1]), f[2]));
}

/* 8 filters (filter j's taps at g + j*stride, flipped 180 degrees when
 * rot): u[a] = (G9 g G9^T)[a], stored at out + a*ld */
static TGT void filters8(const float *g, int64_t stride, int rot, float *out, int64_t ld) {
    __m256 f[3][3], t[9][3];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int tap = rot ? (2 - a) * 3 + (2 - b) : a * 3 + b;
            f[a][b] = _mm256_set_ps(g[7 * stride + tap], g[6 * stride + tap], g[5 * stride + tap], g[4 * stride + tap],
                                    g[3 * stride + tap], g[2 * stride + tap], g[stride + tap], g[tap]);
        }
    for (int b = 0; b < 3; b++) { /* columns */
        __m256 col[3] = {f[0][b], f[1][b], f[2][b]}, o[9];
        g9(col, o);
        for (int i = 0; i < 9; i++) t[i][b] = o[i];
    }
    for (int i = 0; i < 9; i++) { /* rows */
        __m256 o[9];
        g9(t[i], o);
        for (int j = 0; j < 9; j++) _mm256_storeu_ps(out + (i * 9 + j) * ld, o[j]);
    }
}

/* Forward: U[a][c][k] from w[k][c].  Data backward: U[a][k][c] from w[k][c]
 * rotated (dx[2i+1] = w2 dy[i] + w0 dy[i+1]: the flipped taps in G5). */
static void weights_transform(const cg_conv2d_desc *d, const float *w, int backward, float *U, int threads) {
    int64_t C = d->c, K = d->oc, ld = C * K;
    if (!backward)
        CG_NN_PARALLEL_FOR(threads, for (int64_t k = 0; k < K; k += 8) {
            for (int64_t c = 0; c < C; c++) filters8(w + (k * C + c) * 9, C * 9, 0, U + c * K + k, ld);
        });
    else
        CG_NN_PARALLEL_FOR(threads, for (int64_t k = 0; k < K; k++) {
            for (int64_t c = 0; c < C; c += 8) filters8(w + (k * C + c) * 9, 9, 1, U + k * C + c, ld);
        });
}

/* ---- the input transforms ---- */

/* B5^T e for the odd phase's 5 values */
static TGT inline void bt5(__m256 e0, __m256 e1, __m256 e2, __m256 e3, __m256 e4, __m256 o[5]) {
    const __m256 two = _mm256_set1_ps(2.f), three = _mm256_set1_ps(3.f);
    __m256 d31 = _mm256_sub_ps(e3, e1);
    o[0] = _mm256_fmadd_ps(two, _mm256_sub_ps(e0, e2), d31);                  /* 2e0 - e1 - 2e2 + e3 */
    o[1] = _mm256_fmadd_ps(two, e1, _mm256_sub_ps(e2, e3));                   /* 2e1 + e2 - e3 */
    o[2] = _mm256_fnmadd_ps(two, e1, _mm256_fmsub_ps(three, e2, e3));         /* -2e1 + 3e2 - e3 */
    o[3] = d31;                                                               /* e3 - e1 */
    o[4] = _mm256_fmadd_ps(two, _mm256_sub_ps(e1, e3), _mm256_sub_ps(e4, e2)); /* 2e1 - e2 - 2e3 + e4 */
}

/* forward, 1D: d[0..8] = x[2 o0 - 1 ..] -> the 9 alphas */
static TGT inline void bt9(const __m256 x[9], __m256 o[9]) {
    o[0] = x[1], o[1] = x[3], o[2] = x[5], o[3] = x[7];
    bt5(x[0], x[2], x[4], x[6], x[8], o + 4);
}

/* data backward, 1D: dy[i0..i0+4] -> the 9 alphas */
static TGT inline void bt9b(const __m256 x[5], __m256 o[9]) {
    o[0] = x[0], o[1] = x[1], o[2] = x[2], o[3] = x[3];
    bt5(x[0], x[1], x[2], x[3], x[4], o + 4);
}

/* V[a][t][cin] for tile t: the forward's 9x9 patch of `in` (blocked, block
 * ib) at rows 2*oy0-1.., or the backward's 5x5 at oy0.. (np 9 or 5) */
static TGT void input_tile(const s2_geom *g, const float *in, int64_t ib, int backward, float *V, int64_t t) {
    int64_t hw = g->ih * g->iw, T = g->tc, np = backward ? 5 : 9;
    int64_t n = t / (g->th * g->tw), r = t % (g->th * g->tw);
    int64_t y0 = (r / g->tw) * 4, x0 = (r % g->tw) * 4;
    if (!backward) y0 = 2 * y0 - 1, x0 = 2 * x0 - 1;
    for (int64_t c = 0; c < g->cin; c += 8) {
        const float *p = in + ((n * (g->cin / ib) + c / ib) * hw) * ib + c % ib;
        __m256 dd[9][9], tt[9][9];
        for (int i = 0; i < np; i++) {
            int64_t yy = y0 + i;
            for (int j = 0; j < np; j++) {
                int64_t xx = x0 + j;
                dd[i][j] = yy >= 0 && yy < g->ih && xx >= 0 && xx < g->iw ? _mm256_loadu_ps(p + (yy * g->iw + xx) * ib)
                                                                          : _mm256_setzero_ps();
            }
        }
        for (int j = 0; j < np; j++) { /* columns */
            __m256 col[9], o[9];
            for (int i = 0; i < np; i++) col[i] = dd[i][j];
            if (backward) bt9b(col, o);
            else bt9(col, o);
            for (int i = 0; i < 9; i++) tt[i][j] = o[i];
        }
        for (int i = 0; i < 9; i++) { /* rows */
            __m256 o[9];
            if (backward) bt9b(tt[i], o);
            else bt9(tt[i], o);
            for (int j = 0; j < 9; j++) _mm256_storeu_ps(V + ((int64_t)(i * 9 + j) * T + t - g->tb) * g->cin + c, o[j]);
        }
    }
}

static void input_transform(const s2_geom *g, const float *in, int64_t ib, int backward, float *V, int threads) {
    int64_t tb = g->tb, te = g->tb + g->tc;
    CG_NN_PARALLEL_FOR(threads, for (int64_t t = tb; t < te; t++) input_tile(g, in, ib, backward, V, t););
}

/* ---- the products: M[a][t][k] = sum_c V[a][t][c] U[a][c][k] ---- */

static void products(const s2_geom *g, const float *V, const float *U, float *M, int threads) {
    wg_batched_products(S2_ALPHA, g->tc, g->cin, g->cout, S2_CHUNK, V, U, M, threads);
}

/* ---- the output transforms ---- */

/* A5^T m for the odd phase's 5 alphas */
static TGT inline void at5(const __m256 m[5], __m256 o[4]) {
    const __m256 two = _mm256_set1_ps(2.f), four = _mm256_set1_ps(4.f), eight = _mm256_set1_ps(8.f);
    __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
    o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), m[3]);
    o[1] = _mm256_fmadd_ps(two, m[3], d12);
    o[2] = _mm256_fmadd_ps(four, m[3], s12);
    o[3] = _mm256_add_ps(_mm256_fmadd_ps(eight, m[3], d12), m[4]);
}

/* forward, 1D: 9 alphas -> 4 outputs, the E term plus the O term */
static TGT inline void at9(const __m256 m[9], __m256 o[4]) {
    __m256 q[4];
    at5(m + 4, q);
    for (int i = 0; i < 4; i++) o[i] = _mm256_add_ps(m[i], q[i]);
}

/* data backward, 1D: 9 alphas -> 8 outputs, even ones the identity alphas */
static TGT inline void at9b(const __m256 m[9], __m256 o[8]) {
    __m256 q[4];
    at5(m + 4, q);
    for (int i = 0; i < 4; i++) o[2 * i] = m[i], o[2 * i + 1] = q[i];
}

/* tile t of out (blocked, block ob): the forward's 4x4 at oy0, ox0 or the
 * backward's 8x8 at 2*oy0, 2*ox0, clipped to the map */
static TGT void output_tile(const s2_geom *g, const float *M, const float *bias, float *out, int64_t ob, int backward,
                            int64_t t) {
    int64_t hw = g->oh * g->ow, T = g->tc, no = backward ? 8 : 4;
    int64_t n = t / (g->th * g->tw), r = t % (g->th * g->tw);
    int64_t y0 = (r / g->tw) * 4, x0 = (r % g->tw) * 4;
    if (backward) y0 *= 2, x0 *= 2;
    for (int64_t k = 0; k < g->cout; k += 8) {
        __m256 mm[9][9], tt[8][9];
        for (int a = 0; a < S2_ALPHA; a++) mm[a / 9][a % 9] = _mm256_loadu_ps(M + ((int64_t)a * T + t - g->tb) * g->cout + k);
        for (int j = 0; j < 9; j++) { /* columns */
            __m256 col[9], o[8];
            for (int i = 0; i < 9; i++) col[i] = mm[i][j];
            if (backward) at9b(col, o);
            else at9(col, o);
            for (int i = 0; i < no; i++) tt[i][j] = o[i];
        }
        __m256 b = bias ? _mm256_loadu_ps(bias + k) : _mm256_setzero_ps();
        float *p = out + ((n * (g->cout / ob) + k / ob) * hw) * ob + k % ob;
        for (int i = 0; i < no && y0 + i < g->oh; i++) { /* rows */
            __m256 o[8];
            if (backward) at9b(tt[i], o);
            else at9(tt[i], o);
            for (int j = 0; j < no && x0 + j < g->ow; j++)
                _mm256_storeu_ps(p + ((y0 + i) * g->ow + x0 + j) * ob, bias ? _mm256_add_ps(o[j], b) : o[j]);
        }
    }
}

static void output_transform(const s2_geom *g, const float *M, const float *bias, float *out, int64_t ob,
                             int backward, int threads) {
    CG_NN_PARALLEL_FOR(threads,
                       for (int64_t t = g->tb; t < g->tb + g->tc; t++) output_tile(g, M, bias, out, ob, backward, t););
}

/* ---- the passes ---- */

/* forward: in = x (N, C, H, W), out = y (N, OC, OH, OW); backward: in =
 * dy, out = dx; blocks ib / ob (0: plain) */
static void s2_run(const cg_conv2d_desc *d, const float *w, int backward, const float *in, int64_t ib,
                   const float *bias, float *out, int64_t ob, float *work, int threads) {
    s2_geom g = {d->n, d->c, d->oc, d->h, d->w, d->oh, d->ow, (d->oh + 3) / 4, (d->ow + 3) / 4, 0, 0, 0};
    if (backward)
        g.cin = d->oc, g.cout = d->c, g.ih = d->oh, g.iw = d->ow, g.oh = d->h, g.ow = d->w;
    g.tiles = s2_tiles(d);
    int64_t sc = s2_super(d);
    float *U = work, *V = U + up16(S2_ALPHA * d->c * d->oc), *M = V + up16(S2_ALPHA * sc * g.cin);
    float *X = M + up16(S2_ALPHA * sc * g.cout);
    if (threads < 1) threads = 1;
    weights_transform(d, w, backward, U, threads);
    if (!ib) {
        cg_layout_plain_to_blocked(8, g.n, g.cin, g.ih * g.iw, in, X);
        in = X, ib = 8;
    }
    float *dst = ob ? out : X + up16(g.n * g.cin * g.ih * g.iw); /* a plain out's nChw8c copy */
    for (g.tb = 0; g.tb < g.tiles; g.tb += sc) {
        g.tc = g.tiles - g.tb < sc ? g.tiles - g.tb : sc;
        input_transform(&g, in, ib, backward, V, threads);
        products(&g, V, U, M, threads);
        output_transform(&g, M, bias, dst, ob ? ob : 8, backward, threads);
    }
    if (!ob) cg_layout_blocked_to_plain(8, g.n, g.cout, g.oh * g.ow, dst, out);
}

void cg_wg_s2_forward(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias, float *y,
                      float *work, int threads) {
    s2_run(d, w, 0, x, d->x_block, bias, y, d->y_block, work, threads);
}

void cg_wg_s2_backward_data(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx, float *work,
                            int threads) {
    s2_run(d, w, 1, dy, d->y_block, NULL, dx, d->x_block, work, threads);
}
