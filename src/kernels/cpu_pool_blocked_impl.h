/* The forward loop of cpu_pool_blocked.c for one CPU level and one block
 * width.  Included once per (level, block) by cpu_pool_blocked.c, which
 * defines before it:
 *   SUF      the level's suffix (base, avx2, avx512)
 *   TGT      the level's function attribute (its target ISA)
 *   LEVEL_W  the level's float lanes per register (4, 8, 16)
 *   BLK      the block width, 8 or 16: a position's BLK channels are NV
 *            native vectors of VW lanes.
 * GCC's vector extensions (also clang's): compares give -1/0 lanes, and the
 * selects are and/or on the bits, so NaNs and zeros' signs pass unchanged. */

#define PB_CAT2(a, b) a##_##b
#define PB_CAT(a, b) PB_CAT2(a, b)
#define PB_NAME(f) PB_CAT(PB_CAT(f, SUF), BLK)
#define VF PB_NAME(pvf)
#define VI PB_NAME(pvi)
#define VW (BLK < LEVEL_W ? BLK : LEVEL_W)
#define NV (BLK / VW)

typedef float VF __attribute__((vector_size(VW * sizeof(float))));
typedef int32_t VI __attribute__((vector_size(VW * sizeof(int32_t))));

/* One (image, channel block): xr its H*W positions of BLK channels, yr its
 * OH*OW outputs, ix lane 0's idx plane (lane l's at ix + l*OH*OW). */
TGT static void PB_NAME(max_unit)(const cg_pool2d_desc *d, const float *xr, float *yr, int64_t *ix) {
    const int64_t W = d->w, OW = d->ow, OS = d->oh * d->ow;
    for (int64_t i = 0; i < d->oh; i++) {
        /* the window's rows and columns, clipped to the map (pad <= kernel/2: never empty) */
        int64_t h0 = i * d->stride_h - d->pad_h, h1 = h0 + d->kh < d->h ? h0 + d->kh : d->h;
        if (h0 < 0) h0 = 0;
        for (int64_t j = 0; j < OW; j++) {
            int64_t w0 = j * d->stride_w - d->pad_w, w1 = w0 + d->kw < W ? w0 + d->kw : W;
            if (w0 < 0) w0 = 0;
            VF best[NV];
            VI at[NV];
            for (int v = 0; v < NV; v++) best[v] = (VF){0} - INFINITY, at[v] = (VI){0} + (int32_t)(h0 * W + w0);
            for (int64_t p = h0; p < h1; p++)
                for (int64_t q = w0; q < w1; q++) {
                    const int32_t k = (int32_t)(p * W + q);
                    const float *xk = xr + (int64_t)k * BLK;
                    for (int v = 0; v < NV; v++) {
                        VF x;
                        __builtin_memcpy(&x, xk + v * VW, sizeof x);
                        VI take = (x > best[v]) | (x != x); /* larger, or NaN: max_scan's rule */
                        best[v] = (VF)(((VI)x & take) | ((VI)best[v] & ~take));
                        at[v] = (((VI){0} + k) & take) | (at[v] & ~take);
                    }
                }
            const int64_t o = i * OW + j;
            for (int v = 0; v < NV; v++) {
                __builtin_memcpy(yr + o * BLK + v * VW, &best[v], sizeof best[v]);
                for (int l = 0; l < VW; l++) ix[(v * VW + l) * OS + o] = at[v][l];
            }
        }
    }
}

#undef VF
#undef VI
#undef VW
#undef NV
#undef PB_NAME
#undef PB_CAT
#undef PB_CAT2
