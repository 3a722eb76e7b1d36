/* The flags every subcommand shares (cli_common.h): parsed ahead of the
 * command's own, applied to the process once, described once. */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "cgrad.h"
#include "cli/cli_common.h"
#include "cli/cli_escape.h"
#include "cli/cli_number.h"
#include "cli/cli_paths.h"

/* The shared table: which accepts-bit each entry needs (0: always). */
enum { C_HELP, C_H, C_VERSION, C_V, C_OUT, C_QUIET, C_Q, C_JSON, C_THREADS, C_SEED, C_MIRROR, C_HOME, C_COUNT };
static const struct {
    cli_option opt;
    unsigned needs;
} shared[C_COUNT] = {
    [C_HELP] = {{"--help", false}, 0},           [C_H] = {{"-h", false}, 0},
    [C_VERSION] = {{"--version", false}, 0},     [C_V] = {{"-V", false}, 0},
    [C_OUT] = {{"--out", true}, CLI_OUT},        [C_QUIET] = {{"--quiet", false}, CLI_QUIET},
    [C_Q] = {{"-q", false}, CLI_QUIET},          [C_JSON] = {{"--json", false}, CLI_JSON},
    [C_THREADS] = {{"--threads", true}, CLI_THREADS}, [C_SEED] = {{"--seed", true}, CLI_SEED},
    [C_MIRROR] = {{"--mirror", true}, CLI_DATA}, [C_HOME] = {{"--home", true}, CLI_DATA},
};

cli_common cli_common_init(unsigned accepts, uint64_t default_seed) {
    return (cli_common){.accepts = accepts, .seed = default_seed};
}

#define CLI_MAX_OPTIONS 128

int cli_parse(const char *cmd, const cli_option *opts, int n_opts, cli_common *c, int argc, char **argv,
              int *i, bool *after_dashes, const char **value, void (*usage)(FILE *)) {
    cli_option all[CLI_MAX_OPTIONS];
    if (n_opts < 0 || n_opts > CLI_MAX_OPTIONS - C_COUNT) {
        fprintf(stderr, "cgrad: %s: too many options (%d)\n", cmd, n_opts);
        return CLI_USAGE;
    }
    /* a shared flag this command does not take is an unknown option: an empty name never matches */
    for (int k = 0; k < C_COUNT; k++)
        all[k] = !shared[k].needs || (c->accepts & shared[k].needs) ? shared[k].opt : (cli_option){"", false};
    memcpy(all + C_COUNT, opts, (size_t)n_opts * sizeof *opts);
    for (;;) {
        int k = cli_next_option(cmd, all, C_COUNT + n_opts, argc, argv, i, after_dashes, value, usage);
        if (k < 0) return k;
        if (k >= C_COUNT) return k - C_COUNT;
        const char *v = *value;
        char msg[256];
        int64_t n = 0;
        switch (k) {
        case C_HELP:
        case C_H: usage(stdout); return CLI_DONE;
        case C_VERSION:
        case C_V: printf("cgrad %s\n", CGRAD_VERSION_STRING); return CLI_DONE;
        case C_OUT:
            if (!*v) return cli_usage_error(cmd, usage, "--out needs a folder name"), CLI_USAGE;
            c->out = v;
            break;
        case C_QUIET:
        case C_Q: c->quiet = true; break;
        case C_JSON: c->json = true; break;
        case C_THREADS:
            if (cli_parse_int64("--threads", v, 1, CLI_THREADS_MAX, &n, msg, sizeof msg))
                return cli_usage_error(cmd, usage, "%s", msg), CLI_USAGE;
            c->threads = (int)n;
            break;
        case C_SEED:
            if (cli_parse_int64("--seed", v, 0, INT64_MAX, &n, msg, sizeof msg))
                return cli_usage_error(cmd, usage, "%s", msg), CLI_USAGE;
            c->seed = (uint64_t)n, c->seed_set = true;
            break;
        case C_MIRROR: c->mirror = v; break;
        case C_HOME:
            if (!*v) return cli_usage_error(cmd, usage, "--home needs a folder name"), CLI_USAGE;
            c->home = v;
            break;
        default: break;
        }
    }
}

int cli_common_apply(const cli_common *c) {
    if (c->threads > 0) {
        omp_set_num_threads(c->threads);
        openblas_set_num_threads(c->threads);
    }
    /* The library reads these where it gets a dataset (dataset_get.c), so one
     * setting reaches every path that reads data, train's and eval's included. */
    if ((c->mirror && setenv("CGRAD_MIRROR", c->mirror, 1)) || (c->home && setenv("CGRAD_HOME", c->home, 1))) {
        fprintf(stderr, "cgrad: cannot set --mirror/--home: out of memory\n");
        return 1;
    }
    return 0;
}

void cli_common_help(FILE *f, unsigned accepts) {
    fprintf(f, "common options:\n");
    if (accepts & CLI_OUT)
        fprintf(f, "  --out DIR         write this command's files into DIR (made when missing; the\n"
                   "                    names are listed above)\n");
    if (accepts & CLI_QUIET) fprintf(f, "  --quiet, -q       no progress or info lines on stderr\n");
    if (accepts & CLI_JSON) fprintf(f, "  --json            results as JSON on stdout\n");
    if (accepts & CLI_THREADS)
        fprintf(f, "  --threads N       OpenMP/OpenBLAS threads, 1..%d (same seed + threads = same numbers)\n",
                CLI_THREADS_MAX);
    if (accepts & CLI_SEED) fprintf(f, "  --seed N          seed of everything random, >= 0 (default 42)\n");
    if (accepts & CLI_DATA)
        fprintf(f, "  --mirror M        fetch datasets from folder/URL M (default $CGRAD_MIRROR; \"\" for none)\n"
                   "  --home DIR        dataset cache root (default $CGRAD_HOME, else ~/.cgrad)\n");
    fprintf(f, "  --help, -h        this text;  --version, -V  the version\n"
               "  --flag=value is the same as --flag value; -- ends the options.\n"
               "Results go to stdout, progress and logs to stderr.  Exit status: 0 done,\n"
               "1 a runtime error, 2 a usage error (each with a one-line reason on stderr).\n");
}

int cli_out_file(const char *cmd, const char *dir, const char *name, char **path) {
    *path = NULL;
    char label[4200], msg[9000];
    snprintf(label, sizeof label, "--out %s", dir);
    if (cg_mkdirs(dir) != CG_OK) {
        fprintf(stderr, "cgrad: %s: %s: %s\n", cmd, cli_esc(label), cli_esc(cg_last_error()));
        return 1;
    }
    char *p = cg_path_join(dir, name);
    if (!p) {
        fprintf(stderr, "cgrad: %s: out of memory\n", cmd);
        return 1;
    }
    snprintf(label, sizeof label, "--out %s (%s)", dir, name);
    if (cli_check_output_path(label, p, msg, sizeof msg)) {
        fprintf(stderr, "cgrad: %s: %s\n", cmd, msg);
        free(p);
        return 1;
    }
    *path = p;
    return 0;
}
