/* test_kept_layout.c — conv2d and batch_norm keep oneDNN's blocked layout
 * between layers (core/dispatch_nn.c, core/storage.c): a conv output stays
 * nChw8c / nChw16c, the next conv or batch_norm reads it as it is, and
 * anything else that reads the tensor sees plain NCHW values.
 *
 * Each chain below runs twice, layouts kept and not (cg_conv2d_keep_layouts),
 * and the two must agree: bit for bit where only convolutions run (the
 * same oneDNN primitive either way; a reorder is an exact copy), to 1e-5
 * where batch_norm runs on the blocked layout (its own summation order).
 * The kept run must really keep one (the storage holds a blocked buffer),
 * so a dispatch that never keeps anything fails here, and both runs are
 * held to the double-precision reference conv. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "core/internal.h"
#include "kernels/nn_kernels.h"

static bool is_blocked(const cg_tensor *t) { return atomic_load(&t->storage->blocked) != NULL; }

/* a [n] copy of t's values (plain: reading settles a kept layout) */
static float *values(const cg_tensor *t) {
    int64_t n = cg_numel(t);
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    cg_tensor *c = cg_contiguous((cg_tensor *)t);
    assert_non_null(c);
    memcpy(v, cg_data(c), (size_t)n * sizeof *v);
    return v;
}

static void assert_rel_close(const char *what, const float *a, const float *b, int64_t n, double tol) {
    double scale = 1e-30, worst = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)b[i]));
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    if (!(worst <= tol * scale)) fail_msg("%s: max error %g > %g x max %g", what, worst, tol, scale);
}

static cg_tensor *randn(uint64_t seed, double scale, int ndim, const int64_t *shape) {
    cg_manual_seed(seed);
    cg_tensor *t = cg_randn(NULL, ndim, shape);
    assert_non_null(t);
    assert_int_equal(cg_mul_s_(t, scale), CG_OK);
    return t;
}

enum { OUT, GX, GW1, GW2, GG, GB, RM, RV, RESULTS };
typedef struct chain {
    float *v[RESULTS];
    int64_t n[RESULTS];
    bool y1_blocked, h_blocked;
} chain;

static void chain_free(chain *c) {
    for (int i = 0; i < RESULTS; i++) free(c->v[i]);
}

/* The chain's sizes: x [n,c,h,h] -> conv 3x3 c->c pad 1 -> (batch_norm_relu)
 * -> conv 3x3 c->oc pad 1 stride `stride` -> sum(y * r). */
typedef struct chain_shape {
    int64_t n, c, h, oc, stride;
} chain_shape;
static const chain_shape small = {3, 16, 8, 32, 1};
static const chain_shape cnn_like = {16, 32, 28, 64, 2}; /* the cnn's second layer, batch 16 */

/* The chain and its backward; every value and gradient copied out.  The 3x3
 * convs on these maps run oneDNN's blocked kernel (the rule, both columns). */
static chain run_chain(chain_shape sh, bool keep, bool bn, bool training, bool plain_bn_input) {
    chain c = {0};
    int64_t oh = (sh.h - 1) / sh.stride + 1;
    cg_conv2d_keep_layouts(keep);
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(randn(1, 1.0, 4, (int64_t[]){sh.n, sh.c, sh.h, sh.h}), true);
    cg_tensor *w1 = cg_requires_grad_(randn(2, 0.1, 4, (int64_t[]){sh.c, sh.c, 3, 3}), true);
    cg_tensor *w2 = cg_requires_grad_(randn(3, 0.1, 4, (int64_t[]){sh.oc, sh.c, 3, 3}), true);
    cg_tensor *r = randn(4, 1.0, 4, (int64_t[]){sh.n, sh.oc, oh, oh});
    cg_tensor *gamma = cg_requires_grad_(randn(5, 0.5, 1, (int64_t[]){sh.c}), true);
    cg_tensor *beta = cg_requires_grad_(randn(6, 0.5, 1, (int64_t[]){sh.c}), true);
    cg_tensor *rm = randn(7, 0.1, 1, (int64_t[]){sh.c}), *rv = cg_full(CG_FLOAT32, 1, (int64_t[]){sh.c}, 1.5);
    cg_conv2d_opts pad1 = {.padding = {1, 1}}, second = {.padding = {1, 1}, .stride = {sh.stride, sh.stride}};
    cg_tensor *y1 = cg_conv2d(x, w1, NULL, &pad1);
    assert_non_null(y1);
    c.y1_blocked = is_blocked(y1);
    if (plain_bn_input) y1 = cg_clone(y1); /* batch_norm of a plain tensor: it copies it into its block */
    cg_tensor *h = bn ? cg_batch_norm_relu(y1, rm, rv, gamma, beta, training, 0.1, 1e-5) : y1;
    assert_non_null(h);
    c.h_blocked = is_blocked(h);
    cg_tensor *y2 = cg_conv2d(h, w2, NULL, &second);
    assert_non_null(y2);
    cg_tensor *loss = cg_sum(cg_mul(y2, r), NULL, 0, false);
    assert_non_null(loss);
    assert_int_equal(cg_backward(loss, NULL), CG_OK);
    const cg_tensor *outs[RESULTS] = {y2, x->grad, w1->grad, w2->grad, bn ? gamma->grad : NULL,
                                      bn ? beta->grad : NULL, bn ? rm : NULL, bn ? rv : NULL};
    for (int i = 0; i < RESULTS; i++)
        if (outs[i]) c.v[i] = values(outs[i]), c.n[i] = cg_numel(outs[i]);
    cg_scope_end();
    cg_conv2d_keep_layouts(true);
    return c;
}

static const char *names[RESULTS] = {"y2", "x.grad", "w1.grad", "w2.grad", "gamma.grad", "beta.grad",
                                     "running_mean", "running_var"};

/* conv -> conv: the kept run is bit-identical to the plain one, and right */
static void test_conv_chain_same_bits(void **state) {
    (void)state;
    chain kept = run_chain(small, true, false, true, false), plain = run_chain(small, false, false, true, false);
    assert_true(kept.y1_blocked);   /* the layout was kept ... */
    assert_false(plain.y1_blocked); /* ... and only when asked */
    for (int i = OUT; i <= GW2; i++) {
        assert_int_equal(kept.n[i], plain.n[i]);
        if (memcmp(kept.v[i], plain.v[i], (size_t)kept.n[i] * sizeof(float)))
            fail_msg("%s differs between kept and plain layouts", names[i]);
    }
    /* and y2 is the reference conv of the reference conv */
    cg_conv2d_desc d1 = {.n = 3, .c = 16, .h = 8, .w = 8, .oc = 16, .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1,
                         .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    cg_conv2d_desc d2 = d1;
    d2.oc = 32;
    assert_int_equal(cg_conv2d_desc_init(&d1, NULL, 0), CG_NN_OK);
    assert_int_equal(cg_conv2d_desc_init(&d2, NULL, 0), CG_NN_OK);
    cg_scope_begin();
    float *x = values(randn(1, 1.0, 4, (int64_t[]){3, 16, 8, 8}));
    float *w1 = values(randn(2, 0.1, 4, (int64_t[]){16, 16, 3, 3}));
    float *w2 = values(randn(3, 0.1, 4, (int64_t[]){32, 16, 3, 3}));
    cg_scope_end();
    float *y1 = malloc(3 * 16 * 64 * sizeof *y1), *y2 = malloc(3 * 32 * 64 * sizeof *y2);
    cg_conv2d_forward_ref(&d1, x, w1, NULL, y1);
    cg_conv2d_forward_ref(&d2, y1, w2, NULL, y2);
    assert_rel_close("y2 vs the reference", kept.v[OUT], y2, 3 * 32 * 64, 1e-5);
    free(x), free(w1), free(w2), free(y1), free(y2);
    chain_free(&kept), chain_free(&plain);
}

/* conv -> batch_norm_relu -> conv, training and eval: blocked BatchNorm agrees with plain */
static void test_bn_chain(void **state) {
    (void)state;
    for (int variant = 0; variant < 8; variant++) {
        bool training = variant & 1, plain_in = (variant >> 1) & 1;
        chain_shape sh = variant >> 2 ? cnn_like : small;
        chain kept = run_chain(sh, true, true, training, plain_in), plain = run_chain(sh, false, true, training, plain_in);
        assert_true(kept.y1_blocked);
        assert_true(kept.h_blocked); /* batch_norm read the kept layout and kept it */
        assert_false(plain.h_blocked);
        for (int i = 0; i < RESULTS; i++) {
            assert_int_equal(kept.n[i], plain.n[i]);
            char what[64];
            snprintf(what, sizeof what, "%s (%s%s%s)", names[i], training ? "training" : "eval",
                     plain_in ? ", a plain input" : "", variant >> 2 ? ", the cnn's sizes" : "");
            assert_rel_close(what, kept.v[i], plain.v[i], kept.n[i], 1e-5);
        }
        chain_free(&kept), chain_free(&plain);
    }
}

/* A residual block as resnet.c runs it: relu(bn2(conv2(relu(bn1(conv1(x))))) + h)
 * with the add and the ReLU over bn2's buffer, then a conv; the add, the
 * ReLU and their backward (the gradients' sum, the ReLU mask) run on the
 * kept buffers, and everything agrees with the plain run. */
static void run_residual(bool keep, float **out, float **gx, float **gw, bool *kept_sum) {
    cg_conv2d_keep_layouts(keep);
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(randn(1, 1.0, 4, (int64_t[]){3, 16, 8, 8}), true);
    cg_tensor *w1 = cg_requires_grad_(randn(2, 0.1, 4, (int64_t[]){16, 16, 3, 3}), true);
    cg_tensor *w2 = cg_requires_grad_(randn(3, 0.1, 4, (int64_t[]){16, 16, 3, 3}), true);
    cg_tensor *w3 = cg_requires_grad_(randn(4, 0.1, 4, (int64_t[]){16, 16, 3, 3}), true);
    cg_tensor *r = randn(5, 1.0, 4, (int64_t[]){3, 16, 8, 8});
    cg_tensor *rm1 = cg_zeros(CG_FLOAT32, 1, (int64_t[]){16}), *rv1 = cg_full(CG_FLOAT32, 1, (int64_t[]){16}, 1.0);
    cg_tensor *rm2 = cg_zeros(CG_FLOAT32, 1, (int64_t[]){16}), *rv2 = cg_full(CG_FLOAT32, 1, (int64_t[]){16}, 1.0);
    cg_conv2d_opts pad1 = {.padding = {1, 1}};
    cg_tensor *h = cg_batch_norm_relu(cg_conv2d(x, w1, NULL, &pad1), rm1, rv1, NULL, NULL, true, 0.1, 1e-5);
    cg_tensor *b2 = cg_batch_norm(cg_conv2d(h, w2, NULL, &pad1), rm2, rv2, NULL, NULL, true, 0.1, 1e-5);
    cg_tensor *sum = cg_relu_over(cg_add_over(b2, h));
    assert_non_null(sum);
    *kept_sum = is_blocked(sum);
    cg_tensor *y = cg_conv2d(sum, w3, NULL, &pad1);
    assert_int_equal(cg_backward(cg_sum(cg_mul(y, r), NULL, 0, false), NULL), CG_OK);
    *out = values(y), *gx = values(x->grad), *gw = values(w1->grad);
    cg_scope_end();
    cg_conv2d_keep_layouts(true);
}

static void test_residual_block(void **state) {
    (void)state;
    float *ko, *kx, *kw, *po, *px, *pw;
    bool kept_sum, plain_sum;
    run_residual(true, &ko, &kx, &kw, &kept_sum);
    run_residual(false, &po, &px, &pw, &plain_sum);
    assert_true(kept_sum); /* the add and the ReLU kept bn2's layout */
    assert_false(plain_sum);
    assert_rel_close("y", ko, po, 3 * 16 * 64, 1e-5);
    assert_rel_close("x.grad", kx, px, 3 * 16 * 64, 1e-5);
    assert_rel_close("w1.grad", kw, pw, 16 * 16 * 9, 1e-5);
    free(ko), free(kx), free(kw), free(po), free(px), free(pw);
}

/* Reading a kept tensor any other way (a view, an element, an in-place op)
 * sees its plain values, and an op that wrote it plain is read as written. */
static void test_settles_on_plain_access(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *x = randn(1, 1.0, 4, (int64_t[]){2, 16, 8, 8});
    cg_tensor *w = randn(2, 0.1, 4, (int64_t[]){16, 16, 3, 3});
    cg_conv2d_opts pad1 = {.padding = {1, 1}};
    cg_conv2d_keep_layouts(false);
    float *want = values(cg_conv2d(x, w, NULL, &pad1));
    cg_conv2d_keep_layouts(true);

    cg_tensor *y = cg_conv2d(x, w, NULL, &pad1);
    assert_true(is_blocked(y));
    cg_tensor *flat = cg_flatten(y, 1, 3); /* a view of the same storage */
    assert_true(is_blocked(y));            /* views touch no bytes */
    float *got = values(flat);
    assert_false(is_blocked(y)); /* reading settled it */
    assert_memory_equal(got, want, 2 * 16 * 64 * sizeof(float));
    free(got);

    /* an element */
    y = cg_conv2d(x, w, NULL, &pad1);
    assert_true(is_blocked(y));
    int64_t at = 1 * 16 * 64 + 5 * 64 + 3 * 8 + 2; /* [1, 5, 3, 2] */
    double item = 0;
    cg_tensor *one = cg_slice(cg_slice(cg_slice(cg_slice(y, 0, 1, 2, 1), 1, 5, 6, 1), 2, 3, 4, 1), 3, 2, 3, 1);
    assert_int_equal(cg_item(one, &item), CG_OK);
    assert_true(item == (double)want[at]);
    assert_false(is_blocked(y));

    /* an in-place elementwise op runs on the kept buffer (it stays kept),
     * then a conv of the result reads what the op wrote */
    y = cg_conv2d(x, w, NULL, &pad1);
    assert_true(is_blocked(y));
    assert_int_equal(cg_mul_s_(y, 2.0), CG_OK);
    assert_true(is_blocked(y));
    cg_tensor *z = cg_conv2d(y, w, NULL, &pad1);
    float *y2got = values(y);
    for (int64_t i = 0; i < 2 * 16 * 64; i++)
        if (y2got[i] != 2.0f * want[i]) fail_msg("2*y at %lld: %g, want %g", (long long)i, y2got[i], 2.0f * want[i]);
    free(y2got);
    cg_conv2d_keep_layouts(false);
    cg_tensor *y2 = cg_conv2d(x, w, NULL, &pad1);
    assert_int_equal(cg_mul_s_(y2, 2.0), CG_OK);
    float *zwant = values(cg_conv2d(y2, w, NULL, &pad1));
    cg_conv2d_keep_layouts(true);
    float *zgot = values(z);
    assert_memory_equal(zgot, zwant, 2 * 16 * 64 * sizeof(float));
    free(zgot), free(zwant), free(want);
    cg_scope_end();
}

/* A thin input (C = 3) cannot be blocked: the first conv reads it plain and
 * still keeps its own output; a tensor freed while kept frees both buffers
 * (LSan in the sanitizer build). */
static void test_thin_input_and_free(void **state) {
    (void)state;
    size_t before = cg_mem_in_use();
    cg_scope_begin();
    cg_tensor *x = randn(1, 1.0, 4, (int64_t[]){2, 3, 16, 16});
    cg_tensor *w = randn(2, 0.1, 4, (int64_t[]){16, 3, 3, 3});
    cg_tensor *y = cg_conv2d(x, w, NULL, &(cg_conv2d_opts){.padding = {1, 1}});
    assert_non_null(y);
    assert_false(is_blocked(x));
    cg_scope_end(); /* y dies kept */
    assert_int_equal(cg_mem_in_use(), before);
}

/* resnet's stem order: conv -> batch_norm_relu -> max_pool2d 3x3/2 pad 1 ->
 * conv.  The pool reads the kept block and leaves its output in it (so the
 * conv after it copies nothing), its backward gives dx in the block, and
 * every value and gradient is the plain run's (the pool exactly; the
 * BatchNorm to its 1e-5). */
static void test_max_pool_keeps_the_block(void **state) {
    (void)state;
    float *v[2][5];
    int64_t n[5];
    bool pooled_blocked = false, conv_in_copied = true;
    for (int keep = 0; keep < 2; keep++) {
        cg_conv2d_keep_layouts(keep);
        cg_scope_begin();
        cg_tensor *x = cg_requires_grad_(randn(1, 1.0, 4, (int64_t[]){4, 16, 14, 14}), true);
        cg_tensor *w1 = cg_requires_grad_(randn(2, 0.1, 4, (int64_t[]){16, 16, 3, 3}), true);
        cg_tensor *w2 = cg_requires_grad_(randn(3, 0.1, 4, (int64_t[]){16, 16, 3, 3}), true);
        cg_tensor *gamma = cg_requires_grad_(randn(5, 0.5, 1, (int64_t[]){16}), true);
        cg_tensor *beta = cg_requires_grad_(randn(6, 0.5, 1, (int64_t[]){16}), true);
        cg_tensor *rm = cg_zeros(CG_FLOAT32, 1, (int64_t[]){16}), *rv = cg_full(CG_FLOAT32, 1, (int64_t[]){16}, 1);
        cg_conv2d_opts pad1 = {.padding = {1, 1}};
        cg_tensor *h = cg_batch_norm_relu(cg_conv2d(x, w1, NULL, &pad1), rm, rv, gamma, beta, true, 0.1, 1e-5);
        cg_tensor *p = cg_max_pool2d(h, (int64_t[]){3, 3}, (int64_t[]){2, 2}, (int64_t[]){1, 1});
        assert_non_null(p);
        if (keep) pooled_blocked = is_blocked(p);
        cg_tensor *y = cg_conv2d(p, w2, NULL, &pad1);
        if (keep) conv_in_copied = p->storage->data != NULL; /* read blocked as it is: no plain copy made */
        cg_tensor *r = randn(4, 1.0, 4, (int64_t[]){4, 16, 7, 7});
        assert_int_equal(cg_backward(cg_sum(cg_mul(y, r), NULL, 0, false), NULL), CG_OK);
        const cg_tensor *outs[5] = {p, y, x->grad, w1->grad, gamma->grad};
        for (int i = 0; i < 5; i++) v[keep][i] = values(outs[i]), n[i] = cg_numel(outs[i]);
        cg_scope_end();
    }
    cg_conv2d_keep_layouts(true);
    assert_true(pooled_blocked);
    assert_false(conv_in_copied);
    const char *what[5] = {"pool", "y", "x.grad", "w1.grad", "gamma.grad"};
    for (int i = 0; i < 5; i++) {
        assert_rel_close(what[i], v[1][i], v[0][i], n[i], 1e-5);
        free(v[0][i]), free(v[1][i]);
    }
}

/* A value kept blocked holds one buffer, not a stale plain one beside it:
 * a kept conv output costs what a plain one does, its storage has no plain
 * buffer until something reads it plain, and then reads right. */
static void test_kept_value_holds_one_buffer(void **state) {
    (void)state;
    cg_scope_begin();
    /* a thin input (no blocked copy of x is made) */
    cg_tensor *x = randn(1, 1.0, 4, (int64_t[]){4, 3, 14, 14});
    cg_tensor *w = randn(2, 0.1, 4, (int64_t[]){32, 3, 3, 3});
    cg_conv2d_opts pad1 = {.padding = {1, 1}};
    size_t in_use[2];
    cg_tensor *y[2];
    for (int keep = 0; keep < 2; keep++) {
        cg_conv2d_keep_layouts(keep);
        size_t before = cg_mem_in_use();
        y[keep] = cg_conv2d(x, w, NULL, &pad1);
        assert_non_null(y[keep]);
        in_use[keep] = cg_mem_in_use() - before;
    }
    cg_conv2d_keep_layouts(true);
    assert_true(is_blocked(y[1]));
    assert_null(y[1]->storage->data);
    assert_true(in_use[1] == in_use[0]); /* 4x32x14x14 floats and the headers, either way */
    assert_true(in_use[0] >= (size_t)4 * 32 * 14 * 14 * sizeof(float));
    float *plain = values(y[0]), *kept = values(y[1]);
    assert_false(is_blocked(y[1]));
    assert_non_null(y[1]->storage->data);
    assert_memory_equal(kept, plain, (size_t)4 * 32 * 14 * 14 * sizeof(float));
    free(plain), free(kept);
    cg_scope_end();
}

/* The conversions against cg_layout_blocked_index, element by element,
 * on maps whose size is and is not a multiple of the 4-wide tiles. */
static void test_conversions(void **state) {
    (void)state;
    const int64_t blocks[] = {8, 16}, maps[] = {1, 3, 4, 49, 196, 784};
    for (int bi = 0; bi < 2; bi++)
        for (int mi = 0; mi < 6; mi++) {
            int64_t b = blocks[bi], n = 3, c = 2 * b, s = maps[mi], total = n * c * s;
            float *plain = malloc((size_t)total * sizeof *plain), *blk = malloc((size_t)total * sizeof *blk),
                  *back = malloc((size_t)total * sizeof *back);
            for (int64_t i = 0; i < total; i++) plain[i] = (float)i;
            cg_layout_plain_to_blocked(b, n, c, s, plain, blk);
            for (int64_t in = 0; in < n; in++)
                for (int64_t ic = 0; ic < c; ic++)
                    for (int64_t is = 0; is < s; is++)
                        if (blk[cg_layout_blocked_index(c, s, b, in, ic, is)] != plain[(in * c + ic) * s + is])
                            fail_msg("block %lld map %lld: (%lld,%lld,%lld) misplaced", (long long)b, (long long)s,
                                     (long long)in, (long long)ic, (long long)is);
            cg_layout_blocked_to_plain(b, n, c, s, blk, back);
            assert_memory_equal(back, plain, (size_t)total * sizeof *plain);
            cg_layout_blocked_to_plain_in_place(b, n, c, s, blk); /* the settle without memory */
            assert_memory_equal(blk, plain, (size_t)total * sizeof *plain);
            free(plain), free(blk), free(back);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_conv_chain_same_bits),
        cmocka_unit_test(test_bn_chain),
        cmocka_unit_test(test_residual_block),
        cmocka_unit_test(test_settles_on_plain_access),
        cmocka_unit_test(test_thin_input_and_free),
        cmocka_unit_test(test_kept_value_holds_one_buffer),
        cmocka_unit_test(test_max_pool_keeps_the_block),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return rc;
}
