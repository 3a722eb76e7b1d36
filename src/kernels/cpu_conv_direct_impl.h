/* The vector loops of cpu_conv_direct.c, for one CPU level.  Included once
 * per level by cpu_conv_direct.c, which defines before it:
 *   VW       lanes of one vector (4, 8, 16)
 *   SUF      the suffix of this level's function names
 *   TGT      the function attribute of the level (its target ISA)
 *   VFMA     VFMA(acc, a, b) = acc + a*b, fused where the level has FMA (the
 *            build is -std=c11, where the compiler does not fuse on its own)
 *   VSPLAT   VSPLAT(x): x in every lane (not (VEC){0} + x, an add the
 *            compiler must keep, since -0.0 + 0 is +0)
 * The loops use GCC's vector extensions (also clang's), so one source gives
 * SSE2, AVX2+FMA and AVX-512 code; no -m flag is needed for the file, and
 * the level is picked at run time (cpu_dispatch.h's cg_cpu_level_active).
 *
 * S is one image's taps as T planes of P = OH*OW floats: S[t][q] is the
 * input value that tap t reads for output q (0 on padding), so both passes
 * are contiguous over q:
 *   forward   y[o][q]  = bias[o] + sum_t w[o][t] * S[t][q]
 *   weights   dw[o][t] += sum_q dy[o][q] * S[t][q]  (and dbias[o] += sum_q dy[o][q]) */

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define VEC CAT(vf, SUF)

typedef float VEC __attribute__((vector_size(VW * sizeof(float))));

/* One image's forward: y (OC, P) from S (T, P); w (OC, T); bias or NULL.
 * always_inline with a constant T (the switch below) unrolls the tap loops,
 * so the T tap vectors stay in registers across the OC outputs. */
TGT static inline __attribute__((always_inline)) void CAT(fwd_image_t, SUF)(int T, int64_t oc, int64_t p,
                                                                          const float *s, const float *w,
                                                                          const float *bias, float *y) {
    int64_t q0 = 0;
    for (; q0 + VW <= p; q0 += VW) {
        VEC sv[CG_CONV2D_DIRECT_MAX_TAPS];
        for (int t = 0; t < T; t++) __builtin_memcpy(&sv[t], s + t * p + q0, sizeof(VEC));
        for (int64_t o = 0; o < oc; o++) {
            const float *wo = w + o * T;
            /* two chains (even and odd taps), so that the FMAs' latency overlaps */
            VEC acc0 = VSPLAT(bias ? bias[o] : 0.0f), acc1 = (VEC){0};
            for (int t = 0; t + 1 < T; t += 2) {
                acc0 = VFMA(acc0, VSPLAT(wo[t]), sv[t]);
                acc1 = VFMA(acc1, VSPLAT(wo[t + 1]), sv[t + 1]);
            }
            if (T & 1) acc0 = VFMA(acc0, VSPLAT(wo[T - 1]), sv[T - 1]);
            acc0 += acc1;
            __builtin_memcpy(y + o * p + q0, &acc0, sizeof(VEC));
        }
    }
    for (; q0 < p; q0++) /* the tail, one output at a time */
        for (int64_t o = 0; o < oc; o++) {
            float acc = bias ? bias[o] : 0.0f;
            for (int t = 0; t < T; t++) acc += w[o * T + t] * s[t * p + q0];
            y[o * p + q0] = acc;
        }
}

TGT static void CAT(fwd_image, SUF)(int T, int64_t oc, int64_t p, const float *s, const float *w, const float *bias,
                                    float *y) {
    switch (T) {
#define CASE(k) case k: CAT(fwd_image_t, SUF)(k, oc, p, s, w, bias, y); return;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
        CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
    default: return; /* T is checked by cg_conv2d_direct_supports */
    }
}

/* One image's weight gradient for outputs [o0, o1): acc holds, per (o, t),
 * VW double lanes (at acc + (o*T + t) * CG_DIRECT_LANES), dy (OC, P) is
 * this image's, S (T, P); dbias_acc (OC lanes of the same shape) or NULL.
 * Each (o, t) is summed over q in float vectors, added lane by lane into
 * its doubles (the tail's products into lane 0); the lanes are added up
 * once, after the last image.  The order is fixed by VW and P, never by
 * the threads. */
TGT static inline __attribute__((always_inline)) void CAT(wgt_image_t, SUF)(int T, int64_t o0, int64_t o1, int64_t p,
                                                                          const float *s, const float *dy,
                                                                          double *acc, double *dbias_acc) {
    int64_t pv = p - p % VW;
    for (int64_t o = o0; o < o1; o++) {
        const float *g = dy + o * p;
        VEC av[CG_CONV2D_DIRECT_MAX_TAPS], gb = (VEC){0};
        for (int t = 0; t < T; t++) av[t] = (VEC){0};
        for (int64_t q0 = 0; q0 < pv; q0 += VW) {
            VEC gv, sv;
            __builtin_memcpy(&gv, g + q0, sizeof(VEC));
            gb += gv;
            for (int t = 0; t < T; t++) {
                __builtin_memcpy(&sv, s + t * p + q0, sizeof(VEC));
                av[t] = VFMA(av[t], gv, sv);
            }
        }
        for (int t = 0; t < T; t++) {
            double *da = acc + (o * T + t) * CG_DIRECT_LANES;
            for (int l = 0; l < VW; l++) da[l] += (double)av[t][l];
            for (int64_t q = pv; q < p; q++) da[0] += (double)g[q] * s[t * p + q];
        }
        if (dbias_acc) {
            double *da = dbias_acc + o * CG_DIRECT_LANES;
            for (int l = 0; l < VW; l++) da[l] += (double)gb[l];
            for (int64_t q = pv; q < p; q++) da[0] += g[q];
        }
    }
}

TGT static void CAT(wgt_image, SUF)(int T, int64_t o0, int64_t o1, int64_t p, const float *s, const float *dy,
                                    double *acc, double *dbias_acc) {
    switch (T) {
#define CASE(k) case k: CAT(wgt_image_t, SUF)(k, o0, o1, p, s, dy, acc, dbias_acc); return;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
        CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
    default: return;
    }
}

#undef VEC
#undef CAT
#undef CAT2
