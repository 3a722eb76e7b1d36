/* Random numbers that match PyTorch's CPU generator bit for bit.
 *
 * What PyTorch 1.13 does on the CPU (checked against the installed torch,
 * see tests/test_random.c), and what this file reproduces:
 *
 *   generator   mt19937 (32-bit Mersenne Twister).  torch.manual_seed(s) seeds
 *               it with the low 32 bits of s, the standard init_genrand.
 *               Unseeded, it starts from 67280421310721 like a fresh
 *               torch.Generator() (torch.default_generator itself starts
 *               from a non-deterministic seed; cgrad stays reproducible).
 *   random64    two 32-bit draws, the first one as the high half.
 *   rand        float32: (u32 & 0xffffff) * 2^-24, i.e. 24 random bits.
 *   uniform_    float32: x * (to - from) + from with x as above, the multiply
 *               and add fused into one rounding (PyTorch's kernel is compiled
 *               with FMA contraction).
 *   randn /     float32, contiguous, numel >= 16: first one uniform per
 *   normal_     element, then Box-Muller on blocks of 16 (u1 = 1 - data[j],
 *               u2 = data[j+8]; data[j] = r cos, data[j+8] = r sin) with the
 *               float approximations of log and sincos that PyTorch's AVX2
 *               kernel uses (Cephes polynomials, see cephes_logf and
 *               cephes_sincosf).  When numel % 16 != 0 the last 16 elements
 *               are drawn again and transformed again.
 *               Otherwise (numel < 16, or a strided tensor): one double
 *               Box-Muller pair per two values, from two 53-bit uniforms,
 *               with the second value (r sin) cached in the generator for the
 *               next call -- so randn(3) leaves one value that the next small
 *               randn returns first.
 *   randperm    Fisher-Yates from the front: swap r[i] with r[i + u32 % (n-i)].
 *
 * Rounding: bit-exactness depends on each product and sum being rounded
 * exactly where PyTorch's compiled kernel rounds them.  Every step below is a
 * separate statement; fused steps are explicit fmaf() calls.  ISO C mode (the
 * build uses -std=c11) keeps GCC from fusing anything else; clang is told the
 * same with the pragma below. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "cgrad/random.h"
#include "core/dispatch.h"
#include "core/internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* libtorch's default_rng_seed_val: the seed before any manual_seed. */
#define CG_DEFAULT_SEED UINT64_C(67280421310721)

enum { MT_N = 624, MT_M = 397 };

/* ---- the Mersenne Twister ------------------------------------------------ */
void cg_generator_init(cg_generator *g, uint64_t seed) {
    g->seed = seed;
    g->state[0] = (uint32_t)(seed & 0xffffffffu);
    for (int j = 1; j < MT_N; j++)
        g->state[j] = 1812433253u * (g->state[j - 1] ^ (g->state[j - 1] >> 30)) + (uint32_t)j;
    g->index = MT_N; /* regenerate the whole state on the first draw */
    g->has_next_normal = false;
    g->next_normal = 0.0;
}

static inline uint32_t mt_mix(uint32_t upper, uint32_t lower, uint32_t far) {
    uint32_t y = (upper & 0x80000000u) | (lower & 0x7fffffffu);
    return far ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
}

/* Regenerates all 624 words; three loops instead of `% MT_N` on every index. */
static void mt_twist(cg_generator *g) {
    uint32_t *s = g->state;
    int i = 0;
    for (; i < MT_N - MT_M; i++) s[i] = mt_mix(s[i], s[i + 1], s[i + MT_M]);
    for (; i < MT_N - 1; i++) s[i] = mt_mix(s[i], s[i + 1], s[i + MT_M - MT_N]);
    s[MT_N - 1] = mt_mix(s[MT_N - 1], s[0], s[MT_M - 1]);
    g->index = 0;
}

uint32_t cg_generator_u32(cg_generator *g) {
    if (g->index >= MT_N || g->index < 0) mt_twist(g);
    uint32_t y = g->state[g->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* CPUGeneratorImpl::random64: the first draw is the high half. */
static uint64_t generator_u64(cg_generator *g) {
    uint64_t hi = cg_generator_u32(g);
    uint64_t lo = cg_generator_u32(g);
    return (hi << 32) | lo;
}

/* `u32 % n`, PyTorch's randperm draw, for n <= 2^32 (bias below n / 2^32,
 * negligible for dataset sizes); 64-bit draws beyond. */
uint64_t cg_generator_below(cg_generator *g, uint64_t n) {
    if (n <= 1) return 0;
    if (n <= UINT64_C(0x100000000)) return cg_generator_u32(g) % n;
    return generator_u64(g) % n;
}

/* The default generator starts from the seed of a fresh torch.Generator().  Its
 * first use is initialised once even with several threads; drawing from it
 * (or any generator) on two threads at once is the caller's to avoid. */
static cg_generator default_generator;
static pthread_once_t default_generator_once = PTHREAD_ONCE_INIT;

static void default_generator_init(void) { cg_generator_init(&default_generator, CG_DEFAULT_SEED); }

cg_generator *cg_default_generator(void) {
    pthread_once(&default_generator_once, default_generator_init);
    return &default_generator;
}

void cg_manual_seed(uint64_t seed) { cg_generator_init(cg_default_generator(), seed); }

static cg_generator *generator_or_default(cg_generator *gen) {
    return gen ? gen : cg_default_generator();
}

/* ---- uniform draws ------------------------------------------------------- */
/* at::uniform_real_distribution<float>(0, 1): 24 random bits. */
static float uniform_float(cg_generator *g) {
    return (float)(cg_generator_u32(g) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* at::uniform_real_distribution<double>(0, 1): 53 random bits of random64. */
static double uniform_double(cg_generator *g) {
    return (double)(generator_u64(g) & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* at::normal_distribution<double>: Box-Muller on two 53-bit uniforms, the
 * sine half cached for the next call. */
static double standard_normal_double(cg_generator *g) {
    if (g->has_next_normal) {
        g->has_next_normal = false;
        return g->next_normal;
    }
    const double pi = 3.14159265358979323846;
    double u1 = uniform_double(g);
    double u2 = uniform_double(g);
    double r = sqrt(-2.0 * log(1.0 - u2));
    double theta = 2.0 * pi * u1;
    g->next_normal = r * sin(theta);
    g->has_next_normal = true;
    return r * cos(theta);
}

/* ---- the float approximations of PyTorch's AVX2 normal kernel ------------ */
/* Natural log of x in (0, 1], Cephes' logf as vectorised in avx_mathfun.h:
 * x = m * 2^e with m in [0.5, 1), folded to [sqrt(1/2), sqrt(2)), then a
 * degree-9 polynomial.  The Horner steps are fused multiply-adds, as GCC
 * contracts them in PyTorch's build. */
static float cephes_logf(float x) {
    const float sqrt_half = 0.707106781186547524f;
    const float min_normal = 1.17549435e-38f;
    if (!(x > 0.0f)) return NAN;
    if (x < min_normal) x = min_normal;

    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    float e = (float)((int32_t)(bits >> 23) - 0x7f);
    bits = (bits & ~0x7f800000u) | 0x3f000000u; /* the mantissa, as a float in [0.5, 1) */
    memcpy(&x, &bits, sizeof x);
    e = e + 1.0f;

    float fold = 0.0f; /* m < sqrt(1/2): use 2m - 1 and e - 1 */
    if (x < sqrt_half) {
        fold = x;
        e = e - 1.0f;
    }
    x = x - 1.0f;
    x = x + fold;

    float z = x * x;
    float y = 7.0376836292E-2f;
    y = fmaf(y, x, -1.1514610310E-1f);
    y = fmaf(y, x, 1.1676998740E-1f);
    y = fmaf(y, x, -1.2420140846E-1f);
    y = fmaf(y, x, 1.4249322787E-1f);
    y = fmaf(y, x, -1.6668057665E-1f);
    y = fmaf(y, x, 2.0000714765E-1f);
    y = fmaf(y, x, -2.4999993993E-1f);
    y = fmaf(y, x, 3.3333331174E-1f);
    y = y * x;
    float e_low = e * -2.12194440e-4f; /* log(2) split in two parts */
    y = fmaf(y, z, e_low);
    float half_z = z * 0.5f; /* exact */
    y = y - half_z;
    x = x + y;
    float e_high = e * 0.693359375f; /* exact: 0.693359375 has 9 bits */
    return x + e_high;
}

/* sin and cos of x together, Cephes' sinf/cosf as vectorised in avx_mathfun.h
 * (sincos256_ps): reduce by multiples of pi/4 in three parts, then evaluate a
 * cosine and a sine polynomial and pick by octant. */
static void cephes_sincosf(float x, float *sin_out, float *cos_out) {
    uint32_t xbits;
    memcpy(&xbits, &x, sizeof xbits);
    uint32_t sign_sin = xbits & 0x80000000u;
    x = fabsf(x);

    float scaled = x * 1.27323954473516f; /* 4 / pi */
    int32_t j = (int32_t)scaled;
    j = (j + 1) & ~1; /* the even octant at or above */
    float y = (float)j;

    uint32_t swap_sin = ((uint32_t)j & 4u) << 29;
    bool sine_poly_for_sin = (j & 2) == 0;
    uint32_t sign_cos = (~(uint32_t)(j - 2) & 4u) << 29;
    sign_sin ^= swap_sin;

    /* x - y * pi/4 in extended precision: pi/4 = DP1 + DP2 + DP3. */
    x = fmaf(y, -0.78515625f, x);
    x = fmaf(y, -2.4187564849853515625e-4f, x);
    x = fmaf(y, -3.77489497744594108e-8f, x);

    float z = x * x;
    /* cosine polynomial on [-pi/4, pi/4] */
    float c = fmaf(2.443315711809948E-005f, z, -1.388731625493765E-003f);
    c = fmaf(c, z, 4.166664568298827E-002f);
    c = c * z;
    float half_z = z * 0.5f; /* exact */
    c = fmaf(c, z, -half_z);
    c = c + 1.0f;
    /* sine polynomial on [-pi/4, pi/4] */
    float s = fmaf(-1.9515295891E-4f, z, 8.3321608736E-3f);
    s = fmaf(s, z, -1.6666654611E-1f);
    s = s * z;
    s = fmaf(s, x, x);

    float sin_val = sine_poly_for_sin ? s : c;
    float cos_val = sine_poly_for_sin ? c : s;
    uint32_t sb, cb;
    memcpy(&sb, &sin_val, sizeof sb);
    memcpy(&cb, &cos_val, sizeof cb);
    sb ^= sign_sin;
    cb ^= sign_cos;
    memcpy(sin_out, &sb, sizeof sb);
    memcpy(cos_out, &cb, sizeof cb);
}

/* normal_fill_16_AVX2: data holds 16 uniforms in [0, 1); becomes 16 normals. */
static void normal_fill_16(float *data, float mean, float std) {
    const float two_pi = (float)(2.0 * 3.14159265358979323846);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - data[j]; /* (0, 1] for the log */
        float u2 = data[j + 8];
        float minus_two_log = -2.0f * cephes_logf(u1);
        float radius = sqrtf(minus_two_log);
        float theta = two_pi * u2;
        float sin_t, cos_t;
        cephes_sincosf(theta, &sin_t, &cos_t);
        float n1 = radius * cos_t;
        float n2 = radius * sin_t;
        data[j] = fmaf(n1, std, mean);
        data[j + 8] = fmaf(n2, std, mean);
    }
}

/* normal_fill_AVX2 on a contiguous buffer of n >= 16 floats. */
static void normal_fill(float *data, int64_t n, float mean, float std, cg_generator *g) {
    for (int64_t i = 0; i < n; i++) data[i] = uniform_float(g);
    for (int64_t i = 0; i + 16 <= n; i += 16) normal_fill_16(data + i, mean, std);
    if (n % 16 != 0) {
        float *tail = data + n - 16; /* PyTorch redraws and redoes the last 16 */
        for (int i = 0; i < 16; i++) tail[i] = uniform_float(g);
        normal_fill_16(tail, mean, std);
    }
}

/* ---- walking a tensor in the order PyTorch's TensorIterator fills it ----- */
/* A nullary TensorIterator visits memory in stride order (largest stride
 * outermost), so a transposed tensor is filled in its storage order. */
typedef struct element_walk {
    int ndim;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS], index[CG_MAX_DIMS];
    int64_t offset;
} element_walk;

static void walk_begin(element_walk *w, const cg_tensor *t) {
    int order[CG_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) order[d] = d;
    /* stable insertion sort by stride, largest first */
    for (int a = 1; a < t->ndim; a++)
        for (int b = a; b > 0 && t->strides[order[b - 1]] < t->strides[order[b]]; b--) {
            int tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
    w->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) {
        w->shape[d] = t->shape[order[d]];
        w->strides[d] = t->strides[order[d]];
        w->index[d] = 0;
    }
    w->offset = 0;
}

static void walk_next(element_walk *w) {
    for (int d = w->ndim - 1; d >= 0; d--) {
        w->offset += w->strides[d];
        if (++w->index[d] < w->shape[d]) return;
        w->offset -= w->strides[d] * w->shape[d];
        w->index[d] = 0;
    }
}

/* In-place fills: float32 only; no leaf that requires grad while grad mode
 * is on (PyTorch refuses the same); no overlapping (expanded) layout. */
static cg_status check_inplace_target(const cg_tensor *t, const char *op) {
    if (!t) return cg_fail(CG_ERR_VALUE, "%s: NULL tensor", op);
    char s[128];
    if (t->dtype != CG_FLOAT32)
        return cg_fail(CG_ERR_DTYPE, "%s: expected a float32 tensor, got %s (shape %s)", op,
                       cg_dtype_name(t->dtype), cg_shape_str(t, s, sizeof s));
    if (t->requires_grad && !t->grad_fn && cg_hook_grad_enabled())
        return cg_fail(CG_ERR_GRAD,
                       "%s: a leaf tensor that requires grad (shape %s) is being used in an "
                       "in-place operation; run it with grad mode off (no-grad)",
                       op, cg_shape_str(t, s, sizeof s));
    for (int d = 0; d < t->ndim; d++)
        if (t->strides[d] == 0 && t->shape[d] > 1)
            return cg_fail(CG_ERR_VALUE,
                           "%s: more than one element of the tensor (shape %s, dim %d has stride "
                           "0) refers to a single memory location; call cg_clone first",
                           op, cg_shape_str(t, s, sizeof s), d);
    return CG_OK;
}

/* ---- public fills and factories ------------------------------------------ */
cg_status cg_normal_(cg_tensor *t, cg_generator *gen, double mean, double std) {
    cg_status st = check_inplace_target(t, "normal_");
    if (st != CG_OK) return st;
    if (!(std >= 0.0) || !isfinite(mean))
        return cg_fail(CG_ERR_VALUE, "normal_: expects std >= 0.0 and a finite mean, got mean=%g std=%g",
                       mean, std);
    cg_generator *g = generator_or_default(gen);
    int64_t n = cg_numel(t);
    float *base = cg_host_begin(t); /* drawn on the host, in PyTorch's order */
    if (!base) return cg_last_status();
    if (n >= 16 && cg_is_contiguous(t)) {
        normal_fill(base, n, (float)mean, (float)std, g);
    } else {
        element_walk w;
        walk_begin(&w, t);
        for (int64_t i = 0; i < n; i++, walk_next(&w))
            base[w.offset] = (float)fma(standard_normal_double(g), std, mean);
    }
    cg_host_end(t, base, true);
    return CG_OK;
}

cg_status cg_uniform_(cg_tensor *t, cg_generator *gen, double lo, double hi) {
    cg_status st = check_inplace_target(t, "uniform_");
    if (st != CG_OK) return st;
    float from = (float)lo, to = (float)hi;
    if (!(from <= to) || !isfinite(to - from))
        return cg_fail(CG_ERR_VALUE,
                       "uniform_: expects to return a [from, to) range, but found from=%g to=%g",
                       lo, hi);
    cg_generator *g = generator_or_default(gen);
    int64_t n = cg_numel(t);
    float *base = cg_host_begin(t);
    if (!base) return cg_last_status();
    float width = to - from;
    element_walk w;
    walk_begin(&w, t);
    for (int64_t i = 0; i < n; i++, walk_next(&w))
        base[w.offset] = fmaf(uniform_float(g), width, from);
    cg_host_end(t, base, true);
    return CG_OK;
}

cg_tensor *cg_rand(cg_generator *gen, int ndim, const int64_t *shape) {
    cg_tensor *t = cg_empty(CG_FLOAT32, ndim, shape);
    if (!t) return NULL;
    cg_generator *g = generator_or_default(gen);
    float *p = cg_host_begin(t);
    if (!p) return NULL; /* never: cg_empty makes CPU tensors, written in place */
    int64_t n = cg_numel(t);
    for (int64_t i = 0; i < n; i++) p[i] = uniform_float(g);
    cg_host_end(t, p, true);
    return t;
}

cg_tensor *cg_randn(cg_generator *gen, int ndim, const int64_t *shape) {
    cg_tensor *t = cg_empty(CG_FLOAT32, ndim, shape);
    if (!t) return NULL;
    /* Cannot fail on a fresh contiguous float32 tensor without grad. */
    (void)cg_normal_(t, gen, 0.0, 1.0);
    return t;
}

cg_tensor *cg_randperm(cg_generator *gen, int64_t n) {
    if (n < 0) {
        cg_fail(CG_ERR_VALUE, "randperm: n must be non-negative, got %lld", (long long)n);
        return NULL;
    }
    cg_tensor *t = cg_empty(CG_INT64, 1, &n);
    if (!t) return NULL;
    cg_generator *g = generator_or_default(gen);
    int64_t *r = cg_host_begin(t);
    if (!r) return NULL; /* never: cg_empty makes CPU tensors, written in place */
    for (int64_t i = 0; i < n; i++) r[i] = i;
    for (int64_t i = 0; i + 1 < n; i++) {
        int64_t z = (int64_t)(cg_generator_u32(g) % (uint64_t)(n - i));
        int64_t saved = r[i];
        r[i] = r[z + i];
        r[z + i] = saved;
    }
    cg_host_end(t, r, true);
    return t;
}
