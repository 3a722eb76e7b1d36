/* Finite-difference checks of every differentiable op.
 *
 * For an op f and inputs x, the analytic gradient of L = sum(f(x) * w) (w a
 * fixed random weight, so every output element matters differently) is
 * compared with the central difference (L(x+h) - L(x-h)) / 2h evaluated in
 * double precision from float32 forwards.  Inputs include broadcasting,
 * transposed and strided views, and 0-d tensors.
 *
 * The test list is generated from CG_OP_LIST: an op without a
 * gradcheck_<NAME> function here fails to compile. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "autograd/op_table.h"
#include "cgrad.h"

/* ---- deterministic inputs --------------------------------------------------- */
static uint64_t lcg = 12345;
static double uniform01(void) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

/* Values in [lo, hi] kept at least `gap` away from zero (kinks of abs/relu). */
static cg_tensor *input(int ndim, const int64_t *shape, double lo, double hi, double gap) {
    cg_tensor *t = cg_empty(CG_FLOAT32, ndim, shape);
    float *p = cg_data_f32(t);
    for (int64_t i = 0; i < cg_numel(t); i++) {
        double v;
        do v = lo + (hi - lo) * uniform01();
        while (fabs(v) < gap);
        p[i] = (float)v;
    }
    return cg_requires_grad_(t, true);
}
#define IN(lo, hi, ...) input(CG_SHAPE(__VA_ARGS__), lo, hi, 0.05)

typedef cg_tensor *(*op_fn)(cg_tensor **x);

/* L = sum(f(x) * w) in double, without recording. */
static double loss_value(op_fn f, cg_tensor **x, cg_tensor *w) {
    cg_scope_begin();
    cg_no_grad_begin();
    cg_tensor *y = f(x);
    double total = 0;
    cg_tensor *yc = cg_contiguous(y);
    const float *py = cg_data_f32(yc), *pw = cg_data_f32(w);
    for (int64_t i = 0; i < cg_numel(yc); i++) total += (double)py[i] * pw[i];
    cg_no_grad_end();
    cg_scope_end();
    return total;
}

/* Checks d sum(f(x)*w) / dx[k] for every input that requires grad. */
static void gradcheck(const char *name, op_fn f, cg_tensor **x, int nx, double h, double tol) {
    cg_scope_begin();
    cg_tensor *y = f(x);
    assert_non_null(y);
    assert_true(y->requires_grad);
    cg_tensor *w = cg_empty(CG_FLOAT32, y->ndim, y->shape);
    float *pw = cg_data_f32(w);
    for (int64_t i = 0; i < cg_numel(w); i++) pw[i] = (float)(0.5 + uniform01());
    for (int k = 0; k < nx; k++) cg_clear_grad(x[k]);
    assert_int_equal(cg_backward(cg_sum(cg_mul(y, w), NULL, 0, false), NULL), CG_OK);
    for (int k = 0; k < nx; k++) {
        if (!x[k]->requires_grad) continue;
        assert_non_null(x[k]->grad);
        assert_true(cg_same_shape(x[k]->grad, x[k]));
        cg_tensor *base = x[k];
        int64_t n = cg_numel(base), index[CG_MAX_DIMS];
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i;
            for (int d = base->ndim - 1; d >= 0; d--) {
                index[d] = rem % base->shape[d];
                rem /= base->shape[d];
            }
            double v = cg_get(base, index);
            cg_no_grad_begin();
            cg_set(base, index, v + h);
            double up = loss_value(f, x, w);
            cg_set(base, index, v - h);
            double down = loss_value(f, x, w);
            cg_set(base, index, v);
            cg_no_grad_end();
            double numeric = (up - down) / (2 * h), analytic = cg_get(base->grad, index);
            double err = fabs(numeric - analytic) / fmax(1.0, fabs(numeric));
            if (err > tol)
                fail_msg("%s: input %d element %lld: analytic %.6f vs numeric %.6f", name, k,
                         (long long)i, analytic, numeric);
        }
    }
    cg_scope_end();
}

#define CHECK(fn, h, tol, ...)                                          \
    do {                                                                \
        cg_tensor *xs[] = {__VA_ARGS__};                                \
        gradcheck(#fn, fn, xs, (int)(sizeof xs / sizeof *xs), h, tol);  \
        for (size_t i_ = 0; i_ < sizeof xs / sizeof *xs; i_++) cg_release(xs[i_]); \
    } while (0)

/* ---- one check per op ------------------------------------------------------ */
/* Broadcast both ways: [3,1] op [4] -> [3,4]; and a transposed operand. */
static cg_tensor *f_add(cg_tensor **x) { return cg_add(x[0], x[1]); }
static cg_tensor *f_add_t(cg_tensor **x) { return cg_add(cg_t(x[0]), x[1]); }
static void gradcheck_ADD(void **s) {
    (void)s;
    CHECK(f_add, 1e-2, 1e-3, IN(-2, 2, 3, 1), IN(-2, 2, 4));
    CHECK(f_add_t, 1e-2, 1e-3, IN(-2, 2, 4, 3), IN(-2, 2, 3, 1));
}
static cg_tensor *f_sub(cg_tensor **x) { return cg_sub(x[0], x[1]); }
static cg_tensor *f_rsub(cg_tensor **x) { return cg_rsub_s(1.0, x[0]); }
static void gradcheck_SUB(void **s) {
    (void)s;
    CHECK(f_sub, 1e-2, 1e-3, IN(-2, 2, 2, 3), IN(-2, 2, 3));
    CHECK(f_rsub, 1e-2, 1e-3, IN(-2, 2, 5));
}
static cg_tensor *f_mul(cg_tensor **x) { return cg_mul(x[0], x[1]); }
static cg_tensor *f_mul_s(cg_tensor **x) { return cg_mul_s(x[0], 1.5); }
static void gradcheck_MUL(void **s) {
    (void)s;
    CHECK(f_mul, 1e-2, 1e-3, IN(-2, 2, 2, 1, 3), IN(-2, 2, 4, 1));
    CHECK(f_mul, 1e-2, 1e-3, cg_requires_grad_(cg_scalar(1.7), true), IN(-2, 2, 3)); /* 0-d */
    CHECK(f_mul_s, 1e-2, 1e-3, IN(-2, 2, 3));
}
static cg_tensor *f_div(cg_tensor **x) { return cg_div(x[0], x[1]); }
static void gradcheck_DIV(void **s) {
    (void)s;
    CHECK(f_div, 1e-3, 2e-3, IN(-2, 2, 2, 3), IN(0.5, 2, 3));
}
static cg_tensor *f_maximum(cg_tensor **x) { return cg_maximum(x[0], x[1]); }
static void gradcheck_MAXIMUM(void **s) {
    (void)s;
    CHECK(f_maximum, 1e-3, 1e-3, IN(-2, 2, 3, 4), IN(-2, 2, 4));
    /* the chapter's res.max(tensor(0.0)) */
    CHECK(f_maximum, 1e-3, 1e-3, IN(-2, 2, 6), cg_scalar(0.0));
}
static cg_tensor *f_minimum(cg_tensor **x) { return cg_minimum(x[0], x[1]); }
static void gradcheck_MINIMUM(void **s) {
    (void)s;
    CHECK(f_minimum, 1e-3, 1e-3, IN(-2, 2, 3, 4), IN(-2, 2, 3, 1));
}
static cg_tensor *f_where(cg_tensor **x) { return cg_where(cg_gt_s(x[2], 0), x[0], x[1]); }
static void gradcheck_WHERE(void **s) {
    (void)s;
    cg_tensor *cond = cg_requires_grad_(IN(-1, 1, 3, 4), false);
    CHECK(f_where, 1e-2, 1e-3, IN(-2, 2, 3, 4), IN(-2, 2, 4), cond);
}
static cg_tensor *f_neg(cg_tensor **x) { return cg_neg(x[0]); }
static void gradcheck_NEG(void **s) { (void)s; CHECK(f_neg, 1e-2, 1e-3, IN(-2, 2, 3, 2)); }
static cg_tensor *f_abs(cg_tensor **x) { return cg_abs(cg_slice(x[0], 1, 0, CG_END, 2)); }
static void gradcheck_ABS(void **s) { (void)s; CHECK(f_abs, 1e-3, 1e-3, IN(-2, 2, 3, 5)); }
static cg_tensor *f_sqrt(cg_tensor **x) { return cg_sqrt(x[0]); }
static void gradcheck_SQRT(void **s) { (void)s; CHECK(f_sqrt, 1e-3, 2e-3, IN(0.5, 3, 4)); }
static cg_tensor *f_exp(cg_tensor **x) { return cg_exp(x[0]); }
static void gradcheck_EXP(void **s) { (void)s; CHECK(f_exp, 1e-3, 2e-3, IN(-2, 2, 2, 3)); }
static cg_tensor *f_log(cg_tensor **x) { return cg_log(x[0]); }
static void gradcheck_LOG(void **s) { (void)s; CHECK(f_log, 1e-3, 2e-3, IN(0.5, 3, 4)); }
static cg_tensor *f_sigmoid(cg_tensor **x) { return cg_sigmoid(x[0]); }
static void gradcheck_SIGMOID(void **s) { (void)s; CHECK(f_sigmoid, 1e-2, 1e-3, IN(-4, 4, 6)); }
static cg_tensor *f_relu(cg_tensor **x) { return cg_relu(x[0]); }
static void gradcheck_RELU(void **s) { (void)s; CHECK(f_relu, 1e-3, 1e-3, IN(-2, 2, 3, 3)); }
static cg_tensor *f_tanh(cg_tensor **x) { return cg_tanh(x[0]); }
static void gradcheck_TANH(void **s) { (void)s; CHECK(f_tanh, 1e-2, 1e-3, IN(-2, 2, 5)); }
static cg_tensor *f_pow2(cg_tensor **x) { return cg_pow_s(x[0], 2); }
static cg_tensor *f_pow3(cg_tensor **x) { return cg_pow_s(x[0], 3.5); }
static void gradcheck_POW(void **s) {
    (void)s;
    CHECK(f_pow2, 1e-2, 1e-3, cg_requires_grad_(cg_scalar(3.0), true)); /* the chapter's x**2 at 3 */
    CHECK(f_pow3, 1e-3, 2e-3, IN(0.5, 2, 4));
}
static cg_tensor *f_clamp(cg_tensor **x) { return cg_clamp(x[0], -0.5, 0.7); }
static void gradcheck_CLAMP(void **s) { (void)s; CHECK(f_clamp, 1e-3, 1e-3, IN(-2, 2, 8)); }
static cg_tensor *f_sum(cg_tensor **x) { return cg_sum(x[0], (int[]){0, 2}, 2, false); }
static cg_tensor *f_sum_keep(cg_tensor **x) { return cg_sum(cg_t(x[0]), (int[]){1}, 1, true); }
static void gradcheck_SUM(void **s) {
    (void)s;
    CHECK(f_sum, 1e-2, 1e-3, IN(-2, 2, 2, 3, 4));
    CHECK(f_sum_keep, 1e-2, 1e-3, IN(-2, 2, 3, 4));
}
static cg_tensor *f_mean(cg_tensor **x) { return cg_mean(x[0], (int[]){-1, -2}, 2, false); }
static cg_tensor *f_mean_all(cg_tensor **x) { return cg_mean(x[0], NULL, 0, false); }
static void gradcheck_MEAN(void **s) {
    (void)s;
    CHECK(f_mean, 1e-2, 1e-3, IN(-2, 2, 3, 4, 5)); /* mnist_distance's mean((-1,-2)) */
    CHECK(f_mean_all, 1e-2, 1e-3, IN(-2, 2, 6));
}
static cg_tensor *f_max(cg_tensor **x) { return cg_max(x[0], 1, false); }
static cg_tensor *f_max_all(cg_tensor **x) { return cg_max(x[0], CG_ALL_DIMS, false); }
static void gradcheck_MAX_DIM(void **s) {
    (void)s;
    CHECK(f_max, 1e-3, 1e-3, IN(-2, 2, 3, 5));
    CHECK(f_max_all, 1e-3, 1e-3, IN(-2, 2, 2, 3));
}
static cg_tensor *f_min(cg_tensor **x) { return cg_min(x[0], -1, true); }
static void gradcheck_MIN_DIM(void **s) { (void)s; CHECK(f_min, 1e-3, 1e-3, IN(-2, 2, 3, 5)); }
static cg_tensor *f_matmul(cg_tensor **x) { return cg_matmul(x[0], x[1]); }
static cg_tensor *f_linear(cg_tensor **x) { return cg_matmul(x[0], cg_t(x[1])); } /* x @ W.T */
static void gradcheck_MATMUL(void **s) {
    (void)s;
    CHECK(f_matmul, 1e-2, 2e-3, IN(-1, 1, 4, 3), IN(-1, 1, 3, 2));
    CHECK(f_linear, 1e-2, 2e-3, IN(-1, 1, 5, 3), IN(-1, 1, 2, 3));
    CHECK(f_matmul, 1e-2, 2e-3, IN(-1, 1, 3), IN(-1, 1, 3));           /* dot */
    CHECK(f_matmul, 1e-2, 2e-3, IN(-1, 1, 3), IN(-1, 1, 3, 2));        /* vec @ mat */
    CHECK(f_matmul, 1e-2, 2e-3, IN(-1, 1, 2, 3), IN(-1, 1, 3));        /* mat @ vec */
    CHECK(f_matmul, 1e-2, 2e-3, IN(-1, 1, 2, 1, 2, 3), IN(-1, 1, 4, 3, 2)); /* broadcast batch */
}
static cg_tensor *f_view(cg_tensor **x) { return cg_mul(cg_view(x[0], CG_SHAPE(-1, 6)), x[1]); }
static cg_tensor *f_unsq(cg_tensor **x) { return cg_squeeze(cg_unsqueeze(x[0], 1), 0); }
static void gradcheck_VIEW(void **s) {
    (void)s;
    CHECK(f_view, 1e-2, 1e-3, IN(-2, 2, 2, 3, 2), IN(-2, 2, 6));
    CHECK(f_unsq, 1e-2, 1e-3, IN(-2, 2, 1, 4));
}
static cg_tensor *f_permute(cg_tensor **x) { return cg_mul(cg_permute(x[0], (int[]){2, 0, 1}), x[1]); }
static void gradcheck_PERMUTE(void **s) {
    (void)s;
    CHECK(f_permute, 1e-2, 1e-3, IN(-2, 2, 2, 3, 4), IN(-2, 2, 4, 2, 3));
}
static cg_tensor *f_slice(cg_tensor **x) { return cg_mul(cg_slice(x[0], 0, 1, -1, 2), x[1]); }
static cg_tensor *f_select(cg_tensor **x) { return cg_select(cg_select(x[0], 1, 1), 0, -1); }
static void gradcheck_SLICE(void **s) {
    (void)s;
    CHECK(f_slice, 1e-2, 1e-3, IN(-2, 2, 6, 3), IN(-2, 2, 3));
    CHECK(f_select, 1e-2, 1e-3, IN(-2, 2, 3, 4, 2));
}
static cg_tensor *f_expand(cg_tensor **x) { return cg_mul(cg_expand(x[0], CG_SHAPE(2, 3, 4)), x[1]); }
static void gradcheck_EXPAND(void **s) {
    (void)s;
    CHECK(f_expand, 1e-2, 1e-3, IN(-2, 2, 3, 1), IN(-2, 2, 2, 3, 4));
}
static cg_tensor *f_cat(cg_tensor **x) { return cg_cat(x, 2, 1); }
static cg_tensor *f_stack(cg_tensor **x) { return cg_stack(x, 2, 0); }
static void gradcheck_CAT(void **s) {
    (void)s;
    CHECK(f_cat, 1e-2, 1e-3, IN(-2, 2, 2, 3), IN(-2, 2, 2, 1));
    CHECK(f_stack, 1e-2, 1e-3, IN(-2, 2, 2, 3), IN(-2, 2, 2, 3));
}
static cg_tensor *f_clone(cg_tensor **x) { return cg_mul(cg_contiguous(cg_t(x[0])), x[1]); }
static void gradcheck_COPY(void **s) {
    (void)s;
    CHECK(f_clone, 1e-2, 1e-3, IN(-2, 2, 3, 2), IN(-2, 2, 2, 3));
}
static cg_tensor *f_log_softmax(cg_tensor **x) { return cg_log_softmax(x[0], 1); }
static cg_tensor *f_log_softmax0(cg_tensor **x) { return cg_log_softmax(x[0], 0); }
static void gradcheck_LOG_SOFTMAX(void **s) {
    (void)s;
    CHECK(f_log_softmax, 1e-2, 2e-3, IN(-3, 3, 4, 5));
    CHECK(f_log_softmax0, 1e-2, 2e-3, IN(-3, 3, 4, 3));
}
static cg_tensor *targets;
static cg_tensor *f_ce(cg_tensor **x) { return cg_cross_entropy(x[0], targets); }
static cg_tensor *f_bce(cg_tensor **x) { return cg_bce_with_logits(x[0], x[1]); }
static void gradcheck_NLL_LOSS(void **s) {
    (void)s;
    targets = cg_from_data(CG_INT64, CG_SHAPE(4), (int64_t[]){2, 0, 4, 1});
    CHECK(f_ce, 1e-2, 2e-3, IN(-3, 3, 4, 5));
    cg_release(targets);
    cg_tensor *y = cg_from_floats(CG_SHAPE(5), (float[]){1, 0, 1, 1, 0});
    CHECK(f_bce, 1e-2, 2e-3, IN(-3, 3, 5), y);
}

/* ---- vision layers ------------------------------------------------------- */
/* Distinct values on a 0.05 grid in shuffled order: a max stays the max under
 * the +-h perturbation (h < 0.025), so max pools are differentiable here. */
static cg_tensor *distinct(int ndim, const int64_t *shape) {
    cg_tensor *t = cg_empty(CG_FLOAT32, ndim, shape);
    float *p = cg_data_f32(t);
    int64_t n = cg_numel(t);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(0.05 * (double)(i - n / 2));
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)(uniform01() * (double)(i + 1));
        float tmp = p[i];
        p[i] = p[j], p[j] = tmp;
    }
    return cg_requires_grad_(t, true);
}
#define DISTINCT(...) distinct(CG_SHAPE(__VA_ARGS__))

static cg_conv2d_opts conv_opts;
static cg_tensor *f_conv(cg_tensor **x) { return cg_conv2d(x[0], x[1], x[2], &conv_opts); }
static cg_tensor *f_conv_nobias(cg_tensor **x) { return cg_conv2d(x[0], x[1], NULL, &conv_opts); }
/* A non-contiguous input: x given as [N,H,W,C] and permuted to [N,C,H,W]. */
static cg_tensor *f_conv_nhwc(cg_tensor **x) {
    return cg_conv2d(cg_permute(x[0], (int[]){0, 3, 1, 2}), x[1], x[2], &conv_opts);
}
static void gradcheck_CONV2D(void **s) {
    (void)s;
    conv_opts = (cg_conv2d_opts){.padding = {1, 1}};
    CHECK(f_conv, 1e-2, 1e-2, IN(-1, 1, 2, 3, 5, 4), IN(-1, 1, 4, 3, 3, 3), IN(-1, 1, 4));
    conv_opts = (cg_conv2d_opts){.stride = {2, 1}, .padding = {0, 2}, .dilation = {1, 2}};
    CHECK(f_conv_nobias, 1e-2, 1e-2, IN(-1, 1, 1, 2, 7, 5), IN(-1, 1, 3, 2, 2, 3));
    conv_opts = (cg_conv2d_opts){.stride = {2, 2}, .padding = {1, 1}, .groups = 2};
    CHECK(f_conv, 1e-2, 1e-2, IN(-1, 1, 1, 4, 5, 5), IN(-1, 1, 6, 2, 3, 3), IN(-1, 1, 6));
    conv_opts = (cg_conv2d_opts){.stride = {2, 2}, .padding = {3, 3}}; /* the stem's 7x7/2 */
    CHECK(f_conv_nhwc, 1e-2, 1e-2, IN(-1, 1, 1, 9, 9, 3), IN(-1, 1, 2, 3, 7, 7), IN(-1, 1, 2));
}

static bool bn_training;
static cg_tensor *f_bn(cg_tensor **x) {
    cg_tensor *rm = cg_zeros(CG_FLOAT32, CG_SHAPE(x[0]->shape[1]));
    cg_tensor *rv = cg_ones(CG_FLOAT32, CG_SHAPE(x[0]->shape[1]));
    return cg_batch_norm(x[0], rm, rv, x[1], x[2], bn_training, 0.1, 1e-5);
}
static cg_tensor *f_bn_plain(cg_tensor **x) { return cg_batch_norm(x[0], NULL, NULL, NULL, NULL, true, 0.1, 1e-5); }
static cg_tensor *f_bn_t(cg_tensor **x) { /* [C,N] given, transposed to a strided [N,C] */
    return cg_batch_norm(cg_t(x[0]), NULL, NULL, x[1], x[2], true, 0.1, 1e-5);
}
static cg_tensor *f_bn_relu(cg_tensor **x) { /* BatchNorm then ReLU as one op */
    cg_tensor *rm = cg_zeros(CG_FLOAT32, CG_SHAPE(x[0]->shape[1]));
    cg_tensor *rv = cg_ones(CG_FLOAT32, CG_SHAPE(x[0]->shape[1]));
    return cg_batch_norm_relu(x[0], rm, rv, x[1], x[2], bn_training, 0.1, 1e-5);
}
static void gradcheck_BATCH_NORM(void **s) {
    (void)s;
    bn_training = true;
    CHECK(f_bn, 5e-3, 1e-2, IN(-2, 2, 3, 2, 3, 2), IN(0.5, 1.5, 2), IN(-1, 1, 2)); /* BatchNorm2d */
    CHECK(f_bn, 5e-3, 1e-2, IN(-2, 2, 5, 3), IN(0.5, 1.5, 3), IN(-1, 1, 3));       /* BatchNorm1d */
    CHECK(f_bn_plain, 5e-3, 1e-2, IN(-2, 2, 4, 2, 3));                           /* [N,C,L], affine=False */
    CHECK(f_bn_t, 5e-3, 1e-2, IN(-2, 2, 3, 4), IN(0.5, 1.5, 3), IN(-1, 1, 3));
    CHECK(f_bn_relu, 5e-3, 1e-2, IN(-2, 2, 3, 2, 3, 2), IN(0.5, 1.5, 2), IN(-1, 1, 2));
    /* [6,2]: the [5,3] inputs drawn here put a value within h of the ReLU's
     * kink (cg_relu(cg_batch_norm) fails there the same way) */
    CHECK(f_bn_relu, 5e-3, 1e-2, IN(-2, 2, 6, 2), IN(0.5, 1.5, 2), IN(-1, 1, 2));
    bn_training = false; /* eval: the running statistics are constants */
    CHECK(f_bn, 1e-2, 1e-3, IN(-2, 2, 1, 2, 3, 3), IN(0.5, 1.5, 2), IN(-1, 1, 2));
    CHECK(f_bn_relu, 1e-2, 1e-3, IN(-2, 2, 1, 2, 3, 3), IN(0.5, 1.5, 2), IN(-1, 1, 2));
}

static cg_tensor *f_max_pool(cg_tensor **x) {
    return cg_max_pool2d(x[0], (int64_t[]){3, 3}, (int64_t[]){2, 2}, (int64_t[]){1, 1});
}
static cg_tensor *f_max_pool2(cg_tensor **x) { return cg_max_pool2d(cg_transpose(x[0], 2, 3), (int64_t[]){2, 3}, NULL, NULL); }
static void gradcheck_MAX_POOL2D(void **s) {
    (void)s;
    CHECK(f_max_pool, 1e-2, 1e-3, DISTINCT(2, 3, 7, 6)); /* overlapping windows, padding */
    CHECK(f_max_pool2, 1e-2, 1e-3, DISTINCT(1, 2, 7, 5)); /* a transposed input */
}
static cg_tensor *f_avg_pool(cg_tensor **x) {
    return cg_avg_pool2d(x[0], (int64_t[]){3, 2}, (int64_t[]){2, 1}, (int64_t[]){1, 1});
}
static void gradcheck_AVG_POOL2D(void **s) {
    (void)s;
    CHECK(f_avg_pool, 1e-2, 1e-3, IN(-2, 2, 2, 2, 5, 4));
}
static cg_tensor *f_adaptive_max(cg_tensor **x) { return cg_adaptive_max_pool2d(x[0], 3, 2); }
static cg_tensor *f_adaptive_max1(cg_tensor **x) { return cg_adaptive_max_pool2d(x[0], 1, 1); }
static void gradcheck_ADAPTIVE_MAX_POOL2D(void **s) {
    (void)s;
    CHECK(f_adaptive_max, 1e-2, 1e-3, DISTINCT(2, 2, 5, 7)); /* windows of 5 -> 3 overlap */
    CHECK(f_adaptive_max1, 1e-2, 1e-3, DISTINCT(1, 3, 4, 4));
}
static cg_tensor *f_adaptive_avg(cg_tensor **x) { return cg_adaptive_avg_pool2d(x[0], 3, 2); }
static cg_tensor *f_adaptive_avg1(cg_tensor **x) { return cg_adaptive_avg_pool2d(x[0], 1, 1); }
static void gradcheck_ADAPTIVE_AVG_POOL2D(void **s) {
    (void)s;
    CHECK(f_adaptive_avg, 1e-2, 1e-3, IN(-2, 2, 2, 2, 5, 7));
    CHECK(f_adaptive_avg1, 1e-2, 1e-3, IN(-2, 2, 1, 3, 4, 4));
}
/* The same mask on every evaluation: reseed before each draw. */
static cg_tensor *f_dropout(cg_tensor **x) {
    cg_manual_seed(7);
    return cg_dropout(x[0], 0.4, true);
}
static void gradcheck_DROPOUT(void **s) {
    (void)s;
    CHECK(f_dropout, 1e-2, 1e-3, IN(-2, 2, 3, 7));
}

static int teardown(void **s) {
    (void)s;
    cg_pool_trim();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define CG_OP_TEST(name, str) cmocka_unit_test(gradcheck_##name),
        CG_OP_LIST(CG_OP_TEST)
#undef CG_OP_TEST
    };
    _Static_assert(sizeof tests / sizeof *tests == CG_OP_COUNT, "one gradcheck per op");
    return cmocka_run_group_tests(tests, NULL, teardown);
}
