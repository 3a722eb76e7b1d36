/* Every documented error path of the tensor core and ops: the call returns
 * NULL (or a status) with the right cg_status, and cg_last_error() names the
 * shapes / dims / dtypes involved.  Chained expressions report the FIRST
 * error, and nothing is leaked on any failure path (the fixture checks
 * cg_mem_in_use after each test). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "core_check.h"

/* Asserts the last failure has `status` and a message holding every needle. */
#define EXPECT_ERROR(status, ...)                                                     \
    do {                                                                              \
        const char *needles_[] = {__VA_ARGS__};                                       \
        assert_int_equal(cg_last_status(), (status));                                 \
        for (size_t i_ = 0; i_ < sizeof needles_ / sizeof *needles_; i_++)            \
            if (!strstr(cg_last_error(), needles_[i_]))                               \
                fail_msg("line %d: error \"%s\" does not mention \"%s\"", __LINE__,   \
                         cg_last_error(), needles_[i_]);                              \
        cg_clear_error();                                                             \
    } while (0)

static cg_tensor *f32(int ndim, const int64_t *shape) { return cg_zeros(CG_FLOAT32, ndim, shape); }

static void test_status_basics(void **state) {
    (void)state;
    assert_int_equal(cg_last_status(), CG_OK);
    assert_string_equal(cg_last_error(), "");
    assert_int_equal(cg_fail(CG_ERR_IO, "%s: %d", "file.png", 7), CG_ERR_IO);
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_string_equal(cg_last_error(), "file.png: 7");
    cg_clear_error();
    assert_int_equal(cg_last_status(), CG_OK);
    assert_string_equal(cg_last_error(), "");
    assert_string_equal(cg_status_name(CG_OK), "ok");
    assert_string_equal(cg_status_name(CG_ERR_SHAPE), "shape error");
    assert_string_equal(cg_status_name(CG_ERR_GRAD), "autograd error");
    assert_string_equal(cg_status_name((cg_status)999), "unknown status");
    for (int s = 0; s < CG_STATUS_COUNT; s++) assert_non_null(cg_status_name((cg_status)s));
}

static void test_broadcast_shape_errors(void **state) {
    (void)state;
    cg_tensor *a = f32(CG_SHAPE(3, 4)), *b = f32(CG_SHAPE(5));
    /* "add: shapes [3, 4] and [5] cannot be broadcast (dim -1: 4 vs 5)" */
    assert_null(cg_add(a, b));
    EXPECT_ERROR(CG_ERR_SHAPE, "add", "[3, 4]", "[5]");
    assert_null(cg_sub(a, b));
    EXPECT_ERROR(CG_ERR_SHAPE, "sub", "[3, 4]", "[5]");
    assert_null(cg_mul(f32(CG_SHAPE(2, 3)), f32(CG_SHAPE(3, 2))));
    EXPECT_ERROR(CG_ERR_SHAPE, "mul", "[2, 3]", "[3, 2]");
    assert_null(cg_div(f32(CG_SHAPE(1010, 28, 28)), f32(CG_SHAPE(27, 28))));
    EXPECT_ERROR(CG_ERR_SHAPE, "div", "[1010, 28, 28]", "[27, 28]");
    assert_null(cg_lt(a, b));
    EXPECT_ERROR(CG_ERR_SHAPE, "lt", "[3, 4]");
    assert_null(cg_maximum(a, b));
    EXPECT_ERROR(CG_ERR_SHAPE, "maximum");
    assert_null(cg_where(cg_gt_s(a, 0), a, b));
    EXPECT_ERROR(CG_ERR_SHAPE, "where", "[5]");
    /* expand to an incompatible size */
    assert_null(cg_expand(f32(CG_SHAPE(3, 2)), CG_SHAPE(3, 4)));
    EXPECT_ERROR(CG_ERR_SHAPE, "expand", "[3, 2]", "[3, 4]");
    assert_null(cg_expand(f32(CG_SHAPE(3, 2)), CG_SHAPE(2)));
    EXPECT_ERROR(CG_ERR_SHAPE, "expand", "[3, 2]");
}

static void test_matmul_errors(void **state) {
    (void)state;
    assert_null(cg_matmul(f32(CG_SHAPE(2, 3)), f32(CG_SHAPE(4, 5))));
    EXPECT_ERROR(CG_ERR_SHAPE, "matmul", "[2, 3]", "[4, 5]");
    assert_null(cg_matmul(f32(CG_SHAPE(12396, 784)), f32(CG_SHAPE(28, 1))));
    EXPECT_ERROR(CG_ERR_SHAPE, "matmul", "[12396, 784]", "[28, 1]");
    assert_null(cg_matmul(f32(CG_SHAPE(3)), f32(CG_SHAPE(4))));
    EXPECT_ERROR(CG_ERR_SHAPE, "matmul", "[3]", "[4]");
    /* batch dims that do not broadcast */
    assert_null(cg_matmul(f32(CG_SHAPE(2, 3, 4)), f32(CG_SHAPE(3, 4, 5))));
    EXPECT_ERROR(CG_ERR_SHAPE, "matmul", "[2]", "[3]");
    /* 0-d operands */
    assert_null(cg_matmul(cg_scalar(2), f32(CG_SHAPE(3))));
    EXPECT_ERROR(CG_ERR_SHAPE, "matmul", "[]");
    /* integer operands: matmul is float32 only */
    cg_tensor *tns = cg_from_data(CG_INT64, CG_SHAPE(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6});
    assert_null(cg_matmul(tns, f32(CG_SHAPE(3, 2))));
    EXPECT_ERROR(CG_ERR_DTYPE, "matmul", "int64");
    assert_null(cg_matmul(f32(CG_SHAPE(2, 3)), cg_zeros(CG_UINT8, CG_SHAPE(3, 2))));
    EXPECT_ERROR(CG_ERR_DTYPE, "matmul", "uint8");
}

static void test_join_errors(void **state) {
    (void)state;
    cg_tensor *a = f32(CG_SHAPE(2, 3)), *b = f32(CG_SHAPE(2, 4));
    assert_null(cg_cat((cg_tensor *[]){a, b}, 2, 0));
    EXPECT_ERROR(CG_ERR_SHAPE, "cat", "[2, 4]", "[2, 3]");
    assert_non_null(cg_cat((cg_tensor *[]){a, b}, 2, 1)); /* fine along dim 1 */
    assert_null(cg_cat((cg_tensor *[]){a, f32(CG_SHAPE(6))}, 2, 0));
    EXPECT_ERROR(CG_ERR_SHAPE, "cat", "[6]");
    assert_null(cg_cat((cg_tensor *[]){a, a}, 2, 2));
    EXPECT_ERROR(CG_ERR_DIM, "cat", "dim 2", "[2, 3]");
    assert_null(cg_cat((cg_tensor *[]){cg_scalar(1), cg_scalar(2)}, 2, 0));
    EXPECT_ERROR(CG_ERR_DIM, "cat", "zero-dimensional");
    assert_null(cg_cat(NULL, 0, 0));
    EXPECT_ERROR(CG_ERR_VALUE, "cat");
    assert_null(cg_stack((cg_tensor *[]){a, b}, 2, 0));
    EXPECT_ERROR(CG_ERR_SHAPE, "stack", "[2, 3]", "[2, 4]");
    assert_null(cg_stack((cg_tensor *[]){a, a}, 2, 3));
    EXPECT_ERROR(CG_ERR_DIM, "dim 3");
    assert_null(cg_stack((cg_tensor *[]){a}, 0, 0));
    EXPECT_ERROR(CG_ERR_VALUE, "stack");
}

static void test_view_errors(void **state) {
    (void)state;
    cg_tensor *a = cg_arange(CG_FLOAT32, 0, 6, 1);
    assert_null(cg_view(a, CG_SHAPE(4, -1)));
    EXPECT_ERROR(CG_ERR_SHAPE, "view", "[4, -1]", "6");
    assert_null(cg_view(a, CG_SHAPE(4, 2)));
    EXPECT_ERROR(CG_ERR_SHAPE, "view", "[4, 2]", "[6]");
    assert_null(cg_view(a, CG_SHAPE(-1, -1)));
    EXPECT_ERROR(CG_ERR_SHAPE, "view", "-1");
    assert_null(cg_reshape(a, CG_SHAPE(5)));
    EXPECT_ERROR(CG_ERR_SHAPE, "[5]", "[6]");
    /* a non-contiguous tensor cannot be viewed */
    cg_tensor *mt = cg_t(cg_view(a, CG_SHAPE(2, 3)));
    assert_null(cg_view(mt, CG_SHAPE(6)));
    EXPECT_ERROR(CG_ERR_SHAPE, "view", "[3, 2]", "contiguous");
    /* too many dims, negative sizes */
    assert_null(cg_zeros(CG_FLOAT32, CG_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)));
    EXPECT_ERROR(CG_ERR_SHAPE, "9 dims");
    assert_null(cg_zeros(CG_FLOAT32, CG_SHAPE(2, -3)));
    EXPECT_ERROR(CG_ERR_SHAPE, "-3");
    assert_null(cg_t(f32(CG_SHAPE(2, 3, 4))));
    EXPECT_ERROR(CG_ERR_DIM, "[2, 3, 4]");
    assert_null(cg_flatten(f32(CG_SHAPE(2, 3, 4)), 2, 1));
    EXPECT_ERROR(CG_ERR_DIM, "flatten");
}

static void test_dim_errors(void **state) {
    (void)state;
    cg_tensor *t = f32(CG_SHAPE(2, 3, 4));
    /* reductions */
    assert_null(cg_sum(t, (int[]){3}, 1, false));
    EXPECT_ERROR(CG_ERR_DIM, "sum", "dim 3", "[2, 3, 4]");
    assert_null(cg_mean(t, (int[]){-4}, 1, false));
    EXPECT_ERROR(CG_ERR_DIM, "mean", "dim -4", "[2, 3, 4]");
    assert_null(cg_sum(t, (int[]){1, -2}, 2, false)); /* the same dim twice */
    EXPECT_ERROR(CG_ERR_DIM, "sum", "more than once");
    assert_null(cg_max(t, 5, false));
    EXPECT_ERROR(CG_ERR_DIM, "max", "dim 5");
    assert_null(cg_argmin(t, -7, false));
    EXPECT_ERROR(CG_ERR_DIM, "min", "dim -7");
    /* select / slice out of range */
    assert_null(cg_select(t, 0, 2));
    EXPECT_ERROR(CG_ERR_DIM, "select", "index 2", "size 2", "[2, 3, 4]");
    assert_null(cg_select(t, 1, -4));
    EXPECT_ERROR(CG_ERR_DIM, "select", "index -4", "size 3");
    assert_null(cg_select(t, 3, 0));
    EXPECT_ERROR(CG_ERR_DIM, "select", "dim 3");
    assert_null(cg_slice(t, -4, 0, 1, 1));
    EXPECT_ERROR(CG_ERR_DIM, "slice", "dim -4");
    assert_null(cg_slice(t, 0, 0, 1, 0));
    EXPECT_ERROR(CG_ERR_VALUE, "slice", "step");
    assert_null(cg_select(cg_scalar(1), 0, 0));
    EXPECT_ERROR(CG_ERR_DIM, "select", "0-d");
    /* permute: a repeated or out-of-range dim */
    assert_null(cg_permute(t, (int[]){0, 1, 1}));
    EXPECT_ERROR(CG_ERR_DIM, "permute", "repeated");
    assert_null(cg_permute(t, (int[]){0, -1, 2}));
    EXPECT_ERROR(CG_ERR_DIM, "permute", "repeated");
    assert_null(cg_permute(t, (int[]){0, 1, 3}));
    EXPECT_ERROR(CG_ERR_DIM, "permute", "dim 3");
    assert_null(cg_transpose(t, 0, 3));
    EXPECT_ERROR(CG_ERR_DIM, "transpose", "dim 3");
    assert_null(cg_unsqueeze(t, 4));
    EXPECT_ERROR(CG_ERR_DIM, "unsqueeze", "dim 4", "[2, 3, 4]");
    assert_null(cg_squeeze(t, 3));
    EXPECT_ERROR(CG_ERR_DIM, "squeeze", "dim 3");
    assert_null(cg_log_softmax(t, 3));
    EXPECT_ERROR(CG_ERR_DIM, "log_softmax", "dim 3");
}

static void test_dtype_and_value_errors(void **state) {
    (void)state;
    cg_tensor *tns = cg_from_data(CG_INT64, CG_SHAPE(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6});
    /* requires_grad on an integer tensor */
    assert_null(cg_requires_grad_(tns, true));
    EXPECT_ERROR(CG_ERR_DTYPE, "requires_grad", "int64");
    assert_false(tns->requires_grad);
    /* mean of integers (torch: "mean(): could not infer output dtype") */
    assert_null(cg_mean(tns, NULL, 0, false));
    EXPECT_ERROR(CG_ERR_DTYPE, "mean", "int64");
    assert_null(cg_log_softmax(tns, 1));
    EXPECT_ERROR(CG_ERR_DTYPE, "log_softmax", "int64");
    /* creation arguments */
    assert_null(cg_arange(CG_INT64, 0, 10, 0));
    EXPECT_ERROR(CG_ERR_VALUE, "arange", "step");
    assert_null(cg_arange(CG_FLOAT32, 0, INFINITY, 1));
    EXPECT_ERROR(CG_ERR_VALUE, "arange");
    assert_null(cg_linspace(0, 1, -1));
    EXPECT_ERROR(CG_ERR_VALUE, "linspace", "-1");
    assert_null(cg_from_data(CG_FLOAT32, CG_SHAPE(2), NULL));
    EXPECT_ERROR(CG_ERR_VALUE, "from_data");
    assert_null(cg_clamp(f32(CG_SHAPE(2)), 1, -1));
    EXPECT_ERROR(CG_ERR_VALUE, "clamp");
    assert_null(cg_to_dtype(tns, (cg_dtype)42));
    EXPECT_ERROR(CG_ERR_DTYPE, "42");
    /* element access */
    double v;
    assert_int_equal(cg_item(tns, &v), CG_ERR_SHAPE);
    EXPECT_ERROR(CG_ERR_SHAPE, "item", "6 elements", "[2, 3]");
    assert_int_equal(cg_set(tns, (int64_t[]){0, 3}, 1), CG_ERR_DIM);
    EXPECT_ERROR(CG_ERR_DIM, "set", "index 3", "[2, 3]");
    /* max of an empty tensor */
    assert_null(cg_max(f32(CG_SHAPE(0)), CG_ALL_DIMS, false));
    EXPECT_ERROR(CG_ERR_SHAPE, "max", "empty");
}

static void test_loss_errors(void **state) {
    (void)state;
    cg_tensor *logits = f32(CG_SHAPE(3, 4));
    cg_tensor *tg = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){0, 4, 1});
    assert_null(cg_cross_entropy(logits, tg));
    EXPECT_ERROR(CG_ERR_VALUE, "cross_entropy", "target 4", "4 classes");
    assert_null(cg_cross_entropy(logits, cg_zeros(CG_INT64, CG_SHAPE(2))));
    EXPECT_ERROR(CG_ERR_SHAPE, "cross_entropy", "[3, 4]", "[2]");
    assert_null(cg_bce_with_logits(cg_zeros(CG_FLOAT32, CG_SHAPE(3, 1)), cg_zeros(CG_FLOAT32, CG_SHAPE(3))));
    EXPECT_ERROR(CG_ERR_SHAPE, "bce_with_logits", "[3]", "[3, 1]");
    assert_null(cg_cross_entropy(logits, cg_zeros(CG_FLOAT32, CG_SHAPE(3))));
    EXPECT_ERROR(CG_ERR_DTYPE, "cross_entropy", "float32");
    /* integer logits: the log_softmax inside refuses them, and that is reported */
    assert_null(cg_cross_entropy(cg_zeros(CG_INT64, CG_SHAPE(3, 4)), cg_zeros(CG_INT64, CG_SHAPE(3))));
    EXPECT_ERROR(CG_ERR_DTYPE, "log_softmax", "int64");
    assert_null(cg_mse_loss(f32(CG_SHAPE(3)), f32(CG_SHAPE(4))));
    EXPECT_ERROR(CG_ERR_SHAPE, "[3]", "[4]");
    assert_null(cg_l1_loss(f32(CG_SHAPE(3)), f32(CG_SHAPE(2, 2))));
    EXPECT_ERROR(CG_ERR_SHAPE, "[3]", "[2, 2]");
}

static void test_backward_errors(void **state) {
    (void)state;
    cg_tensor *w = cg_requires_grad_(cg_ones(CG_FLOAT32, CG_SHAPE(2, 3)), true);
    cg_tensor *y = cg_mul_s(w, 2);
    /* backward from a non-scalar without a gradient */
    assert_int_equal(cg_backward(y, NULL), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "backward", "scalar", "[2, 3]");
    assert_null(w->grad);
    /* a gradient of the wrong shape or dtype */
    assert_int_equal(cg_backward(y, f32(CG_SHAPE(3, 2))), CG_ERR_SHAPE);
    EXPECT_ERROR(CG_ERR_SHAPE, "backward", "[3, 2]", "[2, 3]");
    assert_int_equal(cg_backward(y, cg_zeros(CG_INT64, CG_SHAPE(2, 3))), CG_ERR_DTYPE);
    EXPECT_ERROR(CG_ERR_DTYPE, "backward", "int64");
    /* from a tensor that does not require grad */
    assert_int_equal(cg_backward(cg_sum(f32(CG_SHAPE(2)), NULL, 0, false), NULL), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "backward", "require");
    assert_int_equal(cg_backward(NULL, NULL), CG_ERR_VALUE);
    cg_clear_error();
    /* requires_grad_(false) on a non-leaf */
    assert_null(cg_requires_grad_(y, false));
    EXPECT_ERROR(CG_ERR_GRAD, "non-leaf", "MulBackward0");
    /* with a gradient of the root's shape it works */
    assert_int_equal(cg_backward(y, cg_ones(CG_FLOAT32, CG_SHAPE(2, 3))), CG_OK);
    CHECK_VALUES(w->grad, 0, 2, 2, 2, 2, 2, 2);
    cg_clear_grad(w);
}

static void test_inplace_errors(void **state) {
    (void)state;
    cg_tensor *w = cg_requires_grad_(cg_ones(CG_FLOAT32, CG_SHAPE(3)), true);
    cg_tensor *g = cg_ones(CG_FLOAT32, CG_SHAPE(3));
    /* in-place on a leaf that requires grad, with grad mode on */
    assert_int_equal(cg_add_(w, g), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "add_", "leaf");
    assert_int_equal(cg_sub_(w, g), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "sub_");
    assert_int_equal(cg_mul_(w, g), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "mul_");
    assert_int_equal(cg_mul_s_(w, 2), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "mul_s_");
    assert_int_equal(cg_axpy_(w, -0.1, g), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "axpy_");
    assert_int_equal(cg_copy_(w, g), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "copy_");
    assert_int_equal(cg_fill_(w, 0), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "fill_");
    assert_int_equal(cg_zero_(w), CG_ERR_GRAD);
    EXPECT_ERROR(CG_ERR_GRAD, "fill_");
    CHECK_VALUES(w, 0, 1, 1, 1); /* untouched */
    /* under no-grad the same calls work */
    cg_no_grad_begin();
    assert_int_equal(cg_axpy_(w, -0.5, g), CG_OK);
    cg_no_grad_end();
    CHECK_VALUES(w, 0, 0.5, 0.5, 0.5);
    /* a source that does not broadcast to the destination */
    cg_tensor *d = f32(CG_SHAPE(2, 1));
    assert_int_equal(cg_add_(d, f32(CG_SHAPE(3))), CG_ERR_SHAPE);
    EXPECT_ERROR(CG_ERR_SHAPE, "add_", "[3]", "[2, 1]");
    assert_int_equal(cg_copy_(d, f32(CG_SHAPE(2, 3))), CG_ERR_SHAPE);
    EXPECT_ERROR(CG_ERR_SHAPE, "copy_", "[2, 3]", "[2, 1]");
    assert_int_equal(cg_axpy_(d, 1, f32(CG_SHAPE(4))), CG_ERR_SHAPE);
    EXPECT_ERROR(CG_ERR_SHAPE, "axpy_", "[4]", "[2, 1]");
    /* in-place arithmetic on an integer tensor */
    assert_int_equal(cg_add_(cg_zeros(CG_INT64, CG_SHAPE(2)), f32(CG_SHAPE(2))), CG_ERR_DTYPE);
    EXPECT_ERROR(CG_ERR_DTYPE, "add_", "int64");
    /* NULL arguments */
    assert_int_equal(cg_add_(NULL, g), CG_ERR_VALUE);
    cg_clear_error();
    assert_int_equal(cg_fill_(NULL, 1), CG_ERR_VALUE);
    cg_clear_error();
}

static void test_null_propagation_reports_first_error(void **state) {
    (void)state;
    /* mnist_distance(a, b) with mismatched shapes: the sub's message survives
     * abs and mean, which see NULL and return NULL without touching it */
    cg_tensor *a = f32(CG_SHAPE(1010, 28, 28)), *b = f32(CG_SHAPE(28, 27));
    cg_tensor *d = cg_mean(cg_abs(cg_sub(a, b)), (int[]){-1, -2}, 2, false);
    assert_null(d);
    EXPECT_ERROR(CG_ERR_SHAPE, "sub", "[1010, 28, 28]", "[28, 27]");
    /* a dim error deep in a chain */
    cg_tensor *t = f32(CG_SHAPE(2, 3));
    assert_null(cg_sum(cg_add(cg_matmul(cg_select(t, 0, 5), t), cg_scalar(1)), NULL, 0, false));
    EXPECT_ERROR(CG_ERR_DIM, "select", "index 5");
    /* a view error, then cat, stack, where and the losses all pass it on */
    cg_tensor *bad = cg_view(t, CG_SHAPE(4));
    assert_null(cg_cat((cg_tensor *[]){t, bad}, 2, 0));
    assert_null(cg_stack((cg_tensor *[]){bad, t}, 2, 0));
    assert_null(cg_where(bad, t, t));
    assert_null(cg_cross_entropy(bad, cg_zeros(CG_INT64, CG_SHAPE(2))));
    assert_null(cg_mse_loss(t, bad));
    assert_null(cg_softmax(bad, 0));
    assert_null(cg_reshape(cg_t(bad), CG_SHAPE(-1)));
    assert_null(cg_float(cg_clone(cg_contiguous(cg_detach(bad)))));
    assert_null(cg_matmul(bad, t));
    assert_null(cg_argmax(bad, 0, false));
    EXPECT_ERROR(CG_ERR_SHAPE, "view", "[4]", "[2, 3]");
    /* status-returning calls on a NULL from a failed op */
    assert_int_equal(cg_backward(cg_mean(cg_sub(a, b), NULL, 0, false), NULL), CG_ERR_VALUE);
    cg_clear_error();
    /* with no error pending, a NULL argument is itself reported */
    assert_null(cg_add(NULL, t));
    EXPECT_ERROR(CG_ERR_VALUE, "NULL");
}

/* The library reports, it never prints: failing calls leave stdout and stderr
 * untouched (checked by pointing both at a temp file while they run). */
static void test_errors_print_nothing(void **state) {
    (void)state;
    fflush(stdout);
    fflush(stderr);
    FILE *sink = tmpfile();
    assert_non_null(sink);
    int saved_out = dup(1), saved_err = dup(2);
    assert_true(saved_out >= 0 && saved_err >= 0);
    dup2(fileno(sink), 1);
    dup2(fileno(sink), 2);
    cg_tensor *a = f32(CG_SHAPE(3, 4)), *w = cg_requires_grad_(f32(CG_SHAPE(2)), true);
    void *results[] = {
        cg_add(a, f32(CG_SHAPE(5))), cg_matmul(a, a), cg_view(a, CG_SHAPE(5)), cg_select(a, 0, 9),
        cg_sum(a, (int[]){7}, 1, false), cg_cross_entropy(a, cg_zeros(CG_INT64, CG_SHAPE(2))),
        cg_cat((cg_tensor *[]){a, f32(CG_SHAPE(2))}, 2, 0), cg_arange(CG_INT64, 0, 1, 0),
    };
    cg_status st1 = cg_backward(cg_mul_s(w, 2), NULL), st2 = cg_add_(w, w);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    for (size_t i = 0; i < sizeof results / sizeof *results; i++) assert_null(results[i]);
    assert_int_equal(st1, CG_ERR_GRAD);
    assert_int_equal(st2, CG_ERR_GRAD);
    fseek(sink, 0, SEEK_END);
    long written = ftell(sink);
    fclose(sink);
    assert_int_equal(written, 0);
    cg_clear_error();
}

/* A message may quote the one before it: cg_fail("...: %s", cg_last_error())
 * keeps the old text instead of formatting the buffer into itself. */
static void test_fail_quoting_last_error(void **state) {
    (void)state;
    cg_fail(CG_ERR_NETWORK, "connection refused by %s", "example.invalid");
    cg_fail(CG_ERR_NETWORK, "try 2 of 3 failed (%s); retrying", cg_last_error());
    assert_string_equal(cg_last_error(), "try 2 of 3 failed (connection refused by example.invalid); retrying");
    cg_clear_error();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        CORE_TEST(test_status_basics),
        CORE_TEST(test_broadcast_shape_errors),
        CORE_TEST(test_matmul_errors),
        CORE_TEST(test_join_errors),
        CORE_TEST(test_view_errors),
        CORE_TEST(test_dim_errors),
        CORE_TEST(test_dtype_and_value_errors),
        CORE_TEST(test_loss_errors),
        CORE_TEST(test_backward_errors),
        CORE_TEST(test_inplace_errors),
        CORE_TEST(test_null_propagation_reports_first_error),
        CORE_TEST(test_errors_print_nothing),
        CORE_TEST(test_fail_quoting_last_error),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
