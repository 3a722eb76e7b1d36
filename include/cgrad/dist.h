/* cgrad/dist.h — data-parallel training over MPI, with PyTorch's
 * DistributedDataParallel semantics.
 *
 * The user runs the same command under mpirun:
 *
 *     mpirun -np 4 cgrad train --data mnist --model cnn --epochs 5 --one-cycle
 *
 * and in C (what `cgrad train` does):
 *
 *     cg_dist_init(&argc, &argv);                    // MPI_Init, once per process
 *     ... model, dls, learner as usual, the same seed on every rank ...
 *     cg_dist_shard_loaders(dls, 256);               // global batch 256: 256/size per rank
 *     cg_callback cb;
 *     cg_dist_callback(&cb);  cg_learner_add_cb(learn, &cb);
 *     cg_learner_fit(learn, 5, 0.1);                 // rank 0 prints and writes
 *     cg_dist_finalize();
 *
 * SEMANTICS (DDP's defaults):
 *   - before_fit: rank 0's parameters AND buffers are broadcast to all ranks.
 *   - every rank draws the same seeded permutation of the training set each
 *     epoch and takes its shard (cg_dataloader_shard: DistributedSampler with
 *     drop_last=False, padded to a multiple of the world size by repeating the
 *     first items); the validation set is split without padding.
 *   - after_backward: the gradients are averaged over the ranks with
 *     MPI_Allreduce, in buckets: the flat concatenation of every parameter's
 *     grad (in named_parameters order) is copied into buffers of at most
 *     bucket_cap_mb (25 MB, DDP's bucket_cap_mb) floats, summed in place,
 *     divided by the world size and copied back.  The batch loss rides in the
 *     last bucket, so the smoothed train_loss is that of the global batch.
 *     No overlap with backward (the tape has no per-tensor hooks; at 2 ranks
 *     the reduction is a few per cent of a step, docs/DESIGN.md).
 *   - BatchNorm normalises with the statistics of the rank's own bs/size
 *     items (DDP's default; no sync-bn yet), and before_validate broadcasts
 *     rank 0's running statistics (DDP's broadcast_buffers), so every rank
 *     scores its validation shard with the model rank 0 saves.
 *   - after_validate: the recorder's loss sums and every AvgMetric's total and
 *     count are summed over the ranks, so every rank (rank 0 prints) reports
 *     the whole validation set.
 *   With equal per-rank batches, the mean of the ranks' mean-loss gradients
 *   is the gradient of the global batch's mean loss: the same SGD steps as one
 *   process with batch B, up to the order of the float sums.
 *
 * A build without MPI (CGRAD_MPI off or Open MPI not installed) has the same
 * functions: cg_dist_available() is false and cg_dist_init fails with
 * "this cgrad was built without MPI".
 *
 * FAILURE: cg_dist_abort (MPI_Abort) ends every rank of the job.  It is the one
 * function of the library that ends the process: a rank that fails while the
 * others wait in a collective would otherwise hang the job forever.  The CLI
 * prints the rank's message first and then calls it. */
#ifndef CGRAD_DIST_H
#define CGRAD_DIST_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad/dataloader.h"
#include "cgrad/learner.h"
#include "cgrad/nn.h"
#include "cgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DDP's bucket_cap_mb */
#define CG_DIST_BUCKET_CAP_MB 25.0

/* true when cgrad was built with MPI. */
bool cg_dist_available(void);
/* true when the process was started by mpirun (Open MPI's OMPI_COMM_WORLD_SIZE
 * or PMIx's PMIX_RANK is in the environment). */
bool cg_dist_launched(void);
/* MPI_Init (argc/argv may be NULL).  Idempotent.  CG_ERR_VALUE without MPI. */
cg_status cg_dist_init(int *argc, char ***argv);
/* MPI_Finalize when cg_dist_init ran; otherwise nothing. */
void cg_dist_finalize(void);
/* true between cg_dist_init and cg_dist_finalize. */
bool cg_dist_active(void);
int cg_dist_rank(void); /* 0 when not active */
int cg_dist_size(void); /* 1 when not active */
/* MPI_Abort(MPI_COMM_WORLD, code) when active; exit(code) otherwise.  Never returns. */
_Noreturn void cg_dist_abort(int code);

/* MPI_Bcast of rank 0's parameters and buffers (state_dict order) to all ranks. */
cg_status cg_dist_broadcast_module(cg_module *m);
/* MPI_Bcast of rank 0's buffers alone (the state_dict entries that are not
 * parameters: BatchNorm's running statistics and counts). */
cg_status cg_dist_broadcast_buffers(cg_module *m);
/* In-place sum over the ranks of n doubles. */
cg_status cg_dist_allreduce_sum(double *v, int n);

/* The gradient buckets: one flat float buffer, reused from step to step. */
typedef struct cg_dist_buckets {
    float *buf;
    int64_t cap;      /* floats per bucket */
    int64_t n_calls;  /* MPI_Allreduce calls made so far (for tests and benchmarks) */
} cg_dist_buckets;
/* cap_mb <= 0: CG_DIST_BUCKET_CAP_MB. */
cg_status cg_dist_buckets_init(cg_dist_buckets *b, double cap_mb);
void cg_dist_buckets_free(cg_dist_buckets *b);
/* Averages every parameter's grad over the ranks (a NULL grad counts as zeros
 * and stays NULL), and *extra (the batch loss; may be NULL) with them. */
cg_status cg_dist_average_gradients(cg_dist_buckets *b, const cg_module *m, double *extra);

/* Shards dls->train (padded) and dls->valid (not) for this rank, with
 * global_bs / size items per batch: global_bs must divide by the world size
 * (CG_ERR_VALUE naming both otherwise). */
cg_status cg_dist_shard_loaders(cg_dataloaders *dls, int64_t global_bs);

/* The Learner callback (order -20, before the NaN guard and the recorder):
 * broadcast before_fit, averaged gradients after_backward, rank 0's buffers
 * before_validate, reduced validation sums after_validate.  A metric with a custom value hook cannot
 * be reduced: the fit fails naming it. */
cg_status cg_dist_callback(cg_callback *cb);

#ifdef __cplusplus
}
#endif
#endif
