/* cgrad/dataloader.h — batches from a dataset: fastai/PyTorch's DataLoader.
 *
 * The chapter:
 *
 *     dl = DataLoader(dset, batch_size=256)
 *     xb, yb = first(dl)                 # [256, 784], [256, 1]
 *     for xb, yb in dl: ...              # one epoch
 *
 * In C:
 *
 *     cg_dataloader *dl = cg_dataloader_new(dset, &(cg_dataloader_options){.batch_size = 256});
 *     cg_tensor *xb, *yb;
 *     cg_dataloader_first(dl, &xb, &yb);          // [256, 784], [256, 1]
 *     for (int epoch = 0; epoch < 20; epoch++) {
 *         for (;;) {                                   // one epoch
 *             cg_scope_begin();                        // the batch + the step's temporaries
 *             if (!cg_dataloader_next(dl, &xb, &yb)) { cg_scope_end(); break; }
 *             train_step(xb, yb);
 *             cg_scope_end();                          // ... die here
 *         }
 *         if (cg_dataloader_status(dl) != CG_OK) ... cg_last_error() ...
 *     }
 *     cg_dataloader_free(dl);
 *
 * EPOCHS.  Like `for xb, yb in dl`, a run of cg_dataloader_next() calls is one
 * epoch: the first call starts it (reshuffling when shuffle is on), the call
 * after the last batch returns false and ends it, and the next call starts a new
 * epoch.  cg_dataloader_reset() abandons the current epoch and starts a new one.
 *
 * OPTIONS.  Zero-initialised fields give fastai's defaults, except batch_size,
 * which must be set (0 is CG_ERR_VALUE); cg_dataloader_new(ds, NULL) uses
 * cg_dataloader_defaults() (fastai's bs=64).
 *   shuffle    a new permutation of the items every epoch.  The draws are
 *              PyTorch's: seeded, the batches are exactly those of
 *              DataLoader(ds, bs, shuffle=True,
 *                         generator=torch.Generator().manual_seed(seed));
 *              unseeded, each epoch's permutation comes from torch's default
 *              generator, so after cg_manual_seed(s) they are those of
 *              torch.manual_seed(s); DataLoader(ds, bs, shuffle=True).
 *              Like PyTorch (and fastai, which iterates through PyTorch's
 *              loader), every epoch of an unseeded loader, shuffled or not,
 *              advances the default generator by one int64 draw: later
 *              torch.randn-style calls then match PyTorch's too.
 *   drop_last  drop the last partial batch (fastai keeps it by default).
 *   num_workers  0: batches are made on the calling thread when next() asks.
 *              k > 0: k worker threads make batches ahead of the training loop
 *              (decoding images, gathering rows, collating) and queue up to
 *              prefetch_factor * k of them.  The order of batches and their
 *              contents do not depend on num_workers.
 *
 * OWNERSHIP.  The batch returned by next()/first() is a pair of new references:
 * owned by the caller's innermost scope if one is open, else by the caller
 * (cg_release both).  Open the step's scope BEFORE next(), as above: a scope
 * opened after it would leave every batch of the epoch to the outer scope.  Batches made on worker threads are adopted into the
 * caller's scope (cg_scope_adopt).  Stopping early is fine: reset() and free()
 * stop the workers, join them and release every queued batch.  A batch may be a
 * view of the dataset's tensors (consecutive rows of a tensor dataset): do not
 * modify it in place.
 *
 * THREADS.  One loader is driven by one thread at a time. */
#ifndef CGRAD_DATALOADER_H
#define CGRAD_DATALOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad/dataset.h"
#include "cgrad/random.h"
#include "cgrad/status.h"
#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_dataloader_options {
    int64_t batch_size;  /* items per batch; must be >= 1 */
    bool shuffle;        /* default false */
    bool drop_last;      /* default false: the last partial batch is kept */
    int num_workers;     /* default 0: no threads */
    int prefetch_factor; /* batches queued per worker; 0 means 2 (PyTorch's default) */
    bool seeded;         /* true: the loader has its own generator seeded with `seed`;
                          * false: it draws from the default generator */
    uint64_t seed;
} cg_dataloader_options;

/* { .batch_size = 64 } — fastai's DataLoader defaults. */
cg_dataloader_options cg_dataloader_defaults(void);

typedef struct cg_dataloader cg_dataloader;

/* A loader over ds (retained).  opts NULL: cg_dataloader_defaults().  NULL with
 * CG_ERR_VALUE on a bad option ("dataloader: batch_size must be >= 1, got 0"). */
cg_dataloader *cg_dataloader_new(cg_dataset *ds, const cg_dataloader_options *opts);
/* Stops and joins the workers, releases queued batches and the dataset.  NULL is fine. */
void cg_dataloader_free(cg_dataloader *dl);

/* len(dl): batches per epoch (ceil(n/bs), or floor with drop_last). */
int64_t cg_dataloader_len(const cg_dataloader *dl);
/* dl.n: items in the dataset. */
int64_t cg_dataloader_n(const cg_dataloader *dl);
int64_t cg_dataloader_batch_size(const cg_dataloader *dl);
cg_dataset *cg_dataloader_dataset(const cg_dataloader *dl); /* borrowed */
/* Epochs started so far (1 during the first epoch). */
int64_t cg_dataloader_epoch(const cg_dataloader *dl);
/* Where the current (or last) epoch is: batches handed out so far. */
int64_t cg_dataloader_batches_done(const cg_dataloader *dl);

/* DistributedSampler(num_replicas=world, rank=rank, drop_last=False) over
 * the loader's own order, for data-parallel training (cgrad/dist.h): every
 * rank draws the same permutation each epoch (the loader's seeded one, or the
 * identity); with pad it is padded to total = ceil(n/world)*world items by
 * repeating its first ones (PyTorch's rule), and rank r takes items
 * [r::world] of it, so every rank has total/world items and the same number of
 * batches.  pad false (for validation) takes [r::world] of the n items alone:
 * uneven shards, no item counted twice.  batch_size is the per-rank batch.
 * Only before the first epoch; world 1 rank 0 is the plain loader. */
cg_status cg_dataloader_shard(cg_dataloader *dl, int rank, int world, bool pad, int64_t batch_size);

/* What a checkpoint keeps of a loader between epochs: the epochs started and
 * the shuffle's own generator (used when seeded; the unseeded loader draws
 * from the default generator, which a checkpoint saves on its own).  Setting
 * it abandons the current epoch; the next next() starts epoch st->epoch + 1
 * with the draws the saved loader would have made. */
typedef struct cg_dataloader_state {
    int64_t epoch;
    cg_generator gen;
} cg_dataloader_state;
cg_status cg_dataloader_get_state(const cg_dataloader *dl, cg_dataloader_state *out);
cg_status cg_dataloader_set_state(cg_dataloader *dl, const cg_dataloader_state *st);

/* Abandons the current epoch (if any) and starts a new one (reshuffling). */
cg_status cg_dataloader_reset(cg_dataloader *dl);
/* The next batch of the epoch: true and *xb, *yb set (*yb NULL for a dataset
 * without targets); false at the end of the epoch or on an error, with *xb, *yb
 * NULL.  Tell the two apart with cg_dataloader_status(). */
bool cg_dataloader_next(cg_dataloader *dl, cg_tensor **xb, cg_tensor **yb);
/* CG_OK unless the last next() failed (then cg_last_error() says why; the epoch
 * is over and the next call to next() starts a new one). */
cg_status cg_dataloader_status(const cg_dataloader *dl);
/* first(dl): starts an epoch, takes its first batch and abandons the rest (a
 * shuffled loader draws one permutation, like iterating in Python). */
cg_status cg_dataloader_first(cg_dataloader *dl, cg_tensor **xb, cg_tensor **yb);

/* fastai's DataLoaders: a training and a validation loader.  Owns both. */
typedef struct cg_dataloaders {
    cg_dataloader *train;
    cg_dataloader *valid;
} cg_dataloaders;

/* DataLoaders(dl, valid_dl): takes ownership of both loaders (even on failure). */
cg_dataloaders *cg_dataloaders_new(cg_dataloader *train, cg_dataloader *valid);
void cg_dataloaders_free(cg_dataloaders *dls); /* NULL is fine */

/* DataLoaders over tensors: DataLoader(list(zip(train_x, train_y)), bs,
 * shuffle=shuffle) and DataLoader(list(zip(valid_x, valid_y)), bs).  A shuffled
 * training loader draws from `seed` (seeded like cg_dataloader_options). */
cg_dataloaders *cg_tensor_dataloaders(cg_tensor *train_x, cg_tensor *train_y, cg_tensor *valid_x,
                                      cg_tensor *valid_y, int64_t bs, bool shuffle, uint64_t seed);

/* ImageDataLoaders.from_folder(path, train, valid, valid_pct, seed,
 * item_tfms=Resize(...), bs) with its options:
 *
 *     dls = ImageDataLoaders.from_folder(path)                    # defaults
 *     dls = ImageDataLoaders.from_folder(path, valid_pct=0.2, seed=42,
 *                                        item_tfms=Resize(224))
 *
 *     cg_image_folder_options o = cg_image_folder_defaults();
 *     o.valid_pct = 0.2, o.seeded = true, o.seed = 42;
 *     o.item.resize = (cg_resize_options){.height = 224, .width = 224};
 *     cg_strlist empty = {0};
 *     cg_dataloaders *dls = cg_image_folder_dataloaders(path, &o, &empty);
 *     for (size_t i = 0; i < empty.count; i++) warn("empty class folder %s", empty.items[i]);
 *
 * Splits: valid_pct 0 takes root/<train> and root/<valid> (GrandparentSplitter
 * over get_image_files(path, folders=[train, valid])); valid_pct in (0,1) takes
 * every image under root and splits it with cg_random_split (RandomSplitter;
 * seeded by `seed`).  A root holding MNIST's four IDX files (cg_is_idx_folder)
 * gives its training and test sets (or a random split of the training set).
 * Loaders: the training one shuffled (seeded like cg_dataloader_options) with
 * drop_last, the validation one in order with its last partial batch.  The
 * training items get Resize's random boxes, the validation ones the centre.
 * Class folders holding no image never become classes: they are added to
 * empty_dirs (when not NULL; the caller frees it) for the caller to report,
 * or, with strict, are an error naming the first. */
typedef struct cg_image_folder_options {
    const char *train, *valid; /* folder names; NULL: "train", "valid" */
    double valid_pct;          /* 0: split by folder; (0,1): at random */
    int64_t batch_size;        /* 0: 64 */
    int num_workers;
    bool seeded;               /* the shuffle, the random split and the random boxes */
    uint64_t seed;
    cg_image_item_options item; /* the defaults: RGB float, no resize */
    bool strict;               /* an empty class folder is an error */
    /* false (default): every image is decoded once, when the datasets are made,
     * and kept as uint8.  true: only the images' headers are read then, and
     * each item decodes its file whenever it is made (fastai's way; for folders
     * of photos too big to hold decoded; IDX data is always in memory). */
    bool decode_on_demand;
    /* fastai's aug_transforms batch transform (image.h) on the training set
     * alone; NULL: none.  Its seed is replaced by one drawn from `seed`. */
    const cg_augment_options *augment;
} cg_image_folder_options;

/* fastai's: batch 64, RGB float items, split by folder, unseeded. */
cg_image_folder_options cg_image_folder_defaults(void);
cg_dataloaders *cg_image_folder_dataloaders(const char *root, const cg_image_folder_options *opts,
                                            cg_strlist *empty_dirs);
/* The two datasets those loaders batch (new references; NULL on failure), for
 * a caller that makes its own loaders: the training one with Resize's random
 * boxes, the validation one with the centre. */
cg_status cg_image_folder_datasets(const char *root, const cg_image_folder_options *opts,
                                   cg_strlist *empty_dirs, cg_dataset **train, cg_dataset **valid);

/* ImageDataLoaders.from_folder(path): root/train and root/valid image folders,
 * RGB float items (cg_image_item_defaults), batch_size 64 (bs <= 0 means 64),
 * train shuffled with drop_last, valid in order with its last partial batch;
 * num_workers for both.  seed as in cg_dataloader_options (seeded false: drawn
 * from the default generator). */
cg_dataloaders *cg_image_dataloaders_from_folder(const char *root, int64_t bs, int num_workers,
                                                 bool seeded, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
