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

/* One image's forward into the blocked layout: y_img (OC/B, P, B) of the
 * image (nChw8c or nChw16c, B = block), from S (T, P); the same products
 * in the same order as fwd_image_t (bias, then the even and odd taps in two
 * chains, FMA where the level fuses, then the chains added; the tail of P
 * past its last full vector of VW unfused, as fwd_image_t's scalar tail),
 * so every element has the bits of the plain kernel's.  Vectorised along
 * the B channels of a block (B a multiple of VW; the caller checks), four
 * outputs at once so that eight chains overlap. */
TGT static inline __attribute__((always_inline)) void CAT(fwd_image_blocked_t, SUF)(
    int T, int64_t oc, int64_t p, int64_t block, const float *s, const float *w, const float *bias, float *y_img) {
    int64_t pv = p - p % VW; /* fwd_image_t's vector part; the rest is its scalar tail */
    for (int64_t cb = 0; cb < oc / block; cb++)
        for (int64_t l0 = 0; l0 < block; l0 += VW) {
            int64_t o0 = cb * block + l0;
            VEC wv[CG_CONV2D_DIRECT_MAX_TAPS], bv;
            float lanes[VW];
            for (int t = 0; t < T; t++) { /* tap t's weights of the VW channels */
                for (int l = 0; l < VW; l++) lanes[l] = w[(o0 + l) * T + t];
                __builtin_memcpy(&wv[t], lanes, sizeof(VEC));
            }
            for (int l = 0; l < VW; l++) lanes[l] = bias ? bias[o0 + l] : 0.0f;
            __builtin_memcpy(&bv, lanes, sizeof(VEC));
            float *yb = y_img + cb * p * block + l0;
            int64_t q = 0;
            /* eight named accumulators, not arrays: with arrays gcc kept them
             * on the stack and stored each result through 8-byte pieces, a
             * store-forwarding stall per vector (1.5x this loop's time) */
            for (; q + 4 <= pv; q += 4) {
                const float *sq = s + q;
                VEC e0 = bv, e1 = bv, e2 = bv, e3 = bv, o0v = (VEC){0}, o1v = (VEC){0}, o2v = (VEC){0},
                    o3v = (VEC){0};
                for (int t = 0; t + 1 < T; t += 2) {
                    const float *se = sq + t * p, *so = se + p;
                    e0 = VFMA(e0, wv[t], VSPLAT(se[0]));
                    o0v = VFMA(o0v, wv[t + 1], VSPLAT(so[0]));
                    e1 = VFMA(e1, wv[t], VSPLAT(se[1]));
                    o1v = VFMA(o1v, wv[t + 1], VSPLAT(so[1]));
                    e2 = VFMA(e2, wv[t], VSPLAT(se[2]));
                    o2v = VFMA(o2v, wv[t + 1], VSPLAT(so[2]));
                    e3 = VFMA(e3, wv[t], VSPLAT(se[3]));
                    o3v = VFMA(o3v, wv[t + 1], VSPLAT(so[3]));
                }
                if (T & 1) {
                    const float *sl = sq + (T - 1) * p;
                    e0 = VFMA(e0, wv[T - 1], VSPLAT(sl[0]));
                    e1 = VFMA(e1, wv[T - 1], VSPLAT(sl[1]));
                    e2 = VFMA(e2, wv[T - 1], VSPLAT(sl[2]));
                    e3 = VFMA(e3, wv[T - 1], VSPLAT(sl[3]));
                }
                e0 += o0v, e1 += o1v, e2 += o2v, e3 += o3v;
                float *yq = yb + q * block;
                __builtin_memcpy(yq, &e0, sizeof(VEC));
                __builtin_memcpy(yq + block, &e1, sizeof(VEC));
                __builtin_memcpy(yq + 2 * block, &e2, sizeof(VEC));
                __builtin_memcpy(yq + 3 * block, &e3, sizeof(VEC));
            }
            for (; q < pv; q++) {
                VEC a0 = bv, a1 = (VEC){0};
                for (int t = 0; t + 1 < T; t += 2) {
                    a0 = VFMA(a0, wv[t], VSPLAT(s[t * p + q]));
                    a1 = VFMA(a1, wv[t + 1], VSPLAT(s[(t + 1) * p + q]));
                }
                if (T & 1) a0 = VFMA(a0, wv[T - 1], VSPLAT(s[(T - 1) * p + q]));
                a0 += a1;
                __builtin_memcpy(yb + q * block, &a0, sizeof(VEC));
            }
            for (; q < p; q++) /* fwd_image_t's tail: unfused, one output at a time */
                for (int l = 0; l < VW; l++) {
                    float acc = bias ? bias[o0 + l] : 0.0f;
                    for (int t = 0; t < T; t++) acc += w[(o0 + l) * T + t] * s[t * p + q];
                    yb[q * block + l] = acc;
                }
        }
}

TGT static void CAT(fwd_image_blocked, SUF)(int T, int64_t oc, int64_t p, int64_t block, const float *s,
                                            const float *w, const float *bias, float *y_img) {
    switch (T) {
#define CASE(k) case k: CAT(fwd_image_blocked_t, SUF)(k, oc, p, block, s, w, bias, y_img); return;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
        CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
    default: return;
    }
}

/* G output channels' sums of one image, from channel o: per (o+k, t) the
 * products dy[o+k][q] * S[t][q] over q in float vectors, added lane by lane
 * into acc's doubles (at acc + ((o+k)*T + t) * CG_DIRECT_LANES; the tail's
 * products into lane 0), and dbias_acc's likewise when it is not NULL.  A
 * constant G and T (always_inline) keep the G*T accumulators in registers,
 * and each tap vector loaded feeds G FMAs. */
TGT static inline __attribute__((always_inline)) void CAT(wgt_channels_t, SUF)(int G, int T, int64_t o, int64_t p,
                                                                             const float *s, const float *dy,
                                                                             double *acc, double *dbias_acc) {
    int64_t pv = p - p % VW;
    const float *g = dy + o * p;
    VEC av[2][CG_CONV2D_DIRECT_MAX_TAPS], gb[2] = {{0}};
    for (int k = 0; k < G; k++)
        for (int t = 0; t < T; t++) av[k][t] = (VEC){0};
    for (int64_t q0 = 0; q0 < pv; q0 += VW) {
        VEC gv[2], sv;
        for (int k = 0; k < G; k++) {
            __builtin_memcpy(&gv[k], g + k * p + q0, sizeof(VEC));
            gb[k] += gv[k];
        }
        for (int t = 0; t < T; t++) {
            __builtin_memcpy(&sv, s + t * p + q0, sizeof(VEC));
            for (int k = 0; k < G; k++) av[k][t] = VFMA(av[k][t], gv[k], sv);
        }
    }
    for (int k = 0; k < G; k++) {
        const float *gk = g + k * p;
        for (int t = 0; t < T; t++) {
            double *da = acc + ((o + k) * T + t) * CG_DIRECT_LANES;
            for (int l = 0; l < VW; l++) da[l] += (double)av[k][t][l];
            for (int64_t q = pv; q < p; q++) da[0] += (double)gk[q] * s[t * p + q];
        }
        if (dbias_acc) {
            double *da = dbias_acc + (o + k) * CG_DIRECT_LANES;
            for (int l = 0; l < VW; l++) da[l] += (double)gb[k][l];
            for (int64_t q = pv; q < p; q++) da[0] += gk[q];
        }
    }
}

/* One image's weight gradient for outputs [o0, o1): dy (OC, P) is this
 * image's, S (T, P); dbias_acc (OC lanes of acc's shape) or NULL.  The lanes
 * are added up once, after the last image, so the order is fixed by VW and P,
 * never by the threads.  Two channels at a time where their 2T accumulators
 * fit the level's registers (32 with AVX-512, 16 below it): the one-channel
 * loop was bound by its loads (T + 1 for T FMAs).  Each (o, t) sum adds the
 * same products in the same order either way, so the bits do not change. */
TGT static inline __attribute__((always_inline)) void CAT(wgt_image_t, SUF)(int T, int64_t o0, int64_t o1, int64_t p,
                                                                          const float *s, const float *dy,
                                                                          double *acc, double *dbias_acc) {
    int64_t o = o0;
    if (2 * T + 3 <= (VW == 16 ? 32 : 16))
        for (; o + 1 < o1; o += 2) CAT(wgt_channels_t, SUF)(2, T, o, p, s, dy, acc, dbias_acc);
    for (; o < o1; o++) CAT(wgt_channels_t, SUF)(1, T, o, p, s, dy, acc, dbias_acc);
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

/* One image's weight gradient for the channel blocks [cb0, cb1) from a
 * blocked dy_img (OC/B, P, B), B = block a multiple of VW, with the bits of
 * wgt_channels_t on the same values in NCHW.  There, lane l of each (o, t)
 * accumulator sums the products at positions q = l, l+VW, l+2VW, ... in
 * order, and its total goes into a double after each image.  Here the
 * block's channels are the vector lanes (dy at position q is B channels
 * side by side) and lane l's positions are one sweep, so each (o, t) gets
 * the same products in the same order.  The sweeps run chunk by chunk of
 * DIRECT_CHUNK*VW positions (dy's chunk and S's stay in L1 across the VW
 * sweeps; one sweep over the whole image strided through 50 KB of dy and
 * ran 1.3x slower than the plain kernel), with each lane's T+1 float
 * accumulators (the taps and dbias) kept in fa between chunks.  The
 * doubles are blocked too: dacc (OC/VW, VW lanes l, T+1, VW channels), so
 * that adding a lane's floats into them is a vector add; the caller
 * (cg_conv2d_backward_weights_direct) puts them in acc's order at the end.
 * The tail past the last full vector of P goes into lane 0 in double after
 * the lanes, as there. */
#define DIRECT_CHUNK 16
TGT static inline __attribute__((always_inline)) void CAT(wgt_blocked_t, SUF)(int T, int64_t cb0, int64_t cb1,
                                                                            int64_t p, int64_t block,
                                                                            const float *s, const float *dy_img,
                                                                            double *dacc, float *fa) {
    const int64_t pv = p - p % VW, chunk = DIRECT_CHUNK * VW, T1 = T + 1;
    for (int64_t cb = cb0; cb < cb1; cb++)
        for (int64_t j = 0; j < block; j += VW) { /* VW of the block's channels: o0 .. o0+VW-1 */
            const int64_t o0 = cb * block + j;
            const float *g = dy_img + cb * p * block + j;
            double *dv = dacc + (o0 / VW) * VW * T1 * VW; /* this vector's (l, t, m) doubles */
            for (int64_t i = 0; i < VW * T1 * VW; i++) fa[i] = 0;
            for (int64_t c0 = 0; c0 < pv; c0 += chunk) {
                const int64_t c1 = c0 + chunk < pv ? c0 + chunk : pv;
                for (int64_t l = 0; l < VW; l++) {
                    VEC av[CG_CONV2D_DIRECT_MAX_TAPS + 1];
                    float *fl = fa + l * T1 * VW;
                    for (int t = 0; t <= T; t++) __builtin_memcpy(&av[t], fl + t * VW, sizeof(VEC));
                    for (int64_t q = c0 + l; q < c1; q += VW) {
                        VEC gv;
                        __builtin_memcpy(&gv, g + q * block, sizeof(VEC));
                        for (int t = 0; t < T; t++) av[t] = VFMA(av[t], gv, VSPLAT(s[t * p + q]));
                        av[T] += gv;
                    }
                    for (int t = 0; t <= T; t++) __builtin_memcpy(fl + t * VW, &av[t], sizeof(VEC));
                }
            }
            if (pv)
                for (int64_t i = 0; i < VW * T1 * VW; i++) dv[i] += (double)fa[i]; /* lane l of (t, m): one add */
            for (int64_t q = pv; q < p; q++) /* the tail, into lane 0 */
                for (int m = 0; m < VW; m++) {
                    const float gq = g[q * block + m];
                    for (int t = 0; t < T; t++) dv[t * VW + m] += (double)gq * s[t * p + q];
                    dv[T * VW + m] += gq;
                }
        }
}

TGT static void CAT(wgt_blocked, SUF)(int T, int64_t cb0, int64_t cb1, int64_t p, int64_t block, const float *s,
                                      const float *dy_img, double *dacc, float *fa) {
    switch (T) {
#define CASE(k) case k: CAT(wgt_blocked_t, SUF)(k, cb0, cb1, p, block, s, dy_img, dacc, fa); return;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
        CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
    default: return;
    }
}

#undef DIRECT_CHUNK
#undef VEC
#undef CAT
#undef CAT2
