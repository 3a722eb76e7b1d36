/* The cgrad subcommands.  Each lives in its own src/cli/cmd_*.c file, takes the
 * arguments after its name (argv[0] is the subcommand name) and returns the
 * process exit code: 0 on success, 1 on a failure whose message it printed,
 * 2 on a usage error. */
#ifndef CGRAD_CLI_COMMANDS_H
#define CGRAD_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* Prints "cgrad: <message>" to stderr, escaped (cli_escape.h: the message
 * may quote a path or a name read from a file), and returns 1. */
int cli_fail(const char *what);
/* Prints cg_last_error() the same way and returns 1. */
int cli_fail_last(void);

/* A usage error: prints "cgrad: <cmd>: <message>" and the command's usage to
 * stderr and returns 2.  Pass argv text through cli_esc(). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int cli_usage_error(const char *cmd, void (*usage)(FILE *), const char *fmt, ...);

/* A command's options, for cli_next_option. */
typedef struct cli_option {
    const char *name;  /* "--index" */
    bool takes_value;  /* --index I; false for a switch like --json */
} cli_option;

/* Walks argv[1..argc-1] of a subcommand.  For each argument returns:
 *   an index into opts: argv[*i] is that option; *value is its value (the
 *     next argument, consumed) or NULL for a switch;
 *   -1: argv[*i] is a positional argument (*value = it); after "--" every
 *     argument is positional, and "-" alone always is;
 *   -2: the end of argv;
 *   -3: a usage error, already printed (an unknown option, or one missing its
 *     value): return 2.
 * Unknown-ness is checked before the value, so `--bogus x` says --bogus is
 * unknown.  --name=value is the same as --name value.  *i starts at 0; the state lives in *i and *after_dashes. */
int cli_next_option(const char *cmd, const cli_option *opts, int n_opts, int argc, char **argv, int *i,
                    bool *after_dashes, const char **value, void (*usage)(FILE *));

/* One line per subcommand; keep in the order they appear in `cgrad help`. */
int cmd_version(int argc, char **argv);
int cmd_chapter4(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_pixel_similarity(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_lr_find(int argc, char **argv);

#endif
