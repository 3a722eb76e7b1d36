/* cgrad lr-find — fastai's learn.lr_find() from the command line: sweeps the
 * learning rate from 1e-7 to 10 over 100 batches, prints the smoothed loss
 * curve's 'valley' suggestion and (with --plot) draws the curve. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_escape.h"
#include "cli/cli_paths.h"
#include "cli/commands.h"
#include "cli/train_setup.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad lr-find --data NAME|PATH --model NAME [--opt sgd|adam|basic] [--loss NAME]\n"
            "                     [--bs N] [--seed N] [--threads N] [--out DIR] [--json] [--quiet]\n"
            "\n"
            "fastai's lr_find: trains on 100 batches with the learning rate growing from 1e-7\n"
            "to 10, stops early when the smoothed loss passes 4x its best, restores the\n"
            "weights, and prints the 'valley' learning rate it suggests on stdout (the batch\n"
            "bar goes to stderr).\n"
            "\n"
            "--out DIR writes DIR/" LR_FIND_OUT_PNG ": the loss against the learning rate (log scale),\n"
            "the suggestion marked in red (fastai's plot_lr_find).  (--plot FILE, the older\n"
            "flag, names the PNG itself.)\n"
            "\n"
            "options:\n");
    train_args_help(f);
    fprintf(f,
            "  --json            {\"valley\": ..., \"lrs\": [...], \"losses\": [...]} on stdout\n"
            "\n");
    cli_common_help(f, CLI_OUT | CLI_QUIET | CLI_JSON | CLI_THREADS | CLI_SEED | CLI_DATA);
}

int cmd_lr_find(int argc, char **argv) {
    train_args a;
    int rc = train_args_parse(argc, argv, &a, true, usage);
    if (rc >= 0) return rc;
    char label[4200], msg[9000];
    if (a.common.out && cg_mkdirs(a.common.out) != CG_OK) {
        fprintf(stderr, "cgrad: lr-find: --out %s: %s; nothing was run\n", cli_esc(a.common.out), cli_esc(cg_last_error()));
        return 1;
    }
    if (a.common.out && a.plot == a.out_paths[0])
        snprintf(label, sizeof label, "--out %s (" LR_FIND_OUT_PNG ")", a.common.out);
    else
        snprintf(label, sizeof label, "--plot %s", a.plot ? a.plot : "");
    if (a.plot && cli_check_output_path(label, a.plot, msg, sizeof msg)) {
        fprintf(stderr, "cgrad: lr-find: %s; nothing was run\n", msg);
        return 1;
    }
    train_setup s;
    if (train_setup_build(&a, &s) != CG_OK) return cli_fail_last();
    cg_lr_find_result r;
    cg_progress_options po = {.bars = a.common.quiet ? NULL : stderr}; /* lr_find prints no table */
    cg_status st = cg_learner_add_progress_with(s.learn, &po);
    if (st == CG_OK) st = cg_learner_lr_find(s.learn, NULL, &r);
    if (st == CG_OK) {
        if (a.json) {
            printf("{\"valley\": %.17g, \"valley_loss\": %.17g, \"batches\": %lld, \"lrs\": [",
                   r.valley, r.valley_loss, (long long)r.n);
            for (int64_t i = 0; i < r.n; i++) printf("%s%.17g", i ? ", " : "", r.lrs[i]);
            printf("], \"losses\": [");
            for (int64_t i = 0; i < r.n; i++) printf("%s%.17g", i ? ", " : "", r.losses[i]);
            printf("]}\n");
        } else {
            printf("SuggestedLRs(valley=%.6g)  (loss %.4f, %lld batches)\n", r.valley,
                   r.valley_loss, (long long)r.n);
        }
        if (a.plot) st = cg_plot_lr_find_png(&r, a.plot);
        if (st == CG_OK && a.plot && !a.common.quiet) fprintf(stderr, "saved %s\n", cli_esc(a.plot));
        cg_lr_find_result_free(&r);
    }
    rc = st == CG_OK ? 0 : cli_fail_last();
    train_setup_free(&s);
    return rc;
}
