/* test_nn.c — modules: PyTorch's init, state_dict names and order, repr,
 * forward values, train/eval, and every layer's gradients checked by central
 * finite differences. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

/* ---- finite differences -------------------------------------------------------
 * f(model, x) = sum(forward(x) * R) for a fixed random R, so every output
 * element's gradient matters.  For each element e of each tensor under test we
 * compare autograd's d f / d e with (f(e+h) - f(e-h)) / 2h, computed in float32
 * but with the sum accumulated in double.  h = 1e-2 keeps float32 rounding
 * (~1e-7 relative) far below the comparison tolerance. */
typedef struct fd_case {
    cg_module *m;
    cg_tensor *x; /* input; requires grad */
    cg_tensor *r; /* weights of the output sum */
} fd_case;

static double objective(fd_case *c) {
    double total = 0;
    cg_scope_begin();
    cg_no_grad_begin();
    cg_tensor *y = cg_contiguous(cg_module_forward(c->m, c->x));
    assert_non_null(y);
    const float *yd = cg_data_f32(y), *rd = cg_data_f32(c->r);
    for (int64_t i = 0; i < cg_numel(y); i++) total += (double)yd[i] * rd[i];
    cg_no_grad_end();
    cg_scope_end();
    return total;
}

static void check_tensor_grad(fd_case *c, cg_tensor *t, const char *what) {
    assert_non_null(t->grad);
    cg_tensor *g = t->grad;
    assert_true(cg_is_contiguous(t) && cg_is_contiguous(g));
    float *td = cg_data_f32(t);
    const float *gd = cg_data_f32(g);
    const float h = 1e-2f;
    for (int64_t i = 0; i < cg_numel(t); i++) {
        float saved = td[i];
        td[i] = saved + h;
        double fp = objective(c);
        td[i] = saved - h;
        double fm = objective(c);
        td[i] = saved;
        double numeric = (fp - fm) / (2.0 * h);
        double err = fabs(numeric - gd[i]);
        if (err > 2e-3 + 1e-2 * fabs(numeric))
            fail_msg("%s[%lld]: autograd %.6g, finite difference %.6g", what, (long long)i, gd[i], numeric);
    }
}

/* Runs autograd once, then checks the input and every parameter. */
static void gradcheck(cg_module *m, cg_tensor *x) {
    cg_module_zero_grad(m);
    cg_clear_grad(x);
    cg_scope_begin();
    cg_tensor *y = cg_module_forward(m, x);
    assert_non_null(y);
    fd_case c = {m, x, cg_randn(NULL, y->ndim, y->shape)};
    assert_int_equal(cg_backward(cg_sum(cg_mul(y, c.r), NULL, 0, false), NULL), CG_OK);
    check_tensor_grad(&c, x, "input");
    cg_named_tensors ps;
    assert_int_equal(cg_module_named_parameters(m, &ps), CG_OK);
    for (int i = 0; i < ps.n; i++) check_tensor_grad(&c, ps.tensors[i], ps.names[i]);
    cg_named_tensors_free(&ps);
    cg_scope_end();
}

/* Input away from ReLU's kink at 0 so the finite difference is smooth. */
static cg_tensor *input(int ndim, const int64_t *shape) {
    cg_tensor *x = cg_randn(NULL, ndim, shape);
    float *d = cg_data_f32(x);
    for (int64_t i = 0; i < cg_numel(x); i++)
        if (fabsf(d[i]) < 0.1f) d[i] += d[i] < 0 ? -0.1f : 0.1f;
    return cg_requires_grad_(x, true);
}

/* ---- tests -------------------------------------------------------------------- */

/* torch.manual_seed(42); nn.Linear(4,3): weight then bias from
 * U(-1/sqrt(4), 1/sqrt(4)), drawn with PyTorch's generator. */
static void test_linear_init_matches_pytorch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_module *lin = cg_nn_linear(4, 3, true);
    assert_non_null(lin);
    const float w[12] = {0.382269263f, 0.415003955f, -0.11713624f, 0.459305644f,
                         -0.109551787f, 0.100895345f, -0.243427515f, 0.293641329f,
                         0.440771461f, -0.366814077f, 0.434598088f, 0.0935796499f};
    const float b[3] = {0.369404435f, 0.0677152872f, 0.241094053f};
    cg_tensor *wt = cg_module_find(lin, "weight"), *bt = cg_module_find(lin, "bias");
    assert_int_equal(wt->ndim, 2);
    assert_int_equal(wt->shape[0], 3); /* [out, in] */
    assert_int_equal(wt->shape[1], 4);
    assert_true(wt->requires_grad && bt->requires_grad);
    for (int i = 0; i < 12; i++) assert_float_equal(cg_data_f32(wt)[i], w[i], 1e-6);
    for (int i = 0; i < 3; i++) assert_float_equal(cg_data_f32(bt)[i], b[i], 1e-6);
    cg_module_release(lin);
}

/* Linear(784, 30): every value inside ±1/sqrt(784) = ±1/28, and the sample
 * looks uniform: mean ~ 0, variance ~ bound^2/3, both ends reached. */
static void test_linear_init_bounds(void **state) {
    (void)state;
    cg_manual_seed(7);
    cg_module *lin = cg_nn_linear(784, 30, true);
    const double bound = 1.0 / 28.0;
    cg_tensor *wt = cg_module_find(lin, "weight");
    const float *d = cg_data_f32(wt);
    double sum = 0, sq = 0, lo = 1, hi = -1;
    int64_t n = cg_numel(wt);
    assert_int_equal(n, 784 * 30);
    for (int64_t i = 0; i < n; i++) {
        assert_true(d[i] >= -bound && d[i] <= bound);
        sum += d[i];
        sq += (double)d[i] * d[i];
        lo = fmin(lo, d[i]);
        hi = fmax(hi, d[i]);
    }
    double mean = sum / (double)n, var = sq / (double)n - mean * mean;
    assert_true(fabs(mean) < 0.01 * bound * 10);
    assert_float_equal(var, bound * bound / 3.0, 0.03 * bound * bound / 3.0);
    assert_true(lo < -0.99 * bound && hi > 0.99 * bound);
    const float *bd = cg_data_f32(cg_module_find(lin, "bias"));
    for (int i = 0; i < 30; i++) assert_true(bd[i] >= -bound && bd[i] <= bound);
    cg_module_release(lin);
}

static void test_init_params_is_randn_times_std(void **state) {
    (void)state;
    cg_manual_seed(0);
    cg_tensor *w = cg_init_params(CG_SHAPE(5), 1.0); /* torch.randn(5) after manual_seed(0) */
    const float expect[5] = {1.54099607f, -0.293428898f, -2.17878938f, 0.568431258f, -1.08452237f};
    assert_true(w->requires_grad);
    assert_null(w->grad_fn); /* a leaf */
    for (int i = 0; i < 5; i++) assert_float_equal(cg_data_f32(w)[i], expect[i], 1e-6);
    cg_manual_seed(0);
    cg_tensor *w2 = cg_init_params(CG_SHAPE(5), 0.5);
    for (int i = 0; i < 5; i++) assert_float_equal(cg_data_f32(w2)[i], 0.5f * expect[i], 1e-6);
    cg_release(w);
    cg_release(w2);
}

/* The chapter's linear1 as a module: weights = init_params((3,1)), then
 * bias = init_params(1), both randn from the same stream, forward xb@weights + bias. */
static void test_linear1_is_the_chapters_model(void **state) {
    (void)state;
    cg_manual_seed(0); /* torch.manual_seed(0); torch.randn(3,1); torch.randn(1) */
    cg_module *m = cg_model_create("linear1", 3, 1);
    assert_non_null(m);
    cg_tensor *w = cg_module_find(m, "weights"), *b = cg_module_find(m, "bias");
    assert_non_null(w);
    assert_non_null(b);
    assert_int_equal(w->shape[0], 3);
    assert_int_equal(w->shape[1], 1);
    assert_true(w->requires_grad && b->requires_grad);
    const float expect[4] = {1.54099607f, -0.293428898f, -2.17878938f, 0.568431258f};
    for (int i = 0; i < 3; i++) assert_float_equal(cg_data_f32(w)[i], expect[i], 1e-6);
    assert_float_equal(cg_data_f32(b)[0], expect[3], 1e-6);
    cg_scope_begin();
    cg_tensor *y = cg_module_forward(m, cg_from_floats(CG_SHAPE(1, 3), (float[]){1, 2, 3}));
    double v;
    assert_int_equal(cg_item(y, &v), CG_OK);
    /* 1.54099607 - 2*0.293428898 - 3*2.17878938 + 0.568431258 */
    assert_float_equal(v, 1.54099607 - 0.586857796 - 6.53636814 + 0.568431258, 1e-5);
    assert_int_equal(cg_backward(y, NULL), CG_OK);
    assert_float_equal(cg_data_f32(w->grad)[2], 3.0, 0); /* d(x@w)/dw = x */
    assert_float_equal(cg_data_f32(b->grad)[0], 1.0, 0);
    cg_scope_end();
    cg_module_release(m);
}

static void test_linear_forward_values(void **state) {
    (void)state;
    cg_module *lin = cg_nn_linear(3, 2, true);
    float *w = cg_data_f32(cg_module_find(lin, "weight")), *b = cg_data_f32(cg_module_find(lin, "bias"));
    const float wv[6] = {1, 2, 3, -1, 0, 1}, bv[2] = {0.5f, -2};
    memcpy(w, wv, sizeof wv);
    memcpy(b, bv, sizeof bv);
    cg_scope_begin();
    cg_tensor *x = cg_from_floats(CG_SHAPE(2, 3), (float[]){1, 1, 1, 2, 0, -1});
    cg_tensor *y = cg_module_forward(lin, x);
    /* x @ W.T + b: [1+2+3+0.5, -1+0+1-2] and [2+0-3+0.5, -2+0-1-2] */
    assert_int_equal(y->ndim, 2);
    assert_int_equal(y->shape[0], 2);
    assert_int_equal(y->shape[1], 2);
    const float expect[4] = {6.5f, -2, -0.5f, -5};
    cg_tensor *yc = cg_contiguous(y);
    for (int i = 0; i < 4; i++) assert_float_equal(cg_data_f32(yc)[i], expect[i], 1e-6);
    /* F.linear with the same tensors gives the same, and a bad width is a shape error */
    cg_tensor *y2 = cg_contiguous(cg_linear(x, cg_module_find(lin, "weight"), NULL));
    assert_float_equal(cg_data_f32(y2)[0], 6.0, 1e-6);
    assert_null(cg_module_forward(lin, cg_zeros(CG_FLOAT32, CG_SHAPE(2, 4))));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "[2, 4]"));
    cg_scope_end();
    cg_module_release(lin);
}

static void test_sequential_names_order_and_repr(void **state) {
    (void)state;
    cg_module *net = CG_SEQUENTIAL(cg_nn_linear(784, 30, true), cg_nn_relu(), cg_nn_linear(30, 1, true));
    assert_non_null(net);
    cg_named_tensors sd;
    assert_int_equal(cg_module_state_dict(net, &sd), CG_OK);
    assert_int_equal(sd.n, 4);
    const char *names[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    for (int i = 0; i < 4; i++) assert_string_equal(sd.names[i], names[i]);
    assert_int_equal(sd.tensors[2]->shape[0], 1);
    assert_int_equal(sd.tensors[2]->shape[1], 30);
    assert_ptr_equal(cg_module_find(net, "2.bias"), sd.tensors[3]);
    assert_null(cg_module_find(net, "1.weight"));
    cg_named_tensors_free(&sd);
    assert_int_equal(cg_module_num_parameters(net), 4);
    assert_int_equal(cg_module_count_elements(net), 784 * 30 + 30 + 30 + 1);

    char *r = cg_module_repr(net);
    assert_string_equal(r, "Sequential(\n"
                           "  (0): Linear(in_features=784, out_features=30, bias=True)\n"
                           "  (1): ReLU()\n"
                           "  (2): Linear(in_features=30, out_features=1, bias=True)\n"
                           ")");
    free(r);
    cg_module_release(net);

    cg_module *nested = CG_SEQUENTIAL(cg_nn_flatten(1, -1),
                                      CG_SEQUENTIAL(cg_nn_linear(3, 2, true), cg_nn_sigmoid()));
    r = cg_module_repr(nested);
    assert_string_equal(r, "Sequential(\n"
                           "  (0): Flatten(start_dim=1, end_dim=-1)\n"
                           "  (1): Sequential(\n"
                           "    (0): Linear(in_features=3, out_features=2, bias=True)\n"
                           "    (1): Sigmoid()\n"
                           "  )\n"
                           ")");
    free(r);
    assert_int_equal(cg_module_named_parameters(nested, &sd), CG_OK);
    assert_string_equal(sd.names[0], "1.0.weight");
    assert_string_equal(sd.names[1], "1.0.bias");
    cg_named_tensors_free(&sd);
    /* train/eval reach every descendant */
    assert_true(nested->children[1]->children[0]->training);
    cg_module_eval(nested);
    assert_false(nested->children[1]->children[0]->training);
    cg_module_train(nested, true);
    assert_true(nested->children[1]->children[1]->training);
    cg_module_release(nested);
}

static void test_sequential_null_member_fails_without_leak(void **state) {
    (void)state;
    cg_module *net = CG_SEQUENTIAL(cg_nn_linear(4, 2, true), cg_nn_linear(0, 1, true), cg_nn_relu());
    assert_null(net); /* the other two were released (LeakSanitizer checks) */
    assert_non_null(strstr(cg_last_error(), "module 1"));
    assert_non_null(strstr(cg_last_error(), "in_features"));
    cg_module *m = cg_nn_relu();
    cg_tensor *z = cg_zeros(CG_FLOAT32, CG_SHAPE(1)); /* add_param retains: we keep our reference */
    assert_int_equal(cg_module_add_param(m, "a.b", z), CG_ERR_VALUE);
    assert_int_equal(cg_module_add_param(m, "ok", z), CG_OK);
    assert_int_equal(cg_module_add_param(m, "ok", z), CG_ERR_VALUE); /* names are unique */
    cg_release(z);
    assert_int_equal(z->refcount, 1); /* the module's */
    cg_module_release(m);
    cg_pool_trim();
}

static void test_zero_grad_and_shared_ownership(void **state) {
    (void)state;
    cg_module *lin = cg_nn_linear(2, 1, true);
    cg_scope_begin();
    cg_tensor *x = cg_ones(CG_FLOAT32, CG_SHAPE(1, 2));
    assert_int_equal(cg_backward(cg_sum(cg_module_forward(lin, x), NULL, 0, false), NULL), CG_OK);
    cg_scope_end();
    assert_non_null(cg_module_find(lin, "weight")->grad);
    cg_module_zero_grad(lin);
    assert_null(cg_module_find(lin, "weight")->grad);
    assert_null(cg_module_find(lin, "bias")->grad);
    cg_module *held = cg_module_retain(lin);
    cg_module_release(lin);
    assert_int_equal(held->refcount, 1);
    cg_module_release(held);
}

static void test_gradcheck_linear(void **state) {
    (void)state;
    cg_manual_seed(1);
    cg_module *lin = cg_nn_linear(5, 3, true);
    cg_tensor *x = input(CG_SHAPE(4, 5));
    gradcheck(lin, x);
    cg_release(x);
    cg_module_release(lin);
}

static void test_gradcheck_activations_and_flatten(void **state) {
    (void)state;
    cg_manual_seed(2);
    cg_module *mods[3] = {cg_nn_relu(), cg_nn_sigmoid(), cg_nn_flatten(1, -1)};
    cg_tensor *x = input(CG_SHAPE(2, 3, 4));
    for (int i = 0; i < 3; i++) {
        gradcheck(mods[i], x);
        cg_module_release(mods[i]);
    }
    cg_release(x);
}

static void test_gradcheck_simple_net(void **state) {
    (void)state;
    cg_manual_seed(3);
    cg_module *net = CG_SEQUENTIAL(cg_nn_flatten(1, -1), cg_nn_linear(6, 4, true), cg_nn_relu(),
                                   cg_nn_linear(4, 2, true), cg_nn_sigmoid());
    cg_tensor *x = input(CG_SHAPE(3, 2, 3));
    gradcheck(net, x);
    cg_release(x);
    cg_module_release(net);
}

static void test_model_zoo(void **state) {
    (void)state;
    cg_module *m = cg_model_create("simple_net", 784, 1);
    assert_non_null(m);
    assert_int_equal(cg_module_count_elements(m), 784 * 30 + 30 + 31);
    cg_module_release(m);
    m = cg_model_create("mlp:500", 784, 10);
    assert_int_equal(cg_module_find(m, "0.weight")->shape[0], 500);
    assert_int_equal(cg_module_find(m, "2.weight")->shape[0], 10);
    cg_module_release(m);
    m = cg_model_create("linear", 784, 1);
    assert_string_equal(m->vt->type_name, "Linear");
    cg_module_release(m);
    assert_null(cg_model_create("resnet99", 784, 1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "resnet99"));
    assert_null(cg_model_create("mlp:x", 784, 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_init_matches_pytorch),
        cmocka_unit_test(test_linear_init_bounds),
        cmocka_unit_test(test_init_params_is_randn_times_std),
        cmocka_unit_test(test_linear1_is_the_chapters_model),
        cmocka_unit_test(test_linear_forward_values),
        cmocka_unit_test(test_sequential_names_order_and_repr),
        cmocka_unit_test(test_sequential_null_member_fails_without_leak),
        cmocka_unit_test(test_zero_grad_and_shared_ownership),
        cmocka_unit_test(test_gradcheck_linear),
        cmocka_unit_test(test_gradcheck_activations_and_flatten),
        cmocka_unit_test(test_gradcheck_simple_net),
        cmocka_unit_test(test_model_zoo),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return rc;
}
