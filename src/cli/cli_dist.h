/* `cgrad train` under mpirun: the three places the CLI meets cgrad/dist.h. */
#ifndef CGRAD_CLI_DIST_H
#define CGRAD_CLI_DIST_H

#include "cli/train_setup.h"

/* Before the subcommand parses argv (main.c): for `train`, takes --distributed
 * out of argv and, when it was given or mpirun started the process, starts
 * MPI.  Returns -1 to go on, else the exit code after printing why not (1:
 * "this cgrad was built without MPI"). */
int cli_dist_begin(const char *cmd, int *argc, char **argv);
/* After the subcommand (main.c): a failed rank ends the whole job (its message
 * is already printed; MPI_Abort never returns), a good one finalizes MPI. */
int cli_dist_end(int rc);
/* After train_setup_build (cmd_train.c): shards the loaders (a->bs is the
 * global batch), adds the gradient-averaging callback, and makes every rank
 * but 0 quiet: no --save/--csv/--plot/--checkpoint/--json, stdout to /dev/null;
 * every rank reads --resume's checkpoint (the same state on all). */
cg_status cli_dist_attach(train_args *a, train_setup *s);

#endif
