/* conv2d by Winograd's minimal filtering, F(4x4, 3x3): cgrad's own kernel
 * for 3x3, stride 1, pad 1, dilation 1, groups 1, C and OC multiples of 8,
 * every pass, on AVX2+FMA (picked at run time; on a CPU
 * without AVX2 cg_conv2d_winograd_supports says 0 and the rule's fallback
 * runs instead).  Stride 2 (forward and data backward; not picked by the
 * rule) branches to cpu_conv_winograd_s2.c.
 *
 * Why: on AVX2 oneDNN 2.6 has no Winograd (only on AVX-512), and its
 * blocked direct kernel already runs near the FMA peak, so the stride-1
 * 3x3 layers of resnet18 (64->64 at 7x7, 128->128 at 4x4) can only get
 * faster with fewer multiplies.  F(4x4, 3x3) does a 4x4 output tile with
 * 36 products per (input, output) channel pair instead of 144: a 7x7 map
 * is 2x2 tiles (8x8, 3.06x fewer multiplies), a 4x4 map one tile (4x).
 *
 * How (Lavin & Gray's matrices, points 0, +-1, +-2 and infinity):
 *   U[a][c][k] = (G g[k][c] G^T)[a]          weights, a = 0..35 (6x6)
 *   V[a][t][c] = (B^T d[t][c] B)[a]          each tile's 6x6 input patch
 *   M[a][t][k] = sum_c V[a][t][c] U[a][c][k] 36 products [T x C] x [C x K]
 *   y[t][k]    = A^T M[.][t][k] A (+ bias)   the 4x4 output tile
 * with the 8 channels of one nChw8c / nChw16c block in the 8 lanes of a
 * vector.  Plain NCHW buffers are reordered into nChw8c in the workspace
 * first (and the output out of it); blocked ones (8 or 16) are read and
 * written as they are, so the network keeps nChw8c around this kernel.
 * The data backward is the same machinery: dx = conv(dy, w rotated 180
 * degrees with C and OC swapped), pad 1.  The weight backward is its
 * adjoint: dw[k][c] = G^T (sum_t V[.][t][c] * (A dY_t A^T)[.]) G, the sum
 * over the batch's tiles one per-a product [C x T] x [T x K].
 *
 * Same bits on any thread count: the three phases (input transform by
 * tile, products by (a, fixed chunk of WG_CHUNK tiles), output transform
 * by tile) give every value to one task that sums in a fixed order; the
 * thread count only decides which thread runs a task.  The weight
 * backward's products are one task per a, each summing all T tiles in
 * order; dbias is one double per channel in (n, s) order.
 *
 * Accuracy: the transforms' constants (up to 8 and 1/24) cost bits:
 * against the double reference kernel, max |err| / max |y| over the whole
 * output, as tests/test_conv_winograd.c measures it (inputs of size 1,
 * weights of the size PyTorch's init gives, every shape and layout of the
 * test, 64->64 at 7x7 and 128->128 at 4x4 batch 64 among them): 3.8e-5
 * forward, 6.9e-5 data backward, 1.6e-5 weight backward (max |err| /
 * max |dw|), against the test's bar of 1e-4.
 *
 * Workspace (floats, cg_conv2d_winograd_workspace): U 36*C*K, V 36*T*Cin,
 * M 36*T*Cout, and one (N, max(C, OC), H, W) buffer for the plain input's
 * and output's nChw8c copies, with T = N * ceil(H/4) * ceil(W/4) tiles. */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"
#include "kernels/cpu_winograd_impl.h"

#define WG_ALPHA 36
/* tiles per product task: a multiple of the micro-kernel's 6 rows */
#define WG_CHUNK 96

int cg_conv2d_winograd_supports(const cg_conv2d_desc *d) {
    if (cg_cpu_level_active() < CG_CPU_AVX2) return 0;
    /* stride 2 (both ways): cpu_conv_winograd_s2.c */
    int stride = d->stride_h == d->stride_w && (d->stride_h == 1 || d->stride_h == 2);
    if (d->kh != 3 || d->kw != 3 || !stride || d->pad_h != 1 || d->pad_w != 1 || d->dil_h != 1 || d->dil_w != 1 ||
        d->groups != 1)
        return 0;
    if (d->c % 8 || d->oc % 8) return 0;
    int xb = d->x_block == 0 || d->x_block == 8 || d->x_block == 16;
    int yb = d->y_block == 0 || d->y_block == 8 || d->y_block == 16;
    return xb && yb;
}

static int64_t wg_tiles(const cg_conv2d_desc *d) { return d->n * ((d->h + 3) / 4) * ((d->w + 3) / 4); }
static int64_t up16(int64_t v) { return (v + 15) & ~(int64_t)15; }

int64_t cg_conv2d_winograd_workspace(const cg_conv2d_desc *d, int threads) {
    (void)threads; /* the same on any thread count */
    if (d->stride_h == 2) return cg_wg_s2_workspace(d);
    int64_t t = wg_tiles(d), cmax = d->c > d->oc ? d->c : d->oc;
    return up16(WG_ALPHA * d->c * d->oc) + up16(WG_ALPHA * t * d->c) + up16(WG_ALPHA * t * d->oc) +
           up16(d->n * cmax * d->h * d->w);
}

/* ---- weights: U[a][ci][co] for the products' (input ci, output co) ---- */

static const float WG_G[6][3] = {{1.f / 4, 0, 0},
                                 {-1.f / 6, -1.f / 6, -1.f / 6},
                                 {-1.f / 6, 1.f / 6, -1.f / 6},
                                 {1.f / 24, 1.f / 12, 1.f / 6},
                                 {1.f / 24, -1.f / 12, 1.f / 6},
                                 {0, 0, 1}};

/* 8 filters at once (filter j's 3x3 taps at g + j*stride, flipped 180
 * degrees when rot): u[a] = (G g G^T)[a], one lane per filter, stored at
 * out + a*ld (8 contiguous floats each) */
static TGT void filters8(const float *g, int64_t stride, int rot, float *out, int64_t ld) {
    __m256 f[3][3], t[6][3];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int tap = rot ? (2 - a) * 3 + (2 - b) : a * 3 + b;
            f[a][b] = _mm256_set_ps(g[7 * stride + tap], g[6 * stride + tap], g[5 * stride + tap], g[4 * stride + tap],
                                    g[3 * stride + tap], g[2 * stride + tap], g[stride + tap], g[tap]);
        }
    for (int i = 0; i < 6; i++)
        for (int b = 0; b < 3; b++)
            t[i][b] = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(WG_G[i][0]), f[0][b]),
                                                  _mm256_mul_ps(_mm256_set1_ps(WG_G[i][1]), f[1][b])),
                                    _mm256_mul_ps(_mm256_set1_ps(WG_G[i][2]), f[2][b]));
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            _mm256_storeu_ps(out + (i * 6 + j) * ld,
                             _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(t[i][0], _mm256_set1_ps(WG_G[j][0])),
                                                         _mm256_mul_ps(t[i][1], _mm256_set1_ps(WG_G[j][1]))),
                                           _mm256_mul_ps(t[i][2], _mm256_set1_ps(WG_G[j][2]))));
}

/* Forward: products read input c, write output k: U[a][c][k] from w[k][c].
 * Data backward: input k (dy's channels), output c: U[a][k][c] from w[k][c] rotated. */
static void weights_transform(const cg_conv2d_desc *d, const float *w, int backward, float *U, int threads) {
    int64_t C = d->c, K = d->oc, ld = C * K;
    if (!backward) /* 8 output channels k.. of input channel c: filters 9*C apart */
        CG_NN_PARALLEL_FOR(threads, for (int64_t k = 0; k < K; k += 8) {
            for (int64_t c = 0; c < C; c++) filters8(w + (k * C + c) * 9, C * 9, 0, U + c * K + k, ld);
        });
    else /* input channel k, 8 output channels c..: filters 9 apart */
        CG_NN_PARALLEL_FOR(threads, for (int64_t k = 0; k < K; k++) {
            for (int64_t c = 0; c < C; c += 8) filters8(w + (k * C + c) * 9, 9, 1, U + k * C + c, ld);
        });
}

/* ---- the input transform: B^T d B, 8 channels a vector ---- */

static TGT inline void bt6(const __m256 x[6], __m256 o[6]) {
    const __m256 four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f), two = _mm256_set1_ps(2.f);
    __m256 x12 = _mm256_add_ps(x[1], x[2]), x34 = _mm256_add_ps(x[3], x[4]);
    __m256 d12 = _mm256_sub_ps(x[1], x[2]), d43 = _mm256_sub_ps(x[4], x[3]);
    __m256 d42 = _mm256_sub_ps(x[4], x[2]), d31 = _mm256_sub_ps(x[3], x[1]);
    o[0] = _mm256_fmadd_ps(four, x[0], _mm256_fnmadd_ps(five, x[2], x[4]));
    o[1] = _mm256_fnmadd_ps(four, x12, x34);
    o[2] = _mm256_fmadd_ps(four, d12, d43);
    o[3] = _mm256_fmadd_ps(two, d31, d42);
    o[4] = _mm256_fnmadd_ps(two, d31, d42);
    o[5] = _mm256_fmadd_ps(four, x[1], _mm256_fnmadd_ps(five, x[3], x[5]));
}

typedef struct wg_geom {
    int64_t n, h, w, cin, cout; /* stride 1, pad 1: the output is h x w too */
    int64_t th, tw, tiles;      /* tiles per column and row of a map, in all */
} wg_geom;

/* V[a][t][cin] for tiles t of `in` (blocked, block ib) */
/* (The parallel loops call one TGT function per item: clang does not give
 * an OpenMP region's outlined body its function's target attribute.) */
static TGT void input_tile(const wg_geom *g, const float *in, int64_t ib, float *V, int64_t t) {
    int64_t hw = g->h * g->w, T = g->tiles, ng = g->cin / 8;
    {
        int64_t n = t / (g->th * g->tw), r = t % (g->th * g->tw);
        int64_t y0 = (r / g->tw) * 4 - 1, x0 = (r % g->tw) * 4 - 1;
        for (int64_t cg = 0; cg < ng; cg++) {
            int64_t c = cg * 8;
            const float *p = in + ((n * (g->cin / ib) + c / ib) * hw) * ib + c % ib;
            __m256 dd[6][6], tt[6][6];
            for (int i = 0; i < 6; i++) {
                int64_t yy = y0 + i;
                for (int j = 0; j < 6; j++) {
                    int64_t xx = x0 + j;
                    dd[i][j] = yy >= 0 && yy < g->h && xx >= 0 && xx < g->w ? _mm256_loadu_ps(p + (yy * g->w + xx) * ib)
                                                                            : _mm256_setzero_ps();
                }
            }
            for (int j = 0; j < 6; j++) { /* columns: tt = B^T dd */
                __m256 col[6], o[6];
                for (int i = 0; i < 6; i++) col[i] = dd[i][j];
                bt6(col, o);
                for (int i = 0; i < 6; i++) tt[i][j] = o[i];
            }
            for (int i = 0; i < 6; i++) { /* rows: tt B */
                __m256 o[6];
                bt6(tt[i], o);
                for (int j = 0; j < 6; j++) _mm256_storeu_ps(V + ((int64_t)(i * 6 + j) * T + t) * g->cin + c, o[j]);
            }
        }
    }
}

static void input_transform(const wg_geom *g, const float *in, int64_t ib, float *V, int threads) {
    CG_NN_PARALLEL_FOR(threads, for (int64_t t = 0; t < g->tiles; t++) input_tile(g, in, ib, V, t););
}

/* ---- the products: M[a][t][k] = sum_c V[a][t][c] U[a][c][k] ---- */

static void products(const wg_geom *g, const float *V, const float *U, float *M, int threads) {
    wg_batched_products(WG_ALPHA, g->tiles, g->cin, g->cout, WG_CHUNK, V, U, M, threads);
}

/* ---- the output transform: A^T m A (+ bias) ---- */

static TGT inline void at6(const __m256 x[6], __m256 o[4]) {
    const __m256 two = _mm256_set1_ps(2.f), four = _mm256_set1_ps(4.f), eight = _mm256_set1_ps(8.f);
    __m256 s12 = _mm256_add_ps(x[1], x[2]), d12 = _mm256_sub_ps(x[1], x[2]);
    __m256 s34 = _mm256_add_ps(x[3], x[4]), d34 = _mm256_sub_ps(x[3], x[4]);
    o[0] = _mm256_add_ps(_mm256_add_ps(x[0], s12), s34);
    o[1] = _mm256_fmadd_ps(two, d34, d12);
    o[2] = _mm256_fmadd_ps(four, s34, s12);
    o[3] = _mm256_add_ps(_mm256_fmadd_ps(eight, d34, d12), x[5]);
}

static TGT void output_tile(const wg_geom *g, const float *M, const float *bias, float *out, int64_t ob, int64_t t) {
    int64_t hw = g->h * g->w, T = g->tiles, ng = g->cout / 8;
    {
        int64_t n = t / (g->th * g->tw), r = t % (g->th * g->tw);
        int64_t y0 = (r / g->tw) * 4, x0 = (r % g->tw) * 4;
        for (int64_t kg = 0; kg < ng; kg++) {
            int64_t k = kg * 8;
            __m256 mm[6][6], tt[4][6];
            for (int a = 0; a < WG_ALPHA; a++) mm[a / 6][a % 6] = _mm256_loadu_ps(M + ((int64_t)a * T + t) * g->cout + k);
            for (int j = 0; j < 6; j++) { /* columns: tt = A^T mm */
                __m256 col[6], o[4];
                for (int i = 0; i < 6; i++) col[i] = mm[i][j];
                at6(col, o);
                for (int i = 0; i < 4; i++) tt[i][j] = o[i];
            }
            __m256 b = bias ? _mm256_loadu_ps(bias + k) : _mm256_setzero_ps();
            float *p = out + ((n * (g->cout / ob) + k / ob) * hw) * ob + k % ob;
            for (int i = 0; i < 4; i++) { /* rows: tt A */
                if (y0 + i >= g->h) break;
                __m256 o[4];
                at6(tt[i], o);
                for (int j = 0; j < 4 && x0 + j < g->w; j++) {
                    __m256 v = bias ? _mm256_add_ps(o[j], b) : o[j];
                    _mm256_storeu_ps(p + ((y0 + i) * g->w + x0 + j) * ob, v);
                }
            }
        }
    }
}

static void output_transform(const wg_geom *g, const float *M, const float *bias, float *out, int64_t ob,
                             int threads) {
    CG_NN_PARALLEL_FOR(threads, for (int64_t t = 0; t < g->tiles; t++) output_tile(g, M, bias, out, ob, t););
}

/* ---- the weight backward: dw[k][c] = G^T (sum_t V[.][t][c] * (A dY_t A^T)[.]) G ---- */

/* A x for a column x of 4: the adjoint of at6 */
static TGT inline void a6(const __m256 x[4], __m256 o[6]) {
    const __m256 two = _mm256_set1_ps(2.f), four = _mm256_set1_ps(4.f), eight = _mm256_set1_ps(8.f);
    __m256 s02 = _mm256_add_ps(x[0], x[2]), s13 = _mm256_add_ps(x[1], x[3]);
    __m256 e = _mm256_fmadd_ps(four, x[2], x[0]), f = _mm256_fmadd_ps(eight, x[3], _mm256_mul_ps(two, x[1]));
    o[0] = x[0];
    o[1] = _mm256_add_ps(s02, s13);
    o[2] = _mm256_sub_ps(s02, s13);
    o[3] = _mm256_add_ps(e, f);
    o[4] = _mm256_sub_ps(e, f);
    o[5] = x[3];
}

/* M[a][t][k] = (A dY_t A^T)[a] for tile t of dy (blocked, block ob), 0 off the map */
static TGT void grad_tile(const wg_geom *g, const float *dy, int64_t ob, float *M, int64_t t) {
    int64_t hw = g->h * g->w, T = g->tiles, ng = g->cout / 8;
    int64_t n = t / (g->th * g->tw), r = t % (g->th * g->tw);
    int64_t y0 = (r / g->tw) * 4, x0 = (r % g->tw) * 4;
    for (int64_t kg = 0; kg < ng; kg++) {
        int64_t k = kg * 8;
        const float *p = dy + ((n * (g->cout / ob) + k / ob) * hw) * ob + k % ob;
        __m256 dd[4][4], tt[6][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                dd[i][j] = y0 + i < g->h && x0 + j < g->w ? _mm256_loadu_ps(p + ((y0 + i) * g->w + x0 + j) * ob)
                                                          : _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) { /* columns: tt = A dd */
            __m256 col[4], o[6];
            for (int i = 0; i < 4; i++) col[i] = dd[i][j];
            a6(col, o);
            for (int i = 0; i < 6; i++) tt[i][j] = o[i];
        }
        for (int i = 0; i < 6; i++) { /* rows: tt A^T */
            __m256 o[6];
            a6(tt[i], o);
            for (int j = 0; j < 6; j++) _mm256_storeu_ps(M + ((int64_t)(i * 6 + j) * T + t) * g->cout + k, o[j]);
        }
    }
}

/* S[a] (cin x cout) = sum over t in order of V[a][t][c] M[a][t][k]: one task per a */
static void grad_products(const wg_geom *g, const float *V, const float *M, float *S, int threads) {
    int64_t T = g->tiles, C = g->cin, K = g->cout;
    CG_NN_PARALLEL_FOR(threads, for (int a = 0; a < WG_ALPHA; a++) {
        const float *va = V + a * T * C, *ma = M + a * T * K;
        float *sa = S + a * C * K;
        for (int64_t k = 0; k < K; k += 16) {
            int nv = K - k >= 16 ? 2 : 1;
            for (int64_t c = 0; c < C; c += 6) {
                int rows = C - c >= 6 ? 6 : (int)(C - c);
                micro_any(rows, nv, T, va + c, 1, C, ma + k, K, sa + c * K + k, K);
            }
        }
    });
}

/* dw[k][c][p][q] = sum_ij G[i][p] S[i*6+j][c][k] G[j][q], 8 k at a time */
static TGT void grad_filters(const wg_geom *g, const float *S, float *dw, int64_t c) {
    int64_t C = g->cin, K = g->cout;
    for (int64_t k = 0; k < K; k += 8) {
        __m256 s[6][6], t[3][6];
        for (int a = 0; a < WG_ALPHA; a++) s[a / 6][a % 6] = _mm256_loadu_ps(S + ((int64_t)a * C + c) * K + k);
        for (int p = 0; p < 3; p++)
            for (int j = 0; j < 6; j++) {
                __m256 acc = _mm256_setzero_ps();
                for (int i = 0; i < 6; i++)
                    if (WG_G[i][p] != 0) acc = _mm256_fmadd_ps(_mm256_set1_ps(WG_G[i][p]), s[i][j], acc);
                t[p][j] = acc;
            }
        float out[9][8];
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < 3; q++) {
                __m256 acc = _mm256_setzero_ps();
                for (int j = 0; j < 6; j++)
                    if (WG_G[j][q] != 0) acc = _mm256_fmadd_ps(t[p][j], _mm256_set1_ps(WG_G[j][q]), acc);
                _mm256_storeu_ps(out[p * 3 + q], acc);
            }
        for (int l = 0; l < 8; l++)
            for (int tap = 0; tap < 9; tap++) dw[((k + l) * C + c) * 9 + tap] = out[tap][l];
    }
}

static void grad_tiles(const wg_geom *g, const float *dy, int64_t ob, float *M, int threads) {
    CG_NN_PARALLEL_FOR(threads, for (int64_t t = 0; t < g->tiles; t++) grad_tile(g, dy, ob, M, t););
}

static void grad_weights(const wg_geom *g, const float *S, float *dw, int threads) {
    CG_NN_PARALLEL_FOR(threads, for (int64_t c = 0; c < g->cin; c++) grad_filters(g, S, dw, c););
}

/* dbias[k] = sum of dy over n, s: per channel one double in (n, s) order */
static void grad_bias(const wg_geom *g, const float *dy, int64_t ob, float *dbias) {
    int64_t hw = g->h * g->w, K = g->cout;
    for (int64_t k = 0; k < K; k++) {
        double sum = 0;
        for (int64_t n = 0; n < g->n; n++) {
            const float *p = ob ? dy + ((n * (K / ob) + k / ob) * hw) * ob + k % ob : dy + (n * K + k) * hw;
            int64_t step = ob ? ob : 1;
            for (int64_t s = 0; s < hw; s++) sum += p[s * step];
        }
        dbias[k] = (float)sum;
    }
}

cg_nn_status cg_conv2d_backward_weights_winograd(const cg_conv2d_desc *d, const float *x, const float *dy,
                                                 float *dw, float *dbias, float *work, int threads) {
    if (!cg_conv2d_winograd_supports(d) || d->stride_h == 2) return CG_NN_EINVAL; /* not at stride 2 (yet) */
    wg_geom g = {d->n, d->h, d->w, d->c, d->oc, (d->h + 3) / 4, (d->w + 3) / 4, 0};
    g.tiles = wg_tiles(d);
    float *S = work, *V = S + up16(WG_ALPHA * d->c * d->oc), *M = V + up16(WG_ALPHA * g.tiles * g.cin);
    float *X = M + up16(WG_ALPHA * g.tiles * g.cout);
    if (threads < 1) threads = 1;
    const float *in = x, *gy = dy;
    int64_t ib = d->x_block, ob = d->y_block;
    if (dbias) grad_bias(&g, dy, ob, dbias);
    if (!ib) {
        cg_layout_plain_to_blocked(8, g.n, g.cin, g.h * g.w, x, X);
        in = X, ib = 8;
    }
    input_transform(&g, in, ib, V, threads);
    if (!ob) { /* X is free again once the input transform has read it */
        cg_layout_plain_to_blocked(8, g.n, g.cout, g.h * g.w, dy, X);
        gy = X, ob = 8;
    }
    grad_tiles(&g, gy, ob, M, threads);
    grad_products(&g, V, M, S, threads);
    grad_weights(&g, S, dw, threads);
    return CG_NN_OK;
}

/* ---- the passes ---- */

/* in (N, cin, H, W) in block ib (0: plain), out (N, cout, H, W) in block ob */
static void wg_run(const cg_conv2d_desc *d, const float *w, int backward, const float *in, int64_t ib,
                   const float *bias, float *out, int64_t ob, float *work, int threads) {
    wg_geom g = {d->n, d->h, d->w, backward ? d->oc : d->c, backward ? d->c : d->oc, (d->h + 3) / 4, (d->w + 3) / 4, 0};
    g.tiles = wg_tiles(d);
    float *U = work, *V = U + up16(WG_ALPHA * d->c * d->oc), *M = V + up16(WG_ALPHA * g.tiles * g.cin);
    float *X = M + up16(WG_ALPHA * g.tiles * g.cout);
    if (threads < 1) threads = 1;
    weights_transform(d, w, backward, U, threads);
    if (!ib) {
        cg_layout_plain_to_blocked(8, g.n, g.cin, g.h * g.w, in, X);
        in = X, ib = 8;
    }
    input_transform(&g, in, ib, V, threads);
    products(&g, V, U, M, threads);
    /* X is free again once the input transform has read it */
    output_transform(&g, M, bias, ob ? out : X, ob ? ob : 8, threads);
    if (!ob) cg_layout_blocked_to_plain(8, g.n, g.cout, g.h * g.w, X, out);
}

cg_nn_status cg_conv2d_forward_winograd(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                        float *y, float *work, int threads) {
    if (!cg_conv2d_winograd_supports(d)) return CG_NN_EINVAL;
    if (d->stride_h == 2) cg_wg_s2_forward(d, x, w, bias, y, work, threads);
    else wg_run(d, w, 0, x, d->x_block, bias, y, d->y_block, work, threads);
    return CG_NN_OK;
}

cg_nn_status cg_conv2d_backward_data_winograd(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx,
                                              float *work, int threads) {
    if (!cg_conv2d_winograd_supports(d)) return CG_NN_EINVAL;
    if (d->stride_h == 2) cg_wg_s2_backward_data(d, dy, w, dx, work, threads);
    else wg_run(d, w, 1, dy, d->y_block, NULL, dx, d->x_block, work, threads);
    return CG_NN_OK;
}
