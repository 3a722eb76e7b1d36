/* test_safetensors.c — weights files: the format byte for byte, round trips
 * of every dtype, a state_dict written by PyTorch, model files, and every kind
 * of broken file giving a clear error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "cgrad/fileio.h"

/* torch.manual_seed(0); nn.Sequential(nn.Linear(4,3), nn.ReLU(), nn.Linear(3,2)).state_dict()
 * written in the safetensors layout by PyTorch-side Python (compact JSON,
 * sorted names, __metadata__ {"format":"pt"}, header padded to 8 bytes), and
 * that network's output for x = [[1,-2,0.5,3],[0,1,-1,2]]. */
/* 380 bytes */
static const unsigned char torch_file[] = {
    0x18, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65, 0x74, 0x61,
    0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74,
    0x22, 0x3a, 0x22, 0x70, 0x74, 0x22, 0x7d, 0x2c, 0x22, 0x30, 0x2e, 0x62, 0x69, 0x61, 0x73, 0x22,
    0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c,
    0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74,
    0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x30, 0x2c, 0x31, 0x32,
    0x5d, 0x7d, 0x2c, 0x22, 0x30, 0x2e, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b, 0x22,
    0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68,
    0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x33, 0x2c, 0x34, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61,
    0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x31, 0x32, 0x2c, 0x36, 0x30,
    0x5d, 0x7d, 0x2c, 0x22, 0x32, 0x2e, 0x62, 0x69, 0x61, 0x73, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74,
    0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x36, 0x30, 0x2c, 0x36, 0x38, 0x5d, 0x7d, 0x2c, 0x22,
    0x32, 0x2e, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70,
    0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
    0x3a, 0x5b, 0x32, 0x2c, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x36, 0x38, 0x2c, 0x39, 0x32, 0x5d, 0x7d, 0x7d, 0x20,
    0xb8, 0x91, 0xf4, 0xbe, 0x52, 0x8b, 0xa9, 0xbe, 0xe8, 0x0e, 0x53, 0xbe, 0x00, 0x54, 0x75, 0xbb,
    0x5e, 0x54, 0x89, 0x3e, 0x16, 0xb3, 0xd2, 0xbe, 0x80, 0x66, 0xbc, 0xbe, 0xf4, 0x32, 0x45, 0xbe,
    0xec, 0x4b, 0x09, 0x3e, 0x40, 0x4f, 0x22, 0xbc, 0xce, 0xfa, 0xca, 0x3e, 0x70, 0xbf, 0x35, 0xbd,
    0x4c, 0x7b, 0x07, 0x3e, 0xac, 0xbb, 0x1a, 0xbe, 0x70, 0x48, 0xc9, 0xbd, 0x27, 0x77, 0xf5, 0x3e,
    0x43, 0x57, 0xf3, 0xbd, 0x08, 0x34, 0xaf, 0x3c, 0x8d, 0xb9, 0x69, 0x3e, 0x66, 0x5e, 0xb1, 0x3e,
    0xd2, 0x66, 0xc8, 0xbe, 0x69, 0xb9, 0x80, 0xbe, 0x83, 0xbc, 0x56, 0x3e,
};
static const float torch_out[4] = {0.569012821f, -0.217500344f, 0.617681503f, -0.271109045f};

static char dir[1024];

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("CGRAD_BINARY_DIR");
    snprintf(dir, sizeof dir, "%s/test-safetensors", bin ? bin : ".");
    cg_remove_tree(dir);
    return cg_mkdirs(dir) == CG_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cg_remove_tree(dir);
    cg_pool_trim();
    return 0;
}

static const char *path_of(const char *name) {
    static char buf[1100];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* A file image: u64 LE header length, header, data. */
static unsigned char *make_file(const char *header, const void *data, size_t data_len, size_t *size) {
    size_t h = strlen(header);
    *size = 8 + h + data_len;
    unsigned char *b = malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    if (data_len) memcpy(b + 8 + h, data, data_len);
    return b;
}

/* Parses header+data and expects failure with status s and a message holding each of want[]. */
static void expect_parse_error(const char *header, const void *data, size_t data_len, cg_status s,
                               const char *want1, const char *want2) {
    size_t size;
    unsigned char *b = make_file(header, data, data_len, &size);
    cg_safetensors st;
    cg_status rc = cg_safetensors_parse(b, size, "bad.safetensors", &st);
    free(b);
    if (rc != s) fail_msg("header %s: status %d (%s), expected %d", header, rc, cg_last_error(), s);
    assert_non_null(strstr(cg_last_error(), "bad.safetensors"));
    if (want1 && !strstr(cg_last_error(), want1)) fail_msg("'%s' lacks '%s'", cg_last_error(), want1);
    if (want2 && !strstr(cg_last_error(), want2)) fail_msg("'%s' lacks '%s'", cg_last_error(), want2);
    assert_int_equal(st.n, 0);
}

static void test_exact_bytes(void **state) {
    (void)state;
    cg_tensor *a = cg_from_floats(CG_SHAPE(2), (float[]){1.0f, -2.0f});
    cg_metadata md = {0};
    assert_int_equal(cg_metadata_set(&md, "arch", "lin\"ear"), CG_OK);
    const char *names[1] = {"a"};
    assert_int_equal(cg_safetensors_save(path_of("exact.safetensors"), 1, names, &a, &md), CG_OK);
    void *bytes;
    size_t len;
    assert_int_equal(cg_read_file(path_of("exact.safetensors"), &bytes, &len), CG_OK);
    const char *json = "{\"__metadata__\":{\"arch\":\"lin\\\"ear\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t h = strlen(json), padded = (h + 7) / 8 * 8;
    assert_int_equal(len, 8 + padded + 8);
    const unsigned char *b = bytes;
    assert_int_equal(b[0], padded & 0xff);
    assert_int_equal(b[1], padded >> 8);
    for (int i = 2; i < 8; i++) assert_int_equal(b[i], 0);
    assert_memory_equal(b + 8, json, h);
    for (size_t i = h; i < padded; i++) assert_int_equal(b[8 + i], ' ');
    /* 1.0f and -2.0f little-endian */
    const unsigned char data[8] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0};
    assert_memory_equal(b + 8 + padded, data, 8);
    free(bytes);
    cg_metadata_free(&md);
    cg_release(a);
    /* the write was atomic: no temp file left beside it */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d))) assert_null(strstr(e->d_name, ".tmp"));
    closedir(d);
}

static void test_round_trip_every_dtype(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *f = cg_from_floats(CG_SHAPE(2, 3), (float[]){1.5f, -2, 3, 4, 5e-8f, -6e7f});
    cg_tensor *ft = cg_t(f); /* a non-contiguous view: written row-major */
    cg_tensor *i = cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){-1, 0, 1LL << 40});
    cg_tensor *u = cg_from_data(CG_UINT8, CG_SHAPE(1, 2, 2), (uint8_t[]){0, 128, 255, 7});
    cg_tensor *bo = cg_gt_s(cg_from_floats(CG_SHAPE(3), (float[]){-1, 2, 3}), 0);
    cg_tensor *sc = cg_scalar(3.25);
    cg_tensor *empty = cg_zeros(CG_FLOAT32, CG_SHAPE(0, 4));
    cg_tensor *ts[7] = {f, ft, i, u, bo, sc, empty};
    const char *names[7] = {"layer.weight", "weight_t", "ids", "pixels", "mask", "scalar", "empty"};
    cg_metadata md = {0};
    cg_metadata_set(&md, "classes", "7,3");
    cg_metadata_set(&md, "unicode", "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93");
    assert_int_equal(cg_safetensors_save(path_of("all.safetensors"), 7, names, ts, &md), CG_OK);
    cg_safetensors st;
    assert_int_equal(cg_safetensors_load(path_of("all.safetensors"), &st), CG_OK);
    assert_int_equal(st.n, 7);
    assert_string_equal(cg_metadata_get(&st.metadata, "classes"), "7,3");
    assert_string_equal(cg_metadata_get(&st.metadata, "unicode"), "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93");
    for (int k = 0; k < 7; k++) {
        cg_tensor *got = cg_safetensors_get(&st, names[k]);
        assert_non_null(got);
        assert_int_equal(got->dtype, ts[k]->dtype);
        assert_int_equal(got->ndim, ts[k]->ndim);
        for (int d = 0; d < got->ndim; d++) assert_int_equal(got->shape[d], ts[k]->shape[d]);
        /* equal element by element (as doubles: exact for these values) */
        cg_tensor *c = cg_contiguous(ts[k]);
        size_t bytes = (size_t)cg_numel(c) * cg_dtype_size(c->dtype);
        if (bytes) assert_memory_equal(cg_data(got), cg_data(c), bytes);
    }
    assert_float_equal(cg_data_f32(cg_safetensors_get(&st, "weight_t"))[1], 4.0, 0);
    cg_safetensors_free(&st);
    cg_metadata_free(&md);
    cg_scope_end();
}

static void test_loads_pytorch_state_dict(void **state) {
    (void)state;
    assert_int_equal(cg_atomic_write_file(path_of("torch.safetensors"), torch_file, sizeof torch_file), CG_OK);
    cg_module *net = CG_SEQUENTIAL(cg_nn_linear(4, 3, true), cg_nn_relu(), cg_nn_linear(3, 2, true));
    assert_int_equal(cg_module_load(net, path_of("torch.safetensors"), true), CG_OK);
    cg_scope_begin();
    cg_tensor *x = cg_from_floats(CG_SHAPE(2, 4), (float[]){1, -2, 0.5f, 3, 0, 1, -1, 2});
    cg_tensor *y = cg_contiguous(cg_module_forward(net, x));
    for (int i = 0; i < 4; i++) assert_float_equal(cg_data_f32(y)[i], torch_out[i], 1e-6);
    cg_scope_end();
    /* The metadata torch writes is read too. */
    cg_safetensors st;
    assert_int_equal(cg_safetensors_load(path_of("torch.safetensors"), &st), CG_OK);
    assert_string_equal(cg_metadata_get(&st.metadata, "format"), "pt");
    cg_safetensors_free(&st);
    /* ... but it is not a cgrad model file */
    assert_null(cg_model_load(path_of("torch.safetensors"), NULL));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "not a cgrad model file"));
    cg_module_release(net);
}

static void test_model_file_round_trip(void **state) {
    (void)state;
    cg_manual_seed(11);
    cg_module *net = cg_model_create("simple_net", 784, 1);
    cg_metadata md = {0};
    cg_metadata_set(&md, "arch", "simple_net");
    cg_metadata_set(&md, "n_in", "784");
    cg_metadata_set(&md, "n_out", "1");
    cg_metadata_set(&md, "loss", "mnist_loss");
    cg_metadata_set(&md, "classes", "7,3");
    assert_int_equal(cg_model_save(net, path_of("model.safetensors"), &md), CG_OK);
    cg_metadata got = {0};
    cg_module *back = cg_model_load(path_of("model.safetensors"), &got);
    assert_non_null(back);
    assert_string_equal(cg_metadata_get(&got, "format"), CG_MODEL_FORMAT);
    assert_string_equal(cg_metadata_get(&got, "classes"), "7,3");
    cg_scope_begin();
    cg_manual_seed(12);
    cg_tensor *x = cg_rand(NULL, CG_SHAPE(5, 784));
    cg_tensor *y1 = cg_contiguous(cg_module_forward(net, x)), *y2 = cg_contiguous(cg_module_forward(back, x));
    assert_memory_equal(cg_data_f32(y1), cg_data_f32(y2), 5 * sizeof(float)); /* identical predictions */
    cg_scope_end();
    cg_module_release(back);
    /* a model file whose arch is unknown */
    cg_metadata_set(&md, "arch", "resnet99");
    assert_int_equal(cg_model_save(net, path_of("bad_arch.safetensors"), &md), CG_OK);
    assert_null(cg_model_load(path_of("bad_arch.safetensors"), NULL));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "resnet99"));
    cg_metadata_free(&md);
    cg_metadata_free(&got);
    cg_module_release(net);
}

static void test_mismatched_model(void **state) {
    (void)state;
    cg_module *small = CG_SEQUENTIAL(cg_nn_linear(4, 3, true), cg_nn_relu(), cg_nn_linear(3, 2, true));
    assert_int_equal(cg_module_save(small, path_of("small.safetensors"), NULL), CG_OK);
    /* shape mismatch: names the tensor and both shapes; nothing changed */
    cg_module *wide = CG_SEQUENTIAL(cg_nn_linear(4, 5, true), cg_nn_relu(), cg_nn_linear(5, 2, true));
    float before = cg_data_f32(cg_module_find(wide, "2.bias"))[0];
    assert_int_equal(cg_module_load(wide, path_of("small.safetensors"), true), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "small.safetensors"));
    assert_non_null(strstr(cg_last_error(), "'0.weight'"));
    assert_non_null(strstr(cg_last_error(), "[3, 4]"));
    assert_non_null(strstr(cg_last_error(), "[5, 4]"));
    assert_true(cg_data_f32(cg_module_find(wide, "2.bias"))[0] == before);
    /* missing and unexpected keys */
    cg_module *lin = cg_nn_linear(4, 3, true);
    assert_int_equal(cg_module_load(lin, path_of("small.safetensors"), true), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "2 missing key(s) ('weight', 'bias')"));
    assert_non_null(strstr(cg_last_error(), "4 unexpected key(s) ('0.weight'"));
    /* non-strict: matching names load, others are ignored */
    cg_module *lin0 = CG_SEQUENTIAL(cg_nn_linear(4, 3, true));
    assert_int_equal(cg_module_load(lin0, path_of("small.safetensors"), false), CG_OK);
    assert_memory_equal(cg_data_f32(cg_module_find(lin0, "0.weight")),
                        cg_data_f32(cg_module_find(small, "0.weight")), 12 * sizeof(float));
    /* dtype mismatch */
    cg_tensor *ids = cg_zeros(CG_INT64, CG_SHAPE(3, 4));
    const char *nm[1] = {"weight"};
    assert_int_equal(cg_safetensors_save(path_of("i64.safetensors"), 1, nm, &ids, NULL), CG_OK);
    cg_module *nobias = cg_nn_linear(4, 3, false);
    assert_int_equal(cg_module_load(nobias, path_of("i64.safetensors"), true), CG_ERR_DTYPE);
    assert_non_null(strstr(cg_last_error(), "'weight' is int64 in the file but float32"));
    /* a file that is not there */
    assert_int_equal(cg_module_load(lin, path_of("nope.safetensors"), true), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "nope.safetensors"));
    cg_release(ids);
    cg_module_release(nobias);
    cg_module_release(lin0);
    cg_module_release(lin);
    cg_module_release(wide);
    cg_module_release(small);
}

static void test_corrupt_files(void **state) {
    (void)state;
    const float two[2] = {1, 2};
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t size;
    unsigned char *b = make_file(good, two, 8, &size);
    cg_safetensors st;
    assert_int_equal(cg_safetensors_parse(b, size, "good", &st), CG_OK);
    cg_safetensors_free(&st);
    /* truncated: every shorter prefix fails with a format error */
    for (size_t cut = 0; cut < size; cut++) {
        assert_int_equal(cg_safetensors_parse(b, cut, "cut.safetensors", &st), CG_ERR_FORMAT);
        assert_non_null(strstr(cg_last_error(), "cut.safetensors"));
    }
    assert_int_equal(cg_safetensors_parse(b, size - 1, "cut.safetensors", &st), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "'a'"));
    /* a truncated file on disk, through the loader */
    assert_int_equal(cg_atomic_write_file(path_of("cut.safetensors"), b, size - 3), CG_OK);
    cg_module *lin = cg_nn_linear(2, 1, false);
    assert_int_equal(cg_module_load(lin, path_of("cut.safetensors"), true), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "truncated"));
    cg_module_release(lin);
    /* header length larger than the file */
    b[0] = 0xff;
    b[3] = 0x01;
    assert_int_equal(cg_safetensors_parse(b, size, "big.safetensors", &st), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "header length"));
    free(b);
    /* trailing bytes after the last tensor */
    float three[3] = {1, 2, 3};
    expect_parse_error(good, three, 12, CG_ERR_FORMAT, "12 data bytes", "8");
    /* JSON errors */
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", two, 8,
                       CG_ERR_FORMAT, "invalid JSON", "byte");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\" \"shape\":[2],\"data_offsets\":[0,8]}}", two, 8,
                       CG_ERR_FORMAT, "invalid JSON", "expected ','");
    expect_parse_error("[1,2,3]  ", NULL, 0, CG_ERR_FORMAT, "start with '{'", NULL);
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", two, 8,
                       CG_ERR_FORMAT, "after the JSON value", NULL);
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
                       two, 8, CG_ERR_FORMAT, "'a' appears twice", NULL);
    /* entries */
    expect_parse_error("{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", two, 8,
                       CG_ERR_DTYPE, "'a'", "F16");
    expect_parse_error("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", two, 8,
                       CG_ERR_FORMAT, "unknown dtype", "Q4");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", two, 8,
                       CG_ERR_FORMAT, "needs 12 bytes", "'a'");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", two, 8,
                       CG_ERR_FORMAT, "shape entry 0", NULL);
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", two, 8,
                       CG_ERR_FORMAT, "shape entry 0", NULL);
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", two, 8,
                       CG_ERR_FORMAT, "run past the end", "'a'");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", two, 8,
                       CG_ERR_FORMAT, "end before", NULL);
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                       two, 8, CG_ERR_FORMAT, "overlap", NULL);
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", two, 8, CG_ERR_FORMAT, "data_offsets",
                       "'a'");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", two, 8,
                       CG_ERR_FORMAT, "unknown header field 'x'", NULL);
    expect_parse_error("{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                       two, 8, CG_ERR_FORMAT, "__metadata__", "'k'");
    /* too short to hold the length */
    assert_int_equal(cg_safetensors_parse((const unsigned char *)"abc", 3, "tiny", &st), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "too short"));
}

static void test_json_escapes_in_names(void **state) {
    (void)state;
    /* \u escapes (with a surrogate pair) and whitespace are read like any JSON reader */
    const char *hdr = "{ \"w\\u00e9ight\\ud83d\\ude00\\n\" : { \"dtype\" : \"U8\", \"shape\" : [ 1 ],"
                      " \"data_offsets\" : [ 0 , 1 ] } }   ";
    unsigned char one = 9;
    size_t size;
    unsigned char *b = make_file(hdr, &one, 1, &size);
    cg_safetensors st;
    assert_int_equal(cg_safetensors_parse(b, size, "esc", &st), CG_OK);
    assert_string_equal(st.names[0], "w\xc3\xa9ight\xf0\x9f\x98\x80\n");
    assert_int_equal(((unsigned char *)cg_data(st.tensors[0]))[0], 9);
    /* and written back escaped */
    assert_int_equal(cg_safetensors_save(path_of("esc.safetensors"), 1, (const char *const *)st.names,
                                         st.tensors, NULL), CG_OK);
    cg_safetensors st2;
    assert_int_equal(cg_safetensors_load(path_of("esc.safetensors"), &st2), CG_OK);
    assert_string_equal(st2.names[0], st.names[0]);
    cg_safetensors_free(&st2);
    cg_safetensors_free(&st);
    free(b);
    expect_parse_error("{\"\\ud83d\":{}}", NULL, 0, CG_ERR_FORMAT, "surrogate", NULL);
    expect_parse_error("{\"a\\q\":{}}", NULL, 0, CG_ERR_FORMAT, "invalid escape", NULL);
}

/* Thousands of corrupted variants of a real file (bytes flipped, cut,
 * duplicated): each either loads or fails with a message, never crashes
 * (the sanitizer build checks the reads). */
static void test_mutated_files_never_crash(void **state) {
    (void)state;
    uint32_t rng = 12345;
    static const char noise[] = "{}[],:\"0123456789 eE-.\\u";
    unsigned char *buf = malloc(sizeof torch_file * 2);
    int ok = 0, failed = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t size = sizeof torch_file;
        memcpy(buf, torch_file, size);
        int edits = 1 + (int)((rng = rng * 1103515245u + 12345u) >> 16) % 4;
        for (int e = 0; e < edits && size > 0; e++) {
            rng = rng * 1103515245u + 12345u;
            size_t at = (rng >> 8) % size;
            switch ((rng >> 4) % 4) {
            case 0: buf[at] ^= (unsigned char)(1u << ((rng >> 24) % 8)); break;    /* flip a bit */
            case 1: buf[at] = (unsigned char)noise[(rng >> 20) % (sizeof noise - 1)]; break; /* JSON noise */
            case 2: size = at; break;                                               /* truncate */
            default: /* duplicate a run of bytes */
                if (size + 16 <= sizeof torch_file * 2 && at + 16 <= size) {
                    memmove(buf + at + 16, buf + at, size - at);
                    size += 16;
                }
            }
        }
        cg_safetensors st;
        if (cg_safetensors_parse(buf, size, "mutant", &st) == CG_OK) {
            ok++;
            cg_safetensors_free(&st);
        } else {
            failed++;
            assert_non_null(strstr(cg_last_error(), "mutant"));
        }
    }
    free(buf);
    assert_int_equal(ok + failed, 3000);
    assert_true(failed > 2000);
    /* nesting is bounded */
    char deep[300] = "{\"a\":";
    for (int i = 0; i < 100; i++) strcat(deep, "[");
    expect_parse_error(deep, NULL, 0, CG_ERR_FORMAT, "nesting deeper than", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_round_trip_every_dtype),
        cmocka_unit_test(test_loads_pytorch_state_dict),
        cmocka_unit_test(test_model_file_round_trip),
        cmocka_unit_test(test_mismatched_model),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_json_escapes_in_names),
        cmocka_unit_test(test_mutated_files_never_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
