/* Writes the safetensors seeds of tests/fuzz/corpus/safetensors/ with cgrad's
 * own writers, so the seeds are what `cgrad train --save` writes:
 *
 *     build/tests/fuzz/fuzz_make_model_seeds tests/fuzz/corpus/safetensors
 *
 * ok-linear.safetensors    linear 4 -> 1, mnist_loss, classes "7,3", gray:2x2
 * ok-mlp3.safetensors      mlp:3 4 -> 3, cross_entropy, classes "a,b,c"
 * ok-linear1.safetensors   linear1 4 -> 1, bce, no classes, no input spec
 * ok-mixed.safetensors     plain weights (no model metadata): U8, I64, BOOL and
 *                          an empty F32 tensor
 * The weights are drawn with a fixed seed, so the files are the same every run. */
#include <stdio.h>
#include <stdlib.h>

#include "cgrad.h"

static int save_model(const char *dir, const char *file, const char *arch, int64_t n_in, int64_t n_out,
                      const char *loss, const char *classes, const char *input) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cg_module *m = cg_model_create(arch, n_in, n_out);
    cg_metadata md = {0};
    int bad = !m || cg_model_metadata(&md, arch, n_in, n_out, loss, classes, input) ||
              cg_model_save(m, path, &md);
    if (bad) fprintf(stderr, "make_model_seeds: %s: %s\n", path, cg_last_error());
    cg_metadata_free(&md);
    cg_module_release(m);
    return bad;
}

static int save_mixed(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/ok-mixed.safetensors", dir);
    const uint8_t bytes[3] = {0, 128, 255};
    const int64_t longs[2] = {-1, 1LL << 40};
    const uint8_t flags[4] = {1, 0, 0, 1};
    cg_tensor *t[4] = {cg_from_data(CG_UINT8, 1, (int64_t[]){3}, bytes),
                       cg_from_data(CG_INT64, 2, (int64_t[]){1, 2}, longs),
                       cg_from_data(CG_BOOL, 2, (int64_t[]){2, 2}, flags),
                       cg_empty(CG_FLOAT32, 2, (int64_t[]){0, 5})};
    const char *names[4] = {"u8", "i64", "flags", "empty"};
    cg_metadata md = {0};
    int bad = !t[0] || !t[1] || !t[2] || !t[3] || cg_metadata_set(&md, "note", "plain weights") ||
              cg_safetensors_save(path, 4, names, t, &md);
    if (bad) fprintf(stderr, "make_model_seeds: %s: %s\n", path, cg_last_error());
    for (int i = 0; i < 4; i++) cg_release(t[i]);
    cg_metadata_free(&md);
    return bad;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    cg_manual_seed(42);
    int bad = save_model(argv[1], "ok-linear.safetensors", "linear", 4, 1, "mnist_loss", "7,3", "gray:2x2");
    bad |= save_model(argv[1], "ok-mlp3.safetensors", "mlp:3", 4, 3, "cross_entropy", "a,b,c", NULL);
    bad |= save_model(argv[1], "ok-linear1.safetensors", "linear1", 4, 1, "bce", NULL, NULL);
    bad |= save_mixed(argv[1]);
    cg_pool_trim();
    return bad;
}
