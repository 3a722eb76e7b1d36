/* The conventions every cgrad subcommand shares (README, "One command line").
 *
 *   --help, -h        usage on stdout, exit 0
 *   --version, -V     "cgrad X.Y.Z" on stdout, exit 0
 *   --out DIR         where the command writes its files, under fixed names
 *                     (each command's usage lists them; made when missing)
 *   --quiet, -q       no progress or info lines on stderr (warnings and errors stay)
 *   --json            results as JSON on stdout
 *   --threads N       OpenMP/OpenBLAS threads, 1..CLI_THREADS_MAX
 *   --seed N          the seed of everything random, >= 0
 *   --mirror M        where datasets are fetched from (as $CGRAD_MIRROR; "" for none)
 *   --home DIR        the dataset cache (as $CGRAD_HOME)
 *
 * --flag=value is --flag value everywhere (cli_next_option).  Results go to
 * stdout, progress and logs to stderr.  Exit codes: 0 success, 1 a runtime
 * error, 2 a usage error; every failure prints one line, "cgrad: ...".
 *
 * A subcommand adopts them in three steps:
 *
 *     cli_common c = cli_common_init(CLI_OUT | CLI_QUIET | CLI_THREADS | CLI_DATA, 42);
 *     for (int k; (k = cli_parse("mycmd", opts, n_opts, &c, argc, argv, &i, &dashes, &v, usage)) != -2;) {
 *         if (k == CLI_DONE) return 0;      // --help or --version was printed
 *         if (k == CLI_USAGE) return 2;     // the one-line reason was printed
 *         ...                               // its own options, -1 for positionals
 *     }
 *     if (cli_common_apply(&c) != 0) return 1;   // --threads, --mirror, --home take effect
 *
 * and cli_common_help(f, c.accepts) in its usage text. */
#ifndef CGRAD_CLI_COMMON_H
#define CGRAD_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/commands.h"

#define CLI_THREADS_MAX 1024

/* Which shared flags a command takes (--help and --version: always). */
enum {
    CLI_OUT = 1u << 0,
    CLI_QUIET = 1u << 1,
    CLI_JSON = 1u << 2,
    CLI_THREADS = 1u << 3,
    CLI_SEED = 1u << 4,
    CLI_DATA = 1u << 5, /* --mirror and --home */
};

/* cli_parse's returns beyond cli_next_option's (-1 positional, -2 end, -3 usage error). */
#define CLI_USAGE (-3) /* a usage error, already printed: exit 2 */
#define CLI_DONE (-4)  /* --help or --version, already printed: exit 0 */

typedef struct cli_common {
    unsigned accepts;
    const char *out;  /* --out DIR; NULL: none given */
    bool quiet, json;
    int threads;      /* 0: leave OpenMP/OpenBLAS as they are */
    uint64_t seed;    /* the command's default until --seed */
    bool seed_set;
    const char *mirror, *home; /* NULL: not given */
} cli_common;

cli_common cli_common_init(unsigned accepts, uint64_t default_seed);

/* cli_next_option over the shared flags (those in c->accepts) followed by
 * the command's own opts[0..n_opts).  The shared ones are handled here and
 * never returned; the command's come back as their index into opts. */
int cli_parse(const char *cmd, const cli_option *opts, int n_opts, cli_common *c, int argc, char **argv,
              int *i, bool *after_dashes, const char **value, void (*usage)(FILE *));

/* Makes --threads, --mirror and --home take effect for the whole process
 * (the library reads $CGRAD_MIRROR and $CGRAD_HOME where it gets data).
 * 0, or 1 after printing why not. */
int cli_common_apply(const cli_common *c);

/* The help lines of the shared flags in accepts. */
void cli_common_help(FILE *f, unsigned accepts);

/* *path = DIR/name (malloc'd) after making DIR (mkdir -p) and checking that
 * the atomic writers can write there (cli_paths.h).  label names the flag in
 * messages ("--out out"). 0, or 1 after printing "cgrad: <cmd>: ..." . */
int cli_out_file(const char *cmd, const char *dir, const char *name, char **path);

/* The current stderr progress policy: false with --quiet. */
static inline bool cli_progress_on(const cli_common *c) { return !c->quiet; }

#endif
