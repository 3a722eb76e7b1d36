/* cgrad — the command-line tool: argv to subcommand, exit codes.
 * The subcommands are listed in one table; each lives in src/cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cgrad.h"
#include "cli/commands.h"

static const cli_command commands[] = {
    {"version", "print the version", cmd_version},
    {"data", "get, list and remove datasets (like fastai untar_data)", cmd_data},
    {"show", "look at images: terminal, pixel table, PNG, show_batch grid", cmd_show},
    {"pixel-similarity", "the chapter's first classifier: distance to mean digits", cmd_pixel_similarity},
    {"predict", "classify images with a saved model file (learn.predict)", cmd_predict},
    {"train", "train a model with fastai's Learner (fit, fit_one_cycle)", cmd_train},
    {"lr-find", "fastai's lr_find: sweep the learning rate, suggest the valley", cmd_lr_find},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

int cli_fail(const char *what) {
    fprintf(stderr, "cgrad: %s\n", what);
    return 1;
}

int cli_fail_last(void) { return cli_fail(cg_last_error()); }

int cmd_version(int argc, char **argv) {
    (void)argc, (void)argv;
    printf("cgrad %s\n", CGRAD_VERSION_STRING);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: cgrad <command> [options]\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`cgrad <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].run(argc - 1, argv + 1);
            cg_pool_trim();
            return rc;
        }
    fprintf(stderr, "cgrad: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
