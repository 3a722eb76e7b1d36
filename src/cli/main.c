/* cgrad — the command-line tool: argv to subcommand, exit codes.
 * The subcommands are listed in one table; each lives in src/cli/cmd_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cgrad.h"
#include "cli/cli_dist.h"
#include "cli/cli_escape.h"
#include "cli/cli_omp_env.h"
#include "cli/commands.h"

static const cli_command commands[] = {
    {"version", "print the version", cmd_version},
    {"chapter4", "fastbook chapter 4 in one run, with an HTML report of its figures", cmd_chapter4},
    {"data", "get, list and remove datasets (like fastai untar_data)", cmd_data},
    {"show", "look at images: terminal, pixel table, PNG, show_batch grid", cmd_show},
    {"pixel-similarity", "the chapter's first classifier: distance to mean digits", cmd_pixel_similarity},
    {"predict", "classify images with a saved model file (learn.predict)", cmd_predict},
    {"eval", "a saved model on the valid set: accuracy, confusion matrix, top losses", cmd_eval},
    {"train", "train a model with fastai's Learner (fit, fit_one_cycle)", cmd_train},
    {"lr-find", "fastai's lr_find: sweep the learning rate, suggest the valley", cmd_lr_find},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

int cli_fail(const char *what) {
    fprintf(stderr, "cgrad: %s\n", cli_esc(what));
    return 1;
}

int cli_fail_last(void) { return cli_fail(cg_last_error()); }

int cli_usage_error(const char *cmd, void (*usage)(FILE *), const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line: the reason, and where the usage is (printing it all would bury the reason) */
    fprintf(stderr, "cgrad: %s: %s (`cgrad %s --help` shows the usage)\n", cmd, msg, cmd);
    (void)usage;
    return 2;
}

int cli_next_option(const char *cmd, const cli_option *opts, int n_opts, int argc, char **argv, int *i,
                    bool *after_dashes, const char **value, void (*usage)(FILE *)) {
    *value = NULL;
    if (++*i >= argc) return -2;
    const char *a = argv[*i];
    if (!*after_dashes && !strcmp(a, "--")) {
        *after_dashes = true;
        if (++*i >= argc) return -2;
        a = argv[*i];
    }
    if (*after_dashes || a[0] != '-' || !a[1]) {
        *value = a;
        return -1;
    }
    /* --name=value is --name value */
    const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
    size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
    for (int k = 0; k < n_opts; k++) {
        if (strlen(opts[k].name) != name_len || strncmp(a, opts[k].name, name_len)) continue;
        if (eq && !opts[k].takes_value) {
            cli_usage_error(cmd, usage, "%s takes no value (got '%s')", opts[k].name, cli_esc(a));
            return -3;
        }
        if (eq) {
            *value = eq + 1;
            return k;
        }
        if (!opts[k].takes_value) return k;
        if (*i + 1 >= argc) {
            cli_usage_error(cmd, usage, "%s needs a value", a);
            return -3;
        }
        *value = argv[++*i];
        return k;
    }
    cli_usage_error(cmd, usage, "unknown option '%s'", cli_esc(a));
    return -3;
}

static void version_usage(FILE *f) { fprintf(f, "usage: cgrad version\n\nPrints the version (`cgrad --version` too).\n"); }

int cmd_version(int argc, char **argv) {
    static const cli_option none[] = {{"--help", false}, {"-h", false}, {"--version", false}, {"-V", false}};
    int i = 0;
    bool dashes = false;
    const char *v;
    for (int k; (k = cli_next_option("version", none, 4, argc, argv, &i, &dashes, &v, version_usage)) != -2;) {
        if (k == -3) return 2;
        if (k == -1) return cli_usage_error("version", version_usage, "unexpected argument '%s'", cli_esc(v));
        if (k <= 1) {
            version_usage(stdout);
            return 0;
        }
    }
    printf("cgrad %s\n", CGRAD_VERSION_STRING);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: cgrad <command> [options]\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`cgrad <command> --help` describes a command's options;\n"
               "`cgrad --version` (or -V) prints the version.\n");
}

int main(int argc, char **argv) {
    cli_omp_env_apply(argv); /* may start this program again, with GOMP_SPINCOUNT set */
    if (argc < 2) {
        fprintf(stderr, "cgrad: which command? (`cgrad --help` lists them)\n");
        return 2;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) return cmd_version(argc - 1, argv + 1);
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            /* `cgrad CMD --version` for every command, whatever its own parser takes */
            if (argc == 3 && (!strcmp(argv[2], "--version") || !strcmp(argv[2], "-V")))
                return cmd_version(1, argv + 1);
            int sub_argc = argc - 1;
            int rc = cli_dist_begin(argv[1], &sub_argc, argv + 1); /* mpirun: MPI starts here */
            if (rc < 0) rc = commands[i].run(sub_argc, argv + 1);
            cg_pool_trim();
            return cli_dist_end(rc); /* a failed rank ends the whole job */
        }
    fprintf(stderr, "cgrad: unknown command '%s' (`cgrad --help` lists them)\n", cli_esc(argv[1]));
    return 2;
}
