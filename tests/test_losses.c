/* test_losses.c — mnist_loss as the chapter defines it, the named loss table,
 * values and gradients against PyTorch, fastai's LabelSmoothingCrossEntropy,
 * and finite-difference checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cgrad.h"

static double item(cg_tensor *t) {
    double v = NAN;
    assert_non_null(t);
    assert_int_equal(cg_item(t, &v), CG_OK);
    return v;
}

/* The chapter's first mnist_loss (before sigmoid) on its own example:
 * where(trgts==1, 1-prds, prds) = [0.1, 0.4, 0.8], mean 0.4333; and with
 * prds[2] = 0.8 the loss falls to 0.2333.  cg_mnist_loss is the second
 * definition (sigmoid first); feeding it logit(p) gives the first one's value. */
static void test_mnist_loss_chapter_examples(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *trgts = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){1, 0, 1});
    cg_tensor *prds = cg_from_floats(CG_SHAPE(3), (float[]){0.9f, 0.4f, 0.2f});
    cg_tensor *logits = cg_log(cg_div(prds, cg_rsub_s(1.0, prds))); /* sigmoid^-1 */
    assert_float_equal(item(cg_mnist_loss(logits, trgts)), 0.4333333, 1e-6);
    cg_tensor *prds2 = cg_from_floats(CG_SHAPE(3), (float[]){0.9f, 0.4f, 0.8f});
    cg_tensor *logits2 = cg_log(cg_div(prds2, cg_rsub_s(1.0, prds2)));
    assert_float_equal(item(cg_mnist_loss(logits2, trgts)), 0.2333333, 1e-6);
    cg_scope_end();
}

/* Values and gradients from PyTorch (see the literals' source in the comments). */
static void test_losses_match_pytorch(void **state) {
    (void)state;
    cg_scope_begin();
    /* x = [[0.9],[0.4],[-1.2],[2.0]], y = [[1],[0],[1],[0]] (int64 like train_y) */
    const float xv[4] = {0.9f, 0.4f, -1.2f, 2.0f};
    cg_tensor *y = cg_from_data(CG_INT64, CG_SHAPE(4, 1), (int64_t[]){1, 0, 1, 0});
    struct {
        const char *name;
        double value;
        float grad[4];
    } cases[2] = {
        {"mnist_loss", 0.634264946, {-0.0513750799f, 0.0600651875f, -0.0444736108f, 0.0262484066f}},
        {"bce", 1.21109486, {-0.0722626299f, 0.149671912f, -0.192131191f, 0.220199257f}},
    };
    for (int c = 0; c < 2; c++) {
        cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(4, 1), xv), true);
        const cg_loss *loss = cg_loss_by_name(cases[c].name);
        assert_non_null(loss);
        assert_string_equal(loss->name, cases[c].name);
        cg_tensor *l = loss->fn(x, y);
        assert_int_equal(l->ndim, 0);
        assert_float_equal(item(l), cases[c].value, 1e-6);
        assert_int_equal(cg_backward(l, NULL), CG_OK);
        for (int i = 0; i < 4; i++) assert_float_equal(cg_data_f32(x->grad)[i], cases[c].grad[i], 1e-6);
    }
    /* F.cross_entropy([[1,2,0.5],[-1,0,3]], [1,2]) */
    cg_tensor *z = cg_requires_grad_(cg_from_floats(CG_SHAPE(2, 3), (float[]){1, 2, 0.5f, -1, 0, 3}), true);
    cg_tensor *t = cg_from_data(CG_INT64, CG_SHAPE(2, 1), (int64_t[]){1, 2}); /* [N,1] is flattened */
    cg_tensor *l = cg_loss_by_name("cross_entropy")->fn(z, t);
    assert_float_equal(item(l), 0.265126348, 1e-6);
    assert_int_equal(cg_backward(l, NULL), CG_OK);
    const float zg[6] = {0.115611941f, -0.185734153f, 0.0701221898f, 0.00857391115f, 0.023306312f, -0.0318802297f};
    for (int i = 0; i < 6; i++) assert_float_equal(cg_data_f32(z->grad)[i], zg[i], 1e-6);
    /* mse and l1, target int64 [3] against pred [3,1] */
    cg_tensor *p = cg_from_floats(CG_SHAPE(3, 1), (float[]){0.5f, 2, -1});
    cg_tensor *q = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){1, 1, 1});
    assert_float_equal(item(cg_loss_by_name("mse")->fn(p, q)), 1.75, 1e-6);
    assert_float_equal(item(cg_loss_by_name("l1")->fn(p, q)), 1.16666663, 1e-6);
    cg_scope_end();
}

/* fastai's LabelSmoothingCrossEntropy against PyTorch 1.13's
 * F.cross_entropy(z, t, label_smoothing=eps) (the same function), on
 * z = [[1,2,0.5],[-1,0,3]], t = [1,2]. */
static void test_label_smoothing_matches_pytorch(void **state) {
    (void)state;
    cg_scope_begin();
    const float zv[6] = {1, 2, 0.5f, -1, 0, 3};
    cg_tensor *t = cg_from_data(CG_INT64, CG_SHAPE(2), (int64_t[]){1, 2});
    /* the table's entry, eps 0.1 (fastai's default), target [N,1] flattened */
    const cg_loss *ls = cg_loss_by_name("label_smoothing");
    assert_non_null(ls);
    assert_string_equal(ls->name, "label_smoothing");
    cg_tensor *z = cg_requires_grad_(cg_from_floats(CG_SHAPE(2, 3), zv), true);
    cg_tensor *l = ls->fn(z, cg_from_data(CG_INT64, CG_SHAPE(2, 1), (int64_t[]){1, 2}));
    assert_int_equal(l->ndim, 0);
    assert_float_equal(item(l), 0.4234597086906433, 1e-6);
    assert_int_equal(cg_backward(l, NULL), CG_OK);
    const float g1[6] = {0.09894527494907379f, -0.15240082144737244f, 0.053455524146556854f,
                         -0.008092756383121014f, 0.006639644503593445f, 0.001453101634979248f};
    for (int i = 0; i < 6; i++) assert_float_equal(cg_data_f32(z->grad)[i], g1[i], 1e-6);
    /* by hand: d/dz = (softmax(z) - (1-eps) onehot(t) - eps/C) / N */
    cg_tensor *p = cg_contiguous(cg_softmax(cg_from_floats(CG_SHAPE(2, 3), zv), -1));
    for (int i = 0; i < 6; i++) {
        double target = (i % 3 == (i < 3 ? 1 : 2) ? 0.9 : 0.0) + 0.1 / 3;
        assert_float_equal(cg_data_f32(z->grad)[i], (cg_data_f32(p)[i] - target) / 2, 1e-6);
    }
    /* eps 0.3 */
    z = cg_requires_grad_(cg_from_floats(CG_SHAPE(2, 3), zv), true);
    l = cg_label_smoothing_cross_entropy(z, t, 0.3);
    assert_float_equal(item(l), 0.740126371383667, 1e-6);
    assert_int_equal(cg_backward(l, NULL), CG_OK);
    const float g3[6] = {0.06561194360256195f, -0.08573415875434875f, 0.020122189074754715f,
                         -0.04142608866095543f, -0.026693688705563545f, 0.06811976432800293f};
    for (int i = 0; i < 6; i++) assert_float_equal(cg_data_f32(z->grad)[i], g3[i], 1e-6);
    /* eps 0 is plain cross-entropy (F.cross_entropy's 0.265126348 above) */
    assert_float_equal(item(cg_label_smoothing_cross_entropy(z, t, 0.0)), 0.265126348, 1e-6);
    /* bad eps and shapes are refused, naming the value */
    assert_null(cg_label_smoothing_cross_entropy(z, t, -0.1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "-0.1"));
    assert_null(cg_label_smoothing_cross_entropy(z, t, 1.5));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_null(cg_label_smoothing_cross_entropy(cg_from_floats(CG_SHAPE(3), zv), t, 0.1));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_null(ls->fn(z, cg_from_data(CG_INT64, CG_SHAPE(2), (int64_t[]){1, 3}))); /* class 3 of 3 */
    cg_scope_end();
}

/* d loss / d pred by central differences for every loss in the table. */
static void test_loss_gradients_by_finite_differences(void **state) {
    (void)state;
    int n;
    const cg_loss *losses = cg_losses(&n);
    assert_int_equal(n, 6);
    cg_manual_seed(5);
    for (int k = 0; k < n; k++) {
        bool ce = !strcmp(losses[k].name, "cross_entropy") || !strcmp(losses[k].name, "label_smoothing");
        cg_scope_begin();
        cg_tensor *x = cg_requires_grad_(cg_randn(NULL, CG_SHAPE(6, ce ? 4 : 1)), true);
        cg_tensor *y = ce ? cg_from_data(CG_INT64, CG_SHAPE(6), (int64_t[]){0, 3, 1, 2, 3, 0})
                          : cg_from_data(CG_INT64, CG_SHAPE(6, 1), (int64_t[]){1, 0, 0, 1, 1, 0});
        assert_int_equal(cg_backward(losses[k].fn(x, y), NULL), CG_OK);
        float *xd = cg_data_f32(x);
        const float h = 1e-2f;
        for (int64_t i = 0; i < cg_numel(x); i++) {
            float saved = xd[i];
            cg_no_grad_begin();
            xd[i] = saved + h;
            double fp = item(losses[k].fn(x, y));
            xd[i] = saved - h;
            double fm = item(losses[k].fn(x, y));
            cg_no_grad_end();
            xd[i] = saved;
            double numeric = (fp - fm) / (2 * h), analytic = cg_data_f32(x->grad)[i];
            if (fabs(numeric - analytic) > 1e-3 + 1e-2 * fabs(numeric))
                fail_msg("%s: d/dx[%lld] autograd %.6g, finite difference %.6g", losses[k].name,
                         (long long)i, analytic, numeric);
        }
        cg_scope_end();
    }
}

static void test_activations_and_unknown_name(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *x = cg_from_floats(CG_SHAPE(1, 2), (float[]){0, 0});
    cg_tensor *p = cg_contiguous(cg_loss_by_name("cross_entropy")->activation(x));
    assert_float_equal(cg_data_f32(p)[1], 0.5, 1e-7); /* softmax */
    p = cg_contiguous(cg_loss_by_name("label_smoothing")->activation(x));
    assert_float_equal(cg_data_f32(p)[1], 0.5, 1e-7); /* softmax */
    p = cg_contiguous(cg_loss_by_name("mnist_loss")->activation(x));
    assert_float_equal(cg_data_f32(p)[0], 0.5, 1e-7); /* sigmoid */
    assert_null(cg_loss_by_name("mse")->activation);
    assert_null(cg_loss_by_name("hinge"));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "hinge"));
    assert_null(cg_mnist_loss(NULL, x));
    cg_scope_end();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist_loss_chapter_examples),
        cmocka_unit_test(test_losses_match_pytorch),
        cmocka_unit_test(test_label_smoothing_matches_pytorch),
        cmocka_unit_test(test_loss_gradients_by_finite_differences),
        cmocka_unit_test(test_activations_and_unknown_name),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return rc;
}
