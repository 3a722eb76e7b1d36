/* test_optim.c — BasicOptim, fastai's SGD and Adam against hand-computed and
 * reference values (fastai's steppers replayed in PyTorch float32). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cgrad.h"

/* p.grad = g, through autograd: backward of sum(p * g). */
static void set_grad(cg_tensor *p, const float *g) {
    cg_clear_grad(p);
    cg_scope_begin();
    cg_tensor *gt = cg_from_floats(p->ndim, p->shape, g);
    assert_int_equal(cg_backward(cg_sum(cg_mul(p, gt), NULL, 0, false), NULL), CG_OK);
    cg_scope_end();
    assert_non_null(p->grad);
}

static cg_tensor *param(int n, const float *v) {
    return cg_requires_grad_(cg_from_floats(1, (int64_t[]){n}, v), true);
}

static void assert_values(const cg_tensor *t, const float *expect, int n, double tol) {
    const float *d = cg_data_f32(t);
    for (int i = 0; i < n; i++) {
        if (fabs(d[i] - expect[i]) > tol) fail_msg("element %d: got %.9g, expected %.9g", i, d[i], expect[i]);
    }
}

static void test_basic_optim_step_and_zero_grad(void **state) {
    (void)state;
    cg_tensor *p = param(3, (float[]){1, 2, 3});
    cg_optimizer *opt = cg_basic_optim(&p, 1, 0.1);
    assert_non_null(opt);
    assert_string_equal(cg_optimizer_name(opt), "BasicOptim");
    set_grad(p, (float[]){0.5f, -1, 2});
    assert_int_equal(cg_optimizer_step(opt), CG_OK);
    /* p.data -= p.grad.data * lr */
    assert_values(p, (float[]){0.95f, 2.1f, 2.8f}, 3, 1e-7);
    cg_optimizer_zero_grad(opt);
    assert_null(p->grad); /* p.grad = None */
    /* no grad: step skips the parameter */
    assert_int_equal(cg_optimizer_step(opt), CG_OK);
    assert_values(p, (float[]){0.95f, 2.1f, 2.8f}, 3, 1e-7);
    cg_optimizer_free(opt);
    cg_release(p);
}

static void test_sgd_without_momentum_is_basic_optim(void **state) {
    (void)state;
    const float init[4] = {0.3f, -1.7f, 2.5f, 0.01f};
    cg_tensor *a = param(4, init), *b = param(4, init);
    cg_optimizer *basic = cg_basic_optim(&a, 1, 1.0);
    cg_optimizer *sgd = cg_sgd(&b, 1, 1.0, 0.0, 0.0);
    assert_string_equal(cg_optimizer_name(sgd), "SGD");
    const float grads[3][4] = {{0.1f, 0.2f, -0.3f, 1.5f}, {-2, 0.125f, 3, 1e-3f}, {0.7f, 0.7f, -0.7f, 0}};
    for (int s = 0; s < 3; s++) {
        set_grad(a, grads[s]);
        set_grad(b, grads[s]);
        assert_int_equal(cg_optimizer_step(basic), CG_OK);
        assert_int_equal(cg_optimizer_step(sgd), CG_OK);
        cg_optimizer_zero_grad(basic);
        cg_optimizer_zero_grad(sgd);
        assert_memory_equal(cg_data_f32(a), cg_data_f32(b), 4 * sizeof(float)); /* bit for bit */
    }
    /* Both let the grad go (SGD: fastai's zero_grad as set_to_none) ... */
    assert_null(a->grad);
    assert_null(b->grad);
    /* ... and a step that no backward preceded steps SGD on zeros, as fastai's
     * zeroed grad does (BasicOptim, whose grad is None, skips the parameter). */
    float before[4];
    memcpy(before, cg_data_f32(a), sizeof before);
    assert_int_equal(cg_optimizer_step(basic), CG_OK);
    assert_int_equal(cg_optimizer_step(sgd), CG_OK);
    assert_null(a->grad);
    assert_non_null(b->grad);
    assert_true(cg_data_f32(b->grad)[0] == 0.0f && cg_data_f32(b->grad)[3] == 0.0f);
    assert_memory_equal(cg_data_f32(a), before, sizeof before);
    assert_memory_equal(cg_data_f32(b), before, sizeof before); /* lr * 0, no wd */
    cg_optimizer_free(basic);
    cg_optimizer_free(sgd);
    cg_release(a);
    cg_release(b);
}

/* lr 0.1, mom 0.9, wd 0.1 (decoupled): p *= 1 - lr*wd; grad_avg = 0.9*grad_avg + g; p -= lr*grad_avg.
 * By hand for element 0: 1*0.99 - 0.1*1 = 0.89; 0.89*0.99 - 0.1*(0.9+2) = 0.5911;
 * 0.5911*0.99 - 0.1*(2.61-1) = 0.424189. */
static void test_sgd_momentum_and_weight_decay(void **state) {
    (void)state;
    cg_tensor *p = param(2, (float[]){1, -2});
    cg_optimizer *opt = cg_sgd(&p, 1, 0.1, 0.9, 0.1);
    const float grads[3][2] = {{1, 0.5f}, {2, -1}, {-1, 0}};
    const float expect[3][2] = {{0.889999986f, -2.02999997f},
                                {0.591099977f, -1.95470011f},
                                {0.424188972f, -1.88565314f}};
    for (int s = 0; s < 3; s++) {
        set_grad(p, grads[s]);
        assert_int_equal(cg_optimizer_step(opt), CG_OK);
        cg_optimizer_zero_grad(opt);
        assert_values(p, expect[s], 2, 2e-7);
    }
    assert_int_equal(cg_optimizer_steps(opt), 3);
    cg_optimizer_free(opt);
    cg_release(p);
}

/* fastai's Adam (mom 0.9, sqr_mom 0.99, eps 1e-5, wd 0.01 decoupled), lr 0.01.
 * Step 1 for w[0] by hand: w = 1*(1-1e-4) = 0.9999; grad_avg = 0.1*0.5 = 0.05,
 * sqr_avg = 0.01*0.25 = 0.0025; debias1 = 0.1, debias2 = 0.01;
 * w -= 0.01/0.1 * 0.05/(sqrt(0.25)+1e-5) = 0.0099998  ->  0.9899002.
 * The bias (1-d) gets no weight decay after no_wd_on_1d (wd_bn_bias=False):
 * b = 0.3 - 0.1 * 0.1/(sqrt(0.01/0.01)+1e-5) = 0.290000100.
 * Step 2 values: fastai's steppers replayed in PyTorch float32. */
static void test_adam_two_steps(void **state) {
    (void)state;
    cg_tensor *w = cg_requires_grad_(cg_from_floats(CG_SHAPE(1, 3), (float[]){1, -2, 0.5f}), true);
    cg_tensor *b = param(1, (float[]){0.3f});
    cg_optimizer *opt = cg_adam((cg_tensor *[]){w, b}, 2, 0.01);
    assert_string_equal(cg_optimizer_name(opt), "Adam");
    cg_param_group *g = cg_optimizer_group(opt, 0);
    assert_non_null(g);
    assert_true(g->h.mom == 0.9 && g->h.sqr_mom == 0.99 && g->h.eps == 1e-5 && g->h.wd == 0.01);
    cg_optimizer_no_wd_on_1d(opt);
    assert_true(g->do_wd[0]);
    assert_false(g->do_wd[1]);

    set_grad(w, (float[]){0.5f, -1, 2});
    set_grad(b, (float[]){1});
    assert_int_equal(cg_optimizer_step(opt), CG_OK);
    cg_optimizer_zero_grad(opt);
    assert_values(w, (float[]){0.989900172f, -1.9898001f, 0.489950031f}, 3, 2e-7);
    assert_values(b, (float[]){0.290000111f}, 1, 2e-7);

    set_grad(w, (float[]){-1, 0.25f, 2});
    set_grad(b, (float[]){-0.5f});
    assert_int_equal(cg_optimizer_step(opt), CG_OK);
    assert_values(w, (float[]){0.993457198f, -1.98489714f, 0.479901075f}, 3, 2e-7);
    assert_values(b, (float[]){0.287333161f}, 1, 2e-7);
    assert_int_equal(cg_optimizer_steps(opt), 2);
    cg_optimizer_free(opt);
    cg_release(w);
    cg_release(b);
}

/* Hyper-parameters are read at every step, per group: a schedule can drive them. */
static void test_param_groups_and_hypers(void **state) {
    (void)state;
    cg_tensor *a = param(1, (float[]){1}), *b = param(1, (float[]){1});
    cg_optimizer *opt = cg_sgd(&a, 1, 0.5, 0, 0);
    assert_int_equal(cg_optimizer_add_group(opt, &b, 1, cg_optim_defaults(CG_OPTIM_SGD, 0.25)), CG_OK);
    assert_int_equal(cg_optimizer_n_groups(opt), 2);
    set_grad(a, (float[]){1});
    set_grad(b, (float[]){1});
    assert_int_equal(cg_optimizer_step(opt), CG_OK);
    assert_values(a, (float[]){0.5f}, 1, 0);
    assert_values(b, (float[]){0.75f}, 1, 0);
    assert_int_equal(cg_optimizer_set_hyper(opt, "lr", 0.125), CG_OK);
    assert_int_equal(cg_optimizer_step(opt), CG_OK); /* grads still 1 (accumulated, not zeroed) */
    assert_values(a, (float[]){0.375f}, 1, 0);
    assert_values(b, (float[]){0.625f}, 1, 0);
    cg_optimizer_group(opt, 1)->h.lr = 1.0;
    assert_int_equal(cg_optimizer_step(opt), CG_OK);
    assert_values(a, (float[]){0.25f}, 1, 0);
    assert_values(b, (float[]){-0.375f}, 1, 0);
    assert_int_equal(cg_optimizer_set_hyper(opt, "beta", 0.1), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "beta"));
    assert_null(cg_optimizer_group(opt, 2));
    cg_optimizer_free(opt);
    cg_release(a);
    cg_release(b);
}

/* fastai picks SGD's stepper at creation: made with mom 0, setting mom later
 * changes nothing; made with mom 0.9, a schedule may change the decay. */
static void test_sgd_momentum_fixed_at_creation(void **state) {
    (void)state;
    cg_tensor *p = param(1, (float[]){1});
    cg_optimizer *opt = cg_sgd(&p, 1, 0.1, 0.0, 0.0);
    assert_int_equal(cg_optimizer_set_hyper(opt, "mom", 0.9), CG_OK);
    for (int s = 0; s < 2; s++) {
        set_grad(p, (float[]){1});
        assert_int_equal(cg_optimizer_step(opt), CG_OK);
    }
    assert_values(p, (float[]){0.8f}, 1, 1e-7); /* plain sgd_step twice */
    cg_optimizer_free(opt);
    opt = cg_sgd(&p, 1, 0.1, 0.9, 0.0);
    set_grad(p, (float[]){1});
    assert_int_equal(cg_optimizer_step(opt), CG_OK); /* avg 1: 0.8 - 0.1 = 0.7 */
    assert_int_equal(cg_optimizer_set_hyper(opt, "mom", 0.5), CG_OK);
    set_grad(p, (float[]){1});
    assert_int_equal(cg_optimizer_step(opt), CG_OK); /* avg 0.5*1 + 1 = 1.5: 0.7 - 0.15 = 0.55 */
    assert_values(p, (float[]){0.55f}, 1, 1e-7);
    cg_optimizer_reset_state(opt); /* averages forgotten: avg = 1 again */
    set_grad(p, (float[]){1});
    assert_int_equal(cg_optimizer_step(opt), CG_OK);
    assert_values(p, (float[]){0.45f}, 1, 1e-7);
    cg_optimizer_free(opt);
    cg_release(p);
}

static void test_errors_and_names(void **state) {
    (void)state;
    cg_tensor *i64 = cg_zeros(CG_INT64, CG_SHAPE(2));
    assert_null(cg_sgd(&i64, 1, 0.1, 0, 0));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    cg_tensor *nograd = cg_zeros(CG_FLOAT32, CG_SHAPE(2));
    assert_null(cg_basic_optim(&nograd, 1, 0.1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "parameter 0"));
    cg_tensor *p = param(1, (float[]){2});
    cg_optimizer *opt = cg_optimizer_by_name("Adam", &p, 1, 0.1);
    assert_non_null(opt);
    assert_int_equal(cg_optimizer_kind(opt), CG_OPTIM_ADAM);
    cg_optimizer_free(opt);
    assert_null(cg_optimizer_by_name("lamb", &p, 1, 0.1));
    assert_non_null(strstr(cg_last_error(), "lamb"));
    cg_release(p);
    cg_release(i64);
    cg_release(nograd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_optim_step_and_zero_grad),
        cmocka_unit_test(test_sgd_without_momentum_is_basic_optim),
        cmocka_unit_test(test_sgd_momentum_and_weight_decay),
        cmocka_unit_test(test_adam_two_steps),
        cmocka_unit_test(test_param_groups_and_hypers),
        cmocka_unit_test(test_sgd_momentum_fixed_at_creation),
        cmocka_unit_test(test_errors_and_names),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return rc;
}
