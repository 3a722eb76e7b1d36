/* The cgrad subcommands.  Each lives in its own src/cli/cmd_*.c file, takes the
 * arguments after its name (argv[0] is the subcommand name) and returns the
 * process exit code: 0 on success, 1 on a failure whose message it printed,
 * 2 on a usage error. */
#ifndef CGRAD_CLI_COMMANDS_H
#define CGRAD_CLI_COMMANDS_H

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* Prints "cgrad: <message>" to stderr and returns 1. */
int cli_fail(const char *what);
/* Prints cg_last_error() the same way and returns 1. */
int cli_fail_last(void);

/* One line per subcommand; keep in the order they appear in `cgrad help`. */
int cmd_version(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_pixel_similarity(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_lr_find(int argc, char **argv);

#endif
