/* The loops of cpu_batchnorm_blocked.c for one CPU level and one block
 * width.  Included once per (level, block) by cpu_batchnorm_blocked.c,
 * which defines before it:
 *   SUF   the level's suffix (base, avx2, avx512)
 *   TGT   the level's function attribute (its target ISA; no FMA: the
 *         build is -std=c11, where gcc does not fuse a*b+c, and the clang
 *         builds turn contraction off, so every level gives the same bits)
 *   BLK   the block width, 8 or 16: the channels of one block, side by side
 *         in memory, are the lanes of one vector (VF), so every loop below
 *         runs along a run of whole vectors.
 *
 * A channel block's run in image n is HW vectors of BLK floats, contiguous:
 * x + (n*(C/BLK) + cb)*HW*BLK, the next image's run C*HW floats on.  Each
 * lane's (channel's) sum of one run is a float sum (the accumulators below
 * interleave over the run's positions in a fixed pattern), added into that
 * lane's double total in image order: the plain kernels' precision (float
 * runs, double totals), and an order that depends on nothing but the shape.
 * GCC's vector extensions (also clang's) compile the same lane-wise
 * arithmetic at every width, so the bits are the same at every level too. */

#define BB_CAT2(a, b) a##_##b
#define BB_CAT(a, b) BB_CAT2(a, b)
#define BB_NAME(f) BB_CAT(BB_CAT(f, SUF), BLK)
#define VF BB_NAME(bvf)
#define VD BB_NAME(bvd)
#define VI BB_NAME(bvi)

typedef float VF __attribute__((vector_size(BLK * sizeof(float))));
typedef double VD __attribute__((vector_size(BLK * sizeof(double))));
typedef int32_t VI __attribute__((vector_size(BLK * sizeof(int32_t))));

#define LD(v, p) __builtin_memcpy(&(v), (p), sizeof(VF))
#define ST(p, v) __builtin_memcpy((p), &(v), sizeof(VF))
/* v where `keep` > 0 in that lane, else +0 (a NaN or -0 `keep` too): the
 * plain kernels' relu (v > 0 ? v : 0) and mask (y > 0 ? g : 0). */
#define KEEP_POS(v, keep) ((VF)((VI)(v) & ((keep) > (VF){0})))

/* *out = each lane's float sum of the run r (hw vectors): four accumulators
 * over positions k = 0,1,2,3 mod 4 (four add chains in flight), combined as
 * (a0 + a1) + (a2 + a3). */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_sum)(const float *r, int64_t hw, VF *out) {
    VF a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, v0, v1, v2, v3;
    int64_t k = 0;
    for (; k + 4 <= hw; k += 4) {
        LD(v0, r + k * BLK), LD(v1, r + (k + 1) * BLK), LD(v2, r + (k + 2) * BLK), LD(v3, r + (k + 3) * BLK);
        a0 += v0, a1 += v1, a2 += v2, a3 += v3;
    }
    for (; k < hw; k++) LD(v0, r + k * BLK), a0 += v0;
    *out = (a0 + a1) + (a2 + a3);
}

/* *out = each lane's float sum of (r - mu)^2 over the run, as run_sum */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_sq)(const float *r, int64_t hw, const VF *mup,
                                                                    VF *out) {
    const VF mu = *mup;
    VF a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, v0, v1, v2, v3;
    int64_t k = 0;
    for (; k + 4 <= hw; k += 4) {
        LD(v0, r + k * BLK), LD(v1, r + (k + 1) * BLK), LD(v2, r + (k + 2) * BLK), LD(v3, r + (k + 3) * BLK);
        v0 -= mu, v1 -= mu, v2 -= mu, v3 -= mu;
        a0 += v0 * v0, a1 += v1 * v1, a2 += v2 * v2, a3 += v3 * v3;
    }
    for (; k < hw; k++) LD(v0, r + k * BLK), v0 -= mu, a0 += v0 * v0;
    *out = (a0 + a1) + (a2 + a3);
}

/* y run = x run * sc + sh, relu'd when `relu` (a constant at each call) */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_affine)(const float *xr, float *yr, int64_t hw,
                                                                        const VF *scp, const VF *shp, bool relu) {
    const VF sc = *scp, sh = *shp;
    for (int64_t k = 0; k < hw; k++) {
        VF v;
        LD(v, xr + k * BLK);
        v = v * sc + sh;
        if (relu) v = KEEP_POS(v, v);
        ST(yr + k * BLK, v);
    }
}

/* Training forward of channel block cb: channels cb*BLK .. +BLK. */
TGT static void BB_NAME(train)(const cg_batchnorm_desc *d, int64_t cb, const float *x, const float *gamma,
                               const float *beta, float *y, float *save_mean, float *save_invstd,
                               float *running_mean, float *running_var) {
    const int64_t HW = d->hw, IMG = d->c * HW, c0 = cb * BLK;
    const float *xb = x + c0 * HW;
    float *yb = y + c0 * HW;
    const double m = (double)(d->n * HW);
    VD s = {0}, q = {0};
    VF t, fm, sc, sh;
    for (int64_t n = 0; n < d->n; n++) {
        BB_NAME(run_sum)(xb + n * IMG, HW, &t);
        s += __builtin_convertvector(t, VD);
    }
    double mean[BLK], tot[BLK];
    float lane[BLK];
    __builtin_memcpy(tot, &s, sizeof tot);
    for (int l = 0; l < BLK; l++) mean[l] = tot[l] / m, lane[l] = (float)mean[l];
    __builtin_memcpy(&fm, lane, sizeof fm);
    for (int64_t n = 0; n < d->n; n++) {
        BB_NAME(run_sq)(xb + n * IMG, HW, &fm, &t);
        q += __builtin_convertvector(t, VD);
    }
    __builtin_memcpy(tot, &q, sizeof tot);
    float lsc[BLK], lsh[BLK];
    for (int l = 0; l < BLK; l++) {
        int64_t c = c0 + l;
        double var = tot[l] / m, invstd = 1 / sqrt(var + d->eps);
        lsc[l] = (float)(invstd * (gamma ? gamma[c] : 1));
        lsh[l] = (float)((beta ? beta[c] : 0) - mean[l] * lsc[l]);
        save_mean[c] = lane[l];
        save_invstd[c] = (float)invstd;
        bnb_update_running(d, c, mean[l], var, running_mean, running_var);
    }
    __builtin_memcpy(&sc, lsc, sizeof sc);
    __builtin_memcpy(&sh, lsh, sizeof sh);
    for (int64_t n = 0; n < d->n; n++) {
        if (d->relu) BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, &sc, &sh, true);
        else BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, &sc, &sh, false);
    }
}

/* Eval forward of channel block cb, from the running statistics. */
TGT static void BB_NAME(eval)(const cg_batchnorm_desc *d, int64_t cb, const float *x, const float *gamma,
                              const float *beta, const float *running_mean, const float *running_var, float *y,
                              float *save_mean, float *save_invstd) {
    const int64_t HW = d->hw, IMG = d->c * HW, c0 = cb * BLK;
    float lsc[BLK], lsh[BLK];
    for (int l = 0; l < BLK; l++) {
        int64_t c = c0 + l;
        double invstd = 1 / sqrt((double)running_var[c] + d->eps);
        lsc[l] = (float)(invstd * (gamma ? gamma[c] : 1));
        lsh[l] = (float)((beta ? beta[c] : 0) - (double)running_mean[c] * lsc[l]);
        if (save_mean) save_mean[c] = running_mean[c];
        if (save_invstd) save_invstd[c] = (float)invstd;
    }
    VF sc, sh;
    __builtin_memcpy(&sc, lsc, sizeof sc);
    __builtin_memcpy(&sh, lsh, sizeof sh);
    const float *xb = x + c0 * HW;
    float *yb = y + c0 * HW;
    for (int64_t n = 0; n < d->n; n++) {
        if (d->relu) BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, &sc, &sh, true);
        else BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, &sc, &sh, false);
    }
}

/* One run's float sums of g and g*(x - mu), g = dy masked by y > 0 when
 * `mask` (a constant at each call): two accumulators each, over even and
 * odd positions, combined as a0 + a1. */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_bwd_sums)(const float *gr, const float *xr,
                                                                          const float *yr, int64_t hw,
                                                                          const VF *mup, bool mask, VF *sg,
                                                                          VF *sgx) {
    const VF mu = *mup;
    VF a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0}, g0, g1, x0, x1, y0, y1;
    int64_t k = 0;
    for (; k + 2 <= hw; k += 2) {
        LD(g0, gr + k * BLK), LD(g1, gr + (k + 1) * BLK), LD(x0, xr + k * BLK), LD(x1, xr + (k + 1) * BLK);
        if (mask) LD(y0, yr + k * BLK), LD(y1, yr + (k + 1) * BLK), g0 = KEEP_POS(g0, y0), g1 = KEEP_POS(g1, y1);
        a0 += g0, a1 += g1;
        b0 += g0 * (x0 - mu), b1 += g1 * (x1 - mu);
    }
    if (k < hw) {
        LD(g0, gr + k * BLK), LD(x0, xr + k * BLK);
        if (mask) LD(y0, yr + k * BLK), g0 = KEEP_POS(g0, y0);
        a0 += g0, b0 += g0 * (x0 - mu);
    }
    *sg = a0 + a1, *sgx = b0 + b1;
}

/* dx run = k*g + a*x + b, g masked as in run_bwd_sums */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_dx)(const float *gr, const float *xr,
                                                                    const float *yr, float *dr, int64_t hw,
                                                                    const VF *kp, const VF *ap, const VF *bp,
                                                                    bool mask) {
    const VF kk = *kp, aa = *ap, bb = *bp;
    for (int64_t j = 0; j < hw; j++) {
        VF g, xv, yv;
        LD(g, gr + j * BLK), LD(xv, xr + j * BLK);
        if (mask) LD(yv, yr + j * BLK), g = KEEP_POS(g, yv);
        VF v = kk * g + aa * xv + bb;
        ST(dr + j * BLK, v);
    }
}

/* Backward of channel block cb; y: the fused ReLU's output (the mask), or
 * NULL without the ReLU. */
TGT static void BB_NAME(bwd)(const cg_batchnorm_desc *d, int64_t cb, bool training, const float *dy,
                             const float *x, const float *y, const float *gamma, const float *save_mean,
                             const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
    const int64_t HW = d->hw, IMG = d->c * HW, c0 = cb * BLK, off = c0 * HW;
    VF mu, sg, sgx;
    LD(mu, save_mean + c0);
    VD sdy = {0}, sdyx = {0};
    for (int64_t n = 0; n < d->n; n++) {
        const int64_t o = off + n * IMG;
        if (y) BB_NAME(run_bwd_sums)(dy + o, x + o, y + o, HW, &mu, true, &sg, &sgx);
        else BB_NAME(run_bwd_sums)(dy + o, x + o, NULL, HW, &mu, false, &sg, &sgx);
        sdy += __builtin_convertvector(sg, VD);
        sdyx += __builtin_convertvector(sgx, VD);
    }
    double t0[BLK], t1[BLK];
    float lk[BLK], la[BLK], lb[BLK];
    __builtin_memcpy(t0, &sdy, sizeof t0);
    __builtin_memcpy(t1, &sdyx, sizeof t1);
    const double m = (double)(d->n * HW);
    for (int l = 0; l < BLK; l++) {
        int64_t c = c0 + l;
        float mean = save_mean[c], invstd = save_invstd[c];
        double g = gamma ? gamma[c] : 1, s0 = t0[l], s1 = t1[l] * invstd; /* s1: sum dy * xhat */
        if (dbeta) dbeta[c] = (float)s0;
        if (dgamma) dgamma[c] = (float)s1;
        /* dx = k*dy + a*x + b, k = g*invstd; training: a = -k*invstd*s1/m,
         * b = -k*s0/m - a*mean (cpu_batchnorm.c's backward_channel) */
        lk[l] = (float)(g * invstd);
        la[l] = training ? (float)(-g * invstd * invstd * s1 / m) : 0.0f;
        lb[l] = training ? (float)(-g * invstd * s0 / m - (double)la[l] * mean) : 0.0f;
    }
    if (!dx) return;
    VF kv, av, bv;
    __builtin_memcpy(&kv, lk, sizeof kv);
    __builtin_memcpy(&av, la, sizeof av);
    __builtin_memcpy(&bv, lb, sizeof bv);
    for (int64_t n = 0; n < d->n; n++) {
        const int64_t o = off + n * IMG;
        if (y) BB_NAME(run_dx)(dy + o, x + o, y + o, dx + o, HW, &kv, &av, &bv, true);
        else BB_NAME(run_dx)(dy + o, x + o, NULL, dx + o, HW, &kv, &av, &bv, false);
    }
}

#undef LD
#undef ST
#undef KEEP_POS
#undef VF
#undef VD
#undef VI
#undef BB_NAME
#undef BB_CAT
#undef BB_CAT2
