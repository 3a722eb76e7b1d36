/* cgrad eval — fastai's ClassificationInterpretation from the command line:
 * a saved model over the validation split of --data, in eval mode, with the
 * same data path as `cgrad train` (train_setup.c, fed the model file's own
 * arch, loss, size and resize method), then accuracy, loss, the confusion
 * matrix and the top losses, and confusion.png / top_losses.png in --out.
 *
 *   cgrad train --model simple_net --save m.safetensors
 *   cgrad eval --model m.safetensors --data mnist_sample --k 9 --out eval/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "cli/cli_common.h"
#include "cli/cli_escape.h"
#include "cli/cli_json.h"
#include "cli/cli_number.h"
#include "cli/commands.h"
#include "cli/train_setup.h"

#define EVAL_K_MAX 1024
#define EVAL_COMMON (CLI_OUT | CLI_QUIET | CLI_JSON | CLI_THREADS | CLI_SEED | CLI_DATA)

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad eval --model FILE --data NAME|PATH [--k K] [--out DIR] [options]\n"
            "\n"
            "Runs a saved model over the validation split of --data in eval mode (fastai's\n"
            "ClassificationInterpretation) and prints the accuracy, the mean loss, the confusion\n"
            "matrix (rows actual, columns predicted) and the K items with the largest losses\n"
            "(image, predicted, actual, loss, probability of the prediction; the image is its\n"
            "file under the data folder, valid/3/1234.png, or its index for IDX data).\n"
            "Writes DIR/confusion.png (a Blues heat map) and DIR/top_losses.png (the images titled\n"
            "predicted/actual / loss / probability), atomically.\n"
            "\n"
            "options:\n"
            "  --model FILE   a model saved by `cgrad train --save` (its arch, loss, classes and\n"
            "                 resizing are read from the file)\n"
            "  --data D       mnist_sample, mnist, or a folder with train/ and valid/ (required)\n"
            "  --k K          how many top losses, 1..%d (default 9)\n"
            "  --out DIR      where the PNGs go (default .; created when missing)\n"
            "  --bs N         batch size of the evaluation (default 64)\n"
            "  --valid NAME   the validation folder's name (default valid)\n"
            "  --valid-pct P  the validation split is a seeded random P of train/ instead\n"
            "                 (seeded by --seed, default 42 as `cgrad train`)\n"
            "\n",
            EVAL_K_MAX);
    cli_common_help(f, EVAL_COMMON);
}

typedef struct eval_opts {
    const char *model, *data, *out, *bs, *valid, *valid_pct;
    int64_t k;
    cli_common common;
} eval_opts;

/* The train_args the model was trained with, as far as evaluating needs them:
 * train_args_parse over the flags its metadata implies. */
static int args_from_model(const eval_opts *o, const cg_metadata *md, train_args *a) {
    const char *argv[32];
    int n = 0;
    argv[n++] = "eval";
    argv[n++] = "--data", argv[n++] = o->data;
    const char *arch = cg_metadata_get(md, "arch"), *loss = cg_metadata_get(md, "loss");
    const char *size = cg_metadata_get(md, "size"), *method = cg_metadata_get(md, "resize_method");
    if (!arch) {
        fprintf(stderr, "cgrad: eval: %s names no architecture (arch)\n", cli_esc(o->model));
        return 1;
    }
    argv[n++] = "--model", argv[n++] = arch;
    if (loss) argv[n++] = "--loss", argv[n++] = loss;
    if (size) argv[n++] = "--size", argv[n++] = size;
    if (method) argv[n++] = "--resize-method", argv[n++] = method;
    if (o->bs) argv[n++] = "--bs", argv[n++] = o->bs;
    if (o->valid) argv[n++] = "--valid", argv[n++] = o->valid;
    if (o->valid_pct) argv[n++] = "--valid-pct", argv[n++] = o->valid_pct;
    char seed[32], threads[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->common.seed);
    snprintf(threads, sizeof threads, "%d", o->common.threads);
    if (o->common.seed_set) argv[n++] = "--seed", argv[n++] = seed;
    if (o->common.threads) argv[n++] = "--threads", argv[n++] = threads;
    argv[n] = NULL;
    int rc = train_args_parse(n, (char **)argv, a, false, usage);
    return rc < 0 ? 0 : rc == 0 ? 2 : rc;
}

/* Item i of the valid set as an image: flat rows [H*W] become [H,W] from the
 * model's input ("gray:28x28"). */
static cg_tensor *item_image(cg_dataset *ds, int64_t i, const cg_metadata *md) {
    cg_tensor *x, *y;
    if (cg_dataset_item(ds, i, &x, &y) != CG_OK) return NULL;
    if (x->ndim == 1) {
        const char *in = cg_metadata_get(md, "input");
        long long h = 0, w = 0;
        const char *colon = in ? strchr(in, ':') : NULL;
        if (!colon || sscanf(colon + 1, "%lldx%lld", &h, &w) != 2 || h < 1 || w < 1 || h * w != x->shape[0]) {
            h = 1, w = x->shape[0];
        }
        return cg_reshape(x, CG_SHAPE(h, w));
    }
    return x;
}

/* The results as text: accuracy, loss, the confusion matrix, the top losses. */
static void print_text(const eval_opts *o, const cg_interp *in, const char *const *cls, const int64_t *cm,
                       const int64_t *top, int64_t k, const train_setup *s, cg_dataset *vds) {
    int64_t c = in->n_classes;
    printf("model %s on %s: %lld valid items\n", cli_esc(o->model), cli_esc(o->data), (long long)in->n);
    printf("accuracy %.6f\nloss %.6f\n\n", cg_interp_accuracy(in), cg_interp_mean_loss(in));
    /* the confusion matrix as a table: rows actual, columns predicted */
    int width = 6;
    char buf[32];
    for (int64_t j = 0; j < c; j++) {
        int l = (int)strlen(cls ? cli_esc(cls[j]) : (snprintf(buf, sizeof buf, "%lld", (long long)j), buf));
        if (l + 1 > width) width = l + 1;
    }
    for (int64_t j = 0; j < c * c; j++) {
        int l = snprintf(buf, sizeof buf, "%lld", (long long)cm[j]);
        if (l + 1 > width) width = l + 1;
    }
    printf("confusion matrix (rows actual, columns predicted)\n%*s", width, "");
    for (int64_t p = 0; p < c; p++) {
        if (cls) printf("%*s", width, cli_esc(cls[p]));
        else printf("%*lld", width, (long long)p);
    }
    printf("\n");
    for (int64_t r = 0; r < c; r++) {
        if (cls) printf("%*s", width, cli_esc(cls[r]));
        else printf("%*lld", width, (long long)r);
        for (int64_t p = 0; p < c; p++) printf("%*lld", width, (long long)cm[r * c + p]);
        printf("\n");
    }
    /* the top losses, fastai's plot_top_losses titles as columns */
    bool files = k > 0 && train_item_path(s, vds, top[0]);
    printf("\ntop %lld losses (image: %s)\nimage\tpredicted\tactual\tloss\tprobability\n", (long long)k,
           files ? "its file under the data folder" : "its index in the valid set");
    for (int64_t j = 0; j < k; j++) {
        int64_t i = top[j];
        char pb[32], ab[32];
        snprintf(pb, sizeof pb, "%lld", (long long)in->preds[i]);
        snprintf(ab, sizeof ab, "%lld", (long long)in->targets[i]);
        const char *path = train_item_path(s, vds, i);
        if (path) printf("%s\t", cli_esc(path));
        else printf("%lld\t", (long long)i);
        printf("%s\t", cls ? cli_esc(cls[in->preds[i]]) : pb);
        printf("%s\t%.4f\t%.4f\n", cls ? cli_esc(cls[in->targets[i]]) : ab, in->losses[i],
               in->probs[i * c + in->preds[i]]);
    }
}

/* The same as one JSON object. */
static void print_json(const eval_opts *o, const cg_interp *in, const char *const *cls, const int64_t *cm,
                       const int64_t *top, int64_t k, const train_setup *s, cg_dataset *vds) {
    int64_t c = in->n_classes;
    char buf[32];
    printf("{\"model\": ");
    cli_json_string(stdout, o->model);
    printf(", \"data\": ");
    cli_json_string(stdout, o->data);
    printf(", \"items\": %lld, \"accuracy\": %.9g, \"loss\": %.9g, \"classes\": [", (long long)in->n,
           cg_interp_accuracy(in), cg_interp_mean_loss(in));
    for (int64_t j = 0; j < c; j++) {
        snprintf(buf, sizeof buf, "%lld", (long long)j);
        printf("%s", j ? ", " : "");
        cli_json_string(stdout, cls ? cls[j] : buf);
    }
    printf("], \"confusion\": [");
    for (int64_t r = 0; r < c; r++) {
        printf("%s[", r ? ", " : "");
        for (int64_t p = 0; p < c; p++) printf("%s%lld", p ? ", " : "", (long long)cm[r * c + p]);
        printf("]");
    }
    printf("], \"top_losses\": [");
    for (int64_t j = 0; j < k; j++) {
        int64_t i = top[j];
        printf("%s{\"item\": %lld, \"path\": ", j ? ", " : "", (long long)i);
        cli_json_string(stdout, train_item_path(s, vds, i)); /* null for IDX data */
        printf(", \"predicted\": %lld, \"actual\": %lld, \"loss\": %.9g, \"probability\": %.9g}",
               (long long)in->preds[i], (long long)in->targets[i], in->losses[i], in->probs[i * c + in->preds[i]]);
    }
    printf("]}\n");
}

static int eval(const eval_opts *o) {
    cg_metadata md = {0};
    cg_module *model = cg_model_load(o->model, &md);
    if (!model) return cli_fail_last();
    train_args a;
    int rc = args_from_model(o, &md, &a);
    train_setup s = {0};
    cg_interp in = {0};
    int64_t n_names = 0;
    char **names = NULL;
    int64_t *cm = NULL, *top = NULL;
    if (rc) goto done;
    if (train_setup_build(&a, &s) != CG_OK || cg_model_classes(&md, &n_names, &names) != CG_OK ||
        cg_interp_from_model(model, s.dls->valid, s.loss, &in) != CG_OK) {
        rc = cli_fail_last();
        goto done;
    }
    if (names && n_names != in.n_classes) {
        cg_model_classes_free(n_names, names);
        names = NULL, n_names = 0;
    }
    int64_t c = in.n_classes;
    cm = calloc((size_t)(c * c), sizeof *cm);
    top = calloc((size_t)o->k, sizeof *top);
    if (!cm || !top || cg_interp_confusion_matrix(&in, cm) != CG_OK) {
        rc = cli_fail("eval: out of memory");
        goto done;
    }
    const char *const *cls = (const char *const *)names;
    int64_t k = cg_interp_top_losses(&in, o->k, top);
    cg_dataset *vds = cg_dataloader_dataset(s.dls->valid);
    if (o->common.json) print_json(o, &in, cls, cm, top, k, &s, vds);
    else print_text(o, &in, cls, cm, top, k, &s, vds);
    /* the pictures */
    char *cm_png = cg_path_join(o->out, "confusion.png"), *top_png = cg_path_join(o->out, "top_losses.png");
    cg_status st = cm_png && top_png ? cg_mkdirs(o->out) : cg_fail(CG_ERR_NOMEM, "eval: out of memory");
    if (st == CG_OK) st = cg_plot_confusion_matrix(cm, c, cls, cm_png);
    cg_scope_begin();
    cg_tensor **imgs = st == CG_OK ? calloc((size_t)k, sizeof *imgs) : NULL;
    if (st == CG_OK && !imgs) st = cg_fail(CG_ERR_NOMEM, "eval: out of memory");
    for (int64_t j = 0; st == CG_OK && j < k; j++)
        if (!(imgs[j] = item_image(vds, top[j], &md))) st = cg_last_status();
    cg_tensor *batch = st == CG_OK ? cg_stack(imgs, (int)k, 0) : NULL;
    if (st == CG_OK && !batch) st = cg_last_status();
    if (st == CG_OK) st = cg_plot_top_losses(&in, top, k, batch, cls, top_png);
    cg_scope_end();
    free(imgs);
    if (st != CG_OK) rc = cli_fail_last();
    else if (!o->common.quiet) fprintf(stderr, "saved %s\nsaved %s\n", cli_esc(cm_png), cli_esc(top_png));
    free(cm_png);
    free(top_png);
done:
    free(cm);
    free(top);
    cg_model_classes_free(n_names, names);
    cg_interp_free(&in);
    if (s.learn || s.model || s.dls) train_setup_free(&s);
    cg_module_release(model);
    cg_metadata_free(&md);
    return rc;
}

enum { O_MODEL, O_DATA, O_K, O_BS, O_VALID, O_VALID_PCT };
static const cli_option eval_options[] = {
    [O_MODEL] = {"--model", true},   [O_DATA] = {"--data", true},    [O_K] = {"--k", true},
    [O_BS] = {"--bs", true},         [O_VALID] = {"--valid", true},  [O_VALID_PCT] = {"--valid-pct", true},
};

int cmd_eval(int argc, char **argv) {
    eval_opts o = {.out = ".", .k = 9, .common = cli_common_init(EVAL_COMMON, 42)};
    int i = 0;
    bool dashes = false;
    const char *v;
    char msg[256];
    int n_opts = (int)(sizeof eval_options / sizeof eval_options[0]);
    for (int k; (k = cli_parse("eval", eval_options, n_opts, &o.common, argc, argv, &i, &dashes, &v, usage)) != -2;) {
        int bad = 0;
        switch (k) {
        case CLI_DONE: return 0;
        case CLI_USAGE: return 2;
        case -1: return cli_usage_error("eval", usage, "unexpected argument '%s'", cli_esc(v));
        case O_MODEL: o.model = v; break;
        case O_DATA: o.data = v; break;
        case O_K: bad = cli_parse_int64("--k", v, 1, EVAL_K_MAX, &o.k, msg, sizeof msg); break;
        case O_BS: o.bs = v; break;
        case O_VALID: o.valid = v; break;
        case O_VALID_PCT: o.valid_pct = v; break;
        default: break;
        }
        if (bad) return cli_usage_error("eval", usage, "%s", msg);
    }
    if (!o.model) return cli_usage_error("eval", usage, "which model? (--model FILE)");
    if (!o.data) return cli_usage_error("eval", usage, "--data NAME|PATH is required");
    if (o.common.out) o.out = o.common.out;
    if (cli_common_apply(&o.common)) return 1;
    cg_scope_begin();
    int rc = eval(&o);
    cg_scope_end();
    return rc;
}
