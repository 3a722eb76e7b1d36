/* test_backend.c — the backend seam: the CPU table is complete, a tensor's
 * kernels go to the backend of its storage's device, and kernels run on
 * plain descriptors (strided and broadcast views of raw buffers), with
 * values worked out by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "autograd/node.h"
#include "cgrad.h"
#include "core/dispatch.h"
#include "kernels/backend.h"

static void test_cpu_table_is_complete(void **state) {
    (void)state;
    const cg_backend *be = cg_backend_for(CG_CPU);
    assert_ptr_equal(be, &cg_cpu_backend);
    assert_string_equal(be->name, "cpu");
    assert_int_equal(be->device, CG_CPU);
    assert_null(cg_backend_for(CG_DEVICE_COUNT));
    assert_null(cg_backend_for((cg_device)-1));
    const void *entries[] = {
        (const void *)be->alloc, (const void *)be->free, (const void *)be->to_host,
        (const void *)be->from_host, (const void *)be->synchronize, (const void *)be->mem_in_use,
        (const void *)be->mem_cached, (const void *)be->trim, (const void *)be->fill,
        (const void *)be->copy, (const void *)be->arange, (const void *)be->linspace,
        (const void *)be->unary, (const void *)be->binary, (const void *)be->where,
        (const void *)be->reduce, (const void *)be->reduce_index_backward, (const void *)be->gemm,
        (const void *)be->log_softmax_rows, (const void *)be->nll_loss,
        (const void *)be->nll_loss_backward, (const void *)be->axpy, (const void *)be->sgd_update,
        (const void *)be->adam_update,
        (const void *)be->conv2d_forward, (const void *)be->conv2d_backward_data,
        (const void *)be->conv2d_backward_weights, (const void *)be->batchnorm_forward_train,
        (const void *)be->batchnorm_forward_eval, (const void *)be->batchnorm_backward,
        (const void *)be->max_pool2d_forward, (const void *)be->adaptive_max_pool2d_forward,
        (const void *)be->max_pool2d_backward, (const void *)be->avg_pool2d_forward,
        (const void *)be->avg_pool2d_backward, (const void *)be->adaptive_avg_pool2d_forward,
        (const void *)be->adaptive_avg_pool2d_backward, (const void *)be->dropout_apply,
    };
    for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) assert_non_null(entries[i]);
}

/* A tensor's backend is the one of its storage's device, and its descriptor
 * is its data pointer (offset applied), dtype, shape and strides. */
static void test_tensor_dispatch_and_descriptor(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *a = cg_arange(CG_FLOAT32, 0, 6, 1);
    cg_tensor *m = cg_view(a, CG_SHAPE(2, 3));
    cg_tensor *col = cg_select(m, 1, 2); /* m[:, 2] = [2, 5] */
    assert_ptr_equal(cg_backend_of(col), &cg_cpu_backend);
    cg_kview k = cg_kview_of(col);
    assert_int_equal(k.dtype, CG_FLOAT32);
    assert_int_equal(k.ndim, 1);
    assert_int_equal(k.shape[0], 2);
    assert_int_equal(k.strides[0], 3);
    assert_float_equal(((float *)k.data)[0], 2.0, 0);
    assert_float_equal(((float *)k.data)[3], 5.0, 0);
    cg_scope_end();
}

static cg_kview view2(void *data, cg_dtype dt, int64_t r, int64_t c, int64_t sr, int64_t sc) {
    cg_kview v = {.data = data, .dtype = dt, .ndim = 2, .shape = {r, c}, .strides = {sr, sc}};
    return v;
}

/* fill through a transposed view; add a broadcast row (stride 0); the
 * max backward's scatter; nll_loss's gather and its bad-target row. */
static void test_kernels_on_descriptors(void **state) {
    (void)state;
    const cg_backend *be = &cg_cpu_backend;
    float buf[6] = {0};
    cg_kview t = view2(buf, CG_FLOAT32, 3, 2, 1, 3); /* the transpose of a [2,3] buffer */
    be->fill(&t, 7.0);
    for (int i = 0; i < 6; i++) assert_float_equal(buf[i], 7.0, 0);
    float row[3] = {1, 2, 3};
    cg_kview x = view2(buf, CG_FLOAT32, 2, 3, 3, 1), r = view2(row, CG_FLOAT32, 2, 3, 0, 1);
    be->binary(CG_B_ADD, &x, &x, &r, 0, 0); /* in place: buf = [[8,9,10],[8,9,10]] */
    const float want[6] = {8, 9, 10, 8, 9, 10};
    for (int i = 0; i < 6; i++) assert_float_equal(buf[i], want[i], 0);

    /* max over dim 1 of a [2,3] input picked columns 2 and 0: g = [10, 20] */
    float gx[6] = {0}, g[2] = {10, 20};
    int64_t idx[2] = {2, 0};
    cg_kview vgx = view2(gx, CG_FLOAT32, 2, 3, 3, 1), vg = view2(g, CG_FLOAT32, 2, 1, 1, 1);
    cg_kview vi = view2(idx, CG_INT64, 2, 1, 1, 1);
    be->reduce_index_backward(&vgx, &vg, &vi, 1u << 1);
    const float want_gx[6] = {0, 0, 10, 20, 0, 0};
    for (int i = 0; i < 6; i++) assert_float_equal(gx[i], want_gx[i], 0);

    const float logp[6] = {-1, -2, -3, -4, -5, -6};
    float loss = 0;
    assert_int_equal(be->nll_loss(&loss, logp, (int64_t[]){2, 0}, 2, 3), -1);
    assert_float_equal(loss, 3.5, 1e-6); /* -(-3 + -4) / 2 */
    assert_int_equal(be->nll_loss(&loss, logp, (int64_t[]){1, 3}, 2, 3), 1);
    float dl[6] = {0};
    be->nll_loss_backward(dl, (int64_t[]){2, 0}, 2, 3, 1.0);
    const float want_dl[6] = {0, 0, -0.5f, -0.5f, 0, 0};
    for (int i = 0; i < 6; i++) assert_float_equal(dl[i], want_dl[i], 0);
}

/* fastai's steppers, two SGD steps with momentum and weight decay and one
 * Adam step, worked by hand. */
static void test_fused_updates_by_hand(void **state) {
    (void)state;
    const cg_backend *be = &cg_cpu_backend;
    float p[2] = {1, 2}, g[2] = {0.5f, -1}, avg[2] = {0, 0};
    cg_sgd_args a = {.lr = 0.1, .mom = 0.9, .decay = 1 - 0.1 * 0.01};
    be->sgd_update(p, g, avg, 2, &a);
    /* p*0.999, avg = g, p -= 0.1*avg */
    assert_float_equal(p[0], 0.999 - 0.05, 1e-6);
    assert_float_equal(p[1], 1.998 + 0.1, 1e-6);
    be->sgd_update(p, g, avg, 2, &a);
    /* avg = 0.9*0.5 + 0.5 = 0.95: p = 0.949*0.999 - 0.095 */
    assert_float_equal(avg[0], 0.95, 1e-6);
    assert_float_equal(p[0], 0.949 * 0.999 - 0.095, 1e-6);

    float q[1] = {1}, h[1] = {0.5f}, m1[1] = {0}, m2[1] = {0};
    cg_adam_args b = {.lr = 0.1, .mom = 0.9, .sqr_mom = 0.99, .eps = 1e-5, .decay = 1, .step = 1};
    be->adam_update(q, h, m1, m2, 1, &b);
    /* avg = 0.1*0.5, sqr = 0.01*0.25; debiased: 0.5 and 0.25; q = 1 - 0.1 * 0.5/(0.5+eps) */
    assert_float_equal(m1[0], 0.05, 1e-7);
    assert_float_equal(m2[0], 0.0025, 1e-8);
    assert_float_equal(q[0], 1 - 0.1 * 0.5 / (0.5 + 1e-5), 1e-6);

    float z[3] = {1, 2, 3};
    be->axpy(z, (float[]){1, 1, 1}, 3, -0.5);
    assert_float_equal(z[2], 2.5, 0);
}

/* A node keeps what its op saved (max saves its indices), and a node saves
 * several tensors; they are released with it (the leak checker sees that). */
static void test_node_saves_several(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(cg_from_floats(CG_SHAPE(2, 3), (float[]){1, 5, 2, 7, 0, 3}), true);
    cg_tensor *mx = cg_max(x, 1, false);
    assert_non_null(mx->grad_fn);
    assert_int_equal(mx->grad_fn->n_saved, 1);
    cg_tensor *idx = mx->grad_fn->saved[0];
    assert_int_equal(idx->dtype, CG_INT64);
    assert_int_equal(idx->ndim, 1); /* the result's shape, [2] */
    assert_float_equal(cg_get(idx, (int64_t[]){0}), 1, 0);
    assert_float_equal(cg_get(idx, (int64_t[]){1}), 0, 0);
    for (int k = 1; k < CG_NODE_MAX_SAVED; k++) cg_node_save(mx->grad_fn, x);
    assert_int_equal(mx->grad_fn->n_saved, CG_NODE_MAX_SAVED);
    assert_ptr_equal(mx->grad_fn->saved[CG_NODE_MAX_SAVED - 1], x);
    assert_int_equal(cg_backward(cg_sum(mx, NULL, 0, false), NULL), CG_OK);
    const float want[6] = {0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++) assert_float_equal(cg_data_f32(x->grad)[i], want[i], 0);
    cg_scope_end();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_table_is_complete),
        cmocka_unit_test(test_tensor_dispatch_and_descriptor),
        cmocka_unit_test(test_kernels_on_descriptors),
        cmocka_unit_test(test_fused_updates_by_hand),
        cmocka_unit_test(test_node_saves_several),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
