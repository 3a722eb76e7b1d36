/* Options and set-up shared by `cgrad train` and `cgrad lr-find`.
 *
 * --data picks the data and, with it, the task:
 *   mnist_sample  the chapter's tensors: threes and sevens, 784 pixels, y = 1
 *                 for a three (classes "7,3"); default loss mnist_loss
 *   mnist         full MNIST from the IDX files (60000 / 10000), 10 classes;
 *                 default loss cross_entropy
 *   mnist_png     full MNIST as PNG folders (training/, testing/)
 *   PATH          a folder with train/<class>/ and valid/<class>/ PNG or JPEG
 *                 files (--train/--valid name others; --valid-pct splits every
 *                 image of PATH at random), or MNIST's four IDX files; read
 *                 as gray; default loss cross_entropy
 * --model resnet18|resnet34|cnn take the images as [C,H,W] (RGB for the
 * resnets, as fastai's PILImage.create opens them; gray for cnn), and read
 * mnist_sample as the image folder it is (ImageDataLoaders.from_folder:
 * classes "3", "7", the training set shuffled with drop_last); their defaults
 * follow the chapter's vision_learner call: Adam, cross_entropy, accuracy,
 * batch 64, lr 0.1 (resnets, fit_one_cycle(1, 0.1)) or 0.01 (cnn).
 * Except for mnist_sample with the chapter's models (its float tensors), the
 * images are held as uint8 and every batch becomes floats in [0,1] when it is made
 * (--size resizes them first, as fastai's Resize: a random box on the training
 * set, the centre on valid).  The training batches are shuffled (seeded by
 * --seed) like fastai's ImageDataLoaders, except for mnist_sample, whose
 * DataLoader is the chapter's: in order, threes then sevens (--shuffle /
 * --no-shuffle override). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "cli/cli_escape.h"
#include "cli/cli_number.h"
#include "cli/commands.h"
#include "cli/train_setup.h"

void train_args_help(FILE *f) {
    fprintf(f,
            "  --data NAME|PATH  mnist_sample (the chapter's 3s and 7s), mnist (all ten digits),\n"
            "                    mnist_png (the same as PNG folders), a folder with\n"
            "                    train/<class>/ and valid/<class>/ PNGs or JPEGs (at least two\n"
            "                    classes), or a folder holding MNIST's four IDX files\n"
            "  --train NAME, --valid NAME  the folders of the two splits (default train and\n"
            "                    valid; training and testing for mnist_png)\n"
            "  --valid-pct P     no valid folder: every image of the data, split at random\n"
            "                    (fastai's RandomSplitter, seeded by --seed), 0 < P < 1\n"
            "  --size N          fastai's Resize(N) on every image, 1..%d\n"
            "  --resize-method crop|pad|squish  (squash too) Resize's method (default crop:\n"
            "                    a random crop on the training set, the centre on valid)\n"
            "  --strict          an empty class folder is an error (default: a warning)\n"
            "  --augment         fastai's aug_transforms on the training set, flips left out:\n"
            "                    rotation up to 10 degrees and zoom 1-1.1, each with p 0.75\n"
            "  --max-translate X with --augment, also a shift of each training image uniform in\n"
            "                    +-X per axis, in grid units (2 = the image's side: 0.2 moves a\n"
            "                    28x28 digit up to 2.7 pixels), 0..2 (default 0, fastai's)\n"
            "  --model NAME      linear, linear1 (the chapter's init_params xb@weights+bias),\n"
            "                    simple_net, mlp, mlp:HIDDEN (784-HIDDEN-ReLU-out, HIDDEN 1..%d)\n"
            "                    on flat rows; on images [C,H,W]: resnet18, resnet34\n"
            "                    (vision_learner's model, RGB), cnn (4 conv-BN-ReLU, gray) and\n"
            "                    cnn-wide (6 conv-BN-ReLU, dropout 0.25, gray)\n"
            "  --loss NAME       mnist_loss, bce, cross_entropy, label_smoothing, mse, l1\n"
            "                    (default: mnist_loss for mnist_sample with the flat models,\n"
            "                    cross_entropy otherwise); label_smoothing is fastai's\n"
            "                    LabelSmoothingCrossEntropy(eps=0.1)\n"
            "  --opt sgd|adam|basic  fastai's SGD (the chapter's; the flat models' default), Adam\n"
            "                    (vision_learner's; resnet18/34 and cnn's default), or the\n"
            "                    chapter's BasicOptim (p -= lr*grad; grads set to None)\n"
            "  --wd X            weight decay, >= 0 (default: the optimizer's, SGD 0, Adam 0.01)\n"
            "  --bs N            batch size, 1..%d (default 256, the chapter's; 64, fastai's,\n"
            "                    for resnet18/34 and cnn)\n"
            "  --shuffle, --no-shuffle  shuffle the training set each epoch (default: on, but off\n"
            "                    for mnist_sample, whose DataLoader is the chapter's, in order)\n"
            "  (--seed seeds the weights' initialisation, the shuffle and --valid-pct's split)\n"
            ,
            TRAIN_SIZE_MAX, TRAIN_HIDDEN_MAX, TRAIN_BS_MAX);
}

/* The options of train and lr-find; the ones marked train-only are unknown to lr-find. */
/* (--help, --version, --out, --quiet, --json, --threads, --seed, --mirror and --home: cli_common.h) */
enum {
    OPT_ONE_CYCLE, OPT_SHUFFLE, OPT_NO_SHUFFLE, OPT_DATA, OPT_MODEL, OPT_OPT,
    OPT_LOSS, OPT_SAVE, OPT_CSV, OPT_PLOT, OPT_EPOCHS, OPT_LR, OPT_WD, OPT_BS,
    OPT_SIZE, OPT_RESIZE_METHOD, OPT_VALID_PCT, OPT_TRAIN, OPT_VALID, OPT_STRICT, OPT_AUGMENT,
    OPT_MAX_TRANSLATE,
    OPT_CHECKPOINT, OPT_CHECKPOINTS, OPT_RESUME,
    OPT_COUNT
};
static const cli_option train_options[OPT_COUNT] = {
    [OPT_ONE_CYCLE] = {"--one-cycle", false},
    [OPT_SHUFFLE] = {"--shuffle", false},  [OPT_NO_SHUFFLE] = {"--no-shuffle", false},
    [OPT_DATA] = {"--data", true},      [OPT_MODEL] = {"--model", true},
    [OPT_OPT] = {"--opt", true},        [OPT_LOSS] = {"--loss", true},
    [OPT_SAVE] = {"--save", true},      [OPT_CSV] = {"--csv", true},
    [OPT_PLOT] = {"--plot", true},      [OPT_EPOCHS] = {"--epochs", true},
    [OPT_LR] = {"--lr", true},          [OPT_WD] = {"--wd", true},
    [OPT_BS] = {"--bs", true},
    [OPT_SIZE] = {"--size", true},      [OPT_RESIZE_METHOD] = {"--resize-method", true},
    [OPT_VALID_PCT] = {"--valid-pct", true}, [OPT_TRAIN] = {"--train", true},
    [OPT_VALID] = {"--valid", true},    [OPT_STRICT] = {"--strict", false},
    [OPT_AUGMENT] = {"--augment", false},
    [OPT_MAX_TRANSLATE] = {"--max-translate", true},
    [OPT_CHECKPOINT] = {"--checkpoint", true}, [OPT_CHECKPOINTS] = {"--checkpoints", false},
    [OPT_RESUME] = {"--resume", true},
};
/* lr-find's: the same table less --one-cycle, --save, --csv, --epochs, --lr,
 * --checkpoint(s), --resume (lr-find sweeps the rate itself) */
static bool train_only(int k) {
    return k == OPT_ONE_CYCLE || k == OPT_SAVE || k == OPT_CSV || k == OPT_EPOCHS || k == OPT_LR ||
           k == OPT_CHECKPOINT || k == OPT_CHECKPOINTS || k == OPT_RESUME;
}

/* --out DIR's fixed names for what the older flags did not name. */
static int out_paths(const char *cmd, train_args *a, bool for_lr_find, void (*usage)(FILE *)) {
    const char *dir = a->common.out;
    const char *names[4] = {TRAIN_OUT_MODEL, TRAIN_OUT_CSV, "", TRAIN_OUT_CHECKPOINTS};
    const char **dst[4] = {&a->save, &a->csv, &a->plot, &a->checkpoint};
    if (for_lr_find) names[0] = LR_FIND_OUT_PNG, dst[0] = &a->plot;
    int n = for_lr_find ? 1 : 4;
    for (int k = 0; k < n; k++) {
        if (*dst[k] || (k == 3 && !a->checkpoints)) continue;
        /* train's plots: DIR/loss.png and DIR/metric.png (cmd_train.c), not --plot's PREFIX_*.png */
        int len = k == 2 ? snprintf(a->out_paths[k], sizeof a->out_paths[k], "%s", dir)
                         : snprintf(a->out_paths[k], sizeof a->out_paths[k], "%s/%s", dir, names[k]);
        if (k == 2) a->plot_in_dir = true;
        if (len < 0 || (size_t)len >= sizeof a->out_paths[k])
            return cli_usage_error(cmd, usage, "--out: the folder name is too long (%zu bytes)", strlen(dir));
        *dst[k] = a->out_paths[k];
    }
    return -1;
}

/* mlp:HIDDEN's width, checked here like any numeric flag (the library
 * checks it too, but only as "positive"). */
static int check_model(const char *cmd, const char *model, void (*usage)(FILE *)) {
    if (strncmp(model, "mlp:", 4)) return -1;
    char msg[256];
    if (cli_parse_int64("--model mlp:HIDDEN", model + 4, 1, TRAIN_HIDDEN_MAX, NULL, msg, sizeof msg))
        return cli_usage_error(cmd, usage, "%s", msg);
    return -1;
}

void train_args_defaults(train_args *a) {
    memset(a, 0, sizeof *a);
    a->opt = NULL; /* unset: the model's default, at build */
    a->epochs = 1;
    a->lr = NAN;   /* unset: the model's default */
    a->wd = NAN;   /* unset: the optimizer's */
    a->bs = 0;     /* unset: the model's default */
    a->shuffle = -1;
}

int train_args_parse(int argc, char **argv, train_args *a, bool for_lr_find,
                     void (*usage)(FILE *)) {
    const char *cmd = argv[0];
    train_args_defaults(a);
    a->common = cli_common_init(CLI_OUT | CLI_QUIET | CLI_JSON | CLI_THREADS | CLI_SEED | CLI_DATA, 42);
    /* lr-find sees a table without the train-only options, so they are unknown there */
    cli_option opts[OPT_COUNT];
    for (int k = 0; k < OPT_COUNT; k++)
        opts[k] = for_lr_find && train_only(k) ? (cli_option){"", false} : train_options[k];
    int i = 0;
    bool dashes = false;
    const char *v;
    char msg[256];
    int64_t n = 0;
    for (int k; (k = cli_parse(cmd, opts, OPT_COUNT, &a->common, argc, argv, &i, &dashes, &v, usage)) != -2;) {
        if (k == CLI_DONE) return 0;
        if (k == CLI_USAGE) return 2;
        if (k == -1) return cli_usage_error(cmd, usage, "unexpected argument '%s' (%s takes options only)",
                                            cli_esc(v), cmd);
        int bad = 0;
        switch (k) {
        case OPT_ONE_CYCLE: a->one_cycle = true; break;
        case OPT_SHUFFLE: a->shuffle = 1; break;
        case OPT_NO_SHUFFLE: a->shuffle = 0; break;
        case OPT_DATA: a->data = v; break;
        case OPT_MODEL: a->model = v; break;
        case OPT_OPT: a->opt = v; break;
        case OPT_LOSS: a->loss = v; break;
        case OPT_SAVE: a->save = v; break;
        case OPT_CSV: a->csv = v; break;
        case OPT_PLOT: a->plot = v; break;
        case OPT_CHECKPOINT: a->checkpoint = v; break;
        case OPT_CHECKPOINTS: a->checkpoints = true; break;
        case OPT_RESUME: a->resume = v; break;
        case OPT_EPOCHS:
            bad = cli_parse_int64("--epochs", v, 1, TRAIN_EPOCHS_MAX, &n, msg, sizeof msg);
            a->epochs = (int)n;
            break;
        case OPT_LR: bad = cli_parse_double("--lr", v, 0, DBL_MAX, true, &a->lr, msg, sizeof msg); break;
        case OPT_WD: bad = cli_parse_double("--wd", v, 0, DBL_MAX, false, &a->wd, msg, sizeof msg); break;
        case OPT_BS: bad = cli_parse_int64("--bs", v, 1, TRAIN_BS_MAX, &a->bs, msg, sizeof msg); break;
        case OPT_SIZE: bad = cli_parse_int64("--size", v, 1, TRAIN_SIZE_MAX, &a->size, msg, sizeof msg); break;
        case OPT_RESIZE_METHOD:
            if (cg_resize_method_parse(v, &a->resize_method) != CG_OK)
                return cli_usage_error(cmd, usage, "--resize-method must be crop, pad or squish (squash), "
                                       "got '%s'", cli_esc(v));
            break;
        case OPT_VALID_PCT:
            bad = cli_parse_double("--valid-pct", v, 0, 1, true, &a->valid_pct, msg, sizeof msg);
            if (!bad && !(a->valid_pct < 1))
                return cli_usage_error(cmd, usage, "--valid-pct must be between 0 and 1 (exclusive), got %s",
                                       cli_esc(v));
            break;
        case OPT_TRAIN: a->train_dir = v; break;
        case OPT_VALID: a->valid_dir = v; break;
        case OPT_STRICT: a->strict = true; break;
        case OPT_AUGMENT: a->augment = true; break;
        case OPT_MAX_TRANSLATE:
            bad = cli_parse_double("--max-translate", v, 0, 2, false, &a->max_translate, msg, sizeof msg);
            a->max_translate_set = true;
            break;
        default: break;
        }
        if (bad) return cli_usage_error(cmd, usage, "%s", msg);
    }
    a->json = a->common.json;
    a->seed = a->common.seed;
    a->threads = a->common.threads;
    if (a->max_translate_set && !a->augment)
        return cli_usage_error(cmd, usage, "--max-translate shifts the --augment transforms: give --augment too");
    if (a->checkpoints && !a->common.out)
        return cli_usage_error(cmd, usage, "--checkpoints writes into --out DIR: give --out DIR too");
    if (a->common.out) {
        int rc = out_paths(cmd, a, for_lr_find, usage);
        if (rc >= 0) return rc;
    }
    if (!a->data) return cli_usage_error(cmd, usage, "--data NAME|PATH is required");
    if (!a->model) return cli_usage_error(cmd, usage, "--model NAME is required");
    int rc = check_model(cmd, a->model, usage);
    if (rc >= 0) return rc;
    /* Defaults follow the chapter's calls: Learner(dls, simple_net, opt_func=SGD)
     * with bs 256 and lr 0.1; vision_learner (Adam, bs 64) with
     * fit_one_cycle(1, 0.1) for the resnets and the cnn's PyTorch twin's
     * one-cycle to 0.01. */
    bool vision = cg_model_takes_images(a->model);
    if (!a->opt) a->opt = vision ? "adam" : "sgd";
    if (!a->bs) a->bs = vision ? 64 : 256;
    if (isnan(a->lr)) a->lr = !strncmp(a->model, "cnn", 3) ? 0.01 : 0.1; /* cnn, cnn-wide */
    if (strcmp(a->opt, "sgd") && strcmp(a->opt, "adam") && strcmp(a->opt, "basic"))
        return cli_usage_error(cmd, usage, "--opt must be sgd, adam or basic, got '%s'", cli_esc(a->opt));
    return cli_common_apply(&a->common) ? 1 : -1;
}

/* ---- data ----------------------------------------------------------------- */

/* The chapter's models take flat rows: a dataset over another one whose
 * batches are x [n, C*H*W] (a view of the batch) and y [n], or y [n,1] for the
 * one-output losses (the chapter's train_y.unsqueeze(1)).  The image models
 * keep x [n,C,H,W] (flatten false) and only take the y column when asked. */
typedef struct flat_ctx {
    cg_dataset *inner;
    bool flatten, column_y;
} flat_ctx;

static int64_t flat_len(void *ctx) { return cg_dataset_len(((flat_ctx *)ctx)->inner); }

static cg_status flat_get(void *ctx, int64_t i, cg_tensor **x, cg_tensor **y) {
    flat_ctx *c = ctx;
    cg_status st = cg_dataset_item(c->inner, i, x, y);
    if (st != CG_OK) return st;
    if (c->flatten) *x = cg_flatten(*x, 0, -1);
    *y = c->column_y ? cg_unsqueeze(*y, 0) : *y;
    return *x && *y ? CG_OK : cg_last_status();
}

static cg_status flat_get_batch(void *ctx, const int64_t *idx, int64_t n, cg_tensor **xb, cg_tensor **yb) {
    flat_ctx *c = ctx;
    cg_status st = cg_dataset_batch(c->inner, idx, n, xb, yb);
    if (st != CG_OK) return st;
    if (c->flatten) *xb = cg_flatten(*xb, 1, -1);
    *yb = c->column_y ? cg_unsqueeze(*yb, 1) : *yb;
    return *xb && *yb ? CG_OK : cg_last_status();
}

static void flat_free(void *ctx) {
    cg_dataset_release(((flat_ctx *)ctx)->inner);
    free(ctx);
}

static const char *flat_source(void *ctx, int64_t i) {
    return cg_dataset_item_source(((flat_ctx *)ctx)->inner, i);
}

/* Takes over the reference to inner (released on failure too). */
static cg_dataset *flat_rows(cg_dataset *inner, bool flatten, bool column_y) {
    flat_ctx *c = inner ? malloc(sizeof *c) : NULL;
    if (!c) {
        if (inner) cg_fail(CG_ERR_NOMEM, "train: out of memory");
        cg_dataset_release(inner);
        return NULL;
    }
    *c = (flat_ctx){inner, flatten, column_y};
    static const cg_dataset_ops ops = {flat_len, flat_get, flat_get_batch, flat_free, flat_source};
    cg_dataset *ds = cg_dataset_new(cg_dataset_kind(inner), &ops, c);
    int64_t n = 0;
    const char *const *names = cg_dataset_classes(inner, &n);
    if (ds && n) cg_dataset_set_classes(ds, names, n);
    if (ds) cg_dataset_set_nbytes(ds, cg_dataset_nbytes(inner));
    if (!ds) flat_free(c);
    return ds;
}

/* The [C,H,W] shape of ds's items (its first). */
static cg_status item_hw(cg_dataset *ds, int64_t *c, int64_t *h, int64_t *w) {
    cg_tensor *x = NULL, *y = NULL;
    cg_scope_begin(); /* the item dies here, whatever scope the caller has open */
    cg_status st = cg_dataset_item(ds, 0, &x, &y);
    if (st == CG_OK && x->ndim != 3) st = cg_fail(CG_ERR_FORMAT, "train: items are not images [C,H,W]");
    if (st == CG_OK) *c = x->shape[0], *h = x->shape[1], *w = x->shape[2];
    cg_scope_end();
    return st;
}

/* *out = the "classes" metadata value for names[0..n): a JSON array, so any
 * name (a comma, a quote, any length) round-trips to `cgrad predict`. */
static cg_status classes_json(int64_t n, const char *const *names, char **out) {
    cg_metadata md = {0};
    cg_status st = cg_model_set_classes(&md, n, names);
    if (st == CG_OK) { /* take the value over */
        *out = md.values[0];
        md.values[0] = NULL;
    }
    cg_metadata_free(&md);
    return st;
}

static cg_status join_classes(cg_dataset *ds, char **out) {
    int64_t n = 0;
    const char *const *names = cg_dataset_classes(ds, &n);
    if (n <= 0) return cg_fail(CG_ERR_FORMAT, "train: the dataset has no class names");
    return classes_json(n, names, out);
}

static bool is_binary_loss(const char *name);
static const char *loss_name_of(const train_args *a);

/* The training and validation datasets of --data as ImageDataLoaders.from_folder
 * reads them (uint8 in memory, --size/--train/--valid/--valid-pct): gray flat
 * rows for the chapter's models, [C,H,W] for the image models (RGB for the
 * resnets, gray for cnn), and their DataLoaders (an image model's training
 * loader drops its last partial batch, as fastai's does); empty class folders
 * are warned about. */
static cg_status load_split_pair(const train_args *a, train_setup *s, int64_t *n_classes) {
    char root[4096];
    const char *data = a->data;
    bool vision = cg_model_takes_images(a->model);
    cg_image_folder_options o = cg_image_folder_defaults();
    o.item = (cg_image_item_options){.channels = vision && strncmp(a->model, "cnn", 3) ? 3 : 1, /* cnn(-wide): gray */
                                     .to_float = true};
    if (a->size) o.item.resize = (cg_resize_options){.height = a->size, .width = a->size,
                                                     .method = a->resize_method};
    o.train = a->train_dir, o.valid = a->valid_dir;
    o.valid_pct = a->valid_pct;
    o.seeded = true, o.seed = a->seed;
    o.strict = a->strict;
    cg_augment_options augment = cg_augment_defaults(); /* its seed comes from o.seed */
    augment.max_translate = a->max_translate;
    if (a->augment) o.augment = &augment;
    cg_status st = CG_OK;
    if (!strcmp(data, "mnist") || !strcmp(data, "mnist_png") || !strcmp(data, "mnist_sample")) {
        st = cg_dataset_get(data, NULL, root, sizeof root);
        if (st != CG_OK) return st;
        if (!strcmp(data, "mnist_png")) { /* fastai's mnist_png.tgz: training/ and testing/ */
            if (!o.train) o.train = "training";
            if (!o.valid) o.valid = "testing";
        }
        data = root;
    }
    snprintf(s->root, sizeof s->root, "%s", data);
    cg_dataset *train = NULL, *valid = NULL;
    cg_strlist empty = {0};
    st = cg_image_folder_datasets(data, &o, &empty, &train, &valid);
    for (size_t i = 0; i < empty.count; i++)
        fprintf(stderr, "cgrad: warning: %s is an empty class folder (no image in it): not a class "
                "(--strict makes this an error)\n", cli_esc(empty.items[i]));
    cg_strlist_free(&empty);
    int64_t c = 0, h = 0, w = 0, vc = 0, vh = 0, vw = 0;
    if (st == CG_OK) st = item_hw(train, &c, &h, &w);
    if (st == CG_OK) st = item_hw(valid, &vc, &vh, &vw);
    if (st == CG_OK && (h != vh || w != vw))
        st = cg_fail(CG_ERR_SHAPE, "train: %s has %lldx%lld training images but %lldx%lld valid ones "
                     "(--size N resizes them all)", a->data, (long long)h, (long long)w, (long long)vh,
                     (long long)vw);
    if (st == CG_OK) st = join_classes(train, &s->classes);
    if (st == CG_OK) {
        const char *const *names = cg_dataset_classes(train, n_classes);
        /* one class would train to a loss of 0 and a model that always says it */
        if (*n_classes < 2)
            st = cg_fail(CG_ERR_VALUE, "train: the training data of %s has %lld class%s (%s); a classifier needs at least 2",
                         a->data, (long long)*n_classes, *n_classes == 1 ? "" : "es", *n_classes == 1 ? names[0] : "");
    }
    bool binary = is_binary_loss(loss_name_of(a));
    if (st == CG_OK && binary && *n_classes != 2)
        st = cg_fail(CG_ERR_VALUE, "train: --loss %s needs 2 classes, %s has %lld (use cross_entropy)",
                     loss_name_of(a), a->data, (long long)*n_classes);
    if (st == CG_OK) {
        s->c = c, s->h = h, s->w = w;
        s->n_in = c * h * w;
        snprintf(s->input, sizeof s->input, "%s:%lldx%lld", c == 3 ? "rgb" : "gray", (long long)h, (long long)w);
        /* the loaders cg_tensor_dataloaders made before: the same batches */
        bool shuffle = a->shuffle != 0;
        cg_dataset *ft = flat_rows(cg_dataset_retain(train), !vision, binary);
        cg_dataset *fv = ft ? flat_rows(cg_dataset_retain(valid), !vision, binary) : NULL;
        cg_dataloader_options to = {.batch_size = a->bs, .shuffle = shuffle, .drop_last = vision,
                                    .seeded = shuffle, .seed = a->seed};
        cg_dataloader_options vo = {.batch_size = a->bs};
        cg_dataloader *tdl = fv ? cg_dataloader_new(ft, &to) : NULL;
        cg_dataloader *vdl = tdl ? cg_dataloader_new(fv, &vo) : NULL;
        cg_dataset_release(ft);
        cg_dataset_release(fv);
        s->dls = tdl && vdl ? cg_dataloaders_new(tdl, vdl) : (cg_dataloader_free(tdl), NULL);
        if (!s->dls) st = cg_last_status();
    }
    cg_dataset_release(train);
    cg_dataset_release(valid);
    return st;
}

static bool is_binary_loss(const char *name) {
    return !strcmp(name, "mnist_loss") || !strcmp(name, "bce") || !strcmp(name, "mse") ||
           !strcmp(name, "l1");
}

static const char *loss_name_of(const train_args *a) {
    return a->loss                                                                ? a->loss
           : !strcmp(a->data, "mnist_sample") && !cg_model_takes_images(a->model) ? "mnist_loss"
                                                                                  : "cross_entropy";
}

static cg_metric metric_of(const train_args *a) {
    return is_binary_loss(loss_name_of(a)) ? cg_metric_batch_accuracy() : cg_metric_accuracy();
}

const char *train_metric_name(const train_args *a) {
    static char name[sizeof ((cg_metric *)0)->name];
    snprintf(name, sizeof name, "%s", metric_of(a).name);
    return name;
}

cg_status train_setup_build(const train_args *a, train_setup *s) {
    memset(s, 0, sizeof *s);
    if (a->threads > 0) {
        omp_set_num_threads(a->threads);
        openblas_set_num_threads(a->threads);
    }
    /* the chapter's tensors for its flat models; the image models read the folder */
    bool chapter = !strcmp(a->data, "mnist_sample") && !cg_model_takes_images(a->model);
    const char *loss_name = loss_name_of(a);
    s->loss = cg_loss_by_name(loss_name);
    if (!s->loss) return cg_last_status();
    bool binary = is_binary_loss(loss_name);
    cg_status st;
    int64_t n_classes = 2;
    if (chapter && a->augment)
        return cg_fail(CG_ERR_VALUE, "train: --augment transforms image batches; mnist_sample with the "
                       "flat models is the chapter's tensors (use --data mnist, or --model cnn)");
    if (chapter) {
        char root[4096];
        cg_mnist_sample d;
        st = cg_dataset_get("mnist_sample", NULL, root, sizeof root);
        if (st == CG_OK) st = cg_mnist_sample_load(root, &d);
        if (st != CG_OK) return st;
        s->train_x = d.train_x, s->train_y = d.train_y;
        s->valid_x = d.valid_x, s->valid_y = d.valid_y;
        /* the valid rows' files, listed as cg_mnist_sample_load stacked them (for eval's top
         * losses); kept only if they account for every row */
        snprintf(s->root, sizeof s->root, "%s", root);
        const char *const digit_dirs[2] = {"valid/3", "valid/7"};
        for (int k = 0; k < 2 && st == CG_OK; k++) {
            char *dir = cg_path_join(root, digit_dirs[k]);
            cg_strlist files = {0};
            st = dir ? cg_ls_ext(dir, ".png", &files) : CG_ERR_NOMEM;
            for (size_t j = 0; st == CG_OK && j < files.count; j++) st = cg_strlist_push(&s->valid_files, files.items[j]);
            cg_strlist_free(&files);
            free(dir);
        }
        if (st != CG_OK || (int64_t)s->valid_files.count != s->valid_x->shape[0]) cg_strlist_free(&s->valid_files);
        st = CG_OK;
        s->n_in = 28 * 28;
        st = classes_json(2, (const char *const[]){"7", "3"}, &s->classes); /* label 1 = a three */
        if (st != CG_OK) {
            train_setup_free(s);
            return st;
        }
        snprintf(s->input, sizeof s->input, "gray:28x28");
    } else {
        st = load_split_pair(a, s, &n_classes);
        if (st != CG_OK) {
            train_setup_free(s);
            return st;
        }
    }
    s->n_out = binary ? 1 : n_classes;
    cg_manual_seed(a->seed);
    s->model = chapter ? cg_model_create(a->model, s->n_in, s->n_out)
                       : cg_model_create_image(a->model, s->c, s->h, s->w, s->n_out);
    bool shuffle = a->shuffle < 0 ? !chapter : a->shuffle == 1;
    if (chapter && s->model)
        s->dls = cg_tensor_dataloaders(s->train_x, s->train_y, s->valid_x, s->valid_y, a->bs, shuffle, a->seed);
    cg_metric metric = metric_of(a); /* batch_accuracy exactly when n_out == 1 */
    if (s->dls && s->model)
        s->learn = cg_learner_new(s->dls, s->model, s->loss,
                                  !strcmp(a->opt, "adam")    ? CG_OPTIM_ADAM
                                  : !strcmp(a->opt, "basic") ? CG_OPTIM_BASIC
                                                             : CG_OPTIM_SGD,
                                  &metric, 1);
    if (!s->learn) {
        st = cg_last_status();
        train_setup_free(s);
        return st;
    }
    s->learn->wd = a->wd;
    return CG_OK;
}

void train_setup_free(train_setup *s) {
    cg_learner_free(s->learn);
    cg_module_release(s->model);
    cg_dataloaders_free(s->dls);
    cg_release(s->train_x);
    cg_release(s->train_y);
    cg_release(s->valid_x);
    cg_release(s->valid_y);
    free(s->classes);
    cg_strlist_free(&s->valid_files);
    memset(s, 0, sizeof *s);
}

const char *train_item_path(const train_setup *s, cg_dataset *ds, int64_t i) {
    const char *p = cg_dataset_item_source(ds, i);
    if (!p && s->valid_files.count && s->dls && ds == cg_dataloader_dataset(s->dls->valid) && i >= 0 &&
        (size_t)i < s->valid_files.count)
        p = s->valid_files.items[i];
    size_t n = strlen(s->root);
    if (!p || !n) return p;
    while (n > 1 && s->root[n - 1] == '/') n--; /* "data/" names the same folder as "data" */
    if (!strncmp(p, s->root, n) && p[n] == '/') return p + n + 1;
    return p;
}
