/* IDX files: the four real MNIST files (through the dataset cache), raw and
 * gzip files made here, and every documented error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cgrad.h"

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cgrad-test-idx-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cg_strlist files = {0};
    if (cg_ls(tmpdir, &files) == CG_OK)
        for (size_t i = 0; i < files.count; i++) unlink(files.items[i]);
    cg_strlist_free(&files);
    rmdir(tmpdir);
    cg_pool_trim();
    return 0;
}

static char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static char *mnist_file(const char *name) {
    static char root[4096];
    if (!root[0]) assert_int_equal(cg_dataset_get("mnist", NULL, root, sizeof root), CG_OK);
    static char buf[4200];
    snprintf(buf, sizeof buf, "%s/%s", root, name);
    return buf;
}

static void write_bytes(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void write_gz(const char *path, const uint8_t *data, size_t n) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
    gzclose(f);
}

/* Counts of each digit among uint8 labels. */
static void count_labels(const cg_tensor *labels, int64_t counts[10]) {
    memset(counts, 0, 10 * sizeof *counts);
    const uint8_t *p = cg_data(labels);
    for (int64_t i = 0; i < labels->shape[0]; i++) {
        assert_true(p[i] < 10);
        counts[p[i]]++;
    }
}

static void test_real_mnist(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *test_labels = cg_idx_read(mnist_file("t10k-labels-idx1-ubyte.gz"));
    assert_non_null(test_labels);
    assert_int_equal(test_labels->dtype, CG_UINT8);
    assert_int_equal(test_labels->ndim, 1);
    assert_int_equal(test_labels->shape[0], 10000);
    const uint8_t first[10] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    assert_memory_equal(cg_data(test_labels), first, 10);
    int64_t counts[10];
    count_labels(test_labels, counts);
    const int64_t test_counts[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    assert_memory_equal(counts, test_counts, sizeof counts);

    cg_tensor *test_images = cg_idx_read(mnist_file("t10k-images-idx3-ubyte.gz"));
    assert_non_null(test_images);
    assert_int_equal(test_images->ndim, 3);
    assert_int_equal(test_images->shape[0], 10000);
    assert_int_equal(test_images->shape[1], 28);
    assert_int_equal(test_images->shape[2], 28);
    /* numpy on the same file: x[0].sum() == 18454, x.sum() == 264923200,
     * x[0][7,6:12] == [84, 185, 159, 151, 60, 36] */
    const uint8_t *px = cg_data(test_images);
    int64_t sum0 = 0, sum = 0;
    for (int i = 0; i < 784; i++) sum0 += px[i];
    for (int64_t i = 0; i < 10000 * 784; i++) sum += px[i];
    assert_int_equal(sum0, 18454);
    assert_int_equal(sum, 264923200);
    assert_memory_equal(px + 7 * 28 + 6, ((uint8_t[]){84, 185, 159, 151, 60, 36}), 6);

    cg_tensor *train_labels = cg_idx_read(mnist_file("train-labels-idx1-ubyte.gz"));
    assert_non_null(train_labels);
    count_labels(train_labels, counts);
    const int64_t train_counts[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    assert_memory_equal(counts, train_counts, sizeof counts);

    /* PyTorch's targets are int64: cg_long */
    cg_tensor *targets = cg_long(test_labels);
    assert_int_equal(targets->dtype, CG_INT64);
    assert_int_equal(cg_get(targets, (int64_t[]){7}), 9);
    cg_scope_end();
}

/* A small valid file: magic 0x803, [2,2,3], data 0..11. */
static size_t small_idx(uint8_t *buf) {
    const uint8_t header[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    memcpy(buf, header, 16);
    for (int i = 0; i < 12; i++) buf[16 + i] = (uint8_t)i;
    return 28;
}

static void test_raw_and_gz(void **state) {
    (void)state;
    cg_scope_begin();
    uint8_t buf[64];
    size_t n = small_idx(buf);
    write_bytes(tmp_path("small.idx"), buf, n);
    write_gz(tmp_path("small.idx.gz"), buf, n);
    write_gz(tmp_path("gz-without-suffix"), buf, n); /* decided by content, not name */
    const char *names[3] = {"small.idx", "small.idx.gz", "gz-without-suffix"};
    for (int k = 0; k < 3; k++) {
        cg_tensor *t = cg_idx_read(tmp_path(names[k]));
        assert_non_null(t);
        assert_int_equal(t->ndim, 3);
        assert_int_equal(t->shape[0], 2);
        assert_int_equal(t->shape[1], 2);
        assert_int_equal(t->shape[2], 3);
        assert_int_equal(cg_get(t, (int64_t[]){1, 0, 2}), 8);
    }
    cg_scope_end();
}

static void expect_format_error(const char *name, const char *fragment) {
    assert_null(cg_idx_read(tmp_path(name)));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    if (!strstr(cg_last_error(), fragment) || !strstr(cg_last_error(), name))
        fail_msg("message \"%s\" lacks \"%s\" or the file name", cg_last_error(), fragment);
}

static void test_errors(void **state) {
    (void)state;
    cg_scope_begin();
    uint8_t buf[64];
    size_t n = small_idx(buf);

    assert_null(cg_idx_read(tmp_path("missing.gz")));
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "missing.gz"));

    uint8_t bad[64];
    memcpy(bad, buf, n);
    bad[2] = 9; /* 0x00000903 */
    write_bytes(tmp_path("badmagic"), bad, n);
    expect_format_error("badmagic", "magic 0x00000903");

    memcpy(bad, buf, n);
    bad[0] = 0x12;
    write_bytes(tmp_path("notidx"), bad, n);
    expect_format_error("notidx", "bad magic 0x12000803");

    memcpy(bad, buf, n);
    bad[3] = 0; /* zero dims */
    write_bytes(tmp_path("nodims"), bad, n);
    expect_format_error("nodims", "bad magic 0x00000800");

    write_bytes(tmp_path("short"), buf, n - 5);
    expect_format_error("short", "file length 23 bytes, header [2, 2, 3] says 28");

    uint8_t longer[64];
    memcpy(longer, buf, n);
    longer[n] = 1, longer[n + 1] = 2;
    write_bytes(tmp_path("long"), longer, n + 2);
    expect_format_error("long", "file length 30 bytes, header [2, 2, 3] says 28");

    write_gz(tmp_path("short.gz"), buf, n - 1);
    expect_format_error("short.gz", "file length 27 bytes, header [2, 2, 3] says 28");

    write_bytes(tmp_path("tiny"), buf, 2);
    expect_format_error("tiny", "shorter than the 4-byte magic");

    write_bytes(tmp_path("cuthead"), buf, 10);
    expect_format_error("cuthead", "shorter than its 16-byte header");

    /* a gzip stream cut in the middle */
    write_gz(tmp_path("full.gz"), buf, n);
    FILE *f = fopen(tmp_path("full.gz"), "rb");
    uint8_t gz[256];
    size_t gz_n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    write_bytes(tmp_path("cut.gz"), gz, gz_n - 12);
    assert_null(cg_idx_read(tmp_path("cut.gz")));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "cut.gz"));
    cg_scope_end();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_mnist),
        cmocka_unit_test(test_raw_and_gz),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
