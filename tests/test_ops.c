/* Forward values of the ops (ops.h): elementwise with two-way broadcasting,
 * scalar forms and dtype promotion, comparisons and where, reductions,
 * matmul, the softmax family and losses, in-place updates, and flat memory
 * over a long training-like loop.  Torch literals were printed by
 * /usr/bin/python3 (torch 1.13) with the script quoted beside each group
 * (L(t) = the flat list of t's values). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "core_check.h"

/* x = tensor([[-1.5,-0.5,0.0],[0.25,1.0,2.0]]); p = tensor([[0.25,1.,2.],[4.,9.,0.5]]) */
static cg_tensor *x_tensor(void) {
    return cg_from_floats(CG_SHAPE(2, 3), (float[]){-1.5f, -0.5f, 0.0f, 0.25f, 1.0f, 2.0f});
}
static cg_tensor *p_tensor(void) {
    return cg_from_floats(CG_SHAPE(2, 3), (float[]){0.25f, 1, 2, 4, 9, 0.5f});
}
static cg_tensor *chapter_tns(void) {
    return cg_from_data(CG_INT64, CG_SHAPE(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6});
}
/* torch.arange(0, n).float().view(shape) */
static cg_tensor *numbered(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return cg_view(cg_arange(CG_FLOAT32, 0, (double)n, 1), ndim, shape);
}
/* torch.manual_seed(0); r = torch.randn(3,4,5) */
static const float R_DATA[60] = {
    -1.1258398294448853f, -1.152360200881958f, -0.2505785822868347f, -0.4338788092136383f, 0.8487103581428528f,
    0.6920091509819031f, -0.31601276993751526f, -2.1152193546295166f, 0.32227492332458496f, -1.2633347511291504f,
    0.34998318552970886f, 0.30813392996788025f, 0.11984150856733322f, 1.237657904624939f, 1.1167771816253662f,
    -0.2472781538963318f, -1.3526537418365479f, -1.6959311962127686f, 0.5666506290435791f, 0.7935083508491516f,
    0.5988394618034363f, -1.5550950765609741f, -0.3413603901863098f, 1.85300612449646f, 0.750189483165741f,
    -0.5854975581169128f, -0.1733967512845993f, 0.18347793817520142f, 1.3893661499023438f, 1.586334228515625f,
    0.946298360824585f, -0.843676745891571f, -0.6135830879211426f, 0.03159274160861969f, -0.4926769733428955f,
    0.2484147548675537f, 0.4396958351135254f, 0.11241118609905243f, 0.6407923698425293f, 0.441156268119812f,
    -0.10230965167284012f, 0.7924439907073975f, -0.28966769576072693f, 0.05250748619437218f, 0.5943230390548706f,
    1.5419425964355469f, 0.5073344111442566f, -0.5910331606864929f, -0.5692480802536011f, 0.9199714064598083f,
    1.1108161211013794f, 1.2898740768432617f, -1.4959149360656738f, -0.19383712112903595f, 0.44551217555999756f,
    1.3252748250961304f, -1.6293259859085083f, -0.54974365234375f, -0.47983425855636597f, -0.4996815323829651f};
static cg_tensor *r_tensor(void) { return cg_from_floats(CG_SHAPE(3, 4, 5), R_DATA); }

#define TOL 2e-7 /* float32 results against torch's float32 results */

/* ---- unary --------------------------------------------------------------------- */
static void test_unary_values(void **state) {
    (void)state;
    cg_tensor *x = x_tensor(), *p = p_tensor();
    CHECK_VALUES(cg_neg(x), 0, 1.5, 0.5, -0.0, -0.25, -1.0, -2.0);  /* L(-x) */
    CHECK_VALUES(cg_abs(x), 0, 1.5, 0.5, 0.0, 0.25, 1.0, 2.0);      /* L(x.abs()) */
    CHECK_VALUES(cg_sqrt(p), TOL, 0.5, 1.0, 1.4142135381698608, 2.0, 3.0, 0.7071067690849304);
    CHECK_VALUES(cg_exp(x), TOL, 0.22313016653060913, 0.6065306663513184, 1.0, 1.2840254306793213,
                 2.7182817459106445, 7.389056205749512);
    CHECK_VALUES(cg_log(p), TOL, -1.3862943649291992, 0.0, 0.6931471824645996, 1.3862943649291992,
                 2.1972246170043945, -0.6931471824645996);
    CHECK_VALUES(cg_sigmoid(x), TOL, 0.18242552876472473, 0.3775406777858734, 0.5, 0.562176525592804,
                 0.7310585975646973, 0.8807970285415649);
    CHECK_VALUES(cg_relu(x), 0, 0.0, 0.0, 0.0, 0.25, 1.0, 2.0);
    CHECK_VALUES(cg_tanh(x), TOL, -0.9051482677459717, -0.46211716532707214, 0.0, 0.24491865932941437,
                 0.7615941762924194, 0.9640275835990906);
    CHECK_VALUES(cg_pow_s(x, 2), 0, 2.25, 0.25, 0.0, 0.0625, 1.0, 4.0);        /* x**2 */
    CHECK_VALUES(cg_pow_s(x, 3), 0, -3.375, -0.125, 0.0, 0.015625, 1.0, 8.0);  /* x**3 */
    CHECK_VALUES(cg_pow_s(p, 0.5), TOL, 0.5, 1.0, 1.4142135381698608, 2.0, 3.0, 0.7071067690849304);
    CHECK_VALUES(cg_pow_s(p, -1), TOL, 4.0, 1.0, 0.5, 0.25, 0.1111111119389534, 2.0);
    CHECK_VALUES(cg_clamp(x, -1, 1), 0, -1.0, -0.5, 0.0, 0.25, 1.0, 1.0);
    CHECK_VALUES(cg_clamp(x, -INFINITY, 0.5), 0, -1.5, -0.5, 0.0, 0.25, 0.5, 0.5); /* clamp(max=.5) */
    /* sigmoid stays finite at the extremes */
    CHECK_VALUES(cg_sigmoid(cg_from_floats(CG_SHAPE(2), (float[]){-200, 200})), 0, 0, 1);
    /* unary ops keep the shape and work on 0-d tensors */
    cg_tensor *s = cg_exp(cg_scalar(0));
    CHECK_SHAPE0(s);
    CHECK_VALUES(s, 0, 1);
    /* abs and neg of an int64 tensor stay int64, like torch */
    cg_tensor *ia = cg_abs(cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){-3, 0, 4}));
    CHECK_DTYPE(ia, CG_INT64);
    CHECK_VALUES(ia, 0, 3, 0, 4);
    CHECK_DTYPE(cg_neg(chapter_tns()), CG_INT64);
    /* unary math on an integer tensor computes in float, like torch.sqrt(tensor([4])) */
    CHECK_VALUES(cg_sqrt(cg_from_data(CG_INT64, CG_SHAPE(2), (int64_t[]){4, 9})), 0, 2, 3);
}

static void test_unary_on_strided_views(void **state) {
    (void)state;
    cg_tensor *x = x_tensor();
    /* x.T: [3,2] view with strides (1,3) */
    cg_tensor *r = cg_relu(cg_t(x));
    CHECK_SHAPE(r, 3, 2);
    CHECK_VALUES(r, 0, 0.0, 0.25, 0.0, 1.0, 0.0, 2.0);
    /* x[:, ::2] */
    CHECK_VALUES(cg_abs(cg_slice(x, 1, 0, CG_END, 2)), 0, 1.5, 0.0, 0.25, 2.0);
    /* an expanded (stride-0) input */
    cg_tensor *e = cg_expand(cg_from_floats(CG_SHAPE(1), (float[]){-2}), CG_SHAPE(2, 2));
    CHECK_VALUES(cg_neg(e), 0, 2, 2, 2, 2);
}

/* ---- binary with broadcasting ------------------------------------------------------ */
static void test_binary_two_way_broadcast(void **state) {
    (void)state;
    /* a = tensor([[1.],[2.],[3.]]); b = tensor([[10.,20.,30.,40.]]) */
    cg_tensor *a = cg_from_floats(CG_SHAPE(3, 1), (float[]){1, 2, 3});
    cg_tensor *b = cg_from_floats(CG_SHAPE(1, 4), (float[]){10, 20, 30, 40});
    cg_tensor *s = cg_add(a, b);
    CHECK_SHAPE(s, 3, 4);
    CHECK_VALUES(s, 0, 11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43);
    CHECK_VALUES(cg_sub(a, b), 0, -9, -19, -29, -39, -8, -18, -28, -38, -7, -17, -27, -37);
    CHECK_VALUES(cg_mul(a, b), 0, 10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120);
    CHECK_VALUES(cg_div(a, b), TOL, 0.10000000149011612, 0.05000000074505806, 0.03333333507180214,
                 0.02500000037252903, 0.20000000298023224, 0.10000000149011612, 0.06666667014360428,
                 0.05000000074505806, 0.30000001192092896, 0.15000000596046448, 0.10000000149011612,
                 0.07500000298023224);
    CHECK_VALUES(cg_div(b, a), TOL, 10.0, 20.0, 30.0, 40.0, 5.0, 10.0, 15.0, 20.0, 3.3333332538604736,
                 6.666666507720947, 10.0, 13.333333015441895);
    CHECK_VALUES(cg_maximum(a, b), 0, 10, 20, 30, 40, 10, 20, 30, 40, 10, 20, 30, 40);
    CHECK_VALUES(cg_minimum(a, b), 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    /* a 1-d operand lines up with the last dim: [3,1] + [4] -> [3,4] */
    cg_tensor *b1 = cg_from_floats(CG_SHAPE(4), (float[]){10, 20, 30, 40});
    CHECK_VALUES(cg_add(a, b1), 0, 11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43);
    /* res.max(tensor(0.0)) is relu */
    CHECK_VALUES(cg_maximum(x_tensor(), cg_scalar(0)), 0, 0, 0, 0, 0.25, 1, 2);
    /* 0-d with n-d, both orders */
    CHECK_VALUES(cg_mul(cg_scalar(2), x_tensor()), 0, -3, -1, 0, 0.5, 2, 4);
    CHECK_VALUES(cg_sub(x_tensor(), cg_scalar(1)), 0, -2.5, -1.5, -1, -0.75, 0, 1);
    /* 0-d with 0-d stays 0-d */
    cg_tensor *z = cg_add(cg_scalar(1.5), cg_scalar(2));
    CHECK_SHAPE0(z);
    CHECK_VALUES(z, 0, 3.5);
}

static void test_mnist_distance_broadcast(void **state) {
    (void)state;
    /* valid_3_tens - mean3: [1010,28,28] - [28,28], then .abs().mean((-1,-2)).
     * a[i,j,k] = (i % 7) + 0.5 j, b[j,k] = k / 4: every value is exact in float32. */
    enum { N = 1010, H = 28 };
    cg_tensor *a = cg_empty(CG_FLOAT32, CG_SHAPE(N, H, H));
    cg_tensor *b = cg_empty(CG_FLOAT32, CG_SHAPE(H, H));
    float *pa = cg_data_f32(a), *pb = cg_data_f32(b);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H; j++)
            for (int k = 0; k < H; k++) pa[(i * H + j) * H + k] = (float)(i % 7) + 0.5f * (float)j;
    for (int j = 0; j < H; j++)
        for (int k = 0; k < H; k++) pb[j * H + k] = (float)k / 4;
    cg_tensor *d = cg_sub(a, b);
    CHECK_SHAPE(d, N, H, H);
    const float *pd = cg_data_f32(d);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H; j++)
            for (int k = 0; k < H; k++)
                if (pd[(i * H + j) * H + k] != (float)(i % 7) + 0.5f * (float)j - (float)k / 4)
                    fail_msg("d[%d,%d,%d] = %g", i, j, k, pd[(i * H + j) * H + k]);
    /* and the reverse order: [28,28] - [1010,28,28] */
    cg_tensor *r = cg_sub(b, a);
    CHECK_SHAPE(r, N, H, H);
    assert_true(cg_get(r, (int64_t[]){1009, 27, 27}) == 27.0 / 4 - (1009 % 7) - 13.5);
    /* mnist_distance: mean over (-1,-2) of |a - b|, against a double loop */
    cg_tensor *dist = cg_mean(cg_abs(d), (int[]){-1, -2}, 2, false);
    CHECK_SHAPE(dist, N);
    for (int i = 0; i < N; i++) {
        double acc = 0;
        for (int j = 0; j < H; j++)
            for (int k = 0; k < H; k++) acc += fabs((double)(i % 7) + 0.5 * j - k / 4.0);
        double got = check_at(dist, i), want = acc / (H * H);
        if (fabs(got - want) > 1e-6 * (1 + want)) fail_msg("dist[%d] = %.9g, expected %.9g", i, got, want);
    }
}

static void test_scalar_forms_and_promotion(void **state) {
    (void)state;
    cg_tensor *tns = chapter_tns();
    /* tns+1 -> tensor([[2, 3, 4],[5, 6, 7]]), still int64 */
    cg_tensor *p1 = cg_add_s(tns, 1);
    CHECK_DTYPE(p1, CG_INT64);
    CHECK_VALUES(p1, 0, 2, 3, 4, 5, 6, 7);
    /* tns*1.5 -> tensor([[1.5000, 3.0000, 4.5000],[6.0000, 7.5000, 9.0000]]) */
    cg_tensor *m = cg_mul_s(tns, 1.5);
    CHECK_DTYPE(m, CG_FLOAT32);
    CHECK_VALUES(m, 0, 1.5, 3, 4.5, 6, 7.5, 9);
    /* tns/2 is true division: float */
    cg_tensor *h = cg_div_s(tns, 2);
    CHECK_DTYPE(h, CG_FLOAT32);
    CHECK_VALUES(h, 0, 0.5, 1, 1.5, 2, 2.5, 3);
    CHECK_VALUES(cg_sub_s(tns, 1), 0, 0, 1, 2, 3, 4, 5);
    CHECK_DTYPE(cg_mul_s(tns, 2), CG_INT64);
    /* 1-x and 1/p: L(1-x), L(1/p) */
    CHECK_VALUES(cg_rsub_s(1, x_tensor()), 0, 2.5, 1.5, 1.0, 0.75, 0.0, -1.0);
    CHECK_VALUES(cg_rdiv_s(1, p_tensor()), TOL, 4.0, 1.0, 0.5, 0.25, 0.1111111119389534, 2.0);
    /* tensor([1,2,3]) + tensor(1) -> tensor([2, 3, 4]) */
    cg_tensor *v = cg_add(cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){1, 2, 3}),
                          cg_scalar_of(CG_INT64, 1));
    CHECK_DTYPE(v, CG_INT64);
    CHECK_SHAPE(v, 3);
    CHECK_VALUES(v, 0, 2, 3, 4);
    /* int64 + float32 -> float32; uint8 + uint8 computes in int64 (no wrap-around) */
    CHECK_DTYPE(cg_add(tns, cg_scalar(0.5)), CG_FLOAT32);
    cg_tensor *u = cg_from_data(CG_UINT8, CG_SHAPE(2), (uint8_t[]){200, 100});
    CHECK_VALUES(cg_add(u, u), 0, 400, 200);
    /* a big int64 broadcast (several blocks of rows, threads): [1000,100] + [100] */
    cg_tensor *big = cg_add(cg_view(cg_arange(CG_INT64, 0, 100000, 1), CG_SHAPE(1000, 100)),
                            cg_arange(CG_INT64, 0, 100, 1));
    CHECK_DTYPE(big, CG_INT64);
    assert_true(cg_get(big, (int64_t[]){0, 0}) == 0 && cg_get(big, (int64_t[]){999, 99}) == 99999 + 99);
    assert_true(cg_get(big, (int64_t[]){517, 3}) == 51703 + 3);
    /* sum(i) + 1000 * sum(j) = 4999950000 + 1000 * 4950 */
    CHECK_VALUES(cg_sum(big, NULL, 0, false), 0, 4999950000.0 + 4950000.0);
    /* uint8 images / 255 */
    CHECK_VALUES(cg_div_s(u, 255), TOL, 200.0 / 255, 100.0 / 255);
}

static void test_binary_on_strided_views(void **state) {
    (void)state;
    cg_tensor *m = numbered(CG_SHAPE(2, 3)); /* [[0,1,2],[3,4,5]] */
    cg_tensor *mt = cg_t(m);                /* [[0,3],[1,4],[2,5]] */
    cg_tensor *y = cg_from_floats(CG_SHAPE(3, 2), (float[]){10, 20, 30, 40, 50, 60});
    CHECK_VALUES(cg_add(mt, y), 0, 10, 23, 31, 44, 52, 65);
    CHECK_VALUES(cg_mul(y, mt), 0, 0, 60, 30, 160, 100, 300);
    /* both transposed */
    CHECK_VALUES(cg_sub(mt, mt), 0, 0, 0, 0, 0, 0, 0);
    /* a stepped slice with a broadcast row: m[:, ::2] - [[1, 2]] */
    cg_tensor *sl = cg_slice(m, 1, 0, CG_END, 2);
    CHECK_VALUES(cg_sub(sl, cg_from_floats(CG_SHAPE(1, 2), (float[]){1, 2})), 0, -1, 0, 2, 3);
    /* a column slice of a big tensor (parallel path) against a loop */
    cg_tensor *big = numbered(CG_SHAPE(300, 400));
    cg_tensor *col = cg_slice(big, 1, 1, CG_END, 3);   /* [300,133], stride 3 */
    cg_tensor *sum = cg_add(col, cg_t(cg_slice(numbered(CG_SHAPE(133, 300)), 0, 0, CG_END, 1)));
    CHECK_SHAPE(sum, 300, 133);
    for (int64_t i = 0; i < 300; i += 37)
        for (int64_t j = 0; j < 133; j += 11)
            assert_true(cg_get(sum, (int64_t[]){i, j}) == (double)(i * 400 + 1 + 3 * j) + (double)(j * 300 + i));
}

static void test_comparisons(void **state) {
    (void)state;
    /* c1 = tensor([[1.,5.,3.]]); c2 = tensor([[2.],[3.]]); L(c1.lt(c2)) ... */
    cg_tensor *c1 = cg_from_floats(CG_SHAPE(1, 3), (float[]){1, 5, 3});
    cg_tensor *c2 = cg_from_floats(CG_SHAPE(2, 1), (float[]){2, 3});
    cg_tensor *lt = cg_lt(c1, c2);
    CHECK_DTYPE(lt, CG_BOOL);
    CHECK_SHAPE(lt, 2, 3);
    CHECK_VALUES(lt, 0, 1, 0, 0, 1, 0, 0);
    CHECK_VALUES(cg_le(c1, c2), 0, 1, 0, 0, 1, 0, 1);
    CHECK_VALUES(cg_gt(c1, c2), 0, 0, 1, 1, 0, 1, 0);
    CHECK_VALUES(cg_ge(c1, c2), 0, 0, 1, 1, 0, 1, 1);
    CHECK_VALUES(cg_eq(c1, c2), 0, 0, 0, 0, 0, 0, 1);
    CHECK_VALUES(cg_ne(c1, c2), 0, 1, 1, 1, 1, 1, 0);
    /* scalar forms; preds>0.5 then .float() as the chapter's batch_accuracy */
    cg_tensor *x = x_tensor();
    cg_tensor *gt = cg_gt_s(x, 0.0);
    CHECK_DTYPE(gt, CG_BOOL);
    CHECK_VALUES(gt, 0, 0, 0, 0, 1, 1, 1);
    CHECK_VALUES(cg_ge_s(x, 0.0), 0, 0, 0, 1, 1, 1, 1);
    CHECK_VALUES(cg_lt_s(x, 0.25), 0, 1, 1, 1, 0, 0, 0);
    CHECK_VALUES(cg_le_s(x, 0.25), 0, 1, 1, 1, 1, 0, 0);
    CHECK_VALUES(cg_eq_s(x, 1), 0, 0, 0, 0, 0, 1, 0);
    CHECK_VALUES(cg_ne_s(x, 1), 0, 1, 1, 1, 1, 0, 1);
    /* (preds>0.5) == yb on int64 labels, then .float().mean() */
    cg_tensor *preds = cg_from_floats(CG_SHAPE(4, 1), (float[]){0.9f, 0.2f, 0.6f, 0.4f});
    cg_tensor *yb = cg_from_data(CG_INT64, CG_SHAPE(4, 1), (int64_t[]){1, 0, 0, 0});
    cg_tensor *correct = cg_eq(cg_gt_s(preds, 0.5), yb);
    CHECK_DTYPE(correct, CG_BOOL);
    CHECK_VALUES(cg_mean(cg_float(correct), NULL, 0, false), 0, 0.75);
    /* int64 comparisons are exact beyond float precision */
    cg_tensor *big = cg_from_data(CG_INT64, CG_SHAPE(1), (int64_t[]){16777217});
    CHECK_VALUES(cg_eq(big, cg_from_data(CG_INT64, CG_SHAPE(1), (int64_t[]){16777216})), 0, 0);
    /* a transposed operand */
    CHECK_VALUES(cg_lt(cg_t(x), cg_t(cg_zeros_like(x))), 0, 1, 0, 1, 0, 0, 0);
}

static void test_where(void **state) {
    (void)state;
    /* torch.where(targets==1, 1-predictions, predictions).mean()
     * -> 0.43333330750465393 for [0.9,0.4,0.2], 0.23333333432674408 for [0.9,0.4,0.8] */
    cg_tensor *trgts = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){1, 0, 1});
    cg_tensor *prds = cg_from_floats(CG_SHAPE(3), (float[]){0.9f, 0.4f, 0.2f});
    cg_tensor *w = cg_where(cg_eq_s(trgts, 1), cg_rsub_s(1, prds), prds);
    CHECK_VALUES(w, TOL, 1 - 0.9f, 0.4f, 1 - 0.2f);
    CHECK_VALUES(cg_mean(w, NULL, 0, false), TOL, 0.43333330750465393);
    cg_tensor *prds2 = cg_from_floats(CG_SHAPE(3), (float[]){0.9f, 0.4f, 0.8f});
    CHECK_VALUES(cg_mean(cg_where(cg_eq_s(trgts, 1), cg_rsub_s(1, prds2), prds2), NULL, 0, false), TOL,
                 0.23333333432674408);
    /* broadcasting all three: cond [2,1], a [1,3], b 0-d */
    cg_tensor *cond = cg_from_data(CG_BOOL, CG_SHAPE(2, 1), (uint8_t[]){1, 0});
    cg_tensor *a = cg_from_floats(CG_SHAPE(1, 3), (float[]){1, 2, 3});
    cg_tensor *r = cg_where(cond, a, cg_scalar(-1));
    CHECK_SHAPE(r, 2, 3);
    CHECK_VALUES(r, 0, 1, 2, 3, -1, -1, -1);
    /* int64 branches stay int64; a non-bool condition means nonzero */
    cg_tensor *ri = cg_where(cg_from_floats(CG_SHAPE(3), (float[]){0, 2, -1}), trgts,
                             cg_scalar_of(CG_INT64, 7));
    CHECK_DTYPE(ri, CG_INT64);
    CHECK_VALUES(ri, 0, 7, 0, 1);
}

/* ---- reductions ------------------------------------------------------------------ */
static void test_sum_mean(void **state) {
    (void)state;
    cg_tensor *r = r_tensor();
    /* L(r.sum(1)) */
    cg_tensor *s1 = cg_sum(r, (int[]){1}, 1, false);
    CHECK_SHAPE(s1, 3, 5);
    CHECK_VALUES(s1, 1e-6, -0.3311256468296051, -2.512892723083496, -3.941887617111206, 1.692704677581787,
                 1.4956611394882202, 1.208055019378662, -2.1324727535247803, -0.6590543389320374,
                 3.914757490158081, 2.285003185272217, 3.8757238388061523, 0.9603265523910522,
                 -2.9263594150543213, -1.1904120445251465, 1.4601249694824219);
    /* L(r.mean((-1,-2))) */
    cg_tensor *m = cg_mean(r, (int[]){-1, -2}, 2, false);
    CHECK_SHAPE(m, 3);
    CHECK_VALUES(m, 1e-6, -0.17987701296806335, 0.23081441223621368, 0.10897020995616913);
    /* L(r.sum((0,2),keepdim=True)) */
    cg_tensor *sk = cg_sum(r, (int[]){0, 2}, 2, true);
    CHECK_SHAPE(sk, 1, 4, 1);
    CHECK_VALUES(sk, 1e-6, 0.23892974853515625, 1.5289682149887085, 3.316798210144043, -1.8865442276000977);
    /* r.mean(), r.sum(): 0-d */
    cg_tensor *ma = cg_mean(r, NULL, 0, false);
    CHECK_SHAPE0(ma);
    CHECK_VALUES(ma, 1e-6, 0.05330253764986992);
    CHECK_VALUES(cg_sum(r, NULL, 0, false), 1e-6, 3.1981523036956787);
    CHECK_SHAPE(cg_mean(r, NULL, 0, true), 1, 1, 1);
    /* the chapter's mean over (-1,-2) of [5,4,3] = arange(60): 12 i + 5.5 per row */
    cg_tensor *a = numbered(CG_SHAPE(5, 4, 3));
    CHECK_VALUES(cg_mean(a, (int[]){-1, -2}, 2, false), 0, 5.5, 17.5, 29.5, 41.5, 53.5);
    CHECK_SHAPE(cg_mean(a, (int[]){-1, -2}, 2, true), 5, 1, 1);
    /* stacked_threes.mean(0): [N,28,28] -> [28,28] */
    cg_tensor *st = cg_expand(cg_unsqueeze(cg_arange(CG_FLOAT32, 0, 784, 1), 0), CG_SHAPE(6131, 784));
    cg_tensor *mean0 = cg_mean(cg_contiguous(st), (int[]){0}, 1, false);
    CHECK_SHAPE(mean0, 784);
    assert_true(check_at(mean0, 0) == 0 && check_at(mean0, 783) == 783 && check_at(mean0, 400) == 400);
    /* integer sums stay int64: torch.arange(0,20).sum() -> tensor(190) */
    cg_tensor *is = cg_sum(cg_arange(CG_INT64, 0, 20, 1), NULL, 0, false);
    CHECK_DTYPE(is, CG_INT64);
    CHECK_VALUES(is, 0, 190);
    /* bool sums count: (x > 0).sum() */
    CHECK_VALUES(cg_sum(cg_gt_s(x_tensor(), 0), NULL, 0, false), 0, 3);
    /* a sum over a size-0 dim is 0; a mean over nothing is nan, like torch */
    CHECK_VALUES(cg_sum(cg_zeros(CG_FLOAT32, CG_SHAPE(0, 3)), (int[]){0}, 1, false), 0, 0, 0, 0);
    CHECK_VALUES(cg_mean(cg_zeros(CG_FLOAT32, CG_SHAPE(0)), NULL, 0, false), 0, NAN);
    /* reducing a 0-d tensor over dim 0 is itself */
    CHECK_VALUES(cg_sum(cg_scalar(4), (int[]){0}, 1, false), 0, 4);
}

static void test_sum_int64_exact(void **state) {
    (void)state;
    /* torch.tensor([16777217, 0]).sum() -> tensor(16777217): int64 sums are exact */
    cg_tensor *t = cg_from_data(CG_INT64, CG_SHAPE(2), (int64_t[]){16777217, 0});
    CHECK_VALUES(cg_sum(t, NULL, 0, false), 0, 16777217);
    /* torch.arange(0, 100000).sum() -> tensor(4999950000) */
    CHECK_VALUES(cg_sum(cg_arange(CG_INT64, 0, 100000, 1), NULL, 0, false), 0, 4999950000.0);
}

static void test_reductions_on_strided_views(void **state) {
    (void)state;
    /* rt = r.permute(2,0,1): L(rt.sum(0)), L(rt.mean(2, keepdim=True)) */
    cg_tensor *rt = cg_permute(r_tensor(), (int[]){2, 0, 1});
    CHECK_SHAPE(rt, 5, 3, 4);
    CHECK_VALUES(cg_sum(rt, (int[]){0}, 1, false), 1e-6, -2.1139471530914307, -2.6802828311920166,
                 3.1323938369750977, -1.935703992843628, 1.305579662322998, 2.4002838134765625,
                 -0.9720457792282104, 1.8824703693389893, 1.0472972393035889, 1.8089672327041626,
                 1.1564502716064453, -1.833310604095459);
    cg_tensor *mk = cg_mean(rt, (int[]){2}, 1, true);
    CHECK_SHAPE(mk, 5, 3, 1);
    CHECK_VALUES(mk, 1e-6, -0.08278141170740128, 0.3020137548446655, 0.9689309597015381, -0.628223180770874,
                 -0.5331181883811951, 0.24008163809776306, -0.9854719042778015, -0.16476358473300934,
                 -0.7315898537635803, 0.4231761693954468, 0.9786893725395203, -0.2976030111312866,
                 0.37391528487205505, 0.5712507963180542, 0.36503124237060547);
    /* L(rt.argmax(1)) */
    cg_tensor *am = cg_argmax(rt, 1, false);
    CHECK_SHAPE(am, 5, 4);
    CHECK_VALUES(am, 0, 1, 2, 2, 2, 2, 2, 2, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0);
    /* a stepped slice: arange(10)[::3].sum() = 0+3+6+9 */
    CHECK_VALUES(cg_sum(cg_slice(cg_arange(CG_FLOAT32, 0, 10, 1), 0, 0, CG_END, 3), NULL, 0, false), 0, 18);
    /* an expanded tensor: sum counts each stride-0 repeat */
    cg_tensor *e = cg_expand(cg_from_floats(CG_SHAPE(3, 1), (float[]){1, 2, 3}), CG_SHAPE(3, 4));
    CHECK_VALUES(cg_sum(e, (int[]){1}, 1, false), 0, 4, 8, 12);
    CHECK_VALUES(cg_sum(e, (int[]){0}, 1, false), 0, 6, 6, 6, 6);
}

static void test_max_min_arg(void **state) {
    (void)state;
    cg_tensor *r = r_tensor();
    /* r.max(2): values and indices */
    cg_tensor *mx = cg_max(r, 2, false);
    CHECK_SHAPE(mx, 3, 4);
    CHECK_VALUES(mx, 0, 0.8487103581428528, 0.6920091509819031, 1.237657904624939, 0.7935083508491516,
                 1.85300612449646, 1.586334228515625, 0.946298360824585, 0.6407923698425293,
                 0.7924439907073975, 1.5419425964355469, 1.2898740768432617, 1.3252748250961304);
    cg_tensor *amx = cg_argmax(r, -1, false);
    CHECK_DTYPE(amx, CG_INT64);
    CHECK_VALUES(amx, 0, 4, 0, 3, 4, 3, 4, 0, 3, 1, 0, 1, 0);
    /* r.min(0) */
    CHECK_VALUES(cg_min(r, 0, false), 0, -1.1258398294448853, -1.5550950765609741, -0.3413603901863098,
                 -0.4338788092136383, 0.5943230390548706, -0.5854975581169128, -0.31601276993751526,
                 -2.1152193546295166, -0.5692480802536011, -1.2633347511291504, 0.34998318552970886,
                 -0.843676745891571, -1.4959149360656738, -0.19383712112903595, -0.4926769733428955,
                 -0.2472781538963318, -1.6293259859085083, -1.6959311962127686, -0.47983425855636597,
                 -0.4996815323829651);
    CHECK_VALUES(cg_argmin(r, 0, false), 0, 0, 1, 1, 0, 2, 1, 0, 0, 2, 0, 0, 1, 2, 2, 1, 0, 2, 0, 2, 2);
    /* keepdim */
    CHECK_SHAPE(cg_max(r, 1, true), 3, 1, 5);
    CHECK_SHAPE(cg_argmin(r, 1, true), 3, 1, 5);
    /* over everything: r.argmax() = 23, r.max() = 1.85300612449646, argmin 7, min -2.1152193546295166 */
    cg_tensor *all = cg_max(r, CG_ALL_DIMS, false);
    CHECK_SHAPE0(all);
    CHECK_VALUES(all, 0, 1.85300612449646);
    CHECK_VALUES(cg_argmax(r, CG_ALL_DIMS, false), 0, 23);
    CHECK_VALUES(cg_min(r, CG_ALL_DIMS, false), 0, -2.1152193546295166);
    CHECK_VALUES(cg_argmin(r, CG_ALL_DIMS, false), 0, 7);
    /* argmax over all of a transposed view is the flat index in its own (logical) order */
    cg_tensor *m = cg_from_floats(CG_SHAPE(2, 3), (float[]){0, 9, 1, 2, 3, 4});
    CHECK_VALUES(cg_argmax(cg_t(m), CG_ALL_DIMS, false), 0, 2); /* m.T = [[0,2],[9,3],[1,4]] */
    /* ties: the first one wins, like torch */
    cg_tensor *tie = cg_from_floats(CG_SHAPE(4), (float[]){1, 5, 5, 0});
    CHECK_VALUES(cg_argmax(tie, 0, false), 0, 1);
    /* int64 max stays int64 */
    cg_tensor *im = cg_max(chapter_tns(), 1, false);
    CHECK_DTYPE(im, CG_INT64);
    CHECK_VALUES(im, 0, 3, 6);
    /* and is exact beyond float precision:
     * t = torch.tensor([16777216, 16777217, 3]); t.max(), t.argmax(), t.min(), t.argmin()
     * -> tensor(16777217), tensor(1), tensor(3), tensor(2) */
    cg_tensor *bigi = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){16777216, 16777217, 3});
    CHECK_VALUES(cg_max(bigi, CG_ALL_DIMS, false), 0, 16777217);
    CHECK_VALUES(cg_argmax(bigi, 0, false), 0, 1);
    CHECK_VALUES(cg_min(bigi, 0, false), 0, 3);
    CHECK_VALUES(cg_argmin(bigi, CG_ALL_DIMS, false), 0, 2);
    /* int64 over a dim of a transposed view: tns.T.max(1) -> [4, 5, 6], argmin(1) -> [0, 0, 0] */
    cg_tensor *tt = cg_t(chapter_tns());
    CHECK_VALUES(cg_max(tt, 1, false), 0, 4, 5, 6);
    CHECK_VALUES(cg_argmax(tt, 1, false), 0, 1, 1, 1);
    CHECK_VALUES(cg_argmin(tt, 1, false), 0, 0, 0, 0);
    /* uint8 stays uint8 */
    cg_tensor *u8 = cg_max(cg_from_data(CG_UINT8, CG_SHAPE(3), (uint8_t[]){7, 255, 0}), 0, false);
    CHECK_DTYPE(u8, CG_UINT8);
    CHECK_VALUES(u8, 0, 255);
}

/* ---- matmul against a double-precision loop ----------------------------------------- */
static uint32_t lcg_state = 12345;
static float lcg_float(void) { /* uniform in [-1, 1) */
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)((lcg_state >> 8) / 8388608.0 - 1.0);
}
static cg_tensor *random_tensor(int ndim, const int64_t *shape) {
    cg_tensor *t = cg_empty(CG_FLOAT32, ndim, shape);
    float *p = cg_data_f32(t);
    for (int64_t i = 0; i < cg_numel(t); i++) p[i] = lcg_float();
    return t;
}

/* ref[m,n] = sum_k A(m,k) B(k,n) with A, B read through cg_get (any layout);
 * batch index b selects A's and B's matrices after broadcasting (bi_a, bi_b). */
static double ref_dot(const cg_tensor *a, const int64_t *ia, int ka, const cg_tensor *b, const int64_t *ib,
                      int kb, int64_t K) {
    int64_t xa[CG_MAX_DIMS], xb[CG_MAX_DIMS];
    memcpy(xa, ia, (size_t)a->ndim * sizeof *xa);
    memcpy(xb, ib, (size_t)b->ndim * sizeof *xb);
    double acc = 0;
    for (int64_t k = 0; k < K; k++) {
        xa[ka] = k;
        xb[kb] = k;
        acc += cg_get(a, xa) * cg_get(b, xb);
    }
    return acc;
}

static void expect_close(double got, double want, const char *what, int64_t i) {
    if (fabs(got - want) > 1e-5 * (1 + fabs(want)))
        fail_msg("%s: element %lld is %.9g, expected %.9g", what, (long long)i, got, want);
}

static void test_matmul_2d_1d(void **state) {
    (void)state;
    /* 1-d . 1-d: tensor([1.,2,3]) @ tensor([4.,5,6]) = tensor(32.) */
    cg_tensor *v = cg_from_floats(CG_SHAPE(3), (float[]){1, 2, 3});
    cg_tensor *w = cg_from_floats(CG_SHAPE(3), (float[]){4, 5, 6});
    cg_tensor *dot = cg_matmul(v, w);
    CHECK_SHAPE0(dot);
    CHECK_VALUES(dot, 0, 32);
    /* 2-d . 2-d, [5,7] @ [7,4] */
    cg_tensor *a = random_tensor(CG_SHAPE(5, 7)), *b = random_tensor(CG_SHAPE(7, 4));
    cg_tensor *c = cg_matmul(a, b);
    CHECK_SHAPE(c, 5, 4);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 4; j++)
            expect_close(cg_get(c, (int64_t[]){i, j}), ref_dot(a, (int64_t[]){i, 0}, 1, b, (int64_t[]){0, j}, 0, 7),
                         "2d@2d", i * 4 + j);
    /* 1-d . 2-d: [7] @ [7,4] -> [4] */
    cg_tensor *x = random_tensor(CG_SHAPE(7));
    cg_tensor *xb = cg_matmul(x, b);
    CHECK_SHAPE(xb, 4);
    for (int64_t j = 0; j < 4; j++)
        expect_close(check_at(xb, j), ref_dot(x, (int64_t[]){0}, 0, b, (int64_t[]){0, j}, 0, 7), "1d@2d", j);
    /* 2-d . 1-d: [5,7] @ [7] -> [5] */
    cg_tensor *ax = cg_matmul(a, x);
    CHECK_SHAPE(ax, 5);
    for (int64_t i = 0; i < 5; i++)
        expect_close(check_at(ax, i), ref_dot(a, (int64_t[]){i, 0}, 1, x, (int64_t[]){0}, 0, 7), "2d@1d", i);
    /* a strided 1-d operand: x[::2] of a longer vector */
    cg_tensor *x2 = cg_slice(random_tensor(CG_SHAPE(14)), 0, 0, CG_END, 2);
    cg_tensor *ax2 = cg_matmul(a, x2);
    for (int64_t i = 0; i < 5; i++)
        expect_close(check_at(ax2, i), ref_dot(a, (int64_t[]){i, 0}, 1, x2, (int64_t[]){0}, 0, 7), "2d@1d strided", i);
}

static void test_matmul_transposed_operands(void **state) {
    (void)state;
    /* x @ W.T as in a Linear layer: x [6,5], W [3,5] */
    cg_tensor *x = random_tensor(CG_SHAPE(6, 5)), *W = random_tensor(CG_SHAPE(3, 5));
    cg_tensor *y = cg_matmul(x, cg_t(W));
    CHECK_SHAPE(y, 6, 3);
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 0; j < 3; j++)
            expect_close(cg_get(y, (int64_t[]){i, j}), ref_dot(x, (int64_t[]){i, 0}, 1, W, (int64_t[]){j, 0}, 1, 5),
                         "x@W.T", i * 3 + j);
    /* x.T @ g as in a weight gradient: [5,6] @ [6,3] */
    cg_tensor *g = random_tensor(CG_SHAPE(6, 3));
    cg_tensor *xtg = cg_matmul(cg_t(x), g);
    CHECK_SHAPE(xtg, 5, 3);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 3; j++)
            expect_close(cg_get(xtg, (int64_t[]){i, j}), ref_dot(x, (int64_t[]){0, i}, 0, g, (int64_t[]){0, j}, 0, 6),
                         "x.T@g", i * 3 + j);
    /* a column-sliced operand with a step (neither layout BLAS takes): x[:, ::2] @ [3,2] */
    cg_tensor *xs = cg_slice(x, 1, 0, CG_END, 2);
    cg_tensor *b = random_tensor(CG_SHAPE(3, 2));
    cg_tensor *r = cg_matmul(xs, b);
    CHECK_SHAPE(r, 6, 2);
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 0; j < 2; j++)
            expect_close(cg_get(r, (int64_t[]){i, j}), ref_dot(xs, (int64_t[]){i, 0}, 1, b, (int64_t[]){0, j}, 0, 3),
                         "x[:, ::2]@b", i * 2 + j);
    /* a row block of a bigger matrix (leading dimension > cols) */
    cg_tensor *big = random_tensor(CG_SHAPE(8, 9));
    cg_tensor *blk = cg_slice(cg_slice(big, 0, 2, 6, 1), 1, 1, 6, 1); /* [4,5], ld 9 */
    cg_tensor *rb = cg_matmul(blk, cg_t(W));
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 3; j++)
            expect_close(cg_get(rb, (int64_t[]){i, j}), ref_dot(blk, (int64_t[]){i, 0}, 1, W, (int64_t[]){j, 0}, 1, 5),
                         "block@W.T", i * 3 + j);
}

static void test_matmul_batched(void **state) {
    (void)state;
    /* [2,3,4] @ [4,5] -> [2,3,5] */
    cg_tensor *a = random_tensor(CG_SHAPE(2, 3, 4)), *b = random_tensor(CG_SHAPE(4, 5));
    cg_tensor *c = cg_matmul(a, b);
    CHECK_SHAPE(c, 2, 3, 5);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 5; j++)
                expect_close(cg_get(c, (int64_t[]){n, i, j}),
                             ref_dot(a, (int64_t[]){n, i, 0}, 2, b, (int64_t[]){0, j}, 0, 4), "[2,3,4]@[4,5]", j);
    /* broadcast batch dims: [2,1,3,4] @ [5,4,2] -> [2,5,3,2] */
    cg_tensor *p = random_tensor(CG_SHAPE(2, 1, 3, 4)), *q = random_tensor(CG_SHAPE(5, 4, 2));
    cg_tensor *pq = cg_matmul(p, q);
    CHECK_SHAPE(pq, 2, 5, 3, 2);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t m = 0; m < 5; m++)
            for (int64_t i = 0; i < 3; i++)
                for (int64_t j = 0; j < 2; j++)
                    expect_close(cg_get(pq, (int64_t[]){n, m, i, j}),
                                 ref_dot(p, (int64_t[]){n, 0, i, 0}, 3, q, (int64_t[]){m, 0, j}, 1, 4),
                                 "[2,1,3,4]@[5,4,2]", ((n * 5 + m) * 3 + i) * 2 + j);
    /* a batched 1-d on the right: [2,3,4] @ [4] -> [2,3] */
    cg_tensor *v = random_tensor(CG_SHAPE(4));
    cg_tensor *av = cg_matmul(a, v);
    CHECK_SHAPE(av, 2, 3);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t i = 0; i < 3; i++)
            expect_close(cg_get(av, (int64_t[]){n, i}), ref_dot(a, (int64_t[]){n, i, 0}, 2, v, (int64_t[]){0}, 0, 4),
                         "[2,3,4]@[4]", n * 3 + i);
    /* the chapter's linear1: train_x [12396,784] @ weights [784,1], on a smaller N */
    cg_tensor *xs = random_tensor(CG_SHAPE(64, 784)), *wt = random_tensor(CG_SHAPE(784, 1));
    cg_tensor *preds = cg_add(cg_matmul(xs, wt), cg_scalar(0.5));
    CHECK_SHAPE(preds, 64, 1);
    for (int64_t i = 0; i < 64; i += 9)
        expect_close(cg_get(preds, (int64_t[]){i, 0}),
                     ref_dot(xs, (int64_t[]){i, 0}, 1, wt, (int64_t[]){0, 0}, 0, 784) + 0.5, "linear1", i);
}

/* ---- randomised layouts: every kernel path against a plain reference ------------------ */
static uint32_t lcg_below(uint32_t n) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (lcg_state >> 8) % n;
}

/* A tensor of logical shape [ndim]shape whose strides are scrambled: a random
 * permutation of a bigger buffer, sliced with random offsets and steps. */
static cg_tensor *scrambled(int ndim, const int64_t *shape) {
    int perm[CG_MAX_DIMS], inv[CG_MAX_DIMS];
    int64_t step[CG_MAX_DIMS], off[CG_MAX_DIMS], base_shape[CG_MAX_DIMS] = {0};
    for (int d = 0; d < ndim; d++) perm[d] = d;
    for (int d = ndim - 1; d > 0; d--) { /* Fisher-Yates */
        int j = (int)lcg_below((uint32_t)d + 1), tmp = perm[d];
        perm[d] = perm[j];
        perm[j] = tmp;
    }
    for (int d = 0; d < ndim; d++) {
        step[d] = 1 + lcg_below(2);
        off[d] = lcg_below(2);
    }
    for (int j = 0; j < ndim; j++) {
        int d = perm[j];
        base_shape[j] = shape[d] * step[d] + off[d];
        inv[d] = j;
    }
    cg_tensor *v = cg_permute(random_tensor(ndim, base_shape), inv);
    for (int d = 0; d < ndim && v; d++) v = cg_slice(v, d, off[d], off[d] + shape[d] * step[d], step[d]);
    return v;
}

static void random_shape(int *ndim, int64_t *shape) {
    *ndim = 1 + (int)lcg_below(4);
    for (int d = 0; d < *ndim; d++) shape[d] = 1 + lcg_below(5);
}

/* Operand index for an output index under right-aligned broadcasting. */
static void broadcast_index(const cg_tensor *t, int nd, const int64_t *idx, int64_t *ti) {
    for (int d = 0; d < t->ndim; d++) ti[d] = t->shape[d] == 1 ? 0 : idx[d + nd - t->ndim];
}

static void test_random_layouts_binary(void **state) {
    (void)state;
    for (int trial = 0; trial < 300; trial++) {
        cg_scope_begin();
        int nd;
        int64_t shape[CG_MAX_DIMS], sa[CG_MAX_DIMS], sb[CG_MAX_DIMS];
        random_shape(&nd, shape);
        /* each operand drops some leading dims and sets some dims to 1 */
        int na = nd - (int)lcg_below((uint32_t)nd), nb = nd - (int)lcg_below((uint32_t)nd);
        for (int d = 0; d < na; d++) sa[d] = lcg_below(3) ? shape[d + nd - na] : 1;
        for (int d = 0; d < nb; d++) sb[d] = lcg_below(3) ? shape[d + nd - nb] : 1;
        if (lcg_below(2)) nb = 0; /* sometimes a 0-d operand */
        cg_tensor *a = scrambled(na, sa), *b = nb ? scrambled(nb, sb) : cg_scalar(lcg_float());
        int op = (int)lcg_below(5);
        cg_tensor *out = op == 0 ? cg_add(a, b) : op == 1 ? cg_mul(a, b) : op == 2 ? cg_maximum(a, b)
                                 : op == 3 ? cg_sub(b, a) : cg_lt(a, b);
        assert_non_null(out);
        int64_t n = cg_numel(out);
        for (int64_t i = 0; i < n; i++) {
            int64_t idx[CG_MAX_DIMS], ia[CG_MAX_DIMS], ib[CG_MAX_DIMS], f = i;
            for (int d = out->ndim - 1; d >= 0; d--) {
                idx[d] = f % out->shape[d];
                f /= out->shape[d];
            }
            broadcast_index(a, out->ndim, idx, ia);
            broadcast_index(b, out->ndim, idx, ib);
            double x = (float)cg_get(a, ia), y = (float)cg_get(b, ib);
            double want = op == 0 ? (float)(x + y) : op == 1 ? (float)(x * y) : op == 2 ? (x > y ? x : y)
                        : op == 3 ? (float)(y - x) : (x < y);
            if (cg_get(out, idx) != want)
                fail_msg("trial %d op %d element %lld: %.9g, expected %.9g", trial, op, (long long)i,
                         cg_get(out, idx), want);
        }
        cg_scope_end();
    }
}

static void test_random_layouts_reduce(void **state) {
    (void)state;
    for (int trial = 0; trial < 300; trial++) {
        cg_scope_begin();
        int nd;
        int64_t shape[CG_MAX_DIMS];
        random_shape(&nd, shape);
        cg_tensor *t = scrambled(nd, shape);
        int dims[CG_MAX_DIMS], n = 0;
        unsigned mask = 0;
        for (int d = 0; d < nd; d++)
            if (lcg_below(2)) {
                dims[n++] = lcg_below(2) ? d : d - nd; /* positive or negative spelling */
                mask |= 1u << d;
            }
        if (n == 0) mask = (1u << nd) - 1; /* no dims: reduce everything */
        bool keep = lcg_below(2);
        cg_tensor *sum = cg_sum(t, dims, n, keep);
        int one = n ? (int)(lcg_below((uint32_t)n)) : 0;
        int max_dim = n ? dims[one] : 0;
        cg_tensor *mx = cg_max(t, max_dim, true), *amx = cg_argmax(t, max_dim, true);
        assert_non_null(sum);
        assert_non_null(mx);
        assert_non_null(amx);
        /* reference: accumulate every element into its output slot */
        double ref[1024] = {0}, best[1024];
        int64_t best_i[1024];
        int64_t kshape[CG_MAX_DIMS], mshape[CG_MAX_DIMS];
        int md = max_dim < 0 ? max_dim + nd : max_dim;
        for (int d = 0; d < nd; d++) {
            kshape[d] = (mask >> d) & 1 ? 1 : shape[d];
            mshape[d] = d == md ? 1 : shape[d];
        }
        int64_t total = cg_numel(t);
        for (int64_t k = 0; k < 1024; k++) best[k] = -INFINITY;
        for (int64_t i = 0; i < total; i++) {
            int64_t idx[CG_MAX_DIMS], f = i, ko = 0, mo = 0;
            for (int d = nd - 1; d >= 0; d--) {
                idx[d] = f % shape[d];
                f /= shape[d];
            }
            for (int d = 0; d < nd; d++) {
                ko = ko * kshape[d] + (kshape[d] == 1 ? 0 : idx[d]);
                mo = mo * mshape[d] + (mshape[d] == 1 ? 0 : idx[d]);
            }
            double v = cg_get(t, idx);
            ref[ko] += v;
            if (v > best[mo]) {
                best[mo] = v;
                best_i[mo] = idx[md];
            }
        }
        int64_t nk = cg_numel(sum), nm = cg_numel(mx);
        for (int64_t k = 0; k < nk; k++)
            if (fabs(check_at(sum, k) - ref[k]) > 1e-5 * (1 + fabs(ref[k])))
                fail_msg("trial %d sum element %lld: %.9g, expected %.9g", trial, (long long)k,
                         check_at(sum, k), ref[k]);
        for (int64_t k = 0; k < nm; k++)
            if (check_at(mx, k) != best[k] || check_at(amx, k) != (double)best_i[k])
                fail_msg("trial %d max element %lld: %.9g at %g, expected %.9g at %lld", trial,
                         (long long)k, check_at(mx, k), check_at(amx, k), best[k], (long long)best_i[k]);
        /* shapes: keepdim keeps size-1 dims, otherwise they go */
        int want_nd = 0;
        for (int d = 0; d < nd; d++) want_nd += keep || !((mask >> d) & 1);
        assert_int_equal(sum->ndim, want_nd);
        cg_scope_end();
    }
}

static void test_random_layouts_matmul(void **state) {
    (void)state;
    for (int trial = 0; trial < 300; trial++) {
        cg_scope_begin();
        int64_t M = 1 + lcg_below(5), K = 1 + lcg_below(5), N = 1 + lcg_below(5);
        /* a: [ba..., M, K] or [K]; b: [bb..., K, N] or [K]; batch dims broadcast */
        int64_t batch = 1 + lcg_below(3);
        int kind_a = (int)lcg_below(4), kind_b = (int)lcg_below(4); /* 0: 1-d, 1: 2-d, 2: 3-d, 3: 3-d with batch 1 */
        int64_t sa[3], sb[3];
        int na, nb;
        if (kind_a == 0) na = 1, sa[0] = K;
        else if (kind_a == 1) na = 2, sa[0] = M, sa[1] = K;
        else na = 3, sa[0] = kind_a == 2 ? batch : 1, sa[1] = M, sa[2] = K;
        if (kind_b == 0) nb = 1, sb[0] = K;
        else if (kind_b == 1) nb = 2, sb[0] = K, sb[1] = N;
        else nb = 3, sb[0] = kind_b == 2 ? batch : 1, sb[1] = K, sb[2] = N;
        cg_tensor *a = scrambled(na, sa), *b = scrambled(nb, sb);
        cg_tensor *c = cg_matmul(a, b);
        if (!c) fail_msg("trial %d: %s", trial, cg_last_error());
        /* expected shape: batch (if any 3-d operand), then M (if a is not 1-d), then N (if b is not 1-d) */
        int64_t nbatch = (na == 3 || nb == 3) ? ((na == 3 && sa[0] > 1) || (nb == 3 && sb[0] > 1) ? batch : 1) : 0;
        int ond = (nbatch ? 1 : 0) + (na > 1) + (nb > 1);
        assert_int_equal(c->ndim, ond);
        for (int64_t bi = 0; bi < (nbatch ? nbatch : 1); bi++)
            for (int64_t i = 0; i < (na > 1 ? M : 1); i++)
                for (int64_t j = 0; j < (nb > 1 ? N : 1); j++) {
                    double want = 0;
                    for (int64_t k = 0; k < K; k++) {
                        int64_t ia[3], ib[3];
                        if (na == 1) ia[0] = k;
                        else if (na == 2) ia[0] = i, ia[1] = k;
                        else ia[0] = sa[0] == 1 ? 0 : bi, ia[1] = i, ia[2] = k;
                        if (nb == 1) ib[0] = k;
                        else if (nb == 2) ib[0] = k, ib[1] = j;
                        else ib[0] = sb[0] == 1 ? 0 : bi, ib[1] = k, ib[2] = j;
                        want += cg_get(a, ia) * cg_get(b, ib);
                    }
                    int64_t ic[3], d = 0;
                    if (nbatch) ic[d++] = bi;
                    if (na > 1) ic[d++] = i;
                    if (nb > 1) ic[d++] = j;
                    double got = cg_get(c, ic);
                    if (fabs(got - want) > 1e-5 * (1 + fabs(want)))
                        fail_msg("trial %d (a kind %d, b kind %d, M%lld K%lld N%lld): [%lld,%lld,%lld] = %.9g, expected %.9g",
                                 trial, kind_a, kind_b, (long long)M, (long long)K, (long long)N, (long long)bi,
                                 (long long)i, (long long)j, got, want);
                }
        cg_scope_end();
    }
}

static void test_random_layouts_unary_copy_where(void **state) {
    (void)state;
    for (int trial = 0; trial < 200; trial++) {
        cg_scope_begin();
        int nd;
        int64_t shape[CG_MAX_DIMS];
        random_shape(&nd, shape);
        cg_tensor *t = scrambled(nd, shape), *u = scrambled(nd, shape);
        cg_tensor *e = cg_exp(t), *c = cg_contiguous(t), *w = cg_where(cg_gt(t, u), t, u);
        cg_tensor *dst = scrambled(nd, shape);
        assert_int_equal(cg_copy_(dst, t), CG_OK);
        assert_true(cg_is_contiguous(c));
        for (int64_t i = 0; i < cg_numel(t); i++) {
            double x = check_at(t, i), y = check_at(u, i);
            if (fabs(check_at(e, i) - exp(x)) > 1e-6 * exp(x) || check_at(c, i) != x ||
                check_at(w, i) != (x > y ? x : y) || check_at(dst, i) != x)
                fail_msg("trial %d element %lld: exp %.9g contiguous %.9g where %.9g copy_ %.9g (x %.9g y %.9g)",
                         trial, (long long)i, check_at(e, i), check_at(c, i), check_at(w, i), check_at(dst, i), x, y);
        }
        cg_scope_end();
    }
}

/* ---- softmax family and losses --------------------------------------------------------- */
static cg_tensor *logits_tensor(void) {
    return cg_from_floats(CG_SHAPE(3, 4), (float[]){2.0f, -1.0f, 0.5f, 0.0f, 0.1f, 0.2f, 0.3f, 0.4f, -3.0f, 5.0f,
                                                      1.0f, 2.0f});
}

static void test_softmax_family(void **state) {
    (void)state;
    cg_tensor *logits = logits_tensor();
    /* L(F.log_softmax(logits,1)) */
    CHECK_VALUES(cg_log_softmax(logits, 1), 1e-6, -0.342349648475647, -3.3423495292663574, -1.842349648475647,
                 -2.3423495292663574, -1.5425355434417725, -1.442535638809204, -1.3425356149673462,
                 -1.2425355911254883, -8.066198348999023, -0.06619793176651001, -4.066197872161865,
                 -3.0661978721618652);
    /* L(F.softmax(logits,1)), and on dim -1 the same */
    CHECK_VALUES(cg_softmax(logits, -1), 1e-6, 0.7100998759269714, 0.03535379096865654, 0.15844470262527466,
                 0.09610156714916229, 0.21383821964263916, 0.23632778227329254, 0.26118260622024536,
                 0.28865140676498413, 0.00031397477141581476, 0.9359455704689026, 0.017142441123723984,
                 0.046597983688116074);
    /* L(F.softmax(logits,0)): over the other dim */
    cg_tensor *s0 = cg_softmax(logits, 0);
    CHECK_SHAPE(s0, 3, 4);
    CHECK_VALUES(s0, 1e-6, 0.8648226261138916, 0.002452489919960499, 0.2883962094783783, 0.10120554268360138,
                 0.12935031950473785, 0.00814255140721798, 0.2361188381910324, 0.15098093450069427,
                 0.005827128887176514, 0.9894049763679504, 0.4754849374294281, 0.7478134632110596);
    /* stable for large logits: L(F.log_softmax(tensor([[1000.,0.,-1000.]]),1)) */
    CHECK_VALUES(cg_log_softmax(cg_from_floats(CG_SHAPE(1, 3), (float[]){1000, 0, -1000}), 1), 0, 0.0,
                 -1000.0, -2000.0);
    /* on a transposed input: softmax(logits.T, 0) == softmax(logits, 1).T */
    cg_tensor *st = cg_softmax(cg_t(logits), 0);
    CHECK_SHAPE(st, 4, 3);
    CHECK_VALUES(st, 1e-6, 0.7100998759269714, 0.21383821964263916, 0.00031397477141581476,
                 0.03535379096865654, 0.23632778227329254, 0.9359455704689026, 0.15844470262527466,
                 0.26118260622024536, 0.017142441123723984, 0.09610156714916229, 0.28865140676498413,
                 0.046597983688116074);
}

static void test_losses(void **state) {
    (void)state;
    /* F.cross_entropy(logits, tensor([0,3,1])).item() -> 0.5503610372543335 */
    cg_tensor *tg = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){0, 3, 1});
    cg_tensor *ce = cg_cross_entropy(logits_tensor(), tg);
    CHECK_SHAPE0(ce);
    CHECK_VALUES(ce, 1e-6, 0.5503610372543335);
    /* F.binary_cross_entropy_with_logits([[0.5,-2],[3,0]], [[1,0],[0,1]]) -> 1.085684895515442 */
    cg_tensor *xb = cg_from_floats(CG_SHAPE(2, 2), (float[]){0.5f, -2.0f, 3.0f, 0.0f});
    cg_tensor *yb = cg_from_floats(CG_SHAPE(2, 2), (float[]){1, 0, 0, 1});
    CHECK_VALUES(cg_bce_with_logits(xb, yb), 1e-6, 1.085684895515442);
    /* pr = [0.9,0.4,0.2,3.0], tt = [1,0,1,1.5]: F.l1_loss -> 0.699999988079071, F.mse_loss -> 0.7649999856948853 */
    cg_tensor *pr = cg_from_floats(CG_SHAPE(4), (float[]){0.9f, 0.4f, 0.2f, 3.0f});
    cg_tensor *tt = cg_from_floats(CG_SHAPE(4), (float[]){1, 0, 1, 1.5f});
    CHECK_VALUES(cg_l1_loss(pr, tt), 1e-6, 0.699999988079071);
    CHECK_VALUES(cg_mse_loss(pr, tt), 1e-6, 0.7649999856948853);
    /* the chapter's mnist_loss pieces: sigmoid then where then mean */
    cg_tensor *sig = cg_sigmoid(cg_from_floats(CG_SHAPE(3), (float[]){0, 0, 0}));
    cg_tensor *trg = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){1, 0, 1});
    CHECK_VALUES(cg_mean(cg_where(cg_eq_s(trg, 1), cg_rsub_s(1, sig), sig), NULL, 0, false), 0, 0.5);
}

/* ---- in-place updates ------------------------------------------------------------------ */
static void test_inplace_contiguous(void **state) {
    (void)state;
    cg_tensor *t = cg_from_floats(CG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    cg_tensor *row = cg_from_floats(CG_SHAPE(3), (float[]){10, 20, 30});
    assert_int_equal(cg_add_(t, row), CG_OK); /* broadcast source */
    CHECK_VALUES(t, 0, 11, 22, 33, 14, 25, 36);
    assert_int_equal(cg_sub_(t, cg_scalar(1)), CG_OK);
    CHECK_VALUES(t, 0, 10, 21, 32, 13, 24, 35);
    assert_int_equal(cg_mul_(t, cg_from_floats(CG_SHAPE(2, 1), (float[]){2, -1})), CG_OK);
    CHECK_VALUES(t, 0, 20, 42, 64, -13, -24, -35);
    assert_int_equal(cg_mul_s_(t, 0.5), CG_OK);
    CHECK_VALUES(t, 0, 10, 21, 32, -6.5, -12, -17.5);
    /* params.data -= lr * params.grad as axpy_(p, -lr, grad) */
    cg_tensor *g = cg_from_floats(CG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    assert_int_equal(cg_axpy_(t, -2, g), CG_OK);
    CHECK_VALUES(t, 0, 8, 17, 26, -14.5, -22, -29.5);
    /* axpy_ with a broadcast source takes the general path */
    assert_int_equal(cg_axpy_(t, 0.5, cg_from_floats(CG_SHAPE(1), (float[]){2})), CG_OK);
    CHECK_VALUES(t, 0, 9, 18, 27, -13.5, -21, -28.5);
    /* copy_ casts and broadcasts; fill_ and zero_ */
    assert_int_equal(cg_copy_(t, cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){7, 8, 9})), CG_OK);
    CHECK_VALUES(t, 0, 7, 8, 9, 7, 8, 9);
    assert_int_equal(cg_fill_(t, 0.25), CG_OK);
    CHECK_VALUES(t, 0, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25);
    assert_int_equal(cg_zero_(t), CG_OK);
    CHECK_VALUES(t, 0, 0, 0, 0, 0, 0, 0);
    /* a source aliasing the destination: t += t */
    cg_tensor *a = cg_from_floats(CG_SHAPE(3), (float[]){1, 2, 3});
    assert_int_equal(cg_add_(a, a), CG_OK);
    CHECK_VALUES(a, 0, 2, 4, 6);
    /* fill_ and copy_ on integer tensors */
    cg_tensor *li = cg_zeros(CG_INT64, CG_SHAPE(2));
    assert_int_equal(cg_copy_(li, cg_from_floats(CG_SHAPE(2), (float[]){3.7f, -2.2f})), CG_OK);
    CHECK_VALUES(li, 0, 3, -2);
}

static void test_inplace_strided_views(void **state) {
    (void)state;
    cg_tensor *m = cg_from_floats(CG_SHAPE(3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    /* m[:, 1] += 100 (a column view, stride 4) */
    assert_int_equal(cg_add_(cg_select(m, 1, 1), cg_scalar(100)), CG_OK);
    CHECK_VALUES(m, 0, 0, 101, 2, 3, 4, 105, 6, 7, 8, 109, 10, 11);
    /* m[::2, ::3] *= -1 */
    assert_int_equal(cg_mul_s_(cg_slice(cg_slice(m, 0, 0, CG_END, 2), 1, 0, CG_END, 3), -1), CG_OK);
    CHECK_VALUES(m, 0, 0, 101, 2, -3, 4, 105, 6, 7, -8, 109, 10, -11);
    /* m.T[0] = [1,2,3] via copy_ (column 0 of m) */
    assert_int_equal(cg_copy_(cg_select(cg_t(m), 0, 0), cg_from_floats(CG_SHAPE(3), (float[]){1, 2, 3})), CG_OK);
    CHECK_VALUES(m, 0, 1, 101, 2, -3, 2, 105, 6, 7, 3, 109, 10, -11);
    /* fill_ / zero_ on the last row, sub_ and mul_ on a transposed block */
    assert_int_equal(cg_zero_(cg_select(m, 0, -1)), CG_OK);
    CHECK_VALUES(m, 0, 1, 101, 2, -3, 2, 105, 6, 7, 0, 0, 0, 0);
    cg_tensor *blk = cg_t(cg_slice(m, 0, 0, 2, 1)); /* [4,2] view of rows 0..1 */
    assert_int_equal(cg_sub_(blk, cg_from_floats(CG_SHAPE(4, 1), (float[]){1, 1, 2, 7})), CG_OK);
    CHECK_VALUES(m, 0, 0, 100, 0, -10, 1, 104, 4, 0, 0, 0, 0, 0);
    assert_int_equal(cg_mul_(blk, cg_from_floats(CG_SHAPE(1, 2), (float[]){2, 3})), CG_OK);
    CHECK_VALUES(m, 0, 0, 200, 0, -20, 3, 312, 12, 0, 0, 0, 0, 0);
    assert_int_equal(cg_axpy_(cg_select(m, 1, 3), 1, cg_from_floats(CG_SHAPE(3), (float[]){20, 0, 5})), CG_OK);
    CHECK_VALUES(m, 0, 0, 200, 0, 0, 3, 312, 12, 0, 0, 0, 0, 5);
}

static void test_inplace_under_no_grad(void **state) {
    (void)state;
    /* weights[0] *= 1.0001 under torch.no_grad() on a parameter */
    cg_tensor *w = cg_requires_grad_(cg_from_floats(CG_SHAPE(3, 1), (float[]){1, 2, 3}), true);
    cg_no_grad_begin();
    cg_tensor *w0 = cg_select(w, 0, 0);
    assert_false(w0->requires_grad); /* no-grad views record nothing */
    assert_int_equal(cg_mul_s_(w0, 1.0001), CG_OK);
    /* and the SGD step on the parameter itself */
    assert_int_equal(cg_axpy_(w, -0.5, cg_ones_like(w)), CG_OK);
    cg_no_grad_end();
    CHECK_VALUES(w, 1e-7, 1.0001f - 0.5f, 1.5, 2.5);
    assert_true(w->requires_grad);
    assert_null(w->grad_fn);
    /* with grad mode on, the same update is refused */
    assert_int_equal(cg_mul_s_(w, 2), CG_ERR_GRAD);
    CHECK_VALUES(w, 1e-7, 1.0001f - 0.5f, 1.5, 2.5);
}

/* ---- memory stays flat over a long loop ---------------------------------------------------- */
static void test_memory_flat_over_training_loop(void **state) {
    (void)state;
    /* A tiny linear model trained like the chapter: preds = sigmoid(x@w+b),
     * loss = where(y==1, 1-preds, preds).mean(), backward, SGD step, zero grads. */
    cg_tensor *x = random_tensor(CG_SHAPE(16, 8));
    cg_tensor *y = cg_gt_s(random_tensor(CG_SHAPE(16, 1)), 0);
    cg_tensor *w = cg_requires_grad_(random_tensor(CG_SHAPE(8, 1)), true);
    cg_tensor *b = cg_requires_grad_(cg_zeros(CG_FLOAT32, CG_SHAPE(1)), true);
    size_t after_10 = 0, cached_10 = 0;
    double first_loss = 0, last_loss = 0;
    for (int step = 1; step <= 10000; step++) {
        cg_scope_begin();
        cg_tensor *preds = cg_sigmoid(cg_add(cg_matmul(x, w), b));
        cg_tensor *loss = cg_mean(cg_where(y, cg_rsub_s(1, preds), preds), NULL, 0, false);
        assert_int_equal(cg_backward(loss, NULL), CG_OK);
        cg_no_grad_begin();
        assert_int_equal(cg_axpy_(w, -1.0, w->grad), CG_OK);
        assert_int_equal(cg_axpy_(b, -1.0, b->grad), CG_OK);
        cg_no_grad_end();
        cg_zero_grad(w);
        cg_zero_grad(b);
        if (step == 1) assert_int_equal(cg_item(loss, &first_loss), CG_OK);
        if (step == 10000) assert_int_equal(cg_item(loss, &last_loss), CG_OK);
        cg_scope_end();
        if (step == 10) after_10 = cg_mem_in_use(), cached_10 = cg_mem_cached();
    }
    assert_int_equal(cg_mem_in_use(), after_10);
    assert_int_equal(cg_mem_cached(), cached_10); /* the pool reuses, it does not grow */
    assert_true(last_loss < first_loss); /* and it did learn something */
    cg_clear_grad(w);
    cg_clear_grad(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        CORE_TEST(test_unary_values),
        CORE_TEST(test_unary_on_strided_views),
        CORE_TEST(test_binary_two_way_broadcast),
        CORE_TEST(test_mnist_distance_broadcast),
        CORE_TEST(test_scalar_forms_and_promotion),
        CORE_TEST(test_binary_on_strided_views),
        CORE_TEST(test_comparisons),
        CORE_TEST(test_where),
        CORE_TEST(test_sum_mean),
        CORE_TEST(test_sum_int64_exact),
        CORE_TEST(test_reductions_on_strided_views),
        CORE_TEST(test_max_min_arg),
        CORE_TEST(test_matmul_2d_1d),
        CORE_TEST(test_matmul_transposed_operands),
        CORE_TEST(test_matmul_batched),
        CORE_TEST(test_random_layouts_binary),
        CORE_TEST(test_random_layouts_reduce),
        CORE_TEST(test_random_layouts_matmul),
        CORE_TEST(test_random_layouts_unary_copy_where),
        CORE_TEST(test_softmax_family),
        CORE_TEST(test_losses),
        CORE_TEST(test_inplace_contiguous),
        CORE_TEST(test_inplace_strided_views),
        CORE_TEST(test_inplace_under_no_grad),
        CORE_TEST(test_memory_flat_over_training_loop),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
