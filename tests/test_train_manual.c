/* test_train_manual.c — the chapter's two manual training runs on the real
 * MNIST_SAMPLE, with accuracy floors: the linear model from scratch (book
 * 0.9696 after 21 epochs) and nn.Linear with BasicOptim / SGD (book 0.9785).
 * Seeded, so the exact trajectory is also pinned: with seed 42 these runs give
 * the same per-epoch accuracies as PyTorch 1.13 (checked by hand against a
 * Python replay of the chapter). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "../examples/chapter4_mnist.h"

static chapter4_data data;
static cg_dataloaders *dls;
static cg_dataloader *dl, *valid_dl;

static int setup(void **state) {
    (void)state;
    cg_scope_begin(); /* holds the data until teardown */
    if (chapter4_load(&data) != CG_OK) {
        fprintf(stderr, "%s\n", cg_last_error());
        return -1;
    }
    dls = cg_tensor_dataloaders(data.train_x, data.train_y, data.valid_x, data.valid_y, 256, false, 0);
    if (!dls) return -1;
    dl = dls->train, valid_dl = dls->valid;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    cg_dataloaders_free(dls);
    cg_scope_end();
    cg_pool_trim();
    return 0;
}


static void test_shapes(void **state) {
    (void)state;
    assert_int_equal(data.train_x->shape[0], 6131 + 6265);
    assert_int_equal(data.train_x->shape[1], 784);
    assert_int_equal(data.train_y->shape[1], 1);
    assert_int_equal(data.valid_x->shape[0], 1010 + 1028);
    assert_int_equal(cg_dataloader_len(dl), 49); /* ceil(12396/256) */
}

/* init_params, linear1, mnist_loss, lr 1, 1 + 20 epochs: the book ends at 0.9696. */
static void test_linear_from_scratch(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_ch4_linear1 lin = {cg_init_params(CG_SHAPE(784, 1), 1.0), cg_init_params(CG_SHAPE(1), 1.0)};
    cg_tensor *params[2] = {lin.weights, lin.bias};
    /* the library's train_epoch/validate_epoch, which `cgrad chapter4` and the examples run */
    double first = cg_ch4_validate_epoch(cg_ch4_linear1_forward, &lin, valid_dl), acc = 0;
    assert_float_equal(first, 0.5476, 1e-9); /* PyTorch: torch.manual_seed(42), same init */
    for (int epoch = 0; epoch < 21; epoch++) {
        assert_int_equal(cg_ch4_train_epoch(cg_ch4_linear1_forward, &lin, dl, 1.0, params, 2), CG_OK);
        acc = cg_ch4_validate_epoch(cg_ch4_linear1_forward, &lin, valid_dl);
        if (epoch == 0) assert_float_equal(acc, 0.7304, 1e-9); /* PyTorch, same seed */
    }
    printf("linear from scratch, 21 epochs: %.4f (book 0.9696)\n", acc);
    assert_true(acc >= 0.96);
    cg_release(lin.weights);
    cg_release(lin.bias);
}

/* The trained model as a model file: cg_model_load rebuilds it from the
 * metadata with identical outputs, cg_model_predict / `cgrad predict` name the
 * class of real validation images ("3" is label 1, as train_y says). */
static void save_and_predict(cg_module *model) {
    char file[1100], path[4096];
    const char *bin = getenv("CGRAD_BINARY_DIR");
    snprintf(file, sizeof file, "%s/test-train-manual-linear.safetensors", bin ? bin : ".");
    cg_metadata md = {0};
    assert_int_equal(cg_model_metadata(&md, "linear", 784, 1, "mnist_loss", "7,3", "gray:28x28"), CG_OK);
    assert_int_equal(cg_model_save(model, file, &md), CG_OK);
    cg_metadata_free(&md);
    cg_module *back = cg_model_load(file, &md);
    assert_non_null(back);
    assert_int_equal(cg_untar_data("mnist_sample", path, sizeof path), CG_OK);
    const char *images[4] = {"valid/3", "valid/7", "valid/3", "valid/7"};
    int right = 0;
    for (int k = 0; k < 4; k++) {
        cg_scope_begin();
        char *dir = cg_path_join(path, images[k]);
        cg_strlist files = {0};
        assert_int_equal(cg_ls_ext(dir, ".png", &files), CG_OK);
        const char *img = files.items[k * 7]; /* a few different images */
        cg_tensor *x = cg_model_input_from_png(&md, img);
        assert_non_null(x);
        assert_int_equal(x->shape[1], 784);
        cg_prediction p;
        assert_int_equal(cg_model_predict(back, &md, x, &p), CG_OK);
        assert_int_equal(p.n_classes, 2);
        /* the same probability as the in-memory model's sigmoid(model(x)) */
        double direct;
        cg_no_grad_begin();
        assert_int_equal(cg_item(cg_sigmoid(cg_module_forward(model, x)), &direct), CG_OK);
        cg_no_grad_end();
        assert_float_equal(p.probs[1], direct, 1e-7);
        assert_float_equal(p.probs[0] + p.probs[1], 1.0, 1e-7);
        right += !strcmp(p.name, images[k] + 6);
        /* the CLI prints the same: "<class>\t<prob>\t<image>" */
        char cmd[3000], line[512] = "", expect[600];
        snprintf(cmd, sizeof cmd, "'%s/cgrad' predict --model '%s' '%s'", bin ? bin : ".", file, img);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        assert_int_equal(pclose(f), 0);
        snprintf(expect, sizeof expect, "%s\t%.4f\t%s\n", p.name, p.probability, img);
        assert_string_equal(line, expect);
        cg_prediction_free(&p);
        cg_strlist_free(&files);
        free(dir);
        cg_scope_end();
    }
    assert_true(right >= 3);
    /* a wrong-size image is a clear error */
    cg_scope_begin();
    cg_tensor *big = cg_zeros(CG_UINT8, CG_SHAPE(30, 28));
    char png[1100];
    snprintf(png, sizeof png, "%s/test-train-manual-30x28.png", bin ? bin : ".");
    assert_int_equal(cg_png_write(png, big), CG_OK);
    assert_null(cg_model_input_from_png(&md, png));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "30x28"));
    cg_scope_end();
    remove(png);
    remove(file);
    cg_metadata_free(&md);
    cg_module_release(back);
}

/* nn.Linear + BasicOptim, and nn.Linear + SGD from the same init: SGD without
 * momentum is BasicOptim, so the weights stay bit-identical. */
static void test_basic_optim_and_sgd(void **state) {
    (void)state;
    cg_manual_seed(42);
    cg_module *a = cg_nn_linear(784, 1, true);
    cg_manual_seed(42);
    cg_module *b = cg_nn_linear(784, 1, true);
    cg_named_tensors pa, pb;
    cg_module_named_parameters(a, &pa);
    cg_module_named_parameters(b, &pb);
    cg_optimizer *basic = cg_basic_optim(pa.tensors, pa.n, 1.0);
    cg_optimizer *sgd = cg_sgd(pb.tensors, pb.n, 1.0, 0, 0);
    double acc = 0;
    for (int epoch = 0; epoch < 20; epoch++) {
        cg_tensor *xb, *yb;
        for (;;) {
            cg_scope_begin(); /* open before next(): the batch belongs to this step's scope */
            if (!cg_dataloader_next(dl, &xb, &yb)) {
                cg_scope_end();
                break;
            }
            assert_int_equal(cg_backward(cg_mnist_loss(cg_module_forward(a, xb), yb), NULL), CG_OK);
            assert_int_equal(cg_optimizer_step(basic), CG_OK);
            cg_optimizer_zero_grad(basic);
            assert_int_equal(cg_backward(cg_mnist_loss(cg_module_forward(b, xb), yb), NULL), CG_OK);
            assert_int_equal(cg_optimizer_step(sgd), CG_OK);
            cg_optimizer_zero_grad(sgd);
            cg_scope_end();
        }
        acc = cg_ch4_validate_epoch(cg_ch4_module_forward, a, valid_dl);
        if (epoch == 0) assert_float_equal(acc, 0.4932, 1e-9); /* PyTorch, same seed */
    }
    for (int i = 0; i < pa.n; i++)
        assert_memory_equal(cg_data_f32(pa.tensors[i]), cg_data_f32(pb.tensors[i]),
                            (size_t)cg_numel(pa.tensors[i]) * sizeof(float));
    printf("nn.Linear + BasicOptim, 20 epochs: %.4f (book 0.9785)\n", acc);
    assert_true(acc >= 0.97);
    save_and_predict(a);
    cg_optimizer_free(basic);
    cg_optimizer_free(sgd);
    cg_named_tensors_free(&pa);
    cg_named_tensors_free(&pb);
    cg_module_release(a);
    cg_module_release(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_linear_from_scratch),
        cmocka_unit_test(test_basic_optim_and_sgd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
