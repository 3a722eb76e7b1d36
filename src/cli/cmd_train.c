/* cgrad train — the chapter's Learner runs from the command line.
 *
 *   cgrad train --data mnist_sample --model linear --epochs 10 --lr 1
 *       Learner(dls, nn.Linear(28*28,1), opt_func=SGD, loss_func=mnist_loss,
 *               metrics=batch_accuracy).fit(10, lr=1)
 *   cgrad train --data mnist_sample --model simple_net --epochs 40 --lr 0.1 --plot out/simple_net
 *       the same with simple_net, fit(40, 0.1), and the accuracy plot
 *   cgrad train --data mnist_sample --model resnet18 --epochs 1 --lr 0.1 --one-cycle
 *       vision_learner(dls, resnet18, pretrained=False, loss_func=F.cross_entropy,
 *                      metrics=accuracy).fit_one_cycle(1, 0.1)
 *
 * Prints fastai's progress bar (on a terminal) and results table; --json
 * prints JSON lines on stdout instead (the table then goes to stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad/checkpoint.h"
#include "cli/cli_dist.h"
#include "cli/cli_escape.h"
#include "cli/cli_paths.h"
#include "cli/commands.h"
#include "cli/train_setup.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad train --data NAME|PATH --model NAME [--epochs N] [--lr X] [--one-cycle]\n"
            "                   [--opt sgd|adam|basic] [--loss NAME] [--bs N] [--seed N] [--threads N]\n"
            "                   [--out DIR [--checkpoints]] [--resume DIR|FILE] [--json] [--quiet]\n"
            "\n"
            "Trains a model with fastai's Learner and prints the results table\n"
            "(epoch, train_loss, valid_loss, the metric, time) on stdout; the progress bars\n"
            "(fastprogress's epoch and batch bars) go to stderr.\n"
            "\n"
            "--out DIR writes, after the run (DIR is made when missing):\n"
            "  DIR/" TRAIN_OUT_MODEL "  the trained model (safetensors; its architecture, loss,\n"
            "                     input and classes in the metadata: `cgrad predict`, `cgrad eval`)\n"
            "  DIR/" TRAIN_OUT_CSV "        the results table as CSV (fastai's CSVLogger), each epoch\n"
            "  DIR/" TRAIN_OUT_LOSS_PNG "           plot_loss: the training loss per batch, valid per epoch\n"
            "  DIR/" TRAIN_OUT_METRIC_PNG "         the metric per epoch (the chapter's plt.plot(...itemgot(2)))\n"
            "  DIR/" TRAIN_OUT_CHECKPOINTS "/      with --checkpoints: epoch-E.safetensors after every epoch\n"
            "                     and last, atomically (resume with --resume DIR)\n"
            "\n"
            "options:\n");
    train_args_help(f);
    fprintf(f,
            "  --epochs N        epochs, 1..%d (default 1)\n"
            "  --lr X            learning rate, any number > 0 (default 0.1, 0.01 for cnn and\n"
            "                    cnn-wide); with --one-cycle, lr_max\n"
            "  --one-cycle       fit_one_cycle: cosine warm-up to lr over 25%% of the steps,\n"
            "                    then down to lr/1e5; momentum 0.95 -> 0.85 -> 0.95\n"
            "  --distributed     data-parallel over MPI (implied under mpirun): --bs is the global\n"
            "                    batch, bs/ranks per rank; rank 0 alone prints and writes\n"
            "                    (mpirun -np 2 cgrad train --data mnist_sample --model simple_net)\n"
            "  --checkpoints     checkpoint into DIR/" TRAIN_OUT_CHECKPOINTS "/ (weights, optimizer state,\n"
            "                    schedule position, RNG streams, recorder): a run killed at any\n"
            "                    point keeps the last one\n"
            "  --resume DIR|FILE continue a run from its last checkpoint (DIR/last, or the --out\n"
            "                    DIR of a run with --checkpoints) or FILE: run it with the same\n"
            "                    flags (seed, --threads, --epochs included) and it ends with the\n"
            "                    same weights, byte for byte, as an unbroken run\n"
            "  --json            one JSON object per epoch on stdout, then a summary (the table\n"
            "                    goes to stderr)\n"
            "  --quiet           no bars and no table on stderr (stdout keeps the results)\n"
            "\n"
            "The outputs are checked before training (a writable folder, no two naming one\n"
            "file).  The model is saved first: a plot or CSV that fails later is reported and\n"
            "exits 1, but the model is kept.  Older flags, each naming one file, still work:\n"
            "--save FILE, --csv FILE, --plot PREFIX (PREFIX_loss.png, PREFIX_<metric>.png),\n"
            "--checkpoint DIR.\n"
            "\n",
            TRAIN_EPOCHS_MAX);
    cli_common_help(f, CLI_OUT | CLI_QUIET | CLI_JSON | CLI_THREADS | CLI_SEED | CLI_DATA);
    fprintf(f,
            "\n"
            "examples (the chapter's two Learner runs):\n"
            "  cgrad train --data mnist_sample --model linear --epochs 10 --lr 1\n"
            "  cgrad train --data mnist_sample --model simple_net --epochs 40 --lr 0.1 --out run\n"
            "and its last cell (vision_learner with resnet18; Adam, cross_entropy, bs 64):\n"
            "  cgrad train --data mnist_sample --model resnet18 --epochs 1 --lr 0.1 --one-cycle\n");
}

static cg_status save_model(const train_args *a, const train_setup *s) {
    cg_metadata md = {0};
    char buf[64];
    const cg_recorder *r = s->learn->recorder;
    cg_status st = cg_metadata_set(&md, "arch", a->model);
    snprintf(buf, sizeof buf, "%lld", (long long)s->n_in);
    if (st == CG_OK) st = cg_metadata_set(&md, "n_in", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)s->n_out);
    if (st == CG_OK) st = cg_metadata_set(&md, "n_out", buf);
    if (st == CG_OK) st = cg_metadata_set(&md, "loss", s->loss->name);
    if (st == CG_OK) st = cg_metadata_set(&md, "classes", s->classes);
    if (st == CG_OK) st = cg_metadata_set(&md, "input", s->input);
    if (st == CG_OK && a->size) { /* predict resizes as the validation set was */
        snprintf(buf, sizeof buf, "%lld", (long long)a->size);
        st = cg_metadata_set(&md, "size", buf);
        static const char *const methods[] = {"crop", "pad", "squish"};
        if (st == CG_OK) st = cg_metadata_set(&md, "resize_method", methods[a->resize_method]);
    }
    if (st == CG_OK) st = cg_metadata_set(&md, "data", a->data);
    snprintf(buf, sizeof buf, "%d", r->n_epochs);
    if (st == CG_OK) st = cg_metadata_set(&md, "epochs", buf);
    snprintf(buf, sizeof buf, "%.17g", a->lr);
    if (st == CG_OK) st = cg_metadata_set(&md, "lr", buf);
    snprintf(buf, sizeof buf, "%.6f", cg_recorder_value(r, r->n_epochs - 1, 2));
    if (st == CG_OK) st = cg_metadata_set(&md, r->names[2], buf);
    if (st == CG_OK) st = cg_model_save(s->model, a->save, &md);
    cg_metadata_free(&md);
    return st;
}

/* ---- side outputs: checked before the run, and never fatal to the model ------ */

/* What a run will write, by flag, with the plot prefix expanded into the two
 * files write_plots makes: PREFIX_loss.png and PREFIX_<metric>.png. */
typedef struct outputs {
    char loss_png[4400], metric_png[4400];
    const char *paths[4];  /* --save, --csv, the two plots (NULL when not asked for) */
    char labels[4][8500];  /* "--plot out (out_loss.png)", for messages */
} outputs;

/* 0, or the exit code after printing why the outputs cannot be written:
 * 1 for a folder or file that is not there or not writable, 2 for two
 * outputs naming one file.  Runs before any data is read. */
static int check_outputs(const train_args *a, outputs *o) {
    memset(o, 0, sizeof *o);
    const char *metric = train_metric_name(a);
    char msg[9000];
    if (a->plot) { /* --out DIR: DIR/loss.png, DIR/metric.png; --plot PREFIX: PREFIX_loss.png, PREFIX_<metric>.png */
        int n1 = a->plot_in_dir ? snprintf(o->loss_png, sizeof o->loss_png, "%s/" TRAIN_OUT_LOSS_PNG, a->plot)
                                : snprintf(o->loss_png, sizeof o->loss_png, "%s_loss.png", a->plot);
        int n2 = a->plot_in_dir ? snprintf(o->metric_png, sizeof o->metric_png, "%s/" TRAIN_OUT_METRIC_PNG, a->plot)
                                : snprintf(o->metric_png, sizeof o->metric_png, "%s_%s.png", a->plot, metric);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof o->loss_png || (size_t)n2 >= sizeof o->metric_png)
            return cli_usage_error("train", usage, "--plot: the prefix is too long (%zu bytes)", strlen(a->plot));
    }
    o->paths[0] = a->save;
    o->paths[1] = a->csv;
    o->paths[2] = a->plot ? o->loss_png : NULL;
    o->paths[3] = a->plot ? o->metric_png : NULL;
    const char *labels[4] = {0};
    for (int i = 0; i < 4; i++) {
        if (!o->paths[i]) continue;
        bool from_out = a->common.out && (i < 2 ? o->paths[i] == a->out_paths[i] : a->plot_in_dir);
        if (from_out) snprintf(o->labels[i], sizeof o->labels[i], "--out %s (%s)", a->common.out, cg_path_name(o->paths[i]));
        else if (i < 2) snprintf(o->labels[i], sizeof o->labels[i], "%s %s", i ? "--csv" : "--save", o->paths[i]);
        else snprintf(o->labels[i], sizeof o->labels[i], "--plot %s (%s)", a->plot, o->paths[i]);
        labels[i] = o->labels[i];
        if (from_out && cg_mkdirs(a->common.out) != CG_OK) {
            fprintf(stderr, "cgrad: train: --out %s: %s; nothing was trained\n", cli_esc(a->common.out),
                    cli_esc(cg_last_error()));
            return 1;
        }
        if (cli_check_output_path(o->labels[i], o->paths[i], msg, sizeof msg)) {
            fprintf(stderr, "cgrad: train: %s; nothing was trained\n", msg);
            return 1;
        }
    }
    if (cli_check_distinct_outputs(labels, o->paths, 4, msg, sizeof msg))
        return cli_usage_error("train", NULL, "%s; nothing was trained", msg);
    if (a->checkpoint) { /* made now (mkdir -p), then checked like --save's folder */
        char last[4400], label[9000];
        if (a->checkpoints && a->checkpoint == a->out_paths[3])
            snprintf(label, sizeof label, "--out %s --checkpoints (%s)", a->common.out, a->checkpoint);
        else
            snprintf(label, sizeof label, "--checkpoint %s", a->checkpoint);
        if ((size_t)snprintf(last, sizeof last, "%s/last", a->checkpoint) >= sizeof last)
            return cli_usage_error("train", usage, "--checkpoint: the folder name is too long");
        if (cg_mkdirs(a->checkpoint) != CG_OK) {
            fprintf(stderr, "cgrad: train: %s: %s; nothing was trained\n", cli_esc(label),
                    cli_esc(cg_last_error()));
            return 1;
        }
        if (cli_check_output_path(label, last, msg, sizeof msg)) {
            fprintf(stderr, "cgrad: train: %s; nothing was trained\n", msg);
            return 1;
        }
    }
    return 0;
}

static cg_status write_plots(const outputs *o, const cg_recorder *r) {
    cg_status st = cg_plot_loss_png(r, 5, o->loss_png);
    return st != CG_OK ? st : cg_plot_metric_png(r, 2, o->metric_png);
}

/* The CSV logger, wrapped so that a row it cannot write (a full disk, a
 * folder removed mid-run) is remembered and reported after the run instead
 * of stopping the fit and losing the model: it stops logging, the training
 * goes on. */
typedef struct side_logger {
    cg_callback inner;
    bool failed;
    char error[1024];
} side_logger;

static cg_cb_result side_call(cg_cb_fn fn, cg_learner *learn, side_logger *s) {
    if (s->failed || !fn) return CG_CB_OK;
    cg_cb_result r = fn(learn, s->inner.state);
    if (r != CG_CB_ERROR) return r;
    s->failed = true;
    snprintf(s->error, sizeof s->error, "%s", cg_last_error());
    return CG_CB_OK;
}
static cg_cb_result side_before_fit(cg_learner *learn, void *state) {
    side_logger *s = state;
    return side_call(s->inner.before_fit, learn, s);
}
static cg_cb_result side_after_epoch(cg_learner *learn, void *state) {
    side_logger *s = state;
    return side_call(s->inner.after_epoch, learn, s);
}
static void side_free(void *state) {
    side_logger *s = state;
    if (s->inner.free_state) s->inner.free_state(s->inner.state);
    free(s);
}

/* Adds the CSV logger for path, wrapped; *out is the wrapper (owned by the learner). */
static cg_status add_csv_logger(cg_learner *learn, const char *path, side_logger **out) {
    *out = NULL;
    cg_callback inner;
    cg_status st = cg_csv_logger_callback(path, &inner);
    if (st != CG_OK) return st;
    /* the wrapper forwards the two events the CSV logger uses; should it ever
     * use another, it is added unwrapped rather than half-forwarded */
    for (int ev = 0; ev < CG_EV_COUNT; ev++)
        if (ev != CG_EV_BEFORE_FIT && ev != CG_EV_AFTER_EPOCH && cg_callback_fn(&inner, (cg_event)ev))
            return cg_learner_add_cb(learn, &inner);
    side_logger *s = calloc(1, sizeof *s);
    if (!s) {
        if (inner.free_state) inner.free_state(inner.state);
        return cg_fail(CG_ERR_NOMEM, "train: no memory for the CSV logger");
    }
    s->inner = inner;
    cg_callback cb = {.name = inner.name,
                      .order = inner.order,
                      .state = s,
                      .free_state = side_free,
                      .before_fit = side_before_fit,
                      .after_epoch = side_after_epoch};
    st = cg_learner_add_cb(learn, &cb); /* frees s if it fails */
    if (st == CG_OK) *out = s;
    return st;
}

/* --resume OUT: the --out folder of a run with --checkpoints means its
 * checkpoints/ folder (when OUT/last is not there itself). */
static const char *resume_path(const char *resume) {
    static char buf[4352];
    char last[4400];
    snprintf(last, sizeof last, "%s/last", resume);
    if (!cg_path_is_dir(resume) || access(last, F_OK) == 0) return resume;
    snprintf(last, sizeof last, "%s/" TRAIN_OUT_CHECKPOINTS "/last", resume);
    if (access(last, F_OK) != 0 || (size_t)snprintf(buf, sizeof buf, "%s/" TRAIN_OUT_CHECKPOINTS, resume) >= sizeof buf)
        return resume;
    return buf;
}

int cmd_train(int argc, char **argv) {
    train_args a;
    int rc = train_args_parse(argc, argv, &a, false, usage);
    if (rc >= 0) return rc;
    outputs out;
    rc = check_outputs(&a, &out);
    if (rc) return rc;
    train_setup s;
    if (train_setup_build(&a, &s) != CG_OK) return cli_fail_last();
    if (cli_dist_attach(&a, &s) != CG_OK) { /* under mpirun: shards, gradient averaging, quiet ranks */
        rc = cli_fail_last();
        train_setup_free(&s);
        return rc;
    }
    cg_learner *learn = s.learn;
    side_logger *csv = NULL;
    /* results on stdout (the table, or JSON lines with --json, the table then a log on
     * stderr); the bars on stderr, redrawn on a terminal, plain lines elsewhere */
    cg_progress_options po = {.table = a.json ? (a.common.quiet ? NULL : stderr) : stdout,
                              .bars = a.common.quiet ? NULL : stderr};
    cg_status st = cg_learner_add_progress_with(learn, &po);
    if (st == CG_OK && a.json) st = cg_learner_add_json_logger(learn, stdout);
    if (st == CG_OK && a.csv) st = add_csv_logger(learn, a.csv, &csv);
    if (st == CG_OK && a.checkpoint) st = cg_learner_add_checkpoint(learn, a.checkpoint);
    if (st == CG_OK && a.resume) st = cg_learner_resume(learn, resume_path(a.resume)); /* before any fit */
    if (st == CG_OK)
        st = a.one_cycle ? cg_learner_fit_one_cycle(learn, a.epochs, a.lr)
                         : cg_learner_fit(learn, a.epochs, a.lr);
    if (st != CG_OK) {
        rc = cli_fail_last();
        train_setup_free(&s);
        return rc;
    }
    /* The model first: a plot or a CSV that fails is reported (exit 1) but
     * never costs the trained model. */
    rc = 0;
    bool saved = false;
    if (a.save) {
        if (save_model(&a, &s) == CG_OK) saved = true;
        else rc = cli_fail_last();
        if (saved && !a.common.quiet) fprintf(stderr, "saved %s\n", cli_esc(a.save));
    }
    if (a.plot && write_plots(&out, learn->recorder) != CG_OK) {
        fprintf(stderr, "cgrad: train: --plot %s failed: %s%s%s\n", cli_esc(a.plot), cli_esc(cg_last_error()),
                saved ? "; the model was saved to " : "", saved ? cli_esc(a.save) : "");
        rc = 1;
    }
    if (csv && csv->failed) {
        fprintf(stderr, "cgrad: train: --csv %s failed, the log stopped there: %s%s%s\n", cli_esc(a.csv),
                cli_esc(csv->error), saved ? "; the model was saved to " : "", saved ? cli_esc(a.save) : "");
        rc = 1;
    }
    train_setup_free(&s);
    return rc;
}
