/* Autograd semantics the chapter relies on: gradients of the chapter's
 * examples, accumulation until zeroed, no-grad, detach, explicit upstream
 * gradients, and the documented misuse errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cgrad.h"

static double at(const cg_tensor *t, int64_t i) { return cg_get(t, (int64_t[]){i}); }

/* xt = tensor(3.).requires_grad_(); yt = xt**2; yt.backward(); xt.grad == 6 */
static void chapter_scalar_square(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *xt = cg_requires_grad_(cg_scalar(3.0), true);
    cg_tensor *yt = cg_pow_s(xt, 2);
    double v;
    assert_int_equal(cg_item(yt, &v), CG_OK);
    assert_float_equal(v, 9.0, 0);
    assert_string_equal(cg_grad_fn_name(yt), "PowBackward0");
    assert_int_equal(cg_backward(yt, NULL), CG_OK);
    assert_int_equal(xt->grad->ndim, 0);
    assert_int_equal(cg_item(xt->grad, &v), CG_OK);
    assert_float_equal(v, 6.0, 0);
    cg_scope_end();
}

/* f(x) = (x**2).sum() at [3,4,10] gives grad [6,8,20] */
static void chapter_vector_square(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *xt = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){3, 4, 10}), true);
    cg_tensor *yt = cg_sum(cg_pow_s(xt, 2), NULL, 0, false);
    double v;
    cg_item(yt, &v);
    assert_float_equal(v, 125.0, 0);
    assert_int_equal(cg_backward(yt, NULL), CG_OK);
    assert_float_equal(at(xt->grad, 0), 6, 0);
    assert_float_equal(at(xt->grad, 1), 8, 0);
    assert_float_equal(at(xt->grad, 2), 20, 0);
    cg_scope_end();
}

/* calc_grad twice without zeroing doubles the gradient; zero_grad resets it. */
static void gradients_accumulate_until_zeroed(void **s) {
    (void)s;
    cg_tensor *w = cg_requires_grad_(cg_from_floats(CG_SHAPE(2), (float[]){1, -2}), true);
    cg_tensor *x = cg_from_floats(CG_SHAPE(2), (float[]){3, 5});
    for (int step = 1; step <= 3; step++) {
        cg_scope_begin();
        assert_int_equal(cg_backward(cg_sum(cg_mul(w, x), NULL, 0, false), NULL), CG_OK);
        cg_scope_end();
        assert_float_equal(at(w->grad, 0), 3.0 * step, 0);
        assert_float_equal(at(w->grad, 1), 5.0 * step, 0);
    }
    cg_zero_grad(w);
    assert_float_equal(at(w->grad, 0), 0, 0);
    cg_clear_grad(w);
    assert_null(w->grad);
    /* cg_ensure_grad: a zero grad of w's shape where there is none, and an
     * existing grad left as it is (the next backward adds into it) */
    assert_int_equal(cg_ensure_grad(w), CG_OK);
    assert_non_null(w->grad);
    assert_int_equal(cg_numel(w->grad), 2);
    assert_float_equal(at(w->grad, 0), 0, 0);
    assert_float_equal(at(w->grad, 1), 0, 0);
    cg_scope_begin();
    assert_int_equal(cg_backward(cg_sum(cg_mul(w, x), NULL, 0, false), NULL), CG_OK);
    cg_scope_end();
    assert_int_equal(cg_ensure_grad(w), CG_OK);
    assert_float_equal(at(w->grad, 0), 3, 0);
    assert_float_equal(at(w->grad, 1), 5, 0);
    assert_int_equal(cg_ensure_grad(NULL), CG_ERR_VALUE);
    cg_release(w);
    cg_release(x);
}

/* A tensor used twice in one graph gets both contributions. */
static void shared_input_sums_paths(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(cg_scalar(2.0), true);
    cg_tensor *y = cg_add(cg_mul(x, x), cg_mul_s(x, 3)); /* x^2 + 3x -> 2x + 3 = 7 */
    assert_int_equal(cg_backward(y, NULL), CG_OK);
    double v;
    cg_item(x->grad, &v);
    assert_float_equal(v, 7.0, 0);
    cg_scope_end();
}

/* with torch.no_grad(): results do not require grad; params.data -= lr*grad works. */
static void no_grad_and_parameter_update(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *p = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){1, 2, 3}), true);
    cg_backward(cg_sum(cg_pow_s(p, 2), NULL, 0, false), NULL); /* grad = 2p */
    /* in-place on a leaf needing grad is refused while grad mode is on */
    assert_int_equal(cg_axpy_(p, -0.1, p->grad), CG_ERR_GRAD);
    assert_non_null(strstr(cg_last_error(), "no_grad"));
    cg_no_grad_begin();
    assert_false(cg_grad_enabled());
    cg_tensor *q = cg_mul_s(p, 2);
    assert_false(q->requires_grad);
    assert_null(cg_grad_fn_name(q));
    assert_int_equal(cg_axpy_(p, -0.1, p->grad), CG_OK); /* p -= 0.1 * 2p */
    cg_no_grad_end();
    assert_true(cg_grad_enabled());
    assert_float_equal(at(p, 0), 0.8, 1e-6);
    assert_float_equal(at(p, 2), 2.4, 1e-6);
    /* weights[0] *= 1.0001 under no_grad, through a view */
    cg_no_grad_begin();
    assert_int_equal(cg_mul_s_(cg_select(p, 0, 0), 1.0001), CG_OK);
    cg_no_grad_end();
    assert_float_equal(at(p, 0), 0.8 * 1.0001, 1e-6);
    cg_scope_end();
}

static void detach_cuts_the_graph(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(2), (float[]){1, 2}), true);
    cg_tensor *d = cg_detach(cg_mul_s(x, 3));
    assert_false(d->requires_grad);
    assert_float_equal(at(d, 1), 6, 0);
    cg_tensor *y = cg_sum(cg_mul(x, d), NULL, 0, false); /* d is a constant: grad = d */
    cg_backward(y, NULL);
    assert_float_equal(at(x->grad, 0), 3, 0);
    assert_float_equal(at(x->grad, 1), 6, 0);
    cg_scope_end();
}

static void backward_with_explicit_gradient(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){1, 2, 3}), true);
    cg_tensor *y = cg_mul_s(x, 2);
    cg_tensor *g = cg_from_floats(CG_SHAPE(3), (float[]){1, 0.5, -1});
    assert_int_equal(cg_backward(y, g), CG_OK);
    assert_float_equal(at(x->grad, 0), 2, 0);
    assert_float_equal(at(x->grad, 1), 1, 0);
    assert_float_equal(at(x->grad, 2), -2, 0);
    cg_scope_end();
}

static void backward_errors(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(2, 2), (float[]){1, 2, 3, 4}), true);
    cg_tensor *y = cg_mul_s(x, 2);
    /* non-scalar root without a gradient */
    assert_int_equal(cg_backward(y, NULL), CG_ERR_GRAD);
    assert_non_null(strstr(cg_last_error(), "[2, 2]"));
    /* gradient of the wrong shape */
    assert_int_equal(cg_backward(y, cg_ones(CG_FLOAT32, CG_SHAPE(3))), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "[3]"));
    /* a tensor that needs no grad */
    assert_int_equal(cg_backward(cg_ones(CG_FLOAT32, CG_SHAPE(1)), NULL), CG_ERR_GRAD);
    /* only float tensors can require grad */
    assert_null(cg_requires_grad_(cg_zeros(CG_INT64, CG_SHAPE(2)), true));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_null(x->grad); /* nothing was accumulated by the failed calls */
    cg_scope_end();
}

/* cg_backward_once: cg_backward's gradients, with the graph's intermediates
 * freed by the pass (only the graph held them); a second backward through
 * it fails and changes no gradient, and the root keeps its value. */
static size_t graph_memory_after(bool once, float grads[3]) {
    cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){1, 2, 3}), true);
    cg_scope_begin();
    cg_scope_begin();
    cg_tensor *y = cg_keep(cg_sum(cg_add(cg_mul(x, x), cg_mul_s(x, 3)), NULL, 0, false));
    cg_scope_end(); /* the intermediates: held by the graph alone */
    assert_int_equal(once ? cg_backward_once(y, NULL) : cg_backward(y, NULL), CG_OK);
    size_t mem = cg_mem_in_use();
    double v;
    assert_int_equal(cg_item(y, &v), CG_OK);
    assert_float_equal(v, 1 + 4 + 9 + 3 + 6 + 9, 0);
    for (int i = 0; i < 3; i++) grads[i] = (float)at(x->grad, i);
    if (once) {
        assert_int_equal(cg_backward(y, NULL), CG_ERR_GRAD);
        assert_non_null(strstr(cg_last_error(), "already freed"));
        assert_int_equal(cg_backward_once(y, NULL), CG_ERR_GRAD);
        assert_float_equal(at(x->grad, 0), grads[0], 0); /* untouched */
    }
    cg_scope_end();
    cg_release(x);
    return mem;
}

static void backward_once_frees_the_graph(void **s) {
    (void)s;
    size_t before = cg_mem_in_use();
    float keep[3], once[3];
    size_t kept = graph_memory_after(false, keep), freed = graph_memory_after(true, once);
    assert_true(freed < kept); /* x*x, 3x and their sum went with the pass */
    for (int i = 0; i < 3; i++) {
        assert_float_equal(keep[i], 2 * (i + 1) + 3, 0); /* 2x + 3 */
        assert_float_equal(once[i], keep[i], 0);
    }
    assert_int_equal(cg_mem_in_use(), before);
}

/* cg_relu_over: relu written over a buffer only the caller holds, with
 * cg_relu's values and gradient (the mask reads the overwritten input);
 * a tensor held elsewhere too gets a buffer of its own. */
static void relu_over_reuses_a_sole_buffer(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(4), (float[]){-1, 0, 2, -3}), true);
    cg_tensor *t = cg_mul_s(x, 2); /* non-leaf, held by this scope alone */
    cg_tensor *y = cg_relu_over(t);
    assert_ptr_equal(y->storage, t->storage);
    assert_string_equal(cg_grad_fn_name(y), "ReluBackward0");
    assert_int_equal(cg_backward(cg_sum(cg_mul(y, cg_from_floats(CG_SHAPE(4), (float[]){1, 2, 3, 4})), NULL, 0, false), NULL), CG_OK);
    const float want_y[4] = {0, 0, 4, 0}, want_g[4] = {0, 0, 6, 0}; /* 2 * w * (2x > 0) */
    for (int i = 0; i < 4; i++) {
        assert_float_equal(at(y, i), want_y[i], 0);
        assert_float_equal(at(x->grad, i), want_g[i], 0);
    }
    cg_tensor *u = cg_retain(cg_mul_s(x, 2)); /* held twice: not overwritten */
    cg_tensor *v = cg_relu_over(u);
    assert_ptr_not_equal(v->storage, u->storage);
    assert_float_equal(at(u, 0), -2, 0);
    cg_release(u);
    assert_ptr_not_equal(cg_relu_over(x)->storage, x->storage); /* a leaf needing a grad */
    cg_scope_end();
}

/* cg_batch_norm_relu: relu(batch_norm(x)) as one op, the same bits as the
 * two ops for the output, the running statistics and every gradient; its
 * rule reads its output (the mask), so cg_relu_over / cg_add_over leave that
 * buffer alone. */
static void batch_norm_relu_is_relu_of_batch_norm(void **s) {
    (void)s;
    cg_scope_begin();
    float xs[24], ws[24];
    for (int i = 0; i < 24; i++) xs[i] = (float)sin(0.7 * i + 0.2), ws[i] = (float)cos(0.3 * i);
    cg_tensor *out[2], *grads[2][3], *running[2][2];
    for (int fused = 0; fused < 2; fused++) {
        cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(2, 3, 2, 2), xs), true);
        cg_tensor *g = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){0.5f, 1.5f, -1}), true);
        cg_tensor *b = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){0.1f, -0.2f, 0.3f}), true);
        cg_tensor *rm = cg_zeros(CG_FLOAT32, CG_SHAPE(3)), *rv = cg_ones(CG_FLOAT32, CG_SHAPE(3));
        cg_tensor *y = fused ? cg_batch_norm_relu(cg_mul_s(x, 2), rm, rv, g, b, true, 0.1, 1e-5)
                             : cg_relu(cg_batch_norm(cg_mul_s(x, 2), rm, rv, g, b, true, 0.1, 1e-5));
        assert_non_null(y);
        if (fused) { /* held by this scope alone, but its rule reads it */
            assert_ptr_not_equal(cg_relu_over(y)->storage, y->storage);
            assert_ptr_not_equal(cg_add_over(y, y)->storage, y->storage);
        }
        cg_tensor *w = cg_from_floats(CG_SHAPE(2, 3, 2, 2), ws);
        assert_int_equal(cg_backward(cg_sum(cg_mul(y, w), NULL, 0, false), NULL), CG_OK);
        out[fused] = y, grads[fused][0] = x->grad, grads[fused][1] = g->grad, grads[fused][2] = b->grad;
        running[fused][0] = rm, running[fused][1] = rv;
    }
    int zeros = 0;
    const float *fused_out = cg_data(out[1]); /* [2,3,2,2]: read flat, not through at()'s 1-d index */
    for (int i = 0; i < 24; i++) zeros += fused_out[i] == 0;
    assert_true(zeros > 4 && zeros < 20); /* both sides of the ReLU */
    assert_memory_equal(cg_data(out[0]), cg_data(out[1]), 24 * sizeof(float));
    assert_memory_equal(cg_data(grads[0][0]), cg_data(grads[1][0]), 24 * sizeof(float));
    for (int k = 1; k < 3; k++) assert_memory_equal(cg_data(grads[0][k]), cg_data(grads[1][k]), 3 * sizeof(float));
    for (int k = 0; k < 2; k++) assert_memory_equal(cg_data(running[0][k]), cg_data(running[1][k]), 3 * sizeof(float));
    cg_scope_end();
}

/* cg_add_over: the sum over a's buffer, cg_add's values and gradients. */
static void add_over_reuses_a_sole_buffer(void **s) {
    (void)s;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){1, -2, 3}), true);
    cg_tensor *b = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){10, 20, 30}), true);
    cg_tensor *a = cg_mul_s(x, 2);
    cg_tensor *y = cg_add_over(a, b);
    assert_ptr_equal(y->storage, a->storage);
    assert_string_equal(cg_grad_fn_name(y), "AddBackward0");
    assert_int_equal(cg_backward(cg_sum(cg_mul(y, y), NULL, 0, false), NULL), CG_OK);
    const float want[3] = {12, 16, 36}; /* 2x + b */
    for (int i = 0; i < 3; i++) {
        assert_float_equal(at(y, i), want[i], 0);
        assert_float_equal(at(b->grad, i), 2 * want[i], 0);
        assert_float_equal(at(x->grad, i), 4 * want[i], 0);
    }
    cg_tensor *r = cg_from_floats(CG_SHAPE(1), (float[]){5});
    assert_ptr_not_equal(cg_add_over(cg_mul_s(x, 2), r)->storage, x->storage); /* broadcast: cg_add */
    assert_float_equal(at(cg_add_over(cg_mul_s(x, 2), r), 1), 1, 0);
    cg_scope_end();
}

/* The chapter's training-step shape: thousands of steps in scopes, flat memory. */
static void training_loop_memory_is_flat(void **s) {
    (void)s;
    cg_tensor *w = cg_requires_grad_(cg_full(CG_FLOAT32, CG_SHAPE(784, 1), 0.01), true);
    cg_tensor *b = cg_requires_grad_(cg_zeros(CG_FLOAT32, CG_SHAPE(1)), true);
    cg_tensor *xb = cg_full(CG_FLOAT32, CG_SHAPE(64, 784), 0.5);
    cg_tensor *yb = cg_ones(CG_FLOAT32, CG_SHAPE(64, 1));
    size_t after_warmup = 0;
    for (int step = 0; step < 3000; step++) {
        cg_scope_begin();
        cg_tensor *pred = cg_sigmoid(cg_add(cg_matmul(xb, w), b));
        cg_tensor *loss = cg_mean(cg_where(cg_eq_s(yb, 1), cg_rsub_s(1, pred), pred), NULL, 0, false);
        assert_int_equal(cg_backward(loss, NULL), CG_OK);
        cg_no_grad_begin();
        cg_axpy_(w, -0.1, w->grad);
        cg_axpy_(b, -0.1, b->grad);
        cg_no_grad_end();
        cg_zero_grad(w);
        cg_zero_grad(b);
        cg_scope_end();
        if (step == 10) after_warmup = cg_mem_in_use();
    }
    assert_int_equal(cg_mem_in_use(), after_warmup);
    cg_release(w), cg_release(b), cg_release(xb), cg_release(yb);
}

/* Scopes nest deeper than their fixed stack (256): the extra ones merge into
 * the innermost, and every tensor is still released exactly once. */
static void deep_scopes_release_everything(void **s) {
    (void)s;
    size_t before = cg_mem_in_use();
    cg_tensor *kept = NULL;
    for (int i = 0; i < 300; i++) {
        cg_scope_begin();
        cg_ones(CG_FLOAT32, CG_SHAPE(4));
    }
    kept = cg_keep(cg_full(CG_FLOAT32, CG_SHAPE(2), 7));
    for (int i = 0; i < 300; i++) cg_scope_end();
    /* kept was handed out of the innermost real scope and released with the outermost */
    assert_int_equal(cg_mem_in_use(), before);
    (void)kept;
}

static int teardown(void **s) {
    (void)s;
    cg_pool_trim();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chapter_scalar_square),
        cmocka_unit_test(chapter_vector_square),
        cmocka_unit_test(gradients_accumulate_until_zeroed),
        cmocka_unit_test(shared_input_sums_paths),
        cmocka_unit_test(no_grad_and_parameter_update),
        cmocka_unit_test(detach_cuts_the_graph),
        cmocka_unit_test(backward_with_explicit_gradient),
        cmocka_unit_test(backward_errors),
        cmocka_unit_test(backward_once_frees_the_graph),
        cmocka_unit_test(relu_over_reuses_a_sole_buffer),
        cmocka_unit_test(batch_norm_relu_is_relu_of_batch_norm),
        cmocka_unit_test(add_over_reuses_a_sole_buffer),
        cmocka_unit_test(training_loop_memory_is_flat),
        cmocka_unit_test(deep_scopes_release_everything),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
