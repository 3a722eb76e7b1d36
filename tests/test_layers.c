/* The vision layers as a user meets them: ops, modules, ResNet and the CNN.
 *
 * - one conv -> batch_norm -> relu -> max_pool -> adaptive_avg_pool stack,
 *   forward and every gradient, against PyTorch (tests/support/layers_reference.py);
 * - BatchNorm's train/eval behaviour and running statistics against hand values;
 * - Conv2d's default init and fastai's vision_learner(resnet18) model (parameter
 *   counts, the 132 state_dict names, the seeded init stream) against PyTorch
 *   (tests/support/resnet_reference.py);
 * - Dropout, the CNN's shapes, and memory that stays flat over 1,000 steps of a
 *   conv net. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgrad.h"

/* python3 tests/support/layers_reference.py (torch 1.13.0a0) */
static const float ref_out[32] = {1.23373830e+00f, 1.78026044e+00f, 1.33161521e+00f, 1.49049377e+00f, 1.18048239e+00f, 2.01483083e+00f, 1.41757858e+00f, 1.73053277e+00f, 1.04406786e+00f, 1.64875996e+00f, 1.14630556e+00f, 1.60176396e+00f, 9.28120732e-01f, 1.21443367e+00f, 8.93656731e-01f, 1.35731888e+00f, 9.95554626e-01f, 9.39073443e-01f, 1.51460910e+00f, 9.19161797e-01f, 1.18909180e+00f, 1.20956743e+00f, 2.01903892e+00f, 9.84979570e-01f, 1.04596102e+00f, 1.29529572e+00f, 1.88034534e+00f, 9.89535689e-01f, 9.60741520e-01f, 1.22519088e+00f, 1.58974719e+00f, 9.99282241e-01f};
static const float ref_running_mean[4] = {-7.29647791e-03f, 1.78525259e-03f, -2.91256630e-03f, -1.18803838e-02f};
static const float ref_running_var[4] = {1.09957874e+00f, 1.18263578e+00f, 1.28591228e+00f, 1.36842084e+00f};
static const float ref_grad_x_head[16] = {3.19152325e-02f, 3.32264081e-02f, 2.37006806e-02f, 1.60004310e-02f, 1.04042022e-02f, 4.08516154e-02f, 1.26187310e-01f, -2.81421235e-03f, -4.84899916e-02f, -9.27096698e-03f, 1.45577788e-02f, 1.10634141e-01f, 1.04720265e-01f, -1.01468107e-02f, -2.43809577e-02f, 4.91867354e-03f};
static const double ref_grad_x_sum = 5.1962220669e-01, ref_grad_x_abs = 1.0538805008e+01;
static const float ref_grad_w[108] = {-2.01846942e-01f, -2.18777776e-01f, 5.36642224e-02f, -1.43312424e-01f, -8.35886896e-02f, -3.85210723e-01f, 2.20463246e-01f, 2.23350957e-01f, 4.46365058e-01f, -1.59528464e-01f, -2.04883143e-01f, 1.38150454e-01f, -5.69243990e-02f, -6.40510246e-02f, -3.32288414e-01f, 7.81753380e-03f, 9.09014195e-02f, 2.29107916e-01f, -3.81153040e-02f, -8.94067362e-02f, 1.54141411e-01f, 5.76871410e-02f, -1.27567286e-02f, -1.14616491e-01f, -2.08704144e-01f, -8.66173580e-02f, -1.01741605e-01f, -1.92474812e-01f, -3.00317220e-02f, 2.67283618e-03f, 2.08430350e-01f, -1.91926267e-02f, 8.08813889e-03f, -1.42838791e-01f, 1.44546777e-01f, 1.07707359e-01f, -2.00801715e-01f, 7.14771543e-03f, -1.45138782e-02f, 1.76563039e-01f, -9.50980932e-02f, -3.05704661e-02f, -7.97711611e-02f, 1.60340086e-01f, 1.23708427e-01f, -1.09570466e-01f, 4.07833308e-02f, -2.45044492e-02f, 5.71552143e-02f, -1.23853661e-01f, -5.40718175e-02f, 2.28473172e-02f, 9.66363624e-02f, 7.83744529e-02f, -7.57760778e-02f, 1.09333603e-03f, -2.01973543e-01f, 1.51391372e-01f, 1.84092077e-03f, 2.26749286e-01f, -3.79785970e-02f, -2.41810679e-02f, -2.62575597e-01f, 1.32784277e-01f, 2.29436263e-01f, -1.04620658e-01f, -1.07870914e-01f, -1.06981769e-01f, 1.87989727e-01f, 2.91728854e-01f, 1.33804649e-01f, -9.09982100e-02f, 2.75509775e-01f, 3.44023913e-01f, 4.46036309e-02f, -3.13650399e-01f, -1.62762582e-01f, 5.60243130e-02f, 4.76796210e-01f, 2.25449458e-01f, 1.25696406e-01f, -9.16865841e-02f, -2.79209316e-01f, -2.74335414e-01f, -6.05596416e-02f, 1.60423040e-01f, 1.06034338e-01f, 1.22973971e-01f, -1.18130624e-01f, -7.62180910e-02f, 9.90427211e-02f, -1.37297943e-01f, -1.12957232e-01f, -1.68759510e-01f, 5.28775640e-02f, -2.34192275e-02f, 1.82504445e-01f, 2.29516849e-02f, 4.98328805e-02f, 2.40666360e-01f, 7.26862922e-02f, 1.04425468e-01f, -1.93287998e-01f, -8.08849037e-02f, -1.41261488e-01f, 1.51548520e-01f, 1.52654395e-01f, 1.51176527e-01f};
static const float ref_grad_b[4] = {3.72529030e-09f, -1.97440386e-07f, 2.61701643e-07f, -3.95812094e-08f};
static const float ref_grad_gamma[4] = {8.00774097e+00f, -1.79853928e+00f, -7.53875875e+00f, 4.37532568e+00f};
static const float ref_grad_beta[4] = {6.39379215e+00f, -1.26415658e+00f, -6.08858204e+00f, 3.37529182e+00f};
static const float ref_conv_init_weight_head[8] = {-1.44083926e-03f, 1.03238620e-01f, -1.58395112e-01f, -1.41631529e-01f, -7.41229951e-02f, 5.16069084e-02f, -3.81304836e-03f, 1.52591646e-01f};
static const float ref_conv_init_bias[4] = {-1.06039243e-02f, 2.88954284e-02f, -7.88141415e-02f, 1.14195570e-01f};
/* python3 tests/support/resnet_reference.py (torch 1.13.0a0, torchvision 0.14.1a0) */
#define REF_PARAMS 11704896
#define REF_BODY_PARAMS 11176512
#define REF_STATE_ENTRIES 132
static const char *const ref_names[] = {
    "0.0.weight",
    "0.1.weight",
    "0.1.bias",
    "0.1.running_mean",
    "0.1.running_var",
    "0.1.num_batches_tracked",
    "0.4.0.conv1.weight",
    "0.4.0.bn1.weight",
    "0.4.0.bn1.bias",
    "0.4.0.bn1.running_mean",
    "0.4.0.bn1.running_var",
    "0.4.0.bn1.num_batches_tracked",
    "0.4.0.conv2.weight",
    "0.4.0.bn2.weight",
    "0.4.0.bn2.bias",
    "0.4.0.bn2.running_mean",
    "0.4.0.bn2.running_var",
    "0.4.0.bn2.num_batches_tracked",
    "0.4.1.conv1.weight",
    "0.4.1.bn1.weight",
    "0.4.1.bn1.bias",
    "0.4.1.bn1.running_mean",
    "0.4.1.bn1.running_var",
    "0.4.1.bn1.num_batches_tracked",
    "0.4.1.conv2.weight",
    "0.4.1.bn2.weight",
    "0.4.1.bn2.bias",
    "0.4.1.bn2.running_mean",
    "0.4.1.bn2.running_var",
    "0.4.1.bn2.num_batches_tracked",
    "0.5.0.conv1.weight",
    "0.5.0.bn1.weight",
    "0.5.0.bn1.bias",
    "0.5.0.bn1.running_mean",
    "0.5.0.bn1.running_var",
    "0.5.0.bn1.num_batches_tracked",
    "0.5.0.conv2.weight",
    "0.5.0.bn2.weight",
    "0.5.0.bn2.bias",
    "0.5.0.bn2.running_mean",
    "0.5.0.bn2.running_var",
    "0.5.0.bn2.num_batches_tracked",
    "0.5.0.downsample.0.weight",
    "0.5.0.downsample.1.weight",
    "0.5.0.downsample.1.bias",
    "0.5.0.downsample.1.running_mean",
    "0.5.0.downsample.1.running_var",
    "0.5.0.downsample.1.num_batches_tracked",
    "0.5.1.conv1.weight",
    "0.5.1.bn1.weight",
    "0.5.1.bn1.bias",
    "0.5.1.bn1.running_mean",
    "0.5.1.bn1.running_var",
    "0.5.1.bn1.num_batches_tracked",
    "0.5.1.conv2.weight",
    "0.5.1.bn2.weight",
    "0.5.1.bn2.bias",
    "0.5.1.bn2.running_mean",
    "0.5.1.bn2.running_var",
    "0.5.1.bn2.num_batches_tracked",
    "0.6.0.conv1.weight",
    "0.6.0.bn1.weight",
    "0.6.0.bn1.bias",
    "0.6.0.bn1.running_mean",
    "0.6.0.bn1.running_var",
    "0.6.0.bn1.num_batches_tracked",
    "0.6.0.conv2.weight",
    "0.6.0.bn2.weight",
    "0.6.0.bn2.bias",
    "0.6.0.bn2.running_mean",
    "0.6.0.bn2.running_var",
    "0.6.0.bn2.num_batches_tracked",
    "0.6.0.downsample.0.weight",
    "0.6.0.downsample.1.weight",
    "0.6.0.downsample.1.bias",
    "0.6.0.downsample.1.running_mean",
    "0.6.0.downsample.1.running_var",
    "0.6.0.downsample.1.num_batches_tracked",
    "0.6.1.conv1.weight",
    "0.6.1.bn1.weight",
    "0.6.1.bn1.bias",
    "0.6.1.bn1.running_mean",
    "0.6.1.bn1.running_var",
    "0.6.1.bn1.num_batches_tracked",
    "0.6.1.conv2.weight",
    "0.6.1.bn2.weight",
    "0.6.1.bn2.bias",
    "0.6.1.bn2.running_mean",
    "0.6.1.bn2.running_var",
    "0.6.1.bn2.num_batches_tracked",
    "0.7.0.conv1.weight",
    "0.7.0.bn1.weight",
    "0.7.0.bn1.bias",
    "0.7.0.bn1.running_mean",
    "0.7.0.bn1.running_var",
    "0.7.0.bn1.num_batches_tracked",
    "0.7.0.conv2.weight",
    "0.7.0.bn2.weight",
    "0.7.0.bn2.bias",
    "0.7.0.bn2.running_mean",
    "0.7.0.bn2.running_var",
    "0.7.0.bn2.num_batches_tracked",
    "0.7.0.downsample.0.weight",
    "0.7.0.downsample.1.weight",
    "0.7.0.downsample.1.bias",
    "0.7.0.downsample.1.running_mean",
    "0.7.0.downsample.1.running_var",
    "0.7.0.downsample.1.num_batches_tracked",
    "0.7.1.conv1.weight",
    "0.7.1.bn1.weight",
    "0.7.1.bn1.bias",
    "0.7.1.bn1.running_mean",
    "0.7.1.bn1.running_var",
    "0.7.1.bn1.num_batches_tracked",
    "0.7.1.conv2.weight",
    "0.7.1.bn2.weight",
    "0.7.1.bn2.bias",
    "0.7.1.bn2.running_mean",
    "0.7.1.bn2.running_var",
    "0.7.1.bn2.num_batches_tracked",
    "1.2.weight",
    "1.2.bias",
    "1.2.running_mean",
    "1.2.running_var",
    "1.2.num_batches_tracked",
    "1.4.weight",
    "1.6.weight",
    "1.6.bias",
    "1.6.running_mean",
    "1.6.running_var",
    "1.6.num_batches_tracked",
    "1.8.weight",
};
/* 0.0.weight [64, 3, 7, 7] */ static const float ref_0_0_weight[] = {3.565225983e-03f, -2.584207244e-02f, -1.185248606e-02f, 1.316645276e-02f, 9.867502376e-03f, 2.864950709e-02f};
/* 0.4.0.conv1.weight [64, 64, 3, 3] */ static const float ref_0_4_0_conv1_weight[] = {-8.925802074e-03f, 4.104331881e-02f, 6.839027628e-03f, 6.626647711e-02f, 2.918065898e-02f, 9.860745817e-02f};
/* 0.5.0.downsample.0.weight [128, 64, 1, 1] */ static const float ref_0_5_0_downsample_0_weight[] = {-1.576314308e-02f, -1.192344800e-01f, -1.482947469e-01f, 8.551632613e-02f, -2.129976153e-01f, 9.470905364e-02f};
/* 0.7.1.conv2.weight [512, 512, 3, 3] */ static const float ref_0_7_1_conv2_weight[] = {-5.575853866e-03f, 2.769723535e-02f, 8.661421947e-03f, 1.089421567e-02f, 1.208405476e-03f, -4.675338045e-03f};
/* 1.4.weight [512, 1024] */ static const float ref_1_4_weight[] = {4.382347316e-02f, -1.653296873e-02f, 1.137003116e-02f, -3.058743477e-02f, 9.302061982e-03f, -6.636801362e-02f};
/* 1.8.weight [2, 512] */ static const float ref_1_8_weight[] = {5.640634149e-02f, -3.000984713e-02f, 1.033499911e-01f, -1.119935289e-01f, -9.290595539e-03f, 2.854365669e-02f};

static cg_tensor *det(int ndim, const int64_t *shape, double a, double b, double scale, double offset) {
    cg_tensor *t = cg_empty(CG_FLOAT32, ndim, shape);
    float *p = cg_data_f32(t);
    for (int64_t i = 0; i < cg_numel(t); i++) p[i] = (float)(offset + scale * sin(a * (double)i + b));
    return t;
}

static void assert_close(const float *got, const float *want, int64_t n, double rtol, double atol,
                         const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)got[i] - want[i]) > atol + rtol * fabs(want[i]))
            fail_msg("%s[%lld]: got %.8g, PyTorch %.8g", what, (long long)i, got[i], want[i]);
}

static const float *f32(cg_tensor *t) { return cg_data_f32(cg_contiguous(t)); }

static void test_stack_matches_pytorch(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *x = cg_requires_grad_(det(CG_SHAPE(2, 3, 7, 7), 0.37, 0.1, 1, 0), true);
    cg_tensor *w = cg_requires_grad_(det(CG_SHAPE(4, 3, 3, 3), 0.71, 0.5, 0.3, 0), true);
    cg_tensor *b = cg_requires_grad_(det(CG_SHAPE(4), 1.3, 0.2, 0.1, 0), true);
    cg_tensor *gamma = cg_requires_grad_(det(CG_SHAPE(4), 0.9, 0.3, 0.2, 1), true);
    cg_tensor *beta = cg_requires_grad_(det(CG_SHAPE(4), 1.7, 0.4, 0.1, 0), true);
    cg_tensor *rm = cg_zeros(CG_FLOAT32, CG_SHAPE(4)), *rv = cg_ones(CG_FLOAT32, CG_SHAPE(4));
    cg_tensor *y = cg_conv2d(x, w, b, &(cg_conv2d_opts){.padding = {1, 1}});
    y = cg_relu(cg_batch_norm(y, rm, rv, gamma, beta, true, 0.1, 1e-5));
    y = cg_max_pool2d(y, (int64_t[]){3, 3}, (int64_t[]){2, 2}, (int64_t[]){1, 1});
    cg_tensor *out = cg_adaptive_avg_pool2d(y, 2, 2);
    assert_non_null(out);
    assert_int_equal(out->shape[1], 4);
    assert_int_equal(out->shape[2], 2);
    cg_tensor *loss = cg_sum(cg_mul(out, det(out->ndim, out->shape, 0.43, 0.7, 1, 0)), NULL, 0, false);
    assert_int_equal(cg_backward(loss, NULL), CG_OK);
    assert_close(f32(out), ref_out, 32, 1e-4, 1e-5, "out");
    assert_close(f32(rm), ref_running_mean, 4, 1e-4, 1e-6, "running_mean");
    assert_close(f32(rv), ref_running_var, 4, 1e-4, 1e-6, "running_var");
    assert_close(f32(x->grad), ref_grad_x_head, 16, 1e-3, 1e-5, "x.grad");
    double sum = 0, abs_sum = 0;
    const float *gx = f32(x->grad);
    for (int64_t i = 0; i < cg_numel(x); i++) sum += gx[i], abs_sum += fabs(gx[i]);
    assert_true(fabs(sum - ref_grad_x_sum) < 1e-4 && fabs(abs_sum - ref_grad_x_abs) < 1e-3 * ref_grad_x_abs);
    assert_close(f32(w->grad), ref_grad_w, 108, 1e-3, 1e-5, "w.grad");
    assert_close(f32(b->grad), ref_grad_b, 4, 0, 1e-5, "b.grad"); /* ~0: BatchNorm removes the mean */
    assert_close(f32(gamma->grad), ref_grad_gamma, 4, 1e-4, 1e-5, "gamma.grad");
    assert_close(f32(beta->grad), ref_grad_beta, 4, 1e-4, 1e-5, "beta.grad");
    cg_scope_end();
}

/* BatchNorm1d(1) on x = [1, 3]: batch mean 2, biased var 1, unbiased var 2.
 * train: y = (x-2)/sqrt(1+1e-5); running_mean = 0.1*2 = 0.2, running_var =
 * 0.9*1 + 0.1*2 = 1.1, num_batches_tracked 1.  eval: y = (x-0.2)/sqrt(1.1+1e-5). */
static void test_batch_norm_train_eval(void **state) {
    (void)state;
    cg_scope_begin();
    cg_module *bn = cg_nn_batch_norm1d(1);
    assert_non_null(bn);
    cg_tensor *x = cg_from_floats(CG_SHAPE(2, 1), (float[]){1, 3});
    const float *y = f32(cg_module_forward(bn, x));
    assert_float_equal(y[0], -1 / sqrt(1 + 1e-5), 1e-6);
    assert_float_equal(y[1], 1 / sqrt(1 + 1e-5), 1e-6);
    assert_float_equal(cg_data_f32(cg_module_find(bn, "running_mean"))[0], 0.2, 1e-7);
    assert_float_equal(cg_data_f32(cg_module_find(bn, "running_var"))[0], 1.1, 1e-7);
    cg_tensor *count = cg_module_find(bn, "num_batches_tracked");
    assert_int_equal(count->dtype, CG_INT64);
    assert_int_equal(count->ndim, 0);
    assert_int_equal(*(int64_t *)cg_data(count), 1);
    cg_module_eval(bn);
    y = f32(cg_module_forward(bn, x));
    assert_float_equal(y[0], (1 - 0.2) / sqrt(1.1 + 1e-5), 1e-6);
    assert_float_equal(y[1], (3 - 0.2) / sqrt(1.1 + 1e-5), 1e-6);
    assert_int_equal(*(int64_t *)cg_data(count), 1); /* eval counts nothing */
    assert_float_equal(cg_data_f32(cg_module_find(bn, "running_mean"))[0], 0.2, 1e-7);
    /* One value per channel cannot be normalised in training, as PyTorch says. */
    cg_module_train(bn, true);
    assert_null(cg_module_forward(bn, cg_from_floats(CG_SHAPE(1, 1), (float[]){1})));
    assert_non_null(strstr(cg_last_error(), "batch_norm"));
    char *repr = cg_module_repr(bn);
    assert_string_equal(repr, "BatchNorm1d(1, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
    free(repr);
    cg_module_release(bn);
    cg_scope_end();
}

static void test_conv2d_init_and_repr(void **state) {
    (void)state;
    cg_manual_seed(0);
    cg_module *conv = cg_nn_conv2d(3, 4, (int64_t[]){3, 3}, NULL, true);
    assert_non_null(conv);
    assert_close(cg_data_f32(cg_module_find(conv, "weight")), ref_conv_init_weight_head, 8, 0, 0, "Conv2d weight");
    assert_close(cg_data_f32(cg_module_find(conv, "bias")), ref_conv_init_bias, 4, 0, 0, "Conv2d bias");
    char *repr = cg_module_repr(conv);
    assert_string_equal(repr, "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1))");
    free(repr);
    cg_module_release(conv);
    conv = cg_nn_conv2d(64, 128, (int64_t[]){1, 1}, &(cg_conv2d_opts){.stride = {2, 2}}, false);
    repr = cg_module_repr(conv);
    assert_string_equal(repr, "Conv2d(64, 128, kernel_size=(1, 1), stride=(2, 2), bias=False)");
    free(repr);
    cg_module_release(conv);
    assert_null(cg_nn_conv2d(3, 4, (int64_t[]){3, 3}, &(cg_conv2d_opts){.groups = 2}, true));
    assert_non_null(strstr(cg_last_error(), "groups"));
}

static void test_vision_model_matches_fastai(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_module *m = cg_vision_model("resnet18", 3, 2);
    assert_non_null(m);
    assert_int_equal(cg_module_count_elements(m), REF_PARAMS);
    assert_int_equal(cg_module_count_elements(m->children[0]), REF_BODY_PARAMS);
    cg_named_tensors sd;
    assert_int_equal(cg_module_state_dict(m, &sd), CG_OK);
    assert_int_equal(sd.n, REF_STATE_ENTRIES);
    assert_int_equal(sizeof ref_names / sizeof *ref_names, REF_STATE_ENTRIES);
    for (int i = 0; i < sd.n; i++) assert_string_equal(sd.names[i], ref_names[i]);
    cg_named_tensors_free(&sd);
    /* The init stream, tensor by tensor, as torch.manual_seed(42) draws it. */
    const struct { const char *name; const float *ref; } draws[] = {
        {"0.0.weight", ref_0_0_weight},
        {"0.4.0.conv1.weight", ref_0_4_0_conv1_weight},
        {"0.5.0.downsample.0.weight", ref_0_5_0_downsample_0_weight},
        {"0.7.1.conv2.weight", ref_0_7_1_conv2_weight},
        {"1.4.weight", ref_1_4_weight},
        {"1.8.weight", ref_1_8_weight},
    };
    for (size_t i = 0; i < sizeof draws / sizeof *draws; i++)
        assert_close(cg_data_f32(cg_module_find(m, draws[i].name)), draws[i].ref, 6, 1e-6, 0, draws[i].name);
    /* A forward in eval mode on two 28x28 RGB images gives [2, 2]. */
    cg_scope_begin();
    cg_module_eval(m);
    cg_tensor *y = cg_module_forward(m, det(CG_SHAPE(2, 3, 28, 28), 0.1, 0, 0.5, 0.5));
    assert_non_null(y);
    assert_int_equal(y->ndim, 2);
    assert_int_equal(y->shape[0], 2);
    assert_int_equal(y->shape[1], 2);
    cg_scope_end();
    cg_module_release(m);
}

/* The CNN: 288+64 + 18432+128 + 73728+256 + 294912+512 + 2570 parameters. */
static void test_mnist_cnn_shapes(void **state) {
    (void)state;
    cg_module *m = cg_nn_mnist_cnn(1, 10);
    assert_non_null(m);
    assert_int_equal(cg_module_count_elements(m), 390890);
    assert_non_null(cg_module_find(m, "0.0.weight"));
    assert_non_null(cg_module_find(m, "3.1.running_var"));
    assert_non_null(cg_module_find(m, "6.bias"));
    cg_scope_begin();
    cg_tensor *y = cg_module_forward(m, cg_zeros(CG_FLOAT32, CG_SHAPE(3, 1, 28, 28)));
    assert_non_null(y);
    assert_int_equal(y->shape[0], 3);
    assert_int_equal(y->shape[1], 10);
    cg_scope_end();
    cg_module_release(m);
}

static void test_dropout(void **state) {
    (void)state;
    cg_scope_begin();
    cg_manual_seed(1);
    cg_tensor *x = cg_requires_grad_(cg_ones(CG_FLOAT32, CG_SHAPE(10000)), true);
    cg_tensor *y = cg_dropout(x, 0.25, true);
    const float *py = f32(y);
    int64_t kept = 0;
    for (int64_t i = 0; i < 10000; i++) {
        assert_true(py[i] == 0.0f || fabsf(py[i] - 4.0f / 3.0f) < 1e-6f);
        kept += py[i] != 0;
    }
    assert_true(kept > 7300 && kept < 7700); /* 7500 +- 5 sigma (sigma 43) */
    assert_int_equal(cg_backward(cg_sum(y, NULL, 0, false), NULL), CG_OK);
    const float *g = f32(x->grad);
    for (int64_t i = 0; i < 10000; i++) assert_float_equal(g[i], py[i], 0); /* d/dx = mask * scale */
    assert_ptr_equal(cg_dropout(x, 0.25, false), x); /* eval: identity */
    cg_manual_seed(1);
    assert_memory_equal(f32(cg_dropout(x, 0.25, true)), py, 10000 * sizeof(float)); /* seeded */
    cg_scope_end();
}

static void test_errors_name_shapes(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *x = cg_zeros(CG_FLOAT32, CG_SHAPE(1, 3, 5, 5)), *w = cg_zeros(CG_FLOAT32, CG_SHAPE(4, 2, 3, 3));
    assert_null(cg_conv2d(x, w, NULL, NULL));
    assert_non_null(strstr(cg_last_error(), "[1, 3, 5, 5]"));
    assert_null(cg_conv2d(x, cg_zeros(CG_FLOAT32, CG_SHAPE(4, 3, 7, 7)), NULL, NULL));
    assert_non_null(strstr(cg_last_error(), "conv2d"));
    assert_null(cg_max_pool2d(cg_zeros(CG_FLOAT32, CG_SHAPE(3, 5, 5)), (int64_t[]){2, 2}, NULL, NULL));
    assert_non_null(strstr(cg_last_error(), "4-d"));
    assert_null(cg_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5));
    assert_non_null(strstr(cg_last_error(), "running"));
    cg_scope_end();
}

/* 1,000 SGD steps of a small conv net: bytes in use and cached stay exactly
 * what they were after step 10 (every buffer comes back from the pool). */
static void test_conv_net_memory_is_flat(void **state) {
    (void)state;
    cg_manual_seed(3);
    cg_module *net = CG_SEQUENTIAL(cg_nn_conv2d(1, 4, (int64_t[]){3, 3}, &(cg_conv2d_opts){.padding = {1, 1}}, false),
                                   cg_nn_batch_norm2d(4), cg_nn_relu(),
                                   cg_nn_max_pool2d((int64_t[]){2, 2}, NULL, NULL), cg_nn_dropout(0.1),
                                   cg_nn_adaptive_concat_pool2d(1), cg_nn_flatten(1, -1),
                                   cg_nn_linear(8, 2, false));
    assert_non_null(net);
    cg_tensor *xb = det(CG_SHAPE(4, 1, 8, 8), 0.3, 0.0, 1, 0);
    cg_tensor *yb = cg_from_data(CG_INT64, CG_SHAPE(4), (int64_t[]){0, 1, 1, 0});
    cg_named_tensors ps;
    assert_int_equal(cg_module_named_parameters(net, &ps), CG_OK);
    size_t in_use_10 = 0, cached_10 = 0;
    double first = 0, last = 0;
    for (int step = 1; step <= 1000; step++) {
        cg_scope_begin();
        cg_tensor *loss = cg_cross_entropy_loss(cg_module_forward(net, xb), yb);
        assert_non_null(loss);
        assert_int_equal(cg_backward(loss, NULL), CG_OK);
        cg_no_grad_begin();
        for (int i = 0; i < ps.n; i++) assert_int_equal(cg_axpy_(ps.tensors[i], -0.05, ps.tensors[i]->grad), CG_OK);
        cg_no_grad_end();
        cg_module_zero_grad(net);
        cg_item(loss, step == 1 ? &first : &last);
        cg_scope_end();
        if (step == 10) in_use_10 = cg_mem_in_use(), cached_10 = cg_mem_cached();
    }
    assert_int_equal(cg_mem_in_use(), in_use_10);
    assert_int_equal(cg_mem_cached(), cached_10);
    assert_true(last < first); /* and it learned something */
    cg_named_tensors_free(&ps);
    cg_release(xb);
    cg_release(yb);
    cg_module_release(net);
}

static int teardown(void **state) {
    (void)state;
    cg_pool_trim();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_matches_pytorch),
        cmocka_unit_test(test_batch_norm_train_eval),
        cmocka_unit_test(test_conv2d_init_and_repr),
        cmocka_unit_test(test_vision_model_matches_fastai),
        cmocka_unit_test(test_mnist_cnn_shapes),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_errors_name_shapes),
        cmocka_unit_test(test_conv_net_memory_is_flat),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
