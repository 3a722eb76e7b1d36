/* cgrad train — the chapter's Learner runs from the command line.
 *
 *   cgrad train --data mnist_sample --model linear --epochs 10 --lr 1
 *       Learner(dls, nn.Linear(28*28,1), opt_func=SGD, loss_func=mnist_loss,
 *               metrics=batch_accuracy).fit(10, lr=1)
 *   cgrad train --data mnist_sample --model simple_net --epochs 40 --lr 0.1 --plot out/simple_net
 *       the same with simple_net, fit(40, 0.1), and the accuracy plot
 *
 * Prints fastai's progress bar (on a terminal) and results table; --json
 * prints JSON lines on stdout instead (the table then goes to stderr). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/train_setup.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad train --data NAME|PATH --model NAME [--epochs N] [--lr X] [--one-cycle]\n"
            "                   [--opt sgd|adam|basic] [--loss NAME] [--bs N] [--seed N] [--threads N]\n"
            "                   [--save FILE] [--json] [--csv FILE] [--plot PREFIX]\n"
            "\n"
            "Trains a model with fastai's Learner and prints the results table\n"
            "(epoch, train_loss, valid_loss, the metric, time).\n"
            "\n"
            "options:\n");
    train_args_help(f);
    fprintf(f,
            "  --epochs N        epochs (default 1)\n"
            "  --lr X            learning rate (default 0.1); with --one-cycle, lr_max\n"
            "  --one-cycle       fit_one_cycle: cosine warm-up to lr over 25%% of the steps,\n"
            "                    then down to lr/1e5; momentum 0.95 -> 0.85 -> 0.95\n"
            "  --save FILE       write the trained model (safetensors, with its architecture,\n"
            "                    loss and classes in the metadata; see `cgrad predict`)\n"
            "  --json            one JSON object per epoch on stdout, then a summary\n"
            "  --csv FILE        the results table as CSV (fastai's CSVLogger)\n"
            "  --plot PREFIX     PREFIX_loss.png (plot_loss) and PREFIX_<metric>.png (the metric\n"
            "                    per epoch, the chapter's plt.plot(...itemgot(2)))\n"
            "\n"
            "examples (the chapter's two Learner runs):\n"
            "  cgrad train --data mnist_sample --model linear --epochs 10 --lr 1\n"
            "  cgrad train --data mnist_sample --model simple_net --epochs 40 --lr 0.1\n");
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

static cg_status write_plots(const char *prefix, const cg_recorder *r) {
    char path[4200];
    snprintf(path, sizeof path, "%s_loss.png", prefix);
    cg_status st = cg_plot_loss_png(r, 5, path);
    if (st != CG_OK) return st;
    snprintf(path, sizeof path, "%s_%s.png", prefix, r->names[2]);
    return cg_plot_metric_png(r, 2, path);
}

int cmd_train(int argc, char **argv) {
    train_args a;
    int rc = train_args_parse(argc, argv, &a, false, usage);
    if (rc >= 0) return rc;
    train_setup s;
    if (train_setup_build(&a, &s) != CG_OK) return cli_fail_last();
    cg_learner *learn = s.learn;
    cg_status st = cg_learner_add_progress(learn, a.json ? stderr : stdout);
    if (st == CG_OK && a.json) st = cg_learner_add_json_logger(learn, stdout);
    if (st == CG_OK && a.csv) st = cg_learner_add_csv_logger(learn, a.csv);
    if (st == CG_OK)
        st = a.one_cycle ? cg_learner_fit_one_cycle(learn, a.epochs, a.lr)
                         : cg_learner_fit(learn, a.epochs, a.lr);
    if (st == CG_OK && a.plot) st = write_plots(a.plot, learn->recorder);
    if (st == CG_OK && a.save) st = save_model(&a, &s);
    rc = st == CG_OK ? 0 : cli_fail_last();
    if (rc == 0 && a.save && !a.json) printf("saved %s\n", a.save);
    train_setup_free(&s);
    return rc;
}
