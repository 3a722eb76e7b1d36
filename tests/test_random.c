/* The generator against PyTorch: every expected value below was produced by
 * the installed torch 1.13 (/usr/bin/python3, CPU capability AVX2), with the
 * python shown beside it.  Floats are written as hex literals so that the
 * comparisons are bit for bit.
 * tests/support/random_reference.py prints them all again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cgrad.h"

/* FNV-1a over the float bit patterns, as the python helper computes it:
 *   h = 0xcbf29ce484222325
 *   for x in t.flatten().tolist():
 *       h ^= struct.unpack('<I', struct.pack('<f', x))[0]; h = (h * 0x100000001b3) % 2**64 */
static uint64_t fnv_floats(const float *p, int64_t n) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int64_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &p[i], sizeof b);
        h ^= b;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}
/* The same over int64 values (h ^= x & (2**64-1)). */
static uint64_t fnv_int64(const int64_t *p, int64_t n) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int64_t i = 0; i < n; i++) {
        h ^= (uint64_t)p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Asserts that t (contiguous float32) starts with the n floats in want, bit for bit. */
static void assert_floats_at(const cg_tensor *t, int64_t start, const float *want, int n) {
    assert_non_null(t);
    const float *got = cg_data_f32(t);
    assert_non_null(got);
    for (int i = 0; i < n; i++) {
        if (memcmp(&got[start + i], &want[i], sizeof(float)) != 0)
            fail_msg("element %lld: got %a (%.9g), want %a (%.9g)", (long long)(start + i),
                     (double)got[start + i], (double)got[start + i], (double)want[i],
                     (double)want[i]);
    }
}

static int teardown(void **state) {
    (void)state;
    cg_pool_trim();
    return 0;
}

/* Before any cg_manual_seed the default generator is a fresh torch.Generator():
 *   torch.Generator().initial_seed() == 67280421310721
 * (this test must run first: the others reseed the default generator). */
static void test_default_generator_unseeded(void **state) {
    (void)state;
    assert_true(cg_default_generator()->seed == UINT64_C(67280421310721));
    cg_tensor *a = cg_rand(NULL, CG_SHAPE(4));
    cg_generator g;
    cg_generator_init(&g, UINT64_C(67280421310721));
    cg_tensor *b = cg_rand(&g, CG_SHAPE(4));
    assert_memory_equal(cg_data(a), cg_data(b), 4 * sizeof(float));
    cg_release(a);
    cg_release(b);
}

/* ---- the raw Mersenne Twister ------------------------------------------- */
/* std::mt19937 reference values: default seed 5489 gives 3499211612 first and
 * 4123659995 as the 10000th draw (C++ standard, [rand.predef]). */
static void test_mt19937_reference_stream(void **state) {
    (void)state;
    cg_generator g;
    cg_generator_init(&g, 5489);
    const uint32_t first[5] = {3499211612u, 581869302u, 3890346734u, 3586334585u, 545404204u};
    for (int i = 0; i < 5; i++) assert_int_equal(cg_generator_u32(&g), first[i]);
    cg_generator_init(&g, 5489);
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++) x = cg_generator_u32(&g);
    assert_int_equal(x, 4123659995u);
}

/* torch.manual_seed uses only the low 32 bits of the seed for the state. */
static void test_seed_low_bits(void **state) {
    (void)state;
    cg_generator a, b;
    cg_generator_init(&a, UINT64_C(0x100000000) + 42);
    cg_generator_init(&b, 42);
    for (int i = 0; i < 1000; i++) assert_int_equal(cg_generator_u32(&a), cg_generator_u32(&b));
    assert_true(a.seed == UINT64_C(0x100000000) + 42);
}

static void test_below_in_range(void **state) {
    (void)state;
    cg_generator g;
    cg_generator_init(&g, 1);
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = cg_generator_below(&g, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++) assert_in_range(seen[i], 850, 1150);
    assert_int_equal(cg_generator_below(&g, 1), 0);
    assert_true(cg_generator_below(&g, UINT64_C(1) << 40) < (UINT64_C(1) << 40));
}

/* ---- rand ----------------------------------------------------------------- */
/* torch.manual_seed(42); torch.rand(5) */
static void test_rand_matches_torch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_tensor *t = cg_rand(NULL, CG_SHAPE(5));
    const float want[5] = {0x1.c3b8ccp-1f, 0x1.d47b66p-1f, 0x1.880d7p-2f, 0x1.eb2a1cp-1f,
                           0x1.8fd1a8p-2f};
    assert_int_equal(t->ndim, 1);
    assert_int_equal(t->shape[0], 5);
    assert_floats_at(t, 0, want, 5);
    cg_release(t);
}

/* ---- randn: the vectorised path (numel >= 16) and the scalar path ------- */
/* torch.manual_seed(42); torch.randn(20)  -- one block of 16 plus the last
 * 16 redrawn (20 % 16 != 0) */
static void test_randn20_matches_torch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_tensor *t = cg_randn(NULL, CG_SHAPE(20));
    const float want[20] = {
        0x1.ed4a52p+0f,  0x1.7cbea6p+0f,  0x1.cd2acep-1f,  -0x1.0d81b6p+1f, -0x1.8429c4p-1f,
        0x1.140cap+0f,   0x1.9a0288p-1f,  0x1.ae3d26p+0f,  0x1.6c668ap-2f,  -0x1.5f8d0cp-1f,
        -0x1.f93268p-2f, 0x1.ee9126p-3f,  -0x1.da5ddap-3f, 0x1.5618p-5f,    -0x1.019cf4p-2f,
        0x1.b83f6p-1f,   -0x1.3d2904p-2f, -0x1.953522p-2f, 0x1.9b5878p-1f,  -0x1.3e41cp-1f};
    assert_floats_at(t, 0, want, 20);
    cg_release(t);
}

/* torch.manual_seed(42); torch.randn(3)  -- scalar double Box-Muller */
static void test_randn3_matches_torch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_tensor *t = cg_randn(NULL, CG_SHAPE(3));
    const float want[3] = {0x1.58c55cp-2f, 0x1.07cd3ap-3f, 0x1.e02dcep-3f};
    assert_floats_at(t, 0, want, 3);
    cg_release(t);
}

/* torch.manual_seed(42); a = torch.randn(784, 1)
 * a[:4], a[-4:], fnv(a) */
static void test_randn784_matches_torch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_tensor *t = cg_randn(NULL, CG_SHAPE(784, 1));
    const float head[4] = {0x1.ed4a52p+0f, 0x1.7cbea6p+0f, 0x1.cd2acep-1f, -0x1.0d81b6p+1f};
    const float tail[4] = {-0x1.214aa2p-2f, 0x1.89dd7ep-1f, -0x1.88a62p-1f, -0x1.e6231ep-1f};
    assert_floats_at(t, 0, head, 4);
    assert_floats_at(t, 780, tail, 4);
    assert_true(fnv_floats(cg_data_f32(t), 784) == UINT64_C(0x965c1b32478eb600));
    cg_release(t);
}

/* The chapter's order: the 3 params of the quadratic, then init_params((28*28,1))
 * and init_params(1) -- the last reuses the normal cached by randn(3).
 *   torch.manual_seed(42); a = torch.randn(3); b = torch.randn(784, 1); c = torch.randn(1) */
static void test_chapter_sequence_matches_torch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_tensor *a = cg_randn(NULL, CG_SHAPE(3));
    cg_tensor *b = cg_randn(NULL, CG_SHAPE(784, 1));
    cg_tensor *c = cg_randn(NULL, CG_SHAPE(1));
    const float wa[3] = {0x1.58c55cp-2f, 0x1.07cd3ap-3f, 0x1.e02dcep-3f};
    const float wb_head[2] = {0x1.c9ac9p+0f, -0x1.e984b2p-2f};
    const float wb_tail[2] = {0x1.6500d6p+0f, -0x1.4cedfp+0f};
    const float wc[1] = {0x1.d7b8d8p-3f};
    assert_floats_at(a, 0, wa, 3);
    assert_floats_at(b, 0, wb_head, 2);
    assert_floats_at(b, 782, wb_tail, 2);
    assert_true(fnv_floats(cg_data_f32(b), 784) == UINT64_C(0x99d4762bcc7656ea));
    assert_floats_at(c, 0, wc, 1);
    cg_release(a);
    cg_release(b);
    cg_release(c);
}

/* 65536 normals, every bit: catches a single wrongly rounded step of the
 * log/sincos approximations (about 1 value in 1000 would differ).
 *   torch.manual_seed(0); fnv(torch.randn(65536)) */
static void test_randn_65536_hash(void **state) {
    (void)state;
    cg_manual_seed(0);
    cg_tensor *t = cg_randn(NULL, CG_SHAPE(65536));
    assert_true(fnv_floats(cg_data_f32(t), 65536) == UINT64_C(0xa7ea693afff93465));
    cg_release(t);
}

/* torch.manual_seed(5); torch.randn(())  -- a 0-d tensor */
static void test_randn_0d(void **state) {
    (void)state;
    cg_manual_seed(5);
    cg_tensor *t = cg_randn(NULL, 0, NULL);
    assert_int_equal(t->ndim, 0);
    const float want[1] = {-0x1.f276a8p-2f};
    assert_floats_at(t, 0, want, 1);
    cg_release(t);
}

/* A generator of its own, independent of the default one:
 *   g = torch.Generator().manual_seed(11); torch.randn(17, generator=g) */
static void test_own_generator(void **state) {
    (void)state;
    cg_manual_seed(99);
    cg_generator g;
    cg_generator_init(&g, 11);
    cg_tensor *t = cg_randn(&g, CG_SHAPE(17));
    const float want[17] = {
        -0x1.058742p-1f, 0x1.929cb2p+0f,  -0x1.a3b3f2p+0f, -0x1.97b032p+0f, -0x1.3cac18p-3f,
        -0x1.18b036p+0f, 0x1.5dd958p+0f,  0x1.60e99p-1f,   0x1.30e724p-4f,  0x1.3bf48cp-1f,
        0x1.817446p-1f,  0x1.345a66p-1f,  0x1.023ed4p+1f,  -0x1.2b2b4cp+0f, -0x1.52fe64p+0f,
        0x1.207244p+0f,  0x1.e9493ap+0f};
    assert_floats_at(t, 0, want, 17);
    /* the default generator was not touched: it still gives seed 99's first value */
    cg_tensor *a = cg_rand(NULL, CG_SHAPE(1));
    cg_generator fresh;
    cg_generator_init(&fresh, 99);
    cg_tensor *b = cg_rand(&fresh, CG_SHAPE(1));
    assert_floats_at(a, 0, cg_data_f32(b), 1);
    cg_release(t);
    cg_release(a);
    cg_release(b);
}

/* ---- normal_ and uniform_ --------------------------------------------------- */
/* torch.manual_seed(7); torch.empty(10).normal_(0.5, 2.0)
 * torch.manual_seed(7); a = torch.empty(100).normal_(0.5, 2.0); a[:3], fnv(a) */
static void test_normal_mean_std(void **state) {
    (void)state;
    cg_manual_seed(7);
    cg_tensor *t = cg_empty(CG_FLOAT32, CG_SHAPE(10));
    assert_int_equal(cg_normal_(t, NULL, 0.5, 2.0), CG_OK);
    const float want10[10] = {0x1.a6ba3p-3f,  0x1.09408ep+1f,  0x1.3262e6p+1f, -0x1.ba8b4cp+0f,
                              0x1.f0d7ap+1f,  -0x1.4a26e2p+0f, -0x1.b0a3dep-3f, 0x1.7b7da2p+1f,
                              0x1.8d7d22p-1f, -0x1.6ea49p+1f};
    assert_floats_at(t, 0, want10, 10);
    cg_release(t);

    cg_manual_seed(7);
    t = cg_empty(CG_FLOAT32, CG_SHAPE(100));
    assert_int_equal(cg_normal_(t, NULL, 0.5, 2.0), CG_OK);
    const float want100[3] = {-0x1.23e8acp+0f, 0x1.4a902cp+0f, 0x1.261edep+1f};
    assert_floats_at(t, 0, want100, 3);
    assert_true(fnv_floats(cg_data_f32(t), 100) == UINT64_C(0x85723d4850bfa53a));
    cg_release(t);
}

/* nn.Linear(784, 30)'s init: kaiming_uniform_(a=sqrt(5)) on the weight is
 * uniform_(-1/sqrt(784), 1/sqrt(784)), then the bias uniform_ with the same bound.
 *   torch.manual_seed(42); l = torch.nn.Linear(784, 30)
 *   l.weight.flatten()[:3], fnv(l.weight), l.bias[:3], fnv(l.bias) */
static void test_uniform_matches_linear_init(void **state) {
    (void)state;
    cg_manual_seed(42);
    double bound = 1.0 / sqrt(784.0);
    cg_tensor *w = cg_empty(CG_FLOAT32, CG_SHAPE(30, 784));
    cg_tensor *b = cg_empty(CG_FLOAT32, CG_SHAPE(30));
    assert_int_equal(cg_uniform_(w, NULL, -bound, bound), CG_OK);
    assert_int_equal(cg_uniform_(b, NULL, -bound, bound), CG_OK);
    const float ww[3] = {0x1.bf5d42p-6f, 0x1.e5ac58p-6f, -0x1.122a6ep-7f};
    const float wb[3] = {0x1.123d5cp-6f, -0x1.09c6aap-5f, 0x1.1af678p-7f};
    assert_floats_at(w, 0, ww, 3);
    assert_true(fnv_floats(cg_data_f32(w), 30 * 784) == UINT64_C(0xd97571bcafcf7080));
    assert_floats_at(b, 0, wb, 3);
    assert_true(fnv_floats(cg_data_f32(b), 30) == UINT64_C(0x95e8fa8e0dd42787));
    cg_release(w);
    cg_release(b);
}

/* Strided tensors are filled in memory order, one scalar normal at a time:
 *   torch.manual_seed(3); t = torch.empty(2,3,4).permute(2,0,1); t.normal_()
 *   t.permute(1,2,0).contiguous()   (the storage, in order) */
static void test_normal_on_permuted_view(void **state) {
    (void)state;
    cg_manual_seed(3);
    cg_tensor *base = cg_empty(CG_FLOAT32, CG_SHAPE(2, 3, 4));
    cg_tensor *view = cg_permute(base, (const int[]){2, 0, 1});
    assert_non_null(view);
    assert_int_equal(cg_normal_(view, NULL, 0.0, 1.0), CG_OK);
    const float want[24] = {
        0x1.9b47p-1f,    0x1.660f0cp-3f,  0x1.6c744cp-4f,  -0x1.3a394p-1f,  0x1.7a539ep-5f,
        -0x1.5e463cp+0f, 0x1.59985p-2f,   0x1.02d87ep+0f,  -0x1.6f67eap+0f, 0x1.f471fp-1f,
        0x1.0b4a22p-1f,  0x1.3ce81cp+0f,  -0x1.bab184p-1f, 0x1.3222cap-2f,  0x1.ad47a8p-2f,
        -0x1.471554p-4f, 0x1.da5286p-1f,  0x1.a1a07cp-1f,  0x1.fb12d4p-2f,  -0x1.50856cp-3f,
        -0x1.5b1ddcp-1f, -0x1.0f21aap+0f, 0x1.7ed218p-1f,  0x1.e94d88p-3f};
    assert_floats_at(base, 0, want, 24);
    cg_release(view);
    cg_release(base);
}

/* torch.manual_seed(3); t = torch.empty(4,5)[:, ::2]; t.uniform_(); t.contiguous() */
static void test_uniform_on_sliced_view(void **state) {
    (void)state;
    cg_manual_seed(3);
    cg_tensor *base = cg_empty(CG_FLOAT32, CG_SHAPE(4, 5));
    cg_tensor *view = cg_slice(base, 1, 0, CG_END, 2);
    assert_non_null(view);
    assert_int_equal(view->shape[1], 3);
    assert_int_equal(cg_uniform_(view, NULL, 0.0, 1.0), CG_OK);
    const float want[12] = {0x1.176ap-8f,   0x1.b0698p-4f,  0x1.24b3e4p-2f, 0x1.b9a0cp-6f,
                            0x1.e2eeep-2f,  0x1.ec79p-5f,   0x1.8b32p-1f,   0x1.7cc62ap-1f,
                            0x1.3057fap-1f, 0x1.c69526p-1f, 0x1.cddb28p-2f, 0x1.9956d6p-1f};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            float got = (float)cg_get(view, (const int64_t[]){i, j});
            assert_memory_equal(&got, &want[i * 3 + j], sizeof got);
        }
    cg_release(view);
    cg_release(base);
}

/* ---- randperm --------------------------------------------------------------- */
/* torch.manual_seed(42); torch.randperm(10)
 * torch.manual_seed(42); fnv(torch.randperm(12396))   (the chapter's training set size) */
static void test_randperm_matches_torch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_tensor *p = cg_randperm(NULL, 10);
    assert_non_null(p);
    assert_int_equal(p->dtype, CG_INT64);
    const int64_t want[10] = {2, 6, 1, 8, 4, 5, 0, 9, 3, 7};
    assert_memory_equal(cg_data(p), want, sizeof want);
    cg_release(p);

    cg_manual_seed(42);
    p = cg_randperm(NULL, 12396);
    const int64_t *v = cg_data(p);
    assert_true(fnv_int64(v, 12396) == UINT64_C(0x99dfae706abd443d));
    /* a permutation: every index exactly once */
    static unsigned char seen[12396];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 12396; i++) {
        assert_in_range(v[i], 0, 12395);
        assert_int_equal(seen[v[i]], 0);
        seen[v[i]] = 1;
    }
    cg_release(p);

    p = cg_randperm(NULL, 0);
    assert_non_null(p);
    assert_int_equal(cg_numel(p), 0);
    cg_release(p);
}

/* ---- reproducibility and statistics ---------------------------------------- */
static void test_same_seed_same_numbers(void **state) {
    (void)state;
    cg_manual_seed(1234);
    cg_tensor *a = cg_randn(NULL, CG_SHAPE(1000));
    cg_tensor *a2 = cg_rand(NULL, CG_SHAPE(7));
    cg_manual_seed(1234);
    cg_tensor *b = cg_randn(NULL, CG_SHAPE(1000));
    cg_tensor *b2 = cg_rand(NULL, CG_SHAPE(7));
    assert_memory_equal(cg_data(a), cg_data(b), 1000 * sizeof(float));
    assert_memory_equal(cg_data(a2), cg_data(b2), 7 * sizeof(float));
    cg_manual_seed(1235);
    cg_tensor *c = cg_randn(NULL, CG_SHAPE(1000));
    assert_memory_not_equal(cg_data(a), cg_data(c), 1000 * sizeof(float));
    cg_release(a);
    cg_release(a2);
    cg_release(b);
    cg_release(b2);
    cg_release(c);
}

static void moments(const float *p, int64_t n, double *mean, double *std) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += p[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (p[i] - *mean) * (p[i] - *mean);
    *std = sqrt(s2 / (double)(n - 1));
}

static void test_statistics(void **state) {
    (void)state;
    double mean, std;
    cg_manual_seed(2024);
    cg_tensor *n = cg_randn(NULL, CG_SHAPE(100000));
    moments(cg_data_f32(n), 100000, &mean, &std);
    assert_true(fabs(mean) < 0.015); /* 4.7 standard errors */
    assert_true(fabs(std - 1.0) < 0.01);
    cg_tensor *u = cg_rand(NULL, CG_SHAPE(100000));
    moments(cg_data_f32(u), 100000, &mean, &std);
    assert_true(fabs(mean - 0.5) < 0.005);
    assert_true(fabs(std - sqrt(1.0 / 12.0)) < 0.005);
    const float *up = cg_data_f32(u);
    for (int i = 0; i < 100000; i++) assert_true(up[i] >= 0.0f && up[i] < 1.0f);
    cg_tensor *m = cg_empty(CG_FLOAT32, CG_SHAPE(100000));
    assert_int_equal(cg_normal_(m, NULL, 3.0, 0.5), CG_OK);
    moments(cg_data_f32(m), 100000, &mean, &std);
    assert_true(fabs(mean - 3.0) < 0.008);
    assert_true(fabs(std - 0.5) < 0.005);
    assert_int_equal(cg_uniform_(m, NULL, -2.0, 6.0), CG_OK);
    moments(cg_data_f32(m), 100000, &mean, &std);
    assert_true(fabs(mean - 2.0) < 0.04);
    const float *mp = cg_data_f32(m);
    for (int i = 0; i < 100000; i++) assert_true(mp[i] >= -2.0f && mp[i] < 6.0f);
    cg_release(n);
    cg_release(u);
    cg_release(m);
}

/* ---- errors ------------------------------------------------------------------ */
static void test_errors(void **state) {
    (void)state;
    cg_tensor *l = cg_zeros(CG_INT64, CG_SHAPE(4));
    assert_int_equal(cg_normal_(l, NULL, 0, 1), CG_ERR_DTYPE);
    assert_non_null(strstr(cg_last_error(), "int64"));
    cg_tensor *f = cg_zeros(CG_FLOAT32, CG_SHAPE(4));
    assert_int_equal(cg_normal_(f, NULL, 0, -1), CG_ERR_VALUE);
    assert_int_equal(cg_uniform_(f, NULL, 1, 0), CG_ERR_VALUE);
    assert_null(cg_randperm(NULL, -3));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_int_equal(cg_normal_(NULL, NULL, 0, 1), CG_ERR_VALUE);

    /* a leaf that requires grad: only under no_grad, like PyTorch */
    cg_requires_grad_(f, true);
    assert_int_equal(cg_uniform_(f, NULL, -1, 1), CG_ERR_GRAD);
    cg_no_grad_begin();
    assert_int_equal(cg_uniform_(f, NULL, -1, 1), CG_OK);
    cg_no_grad_end();

    /* an expanded view writes one location many times: refused */
    cg_tensor *one = cg_zeros(CG_FLOAT32, CG_SHAPE(1));
    cg_tensor *wide = cg_expand(one, CG_SHAPE(5));
    assert_non_null(wide);
    assert_int_equal(cg_normal_(wide, NULL, 0, 1), CG_ERR_VALUE);
    cg_release(wide);
    cg_release(one);
    cg_release(l);
    cg_release(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_generator_unseeded),
        cmocka_unit_test(test_mt19937_reference_stream),
        cmocka_unit_test(test_seed_low_bits),
        cmocka_unit_test(test_below_in_range),
        cmocka_unit_test(test_rand_matches_torch),
        cmocka_unit_test(test_randn20_matches_torch),
        cmocka_unit_test(test_randn3_matches_torch),
        cmocka_unit_test(test_randn784_matches_torch),
        cmocka_unit_test(test_chapter_sequence_matches_torch),
        cmocka_unit_test(test_randn_65536_hash),
        cmocka_unit_test(test_randn_0d),
        cmocka_unit_test(test_own_generator),
        cmocka_unit_test(test_normal_mean_std),
        cmocka_unit_test(test_uniform_matches_linear_init),
        cmocka_unit_test(test_normal_on_permuted_view),
        cmocka_unit_test(test_uniform_on_sliced_view),
        cmocka_unit_test(test_randperm_matches_torch),
        cmocka_unit_test(test_same_seed_same_numbers),
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
