/* conv2d for thin layers: cgrad's own direct kernels, forward and weight
 * backward, where C/groups * KH * KW (the taps T of one output) is at most
 * CG_CONV2D_DIRECT_MAX_TAPS: the cnn's first layer (1 channel, 3x3: 9 taps)
 * and any first layer of a gray or RGB image with a small kernel.
 *
 * Why: oneDNN has no good kernel there.  Its blocked layout pads the one
 * input channel to a 16-channel block, and its plain NCHW path (the old
 * rule's pick) is an im2col + GEMM whose GEMM is 9 deep.  Measured on the
 * 2-core Xeon (AVX-512, 1 thread, process CPU time, batch 64, 1->32 3x3 at
 * 28x28): PyTorch 1.13 0.83 ms forward, 0.81 weight backward; oneDNN plain
 * 0.69 / 1.01; this file: see docs/DESIGN.md's kernel table.
 *
 * How: per image, the T taps are gathered once into T planes of OH*OW
 * floats (S, cpu_conv_direct_impl.h), then the forward is a (OC x T) by
 * (T x OH*OW) product written straight into y's NCHW planes, and the weight
 * backward T dot products per output channel, both vectorised along the
 * output positions at the CPU's level (SSE2, AVX2, AVX-512, chosen at run
 * time as the elementwise loops are, cpu_dispatch.h).  No reorder: x is
 * read as cgrad's NCHW, and y is written (dy read) either in NCHW or in the
 * channel block the network keeps between layers (d->y_block, 8 or 16:
 * docs/DESIGN.md "Kept layouts"), so that the BatchNorm after the cnn's
 * first layer reads it as it is.  The blocked forward and weight backward
 * vectorise along a block's channels instead of the positions but do the
 * same products in the same order: the bits are the plain kernel's either
 * way (tests/test_conv_direct_blocked.c).  (The weight backward first
 * turned each image's dy blocks back into NCHW planes and ran the plain
 * sums: 0.46 ms a call on the AMX Xeon, 0.375 now, batch 64 at 2 threads.)  On the
 * cnn this removed the two layout copies of its 6.4 MB first activation per
 * step (one-thread perf share of cg_cpu_copy_transposed 2.9% -> 0.7%) and
 * 5 MiB of peak memory on a 6,400-image epoch.
 *
 * Same bits on any thread count: the forward gives each image to one
 * thread; the weight backward gives each output channel to one thread,
 * which sums the batch in image order (each image's sum in float vectors,
 * added into a double), so neither depends on how many threads run.
 * Groups: 1 only (cg_conv2d_direct_supports says so; the rule sends the
 * rest elsewhere). */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/cpu_kernels.h"
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

/* ---- the per-level loops ---- */

/* The weight backward's double sums keep this many lanes per (o, t), the widest level's */
#define CG_DIRECT_LANES 16

#define VW 4
#define SUF base
#define TGT
#define VFMA(acc, a, b) ((acc) + (a) * (b))
#define VSPLAT(x) ((vf_base){(x), (x), (x), (x)})
#include "kernels/cpu_conv_direct_impl.h"
#undef VW
#undef SUF
#undef TGT
#undef VFMA
#undef VSPLAT

#define VW 8
#define SUF avx2
#define TGT __attribute__((target("avx2,fma")))
#define VFMA(acc, a, b) ((vf_avx2)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(acc)))
#define VSPLAT(x) ((vf_avx2)_mm256_set1_ps(x))
#include "kernels/cpu_conv_direct_impl.h"
#undef VW
#undef SUF
#undef TGT
#undef VFMA
#undef VSPLAT

#define VW 16
#define SUF avx512
#define TGT __attribute__((target("avx512f,avx2,fma")))
#define VFMA(acc, a, b) ((vf_avx512)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(acc)))
#define VSPLAT(x) ((vf_avx512)_mm512_set1_ps(x))
#include "kernels/cpu_conv_direct_impl.h"
#undef VW
#undef SUF
#undef TGT
#undef VFMA
#undef VSPLAT

typedef void (*fwd_fn)(int, int64_t, int64_t, const float *, const float *, const float *, float *);
typedef void (*fwd_blocked_fn)(int, int64_t, int64_t, int64_t, const float *, const float *, const float *,
                               float *);
typedef void (*wgt_fn)(int, int64_t, int64_t, int64_t, const float *, const float *, double *, double *);
typedef void (*wgt_blocked_fn)(int, int64_t, int64_t, int64_t, int64_t, const float *, const float *, double *,
                               float *);

/* This CPU level's loops, and its vector width (a block must be a multiple of it). */
typedef struct level_loops {
    fwd_fn fwd;
    fwd_blocked_fn fwd_blocked;
    wgt_fn wgt;
    wgt_blocked_fn wgt_blocked;
    int lanes;
} level_loops;

static level_loops level_fns(void) {
    switch (cg_cpu_level_active()) {
    case CG_CPU_AVX512:
        return (level_loops){fwd_image_avx512, fwd_image_blocked_avx512, wgt_image_avx512, wgt_blocked_avx512, 16};
    case CG_CPU_AVX2: return (level_loops){fwd_image_avx2, fwd_image_blocked_avx2, wgt_image_avx2, wgt_blocked_avx2, 8};
    default: return (level_loops){fwd_image_base, fwd_image_blocked_base, wgt_image_base, wgt_blocked_base, 4};
    }
}

/* ---- shared parts ---- */

int cg_conv2d_direct_supports(const cg_conv2d_desc *d) {
    /* y (dy) blocked: in whole blocks of a multiple of this level's vector */
    int64_t yb = d->y_block;
    if (yb && (yb % level_fns().lanes || d->oc % yb)) return 0;
    return d->groups == 1 && d->c * d->kh * d->kw <= CG_CONV2D_DIRECT_MAX_TAPS && !d->x_block;
}

/* Where the double sums start in the workspace, in floats (even: 8-byte
 * aligned): per thread one image's S. */
static int64_t direct_sums_offset(const cg_conv2d_desc *d, int threads) {
    int64_t n = (int64_t)threads * d->c * d->kh * d->kw * d->oh * d->ow;
    return n + (n & 1);
}

/* A blocked dy's extra: its double sums in the kernel's own order (as many
 * as acc's) and, per thread, one vector's float sums (CG_DIRECT_LANES^2 *
 * (T+1) floats at most), after acc. */
static int64_t blocked_sums_floats(const cg_conv2d_desc *d, int threads) {
    int64_t t1 = d->c * d->kh * d->kw + 1;
    return d->y_block ? 2 * CG_DIRECT_LANES * d->oc * t1 + (int64_t)threads * CG_DIRECT_LANES * CG_DIRECT_LANES * t1
                      : 0;
}

int64_t cg_conv2d_direct_workspace(const cg_conv2d_desc *d, int threads) {
    int64_t t = d->c * d->kh * d->kw;
    /* per thread one image's S, then (at an even offset, for alignment) the
     * weight backward's double sums, CG_DIRECT_LANES per (o, t) and per o's
     * bias, 2 floats each; for a blocked dy, blocked_sums_floats more */
    return direct_sums_offset(d, threads) + 2 * CG_DIRECT_LANES * d->oc * (t + 1) + blocked_sums_floats(d, threads);
}

/* S (T, P) of image n: S[(c*KH + a)*KW + b][i*OW + j] = x[n, c, i*sh - ph + a*dh, j*sw - pw + b*dw], 0 off the
 * input.  Rows of a tap that fall outside are zeroed; a row inside is one
 * contiguous copy between its zero margins when the stride is 1. */
static void gather_taps(const cg_conv2d_desc *d, const float *x, int64_t n, float *s) {
    int64_t p = d->oh * d->ow;
    for (int64_t c = 0; c < d->c; c++) {
        const float *plane = x + (n * d->c + c) * d->h * d->w;
        for (int64_t a = 0; a < d->kh; a++)
            for (int64_t b = 0; b < d->kw; b++) {
                float *st = s + ((c * d->kh + a) * d->kw + b) * p;
                /* outputs j whose column j*sw - pw + b*dw lies in [0, W): [jlo, jhi) */
                int64_t off = b * d->dil_w - d->pad_w, jlo = 0, jhi = d->ow;
                while (jlo < d->ow && jlo * d->stride_w + off < 0) jlo++;
                while (jhi > jlo && (jhi - 1) * d->stride_w + off >= d->w) jhi--;
                for (int64_t i = 0; i < d->oh; i++) {
                    float *row = st + i * d->ow;
                    int64_t ih = i * d->stride_h - d->pad_h + a * d->dil_h;
                    if (ih < 0 || ih >= d->h || jhi <= jlo) {
                        memset(row, 0, (size_t)d->ow * sizeof *row);
                        continue;
                    }
                    const float *src = plane + ih * d->w + off;
                    if (jlo) memset(row, 0, (size_t)jlo * sizeof *row);
                    if (d->stride_w == 1) memcpy(row + jlo, src + jlo, (size_t)(jhi - jlo) * sizeof *row);
                    else
                        for (int64_t j = jlo; j < jhi; j++) row[j] = src[j * d->stride_w];
                    if (jhi < d->ow) memset(row + jhi, 0, (size_t)(d->ow - jhi) * sizeof *row);
                }
            }
    }
}

cg_nn_status cg_conv2d_forward_direct(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                      float *y, float *work, int threads) {
    if (!cg_conv2d_direct_supports(d)) return CG_NN_EINVAL;
    level_loops lv = level_fns();
    int T = (int)(d->c * d->kh * d->kw);
    int64_t p = d->oh * d->ow, yb = d->y_block;
    int nt = threads < d->n ? threads : (int)d->n;
    /* images in `nt` contiguous runs, run r on thread r with S at work +
     * r*T*P; an image's outputs are (OC, P) plain or (OC/B, P, B) blocked,
     * OC*P floats either way, with the same bits */
    CG_NN_PARALLEL_FOR(nt, for (int r = 0; r < nt; r++) {
        float *s = work + (int64_t)r * T * p;
        for (int64_t n = d->n * r / nt; n < d->n * (r + 1) / nt; n++) {
            gather_taps(d, x, n, s);
            if (yb) lv.fwd_blocked(T, d->oc, p, yb, s, w, bias, y + n * d->oc * p);
            else lv.fwd(T, d->oc, p, s, w, bias, y + n * d->oc * p);
        }
    });
    return CG_NN_OK;
}

cg_nn_status cg_conv2d_backward_weights_direct(const cg_conv2d_desc *d, const float *x, const float *dy, float *dw,
                                               float *dbias, float *work, int threads) {
    if (!cg_conv2d_direct_supports(d)) return CG_NN_EINVAL;
    level_loops lv = level_fns();
    int T = (int)(d->c * d->kh * d->kw);
    int64_t p = d->oh * d->ow, yb = d->y_block;
    /* output channels (for a blocked dy, whole channel blocks) in `nt`
     * contiguous runs; each thread walks the whole batch in order, gathering
     * each image's taps into its own S, and sums its channels: the same
     * products in the same order for a plain or a blocked dy, so the same
     * bits (wgt_blocked_t) */
    int64_t units = yb ? d->oc / yb : d->oc;
    int nt = threads < units ? threads : (int)units;
    const int64_t T1 = T + 1, lanes = lv.lanes;
    double *acc = (double *)(work + direct_sums_offset(d, threads)), *bacc = acc + CG_DIRECT_LANES * d->oc * T;
    double *dacc = acc + CG_DIRECT_LANES * d->oc * T1; /* blocked dy: (OC/lanes, lanes l, T+1, lanes) */
    float *fa = (float *)(dacc + CG_DIRECT_LANES * d->oc * T1);
    memset(acc, 0, (size_t)(CG_DIRECT_LANES * d->oc * T1 * (yb ? 2 : 1)) * sizeof *acc);
    CG_NN_PARALLEL_FOR(nt, for (int r = 0; r < nt; r++) {
        float *s = work + (int64_t)r * T * p;
        int64_t u0 = units * r / nt, u1 = units * (r + 1) / nt;
        for (int64_t n = 0; n < d->n && u1 > u0; n++) {
            gather_taps(d, x, n, s);
            const float *dy_img = dy + n * d->oc * p;
            if (yb) lv.wgt_blocked(T, u0, u1, p, yb, s, dy_img, dacc, fa + r * CG_DIRECT_LANES * CG_DIRECT_LANES * T1);
            else lv.wgt(T, u0, u1, p, s, dy_img, acc, dbias ? bacc : NULL);
        }
    });
    if (yb) /* the blocked sums into acc's order: (o, t) lane l; dbias after */
        for (int64_t o = 0; o < d->oc; o++)
            for (int64_t t = 0; t < T1; t++)
                for (int64_t l = 0; l < lanes; l++) {
                    double v = dacc[(((o / lanes) * lanes + l) * T1 + t) * lanes + o % lanes];
                    if (t < T) acc[(o * T + t) * CG_DIRECT_LANES + l] = v;
                    else bacc[o * CG_DIRECT_LANES + l] = v;
                }
    /* each sum's lanes, in lane order */
    for (int64_t i = 0; i < d->oc * (T + 1); i++) {
        const double *da = acc + i * CG_DIRECT_LANES;
        double sum = 0;
        for (int l = 0; l < CG_DIRECT_LANES; l++) sum += da[l];
        if (i < d->oc * T) dw[i] = (float)sum;
        else if (dbias) dbias[i - d->oc * T] = (float)sum;
    }
    return CG_NN_OK;
}
