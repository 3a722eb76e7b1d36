/* conv2d as SGEMMs over the whole batch, one per class of outputs that
 * read the same taps, for small feature maps.
 *
 * At resnet18's deep layers on 28x28 MNIST the feature maps are 4x4, 2x2
 * and 1x1, and oneDNN's direct kernels, built for large images, run there
 * at 10-30% of their large-image speed (the weight backward of 3x3 512->512
 * at 1x1 took 28-55 ms for 0.3 GFLOP).  Two facts make a GEMM better:
 *  - with the batch folded into the rows, the matrices are big (N*OH*OW =
 *    64..1024 rows, C*KH*KW = 576..4608 columns), where a GEMM library is
 *    at its best, unlike per-image im2col (the 29-39 GFLOP/s);
 *  - no multiplication reads padding.  An output (i, j) reads the taps
 *    (a, b) with a in one range and b in another (the ranges where the
 *    input row i*stride - pad + a*dil and column lie inside the map); the
 *    outputs are grouped into classes with the same two ranges (on a map
 *    with pad 1 and a 3x3 kernel: the four corners, the four edges and the
 *    interior, at most nine), and each class is one GEMM whose columns are
 *    only its taps.  A 3x3 pad-1 conv on a 2x2 map reads 4 of its 9 taps at
 *    every output, on a 1x1 map 1 of 9, so the work is 2.25x and 9x less
 *    than one GEMM over all taps (which is what this file did before
 *    classes: on 2x2 maps every tap is live for some output, so it
 *    multiplied 5 zeros of 9).  A weight's gradient on a tap no output
 *    reads is exactly 0.
 * The rule in cpu_conv_dnnl.c (cg_conv2d_kernel_for) sends it the shapes
 * where it wins.  It needs a workspace (cg_conv2d_gemm_workspace floats).
 *
 * The GEMM is oneDNN's (dnnl_sgemm), not OpenBLAS's: oneDNN picks its
 * kernels from the cpuid feature flags, OpenBLAS 0.3.21 from the CPU model,
 * and on a model it does not know (the 2-core Xeon of family 6 model 207,
 * AVX-512) it falls back to its SSE3 "Prescott" kernels: a one-thread
 * 1024^3 SGEMM took 66 ms there against dnnl_sgemm's 13.8 (and the weight
 * backward of 3x3 s2 256->512 at 2x2, 2.95 ms against 1.27).
 *
 * Layout of the workspace, per class (classes run one after another and
 * reuse it): col (R, K) then tmp (R, OC/groups) then the packed weights
 * (OC/groups, K), with R = N * (the class's outputs) and K = C/groups *
 * (the class's taps); col row r = (n, i, j) in that order holds the
 * output's input patch, column (c*TA + a)*TB + b the value under its tap
 * (a, b) of input channel c.
 *
 * Same bits on any thread count.  A threaded SGEMM (OpenBLAS's, measured,
 * and oneDNN's alike) cuts the sum over k into other blocks than its
 * one-thread SGEMM (the 64x576 weight gradient over k = 784 differs in the
 * last bits between the two), and a run may call a kernel on one thread or
 * on all (cg_nn_tuner).  So every product here is cut into `blocks` fixed
 * pieces along m or n (never k: each element of C stays one sum in one
 * order), each piece a one-thread GEMM call, the pieces on however many
 * threads the call has; the classes' shares of the data and weight
 * gradients are added in class order, each plane or weight by one thread:
 * the bits depend on `blocks` (cpu_conv_dnnl.c passes GEMM_BLOCKS, a
 * constant: when it passed the process's thread count, --threads 1 and 2
 * gave different bits), never on `threads`. */
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

/* C (m x n, row-major) = op(A) op(B) + beta C in `blocks` pieces along the
 * longer of m and n, on `threads` threads (see above).  Each piece is a
 * one-thread dnnl_sgemm: inside an OpenMP region oneDNN's GEMM runs on the
 * calling thread alone, and outside one it is told one thread. */
static int sgemm_pieces(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int blocks, int threads) {
    int by_rows = m >= n;
    int64_t len = by_rows ? m : n;
    if (blocks > len) blocks = (int)len;
    if (blocks < 1) blocks = 1;
    int nt = threads < blocks ? threads : blocks, saved = 0;
    atomic_int failed = 0;
    if (nt <= 1) {
        saved = omp_get_max_threads();
        omp_set_num_threads(1);
    }
    char tra = ta ? 'T' : 'N', trb = tb ? 'T' : 'N';
    CG_NN_PARALLEL_FOR(nt, for (int p = 0; p < blocks; p++) {
        int64_t lo = len * p / blocks, hi = len * (p + 1) / blocks;
        dnnl_status_t st;
        if (by_rows)
            st = dnnl_sgemm(tra, trb, hi - lo, n, k, 1.0f, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
                            c + lo * ldc, ldc);
        else
            st = dnnl_sgemm(tra, trb, m, hi - lo, k, 1.0f, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo,
                            ldc);
        if (st != dnnl_success) atomic_store(&failed, 1);
    });
    if (nt <= 1) omp_set_num_threads(saved);
    return atomic_load(&failed) ? -1 : 0;
}

/* The outputs along one axis grouped by the range of taps they read:
 * output o reads taps [lo[cls[o]], hi[cls[o]]) (contiguous: the input index
 * o*stride - pad + t*dil grows with t); idx lists the outputs class by
 * class, class k's from start[k] to start[k+1]. */
typedef struct axis_classes {
    int64_t count;
    int64_t *lo, *hi, *start, *idx; /* lo, hi: per class; start: count + 1; idx: per output */
} axis_classes;

static int axis_classes_init(axis_classes *ac, int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad,
                             int64_t dil) {
    int64_t *mem = malloc((size_t)(4 * out + 1) * sizeof *mem), *cls = malloc((size_t)(out > 0 ? out : 1) * sizeof *cls);
    if (!mem || !cls) {
        free(mem), free(cls);
        return -1;
    }
    ac->lo = mem, ac->hi = mem + out, ac->start = mem + 2 * out, ac->idx = mem + 3 * out + 1;
    ac->count = 0;
    for (int64_t o = 0; o < out; o++) {
        int64_t lo = k, hi = 0;
        for (int64_t t = 0; t < k; t++) {
            int64_t p = o * stride - pad + t * dil;
            if (p >= 0 && p < in) {
                if (t < lo) lo = t;
                hi = t + 1;
            }
        }
        if (lo >= hi) lo = hi = 0;
        int64_t c = 0;
        while (c < ac->count && !(ac->lo[c] == lo && ac->hi[c] == hi)) c++;
        if (c == ac->count) ac->lo[c] = lo, ac->hi[c] = hi, ac->count++;
        cls[o] = c;
    }
    int64_t n = 0;
    for (int64_t c = 0; c < ac->count; c++) {
        ac->start[c] = n;
        for (int64_t o = 0; o < out; o++)
            if (cls[o] == c) ac->idx[n++] = o;
    }
    ac->start[ac->count] = n;
    free(cls);
    return 0;
}

int64_t cg_conv2d_gemm_workspace(const cg_conv2d_desc *d) {
    /* an upper bound on every class's col + tmp, then the transposed weights */
    int64_t np = d->n * d->oh * d->ow, k = (d->c / d->groups) * d->kh * d->kw, og = d->oc / d->groups;
    return np * k + np * og + og * k;
}

/* One class: rows (i) of one row class times columns (j) of one column class. */
typedef struct gemm_ctx {
    const cg_conv2d_desc *d;
    axis_classes rows, cols;
    int64_t g, cg, og, p;
    /* the taps any output reads: rows [a0, a1), columns [b0, b1) (the hull of the classes' ranges);
     * wt holds only those, ldw = (a1-a0)*(b1-b0)*cg floats a row */
    int64_t a0, a1, b0, b1, ldw;
    /* the current class */
    int64_t al, ah, bl, bh, ta, tb; /* taps a in [al, ah), b in [bl, bh); ta = ah - al, tb = bh - bl */
    const int64_t *ri, *ci;         /* its output rows and columns */
    int64_t nri, nci, npos, nr, k;  /* nr = n * npos rows of K = ta * tb * cg columns */
    float *col, *tmp, *wt, *work;
} gemm_ctx;

static cg_nn_status ctx_init(gemm_ctx *c, const cg_conv2d_desc *d, float *work) {
    memset(c, 0, sizeof *c);
    if (d->kh * d->kw > CG_CONV2D_GEMM_MAX_TAPS) return CG_NN_EINVAL;
    c->d = d, c->work = work;
    c->cg = d->c / d->groups, c->og = d->oc / d->groups, c->p = d->oh * d->ow;
    int64_t np = d->n * c->p, k = d->kh * d->kw * c->cg;
    c->col = work, c->tmp = work + np * k, c->wt = c->tmp + np * c->og;
    if (axis_classes_init(&c->rows, d->oh, d->h, d->kh, d->stride_h, d->pad_h, d->dil_h)) return CG_NN_ENOMEM;
    if (axis_classes_init(&c->cols, d->ow, d->w, d->kw, d->stride_w, d->pad_w, d->dil_w)) {
        free(c->rows.lo);
        return CG_NN_ENOMEM;
    }
    c->a0 = d->kh, c->a1 = 0, c->b0 = d->kw, c->b1 = 0;
    for (int64_t r = 0; r < c->rows.count; r++)
        if (c->rows.lo[r] < c->rows.hi[r]) {
            if (c->rows.lo[r] < c->a0) c->a0 = c->rows.lo[r];
            if (c->rows.hi[r] > c->a1) c->a1 = c->rows.hi[r];
        }
    for (int64_t q = 0; q < c->cols.count; q++)
        if (c->cols.lo[q] < c->cols.hi[q]) {
            if (c->cols.lo[q] < c->b0) c->b0 = c->cols.lo[q];
            if (c->cols.hi[q] > c->b1) c->b1 = c->cols.hi[q];
        }
    if (c->a0 >= c->a1 || c->b0 >= c->b1) c->a0 = c->a1 = c->b0 = c->b1 = 0; /* no output reads the input */
    c->ldw = (c->a1 - c->a0) * (c->b1 - c->b0) * c->cg;
    return CG_NN_OK;
}

static void ctx_free(gemm_ctx *c) {
    free(c->rows.lo);
    free(c->cols.lo);
}

static void class_set(gemm_ctx *c, int64_t rc, int64_t cc) {
    c->al = c->rows.lo[rc], c->ah = c->rows.hi[rc], c->bl = c->cols.lo[cc], c->bh = c->cols.hi[cc];
    c->ta = c->ah - c->al, c->tb = c->bh - c->bl;
    c->ri = c->rows.idx + c->rows.start[rc], c->nri = c->rows.start[rc + 1] - c->rows.start[rc];
    c->ci = c->cols.idx + c->cols.start[cc], c->nci = c->cols.start[cc + 1] - c->cols.start[cc];
    c->npos = c->nri * c->nci, c->nr = c->d->n * c->npos, c->k = c->ta * c->tb * c->cg;
}

/* The output (n, i, j) of class row r. */
static inline void class_row(const gemm_ctx *c, int64_t r, int64_t *n, int64_t *i, int64_t *j) {
    int64_t q = r % c->npos;
    *n = r / c->npos, *i = c->ri[q / c->nci], *j = c->ci[q % c->nci];
}

/* The class's GEMM is cut along K by tap row a (one product per a, unless
 * the class reads every column tap of the hull, when the rows' blocks are
 * adjacent in both col and wt and one product takes them all): the a-th
 * block of K is col's columns from (a - al)*tb*cg and wt's from wt_at. */
static int64_t class_a_step(const gemm_ctx *c) { return c->tb == c->b1 - c->b0 ? c->ta : 1; }
static int64_t wt_at(const gemm_ctx *c, int64_t a, int64_t b) { return ((a - c->a0) * (c->b1 - c->b0) + b - c->b0) * c->cg; }

/* col (R, K) <- the class's patches, column ((a-al)*tb + b-bl)*cg + ch. */
static void im2col(const gemm_ctx *c, const float *x, int threads) {
    const cg_conv2d_desc *d = c->d;
    const int64_t hw = d->h * d->w;
    CG_NN_PARALLEL_FOR(threads, for (int64_t r = 0; r < c->nr; r++) {
        int64_t n, i, j;
        class_row(c, r, &n, &i, &j);
        /* the patch's corner may lie in the padding: an offset, made a pointer only at a tap inside */
        int64_t img = (n * d->c + c->g * c->cg) * hw + (i * d->stride_h - d->pad_h) * d->w + j * d->stride_w - d->pad_w;
        float *row = c->col + r * c->k;
        for (int64_t a = c->al; a < c->ah; a++)
            for (int64_t b = c->bl; b < c->bh; b++) {
                const float *src = x + (img + a * d->dil_h * d->w + b * d->dil_w);
                for (int64_t ch = 0; ch < c->cg; ch++) *row++ = src[ch * hw];
            }
    });
}

/* wt[o][wt_at(a, b) + ch] = w[g*og + o][ch][a][b] over the hull, once per
 * group (to = 1), or back: w[...][a][b] = wt[...] and 0 off the hull (to = 0) */
static void transpose_weights(const gemm_ctx *c, float *w, int to, int threads) {
    const int64_t kh = c->d->kh, kw = c->d->kw, taps = kh * kw;
    CG_NN_PARALLEL_FOR(threads, for (int64_t o = 0; o < c->og; o++) {
        float *wo = w + (c->g * c->og + o) * c->cg * taps, *wto = c->wt + o * c->ldw;
        if (!to && c->ldw < c->cg * taps) memset(wo, 0, (size_t)(c->cg * taps) * sizeof *wo);
        for (int64_t c0 = 0; c0 < c->cg; c0 += 16) { /* 16 channels at a time: reads and writes stay in L1 */
            int64_t c1 = c0 + 16 < c->cg ? c0 + 16 : c->cg;
            for (int64_t a = c->a0; a < c->a1; a++)
                for (int64_t b = c->b0; b < c->b1; b++) {
                    float *t = wto + wt_at(c, a, b);
                    if (to)
                        for (int64_t ch = c0; ch < c1; ch++) t[ch] = wo[ch * taps + a * kw + b];
                    else
                        for (int64_t ch = c0; ch < c1; ch++) wo[ch * taps + a * kw + b] = t[ch];
                }
        }
    });
}

/* tmp (R, og) <- the class's outputs of dy's group g. */
static void gather_dy(const gemm_ctx *c, const float *dy, int threads) {
    const cg_conv2d_desc *d = c->d;
    CG_NN_PARALLEL_FOR(threads, for (int64_t r = 0; r < c->nr; r++) {
        int64_t n, i, j;
        class_row(c, r, &n, &i, &j);
        const float *src = dy + (n * d->oc + c->g * c->og) * c->p + i * d->ow + j;
        float *dst = c->tmp + r * c->og;
        for (int64_t o = 0; o < c->og; o++) dst[o] = src[o * c->p];
    });
}

cg_nn_status cg_conv2d_forward_gemm(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias, float *y,
                            float *work, int blocks, int threads) {
    gemm_ctx c;
    cg_nn_status st = ctx_init(&c, d, work);
    if (st) return st;
    for (c.g = 0; c.g < d->groups && !st; c.g++) {
        transpose_weights(&c, (float *)w, 1, threads);
        for (int64_t rc = 0; rc < c.rows.count && !st; rc++)
            for (int64_t cc = 0; cc < c.cols.count && !st; cc++) {
                class_set(&c, rc, cc);
                if (c.nr == 0) continue;
                if (c.k == 0) {
                    memset(c.tmp, 0, (size_t)(c.nr * c.og) * sizeof *c.tmp);
                } else {
                    im2col(&c, x, threads);
                    /* tmp (R, og) = sum over a of col's block (R, step*tb*cg) x wt's block^T */
                    int64_t step = class_a_step(&c);
                    for (int64_t a = c.al; a < c.ah && !st; a += step)
                        if (sgemm_pieces(0, 1, c.nr, c.og, step * c.tb * c.cg, c.col + (a - c.al) * c.tb * c.cg, c.k,
                                         c.wt + wt_at(&c, a, c.bl), c.ldw, a == c.al ? 0.0f : 1.0f, c.tmp,
                                         c.og, blocks, threads))
                            st = CG_NN_EBACKEND;
                    if (st) break;
                }
                const gemm_ctx *cx = &c;
                CG_NN_PARALLEL_FOR(threads, for (int64_t r = 0; r < cx->nr; r++) {
                    int64_t n, i, j;
                    class_row(cx, r, &n, &i, &j);
                    float *dst = y + (n * d->oc + cx->g * cx->og) * cx->p + i * d->ow + j;
                    const float *src = cx->tmp + r * cx->og;
                    for (int64_t o = 0; o < cx->og; o++)
                        dst[o * cx->p] = src[o] + (bias ? bias[cx->g * cx->og + o] : 0.0f);
                });
            }
    }
    ctx_free(&c);
    return st;
}

cg_nn_status cg_conv2d_backward_data_gemm(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx, float *work,
                                  int blocks, int threads) {
    gemm_ctx c;
    cg_nn_status st = ctx_init(&c, d, work);
    if (st) return st;
    memset(dx, 0, (size_t)(d->n * d->c * d->h * d->w) * sizeof *dx);
    for (c.g = 0; c.g < d->groups && !st; c.g++) {
        transpose_weights(&c, (float *)w, 1, threads);
        for (int64_t rc = 0; rc < c.rows.count && !st; rc++)
            for (int64_t cc = 0; cc < c.cols.count && !st; cc++) {
                class_set(&c, rc, cc);
                if (c.nr == 0 || c.k == 0) continue;
                gather_dy(&c, dy, threads);
                /* dcol's block (R, step*tb*cg) = dy (R, og) x wt's block (og, step*tb*cg) */
                int64_t step = class_a_step(&c);
                for (int64_t a = c.al; a < c.ah && !st; a += step)
                    if (sgemm_pieces(0, 0, c.nr, step * c.tb * c.cg, c.og, c.tmp, c.og, c.wt + wt_at(&c, a, c.bl),
                                     c.ldw, 0.0f, c.col + (a - c.al) * c.tb * c.cg, c.k, blocks, threads))
                        st = CG_NN_EBACKEND;
                if (st) break;
                /* col2im: each image's planes of dx are added to by one thread, the class's outputs in order */
                const gemm_ctx *cx = &c;
                CG_NN_PARALLEL_FOR(threads, for (int64_t n = 0; n < d->n; n++) {
                    const int64_t hw = d->h * d->w;
                    float *img = dx + (n * d->c + cx->g * cx->cg) * hw;
                    for (int64_t q = 0; q < cx->npos; q++) {
                        int64_t i = cx->ri[q / cx->nci], j = cx->ci[q % cx->nci];
                        const float *src = cx->col + (n * cx->npos + q) * cx->k;
                        int64_t base = (i * d->stride_h - d->pad_h) * d->w + j * d->stride_w - d->pad_w; /* may be < 0 */
                        for (int64_t a = cx->al; a < cx->ah; a++)
                            for (int64_t b = cx->bl; b < cx->bh; b++, src += cx->cg) {
                                float *dst = img + (base + a * d->dil_h * d->w + b * d->dil_w);
                                for (int64_t ch = 0; ch < cx->cg; ch++) dst[ch * hw] += src[ch];
                            }
                    }
                });
            }
    }
    ctx_free(&c);
    return st;
}

cg_nn_status cg_conv2d_backward_weights_gemm(const cg_conv2d_desc *d, const float *x, const float *dy, float *dw,
                                     float *dbias, float *work, int blocks, int threads) {
    gemm_ctx c;
    cg_nn_status st = ctx_init(&c, d, work);
    if (st) return st;
    for (c.g = 0; c.g < d->groups && !st; c.g++) {
        /* dwt (og, ldw), wt's layout, summed class by class; taps no output reads are 0 */
        memset(c.wt, 0, (size_t)(c.og * c.ldw) * sizeof *c.wt);
        for (int64_t rc = 0; rc < c.rows.count && !st; rc++)
            for (int64_t cc = 0; cc < c.cols.count && !st; cc++) {
                class_set(&c, rc, cc);
                if (c.nr == 0 || c.k == 0) continue;
                gather_dy(&c, dy, threads);
                im2col(&c, x, threads);
                /* dwt's block (og, step*tb*cg) += dy (R, og)^T x col's block (R, step*tb*cg) */
                int64_t step = class_a_step(&c);
                for (int64_t a = c.al; a < c.ah && !st; a += step)
                    if (sgemm_pieces(1, 0, c.og, step * c.tb * c.cg, c.nr, c.tmp, c.og, c.col + (a - c.al) * c.tb * c.cg,
                                     c.k, 1.0f, c.wt + wt_at(&c, a, c.bl), c.ldw, blocks, threads))
                        st = CG_NN_EBACKEND;
            }
        if (st) break;
        transpose_weights(&c, dw, 0, threads);
    }
    if (dbias && !st) /* each output channel summed over (n, i, j) in that order */
        for (int64_t o = 0; o < d->oc; o++) {
            float s = 0;
            for (int64_t n = 0; n < d->n; n++) {
                const float *src = dy + (n * d->oc + o) * c.p;
                for (int64_t q = 0; q < c.p; q++) s += src[q];
            }
            dbias[o] = s;
        }
    ctx_free(&c);
    return st;
}
