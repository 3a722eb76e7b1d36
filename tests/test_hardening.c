/* test_hardening.c — untrusted sizes and files (issue 7), one case per class:
 *
 *   overflowing shapes          cg_empty / cg_zeros of [2^40, 2^40] and friends
 *   a crafted model file        112 bytes asking for a 2^62-unit hidden layer:
 *                               before the fix, a heap write past the bias
 *   huge declared widths        mlp:100000000000 fails before allocating
 *   header vs architecture      data size and shapes checked against the arch
 *                               before the tensors are read (an 8 GB sparse
 *                               file is refused from its size)
 *   files that aren't files     a FIFO, /dev/zero and a directory given to
 *                               every reader fail fast, naming what they are
 *   safetensors header length   truncated / over the limit, from the file
 *   IDX sizes                   a 16-byte file claiming 2^48 bytes
 *   labels.csv                  an over-long line
 *   class names                 commas, quotes, newlines, 2000-byte names and
 *                               5000 classes round-trip through a model file
 *   large JSON header           200,000 metadata keys parse (correctness only)
 *   canvas and batch sizes      show_image at scale 2000; batch_size INT64_MAX
 *
 * Every case failed (or crashed, or hung) on the code before issue 7's fix.
 * Nothing here times anything: the FIFO cases are guarded by alarm() only so
 * that a regression fails instead of hanging the suite. */
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
#include "cgrad/fileio.h"
#include "core/shape_check.h"

static char dir[1024];

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("CGRAD_BINARY_DIR");
    snprintf(dir, sizeof dir, "%s/test-hardening", bin ? bin : ".");
    cg_remove_tree(dir);
    return cg_mkdirs(dir) == CG_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cg_remove_tree(dir);
    return 0;
}

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void expect_error(cg_status got, cg_status want, const char *part1, const char *part2) {
    if (got != want) fail_msg("status %d (%s), expected %d", got, cg_last_error(), want);
    if (part1 && !strstr(cg_last_error(), part1)) fail_msg("'%s' lacks '%s'", cg_last_error(), part1);
    if (part2 && !strstr(cg_last_error(), part2)) fail_msg("'%s' lacks '%s'", cg_last_error(), part2);
}

/* A safetensors file: 8-byte length, header padded with spaces, data. */
static void write_safetensors(const char *path, const char *header, const void *data, size_t data_len) {
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    unsigned char *b = malloc(8 + padded + data_len);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(b + 8, header, hlen);
    memset(b + 8 + hlen, ' ', padded - hlen);
    if (data_len) memcpy(b + 8 + padded, data, data_len);
    assert_int_equal(cg_atomic_write_file(path, b, 8 + padded + data_len), CG_OK);
    free(b);
}

/* ---- 1. sizes and counts ---------------------------------------------------- */

static void test_overflowing_shapes(void **state) {
    (void)state;
    const int64_t big = (int64_t)1 << 40;
    cg_scope_begin();
    /* 2^80 elements: the product wrapped to 0 and a 0-byte buffer came back. */
    assert_null(cg_empty(CG_FLOAT32, CG_SHAPE(big, big)));
    expect_error(cg_last_status(), CG_ERR_SHAPE, "[1099511627776, 1099511627776]", "too large");
    assert_null(cg_zeros(CG_UINT8, CG_SHAPE(big, big)));
    expect_error(cg_last_status(), CG_ERR_SHAPE, "[1099511627776, 1099511627776]", NULL);
    /* 2^62 + 1 float32 elements fit int64 but not as bytes (x4 wraps to 4). */
    assert_null(cg_empty(CG_FLOAT32, CG_SHAPE(((int64_t)1 << 62) + 1)));
    expect_error(cg_last_status(), CG_ERR_SHAPE, "[4611686018427387905]", NULL);
    /* A zero makes no elements, but the strides would still overflow. */
    assert_null(cg_empty(CG_FLOAT32, CG_SHAPE(0, big, big, big)));
    expect_error(cg_last_status(), CG_ERR_SHAPE, NULL, NULL);
    assert_null(cg_empty(CG_FLOAT32, CG_SHAPE(3, -1)));
    expect_error(cg_last_status(), CG_ERR_SHAPE, "negative", NULL);
    /* Sizes that fit still work: [0, 5] has 0 elements, [3, 4] has 12. */
    cg_tensor *e = cg_zeros(CG_FLOAT32, CG_SHAPE(0, 5));
    assert_non_null(e);
    assert_int_equal(cg_numel(e), 0);
    cg_tensor *t = cg_zeros(CG_FLOAT32, CG_SHAPE(3, 4));
    assert_non_null(t);
    assert_int_equal(cg_numel(t), 12);
    cg_scope_end();

    int64_t n = -1;
    assert_true(cg_shape_numel_checked(2, (int64_t[]){3, 4}, &n));
    assert_int_equal(n, 12);
    assert_true(cg_shape_numel_checked(0, NULL, &n));
    assert_int_equal(n, 1);
    assert_false(cg_shape_numel_checked(2, (int64_t[]){INT64_MAX, 2}, &n));
    assert_false(cg_shape_numel_checked(2, (int64_t[]){0, -3}, &n));
    size_t bytes = 0;
    assert_true(cg_shape_bytes_checked(2, (int64_t[]){3, 4}, 8, &bytes));
    assert_int_equal(bytes, 96);
    assert_false(cg_shape_bytes_checked(1, (int64_t[]){(int64_t)1 << 62}, 4, &bytes));
    assert_false(cg_mul_overflow_size(SIZE_MAX / 2 + 1, 2, &bytes));
}

/* The file from the issue (112 bytes here): metadata only, a hidden width of
 * 2^62 + 1.  The bias [2^62 + 1] is 2^64 + 4 bytes, which wrapped to 4: the
 * uniform init then wrote 2^62 floats into a 4-byte buffer. */
static void test_crafted_model_file(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "crafted.safetensors");
    write_safetensors(path,
                      "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"mlp:4611686018427387905\","
                      "\"n_in\":\"1\",\"n_out\":\"1\"}}",
                      NULL, 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 112);
    cg_metadata md;
    assert_null(cg_model_load(path, &md));
    expect_error(cg_last_status(), CG_ERR_FORMAT, "mlp:4611686018427387905", "16777216");
    assert_int_equal(md.n, 0);

    /* n_in and n_out are bounded the same way, and so is the name. */
    write_safetensors(path,
                      "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"linear\","
                      "\"n_in\":\"4611686018427387905\",\"n_out\":\"4\"}}",
                      NULL, 0);
    assert_null(cg_model_load(path, NULL));
    expect_error(cg_last_status(), CG_ERR_FORMAT, "n_in and n_out must be 1 to 16777216", NULL);
    assert_null(cg_model_create("linear", (int64_t)1 << 25, 1));
    expect_error(cg_last_status(), CG_ERR_VALUE, "33554432", NULL);
    char long_arch[200];
    memset(long_arch, 'x', sizeof long_arch - 1);
    long_arch[sizeof long_arch - 1] = '\0';
    assert_null(cg_model_create(long_arch, 1, 1));
    expect_error(cg_last_status(), CG_ERR_VALUE, "too long", NULL);
}

/* A declared hidden width of 10^11: before, 313 GB were asked of malloc
 * (CG_ERR_NOMEM at best); now the width is refused before allocating. */
static void test_huge_hidden_width(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "wide.safetensors");
    write_safetensors(path,
                      "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"mlp:100000000000\","
                      "\"n_in\":\"784\",\"n_out\":\"2\"}}",
                      NULL, 0);
    assert_null(cg_model_load(path, NULL));
    expect_error(cg_last_status(), CG_ERR_FORMAT, "mlp:100000000000", "1 to 16777216 units");
    /* Each size under the cap, the total over it: 2^24 x 2^24 weights. */
    assert_null(cg_model_create("mlp:16777216", 16777216, 1));
    expect_error(cg_last_status(), CG_ERR_VALUE, "more than 268435456 parameters", NULL);
    cg_param_shape shapes[CG_MODEL_MAX_TENSORS];
    int n = 0;
    assert_int_equal(cg_model_param_shapes("mlp:500", 784, 10, shapes, &n), CG_OK);
    assert_int_equal(n, 4);
    assert_string_equal(shapes[0].name, "0.weight");
    assert_int_equal(shapes[0].shape[0], 500);
    assert_int_equal(shapes[0].shape[1], 784);
    assert_string_equal(shapes[3].name, "2.bias");
    assert_int_equal(shapes[3].shape[0], 10);
}

/* The header's shapes are checked against the architecture before the model
 * is built: a "linear" 4 -> 1 model whose weight is [2, 2] in the file (the
 * right byte count, the wrong shape). */
static void test_header_mismatches_arch(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "mismatch.safetensors");
    float data[6] = {1, 2, 3, 4, 5, 6};
    write_safetensors(path,
                      "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"linear\",\"n_in\":\"4\","
                      "\"n_out\":\"1\"},\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                      "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}",
                      data, 20);
    assert_null(cg_model_load(path, NULL));
    expect_error(cg_last_status(), CG_ERR_SHAPE, "'weight' has shape [2, 2] in the file", "needs [1, 4]");
    /* A weight of [1, 5]: the data is 24 bytes where the model holds 20; the
     * size alone refuses it, before the tensors are read. */
    write_safetensors(path,
                      "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"linear\",\"n_in\":\"4\","
                      "\"n_out\":\"1\"},\"weight\":{\"dtype\":\"F32\",\"shape\":[1,5],\"data_offsets\":[0,20]},"
                      "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]}}",
                      data, 24);
    assert_null(cg_model_load(path, NULL));
    expect_error(cg_last_status(), CG_ERR_FORMAT, "holds 20 bytes of float32 tensors", "24 bytes of data");
    /* A (sparse) file of 8 GB behind a valid little header is refused from
     * its size: nothing of it is read into memory. */
    const char *hdr = "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"linear\",\"n_in\":\"4\","
                      "\"n_out\":\"1\"},\"weight\":{\"dtype\":\"F32\",\"shape\":[2147483648,1],"
                      "\"data_offsets\":[0,8589934592]}}";
    write_safetensors(path, hdr, NULL, 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size + ((off_t)1 << 33)), 0);
    assert_null(cg_model_load(path, NULL));
    expect_error(cg_last_status(), CG_ERR_FORMAT, "8589934592 bytes of data", NULL);
    unlink(path);
    /* A model with no tensors at all: the first one it needs is named. */
    write_safetensors(path,
                      "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"simple_net\",\"n_in\":\"784\","
                      "\"n_out\":\"1\"}}",
                      NULL, 0);
    assert_null(cg_model_load(path, NULL));
    /* (30*784 + 30 + 30 + 1) floats */
    expect_error(cg_last_status(), CG_ERR_FORMAT, "holds 94324 bytes", "0 bytes of data");
    /* The right byte count under another name: the tensor it needs is named. */
    write_safetensors(path,
                      "{\"__metadata__\":{\"format\":\"cgrad-model-1\",\"arch\":\"linear\",\"n_in\":\"1\","
                      "\"n_out\":\"1\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                      data, 8);
    assert_null(cg_model_load(path, NULL));
    expect_error(cg_last_status(), CG_ERR_FORMAT, "needs tensor 'weight' [1, 1]", NULL);
}

/* ---- 5. files that aren't regular files ------------------------------------- */

/* Each reader on a path that is a FIFO, a device and a directory. */
typedef cg_status (*reader_fn)(const char *path);

static cg_status read_png(const char *path) {
    cg_scope_begin();
    cg_tensor *t = cg_png_read(path, 1);
    cg_scope_end();
    return t ? CG_OK : cg_last_status();
}
static cg_status read_idx(const char *path) {
    cg_tensor *t = cg_idx_read(path);
    if (!t) return cg_last_status();
    cg_release(t);
    return CG_OK;
}
static cg_status read_safetensors(const char *path) {
    cg_safetensors st;
    cg_status rc = cg_safetensors_load(path, &st);
    if (!rc) cg_safetensors_free(&st);
    return rc;
}
static cg_status read_model(const char *path) {
    cg_module *m = cg_model_load(path, NULL);
    cg_module_release(m);
    return m ? CG_OK : cg_last_status();
}
static cg_status read_csv(const char *path) {
    cg_labelled_files f;
    cg_status rc = cg_labels_csv_read(path, &f);
    if (!rc) cg_labelled_files_free(&f);
    return rc;
}
static cg_status read_whole(const char *path) {
    void *data;
    size_t len;
    cg_status rc = cg_read_file(path, &data, &len);
    if (!rc) free(data);
    return rc;
}

static const struct {
    const char *name;
    reader_fn fn;
} readers[] = {{"png", read_png},   {"idx", read_idx}, {"safetensors", read_safetensors},
               {"model", read_model}, {"csv", read_csv}, {"read_file", read_whole}};

static void expect_refused(const char *path, const char *kind) {
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        cg_clear_error();
        cg_status rc = readers[i].fn(path);
        if (rc != CG_ERR_IO) fail_msg("%s reader on %s: status %d (%s)", readers[i].name, path, rc, cg_last_error());
        if (!strstr(cg_last_error(), path) || !strstr(cg_last_error(), kind))
            fail_msg("%s reader on %s: '%s' should name the path and say '%s'", readers[i].name, path,
                     cg_last_error(), kind);
    }
}

static void test_fifo_refused(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "pipe.png");
    assert_int_equal(mkfifo(path, 0600), 0);
    /* Before the fix open() waited for a writer forever: fail, don't hang. */
    alarm(60);
    expect_refused(path, "FIFO");
    alarm(0);
    unlink(path);
}

static void test_device_refused(void **state) {
    (void)state;
    /* /dev/zero was read until memory ran out (csv, safetensors). */
    alarm(60);
    expect_refused("/dev/zero", "character device");
    alarm(0);
}

static void test_directory_refused(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "folder.safetensors");
    assert_int_equal(cg_mkdirs(path), CG_OK);
    expect_refused(path, "directory");
}

/* ---- reads bounded by the format -------------------------------------------- */

static void test_safetensors_header_length(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "short.safetensors");
    /* Claims a 1000-byte header; 16 bytes follow. */
    unsigned char b[24] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}'};
    memset(b + 10, ' ', sizeof b - 10);
    assert_int_equal(cg_atomic_write_file(path, b, sizeof b), CG_OK);
    expect_error(read_safetensors(path), CG_ERR_FORMAT, "header length 1000", "16 bytes after it");
    /* A 200 MB header in a (sparse) 200 MB file: over the 100 MB limit, refused
     * from its 8-byte length, before the rest is read. */
    path_in(path, sizeof path, "huge.safetensors");
    uint64_t n = 200u * 1000u * 1000u;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8; i++) fputc((int)((n >> (8 * i)) & 0xff), f);
    fputc('{', f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(truncate(path, (off_t)(8 + n)), 0);
    expect_error(read_safetensors(path), CG_ERR_FORMAT, "header length 200000000", "limit");
    unlink(path);
}

static void test_idx_sizes_bounded(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "bomb.idx");
    /* 0x00000803, sizes [65535, 65535, 65535]: 2.8e14 bytes in a 16-byte file. */
    unsigned char b[16] = {0, 0, 8, 3, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff};
    assert_int_equal(cg_atomic_write_file(path, b, sizeof b), CG_OK);
    expect_error(read_idx(path), CG_ERR_FORMAT, "file length 16 bytes", "[65535, 65535, 65535]");
}

static void test_csv_line_bounded(void **state) {
    (void)state;
    char path[1100];
    path_in(path, sizeof path, "labels.csv");
    size_t n = 20000;
    char *text = malloc(n + 64);
    assert_non_null(text);
    int k = snprintf(text, 64, "name,label\n");
    memset(text + k, 'a', n);
    memcpy(text + k + n, ".png,3\n", 8);
    assert_int_equal(cg_atomic_write_file(path, text, strlen(text)), CG_OK);
    free(text);
    expect_error(read_csv(path), CG_ERR_FORMAT, "labels.csv:2", "longer than 8192 bytes");
}

/* ---- 4. class names ----------------------------------------------------------- */

static void test_class_names_round_trip(void **state) {
    (void)state;
    const int64_t n = 5000;
    char **names = calloc((size_t)n, sizeof *names);
    assert_non_null(names);
    for (int64_t i = 0; i < n; i++) {
        names[i] = malloc(2100);
        assert_non_null(names[i]);
        snprintf(names[i], 2100, "class %lld", (long long)i);
    }
    strcpy(names[0], "7,3");                         /* a comma */
    strcpy(names[1], "say \"hi\"\\ {x}: [y]");       /* quotes, a backslash, JSON punctuation */
    strcpy(names[2], "two\nlines\ttab\x01");          /* control characters */
    strcpy(names[3], "caf\xc3\xa9 \xe2\x9c\x93");     /* UTF-8 */
    memset(names[4], 'L', 2000);                     /* a 2000-byte name */
    names[4][2000] = '\0';
    strcpy(names[5], "");                            /* empty */

    cg_scope_begin();
    cg_module *m = cg_model_create("linear", 1, n);
    assert_non_null(m);
    cg_metadata md = {0};
    assert_int_equal(cg_model_metadata(&md, "linear", 1, n, "cross_entropy", NULL, NULL), CG_OK);
    assert_int_equal(cg_model_set_classes(&md, n, (const char *const *)names), CG_OK);
    char path[1100];
    path_in(path, sizeof path, "classes.safetensors");
    assert_int_equal(cg_model_save(m, path, &md), CG_OK);
    cg_metadata_free(&md);

    cg_metadata got = {0};
    cg_module *back = cg_model_load(path, &got);
    assert_non_null(back);
    int64_t n_back = 0;
    char **back_names = NULL;
    assert_int_equal(cg_model_classes(&got, &n_back, &back_names), CG_OK);
    assert_int_equal(n_back, n);
    for (int64_t i = 0; i < n; i++)
        if (strcmp(back_names[i], names[i])) fail_msg("class %lld: '%s' came back as '%s'", (long long)i, names[i], back_names[i]);
    cg_model_classes_free(n_back, back_names);

    /* predict names its classes from the file too. */
    cg_tensor *x = cg_from_floats(CG_SHAPE(1, 1), (float[]){0.5f});
    cg_prediction p;
    assert_int_equal(cg_model_predict(back, &got, x, &p), CG_OK);
    assert_int_equal(p.n_classes, n);
    assert_string_equal(p.names[0], "7,3");
    assert_string_equal(p.names[4], names[4]);
    assert_string_equal(p.names[n - 1], "class 4999");
    cg_prediction_free(&p);
    cg_metadata_free(&got);
    cg_module_release(back);
    cg_module_release(m);
    cg_scope_end();
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);

    /* Files written before the change hold "7,3": still two classes. */
    cg_metadata old = {0};
    assert_int_equal(cg_metadata_set(&old, "classes", "7,3"), CG_OK);
    assert_int_equal(cg_model_classes(&old, &n_back, &back_names), CG_OK);
    assert_int_equal(n_back, 2);
    assert_string_equal(back_names[0], "7");
    assert_string_equal(back_names[1], "3");
    cg_model_classes_free(n_back, back_names);
    cg_metadata_free(&old);
    /* and the comma shorthand of cg_model_metadata is stored as the array. */
    assert_int_equal(cg_model_metadata(&old, "linear", 784, 1, NULL, "7,3", NULL), CG_OK);
    assert_string_equal(cg_metadata_get(&old, "classes"), "[\"7\",\"3\"]");
    cg_metadata_free(&old);
}

/* ---- 6. a large header ---------------------------------------------------------- */

static void test_large_json_header(void **state) {
    (void)state;
    const int n = 200000;
    size_t cap = 64 + (size_t)n * 32;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t len = (size_t)sprintf(json, "{\"__metadata__\":{");
    for (int i = 0; i < n; i++) len += (size_t)sprintf(json + len, "%s\"k%06d\":\"%d\"", i ? "," : "", i, i * 7);
    len += (size_t)sprintf(json + len, "}}");
    unsigned char *file = malloc(8 + len);
    assert_non_null(file);
    for (int b = 0; b < 8; b++) file[b] = (unsigned char)((uint64_t)len >> (8 * b));
    memcpy(file + 8, json, len);
    cg_safetensors st;
    assert_int_equal(cg_safetensors_parse(file, 8 + len, "large", &st), CG_OK);
    assert_int_equal(st.metadata.n, n);
    assert_int_equal(st.n, 0);
    assert_string_equal(cg_metadata_get(&st.metadata, "k000000"), "0");
    assert_string_equal(cg_metadata_get(&st.metadata, "k123456"), "864192");
    assert_string_equal(st.metadata.keys[n - 1], "k199999");
    assert_string_equal(st.metadata.values[n - 1], "1399993");
    cg_safetensors_free(&st);

    /* The same key twice, far apart, is found (by sorting, not n^2 compares). */
    memcpy(json + len - 2, ",\"k000017\":\"again\"}}", 21);
    len += 19;
    unsigned char *dup = malloc(8 + len);
    assert_non_null(dup);
    for (int b = 0; b < 8; b++) dup[b] = (unsigned char)((uint64_t)len >> (8 * b));
    memcpy(dup + 8, json, len);
    expect_error(cg_safetensors_parse(dup, 8 + len, "dup", &st), CG_ERR_FORMAT, "'k000017' appears twice", NULL);
    free(dup);
    free(file);
    free(json);
}

/* ---- output and batch sizes ------------------------------------------------------ */

static void test_canvas_cap(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *img = cg_zeros(CG_UINT8, CG_SHAPE(28, 28));
    /* `show --scale 2000`: a 56000 x 56000 canvas, 3.1 GB. */
    assert_null(cg_show_image(img, 2000));
    expect_error(cg_last_status(), CG_ERR_VALUE, "56000 x 56000", "67108864-pixel limit");
    cg_tensor *batch = cg_zeros(CG_UINT8, CG_SHAPE(9, 28, 28));
    assert_null(cg_show_grid(batch, NULL, 0, 1000));
    expect_error(cg_last_status(), CG_ERR_VALUE, "show_grid", "limit");
    /* Scale 10 is fine: 280 x 280. */
    cg_tensor *ok = cg_show_image(img, 10);
    assert_non_null(ok);
    assert_int_equal(ok->shape[0], 280);
    assert_int_equal(ok->shape[1], 280);
    cg_scope_end();
}

static void test_batch_size_max(void **state) {
    (void)state;
    /* (n + bs - 1) / bs overflowed for bs = INT64_MAX: one batch of all 5. */
    cg_dataset *ds = cg_dataset_range(5);
    assert_non_null(ds);
    cg_dataloader_options o = cg_dataloader_defaults();
    o.batch_size = INT64_MAX;
    cg_dataloader *dl = cg_dataloader_new(ds, &o);
    assert_non_null(dl);
    assert_int_equal(cg_dataloader_len(dl), 1);
    cg_scope_begin();
    cg_tensor *xb = NULL, *yb = NULL;
    assert_int_equal(cg_dataloader_first(dl, &xb, &yb), CG_OK);
    assert_non_null(xb);
    assert_int_equal(cg_numel(xb), 5);
    cg_scope_end();
    o.drop_last = true;
    cg_dataloader *dl2 = cg_dataloader_new(ds, &o);
    assert_non_null(dl2);
    assert_int_equal(cg_dataloader_len(dl2), 0);
    cg_dataloader_free(dl2);
    cg_dataloader_free(dl);
    cg_dataset_release(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflowing_shapes),
        cmocka_unit_test(test_crafted_model_file),
        cmocka_unit_test(test_huge_hidden_width),
        cmocka_unit_test(test_header_mismatches_arch),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_device_refused),
        cmocka_unit_test(test_directory_refused),
        cmocka_unit_test(test_safetensors_header_length),
        cmocka_unit_test(test_idx_sizes_bounded),
        cmocka_unit_test(test_csv_line_bounded),
        cmocka_unit_test(test_class_names_round_trip),
        cmocka_unit_test(test_large_json_header),
        cmocka_unit_test(test_canvas_cap),
        cmocka_unit_test(test_batch_size_max),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
