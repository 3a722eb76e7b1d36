/* Pooling kernels: max, average and their adaptive forms (nn_kernels.h).
 *
 * Every (n,c) plane is pooled on its own, so the fast kernels give OpenMP
 * threads whole planes (N*C = 64*64 of them at resnet's stem) and compute
 * each window's clipped row/column range once.  The reference kernels visit
 * every tap of every (unclipped) window and test it against the input, the
 * definition as written. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

static cg_nn_status pool_bad(char *msg, size_t size, const char *what, long long v, const char *rule) {
    if (msg && size) snprintf(msg, size, "pool2d: %s = %lld %s", what, v, rule);
    return CG_NN_EINVAL;
}

static cg_nn_status check_planes(const cg_pool2d_desc *d, char *msg, size_t size) {
    const struct {
        const char *name;
        int64_t v;
    } f[] = {{"n", d->n}, {"c", d->c}, {"h", d->h}, {"w", d->w}};
    for (int i = 0; i < 4; i++) {
        if (f[i].v < 1) return pool_bad(msg, size, f[i].name, f[i].v, "must be >= 1");
        if (f[i].v > ((int64_t)1 << 30)) return pool_bad(msg, size, f[i].name, f[i].v, "is larger than 2^30");
    }
    if (d->n * d->c > ((int64_t)1 << 60) / (d->h * d->w)) return pool_bad(msg, size, "n*c*h*w with n", d->n, "overflows");
    return CG_NN_OK;
}

cg_nn_status cg_pool2d_desc_init(cg_pool2d_desc *d, char *msg, size_t msg_size) {
    cg_nn_status s = check_planes(d, msg, msg_size);
    if (s) return s;
    const struct {
        const char *name;
        int64_t v;
    } f[] = {{"kh", d->kh}, {"kw", d->kw}, {"stride_h", d->stride_h}, {"stride_w", d->stride_w}};
    for (int i = 0; i < 4; i++)
        if (f[i].v < 1 || f[i].v > ((int64_t)1 << 30)) return pool_bad(msg, msg_size, f[i].name, f[i].v, "must be in [1, 2^30]");
    if (d->pad_h < 0 || d->pad_h > d->kh / 2)
        return pool_bad(msg, msg_size, "pad_h", d->pad_h, "must be in [0, kh/2] (PyTorch's rule)");
    if (d->pad_w < 0 || d->pad_w > d->kw / 2)
        return pool_bad(msg, msg_size, "pad_w", d->pad_w, "must be in [0, kw/2] (PyTorch's rule)");
    if (d->kh > d->h + 2 * d->pad_h) return pool_bad(msg, msg_size, "kh", d->kh, "is larger than the padded input");
    if (d->kw > d->w + 2 * d->pad_w) return pool_bad(msg, msg_size, "kw", d->kw, "is larger than the padded input");
    d->oh = (d->h + 2 * d->pad_h - d->kh) / d->stride_h + 1;
    d->ow = (d->w + 2 * d->pad_w - d->kw) / d->stride_w + 1;
    return CG_NN_OK;
}

cg_nn_status cg_adaptive_pool2d_desc_init(const cg_pool2d_desc *d, char *msg, size_t msg_size) {
    cg_nn_status s = check_planes(d, msg, msg_size);
    if (s) return s;
    if (d->oh < 1 || d->oh > ((int64_t)1 << 30)) return pool_bad(msg, msg_size, "oh", d->oh, "must be in [1, 2^30]");
    if (d->ow < 1 || d->ow > ((int64_t)1 << 30)) return pool_bad(msg, msg_size, "ow", d->ow, "must be in [1, 2^30]");
    return CG_NN_OK;
}

/* Adaptive window i of `out` over `in`: [floor(i*in/out), ceil((i+1)*in/out)). */
static inline int64_t adapt_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
static inline int64_t adapt_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

/* ---- window ranges: fixed windows clipped to the input, or adaptive ---- */

typedef struct win {
    int64_t h0, h1, w0, w1;
} win;

static inline win fixed_window(const cg_pool2d_desc *d, int64_t i, int64_t j) {
    win r;
    r.h0 = i * d->stride_h - d->pad_h;
    r.w0 = j * d->stride_w - d->pad_w;
    r.h1 = r.h0 + d->kh < d->h ? r.h0 + d->kh : d->h;
    r.w1 = r.w0 + d->kw < d->w ? r.w0 + d->kw : d->w;
    if (r.h0 < 0) r.h0 = 0;
    if (r.w0 < 0) r.w0 = 0;
    return r;
}

static inline win adaptive_window(const cg_pool2d_desc *d, int64_t i, int64_t j) {
    win r = {adapt_start(i, d->h, d->oh), adapt_end(i, d->h, d->oh), adapt_start(j, d->w, d->ow),
             adapt_end(j, d->w, d->ow)};
    return r;
}

/* Max over one plane, PyTorch's answer: its scan (start at -inf with the
 * window's first index, take a value if it is larger or NaN) keeps the
 * first position, in row-major order, of the largest value, or the last
 * NaN.  Run tap by tap, that scan costs ~18 instructions a tap (2.8 ms for
 * resnet's stem pool 64x14->7 at batch 64, one thread).  So, per output row
 * i, a column pass first: over the window's rows, cm[q] = the largest value
 * of column q and cr[q] = the first row holding it (selects over q, which
 * the compiler vectorises); then each window's answer is the largest cm[q]
 * over its columns, at the smallest p*W + q among the columns holding it,
 * which is the scan's first position.  An output row whose window rows hold
 * a NaN (rare) runs the scan as written.  y is x at the position, so a tie
 * of -0 and +0 keeps the sign the scan keeps. */
#define MAX_COLS 1024

static void max_scan(const float *x, int64_t W, win r, float *y, int64_t *idx) {
    float best = -INFINITY;
    int64_t at = r.h0 * W + r.w0;
    for (int64_t p = r.h0; p < r.h1; p++)
        for (int64_t q = r.w0; q < r.w1; q++) {
            float v = x[p * W + q];
            if (v > best || v != v) best = v, at = p * W + q;
        }
    *y = x[at];
    *idx = at;
}

/* One row into the column pass: cm[q] = max(cm[q], xp[q]), cr[q] = p where
 * xp[q] is larger.  Written with a mask, not `if`, so it vectorises. */
static void column_max(float *restrict cm, int32_t *restrict cr, const float *restrict xp, int64_t n, int32_t p) {
    for (int64_t q = 0; q < n; q++) {
        float v = xp[q], c = cm[q];
        int32_t t = -(int32_t)(v > c);
        cm[q] = v > c ? v : c;
        cr[q] = (p & t) | (cr[q] & ~t);
    }
}

static int any_nan(const float *restrict xp, int64_t n) {
    int nan = 0;
    for (int64_t q = 0; q < n; q++) nan |= xp[q] != xp[q];
    return nan;
}

/* resnet's stem pool (3x3, stride 2, pad 1) a whole plane at a time: even
 * max_plane's per-row loops are too short to pay (14 values: 1.8 ms for
 * the stem at batch 64).  The plane is copied into a padded one P, with
 * -inf borders whose positions are INT32_MAX, PW = 2*OW+2 columns and
 * PH = 2*OH+1 rows, so output (i,j) is P's rows 2i..2i+2 and columns
 * 2j..2j+2 and nothing is clipped.  Then two passes of `best` pairs
 * (value, position), each the scan's choice: the larger value, on a tie
 * the smaller position; NaN-free (max_plane checks first).  Vertical: V[i]
 * = the best of P's rows 2i..2i+2, per column.  Horizontal: V's rows laid
 * end to end, window J is V[2J..2J+2]; J = i*(OW+1) + j, and the junk
 * J with j = OW (straddling two rows) is dropped. */
#define STEM_MAX 4096

static inline void best_of(float *v, int32_t *k, float b, int32_t kb) {
    int32_t t = -(int32_t)((b > *v) | ((b == *v) & (kb < *k)));
    *v = b > *v ? b : *v; /* ties keep the value: equal but for a zero's sign, fixed by x[k] below */
    *k = (kb & t) | (*k & ~t);
}

static bool stem_fits(const cg_pool2d_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->stride_h == 2 && d->stride_w == 2 && d->pad_h == 1 && d->pad_w == 1 &&
           (2 * d->oh + 1) * (2 * d->ow + 2) <= STEM_MAX && d->h * d->w < INT32_MAX;
}

static void stem_plane(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx) {
    const int64_t H = d->h, W = d->w, OH = d->oh, OW = d->ow, PW = 2 * OW + 2, PH = 2 * OH + 1;
    float P[STEM_MAX], V[STEM_MAX / 2];
    int32_t K[STEM_MAX], KV[STEM_MAX / 2];
    for (int64_t p = 0; p < PH; p++) {
        float *pr = P + p * PW;
        int32_t *kr = K + p * PW;
        for (int64_t q = 0; q < PW; q++) pr[q] = -INFINITY, kr[q] = INT32_MAX;
        if (p == 0 || p > H) continue;
        const float *xr = x + (p - 1) * W;
        for (int64_t q = 0; q < W; q++) pr[q + 1] = xr[q], kr[q + 1] = (int32_t)((p - 1) * W + q);
    }
    for (int64_t i = 0; i < OH; i++) {
        float *vr = V + i * PW;
        int32_t *kv = KV + i * PW;
        const float *p0 = P + 2 * i * PW;
        const int32_t *k0 = K + 2 * i * PW;
        for (int64_t q = 0; q < PW; q++) {
            float v = p0[q];
            int32_t k = k0[q];
            best_of(&v, &k, p0[q + PW], k0[q + PW]);
            best_of(&v, &k, p0[q + 2 * PW], k0[q + 2 * PW]);
            vr[q] = v, kv[q] = k;
        }
    }
    /* V[OH*PW] is one past the last row: window J's third column for the
     * last junk J only, so give it a value */
    V[OH * PW] = -INFINITY, KV[OH * PW] = INT32_MAX;
    int32_t at[STEM_MAX / 4];
    const int64_t nj = OH * (OW + 1);
    for (int64_t J = 0; J < nj; J++) {
        float v = V[2 * J];
        int32_t k = KV[2 * J];
        best_of(&v, &k, V[2 * J + 1], KV[2 * J + 1]);
        best_of(&v, &k, V[2 * J + 2], KV[2 * J + 2]);
        at[J] = k;
    }
    for (int64_t i = 0; i < OH; i++)
        for (int64_t j = 0; j < OW; j++) {
            int32_t k = at[i * (OW + 1) + j];
            y[i * OW + j] = x[k];
            idx[i * OW + j] = k;
        }
}

static void max_plane(const cg_pool2d_desc *d, int adaptive, const float *x, float *y, int64_t *idx) {
    /* The sizes in locals: idx is int64_t like the descriptor's fields, so
     * without them every store through idx would force d's fields to be
     * reloaded (the compiler cannot rule out aliasing). */
    const int64_t W = d->w, OH = d->oh, OW = d->ow;
    if (!adaptive && stem_fits(d) && !any_nan(x, d->h * W)) {
        stem_plane(d, x, y, idx);
        return;
    }
    float cm[MAX_COLS];
    int32_t cr[MAX_COLS];
    for (int64_t i = 0; i < OH; i++) {
        win rows = adaptive ? adaptive_window(d, i, 0) : fixed_window(d, i, 0);
        int scan = W > MAX_COLS;
        if (!scan) {
            scan = any_nan(x + rows.h0 * W, (rows.h1 - rows.h0) * W);
            const float *x0 = x + rows.h0 * W;
            for (int64_t q = 0; q < W; q++) cm[q] = x0[q], cr[q] = (int32_t)rows.h0;
            for (int64_t p = rows.h0 + 1; p < rows.h1; p++) column_max(cm, cr, x + p * W, W, (int32_t)p);
        }
        for (int64_t j = 0; j < OW; j++) {
            win r = adaptive ? adaptive_window(d, i, j) : fixed_window(d, i, j);
            if (scan) {
                max_scan(x, W, r, &y[i * OW + j], &idx[i * OW + j]);
                continue;
            }
            float m = cm[r.w0];
            for (int64_t q = r.w0 + 1; q < r.w1; q++) m = cm[q] > m ? cm[q] : m;
            int64_t at = INT64_MAX;
            for (int64_t q = r.w0; q < r.w1; q++) {
                int64_t k = (int64_t)cr[q] * W + q;
                at = cm[q] == m && k < at ? k : at;
            }
            y[i * OW + j] = x[at];
            idx[i * OW + j] = at;
        }
    }
}

#define PLANES(d) ((d)->n * (d)->c)
#define IN_PLANE(d) ((d)->h * (d)->w)
#define OUT_PLANE(d) ((d)->oh * (d)->ow)

void cg_max_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx) {
    if (d->block) {
        cg_max_pool2d_forward_blocked(d, x, y, idx);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_FWD, PLANES(d) * IN_PLANE(d),
                    for (int64_t pl = 0; pl < PLANES(d); pl++)
                        max_plane(d, 0, x + pl * IN_PLANE(d), y + pl * OUT_PLANE(d), idx + pl * OUT_PLANE(d)););
}

/* Global max (adaptive to 1x1: the max half of fastai's AdaptiveConcatPool2d,
 * on resnet18's 512x1x1 maps at 28x28 input) over planes of at most
 * GLOBAL_SCAN values: each plane is one contiguous run, so max_scan's answer
 * (the first largest value, or the last NaN) is its largest value and the
 * first place holding it, or the last NaN when the plane has one.
 * max_plane's per-plane set-up (the NaN check, the column pass, the window)
 * is most of its time on such planes (one thread, EPYC, 64 images: 512x1x1
 * 0.9 -> 0.09 ms, 512x2x2 1.8 -> 0.6, 256x4x4 1.3 -> 0.7).  Bigger planes
 * keep max_plane's vectorised column pass. */
#define GLOBAL_SCAN 64

static void global_max(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx) {
    const int64_t hw = IN_PLANE(d);
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_FWD, PLANES(d) * hw, for (int64_t pl = 0; pl < PLANES(d); pl++) {
        const float *xp = x + pl * hw;
        float m = xp[0];
        int nan = 0;
        for (int64_t k = 0; k < hw; k++) { /* the largest value, and whether a NaN is there */
            float v = xp[k];
            m = v > m ? v : m;
            nan |= v != v;
        }
        int64_t at = 0;
        if (nan) { /* the scan as written: the last NaN */
            for (int64_t k = 0; k < hw; k++)
                if (xp[k] != xp[k]) at = k;
        } else { /* its first position (-0 == +0: the scan keeps the first of those too) */
            while (xp[at] != m) at++;
        }
        y[pl] = xp[at];
        idx[pl] = at;
    });
}

void cg_adaptive_max_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx) {
    if (d->oh == 1 && d->ow == 1 && IN_PLANE(d) <= GLOBAL_SCAN) {
        global_max(d, x, y, idx);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_FWD, PLANES(d) * IN_PLANE(d),
                    for (int64_t pl = 0; pl < PLANES(d); pl++)
                        max_plane(d, 1, x + pl * IN_PLANE(d), y + pl * OUT_PLANE(d), idx + pl * OUT_PLANE(d)););
}

/* Reference max: every tap of the unclipped window, tested against the input. */
static void max_ref(const cg_pool2d_desc *d, int adaptive, const float *x, float *y, int64_t *idx) {
    for (int64_t pl = 0; pl < PLANES(d); pl++)
        for (int64_t i = 0; i < d->oh; i++)
            for (int64_t j = 0; j < d->ow; j++) {
                int64_t h0, h1, w0, w1;
                if (adaptive) {
                    h0 = adapt_start(i, d->h, d->oh), h1 = adapt_end(i, d->h, d->oh);
                    w0 = adapt_start(j, d->w, d->ow), w1 = adapt_end(j, d->w, d->ow);
                } else {
                    h0 = i * d->stride_h - d->pad_h, h1 = h0 + d->kh;
                    w0 = j * d->stride_w - d->pad_w, w1 = w0 + d->kw;
                }
                float best = -INFINITY;
                int64_t at = -1;
                for (int64_t p = h0; p < h1; p++)
                    for (int64_t q = w0; q < w1; q++) {
                        if (p < 0 || p >= d->h || q < 0 || q >= d->w) continue;
                        float v = x[pl * IN_PLANE(d) + p * d->w + q];
                        if (at < 0 || v > best || isnan(v)) best = v, at = p * d->w + q;
                    }
                y[pl * OUT_PLANE(d) + i * d->ow + j] = best;
                idx[pl * OUT_PLANE(d) + i * d->ow + j] = at;
            }
}

void cg_max_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx) {
    max_ref(d, 0, x, y, idx);
}

void cg_adaptive_max_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y, int64_t *idx) {
    max_ref(d, 1, x, y, idx);
}

void cg_max_pool2d_backward(const cg_pool2d_desc *d, const float *dy, const int64_t *idx, float *dx) {
    if (d->block) {
        cg_max_pool2d_backward_blocked(d, dy, idx, dx);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_BWD, PLANES(d) * IN_PLANE(d), for (int64_t pl = 0; pl < PLANES(d); pl++) {
        float *g = dx + pl * IN_PLANE(d);
        const float *gy = dy + pl * OUT_PLANE(d);
        const int64_t *ix = idx + pl * OUT_PLANE(d);
        memset(g, 0, (size_t)IN_PLANE(d) * sizeof *g);
        for (int64_t k = 0; k < OUT_PLANE(d); k++) g[ix[k]] += gy[k];
    });
}

/* ---- average ---- */

static void avg_plane(const cg_pool2d_desc *d, int adaptive, const float *x, float *y) {
    for (int64_t i = 0; i < d->oh; i++)
        for (int64_t j = 0; j < d->ow; j++) {
            win r = adaptive ? adaptive_window(d, i, j) : fixed_window(d, i, j);
            float s = 0;
            for (int64_t p = r.h0; p < r.h1; p++)
                for (int64_t q = r.w0; q < r.w1; q++) s += x[p * d->w + q];
            /* count_include_pad=True: padded taps count; adaptive: the window's size */
            int64_t count = adaptive ? (r.h1 - r.h0) * (r.w1 - r.w0) : d->kh * d->kw;
            y[i * d->ow + j] = s / (float)count;
        }
}

static void avg_plane_backward(const cg_pool2d_desc *d, int adaptive, const float *dy, float *dx) {
    memset(dx, 0, (size_t)IN_PLANE(d) * sizeof *dx);
    for (int64_t i = 0; i < d->oh; i++)
        for (int64_t j = 0; j < d->ow; j++) {
            win r = adaptive ? adaptive_window(d, i, j) : fixed_window(d, i, j);
            int64_t count = adaptive ? (r.h1 - r.h0) * (r.w1 - r.w0) : d->kh * d->kw;
            float g = dy[i * d->ow + j] / (float)count;
            for (int64_t p = r.h0; p < r.h1; p++)
                for (int64_t q = r.w0; q < r.w1; q++) dx[p * d->w + q] += g;
        }
}

void cg_avg_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y) {
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_FWD, PLANES(d) * IN_PLANE(d), for (int64_t pl = 0; pl < PLANES(d); pl++)
                        avg_plane(d, 0, x + pl * IN_PLANE(d), y + pl * OUT_PLANE(d)););
}

/* Global average (adaptive to 1x1: fastai's AdaptiveConcatPool2d at the
 * head of every vision model): each plane is one contiguous run, summed in
 * simd lanes.  At resnet's 256x4x4 head this took 0.31 ms through
 * avg_plane's per-window loops, against PyTorch's 0.13. */
static float plane_mean(const float *xp, int64_t hw) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < hw; k++) s += xp[k];
    return s / (float)hw;
}

static void global_avg(const cg_pool2d_desc *d, const float *x, float *y) {
    const int64_t hw = IN_PLANE(d);
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_FWD, PLANES(d) * hw,
                    for (int64_t pl = 0; pl < PLANES(d); pl++) y[pl] = plane_mean(x + pl * hw, hw););
}

void cg_adaptive_avg_pool2d_forward(const cg_pool2d_desc *d, const float *x, float *y) {
    if (d->oh == 1 && d->ow == 1) {
        global_avg(d, x, y);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_FWD, PLANES(d) * IN_PLANE(d), for (int64_t pl = 0; pl < PLANES(d); pl++)
                        avg_plane(d, 1, x + pl * IN_PLANE(d), y + pl * OUT_PLANE(d)););
}

void cg_avg_pool2d_backward(const cg_pool2d_desc *d, const float *dy, float *dx) {
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_BWD, PLANES(d) * IN_PLANE(d), for (int64_t pl = 0; pl < PLANES(d); pl++)
                        avg_plane_backward(d, 0, dy + pl * OUT_PLANE(d), dx + pl * IN_PLANE(d)););
}

/* Global average's backward: every value of plane pl gets dy[pl]/hw, written
 * as 0 + g, what avg_plane_backward's zero fill and += give (a -0 becomes +0),
 * without its per-window loops (one thread, 64 images: 512x1x1 0.87 -> 0.07
 * ms, 256x4x4 0.51 -> 0.07). */
static void global_avg_backward(const cg_pool2d_desc *d, const float *dy, float *dx) {
    const int64_t hw = IN_PLANE(d);
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_BWD, PLANES(d) * hw, for (int64_t pl = 0; pl < PLANES(d); pl++) {
        float g = dy[pl] / (float)hw, *dp = dx + pl * hw;
        for (int64_t k = 0; k < hw; k++) dp[k] = 0.0f + g;
    });
}

void cg_adaptive_avg_pool2d_backward(const cg_pool2d_desc *d, const float *dy, float *dx) {
    if (d->oh == 1 && d->ow == 1) {
        global_avg_backward(d, dy, dx);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_POOL_BWD, PLANES(d) * IN_PLANE(d), for (int64_t pl = 0; pl < PLANES(d); pl++)
                        avg_plane_backward(d, 1, dy + pl * OUT_PLANE(d), dx + pl * IN_PLANE(d)););
}

/* Reference average: each tap of the unclipped window; padded taps add 0. */
static void avg_ref(const cg_pool2d_desc *d, int adaptive, const float *x, float *y, const float *dy, float *dx) {
    if (dx) memset(dx, 0, (size_t)(PLANES(d) * IN_PLANE(d)) * sizeof *dx);
    for (int64_t pl = 0; pl < PLANES(d); pl++)
        for (int64_t i = 0; i < d->oh; i++)
            for (int64_t j = 0; j < d->ow; j++) {
                int64_t h0, h1, w0, w1;
                if (adaptive) {
                    h0 = adapt_start(i, d->h, d->oh), h1 = adapt_end(i, d->h, d->oh);
                    w0 = adapt_start(j, d->w, d->ow), w1 = adapt_end(j, d->w, d->ow);
                } else {
                    h0 = i * d->stride_h - d->pad_h, h1 = h0 + d->kh;
                    w0 = j * d->stride_w - d->pad_w, w1 = w0 + d->kw;
                }
                double count = (double)((h1 - h0) * (w1 - w0)), s = 0;
                int64_t o = pl * OUT_PLANE(d) + i * d->ow + j;
                for (int64_t p = h0; p < h1; p++)
                    for (int64_t q = w0; q < w1; q++) {
                        if (p < 0 || p >= d->h || q < 0 || q >= d->w) continue;
                        int64_t k = pl * IN_PLANE(d) + p * d->w + q;
                        if (x) s += x[k];
                        if (dx) dx[k] += (float)(dy[o] / count);
                    }
                if (y) y[o] = (float)(s / count);
            }
}

void cg_avg_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y) { avg_ref(d, 0, x, y, NULL, NULL); }
void cg_avg_pool2d_backward_ref(const cg_pool2d_desc *d, const float *dy, float *dx) {
    avg_ref(d, 0, NULL, NULL, dy, dx);
}
void cg_adaptive_avg_pool2d_forward_ref(const cg_pool2d_desc *d, const float *x, float *y) {
    avg_ref(d, 1, x, y, NULL, NULL);
}
void cg_adaptive_avg_pool2d_backward_ref(const cg_pool2d_desc *d, const float *dy, float *dx) {
    avg_ref(d, 1, NULL, NULL, dy, dx);
}
