/* The image models end to end through model files: what `cgrad train --save`
 * writes, `cgrad predict` must read back as the same model.
 *
 * - cg_model_image_param_shapes (worked out from the topology, nothing built)
 *   equals the state_dict of the model cg_model_create_image builds, names,
 *   dtypes and shapes, for resnet18, resnet34, cnn and cnn-wide, gray and RGB;
 * - resnet18 (vision_learner's model, 2 classes) and cnn are trained a few
 *   Adam steps on a synthetic batch (so BatchNorm's running statistics and
 *   num_batches_tracked are not their initial values), saved with
 *   cg_model_save, loaded with cg_model_load, and give bit-identical eval
 *   logits and predict probabilities; every tensor of the state_dict survives
 *   (11,704,896 parameters in 132 entries for resnet18, int64 counters
 *   included);
 * - an image file goes through cg_model_input_from_png as the model was
 *   trained: RGB or gray, resized with the saved size, [1,C,H,W];
 * - a model file is checked against the architecture (a BatchNorm counter
 *   stored as float32, a missing "input") before the model is built. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <omp.h>

#include "cgrad.h"

static char dir[1024];

static int setup(void **state) {
    (void)state;
    /* The vision kernels pick 1 or all threads per call from measured times
     * (cpu_nn_threads.h), and the two can round differently: one thread
     * (with the warm-up pass below) makes every forward pass the same
     * function of the weights. */
    omp_set_num_threads(1);
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cg_vision_XXXXXX", base ? base : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* The computed list against the built model's state_dict. */
static void check_shapes_match(const char *arch, int64_t c, int64_t n_out, int expect_n) {
    cg_param_shape *want = malloc(CG_MODEL_MAX_TENSORS * sizeof *want);
    assert_non_null(want);
    int n = 0;
    assert_int_equal(cg_model_image_param_shapes(arch, c, 28, 28, n_out, want, &n), CG_OK);
    assert_int_equal(n, expect_n);
    cg_manual_seed(0);
    cg_module *m = cg_model_create_image(arch, c, 28, 28, n_out);
    assert_non_null(m);
    cg_named_tensors sd;
    assert_int_equal(cg_module_state_dict(m, &sd), CG_OK);
    assert_int_equal(sd.n, n);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        assert_string_equal(sd.names[i], want[i].name);
        assert_int_equal(sd.tensors[i]->dtype, want[i].dtype);
        assert_int_equal(sd.tensors[i]->ndim, want[i].ndim);
        for (int d = 0; d < want[i].ndim; d++) assert_int_equal(sd.tensors[i]->shape[d], want[i].shape[d]);
        if (want[i].dtype == CG_FLOAT32 && strstr(want[i].name, "running_") == NULL) total += cg_numel(sd.tensors[i]);
    }
    assert_int_equal(total, cg_module_count_elements(m));
    cg_named_tensors_free(&sd);
    cg_module_release(m);
    free(want);
}

static void test_shapes_without_building(void **state) {
    (void)state;
    /* 20 convs + 22 BatchNorms * 5 + 2 Linears (torchvision + fastai, test_layers) */
    check_shapes_match("resnet18", 3, 2, 132);
    /* resnet34: 36 convs + 38 BatchNorms * 5 + 2 Linears, computed only (building
     * it under ASan costs a minute); the first conv takes the channels given */
    cg_param_shape *l = malloc(CG_MODEL_MAX_TENSORS * sizeof *l);
    assert_non_null(l);
    int n34 = 0;
    assert_int_equal(cg_model_image_param_shapes("resnet34", 1, 28, 28, 10, l, &n34), CG_OK);
    assert_int_equal(n34, 228);
    assert_string_equal(l[0].name, "0.0.weight");
    assert_int_equal(l[0].shape[1], 1);
    assert_string_equal(l[227].name, "1.8.weight");
    assert_int_equal(l[227].shape[0], 10);
    free(l);
    /* 4 convs + 4 BatchNorms * 5 + Linear weight and bias */
    check_shapes_match("cnn", 1, 10, 26);
    /* cnn-wide: 6 convs + 6 BatchNorms * 5 + the Linear at 9 (after pool, flatten, dropout) */
    check_shapes_match("cnn-wide", 1, 10, 38);
    /* a flat model over the flattened image */
    cg_param_shape s[CG_MODEL_MAX_TENSORS];
    int n = 0;
    assert_int_equal(cg_model_image_param_shapes("simple_net", 1, 28, 28, 1, s, &n), CG_OK);
    assert_int_equal(n, 4);
    assert_int_equal(s[0].shape[1], 784);
    /* bounds: a fifth channel, a zero side, a class count over the builders' */
    assert_int_equal(cg_model_image_param_shapes("cnn", 5, 28, 28, 10, s, &n), CG_ERR_VALUE);
    assert_int_equal(cg_model_image_param_shapes("cnn", 1, 0, 28, 10, s, &n), CG_ERR_VALUE);
    assert_int_equal(cg_model_image_param_shapes("resnet18", 3, 28, 28, 1 << 21, s, &n), CG_ERR_VALUE);
    /* 512 x 2^20 head weights: over CG_MODEL_MAX_PARAMS, refused before building */
    assert_null(cg_model_create_image("resnet18", 3, 28, 28, 1 << 20));
    assert_non_null(strstr(cg_last_error(), "more than 268435456 parameters"));
    /* the flat entry point refuses the image models, naming the other one */
    assert_int_equal(cg_model_param_shapes("resnet18", 784, 2, s, &n), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "cg_model_image_param_shapes"));
}

/* A few Adam steps of cross-entropy on a seeded synthetic batch [8,c,28,28]. */
static void train_steps(cg_module *m, int64_t c, int steps) {
    cg_named_tensors params;
    assert_int_equal(cg_module_named_parameters(m, &params), CG_OK);
    cg_optimizer *opt = cg_adam(params.tensors, params.n, 1e-3);
    assert_non_null(opt);
    cg_module_train(m, true);
    int64_t labels[8] = {0, 1, 1, 0, 1, 0, 0, 1};
    for (int s = 0; s < steps; s++) {
        cg_scope_begin();
        cg_tensor *x = cg_randn(NULL, CG_SHAPE(8, c, 28, 28));
        cg_tensor *y = cg_from_data(CG_INT64, CG_SHAPE(8), labels);
        cg_tensor *loss = cg_cross_entropy_loss(cg_module_forward(m, x), y);
        assert_non_null(loss);
        assert_true(isfinite(cg_data_f32(loss)[0]));
        assert_int_equal(cg_backward(loss, NULL), CG_OK);
        assert_int_equal(cg_optimizer_step(opt), CG_OK);
        cg_module_zero_grad(m);
        cg_scope_end();
    }
    cg_optimizer_free(opt);
    cg_named_tensors_free(&params);
}

/* Bytes of every state_dict entry equal, in the same order. */
static void assert_same_state(const cg_module *a, const cg_module *b) {
    cg_named_tensors sa, sb;
    assert_int_equal(cg_module_state_dict(a, &sa), CG_OK);
    assert_int_equal(cg_module_state_dict(b, &sb), CG_OK);
    assert_int_equal(sa.n, sb.n);
    for (int i = 0; i < sa.n; i++) {
        assert_string_equal(sa.names[i], sb.names[i]);
        assert_int_equal(sa.tensors[i]->dtype, sb.tensors[i]->dtype);
        int64_t numel = cg_numel(sa.tensors[i]);
        assert_int_equal(numel, cg_numel(sb.tensors[i]));
        cg_scope_begin();
        cg_tensor *ca = cg_contiguous(sa.tensors[i]), *cb = cg_contiguous(sb.tensors[i]);
        assert_memory_equal(cg_data(ca), cg_data(cb), (size_t)numel * cg_dtype_size(ca->dtype));
        cg_scope_end();
    }
    cg_named_tensors_free(&sa);
    cg_named_tensors_free(&sb);
}

/* Save, load through the predict path, and compare: logits bit for bit in
 * eval mode, predict's probabilities, and every state_dict tensor. */
static void round_trip(const char *arch, int64_t c, int64_t n_out, int steps, int64_t expect_params,
                       int expect_entries) {
    cg_manual_seed(42);
    cg_module *m = cg_model_create_image(arch, c, 28, 28, n_out);
    assert_non_null(m);
    train_steps(m, c, steps);
    assert_int_equal(cg_module_count_elements(m), expect_params);
    /* BatchNorm saw `steps` batches: its counter and its running stats moved */
    cg_tensor *tracked = cg_module_find(m, "0.1.num_batches_tracked"); /* the first BatchNorm2d, both models */
    assert_non_null(tracked);
    assert_int_equal(tracked->dtype, CG_INT64);
    assert_int_equal(((const int64_t *)cg_data(tracked))[0], steps);
    cg_tensor *rvar = cg_module_find(m, "0.1.running_var");
    assert_non_null(rvar);
    assert_true(cg_data_f32(rvar)[0] != 1.0f);

    char path[1100];
    path_in(path, sizeof path, !strcmp(arch, "cnn") ? "cnn.safetensors" : "resnet.safetensors");
    cg_metadata md = {0};
    char input[32];
    snprintf(input, sizeof input, "%s:28x28", c == 3 ? "rgb" : "gray");
    assert_int_equal(cg_model_metadata(&md, arch, c * 28 * 28, n_out, "cross_entropy", n_out == 2 ? "3,7" : NULL,
                                       input),
                     CG_OK);
    assert_int_equal(cg_model_save(m, path, &md), CG_OK);
    cg_metadata_free(&md);

    cg_metadata lmd = {0};
    cg_module *loaded = cg_model_load(path, &lmd);
    assert_non_null(loaded);
    assert_int_equal(cg_module_count_elements(loaded), expect_params);
    cg_named_tensors sd;
    assert_int_equal(cg_module_state_dict(loaded, &sd), CG_OK);
    assert_int_equal(sd.n, expect_entries);
    cg_named_tensors_free(&sd);
    assert_same_state(m, loaded);

    /* the same input, both in eval mode: identical logits */
    cg_scope_begin();
    cg_manual_seed(7);
    cg_tensor *x = cg_rand(NULL, CG_SHAPE(1, c, 28, 28));
    assert_non_null(x);
    cg_module_eval(m);
    cg_module_eval(loaded);
    cg_no_grad_begin();
    /* The first convolution of a shape picks its kernel by timing the
     * candidates on that call's data (cpu_conv_dnnl.c), and the candidates
     * round differently (by ~1e-7 relative): one pass at this shape first, so
     * both models run the kernel the process settled on. */
    assert_non_null(cg_module_forward(m, x));
    cg_tensor *ya = cg_contiguous(cg_module_forward(m, x));
    cg_tensor *yb = cg_contiguous(cg_module_forward(loaded, x));
    cg_no_grad_end();
    assert_non_null(ya);
    assert_non_null(yb);
    assert_int_equal(cg_numel(ya), n_out);
    assert_memory_equal(cg_data_f32(ya), cg_data_f32(yb), (size_t)n_out * sizeof(float));
    /* eval is deterministic (no dropout, running stats): a second pass agrees */
    cg_no_grad_begin();
    cg_tensor *ya2 = cg_contiguous(cg_module_forward(m, x));
    cg_no_grad_end();
    assert_memory_equal(cg_data_f32(ya), cg_data_f32(ya2), (size_t)n_out * sizeof(float));

    /* predict: softmax of the in-memory logits, worked out here in double */
    cg_prediction p;
    assert_int_equal(cg_model_predict(loaded, &lmd, x, &p), CG_OK);
    assert_int_equal(p.n_classes, n_out);
    const float *l = cg_data_f32(ya);
    double mx = l[0], sum = 0;
    for (int64_t k = 1; k < n_out; k++) mx = l[k] > mx ? l[k] : mx;
    for (int64_t k = 0; k < n_out; k++) sum += exp((double)l[k] - mx);
    int64_t best = 0;
    for (int64_t k = 0; k < n_out; k++) {
        assert_true(fabs(p.probs[k] - exp((double)l[k] - mx) / sum) < 1e-6);
        if (l[k] > l[best]) best = k;
    }
    assert_int_equal(p.label, best);
    if (n_out == 2) assert_string_equal(p.name, best ? "7" : "3");
    cg_prediction_free(&p);
    cg_scope_end();

    cg_metadata_free(&lmd);
    cg_module_release(loaded);
    cg_module_release(m);
}

static void test_resnet18_round_trip(void **state) {
    (void)state;
    round_trip("resnet18", 3, 2, 3, 11704896, 132);
}

static void test_cnn_round_trip(void **state) {
    (void)state;
    /* 4 convs (288+18432+73728+294912) + BN affine (2*(32+64+128+256)) + Linear 2570 */
    round_trip("cnn", 1, 10, 3, 288 + 18432 + 73728 + 294912 + 960 + 2570, 26);
}

/* cnn-wide against torch's nn.Sequential twin (tests/support/load_in_torch.py
 * builds it): 575,594 parameters in 38 state_dict entries, "0.0.weight" ...
 * "5.1.num_batches_tracked", "9.weight", "9.bias"; its Dropout is off in eval,
 * so the saved model predicts bit for bit what the trained one does. */
static void test_cnn_wide_round_trip(void **state) {
    (void)state;
    cg_param_shape *l = malloc(CG_MODEL_MAX_TENSORS * sizeof *l);
    assert_non_null(l);
    int n = 0;
    assert_int_equal(cg_model_image_param_shapes("cnn-wide", 1, 28, 28, 10, l, &n), CG_OK);
    assert_string_equal(l[0].name, "0.0.weight");
    assert_string_equal(l[12].name, "2.0.weight"); /* conv_bn(64,64,1) */
    assert_int_equal(l[12].shape[0], 64);
    assert_int_equal(l[12].shape[1], 64);
    assert_string_equal(l[35].name, "5.1.num_batches_tracked");
    assert_string_equal(l[36].name, "9.weight");
    assert_int_equal(l[36].shape[1], 256);
    assert_string_equal(l[37].name, "9.bias");
    free(l);
    assert_true(cg_model_takes_images("cnn-wide"));
    round_trip("cnn-wide", 1, 10, 3, 575594, 38);
}

/* An image file becomes the input the model was trained on. */
static void test_input_from_image(void **state) {
    (void)state;
    char png[1100];
    path_in(png, sizeof png, "digit.png");
    /* a gray 30x28 image (30 rows), pixel (i,j) = 4*i + j */
    uint8_t px[30 * 28];
    for (int i = 0; i < 30; i++)
        for (int j = 0; j < 28; j++) px[i * 28 + j] = (uint8_t)(4 * i + j);
    cg_scope_begin();
    cg_tensor *img = cg_from_data(CG_UINT8, CG_SHAPE(30, 28), px);
    assert_int_equal(cg_png_write(png, img), CG_OK);

    /* RGB resnet, Resize(28) crop at the centre: the largest square box is
     * 28x28, rows 1..28, so no resampling; gray copied to the three channels, /255 */
    cg_metadata md = {0};
    assert_int_equal(cg_model_metadata(&md, "resnet18", 3 * 28 * 28, 2, "cross_entropy", "3,7", "rgb:28x28"), CG_OK);
    assert_int_equal(cg_metadata_set(&md, "size", "28"), CG_OK);
    assert_int_equal(cg_metadata_set(&md, "resize_method", "crop"), CG_OK);
    cg_tensor *x = cg_model_input_from_png(&md, png);
    assert_non_null(x);
    assert_int_equal(x->ndim, 4);
    assert_int_equal(x->shape[0], 1);
    assert_int_equal(x->shape[1], 3);
    assert_int_equal(x->shape[2], 28);
    assert_int_equal(x->shape[3], 28);
    x = cg_contiguous(x);
    const float *d = cg_data_f32(x);
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < 28; i++)
            for (int j = 0; j < 28; j++)
                assert_true(d[(ch * 28 + i) * 28 + j] == (float)(4 * (i + 1) + j) / 255.0f);
    cg_metadata_free(&md);

    /* gray cnn without a size: a 30x28 image is refused, naming both sizes */
    assert_int_equal(cg_model_metadata(&md, "cnn", 28 * 28, 10, "cross_entropy", NULL, "gray:28x28"), CG_OK);
    assert_null(cg_model_input_from_png(&md, png));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "30x28"));
    /* with the size: [1,1,28,28] */
    assert_int_equal(cg_metadata_set(&md, "size", "28"), CG_OK);
    x = cg_model_input_from_png(&md, png);
    assert_non_null(x);
    assert_int_equal(x->ndim, 4);
    assert_int_equal(x->shape[1], 1);
    cg_metadata_free(&md);
    cg_scope_end();
}

/* The header is checked against the architecture before anything is built. */
static void test_file_checked_against_arch(void **state) {
    (void)state;
    cg_manual_seed(1);
    cg_module *m = cg_model_create_image("cnn", 1, 28, 28, 10);
    assert_non_null(m);
    char path[1100];
    path_in(path, sizeof path, "noinput.safetensors");
    /* no "input": the image shape is unknown */
    cg_metadata md = {0};
    assert_int_equal(cg_model_metadata(&md, "cnn", 784, 10, "cross_entropy", NULL, NULL), CG_OK);
    assert_int_equal(cg_model_save(m, path, &md), CG_OK);
    assert_null(cg_model_load(path, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "\"input\""));
    /* n_in that disagrees with the input */
    cg_metadata_free(&md);
    assert_int_equal(cg_model_metadata(&md, "cnn", 785, 10, "cross_entropy", NULL, "gray:28x28"), CG_OK);
    assert_int_equal(cg_model_save(m, path, &md), CG_OK);
    assert_null(cg_model_load(path, NULL));
    assert_non_null(strstr(cg_last_error(), "n_in"));
    /* an RGB input for weights of a gray first conv: the conv's shape is named */
    cg_metadata_free(&md);
    assert_int_equal(cg_model_metadata(&md, "cnn", 3 * 784, 10, "cross_entropy", NULL, "rgb:28x28"), CG_OK);
    assert_int_equal(cg_model_save(m, path, &md), CG_OK);
    assert_null(cg_model_load(path, NULL));
    assert_non_null(strstr(cg_last_error(), "holds"));
    cg_metadata_free(&md);

    /* 0.1.num_batches_tracked stored as float32 (4 bytes where int64 has 8):
     * refused from the header's data size, before the tensors are read */
    cg_named_tensors sd;
    assert_int_equal(cg_module_state_dict(m, &sd), CG_OK);
    cg_scope_begin();
    cg_tensor **ts = calloc((size_t)sd.n, sizeof *ts);
    assert_non_null(ts);
    int k = -1;
    for (int i = 0; i < sd.n; i++) {
        ts[i] = sd.tensors[i];
        if (!strcmp(sd.names[i], "0.1.num_batches_tracked")) k = i;
    }
    assert_true(k >= 0);
    float zero = 0;
    ts[k] = cg_from_data(CG_FLOAT32, 0, NULL, &zero);
    assert_non_null(ts[k]);
    cg_metadata all = {0};
    assert_int_equal(cg_model_metadata(&all, "cnn", 784, 10, "cross_entropy", NULL, "gray:28x28"), CG_OK);
    assert_int_equal(cg_safetensors_save(path, sd.n, (const char *const *)sd.names, ts, &all), CG_OK);
    assert_null(cg_model_load(path, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "holds"));
    cg_metadata_free(&all);
    free(ts);
    cg_scope_end();
    cg_named_tensors_free(&sd);
    cg_module_release(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_without_building),
        cmocka_unit_test(test_resnet18_round_trip),
        cmocka_unit_test(test_cnn_round_trip),
        cmocka_unit_test(test_cnn_wide_round_trip),
        cmocka_unit_test(test_input_from_image),
        cmocka_unit_test(test_file_checked_against_arch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
