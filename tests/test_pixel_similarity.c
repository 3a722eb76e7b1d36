/* The chapter's first classifier, pixel similarity, on the real MNIST_SAMPLE:
 * every number the book prints, exactly.  Computed as the chapter computes it:
 * stack, .float()/255, .mean(0), mnist_distance with broadcasting, is_3 = d3 < d7.
 * Also the 10-digit version on full MNIST (nearest of ten mean digits), whose
 * accuracies were computed with PyTorch on the same files:
 *     L1 0.6685 (6685 of 10000), RMSE 0.8203 (8203 of 10000). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

static const char *sample_root(void) {
    static char root[4096];
    if (!root[0]) assert_int_equal(cg_dataset_get("mnist_sample", NULL, root, sizeof root), CG_OK);
    return root;
}

static double item(cg_tensor *t) {
    double v = NAN;
    if (cg_item(t, &v) != CG_OK) fail_msg("item: %s", cg_last_error());
    return v;
}

/* Equal when printed with 4 decimals, as torch prints them. */
static void assert_4dp(double got, double want) {
    if (fabs(got - want) > 0.00005 + 1e-12) fail_msg("got %.6f, want %.4f", got, want);
}

static cg_tensor *stack_folder(const char *folder, size_t expect) {
    char *dir = cg_path_join(sample_root(), folder);
    cg_strlist files = {0};
    assert_int_equal(cg_ls(dir, &files), CG_OK);
    assert_int_equal(files.count, expect);
    cg_tensor *t = cg_div_s(cg_float(cg_png_read_many(&files, 0)), 255);
    assert_non_null(t);
    cg_strlist_free(&files);
    free(dir);
    return t;
}

static cg_tensor *mnist_distance(cg_tensor *a, cg_tensor *b) {
    return cg_mean(cg_abs(cg_sub(a, b)), (int[]){-1, -2}, 2, false);
}

static void test_three_vs_seven(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *stacked_threes = stack_folder("train/3", 6131);
    cg_tensor *stacked_sevens = stack_folder("train/7", 6265);
    assert_int_equal(stacked_threes->ndim, 3);
    assert_int_equal(stacked_threes->shape[1], 28);
    cg_tensor *mean3 = cg_mean(stacked_threes, (int[]){0}, 1, false);
    cg_tensor *mean7 = cg_mean(stacked_sevens, (int[]){0}, 1, false);

    /* a_3 = stacked_threes[1] is 10000.png, the chapter's im3 */
    cg_tensor *a_3 = cg_select(stacked_threes, 0, 1);
    assert_4dp(item(cg_mul_s(cg_slice(cg_select(a_3, 0, 7), 0, 8, 9, 1), 255)), 253);
    assert_4dp(item(cg_mean(cg_abs(cg_sub(a_3, mean3)), NULL, 0, false)), 0.1114);
    assert_4dp(item(cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean3), 2), NULL, 0, false))), 0.2021);
    assert_4dp(item(cg_mean(cg_abs(cg_sub(a_3, mean7)), NULL, 0, false)), 0.1586);
    assert_4dp(item(cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean7), 2), NULL, 0, false))), 0.3021);
    /* F.l1_loss(a_3.float(),mean7), F.mse_loss(a_3,mean7).sqrt() */
    assert_4dp(item(cg_l1_loss(cg_float(a_3), mean7)), 0.1586);
    assert_4dp(item(cg_sqrt(cg_mse_loss(a_3, mean7))), 0.3021);
    assert_4dp(item(mnist_distance(a_3, mean3)), 0.1114);

    cg_tensor *valid_3_tens = stack_folder("valid/3", 1010);
    cg_tensor *valid_7_tens = stack_folder("valid/7", 1028);
    cg_tensor *valid_3_dist = mnist_distance(valid_3_tens, mean3);
    assert_int_equal(valid_3_dist->ndim, 1);
    assert_int_equal(valid_3_dist->shape[0], 1010);

    cg_tensor *is_3_of_3s = cg_lt(mnist_distance(valid_3_tens, mean3), mnist_distance(valid_3_tens, mean7));
    cg_tensor *is_3_of_7s = cg_lt(mnist_distance(valid_7_tens, mean3), mnist_distance(valid_7_tens, mean7));
    assert_int_equal(is_3_of_3s->dtype, CG_BOOL);
    /* 926 of the 1010 threes and 1013 of the 1028 sevens are right */
    assert_int_equal((int64_t)item(cg_sum(is_3_of_3s, NULL, 0, false)), 926);
    assert_int_equal((int64_t)item(cg_sum(is_3_of_7s, NULL, 0, false)), 1028 - 1013);
    cg_tensor *accuracy_3s = cg_mean(cg_float(is_3_of_3s), NULL, 0, false);
    cg_tensor *accuracy_7s = cg_mean(cg_rsub_s(1, cg_float(is_3_of_7s)), NULL, 0, false);
    assert_4dp(item(accuracy_3s), 0.9168);
    assert_4dp(item(accuracy_7s), 0.9854);
    assert_4dp(item(cg_div_s(cg_add(accuracy_3s, accuracy_7s), 2)), 0.9511);

    /* printed the chapter's way */
    char *s = cg_format(accuracy_3s);
    assert_string_equal(s, "tensor(0.9168)");
    free(s);
    cg_scope_end();
}

static void test_ten_digits_full_mnist(void **state) {
    (void)state;
    cg_scope_begin();
    char root[4096];
    assert_int_equal(cg_dataset_get("mnist", NULL, root, sizeof root), CG_OK);
    char path[4200];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", root);
    cg_tensor *x_train = cg_div_s(cg_float(cg_idx_read(path)), 255);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", root);
    cg_tensor *y_train = cg_long(cg_idx_read(path));
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", root);
    cg_tensor *x_test = cg_div_s(cg_float(cg_idx_read(path)), 255);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", root);
    cg_tensor *y_test = cg_long(cg_idx_read(path));
    assert_non_null(x_train);
    assert_non_null(y_test);

    /* means[d] = x_train[y_train == d].mean(0), as a one-hot product:
     * onehot [10,60000] @ x [60000,784] / counts [10,1] */
    cg_tensor *digits = cg_arange(CG_INT64, 0, 10, 1);
    cg_tensor *onehot = cg_float(cg_eq(cg_unsqueeze(y_train, 0), cg_unsqueeze(digits, 1)));
    cg_tensor *sums = cg_matmul(onehot, cg_view(x_train, CG_SHAPE(60000, 784)));
    cg_tensor *means = cg_view(cg_div(sums, cg_sum(onehot, (int[]){1}, 1, true)), CG_SHAPE(10, 28, 28));
    assert_non_null(means);
    assert_int_equal((int64_t)item(cg_sum(onehot, NULL, 0, false)), 60000);

    /* nearest mean, in chunks of 1000 test images: [1000,1,28,28] - [10,28,28] */
    int64_t right_l1 = 0, right_rmse = 0;
    for (int64_t i = 0; i < 10000; i += 1000) {
        cg_scope_begin();
        cg_tensor *diff = cg_sub(cg_unsqueeze(cg_slice(x_test, 0, i, i + 1000, 1), 1), means);
        cg_tensor *l1 = cg_mean(cg_abs(diff), (int[]){-1, -2}, 2, false);
        cg_tensor *rmse = cg_sqrt(cg_mean(cg_pow_s(diff, 2), (int[]){-1, -2}, 2, false));
        cg_tensor *y = cg_slice(y_test, 0, i, i + 1000, 1);
        right_l1 += (int64_t)item(cg_sum(cg_eq(cg_argmin(l1, 1, false), y), NULL, 0, false));
        right_rmse += (int64_t)item(cg_sum(cg_eq(cg_argmin(rmse, 1, false), y), NULL, 0, false));
        cg_scope_end();
    }
    assert_int_equal(right_l1, 6685);
    assert_int_equal(right_rmse, 8203);
    cg_scope_end();
}

static int teardown(void **state) {
    (void)state;
    cg_pool_trim();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_vs_seven),
        cmocka_unit_test(test_ten_digits_full_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
