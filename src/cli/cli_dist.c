/* `cgrad train` under mpirun (cgrad/dist.h): start MPI, shard the data, make
 * the other ranks quiet, and end the job when a rank fails. */
#include "cli/cli_dist.h"

#include <stdio.h>
#include <string.h>

#include "cgrad/dist.h"

int cli_dist_begin(const char *cmd, int *argc, char **argv) {
    if (strcmp(cmd, "train") != 0) return -1;
    bool asked = false;
    int out = 1;
    for (int i = 1; i < *argc; i++) { /* argv[0] is the subcommand */
        if (!strcmp(argv[i], "--")) { /* nothing after -- is an option */
            while (i < *argc) argv[out++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--distributed")) asked = true;
        else argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    bool launched = cg_dist_launched();
    if (!asked && !launched) return -1;
    if (!cg_dist_available()) {
        fprintf(stderr, "cgrad: train: %s, but this cgrad was built without MPI "
                        "(install libopenmpi-dev and rebuild with -DCGRAD_MPI=ON)\n",
                asked ? "--distributed was given" : "mpirun started it");
        return 1;
    }
    if (cg_dist_init(NULL, NULL) != CG_OK) {
        fprintf(stderr, "cgrad: train: %s\n", cg_last_error());
        return 1;
    }
    return -1;
}

int cli_dist_end(int rc) {
    if (!cg_dist_active()) return rc;
    if (rc != 0 && cg_dist_size() > 1) {
        fprintf(stderr, "cgrad: train: rank %d of %d failed (exit %d): ending the job\n", cg_dist_rank(),
                cg_dist_size(), rc);
        fflush(stdout);
        fflush(stderr);
        cg_dist_abort(rc);
    }
    cg_dist_finalize();
    return rc;
}

cg_status cli_dist_attach(train_args *a, train_setup *s) {
    if (!cg_dist_active()) return CG_OK;
    cg_status st = cg_dist_shard_loaders(s->dls, a->bs);
    cg_callback cb;
    if (st == CG_OK) st = cg_dist_callback(&cb);
    if (st == CG_OK) st = cg_learner_add_cb(s->learn, &cb);
    if (st != CG_OK || cg_dist_rank() == 0) return st;
    a->save = a->csv = a->plot = a->checkpoint = NULL; /* rank 0 alone writes (--resume: all read) */
    a->json = false;
    a->common.quiet = true; /* the bars too: they are on stderr */
    if (!freopen("/dev/null", "w", stdout))
        return cg_fail(CG_ERR_IO, "train: rank %d: cannot send its stdout to /dev/null", cg_dist_rank());
    return CG_OK;
}
