/* conv2d as one SGEMM over the whole batch, for small feature maps.
 *
 * At resnet18's deep layers on 28x28 MNIST the feature maps are 4x4, 2x2
 * and 1x1, and oneDNN's direct kernels, built for large images, run there
 * at 10-30% of their large-image speed (the weight backward of 3x3 512->512
 * at 1x1 took 28-55 ms for 0.3 GFLOP).  Two facts make a GEMM better:
 *  - with the batch folded into the rows, the matrices are big (N*OH*OW =
 *    64..1024 rows, C*KH*KW = 576..4608 columns), where a GEMM library is
 *    at its best, unlike per-image im2col (the 29-39 GFLOP/s);
 *  - taps that read only padding for every output are dropped from the
 *    columns: a 3x3 pad-1 conv on a 1x1 map has one live tap of nine, so
 *    the work shrinks 9x (its weight gradient on those taps is exactly 0).
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
 * Layout of the workspace: col (N*P, K) then tmp (N*P, OC/groups) then the
 * packed weights (OC/groups, K), with P = OH*OW and K = C/groups * live
 * taps; col row r = (n, i, j) holds that output's input patch, column
 * c*T + t the value under live tap t of input channel c.
 *
 * Same bits on any thread count.  A threaded SGEMM (OpenBLAS's, measured,
 * and oneDNN's alike) cuts the sum over k into other blocks than its
 * one-thread SGEMM (the 64x576 weight gradient over k = 784 differs in the
 * last bits between the two), and a run may call a kernel on one thread or
 * on all (cg_nn_tuner).  So every product here is cut into `blocks` fixed
 * pieces along m or n (never k: each element of C stays one sum in one
 * order), each piece a one-thread GEMM call, the pieces on however many
 * threads the call has: the bits depend on `blocks` (the process's thread
 * count), never on `threads`. */
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

/* C (m x n, row-major) = op(A) op(B) in `blocks` pieces along the longer of
 * m and n, on `threads` threads (see above).  Each piece is a one-thread
 * dnnl_sgemm: inside an OpenMP region oneDNN's GEMM runs on the calling
 * thread alone, and outside one it is told one thread. */
static int sgemm_pieces(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float *c, int64_t ldc, int blocks, int threads) {
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
            st = dnnl_sgemm(tra, trb, hi - lo, n, k, 1.0f, ta ? a + lo : a + lo * lda, lda, b, ldb, 0.0f,
                            c + lo * ldc, ldc);
        else
            st = dnnl_sgemm(tra, trb, m, hi - lo, k, 1.0f, a, lda, tb ? b + lo * ldb : b + lo, ldb, 0.0f, c + lo,
                            ldc);
        if (st != dnnl_success) atomic_store(&failed, 1);
    });
    if (nt <= 1) omp_set_num_threads(saved);
    return atomic_load(&failed) ? -1 : 0;
}

/* Live taps: (a, b) read the input for at least one output (i, j). */
static int64_t live_taps(const cg_conv2d_desc *d, int64_t *ta, int64_t *tb) {
    int64_t n = 0;
    for (int64_t a = 0; a < d->kh; a++) {
        int live_a = 0;
        for (int64_t i = 0; i < d->oh && !live_a; i++) {
            int64_t p = i * d->stride_h - d->pad_h + a * d->dil_h;
            live_a = p >= 0 && p < d->h;
        }
        if (!live_a) continue;
        for (int64_t b = 0; b < d->kw; b++) {
            int live_b = 0;
            for (int64_t j = 0; j < d->ow && !live_b; j++) {
                int64_t q = j * d->stride_w - d->pad_w + b * d->dil_w;
                live_b = q >= 0 && q < d->w;
            }
            if (live_b) ta[n] = a, tb[n] = b, n++;
        }
    }
    return n;
}

int64_t cg_conv2d_gemm_workspace(const cg_conv2d_desc *d) {
    int64_t np = d->n * d->oh * d->ow, k = (d->c / d->groups) * d->kh * d->kw, og = d->oc / d->groups;
    return np * k + np * og + og * k;
}

typedef struct gemm_ctx {
    const cg_conv2d_desc *d;
    int64_t g, ntaps, np, k, og, cg, p;
    int64_t ta[CG_CONV2D_GEMM_MAX_TAPS], tb[CG_CONV2D_GEMM_MAX_TAPS];
    float *col, *tmp, *wp;
} gemm_ctx;

static void ctx_init(gemm_ctx *c, const cg_conv2d_desc *d, float *work) {
    c->d = d;
    c->ntaps = live_taps(d, c->ta, c->tb);
    c->cg = d->c / d->groups, c->og = d->oc / d->groups;
    c->p = d->oh * d->ow, c->np = d->n * c->p, c->k = c->cg * c->ntaps;
    c->col = work, c->tmp = work + c->np * c->k, c->wp = c->tmp + c->np * c->og;
}

static void im2col(const gemm_ctx *c, const float *x, int threads) {
    const cg_conv2d_desc *d = c->d;
    const int64_t K = c->k, T = c->ntaps;
    CG_NN_PARALLEL_FOR(threads, for (int64_t r = 0; r < c->np; r++) {
        int64_t n = r / c->p, i = (r % c->p) / d->ow, j = r % d->ow;
        float *row = c->col + r * K;
        for (int64_t ch = 0; ch < c->cg; ch++) {
            const float *plane = x + (n * d->c + c->g * c->cg + ch) * d->h * d->w;
            for (int64_t t = 0; t < T; t++) {
                int64_t ih = i * d->stride_h - d->pad_h + c->ta[t] * d->dil_h;
                int64_t iw = j * d->stride_w - d->pad_w + c->tb[t] * d->dil_w;
                row[ch * T + t] = ih >= 0 && ih < d->h && iw >= 0 && iw < d->w ? plane[ih * d->w + iw] : 0.0f;
            }
        }
    });
}

/* wp[o][ch*T + t] = w[g*og + o][ch][ta[t]][tb[t]] */
static void pack_weights(const gemm_ctx *c, const float *w) {
    const cg_conv2d_desc *d = c->d;
    for (int64_t o = 0; o < c->og; o++)
        for (int64_t ch = 0; ch < c->cg; ch++)
            for (int64_t t = 0; t < c->ntaps; t++)
                c->wp[o * c->k + ch * c->ntaps + t] =
                    w[(((c->g * c->og + o) * c->cg + ch) * d->kh + c->ta[t]) * d->kw + c->tb[t]];
}

/* tmp (N*P, og) <- dy's group g, transposed from (N, OC, P). */
static void gather_dy(const gemm_ctx *c, const float *dy, int threads) {
    const cg_conv2d_desc *d = c->d;
    CG_NN_PARALLEL_FOR(threads, for (int64_t n = 0; n < d->n; n++) {
        for (int64_t o = 0; o < c->og; o++) {
            const float *src = dy + (n * d->oc + c->g * c->og + o) * c->p;
            for (int64_t q = 0; q < c->p; q++) c->tmp[(n * c->p + q) * c->og + o] = src[q];
        }
    });
}

cg_nn_status cg_conv2d_forward_gemm(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias, float *y,
                            float *work, int blocks, int threads) {
    gemm_ctx c;
    if (d->kh * d->kw > CG_CONV2D_GEMM_MAX_TAPS) return CG_NN_EINVAL;
    ctx_init(&c, d, work);
    for (c.g = 0; c.g < d->groups; c.g++) {
        if (c.k == 0) {
            memset(c.tmp, 0, (size_t)(c.np * c.og) * sizeof *c.tmp);
        } else {
            im2col(&c, x, threads);
            pack_weights(&c, w);
            if (sgemm_pieces(0, 1, c.np, c.og, c.k, c.col, c.k, c.wp, c.k, c.tmp, c.og, blocks, threads))
                return CG_NN_EBACKEND;
        }
        CG_NN_PARALLEL_FOR(threads, for (int64_t n = 0; n < d->n; n++) {
            for (int64_t o = 0; o < c.og; o++) {
                float *dst = y + (n * d->oc + c.g * c.og + o) * c.p;
                float b = bias ? bias[c.g * c.og + o] : 0.0f;
                for (int64_t q = 0; q < c.p; q++) dst[q] = c.tmp[(n * c.p + q) * c.og + o] + b;
            }
        });
    }
    return CG_NN_OK;
}

cg_nn_status cg_conv2d_backward_data_gemm(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx, float *work,
                                  int blocks, int threads) {
    gemm_ctx c;
    if (d->kh * d->kw > CG_CONV2D_GEMM_MAX_TAPS) return CG_NN_EINVAL;
    ctx_init(&c, d, work);
    for (c.g = 0; c.g < d->groups; c.g++) {
        const gemm_ctx *cc = &c;
        if (c.k > 0) {
            gather_dy(&c, dy, threads);
            pack_weights(&c, w);
            /* dcol (N*P, K) = dy^T (N*P, og) x wp (og, K) */
            if (sgemm_pieces(0, 0, c.np, c.k, c.og, c.tmp, c.og, c.wp, c.k, c.col, c.k, blocks, threads))
                return CG_NN_EBACKEND;
        }
        /* col2im: each (n, channel) plane of dx is written by one thread */
        CG_NN_PARALLEL_FOR(threads, for (int64_t pl = 0; pl < d->n * cc->cg; pl++) {
            int64_t n = pl / cc->cg, ch = pl % cc->cg, T = cc->ntaps;
            float *plane = dx + (n * d->c + cc->g * cc->cg + ch) * d->h * d->w;
            memset(plane, 0, (size_t)(d->h * d->w) * sizeof *plane);
            for (int64_t q = 0; q < cc->p && T > 0; q++) {
                int64_t i = q / d->ow, j = q % d->ow;
                const float *row = cc->col + (n * cc->p + q) * cc->k + ch * T;
                for (int64_t t = 0; t < T; t++) {
                    int64_t ih = i * d->stride_h - d->pad_h + cc->ta[t] * d->dil_h;
                    int64_t iw = j * d->stride_w - d->pad_w + cc->tb[t] * d->dil_w;
                    if (ih >= 0 && ih < d->h && iw >= 0 && iw < d->w) plane[ih * d->w + iw] += row[t];
                }
            }
        });
    }
    return CG_NN_OK;
}

cg_nn_status cg_conv2d_backward_weights_gemm(const cg_conv2d_desc *d, const float *x, const float *dy, float *dw,
                                     float *dbias, float *work, int blocks, int threads) {
    gemm_ctx c;
    if (d->kh * d->kw > CG_CONV2D_GEMM_MAX_TAPS) return CG_NN_EINVAL;
    ctx_init(&c, d, work);
    memset(dw, 0, (size_t)(d->oc * c.cg * d->kh * d->kw) * sizeof *dw); /* dead taps stay 0 */
    for (c.g = 0; c.g < d->groups; c.g++) {
        gather_dy(&c, dy, threads);
        if (c.k > 0) {
            im2col(&c, x, threads);
            /* dwp (og, K) = dy (N*P, og)^T x col (N*P, K) */
            if (sgemm_pieces(1, 0, c.og, c.k, c.np, c.tmp, c.og, c.col, c.k, c.wp, c.k, blocks, threads))
                return CG_NN_EBACKEND;
            for (int64_t o = 0; o < c.og; o++)
                for (int64_t ch = 0; ch < c.cg; ch++)
                    for (int64_t t = 0; t < c.ntaps; t++)
                        dw[(((c.g * c.og + o) * c.cg + ch) * d->kh + c.ta[t]) * d->kw + c.tb[t]] =
                            c.wp[o * c.k + ch * c.ntaps + t];
        }
        if (dbias)
            for (int64_t o = 0; o < c.og; o++) {
                float s = 0;
                for (int64_t r = 0; r < c.np; r++) s += c.tmp[r * c.og + o];
                dbias[c.g * c.og + o] = s;
            }
    }
    return CG_NN_OK;
}
