/* Folder listing (Path.ls().sorted()), image folders (from_folder's items and
 * vocab) and labels.csv, on MNIST_SAMPLE and on small trees made here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad.h"

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cgrad-test-listing-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cg_remove_tree(tmpdir);
    cg_pool_trim();
    return 0;
}

static const char *sample_root(void) {
    static char root[4096];
    if (!root[0]) assert_int_equal(cg_dataset_get("mnist_sample", NULL, root, sizeof root), CG_OK);
    return root;
}

static char *in_tmp(const char *rel) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, rel);
    return buf;
}

static void touch(const char *rel) {
    FILE *f = fopen(in_tmp(rel), "wb");
    assert_non_null(f);
    fclose(f);
}

static void make_dir(const char *rel) { assert_int_equal(cg_mkdirs(in_tmp(rel)), CG_OK); }

static bool ends_with(const char *s, const char *suffix) {
    size_t ns = strlen(s), nx = strlen(suffix);
    return ns >= nx && !strcmp(s + ns - nx, suffix);
}

static void test_paths(void **state) {
    (void)state;
    char *p = cg_path_join("a/b/", "c.png");
    assert_string_equal(p, "a/b/c.png");
    free(p);
    p = cg_path_join("/", "x");
    assert_string_equal(p, "/x");
    free(p);
    p = cg_path_join("", "x");
    assert_string_equal(p, "x");
    free(p);
    assert_string_equal(cg_path_name("/d/train/3/10.png"), "10.png");
    assert_string_equal(cg_path_name("plain"), "plain");
}

static void test_ls_sorted_like_python(void **state) {
    (void)state;
    /* sorted(["9.png","10.png","10000.png","B","a",".hidden"]) in Python */
    touch("9.png"), touch("10.png"), touch("10000.png"), touch("a"), touch(".hidden");
    make_dir("B");
    cg_strlist l = {0};
    assert_int_equal(cg_ls(tmpdir, &l), CG_OK);
    const char *want[6] = {".hidden", "10.png", "10000.png", "9.png", "B", "a"};
    assert_int_equal(l.count, 6);
    for (int i = 0; i < 6; i++) assert_string_equal(l.items[i], in_tmp(want[i]));
    cg_strlist_free(&l);
    assert_null(l.items);
    cg_strlist_free(&l); /* a second free is harmless */

    assert_int_equal(cg_ls_ext(tmpdir, ".PNG", &l), CG_OK); /* case-insensitive, files only */
    assert_int_equal(l.count, 3);
    assert_true(ends_with(l.items[2], "/9.png"));
    cg_strlist_free(&l);

    /* links to files count as files (Python follows them); a link to a folder does not */
    make_dir("links/sub.png");
    touch("links/a.png");
    char target[512];
    snprintf(target, sizeof target, "%s", in_tmp("links/a.png"));
    assert_int_equal(symlink(target, in_tmp("links/b.png")), 0);
    snprintf(target, sizeof target, "%s", in_tmp("links/sub.png"));
    assert_int_equal(symlink(target, in_tmp("links/c.png")), 0);
    snprintf(target, sizeof target, "%s", in_tmp("links"));
    assert_int_equal(cg_ls_ext(target, ".png", &l), CG_OK);
    assert_int_equal(l.count, 2);
    assert_true(ends_with(l.items[1], "/links/b.png"));
    cg_strlist_free(&l);

    assert_int_equal(cg_ls(in_tmp("nope"), &l), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "nope"));
    assert_int_equal(l.count, 0);
}

static void test_mnist_sample_listing(void **state) {
    (void)state;
    const char *root = sample_root();
    cg_strlist l = {0};
    char *train = cg_path_join(root, "train");
    assert_int_equal(cg_ls(train, &l), CG_OK); /* (path/'train').ls() */
    assert_int_equal(l.count, 2);
    assert_true(ends_with(l.items[0], "train/3"));
    assert_true(ends_with(l.items[1], "train/7"));
    cg_strlist_free(&l);

    /* threes = (path/'train'/'3').ls().sorted(); threes[1] is 10000.png */
    const char *dirs[4] = {"train/3", "train/7", "valid/3", "valid/7"};
    const size_t counts[4] = {6131, 6265, 1010, 1028};
    for (int k = 0; k < 4; k++) {
        char *d = cg_path_join(root, dirs[k]);
        assert_int_equal(cg_ls(d, &l), CG_OK);
        assert_int_equal(l.count, counts[k]);
        for (size_t i = 1; i < l.count; i++) assert_true(strcmp(l.items[i - 1], l.items[i]) < 0);
        if (k == 0) {
            assert_true(ends_with(l.items[0], "train/3/10.png"));
            assert_true(ends_with(l.items[1], "train/3/10000.png"));
            assert_true(ends_with(l.items[2], "train/3/10011.png"));
        }
        cg_strlist_free(&l);
        free(d);
    }
    free(train);
}

static void test_image_folder_mnist_sample(void **state) {
    (void)state;
    const char *root = sample_root();
    cg_labelled_files f = {0};
    assert_int_equal(cg_image_folder_list(root, "valid", &f), CG_OK);
    assert_int_equal(f.classes.count, 2);
    assert_string_equal(f.classes.items[0], "3");
    assert_string_equal(f.classes.items[1], "7");
    assert_int_equal(f.paths.count, 2038);
    int64_t per_class[2] = {0, 0};
    for (size_t i = 0; i < f.paths.count; i++) {
        per_class[f.labels[i]]++;
        /* the label is the parent folder's name */
        const char *want = f.labels[i] == 0 ? "/valid/3/" : "/valid/7/";
        assert_non_null(strstr(f.paths.items[i], want));
        if (i) assert_true(strcmp(f.paths.items[i - 1], f.paths.items[i]) < 0);
    }
    assert_int_equal(per_class[0], 1010);
    assert_int_equal(per_class[1], 1028);
    cg_labelled_files_free(&f);

    assert_int_equal(cg_image_folder_list(root, "train", &f), CG_OK);
    assert_int_equal(f.paths.count, 6131 + 6265);
    assert_int_equal(f.labels[0], 0);
    assert_int_equal(f.labels[f.paths.count - 1], 1);
    cg_labelled_files_free(&f);

    assert_int_equal(cg_image_folder_list(root, "test", &f), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "test"));
    assert_int_equal(f.paths.count, 0);
}

static void test_image_folder_vocab_spans_splits(void **state) {
    (void)state;
    /* train has classes a, c; valid has b: the vocab is [a, b, c] for both. */
    make_dir("tree/train/c"), make_dir("tree/train/a"), make_dir("tree/valid/b");
    make_dir("tree/train/.ipynb_checkpoints");
    touch("tree/train/a/1.png"), touch("tree/train/c/2.png"), touch("tree/train/c/notes.txt");
    touch("tree/train/.ipynb_checkpoints/x.png");
    touch("tree/valid/b/3.png");
    char root[512];
    snprintf(root, sizeof root, "%s", in_tmp("tree"));
    cg_labelled_files f = {0};
    assert_int_equal(cg_image_folder_list(root, "train", &f), CG_OK);
    assert_int_equal(f.classes.count, 3);
    assert_string_equal(f.classes.items[1], "b");
    assert_int_equal(f.paths.count, 2);
    assert_int_equal(f.labels[0], 0);
    assert_int_equal(f.labels[1], 2);
    cg_labelled_files_free(&f);
    assert_int_equal(cg_image_folder_list(root, "valid", &f), CG_OK);
    assert_int_equal(f.paths.count, 1);
    assert_int_equal(f.labels[0], 1);
    cg_labelled_files_free(&f);

    make_dir("empty/train/x");
    snprintf(root, sizeof root, "%s", in_tmp("empty"));
    assert_int_equal(cg_image_folder_list(root, "train", &f), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "no .png files"));
}

static void test_labels_csv(void **state) {
    (void)state;
    char *csv = cg_path_join(sample_root(), "labels.csv");
    cg_labelled_files f = {0};
    assert_int_equal(cg_labels_csv_read(csv, &f), CG_OK);
    assert_int_equal(f.paths.count, 14434);
    assert_int_equal(f.classes.count, 2);
    assert_string_equal(f.classes.items[0], "0");
    assert_string_equal(f.classes.items[1], "1");
    assert_true(ends_with(f.paths.items[0], "/train/3/7463.png")); /* first row, file order */
    assert_int_equal(f.labels[0], 0);
    int64_t sevens = 0;
    for (size_t i = 0; i < f.paths.count; i++) {
        sevens += f.labels[i];
        assert_int_equal(f.labels[i], strstr(f.paths.items[i], "/7/") ? 1 : 0);
    }
    assert_int_equal(sevens, 6265 + 1028);
    /* every row names an existing file */
    struct stat st;
    assert_int_equal(stat(f.paths.items[14433], &st), 0);
    cg_labelled_files_free(&f);
    free(csv);

    FILE *out = fopen(in_tmp("bad.csv"), "w");
    fputs("name,label\na.png,0\nb.png\n", out);
    fclose(out);
    assert_int_equal(cg_labels_csv_read(in_tmp("bad.csv"), &f), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "bad.csv:3"));
    assert_int_equal(f.paths.count, 0);

    out = fopen(in_tmp("crlf.csv"), "w");
    fputs("name,label\r\nx/b.png,cat\r\nx/a.png,ant\r\n", out);
    fclose(out);
    assert_int_equal(cg_labels_csv_read(in_tmp("crlf.csv"), &f), CG_OK);
    assert_int_equal(f.paths.count, 2);
    assert_string_equal(f.classes.items[0], "ant");
    assert_int_equal(f.labels[0], 1);
    assert_true(ends_with(f.paths.items[0], "/x/b.png"));
    cg_labelled_files_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_ls_sorted_like_python),
        cmocka_unit_test(test_mnist_sample_listing),
        cmocka_unit_test(test_image_folder_mnist_sample),
        cmocka_unit_test(test_image_folder_vocab_spans_splits),
        cmocka_unit_test(test_labels_csv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
