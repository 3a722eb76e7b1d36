/* batch_norm kernels: training and eval forward, backward (nn_kernels.h).
 *
 * x is (N,C,HW); channel c's values are the N runs x[n*C*HW + c*HW + 0..HW-1].
 * The fast kernels give each OpenMP thread whole channels (C is 32..512 in
 * the models here, so the split is even and no reduction crosses threads)
 * and reduce in float with `omp simd` lanes over HW, two passes (mean, then
 * the squared deviations: no cancellation of E[x^2]-E[x]^2).  Per channel
 * the float sums over N*HW <= 64*784 values stay within 1e-6 relative of
 * the double sums of the reference kernels.
 *
 * d->relu fuses the ReLU that follows: the forward writes relu(y), and the
 * backward masks dy by that output (y > 0) as it reads it, instead of a
 * ReLU pass writing y and its backward writing a masked copy of dy. */
#include <math.h>
#include <stdio.h>

#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

/* relu(v) when the ReLU is fused (cgrad's relu: v > 0 ? v : 0) */
static inline float relu_if(bool relu, float v) { return relu && !(v > 0) ? 0.0f : v; }
/* g masked by the fused ReLU's output y (y > 0 ? g : 0), y NULL: g.  g comes
 * in loaded (a function argument), so the loops stay branch-free: a select
 * the vectoriser keeps in the same lanes as the unmasked loop's. */
static inline float masked(const float *y, int64_t k, float g) { return y && !(y[k] > 0) ? 0.0f : g; }

cg_nn_status cg_batchnorm_desc_init(const cg_batchnorm_desc *d, bool training, char *msg, size_t msg_size) {
    const char *why = NULL;
    long long v = 0;
    if (d->n < 1) why = "n must be >= 1", v = d->n;
    else if (d->c < 1) why = "c must be >= 1", v = d->c;
    else if (d->hw < 1) why = "hw must be >= 1", v = d->hw;
    else if (d->n > ((int64_t)1 << 62) / d->c || d->n * d->c > ((int64_t)1 << 62) / d->hw)
        why = "n*c*hw overflows, n", v = d->n;
    else if (training && d->n * d->hw < 2) why = "expected more than 1 value per channel when training, n*hw", v = d->n * d->hw;
    else if (d->block != 0 && d->block != 8 && d->block != 16)
        why = "block must be 0 (plain), 8 or 16, block", v = d->block;
    else if (d->block && d->c % d->block) why = "the blocked layout needs c a multiple of block, c", v = d->c;
    if (why) {
        if (msg && msg_size) snprintf(msg, msg_size, "batch_norm: %s = %lld", why, v);
        return CG_NN_EINVAL;
    }
    if (!(d->eps > 0) || !(d->momentum >= 0 && d->momentum <= 1)) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "batch_norm: eps = %g must be > 0 and momentum = %g in [0, 1]", d->eps,
                     d->momentum);
        return CG_NN_EINVAL;
    }
    return CG_NN_OK;
}

/* running = (1-m)*running + m*value, PyTorch's update. */
static void update_running(const cg_batchnorm_desc *d, int64_t c, double mean, double var, float *running_mean,
                           float *running_var) {
    int64_t m = d->n * d->hw;
    if (running_mean) running_mean[c] = (float)((1 - d->momentum) * running_mean[c] + d->momentum * mean);
    if (running_var)
        running_var[c] = (float)((1 - d->momentum) * running_var[c] + d->momentum * var * (double)m / (double)(m - 1));
}

/* ---- reference: the definitions, double sums, one thread ---- */

/* Where value (n, c, k) of x, y, dy, dx lives, in either layout (d->block). */
static inline int64_t at(const cg_batchnorm_desc *d, int64_t n, int64_t c, int64_t k) {
    if (!d->block) return (n * d->c + c) * d->hw + k;
    return cg_layout_blocked_index(d->c, d->hw, d->block, n, c, k);
}

void cg_batchnorm_forward_train_ref(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                    const float *beta, float *y, float *save_mean, float *save_invstd,
                                    float *running_mean, float *running_var) {
    int64_t m = d->n * d->hw;
    for (int64_t c = 0; c < d->c; c++) {
        double s = 0, q = 0;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) s += x[at(d, n, c, k)];
        double mean = s / (double)m;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) {
                double t = x[at(d, n, c, k)] - mean;
                q += t * t;
            }
        double var = q / (double)m, invstd = 1 / sqrt(var + d->eps);
        double g = gamma ? gamma[c] : 1, b = beta ? beta[c] : 0;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) {
                int64_t i = at(d, n, c, k);
                y[i] = relu_if(d->relu, (float)((x[i] - mean) * invstd * g + b));
            }
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        update_running(d, c, mean, var, running_mean, running_var);
    }
}

void cg_batchnorm_backward_ref(const cg_batchnorm_desc *d, bool training, const float *dy_in, const float *x,
                               const float *y, const float *gamma, const float *save_mean,
                               const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
    double m = (double)(d->n * d->hw);
    const float *mask = d->relu ? y : NULL;
#define dy(i) masked(mask, i, dy_in[i])
    for (int64_t c = 0; c < d->c; c++) {
        double mean = save_mean[c], invstd = save_invstd[c], g = gamma ? gamma[c] : 1;
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) {
                int64_t i = at(d, n, c, k);
                sdy += dy(i);
                sdyx += dy(i) * (x[i] - mean) * invstd;
            }
        if (dbeta) dbeta[c] = (float)sdy;
        if (dgamma) dgamma[c] = (float)sdyx;
        if (!dx) continue;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) {
                int64_t i = at(d, n, c, k);
                double xhat = (x[i] - mean) * invstd;
                dx[i] = (float)(training ? g * invstd * (dy(i) - sdy / m - xhat * sdyx / m) : g * invstd * dy(i));
            }
    }
#undef dy
}

/* ---- fast: whole channels per thread, simd lanes over HW ---- */

/* The channel path's sums (train_channel, backward_channel): a channel's
 * values are d->n runs of HW, one per image, and each run is summed in float
 * simd lanes, then added into the channel's double total in image order.
 * One run at a time, that sum is a chain of dependent vector adds (addps'
 * latency, not memory, set the pace: ~1.3 floats a cycle at one
 * accumulator); ROWS images' runs go through one loop instead, each with its
 * own accumulator, so ROWS chains overlap.  Each run is still summed exactly
 * as alone (its own lanes, in the same order) and the runs are added in the
 * same order, so the bits are the one-run loop's. */
#define ROWS 4

static void train_channel(const cg_batchnorm_desc *d, int64_t c, const float *x, const float *gamma,
                          const float *beta, float *y, float *save_mean, float *save_invstd, float *running_mean,
                          float *running_var) {
    const int64_t C = d->c, HW = d->hw, RS = C * HW; /* RS: one image's stride */
    double s = 0;
    int64_t n0 = 0;
    for (; n0 + ROWS <= d->n; n0 += ROWS) { /* ROWS images at once: see ROWS */
        const float *r0 = x + (n0 * C + c) * HW, *r1 = r0 + RS, *r2 = r1 + RS, *r3 = r2 + RS;
        float p0 = 0, p1 = 0, p2 = 0, p3 = 0;
#pragma omp simd reduction(+ : p0, p1, p2, p3)
        for (int64_t k = 0; k < HW; k++) p0 += r0[k], p1 += r1[k], p2 += r2[k], p3 += r3[k];
        s += p0, s += p1, s += p2, s += p3;
    }
    for (int64_t n = n0; n < d->n; n++) {
        const float *xr = x + (n * C + c) * HW;
        float ps = 0;
#pragma omp simd reduction(+ : ps)
        for (int64_t k = 0; k < HW; k++) ps += xr[k];
        s += ps;
    }
    double m = (double)(d->n * HW), mean = s / m;
    float fm = (float)mean;
    double q = 0;
    for (n0 = 0; n0 + ROWS <= d->n; n0 += ROWS) {
        const float *r0 = x + (n0 * C + c) * HW, *r1 = r0 + RS, *r2 = r1 + RS, *r3 = r2 + RS;
        float p0 = 0, p1 = 0, p2 = 0, p3 = 0;
#pragma omp simd reduction(+ : p0, p1, p2, p3)
        for (int64_t k = 0; k < HW; k++) {
            p0 += (r0[k] - fm) * (r0[k] - fm), p1 += (r1[k] - fm) * (r1[k] - fm);
            p2 += (r2[k] - fm) * (r2[k] - fm), p3 += (r3[k] - fm) * (r3[k] - fm);
        }
        q += p0, q += p1, q += p2, q += p3;
    }
    for (int64_t n = n0; n < d->n; n++) {
        const float *xr = x + (n * C + c) * HW;
        float pq = 0;
#pragma omp simd reduction(+ : pq)
        for (int64_t k = 0; k < HW; k++) pq += (xr[k] - fm) * (xr[k] - fm);
        q += pq;
    }
    double var = q / m, invstd = 1 / sqrt(var + d->eps);
    float scale = (float)(invstd * (gamma ? gamma[c] : 1)), shift = (float)((beta ? beta[c] : 0) - mean * scale);
    for (int64_t n = 0; n < d->n; n++) {
        const float *xr = x + (n * C + c) * HW;
        float *yr = y + (n * C + c) * HW;
        if (d->relu) {
#pragma omp simd
            for (int64_t k = 0; k < HW; k++) {
                float v = xr[k] * scale + shift;
                yr[k] = v > 0 ? v : 0.0f;
            }
        } else {
#pragma omp simd
            for (int64_t k = 0; k < HW; k++) yr[k] = xr[k] * scale + shift;
        }
    }
    save_mean[c] = fm;
    save_invstd[c] = (float)invstd;
    update_running(d, c, mean, var, running_mean, running_var);
}

/* Small maps (HW < SMALL_HW: BatchNorm1d, resnet's 4x4..1x1): a channel's
 * values are short runs C*HW apart, so walking one channel at a time reads
 * memory in strides; these passes walk x in order instead and keep the
 * per-channel sums in arrays (the 512x1x1 forward: 0.23 -> ~0.03 ms).  One
 * thread: at these sizes (N*C*HW <= 64*512*16) a team costs more than it
 * saves. */
#define SMALL_HW 32
#define SMALL_MAX_C 1024

static void train_small(const cg_batchnorm_desc *d, const float *x, const float *gamma, const float *beta,
                        float *y, float *save_mean, float *save_invstd, float *running_mean, float *running_var) {
    const int64_t C = d->c, HW = d->hw;
    double sum[SMALL_MAX_C], sq[SMALL_MAX_C], m = (double)(d->n * HW);
    float scale[SMALL_MAX_C], shift[SMALL_MAX_C];
    for (int64_t c = 0; c < C; c++) sum[c] = 0, sq[c] = 0;
    if (HW == 1) { /* (N, C): rows of C, vectorised across channels */
        for (int64_t n = 0; n < d->n; n++) {
            const float *xr = x + n * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) sum[c] += xr[c];
        }
    } else {
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t c = 0; c < C; c++) {
                const float *xr = x + (n * C + c) * HW;
                float a = 0;
#pragma omp simd reduction(+ : a)
                for (int64_t k = 0; k < HW; k++) a += xr[k];
                sum[c] += a;
            }
    }
    for (int64_t c = 0; c < C; c++) save_mean[c] = (float)(sum[c] / m);
    if (HW == 1) {
        for (int64_t n = 0; n < d->n; n++) {
            const float *xr = x + n * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) sq[c] += (xr[c] - save_mean[c]) * (xr[c] - save_mean[c]);
        }
    } else {
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t c = 0; c < C; c++) {
                const float *xr = x + (n * C + c) * HW;
                float a = 0, mu = save_mean[c];
#pragma omp simd reduction(+ : a)
                for (int64_t k = 0; k < HW; k++) a += (xr[k] - mu) * (xr[k] - mu);
                sq[c] += a;
            }
    }
    for (int64_t c = 0; c < C; c++) {
        double mean = sum[c] / m, var = sq[c] / m, invstd = 1 / sqrt(var + d->eps);
        scale[c] = (float)(invstd * (gamma ? gamma[c] : 1));
        shift[c] = (float)((beta ? beta[c] : 0) - mean * scale[c]);
        save_invstd[c] = (float)invstd;
        update_running(d, c, mean, var, running_mean, running_var);
    }
    for (int64_t n = 0; n < d->n; n++) {
        if (HW == 1) {
#pragma omp simd
            for (int64_t c = 0; c < C; c++) y[n * C + c] = relu_if(d->relu, x[n * C + c] * scale[c] + shift[c]);
            continue;
        }
        for (int64_t c = 0; c < C; c++) {
            const float *xr = x + (n * C + c) * HW;
            float *yr = y + (n * C + c) * HW, sc = scale[c], sh = shift[c];
#pragma omp simd
            for (int64_t k = 0; k < HW; k++) yr[k] = relu_if(d->relu, xr[k] * sc + sh);
        }
    }
}

/* Small maps, HW in 2..SMALL_HW-1 with C*HW up to ~ROW_BLOCKS*ROW_MAX
 * (resnet's 128x4x4 and 256x2x2, the cnn's 256x4x4): one image's C*HW values are one contiguous row, and channel c
 * owns the row's run [c*HW, (c+1)*HW).  train_small/backward_small walk
 * those runs of 4 or 16 values one channel at a time, in loops too short to
 * vectorise (256x2x2 took longer than 128x4x4, half its work), on one
 * thread (128x4x4 backward 1.20 of PyTorch's time on two).  These walk
 * rows instead: acc[j] += x[n][j] over the images in order (every j
 * independent, so it vectorises at any width, with the same bits at every
 * width), in float over blocks of IMG_BLOCK images, each block's sums then
 * added into double (float lanes are twice as wide; the blocks keep the
 * float error at that of 8 terms), then each channel adds its HW partial
 * sums in order.  Per-value coefficients (mean, scale, shift) are spread
 * over the row once, so every pass over x is a plain row loop.  The
 * channels are cut into ROW_BLOCKS fixed ranges, the unit of work for the
 * threads; a channel's result does not depend on the cut or the threads.
 * Stack per range (its run of a row, at most ROW_MAX values): ROW_MAX
 * doubles twice and floats three times. */
#define ROW_MAX 2048
#define IMG_BLOCK 8
#define ROW_BLOCKS 4

/* channel c's total of acc's run */
static double run_total(const double *acc, int64_t c, int64_t hw) {
    double t = 0;
    for (int64_t k = 0; k < hw; k++) t += acc[c * hw + k];
    return t;
}

/* acc[j] = sum over images i of EXPR (x row i at xr), j < seg, in float
 * IMG_BLOCK images at a time (facc), each block then added in double */
#define BLOCKED_ROW_SUMS(acc, facc, N, seg, row, base, EXPR)                       \
    do {                                                                           \
        for (int64_t j = 0; j < (seg); j++) (acc)[j] = 0;                          \
        for (int64_t i0 = 0; i0 < (N); i0 += IMG_BLOCK) {                          \
            int64_t i1 = i0 + IMG_BLOCK < (N) ? i0 + IMG_BLOCK : (N);              \
            for (int64_t j = 0; j < (seg); j++) (facc)[j] = 0;                     \
            for (int64_t i = i0; i < i1; i++) {                                    \
                const float *xr = (base) + i * (row);                              \
                for (int64_t j = 0; j < (seg); j++) (facc)[j] += (EXPR);           \
            }                                                                      \
            for (int64_t j = 0; j < (seg); j++) (acc)[j] += (facc)[j];             \
        }                                                                          \
    } while (0)

/* Channels [c0, c1) of the batch: their runs of every image's row. */
static void train_rows(const cg_batchnorm_desc *d, int64_t c0, int64_t c1, const float *x, const float *gamma,
                       const float *beta, float *y, float *save_mean, float *save_invstd, float *running_mean,
                       float *running_var) {
    const int64_t HW = d->hw, row = d->c * HW, N = d->n, seg = (c1 - c0) * HW;
    const double m = (double)(N * HW);
    const float *xs = x + c0 * HW;
    double acc[ROW_MAX];
    float facc[ROW_MAX], mu[ROW_MAX];
    BLOCKED_ROW_SUMS(acc, facc, N, seg, row, xs, xr[j]);
    for (int64_t c = 0; c < c1 - c0; c++) {
        save_mean[c0 + c] = (float)(run_total(acc, c, HW) / m);
        for (int64_t k = 0; k < HW; k++) mu[c * HW + k] = save_mean[c0 + c];
    }
    BLOCKED_ROW_SUMS(acc, facc, N, seg, row, xs, (xr[j] - mu[j]) * (xr[j] - mu[j]));
    float *scale = facc, *shift = mu; /* both free again */
    for (int64_t c = 0; c < c1 - c0; c++) {
        int64_t cc = c0 + c;
        double mean = save_mean[cc], var = run_total(acc, c, HW) / m, invstd = 1 / sqrt(var + d->eps);
        float sc = (float)(invstd * (gamma ? gamma[cc] : 1)), sh = (float)((beta ? beta[cc] : 0) - mean * sc);
        save_invstd[cc] = (float)invstd;
        update_running(d, cc, mean, var, running_mean, running_var);
        for (int64_t k = 0; k < HW; k++) scale[c * HW + k] = sc, shift[c * HW + k] = sh;
    }
    for (int64_t i = 0; i < N; i++) {
        const float *xr = xs + i * row;
        float *yr = y + c0 * HW + i * row;
        for (int64_t j = 0; j < seg; j++) yr[j] = relu_if(d->relu, xr[j] * scale[j] + shift[j]);
    }
}

static void backward_rows(const cg_batchnorm_desc *d, int64_t c0, int64_t c1, bool training, const float *dy,
                          const float *x, const float *y, const float *gamma, const float *save_mean,
                          const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
    const int64_t HW = d->hw, row = d->c * HW, N = d->n, seg = (c1 - c0) * HW;
    const double m = (double)(N * HW);
    const float *xs = x + c0 * HW, *gs = dy + c0 * HW, *ys = d->relu ? y + c0 * HW : NULL;
    double sdy[ROW_MAX], sdyx[ROW_MAX];
    float mu[ROW_MAX], kk[ROW_MAX], aa[ROW_MAX];
    for (int64_t c = 0; c < c1 - c0; c++)
        for (int64_t k = 0; k < HW; k++) mu[c * HW + k] = save_mean[c0 + c];
    /* both sums in one pass, blocked as BLOCKED_ROW_SUMS; kk and aa hold the
     * float block sums until they get their values */
    for (int64_t j = 0; j < seg; j++) sdy[j] = 0, sdyx[j] = 0;
    for (int64_t i0 = 0; i0 < N; i0 += IMG_BLOCK) {
        int64_t i1 = i0 + IMG_BLOCK < N ? i0 + IMG_BLOCK : N;
        for (int64_t j = 0; j < seg; j++) kk[j] = 0, aa[j] = 0;
        for (int64_t i = i0; i < i1; i++) {
            const float *xr = xs + i * row, *gr = gs + i * row, *yr = ys ? ys + i * row : NULL;
            for (int64_t j = 0; j < seg; j++) {
                float gv = masked(yr, j, gr[j]);
                kk[j] += gv;
                aa[j] += gv * (xr[j] - mu[j]);
            }
        }
        for (int64_t j = 0; j < seg; j++) sdy[j] += kk[j], sdyx[j] += aa[j];
    }
    float *bb = mu; /* dx = k*dy + a*x + b, each value's k, a, b */
    for (int64_t c = 0; c < c1 - c0; c++) {
        int64_t cc = c0 + c;
        double invstd = save_invstd[cc], g = gamma ? gamma[cc] : 1;
        double s0 = run_total(sdy, c, HW), s1 = run_total(sdyx, c, HW) * invstd;
        if (dbeta) dbeta[cc] = (float)s0;
        if (dgamma) dgamma[cc] = (float)s1;
        float k = (float)(g * invstd);
        float a = training ? (float)(-g * invstd * invstd * s1 / m) : 0.0f;
        float b = training ? (float)(-g * invstd * s0 / m - (double)a * save_mean[cc]) : 0.0f;
        for (int64_t j = c * HW; j < (c + 1) * HW; j++) kk[j] = k, aa[j] = a, bb[j] = b;
    }
    if (!dx) return;
    for (int64_t i = 0; i < N; i++) {
        const float *xr = xs + i * row, *gr = gs + i * row, *yr = ys ? ys + i * row : NULL;
        float *dr = dx + c0 * HW + i * row;
        for (int64_t j = 0; j < seg; j++) dr[j] = kk[j] * masked(yr, j, gr[j]) + aa[j] * xr[j] + bb[j];
    }
}

static bool rows_fit(const cg_batchnorm_desc *d) { /* each range's run of a row fits the stack arrays */
    return d->hw > 1 && d->hw < SMALL_HW && (d->c + ROW_BLOCKS - 1) / ROW_BLOCKS * d->hw <= ROW_MAX;
}

/* range b of ROW_BLOCKS: channels [C*b/ROW_BLOCKS, C*(b+1)/ROW_BLOCKS) */
#define ROW_C0(d, b) ((d)->c * (b) / ROW_BLOCKS)

void cg_batchnorm_forward_train(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                                const float *beta, float *y, float *save_mean, float *save_invstd,
                                float *running_mean, float *running_var) {
    if (d->block) {
        cg_batchnorm_forward_train_blocked(d, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
        return;
    }
    if (rows_fit(d)) {
        CG_NN_TUNED_FOR(CG_NN_TUNE_BN_FWD, d->n * d->c * d->hw,
                        for (int b = 0; b < ROW_BLOCKS; b++) train_rows(d, ROW_C0(d, b), ROW_C0(d, b + 1), x, gamma,
                                                                        beta, y, save_mean, save_invstd,
                                                                        running_mean, running_var););
        return;
    }
    if (d->hw < SMALL_HW && d->c <= SMALL_MAX_C && d->n * d->c * d->hw <= 64 * 512 * 16) {
        train_small(d, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_BN_FWD, d->n * d->c * d->hw,
                    for (int64_t c = 0; c < d->c; c++)
                        train_channel(d, c, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var););
}

static void eval_channel(const cg_batchnorm_desc *d, int64_t c, const float *x, const float *gamma,
                         const float *beta, const float *running_mean, const float *running_var, float *y,
                         float *save_mean, float *save_invstd) {
    double invstd = 1 / sqrt((double)running_var[c] + d->eps);
    float scale = (float)(invstd * (gamma ? gamma[c] : 1));
    float shift = (float)((beta ? beta[c] : 0) - (double)running_mean[c] * scale);
    for (int64_t n = 0; n < d->n; n++) {
        const float *xr = x + (n * d->c + c) * d->hw;
        float *yr = y + (n * d->c + c) * d->hw;
        if (d->relu) {
#pragma omp simd
            for (int64_t k = 0; k < d->hw; k++) {
                float v = xr[k] * scale + shift;
                yr[k] = v > 0 ? v : 0.0f;
            }
        } else {
#pragma omp simd
            for (int64_t k = 0; k < d->hw; k++) yr[k] = xr[k] * scale + shift;
        }
    }
    if (save_mean) save_mean[c] = running_mean[c];
    if (save_invstd) save_invstd[c] = (float)invstd;
}

void cg_batchnorm_forward_eval(const cg_batchnorm_desc *d, const float *x, const float *gamma,
                               const float *beta, const float *running_mean, const float *running_var,
                               float *y, float *save_mean, float *save_invstd) {
    if (d->block) {
        cg_batchnorm_forward_eval_blocked(d, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_BN_FWD, d->n * d->c * d->hw,
                    for (int64_t c = 0; c < d->c; c++) eval_channel(d, c, x, gamma, beta, running_mean,
                                                                    running_var, y, save_mean, save_invstd););
}

static void backward_channel(const cg_batchnorm_desc *d, int64_t c, bool training, const float *dy,
                             const float *x, const float *y, const float *gamma, const float *save_mean,
                             const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
    const int64_t C = d->c, HW = d->hw;
    float mean = save_mean[c], invstd = save_invstd[c];
    double sdy = 0, sdyx = 0;
    const int64_t RS = C * HW;
    int64_t n0 = 0;
    for (; n0 + ROWS <= d->n; n0 += ROWS) { /* ROWS images at once: see ROWS */
        const float *x0 = x + (n0 * C + c) * HW, *x1 = x0 + RS, *x2 = x1 + RS, *x3 = x2 + RS;
        const float *g0 = dy + (n0 * C + c) * HW, *g1 = g0 + RS, *g2 = g1 + RS, *g3 = g2 + RS;
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        if (y) {
            const float *y0 = y + (n0 * C + c) * HW, *y1 = y0 + RS, *y2 = y1 + RS, *y3 = y2 + RS;
#pragma omp simd reduction(+ : a0, a1, a2, a3, b0, b1, b2, b3)
            for (int64_t k = 0; k < HW; k++) {
                float v0 = masked(y0, k, g0[k]), v1 = masked(y1, k, g1[k]);
                float v2 = masked(y2, k, g2[k]), v3 = masked(y3, k, g3[k]);
                a0 += v0, b0 += v0 * (x0[k] - mean);
                a1 += v1, b1 += v1 * (x1[k] - mean);
                a2 += v2, b2 += v2 * (x2[k] - mean);
                a3 += v3, b3 += v3 * (x3[k] - mean);
            }
        } else {
#pragma omp simd reduction(+ : a0, a1, a2, a3, b0, b1, b2, b3)
            for (int64_t k = 0; k < HW; k++) {
                a0 += g0[k], b0 += g0[k] * (x0[k] - mean);
                a1 += g1[k], b1 += g1[k] * (x1[k] - mean);
                a2 += g2[k], b2 += g2[k] * (x2[k] - mean);
                a3 += g3[k], b3 += g3[k] * (x3[k] - mean);
            }
        }
        sdy += a0, sdy += a1, sdy += a2, sdy += a3;
        sdyx += b0, sdyx += b1, sdyx += b2, sdyx += b3;
    }
    for (int64_t n = n0; n < d->n; n++) {
        const float *xr = x + (n * C + c) * HW, *gr = dy + (n * C + c) * HW;
        const float *yr = y ? y + (n * C + c) * HW : NULL;
        float a = 0, b = 0;
        if (yr) {
#pragma omp simd reduction(+ : a, b)
            for (int64_t k = 0; k < HW; k++) {
                float gv = masked(yr, k, gr[k]);
                a += gv;
                b += gv * (xr[k] - mean);
            }
        } else {
#pragma omp simd reduction(+ : a, b)
            for (int64_t k = 0; k < HW; k++) {
                a += gr[k];
                b += gr[k] * (xr[k] - mean);
            }
        }
        sdy += a;
        sdyx += b;
    }
    sdyx *= invstd; /* sum dy * xhat */
    if (dbeta) dbeta[c] = (float)sdy;
    if (dgamma) dgamma[c] = (float)sdyx;
    if (!dx) return;
    double m = (double)(d->n * HW), g = gamma ? gamma[c] : 1;
    /* dx = k*dy + a*x + b with k = g*invstd, and in training
     * a = -k*invstd*sdyx/m, b = -k*sdy/m - a*mean. */
    float k = (float)(g * invstd);
    float a = training ? (float)(-g * invstd * invstd * sdyx / m) : 0.0f;
    float b = training ? (float)(-g * invstd * sdy / m - (double)a * mean) : 0.0f;
    for (int64_t n = 0; n < d->n; n++) {
        const float *xr = x + (n * C + c) * HW, *gr = dy + (n * C + c) * HW;
        const float *yr = y ? y + (n * C + c) * HW : NULL;
        float *dr = dx + (n * C + c) * HW;
        if (yr) {
#pragma omp simd
            for (int64_t j = 0; j < HW; j++) dr[j] = k * masked(yr, j, gr[j]) + a * xr[j] + b;
        } else {
#pragma omp simd
            for (int64_t j = 0; j < HW; j++) dr[j] = k * gr[j] + a * xr[j] + b;
        }
    }
}

static void backward_small(const cg_batchnorm_desc *d, bool training, const float *dy, const float *x,
                           const float *y, const float *gamma, const float *save_mean, const float *save_invstd,
                           float *dx, float *dgamma, float *dbeta) {
    const int64_t C = d->c, HW = d->hw;
    double sdy[SMALL_MAX_C], sdyx[SMALL_MAX_C], m = (double)(d->n * HW);
    float k[SMALL_MAX_C], a[SMALL_MAX_C], b[SMALL_MAX_C];
    for (int64_t c = 0; c < C; c++) sdy[c] = 0, sdyx[c] = 0;
    for (int64_t n = 0; n < d->n && HW == 1; n++) {
        const float *xr = x + n * C, *gr = dy + n * C, *yr = y ? y + n * C : NULL;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
            float gv = masked(yr, c, gr[c]);
            sdy[c] += gv;
            sdyx[c] += gv * (xr[c] - save_mean[c]);
        }
    }
    for (int64_t n = 0; n < d->n && HW > 1; n++)
        for (int64_t c = 0; c < C; c++) {
            const float *xr = x + (n * C + c) * HW, *gr = dy + (n * C + c) * HW;
            const float *yr = y ? y + (n * C + c) * HW : NULL;
            float u = 0, v = 0, mu = save_mean[c];
            /* simd lanes over the run of HW (16 at 4x4): without the pragma
             * the float sums stay scalar (IEEE order) */
#pragma omp simd reduction(+ : u, v)
            for (int64_t j = 0; j < HW; j++) {
                float gv = masked(yr, j, gr[j]);
                u += gv;
                v += gv * (xr[j] - mu);
            }
            sdy[c] += u;
            sdyx[c] += v;
        }
    for (int64_t c = 0; c < C; c++) {
        double invstd = save_invstd[c], g = gamma ? gamma[c] : 1, s1 = sdyx[c] * invstd;
        if (dbeta) dbeta[c] = (float)sdy[c];
        if (dgamma) dgamma[c] = (float)s1;
        k[c] = (float)(g * invstd);
        a[c] = training ? (float)(-g * invstd * invstd * s1 / m) : 0.0f;
        b[c] = training ? (float)(-g * invstd * sdy[c] / m - (double)a[c] * save_mean[c]) : 0.0f;
    }
    if (!dx) return;
    for (int64_t n = 0; n < d->n && HW == 1; n++) {
        const float *xr = x + n * C, *gr = dy + n * C, *yr = y ? y + n * C : NULL;
        float *dr = dx + n * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) dr[c] = k[c] * masked(yr, c, gr[c]) + a[c] * xr[c] + b[c];
    }
    for (int64_t n = 0; n < d->n && HW > 1; n++)
        for (int64_t c = 0; c < C; c++) {
            const float *xr = x + (n * C + c) * HW, *gr = dy + (n * C + c) * HW;
            const float *yr = y ? y + (n * C + c) * HW : NULL;
            float *dr = dx + (n * C + c) * HW, kc = k[c], ac = a[c], bc = b[c];
#pragma omp simd
            for (int64_t j = 0; j < HW; j++) dr[j] = kc * masked(yr, j, gr[j]) + ac * xr[j] + bc;
        }
}

void cg_batchnorm_backward(const cg_batchnorm_desc *d, bool training, const float *dy, const float *x,
                           const float *y_in, const float *gamma, const float *save_mean, const float *save_invstd,
                           float *dx, float *dgamma, float *dbeta) {
    if (d->block) {
        cg_batchnorm_backward_blocked(d, training, dy, x, y_in, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
        return;
    }
    const float *y = d->relu ? y_in : NULL; /* the mask's source, when the ReLU is fused */
    if (rows_fit(d)) {
        CG_NN_TUNED_FOR(CG_NN_TUNE_BN_BWD, d->n * d->c * d->hw,
                        for (int b = 0; b < ROW_BLOCKS; b++) backward_rows(d, ROW_C0(d, b), ROW_C0(d, b + 1), training,
                                                                           dy, x, y, gamma, save_mean,
                                                                           save_invstd, dx, dgamma, dbeta););
        return;
    }
    if (d->hw < SMALL_HW && d->c <= SMALL_MAX_C && d->n * d->c * d->hw <= 64 * 512 * 16) {
        backward_small(d, training, dy, x, y, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
        return;
    }
    CG_NN_TUNED_FOR(CG_NN_TUNE_BN_BWD, d->n * d->c * d->hw,
                    for (int64_t c = 0; c < d->c; c++) backward_channel(d, c, training, dy, x, y, gamma, save_mean,
                                                                        save_invstd, dx, dgamma, dbeta););
}
