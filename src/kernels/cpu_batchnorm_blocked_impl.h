/* The loops of cpu_batchnorm_blocked.c for one CPU level and one block
 * width.  Included once per (level, block) by cpu_batchnorm_blocked.c,
 * which defines before it:
 *   SUF   the level's suffix (base, avx2, avx512)
 *   TGT   the level's function attribute (its target ISA; no FMA: the
 *         build is -std=c11, where gcc does not fuse a*b+c, and the clang
 *         builds turn contraction off, so every level gives the same bits)
 *   LEVEL_W  the level's float lanes per register (4, 8, 16)
 *   BLK   the block width, 8 or 16: the channels of one block, side by side
 *         in memory, are the lanes of BLK/VW native vectors, so every loop
 *         below runs along a run of whole vectors.
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
#define VI BB_NAME(bvi)
/* VW: the lanes of one native vector of the level, at most BLK; a block is
 * NV of them.  (GCC lowers a generic vector wider than the level's registers
 * badly: comparisons and conversions lane by lane, 2-4x slower.) */
#define VW (BLK < LEVEL_W ? BLK : LEVEL_W)
#define NV (BLK / VW)

typedef float VF __attribute__((vector_size(VW * sizeof(float))));
typedef int32_t VI __attribute__((vector_size(VW * sizeof(int32_t))));

#define LD(v, p) __builtin_memcpy(&(v), (p), sizeof(VF))
#define ST(p, v) __builtin_memcpy((p), &(v), sizeof(VF))
/* v where `keep` > 0 in that lane, else +0 (a NaN or -0 `keep` too): the
 * plain kernels' relu (v > 0 ? v : 0) and mask (y > 0 ? g : 0). */
#define KEEP_POS(v, keep) ((VF)((VI)(v) & ((keep) > (VF){0})))
/* for each native vector j of a block */
#define EACH for (int j = 0; j < NV; j++)

/* tot[l] += lanes of a (NV vectors), in double */
TGT static inline __attribute__((always_inline)) void BB_NAME(add_to_double)(double *tot, const VF *a) {
    float f[BLK];
    __builtin_memcpy(f, a, sizeof f);
    for (int l = 0; l < BLK; l++) tot[l] += (double)f[l];
}

/* out = each lane's float sum of the run r (hw positions of BLK floats):
 * four accumulators over positions k = 0,1,2,3 mod 4 (four add chains in
 * flight), combined as (a0 + a1) + (a2 + a3). */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_sum)(const float *r, int64_t hw, VF *out) {
    VF a0[NV], a1[NV], a2[NV], a3[NV], v0, v1, v2, v3;
    EACH a0[j] = a1[j] = a2[j] = a3[j] = (VF){0};
    int64_t k = 0;
    for (; k + 4 <= hw; k += 4) EACH {
            const float *p = r + k * BLK + j * VW;
            LD(v0, p), LD(v1, p + BLK), LD(v2, p + 2 * BLK), LD(v3, p + 3 * BLK);
            a0[j] += v0, a1[j] += v1, a2[j] += v2, a3[j] += v3;
        }
    for (; k < hw; k++) EACH LD(v0, r + k * BLK + j * VW), a0[j] += v0;
    EACH out[j] = (a0[j] + a1[j]) + (a2[j] + a3[j]);
}

/* out = each lane's float sum of (r - mu)^2 over the run, as run_sum */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_sq)(const float *r, int64_t hw, const VF *mu,
                                                                    VF *out) {
    VF a0[NV], a1[NV], a2[NV], a3[NV], v0, v1, v2, v3;
    EACH a0[j] = a1[j] = a2[j] = a3[j] = (VF){0};
    int64_t k = 0;
    for (; k + 4 <= hw; k += 4) EACH {
            const float *p = r + k * BLK + j * VW;
            LD(v0, p), LD(v1, p + BLK), LD(v2, p + 2 * BLK), LD(v3, p + 3 * BLK);
            v0 -= mu[j], v1 -= mu[j], v2 -= mu[j], v3 -= mu[j];
            a0[j] += v0 * v0, a1[j] += v1 * v1, a2[j] += v2 * v2, a3[j] += v3 * v3;
        }
    for (; k < hw; k++) EACH LD(v0, r + k * BLK + j * VW), v0 -= mu[j], a0[j] += v0 * v0;
    EACH out[j] = (a0[j] + a1[j]) + (a2[j] + a3[j]);
}

/* y run = x run * sc + sh, relu'd when `relu` (a constant at each call) */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_affine)(const float *xr, float *yr, int64_t hw,
                                                                        const VF *sc, const VF *sh, bool relu) {
    for (int64_t k = 0; k < hw; k++) EACH {
            VF v;
            LD(v, xr + k * BLK + j * VW);
            v = v * sc[j] + sh[j];
            if (relu) v = KEEP_POS(v, v);
            ST(yr + k * BLK + j * VW, v);
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
    double s[BLK] = {0}, q[BLK] = {0}, mean[BLK];
    float lane[BLK], lsc[BLK], lsh[BLK];
    VF t[NV], fm[NV], sc[NV], sh[NV];
    for (int64_t n = 0; n < d->n; n++) {
        BB_NAME(run_sum)(xb + n * IMG, HW, t);
        BB_NAME(add_to_double)(s, t);
    }
    for (int l = 0; l < BLK; l++) mean[l] = s[l] / m, lane[l] = (float)mean[l];
    __builtin_memcpy(fm, lane, sizeof fm);
    for (int64_t n = 0; n < d->n; n++) {
        BB_NAME(run_sq)(xb + n * IMG, HW, fm, t);
        BB_NAME(add_to_double)(q, t);
    }
    for (int l = 0; l < BLK; l++) {
        int64_t c = c0 + l;
        double var = q[l] / m, invstd = 1 / sqrt(var + d->eps);
        lsc[l] = (float)(invstd * (gamma ? gamma[c] : 1));
        lsh[l] = (float)((beta ? beta[c] : 0) - mean[l] * lsc[l]);
        save_mean[c] = lane[l];
        save_invstd[c] = (float)invstd;
        bnb_update_running(d, c, mean[l], var, running_mean, running_var);
    }
    __builtin_memcpy(sc, lsc, sizeof sc);
    __builtin_memcpy(sh, lsh, sizeof sh);
    for (int64_t n = 0; n < d->n; n++) {
        if (d->relu) BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, sc, sh, true);
        else BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, sc, sh, false);
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
    VF sc[NV], sh[NV];
    __builtin_memcpy(sc, lsc, sizeof sc);
    __builtin_memcpy(sh, lsh, sizeof sh);
    const float *xb = x + c0 * HW;
    float *yb = y + c0 * HW;
    for (int64_t n = 0; n < d->n; n++) {
        if (d->relu) BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, sc, sh, true);
        else BB_NAME(run_affine)(xb + n * IMG, yb + n * IMG, HW, sc, sh, false);
    }
}

/* One run's float sums of g and g*(x - mu), g = dy masked by y > 0 when
 * `mask` (a constant at each call): two accumulators each, over even and
 * odd positions, combined as a0 + a1. */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_bwd_sums)(const float *gr, const float *xr,
                                                                          const float *yr, int64_t hw,
                                                                          const VF *mu, bool mask, VF *sg,
                                                                          VF *sgx) {
    VF a0[NV], a1[NV], b0[NV], b1[NV], g0, g1, x0, x1, y0, y1;
    EACH a0[j] = a1[j] = b0[j] = b1[j] = (VF){0};
    int64_t k = 0;
    for (; k + 2 <= hw; k += 2) EACH {
            const int64_t o = k * BLK + j * VW;
            LD(g0, gr + o), LD(g1, gr + o + BLK), LD(x0, xr + o), LD(x1, xr + o + BLK);
            if (mask) LD(y0, yr + o), LD(y1, yr + o + BLK), g0 = KEEP_POS(g0, y0), g1 = KEEP_POS(g1, y1);
            a0[j] += g0, a1[j] += g1;
            b0[j] += g0 * (x0 - mu[j]), b1[j] += g1 * (x1 - mu[j]);
        }
    if (k < hw) EACH {
            const int64_t o = k * BLK + j * VW;
            LD(g0, gr + o), LD(x0, xr + o);
            if (mask) LD(y0, yr + o), g0 = KEEP_POS(g0, y0);
            a0[j] += g0, b0[j] += g0 * (x0 - mu[j]);
        }
    EACH sg[j] = a0[j] + a1[j], sgx[j] = b0[j] + b1[j];
}

/* dx run = k*g + a*x + b, g masked as in run_bwd_sums */
TGT static inline __attribute__((always_inline)) void BB_NAME(run_dx)(const float *gr, const float *xr,
                                                                    const float *yr, float *dr, int64_t hw,
                                                                    const VF *kk, const VF *aa, const VF *bb,
                                                                    bool mask) {
    for (int64_t k = 0; k < hw; k++) EACH {
            const int64_t o = k * BLK + j * VW;
            VF g, xv, yv;
            LD(g, gr + o), LD(xv, xr + o);
            if (mask) LD(yv, yr + o), g = KEEP_POS(g, yv);
            VF v = kk[j] * g + aa[j] * xv + bb[j];
            ST(dr + o, v);
        }
}

/* Backward of channel block cb; y: the fused ReLU's output (the mask), or
 * NULL without the ReLU. */
TGT static void BB_NAME(bwd)(const cg_batchnorm_desc *d, int64_t cb, bool training, const float *dy,
                             const float *x, const float *y, const float *gamma, const float *save_mean,
                             const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
    const int64_t HW = d->hw, IMG = d->c * HW, c0 = cb * BLK, off = c0 * HW;
    VF mu[NV], sg[NV], sgx[NV];
    __builtin_memcpy(mu, save_mean + c0, sizeof mu);
    double t0[BLK] = {0}, t1[BLK] = {0};
    for (int64_t n = 0; n < d->n; n++) {
        const int64_t o = off + n * IMG;
        if (y) BB_NAME(run_bwd_sums)(dy + o, x + o, y + o, HW, mu, true, sg, sgx);
        else BB_NAME(run_bwd_sums)(dy + o, x + o, NULL, HW, mu, false, sg, sgx);
        BB_NAME(add_to_double)(t0, sg);
        BB_NAME(add_to_double)(t1, sgx);
    }
    float lk[BLK], la[BLK], lb[BLK];
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
    VF kv[NV], av[NV], bv[NV];
    __builtin_memcpy(kv, lk, sizeof kv);
    __builtin_memcpy(av, la, sizeof av);
    __builtin_memcpy(bv, lb, sizeof bv);
    for (int64_t n = 0; n < d->n; n++) {
        const int64_t o = off + n * IMG;
        if (y) BB_NAME(run_dx)(dy + o, x + o, y + o, dx + o, HW, kv, av, bv, true);
        else BB_NAME(run_dx)(dy + o, x + o, NULL, dx + o, HW, kv, av, bv, false);
    }
}

#undef LD
#undef ST
#undef KEEP_POS
#undef EACH
#undef VF
#undef VI
#undef VW
#undef NV
#undef BB_NAME
#undef BB_CAT
#undef BB_CAT2
