/* CPU reductions (sum, max, min) over any set of dims.
 *
 * The input's dims are split into kept dims K and reduced dims R, each group
 * coalesced.  Two loop orders:
 *   - per output: each output element walks its reduced elements (the inner
 *     loop runs along R's last dim) — right when R holds the contiguous dim,
 *     e.g. (a-b).abs().mean((-1,-2)) over [1010,28,28];
 *   - per reduced index: accumulate whole contiguous kept rows into a double
 *     buffer — right when K holds the contiguous dim, e.g.
 *     stacked_threes.mean(0) over [6131,28,28].
 * Sums accumulate in double so means over thousands of images are exact to
 * float precision regardless of order. */
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu_iter.h"
#include "kernels/cpu_kernels.h"

typedef struct group {
    int n;
    int64_t shape[CG_MAX_DIMS], stride[CG_MAX_DIMS];
} group;

static void group_add(group *g, int64_t size, int64_t stride) {
    if (g->n > 0 && g->stride[g->n - 1] == stride * size) {
        g->shape[g->n - 1] *= size;
        g->stride[g->n - 1] = stride;
        return;
    }
    g->shape[g->n] = size;
    g->stride[g->n] = stride;
    g->n++;
}

static int64_t group_numel(const group *g) {
    int64_t n = 1;
    for (int d = 0; d < g->n; d++) n *= g->shape[d];
    return n;
}

static int64_t group_offset(const group *g, int64_t flat) {
    int64_t off = 0;
    for (int d = g->n - 1; d >= 0; d--) {
        off += (flat % g->shape[d]) * g->stride[d];
        flat /= g->shape[d];
    }
    return off;
}

/* Reduces the elements of R starting at `base` for one output. */
static void reduce_one(cg_reduce_op op, const float *base, const group *R, float *out, int64_t *idx) {
    int64_t inner = R->n ? R->shape[R->n - 1] : 1, s = R->n ? R->stride[R->n - 1] : 0;
    int64_t rows = R->n ? group_numel(R) / inner : 1;
    group outer = *R;
    if (outer.n) outer.n--;
    if (op == CG_R_SUM) {
        double acc = 0;
        for (int64_t r = 0; r < rows; r++) {
            const float *p = base + group_offset(&outer, r);
            double row = 0;
            if (s == 1) {
                row = cg_cpu_vec_active()->sum(p, inner);
            } else {
                for (int64_t i = 0; i < inner; i++) row += p[i * s];
            }
            acc += row;
        }
        *out = (float)acc;
        return;
    }
    float best = op == CG_R_MAX ? -INFINITY : INFINITY;
    int64_t best_i = 0;
    bool found = false;
    for (int64_t r = 0; r < rows; r++) {
        const float *p = base + group_offset(&outer, r);
        for (int64_t i = 0; i < inner; i++) {
            float x = p[i * s];
            bool better = op == CG_R_MAX ? x > best : x < best;
            if (!found || better || (isnan(x) && !isnan(best))) {
                best = x;
                best_i = r * inner + i;
                found = true;
            }
        }
    }
    *out = best;
    if (idx) *idx = best_i;
}

void cg_cpu_reduce(cg_reduce_op op, const cg_kview *out, const cg_kview *index, const cg_kview *in,
                   unsigned mask) {
    group K = {0}, R = {0};
    for (int d = 0; d < in->ndim; d++) {
        if (in->shape[d] == 1) continue;
        group_add((mask >> d) & 1 ? &R : &K, in->shape[d], in->strides[d]);
    }
    const float *base = in->data;
    float *o = out->data;
    int64_t *ix = index ? index->data : NULL;
    int64_t n_out = group_numel(&K), n_red = group_numel(&R);
    if (in->dtype == CG_INT64) { /* exact integer sums and extremes (labels, counts) */
        const int64_t *ib = in->data;
        int64_t *io = out->data;
        for (int64_t k = 0; k < n_out; k++) {
            const int64_t *kb = ib + group_offset(&K, k);
            int64_t acc = op == CG_R_SUM || n_red == 0 ? 0 : kb[0], best_r = 0;
            for (int64_t r = 0; r < n_red; r++) {
                int64_t v = kb[group_offset(&R, r)];
                if (op == CG_R_SUM) acc += v;
                else if (op == CG_R_MAX ? v > acc : v < acc) acc = v, best_r = r;
            }
            io[k] = acc;
            if (ix) ix[k] = best_r; /* the first extreme, like the float path */
        }
        return;
    }
    if (n_red == 0) { /* a sum over an empty dim is 0 (max/min refuse empty inputs earlier) */
        for (int64_t k = 0; k < n_out; k++) o[k] = 0;
        return;
    }

    bool kept_rows = op == CG_R_SUM && K.n && K.stride[K.n - 1] == 1 && R.n &&
                     R.stride[R.n - 1] != 1 && n_red > 1;
    if (kept_rows) {
        /* Work items are (kept row, chunk of columns): stacked_threes.mean(0)
         * has a single kept row of 784, so the chunks are what the threads
         * share; with one thread it is one chunk.  Each chunk adds the
         * reduced rows in order into a double block (8 rows per pass, so
         * the block stays in registers: cg_cpu_vec's accumulate), so the
         * result is the same whatever the chunking or thread count. */
        enum { MAX_CHUNK = 2048, ROWS = 64 };
        int64_t inner = K.shape[K.n - 1], krows = n_out / inner;
        int64_t elements = n_out * n_red;
        int threads = elements >= 65536 ? cg_nn_max_threads() : 1;
        int64_t chunk = inner;
        if (krows < threads) chunk = (inner * krows + threads - 1) / threads; /* one chunk per thread */
        chunk = (chunk + 15) / 16 * 16;
        if (chunk > MAX_CHUNK) chunk = MAX_CHUNK;
        if (chunk > inner) chunk = inner;
        int64_t chunks = (inner + chunk - 1) / chunk, items = krows * chunks;
        group Kouter = K;
        Kouter.n--;
        const cg_cpu_vec *vec = cg_cpu_vec_active();
        ND_TUNED_FOR(CG_EW_TUNE_ROWS, threads > 1 && items > 1, elements,
            for (int64_t it = 0; it < items; it++) {
                int64_t kr = it / chunks, c0 = (it % chunks) * chunk;
                int64_t len = inner - c0 < chunk ? inner - c0 : chunk;
                const float *kb = base + group_offset(&Kouter, kr) + c0;
                double acc[MAX_CHUNK];
                const float *rowp[ROWS];
                for (int64_t i = 0; i < len; i++) acc[i] = 0;
                for (int64_t r0 = 0; r0 < n_red; r0 += ROWS) {
                    int nr = n_red - r0 < ROWS ? (int)(n_red - r0) : ROWS;
                    for (int j = 0; j < nr; j++) rowp[j] = kb + group_offset(&R, r0 + j);
                    vec->accumulate(acc, rowp, nr, len);
                }
                for (int64_t i = 0; i < len; i++) o[kr * inner + c0 + i] = (float)acc[i];
            }
        );
        return;
    }
    ND_TUNED_FOR(CG_EW_TUNE_REDUCE, n_out * n_red >= 65536 && n_out > 1, n_out * n_red,
        for (int64_t k = 0; k < n_out; k++)
            reduce_one(op, base + group_offset(&K, k), &R, &o[k], ix ? &ix[k] : NULL);
    );
}

/* Scatters g back to the positions max/min picked.  gx is contiguous with the
 * input's shape; g and index are contiguous with the keepdim shape, and
 * index holds the flat position within the reduced dims (cg_cpu_reduce). */
void cg_cpu_reduce_index_backward(const cg_kview *gx, const cg_kview *g, const cg_kview *index,
                                  unsigned mask) {
    int nd = gx->ndim;
    int64_t kshape[CG_MAX_DIMS], kstr[CG_MAX_DIMS], xstr[CG_MAX_DIMS];
    for (int d = 0; d < nd; d++) kshape[d] = (mask >> d) & 1 ? 1 : gx->shape[d];
    /* contiguous strides of the keepdim shape and of the input's */
    int64_t sk = 1, sx = 1;
    for (int d = nd - 1; d >= 0; d--) {
        kstr[d] = sk, xstr[d] = sx;
        sk *= kshape[d] > 0 ? kshape[d] : 1;
        sx *= gx->shape[d] > 0 ? gx->shape[d] : 1;
    }
    const float *gv = g->data;
    const int64_t *iv = index->data;
    float *o = gx->data;
    int64_t count = 1;
    for (int d = 0; d < nd; d++) count *= kshape[d];
    for (int64_t k = 0; k < count; k++) {
        int64_t rem = k, pos = iv[k], off = 0;
        for (int d = 0; d < nd; d++) { /* kept dims from k */
            int64_t i = rem / kstr[d];
            rem %= kstr[d];
            if (!((mask >> d) & 1)) off += i * xstr[d];
        }
        for (int d = nd - 1; d >= 0; d--) /* reduced dims from the flat position */
            if ((mask >> d) & 1) {
                off += (pos % gx->shape[d]) * xstr[d];
                pos /= gx->shape[d];
            }
        o[off] += gv[k];
    }
}
