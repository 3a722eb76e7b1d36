/* What `cgrad train` and `cgrad lr-find` share: their options, and turning
 * --data/--model/--loss/--opt into DataLoaders, a model and a Learner. */
#ifndef CGRAD_CLI_TRAIN_SETUP_H
#define CGRAD_CLI_TRAIN_SETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cgrad.h"
#include "cli/cli_common.h"

/* The numeric flags' ranges (shown in --help; outside them is a usage error). */
#define TRAIN_EPOCHS_MAX 100000
#define TRAIN_BS_MAX 1000000
#define TRAIN_THREADS_MAX CLI_THREADS_MAX
#define TRAIN_HIDDEN_MAX 100000 /* mlp:HIDDEN */
#define TRAIN_SIZE_MAX CG_RESIZE_MAX /* --size */

typedef struct train_args {
    const char *data;  /* "mnist_sample", "mnist", or a folder with train/ and valid/ */
    const char *model; /* a cg_model_create name: linear, simple_net, mlp:500, resnet18, cnn */
    const char *opt;   /* sgd, adam or basic (default: sgd, adam for the image models) */
    const char *loss;  /* NULL: mnist_loss for mnist_sample, cross_entropy otherwise */
    cli_common common; /* --out, --quiet, --json, --threads, --seed, --mirror, --home */
    /* What train writes.  --out DIR sets them all to DIR's fixed names
     * (TRAIN_OUT_*); --save/--csv/--plot/--checkpoint, the older flags, still
     * name one each and win over --out's. */
    const char *save, *csv, *plot;
    const char *checkpoint, *resume; /* --checkpoint DIR, --resume DIR|FILE (checkpoint.h) */
    bool checkpoints;                /* --checkpoints: DIR/checkpoints/ under --out */
    bool plot_in_dir;                /* plot is --out's DIR: DIR/loss.png, DIR/metric.png */
    char out_paths[4][4352];         /* the storage of --out's paths */
    int epochs;
    double lr, wd;
    bool one_cycle, json; /* json: common.json */
    int shuffle; /* -1: default (off for mnist_sample, the chapter's; on otherwise), 0/1 */
    int64_t bs;
    uint64_t seed; /* common.seed */
    int threads;   /* common.threads; 0: leave OpenMP/OpenBLAS as they are */
    /* image data (ImageDataLoaders.from_folder's arguments) */
    int64_t size;              /* --size N: fastai's Resize(N); 0: none */
    cg_resize_method resize_method; /* --resize-method crop (default), pad, squish */
    double valid_pct;          /* --valid-pct P: a random split (seeded by --seed); 0: by folder */
    const char *train_dir, *valid_dir; /* --train NAME, --valid NAME; NULL: the data's own */
    bool strict;               /* --strict: an empty class folder is an error */
    bool augment;              /* --augment: fastai's aug_transforms (no flips) on train */
    double max_translate;      /* --max-translate X: with --augment, a shift uniform in +-X per axis
                                  (normalised units, cg_augment_options.max_translate); 0: none */
    bool max_translate_set;    /* --max-translate was given (it needs --augment) */
} train_args;

/* The files of `cgrad train --out DIR` and `cgrad lr-find --out DIR`. */
#define TRAIN_OUT_MODEL "model.safetensors" /* the trained model (cgrad predict, eval) */
#define TRAIN_OUT_CSV "history.csv"         /* the results table as CSV (CSVLogger) */
#define TRAIN_OUT_LOSS_PNG "loss.png"       /* plot_loss: train and valid loss per batch/epoch */
#define TRAIN_OUT_METRIC_PNG "metric.png"   /* the metric per epoch */
#define TRAIN_OUT_CHECKPOINTS "checkpoints" /* --checkpoints: epoch-E.safetensors and last */
#define LR_FIND_OUT_PNG "lr_find.png"       /* plot_lr_find */

/* The unset values train_args_parse starts from (opt, lr, wd, bs: the model's defaults at build). */
void train_args_defaults(train_args *a);
/* Parses argv (argv[0] = the subcommand) and applies the common flags
 * (cli_common_apply).  Returns -1 when the caller should go on, else the exit
 * code (0 after --help/--version, 1 if they cannot take effect, 2 on a usage
 * error). */
int train_args_parse(int argc, char **argv, train_args *a, bool for_lr_find,
                     void (*usage)(FILE *));
/* The options both commands share, for their --help texts. */
void train_args_help(FILE *f);

typedef struct train_setup {
    cg_tensor *train_x, *train_y, *valid_x, *valid_y; /* owned */
    cg_dataloaders *dls;
    cg_module *model;
    cg_learner *learn;
    const cg_loss *loss;
    int64_t n_in, n_out;
    int64_t c, h, w;    /* the images' [C,H,W] (0 for the chapter's tensors) */
    char *classes;      /* ["7","3"]: class names by label index, the JSON array of
                         * cg_model_set_classes (malloc'd, freed by train_setup_free) */
    char input[64];     /* "gray:28x28" */
    char root[4096];    /* the folder --data was read from (a dataset name's cache folder) */
    cg_strlist valid_files; /* the chapter's tensors (mnist_sample, flat models): the file of
                             * each valid row, valid/3's then valid/7's, as they were stacked */
} train_setup;

/* An item's file relative to the data root (`valid/3/10.png`), as fastai's
 * plot_top_losses names items; NULL when the item has no file (IDX data).
 * ds is one of s's datasets (the chapter's tensors: the valid one). */
const char *train_item_path(const train_setup *s, cg_dataset *ds, int64_t i);

/* The metric the Learner will report (and name the plot after), known from
 * the arguments before any data is read: "batch_accuracy" for a one-output
 * (binary) loss, "accuracy" otherwise. */
const char *train_metric_name(const train_args *a);

/* Loads the data (failing when it has fewer than two classes), builds the
 * model and the Learner. */
cg_status train_setup_build(const train_args *a, train_setup *s);
void train_setup_free(train_setup *s);

#endif
