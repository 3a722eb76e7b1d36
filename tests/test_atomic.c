/* Atomic file writing (include/cgrad/fileio.h): the target holds the old bytes
 * or the new ones, never a mix, and no temp file is left behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad.h"

static char dir[256];

static int make_dir(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cgrad-test-atomic-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    return cg_remove_tree(dir) == CG_OK ? 0 : -1;
}

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* The file's bytes as a C string ("" if missing), in a static buffer. */
static const char *contents(const char *path) {
    static char text[4096];
    text[0] = '\0';
    FILE *fp = fopen(path, "rb");
    if (!fp) return "<missing>";
    size_t got = fread(text, 1, sizeof text - 1, fp);
    text[got] = '\0';
    fclose(fp);
    return text;
}

/* Entries of `dir` other than . and .. */
static int entries_in(const char *d) {
    DIR *dp = opendir(d);
    if (!dp) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(dp);
    return n;
}

static void test_write_file_creates_and_replaces(void **state) {
    (void)state;
    char path[512];
    path_in(path, sizeof path, "weights.bin");
    assert_int_equal(cg_atomic_write_file(path, "first", 5), CG_OK);
    assert_string_equal(contents(path), "first");
    assert_int_equal(cg_atomic_write_file(path, "second!", 7), CG_OK);
    assert_string_equal(contents(path), "second!");
    assert_int_equal(entries_in(dir), 1); /* no temp file left */
}

static void test_abort_leaves_old_file_intact(void **state) {
    (void)state;
    char path[512];
    path_in(path, sizeof path, "model.txt");
    assert_int_equal(cg_atomic_write_file(path, "old model\n", 10), CG_OK);

    cg_atomic_file *f = cg_atomic_open(path);
    assert_non_null(f);
    assert_string_equal(cg_atomic_path(f), path);
    assert_int_equal(cg_atomic_printf(f, "new model, epoch %d\n", 3), CG_OK);
    assert_int_equal(cg_atomic_write(f, "half", 4), CG_OK);
    assert_int_equal(cg_atomic_size(f), strlen("new model, epoch 3\n") + 4);
    /* While the new bytes are being written, readers still see the old file... */
    assert_string_equal(contents(path), "old model\n");
    assert_int_equal(entries_in(dir), 2); /* the target and its temp file */
    cg_atomic_abort(f);
    /* ...and after an abort too, with the temp file gone. */
    assert_string_equal(contents(path), "old model\n");
    assert_int_equal(entries_in(dir), 1);
}

static void test_stream_and_commit(void **state) {
    (void)state;
    char path[512];
    path_in(path, sizeof path, "report.csv");
    cg_atomic_file *f = cg_atomic_open(path);
    assert_non_null(f);
    FILE *fp = cg_atomic_stream(f);
    assert_non_null(fp);
    fprintf(fp, "epoch,train_loss\n0,0.1234\n");
    assert_string_equal(contents(path), "<missing>"); /* nothing under the final name yet */
    assert_int_equal(cg_atomic_commit(f), CG_OK);
    assert_string_equal(contents(path), "epoch,train_loss\n0,0.1234\n");
}

static void test_missing_directory_is_an_io_error(void **state) {
    (void)state;
    char path[512];
    path_in(path, sizeof path, "no/such/dir/file.bin");
    assert_null(cg_atomic_open(path));
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "no/such/dir/file.bin"));
    assert_int_equal(cg_atomic_write_file(path, "x", 1), CG_ERR_IO);
}

static void test_mkdirs_read_file_remove_tree(void **state) {
    (void)state;
    char deep[512], file[600];
    path_in(deep, sizeof deep, "a/b/c");
    assert_int_equal(cg_mkdirs(deep), CG_OK);
    assert_int_equal(cg_mkdirs(deep), CG_OK); /* existing is fine */
    snprintf(file, sizeof file, "%s/labels.csv", deep);
    assert_int_equal(cg_atomic_write_file(file, "name,label\n", 11), CG_OK);
    assert_int_equal(cg_mkdirs(file), CG_ERR_IO); /* a file is in the way */

    void *data;
    size_t len;
    assert_int_equal(cg_read_file(file, &data, &len), CG_OK);
    assert_int_equal(len, 11);
    assert_string_equal((char *)data, "name,label\n"); /* NUL-terminated */
    free(data);

    char top[512];
    path_in(top, sizeof top, "a");
    assert_int_equal(cg_remove_tree(top), CG_OK);
    struct stat sb;
    assert_int_not_equal(stat(top, &sb), 0);
    assert_int_equal(cg_remove_tree(top), CG_OK); /* already gone is fine */
    assert_int_equal(cg_read_file(file, &data, &len), CG_ERR_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_file_creates_and_replaces, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_abort_leaves_old_file_intact, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_stream_and_commit, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_missing_directory_is_an_io_error, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_mkdirs_read_file_remove_tree, make_dir, remove_dir),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
