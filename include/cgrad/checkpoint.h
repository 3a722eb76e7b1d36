/* cgrad/checkpoint.h — training checkpoints: stop a fit (even with kill -9)
 * and resume it to the very same weights.
 *
 *     cg_learner_add_checkpoint(learn, "ckpt");   // after every epoch:
 *     cg_learner_fit_one_cycle(learn, 4, 1e-2);   //   ckpt/epoch-0.safetensors, ..., ckpt/last
 *
 * and, in a new process that builds the same learner (same seed, data, model,
 * loss, optimizer, metrics and thread count):
 *
 *     cg_learner_resume(learn, "ckpt");           // the file ckpt/last names
 *     cg_learner_fit_one_cycle(learn, 4, 1e-2);   // runs epochs 3.. only
 *
 * The resumed fit ends with byte-identical weights, optimizer state and
 * recorder values to a fit that was never stopped.
 *
 * A CHECKPOINT is one safetensors file (weights.h):
 *   "<state_dict name>"          the model's parameters and buffers under PyTorch's
 *                                names (BatchNorm's running stats and int64
 *                                num_batches_tracked included), so
 *                                model.load_state_dict(load_file(f), strict=False) works
 *   "opt.<param>.grad_avg"       fastai's optimizer state per parameter (F32, the
 *   "opt.<param>.sqr_avg"        parameter's shape; only those the optimizer keeps)
 *   "opt.<param>.step"           I64 0-d: steps this parameter took
 *   "rng.default"                I64 [628]: the default generator (mt19937 words,
 *                                index, seed, has_next_normal, next_normal's bits)
 *   "loader.train", "loader.valid"  I64 [629]: epochs started, then the loader's generator
 *   "recorder.losses", ".lrs"    per training batch; ".values" [epochs, cols],
 *   ".iters", ".seconds"         per epoch; ".smooth" [3]: beta, val, count
 *                                (doubles stored as their IEEE bits in I64, exact)
 *   __metadata__: "format" "cgrad-checkpoint-1", "epochs_done", "n_epoch",
 *   "train_iter", "opt" (its name), "n_groups", "group.<g>.<hyper>" (C99 hex
 *   floats, exact), "recorder.cols" (the column names, comma separated).
 *
 * Files are written atomically (fileio.h) and "last" is replaced only after
 * its checkpoint is complete, so a kill at any moment leaves the previous
 * checkpoint readable and named by "last".
 *
 * What resume restores: the weights and buffers, the optimizer state and its
 * hyper-parameters, the default generator (dropout masks, unseeded shuffles),
 * both loaders' epoch counts and generators, the recorder (losses, lrs, the
 * table rows, the smoothed loss), and the fit's position: the next fit starts
 * at epoch epochs_done, with train_iter and pct_train where the saved fit had
 * them, so fit_one_cycle's lr and mom continue at the exact iteration.  The
 * fit must have the same number of epochs as the saved one (the schedule's
 * length depends on it); the other hyper-parameters are the checkpoint's. */
#ifndef CGRAD_CHECKPOINT_H
#define CGRAD_CHECKPOINT_H

#include "cgrad/learner.h"
#include "cgrad/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_CHECKPOINT_FORMAT "cgrad-checkpoint-1"

/* Writes the learner's state to path atomically.  Called between epochs (the
 * checkpoint callback calls it in after_epoch); epochs_done is the number of
 * rows the recorder holds.  extra (may be NULL) adds metadata keys. */
cg_status cg_learner_save_checkpoint(cg_learner *learn, const char *path, const cg_metadata *extra);

/* Restores a checkpoint into a freshly built learner (before its fit); path is
 * a checkpoint file or a directory whose "last" names one.  Everything is
 * checked before anything changes: a truncated or corrupt file, a missing
 * tensor, a shape or column that does not fit is CG_ERR_FORMAT / CG_ERR_SHAPE
 * naming the file and the entry.  Makes learn->opt if needed and installs a
 * "resume" callback that positions the next fit. */
cg_status cg_learner_resume(cg_learner *learn, const char *path);

/* The checkpoint file a directory's "last" names, into buf (n bytes). */
cg_status cg_checkpoint_latest(const char *dir, char *buf, size_t n);

/* The callback (order 70, after the recorder) writing DIR/epoch-<e>.safetensors
 * (e counted from 0, as the table's epoch column) after every epoch and then
 * DIR/last, a one-line text file holding that file name.  The directory is
 * made if missing.  Skipped while learn->logging is false (lr_find). */
cg_status cg_checkpoint_callback(const char *dir, cg_callback *cb);
cg_status cg_learner_add_checkpoint(cg_learner *learn, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
