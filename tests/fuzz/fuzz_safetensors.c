/* Fuzz target: safetensors files and model files (src/io/safetensors.c, json.c,
 * weights.c, predict.c), the path `cgrad predict --model FILE` takes.
 *
 * The input is the file.  It goes through
 *   1. cg_safetensors_parse (memory): the header, JSON, dtypes, shapes, offsets;
 *   2. cg_model_load (a path, here a memfd): the architecture is rebuilt from
 *      the metadata and the weights are loaded into it strictly;
 *   3. when that succeeds, what predict does with it: cg_module_repr (--info),
 *      cg_model_input_from_png on a 2x2 gray PNG (the metadata's "input" spec)
 *      and cg_model_predict on that input, and on a zero input of the model's
 *      width (the "loss" activation and the "classes" names).
 * Properties:
 *   - an accepted file's tensors have the dtype sizes and byte counts their
 *     shapes say, and names are distinct;
 *   - cg_model_load accepts only files cg_safetensors_parse accepts;
 *   - a prediction has n_classes >= 1, probabilities in [0, 1] for activations
 *     that give probabilities, a label < n_classes, and a name for every class;
 *   - failures leave a message, and nothing leaks (tensors included).
 * fuzz_run's "accepted" (for the replay's ok-/bad- seeds): parsed, and loaded as
 * a model if its metadata says it is one. */
#include "fuzz_support.h" /* first: it defines _GNU_SOURCE */

#include <math.h>

static fuzz_memfile model_file = FUZZ_MEMFILE_INIT, png_file = FUZZ_MEMFILE_INIT;

/* A 2x2 gray 8-bit PNG, pixels 0, 85, 170, 255: corpus/png/ok-gray8-2x2. */
static const uint8_t png_2x2[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x57, 0xdd, 0x52,
    0xf8, 0x00, 0x00, 0x00, 0x0e, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0x08, 0x65, 0x58,
    0xf5, 0x1f, 0x00, 0x03, 0xad, 0x01, 0xff, 0x7a, 0x93, 0x84, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x49,
    0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static void check_parsed(const cg_safetensors *st) {
    FUZZ_CHECK(st->n >= 0 && (st->n == 0 || (st->names && st->tensors)), "n %d", st->n);
    for (int i = 0; i < st->n; i++) {
        const cg_tensor *t = st->tensors[i];
        FUZZ_CHECK(t && st->names[i], "tensor %d missing", i);
        FUZZ_CHECK(strcmp(st->names[i], "__metadata__"), "a tensor is named __metadata__");
        /* empty tensors left out of the contiguity check: see fuzz_idx.c */
        FUZZ_CHECK((cg_numel(t) == 0 || cg_is_contiguous(t)) && t->ndim >= 0 && t->ndim <= CG_MAX_DIMS,
                   "tensor '%s'", st->names[i]);
        for (int j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(st->names[i], st->names[j]), "'%s' twice", st->names[i]);
        FUZZ_CHECK(cg_safetensors_get(st, st->names[i]) == t, "get '%s'", st->names[i]);
        if (t->dtype == CG_BOOL) {
            const uint8_t *b = cg_data(t);
            for (int64_t k = 0; k < cg_numel(t); k++) FUZZ_CHECK(b[k] <= 1, "bool %u", b[k]);
        }
    }
    for (int i = 0; i < st->metadata.n; i++)
        FUZZ_CHECK(cg_metadata_get(&st->metadata, st->metadata.keys[i]), "metadata '%s'",
                   st->metadata.keys[i]);
}

/* cg_model_predict on x, and the properties of what it returns. */
static void predict_on(cg_module *m, const cg_metadata *md, cg_tensor *x) {
    cg_prediction p;
    cg_clear_error();
    if (cg_model_predict(m, md, x, &p) != CG_OK) {
        FUZZ_CHECK_MESSAGE("cg_model_predict");
        return;
    }
    const char *loss_name = cg_metadata_get(md, "loss");
    const cg_loss *loss = loss_name ? cg_loss_by_name(loss_name) : NULL;
    int probabilities = !loss || loss->activation; /* mse, l1: outputs as they are */
    FUZZ_CHECK(p.n_classes >= 1 && p.label >= 0 && p.label < p.n_classes && p.probs && p.names,
               "n_classes %lld label %lld", (long long)p.n_classes, (long long)p.label);
    for (int64_t k = 0; k < p.n_classes; k++) {
        FUZZ_CHECK(p.names[k], "class %lld has no name", (long long)k);
        if (probabilities)
            FUZZ_CHECK(!(p.probs[k] < 0 || p.probs[k] > 1), "P(class %lld) = %g", (long long)k, p.probs[k]);
    }
    FUZZ_CHECK(p.name == p.names[p.label], "name is not names[label]");
    cg_prediction_free(&p);
}

/* What cgrad predict does with a loaded model: --info prints its repr; each
 * image becomes an input as "input" says (here a 2x2 gray PNG), then a
 * prediction.  A zero input of the model's width [1, n_in] is predicted too, so
 * the activation and class names are reached whatever "input" says. */
static void predict(cg_module *m, const cg_metadata *md) {
    char *repr = cg_module_repr(m);
    FUZZ_CHECK(repr && repr[0], "cg_module_repr: %s", cg_last_error());
    free(repr);

    const char *png_path = fuzz_memfile_put(&png_file, png_2x2, sizeof png_2x2);
    cg_clear_error();
    cg_tensor *from_png = cg_model_input_from_png(md, png_path);
    if (from_png) predict_on(m, md, from_png);
    else FUZZ_CHECK_MESSAGE("cg_model_input_from_png");
    cg_release(from_png);

    const char *n_in_text = cg_metadata_get(md, "n_in");
    FUZZ_CHECK(n_in_text, "a loaded model without n_in");
    int64_t n_in = strtoll(n_in_text, NULL, 10);
    FUZZ_CHECK(n_in > 0, "n_in '%s'", n_in_text);
    cg_tensor *x = cg_zeros(CG_FLOAT32, 2, (int64_t[]){1, n_in});
    FUZZ_CHECK(x, "zeros [1, %lld]: %s", (long long)n_in, cg_last_error());
    predict_on(m, md, x);
    cg_release(x);
}

int fuzz_run(const uint8_t *data, size_t size) {
    size_t before = fuzz_mem_before();
    cg_safetensors st;
    cg_clear_error();
    int parsed = cg_safetensors_parse(data, size, "fuzz.safetensors", &st) == CG_OK;
    int is_model = 0;
    if (parsed) {
        check_parsed(&st);
        const char *format = cg_metadata_get(&st.metadata, "format");
        is_model = format && !strcmp(format, CG_MODEL_FORMAT);
        cg_safetensors_free(&st);
    } else {
        FUZZ_CHECK_MESSAGE("cg_safetensors_parse");
        FUZZ_CHECK(st.n == 0 && !st.names && !st.tensors && st.metadata.n == 0, "output left behind");
    }

    const char *path = fuzz_memfile_put(&model_file, data, size);
    cg_metadata md;
    cg_clear_error();
    cg_module *m = cg_model_load(path, &md);
    if (m) {
        FUZZ_CHECK(parsed, "cg_model_load accepts what cg_safetensors_parse rejects");
        predict(m, &md);
        cg_module_release(m);
        cg_metadata_free(&md);
    } else {
        FUZZ_CHECK_MESSAGE("cg_model_load");
        FUZZ_CHECK(md.n == 0, "metadata left behind");
    }
    fuzz_mem_after(before);
    /* accepted: parsed, and loaded as a model when it says it is one */
    return parsed && (!is_model || m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_run(data, size);
    return 0;
}
