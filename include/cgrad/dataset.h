/* cgrad/dataset.h — datasets: anything with a length and an item getter.
 *
 * PyTorch's map-style Dataset is "__len__ + __getitem__"; the chapter builds its
 * training set as a plain Python list of (x, y) pairs:
 *
 *     dset = list(zip(train_x, train_y))     # 12396 items
 *     x, y = dset[0]                         # x: [784], y: [1]
 *
 * In C:
 *
 *     cg_dataset *dset = cg_dataset_from_tensors(train_x, train_y);
 *     cg_tensor *x, *y;
 *     cg_dataset_item(dset, 0, &x, &y);          // x: [784], y: [1] (row views)
 *     cg_dataset_len(dset);                     // 12396
 *     cg_dataset_release(dset);
 *
 * An item is a pair (x, y) of tensors.  y may be NULL for a dataset without
 * targets (DataLoader(range(15)) batches plain values).
 *
 * OWNERSHIP.  Items are new references under the usual rules of tensor.h: owned
 * by the caller's innermost scope if one is open, else by the caller.  A dataset
 * itself is reference counted: cg_dataloader_new() retains it, so the caller may
 * release its own reference right after making the loaders.
 *
 * WRITING YOUR OWN.  Fill a cg_dataset_ops with a len and a get (and optionally
 * get_batch and free) and call cg_dataset_new.  get() may be called from several
 * DataLoader worker threads at once (for different indices): it must not change
 * shared state without a lock.  get() and get_batch() are always called inside a
 * scope that the dataset code opened: return references made by cgrad calls in
 * that scope (not cg_retain'ed ones) and leave your temporaries to it.
 *
 * THE FAST PATH.  get_batch(indices, n) returns a whole batch at once.  Tensor
 * datasets implement it as a gather of rows (one contiguous copy of the selected
 * rows; a slice view, with no copy, when the indices are consecutive), so a
 * DataLoader over train_x costs one memcpy per batch instead of n item views plus
 * a stack.  Without get_batch the DataLoader calls get() per item and collates.
 *
 * Errors: NULL / a cg_status with cg_last_error() naming the file, shape or index. */
#ifndef CGRAD_DATASET_H
#define CGRAD_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad/files.h"
#include "cgrad/image.h"
#include "cgrad/status.h"
#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_dataset cg_dataset;

/* The behaviour of a dataset; ctx is the pointer given to cg_dataset_new. */
typedef struct cg_dataset_ops {
    /* Number of items (__len__). */
    int64_t (*len)(void *ctx);
    /* Item i, 0 <= i < len (the wrapper has already checked and normalised i):
     * *x and *y become new references (*y may be set to NULL: no target). */
    cg_status (*get)(void *ctx, int64_t i, cg_tensor **x, cg_tensor **y);
    /* Optional (may be NULL): the collated batch of items indices[0..n-1],
     * exactly what stacking get()'s x's and y's would give: xb [n, ...x.shape],
     * yb [n, ...y.shape] or NULL. */
    cg_status (*get_batch)(void *ctx, const int64_t *indices, int64_t n, cg_tensor **xb,
                           cg_tensor **yb);
    /* Optional: frees ctx when the last reference to the dataset goes. */
    void (*free)(void *ctx);
    /* Optional: the file item i was read from (an image folder's path), or
     * NULL when it has none (tensors, IDX).  Owned by ctx. */
    const char *(*source)(void *ctx, int64_t i);
} cg_dataset_ops;

/* A dataset over ctx with the given behaviour; `kind` ("tensors", "image folder",
 * ...) is copied and used in messages.  Refcount 1.  On failure the caller still
 * owns ctx. */
cg_dataset *cg_dataset_new(const char *kind, const cg_dataset_ops *ops, void *ctx);
cg_dataset *cg_dataset_retain(cg_dataset *ds);
void cg_dataset_release(cg_dataset *ds); /* NULL is fine */

int64_t cg_dataset_len(const cg_dataset *ds);
const char *cg_dataset_kind(const cg_dataset *ds);
/* dset[i]; a negative i counts from the end like Python.  CG_ERR_VALUE naming
 * the index and the length when out of range.  *y may come back NULL. */
cg_status cg_dataset_item(cg_dataset *ds, int64_t i, cg_tensor **x, cg_tensor **y);
/* The collated items indices[0..n-1] (each 0 <= index < len): xb [n, ...],
 * yb [n, ...] or NULL.  Uses the dataset's get_batch if it has one, else get()
 * per item + cg_collate.  n must be >= 1. */
cg_status cg_dataset_batch(cg_dataset *ds, const int64_t *indices, int64_t n,
                               cg_tensor **xb, cg_tensor **yb);
/* The file item i was read from (an image folder's item: its path, as listed
 * under the root), or NULL when the dataset has none (tensors, IDX files) or i
 * is out of range.  Owned by the dataset: valid while it lives.  fastai's
 * interp.plot_top_losses names the items by it (dl.items[idx]). */
const char *cg_dataset_item_source(const cg_dataset *ds, int64_t i);
/* Whether the dataset has a get_batch (the gather fast path). */
bool cg_dataset_has_batch_getter(const cg_dataset *ds);
/* Bytes of data it holds in memory (tensors: x and y; images: their decoded
 * uint8 pixels), or -1 when it cannot say.  A custom dataset sets it with
 * cg_dataset_set_nbytes. */
int64_t cg_dataset_nbytes(const cg_dataset *ds);
void cg_dataset_set_nbytes(cg_dataset *ds, int64_t nbytes);

/* PyTorch's default_collate for one field: stacks items[0..n-1] (all the same
 * dtype and shape) into a new contiguous tensor [n, ...items[0].shape].
 * `what` names the field in messages ("x", "y").  Mismatched shapes give
 * CG_ERR_SHAPE: "collate: cannot stack x of item 0 (shape [3, 28, 28]) with
 * item 5 (shape [1, 28, 28])"; dtypes likewise (CG_ERR_DTYPE). */
cg_tensor *cg_collate(cg_tensor *const *items, int64_t n, const char *what);

/* Class names (fastai's vocab) of a classification dataset, or NULL with *n = 0.
 * Owned by the dataset. */
const char *const *cg_dataset_classes(const cg_dataset *ds, int64_t *n);
/* Copies the class names into the dataset (replacing any). */
cg_status cg_dataset_set_classes(cg_dataset *ds, const char *const *names, int64_t n);

/* ---- constructors -------------------------------------------------------- */

/* list(zip(x, y)): item i is (x[i], y[i]), row views of x and y (no copy).
 * x and y must have at least one dim and the same number of rows; y may be
 * NULL (items have no target).  The dataset keeps its own references (detached:
 * items never carry autograd history).  Has the gather fast path. */
cg_dataset *cg_dataset_from_tensors(cg_tensor *x, cg_tensor *y);

/* The items of inner (float32 [C,H,W] or [H,W] images), each transformed by
 * cg_augment_draw + cg_affine_sample every time it is made (fastai's
 * aug_transforms on the training set; image.h).  Takes over the reference to
 * inner (released on failure too); the classes are copied. */
cg_dataset *cg_augment_dataset(cg_dataset *inner, const cg_augment_options *o);

/* range(n): item i is the 0-d int64 tensor i, with no target; a DataLoader over
 * it batches int64 [bs] tensors, like DataLoader(range(15), batch_size=5). */
cg_dataset *cg_dataset_range(int64_t n);

/* How image items are made (image folders, IDX files): fastai's
 * PILImage.create, item transform Resize, ToTensor and IntToFloatTensor.  The
 * images are held decoded, as uint8 (a gray image as one plane even for RGB
 * items); every batch is converted when it is made, so the float RGB copy of a
 * dataset never exists (MNIST_SAMPLE: 11 MB of pixels instead of 117 MB). */
typedef struct cg_image_item_options {
    /* 0: as stored (image.h's CHANNELS; a gray image stays [H,W]);
     * 1: gray [1,H,W]; 3: RGB [3,H,W], gray copied (fastai's PILImage.create);
     * 4: RGBA [4,H,W]. */
    int channels;
    /* true: float32 x/255 in [0,1] (fastai's IntToFloatTensor); false: uint8. */
    bool to_float;
    /* true: items are flat [C*H*W] rows (the chapter's 784-pixel rows, for
     * linear and simple_net) instead of [C,H,W]. */
    bool flatten;
    /* fastai's Resize item transform (image.h); size 0: none, and then every
     * image of a batch must have the same size. */
    cg_resize_options resize;
    /* The training split's Resize (fastai's split_idx 0): the crop or pad box at
     * a random position per item and epoch; false: at the centre (valid).  The
     * positions are drawn from `seed`, the item's index and how many times the
     * item has been made, so they do not depend on num_workers (they are not
     * Python's random.random() draws that fastai takes). */
    bool random_crop;
    uint64_t seed;
} cg_image_item_options;

/* fastai's image defaults: { .channels = 3, .to_float = true }. */
cg_image_item_options cg_image_item_defaults(void);

/* One split of an image-folder tree (root/<split>/<class>/NAME.png or .jpg,
 * see cg_image_folder_list in files.h): item i is (image [C,H,W], int64 0-d
 * label).  Every image is decoded when the dataset is made (in parallel) and
 * kept as uint8; a file that is not a readable PNG or JPEG fails here, naming
 * it.  Without a resize, all images of a batch must have the same size (the
 * message names the file and both shapes).  Classes: the sorted labels of the
 * images of root/train and root/valid.  opts NULL: cg_image_item_defaults(). */
cg_dataset *cg_dataset_image_folder(const char *root, const char *split,
                                    const cg_image_item_options *opts);
/* The same over a list of labelled files (paths, labels, classes). */
cg_dataset *cg_dataset_image_files(const cg_labelled_files *files,
                                   const cg_image_item_options *opts);

/* An IDX pair (MNIST's train-images-idx3-ubyte.gz + train-labels-idx1-ubyte.gz):
 * read whole into memory as uint8, items made per batch like an image folder's:
 * item i is (image, int64 0-d label).  Image shape: [28,28] for channels 0,
 * [1,28,28] for 1, [3,28,28] for 3 (flat with flatten, resized with resize).
 * The two files must have the same number of items.  Classes "0".."9" when the
 * labels are digits (max label <= 9).  opts NULL: { .channels = 0, .to_float = true }. */
cg_dataset *cg_dataset_idx(const char *images_path, const char *labels_path,
                           const cg_image_item_options *opts);

/* An IDX folder: `dir` holds MNIST's four files under their own names, each
 * gzipped (NAME.gz) or not (NAME):
 *     train-images-idx3-ubyte  train-labels-idx1-ubyte    (train: true)
 *     t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte     (train: false)
 * (torchvision's and Keras's copies also write them with '.' for the last '-':
 * train-images.idx3-ubyte; both spellings are looked for).  CG_ERR_IO naming the
 * folder and the file names when one is missing. */
cg_dataset *cg_dataset_idx_folder(const char *dir, bool train, const cg_image_item_options *opts);
/* Whether dir holds the four files above (so `--data PATH` can take it). */
bool cg_is_idx_folder(const char *dir);

/* fastai's RandomSplitter(valid_pct, seed) over n items:
 *     torch.manual_seed(seed); idx = torch.randperm(n); cut = int(valid_pct * n)
 *     train = idx[cut:], valid = idx[:cut]
 * seeded false draws the permutation from the default generator (seed=None).
 * The permutation is cg_randperm's, bit-identical to torch.randperm; unlike
 * fastai, a seeded split leaves the default generator alone.  valid_pct must
 * be in (0, 1).  *train and *valid are malloc'd (the caller frees). */
cg_status cg_random_split(int64_t n, double valid_pct, bool seeded, uint64_t seed, int64_t **train,
                          int64_t *n_train, int64_t **valid, int64_t *n_valid);

#ifdef __cplusplus
}
#endif
#endif
