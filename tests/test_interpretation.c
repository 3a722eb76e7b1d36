/* ClassificationInterpretation: the confusion matrix, top losses, accuracy
 * and mean loss on hand-made predictions, and a pass over a DataLoader with a
 * hand-set linear model whose probabilities and losses are computed by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad.h"

/* Six items of three classes:
 *   item  probs              pred  target  loss
 *   0     .7 .2 .1           0     0       0.3
 *   1     .1 .8 .1           1     1       0.2
 *   2     .5 .3 .2           0     1       1.2
 *   3     .2 .2 .6           2     0       1.6
 *   4     .3 .3 .4           2     2       0.9   (pred 2: the largest)
 *   5     .4 .4 .2           0     2       1.6   (a tie: argmax takes the first)
 * confusion (rows actual): actual 0 -> pred 0 once, pred 2 once; actual 1 ->
 * pred 0 once, pred 1 once; actual 2 -> pred 0 once, pred 2 once. */
static const float probs[18] = {.7f, .2f, .1f, .1f, .8f, .1f, .5f, .3f, .2f,
                                .2f, .2f, .6f, .3f, .3f, .4f, .4f, .4f, .2f};
static const int64_t targets[6] = {0, 1, 1, 0, 2, 2};
static const double losses[6] = {0.3, 0.2, 1.2, 1.6, 0.9, 1.6};

static void test_by_hand(void **state) {
    (void)state;
    cg_interp in;
    assert_int_equal(cg_interp_from_arrays(6, 3, probs, targets, losses, &in), CG_OK);
    const int64_t preds[6] = {0, 1, 0, 2, 2, 0};
    for (int i = 0; i < 6; i++) assert_int_equal(in.preds[i], preds[i]);
    /* 3 of 6 right; mean loss 5.8 / 6 */
    assert_true(fabs(cg_interp_accuracy(&in) - 0.5) < 1e-12);
    assert_true(fabs(cg_interp_mean_loss(&in) - 5.8 / 6) < 1e-12);
    int64_t cm[9];
    assert_int_equal(cg_interp_confusion_matrix(&in, cm), CG_OK);
    const int64_t want[9] = {1, 0, 1, 1, 1, 0, 1, 0, 1};
    for (int i = 0; i < 9; i++) assert_int_equal(cm[i], want[i]);
    /* top 4: 1.6 (item 3), 1.6 (item 5: tie, lower index first), 1.2, 0.9 */
    int64_t top[4];
    assert_int_equal(cg_interp_top_losses(&in, 4, top), 4);
    const int64_t want_top[4] = {3, 5, 2, 4};
    for (int i = 0; i < 4; i++) assert_int_equal(top[i], want_top[i]);
    /* k larger than n gives n */
    int64_t all[10];
    assert_int_equal(cg_interp_top_losses(&in, 10, all), 6);
    assert_int_equal(all[5], 1); /* the smallest loss, 0.2, last */
    cg_interp_free(&in);
    assert_null(in.probs);
    /* a target outside the classes is refused, naming the item */
    const int64_t bad[6] = {0, 1, 3, 0, 2, 2};
    assert_int_equal(cg_interp_from_arrays(6, 3, probs, bad, losses, &in), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "item 2"));
}

/* A linear model 2 -> 2 with weights set by hand over four items, cross
 * entropy: logits = x W^T + b, W = [[1,0],[0,1]], b = 0.
 *   x = (2,0): softmax(2,0) = (0.8808, 0.1192), target 0: loss -ln 0.8808 = 0.12693
 *   x = (0,1): softmax(0,1) = (0.2689, 0.7311), target 0: loss 1.31326
 *   x = (0,3): (0.04743, 0.95257), target 1: loss 0.04859
 *   x = (1,1): (0.5, 0.5), target 1: loss ln 2 = 0.69315, pred 0 (first on a tie) */
static void test_from_model(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *x = cg_from_floats(CG_SHAPE(4, 2), (float[]){2, 0, 0, 1, 0, 3, 1, 1});
    cg_tensor *y = cg_from_data(CG_INT64, CG_SHAPE(4), (int64_t[]){0, 0, 1, 1});
    cg_dataloaders *dls = cg_tensor_dataloaders(x, y, x, y, 3, false, 0); /* batches of 3 and 1 */
    assert_non_null(dls);
    cg_module *m = cg_model_create("linear", 2, 2);
    assert_non_null(m);
    cg_tensor *w = m->params[0], *b = m->params[1];
    assert_int_equal(w->shape[0], 2);
    cg_no_grad_begin(); /* in-place writes to leaves that require grad */
    assert_int_equal(cg_fill_(w, 0), CG_OK);
    assert_int_equal(cg_set(w, (int64_t[]){0, 0}, 1), CG_OK);
    assert_int_equal(cg_set(w, (int64_t[]){1, 1}, 1), CG_OK);
    assert_int_equal(cg_fill_(b, 0), CG_OK);
    cg_no_grad_end();
    const cg_loss *ce = cg_loss_by_name("cross_entropy");
    cg_interp in;
    assert_int_equal(cg_interp_from_model(m, dls->valid, ce, &in), CG_OK);
    assert_int_equal(in.n, 4);
    assert_int_equal(in.n_classes, 2);
    const double p0[4] = {0.880797, 0.268941, 0.047426, 0.5};
    const double loss[4] = {0.126928, 1.313262, 0.048587, 0.693147};
    const int64_t pred[4] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) {
        assert_true(fabs(in.probs[2 * i] - p0[i]) < 1e-5);
        assert_true(fabs(in.losses[i] - loss[i]) < 1e-5);
        assert_int_equal(in.preds[i], pred[i]);
        assert_int_equal(in.targets[i], i < 2 ? 0 : 1);
    }
    /* right: items 0 and 2 */
    assert_true(fabs(cg_interp_accuracy(&in) - 0.5) < 1e-12);
    assert_true(m->training); /* put back as it was */
    int64_t top[1];
    assert_int_equal(cg_interp_top_losses(&in, 1, top), 1);
    assert_int_equal(top[0], 1);
    cg_interp_free(&in);
    cg_module_release(m);
    cg_dataloaders_free(dls);
    cg_scope_end();
}

static void test_plots(void **state) {
    (void)state;
    /* Blues' ends and middle (ColorBrewer stop 4, #6baed6) */
    assert_int_equal(cg_blues(0), 0xf7fbff);
    assert_int_equal(cg_blues(1), 0x08306b);
    assert_int_equal(cg_blues(0.5), 0x6baed6);
    const int64_t cm[4] = {9, 1, 0, 5};
    char path[] = "/tmp/cgrad-test-interp-XXXXXX";
    assert_non_null(mkdtemp(path));
    char png[256], svg[256];
    snprintf(png, sizeof png, "%s/cm.png", path);
    snprintf(svg, sizeof svg, "%s/cm.svg", path);
    assert_int_equal(cg_plot_confusion_matrix(cm, 2, (const char *const[]){"3", "7"}, png), CG_OK);
    cg_scope_begin();
    cg_tensor *img = cg_png_read(png, 3);
    assert_non_null(img);
    assert_int_equal(img->shape[1], 600);
    /* the darkest cell (9, the max) is Blues(1) = #08306b somewhere */
    const uint8_t *d = cg_data(img);
    size_t plane = 600 * 600, dark = 0;
    for (size_t i = 0; i < plane; i++) dark += d[i] == 0x08 && d[plane + i] == 0x30 && d[2 * plane + i] == 0x6b;
    assert_true(dark > 10000);
    cg_scope_end();
    assert_int_equal(cg_plot_confusion_matrix(cm, 2, NULL, svg), CG_OK);
    void *text;
    size_t len;
    assert_int_equal(cg_read_file(svg, &text, &len), CG_OK);
    assert_non_null(strstr(text, "<svg"));
    free(text);
    unlink(png);
    unlink(svg);
    rmdir(path);
}

/* The top losses are named by their files (fastai's dl.items[idx]): an image
 * folder's item knows its path, a tensor dataset's has none. */
static void test_item_sources(void **state) {
    (void)state;
    char root[] = "/tmp/cgrad-test-interp-src-XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[256], files[3][256];
    const char *names[3] = {"valid/a/1.png", "valid/a/2.png", "valid/b/1.png"};
    cg_scope_begin();
    cg_tensor *img = cg_zeros(CG_UINT8, CG_SHAPE(2, 2));
    for (int i = 0; i < 3; i++) {
        snprintf(files[i], sizeof files[i], "%s/%s", root, names[i]);
        snprintf(dir, sizeof dir, "%s/%.7s", root, names[i]);
        assert_int_equal(cg_mkdirs(dir), CG_OK);
        assert_int_equal(cg_png_write(files[i], img), CG_OK);
    }
    cg_dataset *ds = cg_dataset_image_folder(root, "valid", NULL);
    assert_non_null(ds);
    assert_int_equal(cg_dataset_len(ds), 3);
    for (int i = 0; i < 3; i++) assert_string_equal(cg_dataset_item_source(ds, i), files[i]);
    assert_null(cg_dataset_item_source(ds, 3));
    assert_null(cg_dataset_item_source(ds, -1));
    cg_dataset_release(ds);
    cg_dataset *t = cg_dataset_from_tensors(cg_zeros(CG_FLOAT32, CG_SHAPE(2, 3)), NULL);
    assert_non_null(t);
    assert_null(cg_dataset_item_source(t, 0)); /* tensors: no file */
    cg_dataset_release(t);
    cg_scope_end();
    for (int i = 2; i >= 0; i--) unlink(files[i]);
    snprintf(dir, sizeof dir, "%s/valid/a", root), rmdir(dir);
    snprintf(dir, sizeof dir, "%s/valid/b", root), rmdir(dir);
    snprintf(dir, sizeof dir, "%s/valid", root), rmdir(dir);
    rmdir(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_from_model),
        cmocka_unit_test(test_plots),
        cmocka_unit_test(test_item_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
