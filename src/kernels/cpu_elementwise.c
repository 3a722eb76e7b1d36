/* CPU elementwise kernels: fill, copy/cast, arange/linspace, unary, binary, where. */
#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <xmmintrin.h>
#endif

#include "kernels/cpu_iter.h"
#include "kernels/cpu_kernels.h"

/* ---- fill and copy ------------------------------------------------------ */
void cg_cpu_fill(const cg_kview *t, double v) {
    nd_layout L;
    nd_init(&L, 1, (const cg_kview *[]){t});
    int64_t rows = nd_rows(&L), n = L.shape[L.ndim - 1], s = L.strides[0][L.ndim - 1];
    for (int64_t r = 0; r < rows; r++) {
        int64_t off[ND_MAX_OPS];
        nd_row_offsets(&L, r, off);
        if (t->dtype == CG_FLOAT32) {
            float *p = (float *)L.base[0] + off[0], fv = (float)v;
            for (int64_t i = 0; i < n; i++) p[i * s] = fv;
        } else {
            for (int64_t i = 0; i < n; i++)
                cg_kstore(t->dtype, L.base[0] + (off[0] + i * s) * (int64_t)L.esize[0], v);
        }
    }
}

/* A float transpose (dst's rows contiguous, src's columns contiguous: the
 * contiguous copy of a .T view, e.g. a Linear weight's gradient, made as the
 * transposed [in, out] product) in TILE x TILE tiles, so that each tile's
 * strided reads touch TILE lines that stay cached across its rows, and
 * within a tile 4x4 blocks through SSE registers (x86-64's baseline).  Row
 * by row, each read of src is a line of its own: 512x1024 took 2.1 ms, the
 * tiles alone 1.5, with the 4x4 blocks 0.55 (one thread, EPYC).  A copy:
 * the same values. */
#define TILE 32
void cg_cpu_copy_transposed(float *o, int64_t os, const float *x, int64_t xs, int64_t rows, int64_t n) {
    /* o[r*os + i] = x[r + i*xs] */
    for (int64_t i0 = 0; i0 < n; i0 += TILE)
        for (int64_t r0 = 0; r0 < rows; r0 += TILE) {
            int64_t i1 = i0 + TILE < n ? i0 + TILE : n, r1 = r0 + TILE < rows ? r0 + TILE : rows, r = r0;
#ifdef __SSE2__
            for (; r + 4 <= r1; r += 4) {
                int64_t i = i0;
                for (; i + 4 <= i1; i += 4) {
                    __m128 a = _mm_loadu_ps(x + r + i * xs), b = _mm_loadu_ps(x + r + (i + 1) * xs);
                    __m128 c = _mm_loadu_ps(x + r + (i + 2) * xs), d = _mm_loadu_ps(x + r + (i + 3) * xs);
                    _MM_TRANSPOSE4_PS(a, b, c, d);
                    _mm_storeu_ps(o + r * os + i, a), _mm_storeu_ps(o + (r + 1) * os + i, b);
                    _mm_storeu_ps(o + (r + 2) * os + i, c), _mm_storeu_ps(o + (r + 3) * os + i, d);
                }
                for (; i < i1; i++)
                    for (int64_t k = r; k < r + 4; k++) o[k * os + i] = x[k + i * xs];
            }
#endif
            for (; r < r1; r++)
                for (int64_t i = i0; i < i1; i++) o[r * os + i] = x[r + i * xs];
        }
}

void cg_cpu_copy(const cg_kview *dst, const cg_kview *src) {
    nd_layout L;
    nd_init(&L, 2, (const cg_kview *[]){dst, src});
    int64_t rows = nd_rows(&L), n = L.shape[L.ndim - 1];
    if (L.ndim == 2 && dst->dtype == CG_FLOAT32 && src->dtype == CG_FLOAT32 && L.strides[0][1] == 1 &&
        L.strides[1][0] == 1 && L.strides[1][1] >= rows && rows >= TILE && n >= TILE) {
        cg_cpu_copy_transposed((float *)L.base[0], L.strides[0][0], (const float *)L.base[1], L.strides[1][1], rows, n);
        return;
    }
    int64_t sd = L.strides[0][L.ndim - 1], ss = L.strides[1][L.ndim - 1];
    cg_dtype dd = dst->dtype, ds = src->dtype;
    size_t ed = L.esize[0], es = L.esize[1];
    ND_TUNED_FOR(CG_EW_TUNE_COPY, rows * n >= ND_PARALLEL_MIN && rows > 1, rows * n,
        for (int64_t r = 0; r < rows; r++) {
            int64_t off[ND_MAX_OPS];
            nd_row_offsets(&L, r, off);
            char *pd = L.base[0] + off[0] * (int64_t)ed;
            const char *ps = L.base[1] + off[1] * (int64_t)es;
            if (dd == ds && sd == 1 && ss == 1) {
                memcpy(pd, ps, (size_t)n * ed);
            } else if (dd == CG_FLOAT32 && ds == CG_FLOAT32) {
                float *o = (float *)pd;
                const float *x = (const float *)ps;
                for (int64_t i = 0; i < n; i++) o[i * sd] = x[i * ss];
            } else if (dd == CG_FLOAT32 && ds == CG_UINT8) {
                float *o = (float *)pd;
                const uint8_t *x = (const uint8_t *)ps;
                for (int64_t i = 0; i < n; i++) o[i * sd] = x[i * ss];
            } else if (dd == ds && ed == 8) {
                int64_t *o = (int64_t *)pd;
                const int64_t *x = (const int64_t *)ps;
                for (int64_t i = 0; i < n; i++) o[i * sd] = x[i * ss];
            } else if (dd == ds && ed == 1) {
                for (int64_t i = 0; i < n; i++) pd[i * sd] = ps[i * ss];
            } else {
                for (int64_t i = 0; i < n; i++)
                    cg_kstore(dd, pd + i * sd * (int64_t)ed, cg_kload(ds, ps + i * ss * (int64_t)es));
            }
        }
    );
}

void cg_cpu_arange(const cg_kview *t, double start, double step) {
    int64_t n = t->ndim ? t->shape[0] : 1;
    size_t es = cg_kdtype_size(t->dtype);
    for (int64_t i = 0; i < n; i++)
        cg_kstore(t->dtype, (char *)t->data + i * (int64_t)es, start + (double)i * step);
}

void cg_cpu_linspace(const cg_kview *t, double start, double end) {
    float *p = t->data;
    int64_t steps = t->ndim ? t->shape[0] : 1;
    double delta = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
    /* PyTorch fills the first half from start and the second from end;
     * a single step is just `start` (torch.linspace(2, 9, 1) is tensor([2.])). */
    int64_t half = steps > 1 ? steps / 2 : steps;
    for (int64_t i = 0; i < steps; i++)
        p[i] = (float)(i < half ? start + delta * (double)i : end - delta * (double)(steps - 1 - i));
}

/* ---- unary -------------------------------------------------------------- */
/* Contiguous rows go to the dispatched vector loops (cpu_dispatch.h); the
 * strided ones run here, with the baseline's scalar functions. */
static inline float sigmoidf(float x) {
    /* Stable for large |x|: never exponentiates a large positive number. */
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

#define UNARY_CASE(OP, EXPR)                                               \
    case OP:                                                               \
        for (int64_t i = 0; i < n; i++) { float x = in_[i * si]; o[i * so] = (EXPR); } \
        break;

void cg_cpu_unary(cg_unary_op op, const cg_kview *out, const cg_kview *in, double p0, double p1) {
    nd_layout L;
    nd_init(&L, 2, (const cg_kview *[]){out, in});
    int64_t rows = nd_rows(&L), n = L.shape[L.ndim - 1];
    int64_t so = L.strides[0][L.ndim - 1], si = L.strides[1][L.ndim - 1];
    const float a = (float)p0, b = (float)p1;
    const bool square = op == CG_U_POW && p0 == 2.0;
    const cg_cpu_vec *vec = cg_cpu_vec_active();
    ND_TUNED_FOR(CG_EW_TUNE_UNARY, rows * n >= ND_PARALLEL_MIN && rows > 1, rows * n,
        for (int64_t r = 0; r < rows; r++) {
            int64_t off[ND_MAX_OPS];
            nd_row_offsets(&L, r, off);
            float *o = (float *)L.base[0] + off[0];
            const float *in_ = (const float *)L.base[1] + off[1];
            if (so == 1 && si == 1) {
                vec->unary(op, o, in_, n, a, b);
                continue;
            }
            switch (op) {
                UNARY_CASE(CG_U_NEG, -x)
                UNARY_CASE(CG_U_ABS, fabsf(x))
                UNARY_CASE(CG_U_SQRT, sqrtf(x))
                UNARY_CASE(CG_U_EXP, expf(x))
                UNARY_CASE(CG_U_LOG, logf(x))
                UNARY_CASE(CG_U_SIGMOID, sigmoidf(x))
                UNARY_CASE(CG_U_RELU, x > 0 ? x : 0.0f)
                UNARY_CASE(CG_U_TANH, tanhf(x))
                UNARY_CASE(CG_U_POW, square ? x * x : powf(x, a))
                UNARY_CASE(CG_U_CLAMP, fminf(fmaxf(x, a), b))
                UNARY_CASE(CG_U_AFFINE, x * a + b)
            }
        }
    );
}

/* ---- binary ------------------------------------------------------------- */
/* Four inner-loop shapes: both contiguous, b scalar, a scalar, general. */
#define BINARY_LOOP(T_IN, T_OUT, EXPR)                                                   \
    do {                                                                                 \
        T_OUT *o = (T_OUT *)L.base[0] + off[0];                                          \
        const T_IN *pa = (const T_IN *)L.base[1] + off[1];                               \
        const T_IN *pb = (const T_IN *)L.base[2] + off[2];                               \
        if (so == 1 && sa == 1 && sb == 1) {                                             \
            for (int64_t i = 0; i < n; i++) { T_IN x = pa[i], y = pb[i]; o[i] = (EXPR); } \
        } else if (so == 1 && sa == 1 && sb == 0) {                                      \
            const T_IN y = pb[0];                                                        \
            for (int64_t i = 0; i < n; i++) { T_IN x = pa[i]; o[i] = (EXPR); }           \
        } else if (so == 1 && sa == 0 && sb == 1) {                                      \
            const T_IN x = pa[0];                                                        \
            for (int64_t i = 0; i < n; i++) { T_IN y = pb[i]; o[i] = (EXPR); }           \
        } else {                                                                         \
            for (int64_t i = 0; i < n; i++) {                                            \
                T_IN x = pa[i * sa], y = pb[i * sb];                                     \
                o[i * so] = (EXPR);                                                      \
            }                                                                            \
        }                                                                                \
    } while (0)

#define F_CASE(OP, EXPR) case OP: BINARY_LOOP(float, float, EXPR); break;
#define I_CASE(OP, EXPR) case OP: BINARY_LOOP(int64_t, int64_t, EXPR); break;
#define CMP_CASES(T)                                                  \
    case CG_B_LT: BINARY_LOOP(T, uint8_t, x < y); break;              \
    case CG_B_LE: BINARY_LOOP(T, uint8_t, x <= y); break;             \
    case CG_B_GT: BINARY_LOOP(T, uint8_t, x > y); break;              \
    case CG_B_GE: BINARY_LOOP(T, uint8_t, x >= y); break;             \
    case CG_B_EQ: BINARY_LOOP(T, uint8_t, x == y); break;             \
    case CG_B_NE: BINARY_LOOP(T, uint8_t, x != y); break;

/* Rows [r0, r1) of the layout: one call per block of rows, so the layout
 * copy and the dispatch are paid once per block, not once per short row. */
static void binary_f32(cg_binary_op op, const nd_layout *Lp, int64_t r0, int64_t r1, float p0, float p1) {
    const nd_layout L = *Lp;
    int64_t off[ND_MAX_OPS];
    int64_t n = L.shape[L.ndim - 1];
    int64_t so = L.strides[0][L.ndim - 1], sa = L.strides[1][L.ndim - 1], sb = L.strides[2][L.ndim - 1];
    const cg_cpu_vec *vec = cg_cpu_vec_active();
    const bool contiguous = so == 1 && (sa == 1 || sa == 0) && (sb == 1 || sb == 0) && (sa | sb);
    for (int64_t r = r0; r < r1; r++) {
    nd_row_offsets(&L, r, off);
    if (contiguous &&
        vec->binary(op, (float *)L.base[0] + off[0], (const float *)L.base[1] + off[1],
                    (const float *)L.base[2] + off[2], n, sa == 0, sb == 0, p0, p1))
        continue;
    switch (op) {
        F_CASE(CG_B_ADD, x + y)
        F_CASE(CG_B_SUB, x - y)
        F_CASE(CG_B_MUL, x * y)
        F_CASE(CG_B_DIV, x / y)
        F_CASE(CG_B_MAX, (x > y || isnan(x)) ? x : y)
        F_CASE(CG_B_MIN, (x < y || isnan(x)) ? x : y)
        CMP_CASES(float)
        F_CASE(CG_B_RELU_BACK, y > 0 ? x : 0.0f)
        F_CASE(CG_B_SIGMOID_BACK, x * y * (1.0f - y))
        F_CASE(CG_B_TANH_BACK, x * (1.0f - y * y))
        F_CASE(CG_B_ABS_BACK, y > 0 ? x : (y < 0 ? -x : 0.0f))
        F_CASE(CG_B_SQRT_BACK, x * 0.5f / y)
        F_CASE(CG_B_POW_BACK, p0 == 2.0f ? x * 2.0f * y : x * p0 * powf(y, p0 - 1.0f))
        F_CASE(CG_B_CLAMP_BACK, (y >= p0 && y <= p1) ? x : 0.0f)
    default: break;
    }
    }
}

static void binary_i64(cg_binary_op op, const nd_layout *Lp, int64_t r0, int64_t r1) {
    const nd_layout L = *Lp;
    int64_t off[ND_MAX_OPS];
    int64_t n = L.shape[L.ndim - 1];
    int64_t so = L.strides[0][L.ndim - 1], sa = L.strides[1][L.ndim - 1], sb = L.strides[2][L.ndim - 1];
    for (int64_t r = r0; r < r1; r++) {
    nd_row_offsets(&L, r, off);
    switch (op) {
        I_CASE(CG_B_ADD, x + y)
        I_CASE(CG_B_SUB, x - y)
        I_CASE(CG_B_MUL, x * y)
        I_CASE(CG_B_MAX, x > y ? x : y)
        I_CASE(CG_B_MIN, x < y ? x : y)
        CMP_CASES(int64_t)
    default: break;
    }
    }
}

void cg_cpu_binary(cg_binary_op op, const cg_kview *out, const cg_kview *a, const cg_kview *b,
                   double p0, double p1) {
    nd_layout L;
    nd_init(&L, 3, (const cg_kview *[]){out, a, b});
    int64_t rows = nd_rows(&L), n = L.shape[L.ndim - 1];
    /* blocks of ~16K elements (at least one row) are the unit of work and of sharing */
    int64_t block = n >= 16384 ? 1 : 16384 / (n ? n : 1), nblocks = (rows + block - 1) / block;
    if (a->dtype == CG_FLOAT32) {
        ND_TUNED_FOR(CG_EW_TUNE_BINARY, rows * n >= ND_PARALLEL_MIN && nblocks > 1, rows * n,
            for (int64_t blk = 0; blk < nblocks; blk++)
                binary_f32(op, &L, blk * block, blk * block + block < rows ? blk * block + block : rows, (float)p0,
                           (float)p1);
        );
    } else {
        ND_TUNED_FOR(CG_EW_TUNE_BINARY, rows * n >= ND_PARALLEL_MIN && nblocks > 1, rows * n,
            for (int64_t blk = 0; blk < nblocks; blk++)
                binary_i64(op, &L, blk * block, blk * block + block < rows ? blk * block + block : rows);
        );
    }
}

void cg_cpu_where(const cg_kview *out, const cg_kview *cond, const cg_kview *a, const cg_kview *b) {
    nd_layout L;
    nd_init(&L, 4, (const cg_kview *[]){out, cond, a, b});
    int64_t rows = nd_rows(&L), n = L.shape[L.ndim - 1];
    int64_t so = L.strides[0][L.ndim - 1], sc = L.strides[1][L.ndim - 1];
    int64_t sa = L.strides[2][L.ndim - 1], sb = L.strides[3][L.ndim - 1];
    cg_dtype cd = cond->dtype;
    size_t ce = L.esize[1];
    bool f32 = out->dtype == CG_FLOAT32;
    for (int64_t r = 0; r < rows; r++) {
        int64_t off[ND_MAX_OPS];
        nd_row_offsets(&L, r, off);
        for (int64_t i = 0; i < n; i++) {
            bool c = cg_kload(cd, L.base[1] + (off[1] + i * sc) * (int64_t)ce) != 0;
            if (f32)
                ((float *)L.base[0])[off[0] + i * so] =
                    c ? ((const float *)L.base[2])[off[2] + i * sa] : ((const float *)L.base[3])[off[3] + i * sb];
            else
                ((int64_t *)L.base[0])[off[0] + i * so] =
                    c ? ((const int64_t *)L.base[2])[off[2] + i * sa] : ((const int64_t *)L.base[3])[off[3] + i * sb];
        }
    }
}
