/* Image-folder datasets (root/<split>/<class>/NAME.png|.jpg, fastai's
 * ImageDataLoaders.from_folder) and the DataLoaders built on them: the
 * splits by folder name or at random (valid_pct), IDX folders, empty class
 * folders reported or refused.  The images are decoded once into memory as
 * uint8 (image_dataset.c makes the items).  See include/cgrad/dataset.h and
 * dataloader.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/dataloader.h"
#include "cgrad/files.h"
#include "cgrad/image.h"
#include "cgrad/random.h"
#include "data/image_item.h"

cg_image_item_options cg_image_item_defaults(void) {
    return (cg_image_item_options){.channels = 3, .to_float = true};
}

static cg_dataset *files_dataset(cg_image_set *set, const int64_t *index, int64_t n,
                                 const cg_labelled_files *files, const cg_image_item_options *o) {
    cg_dataset *ds = cg_image_set_dataset(set, index, n, o, "image folder");
    if (ds && cg_dataset_set_classes(ds, (const char *const *)files->classes.items,
                                     (int64_t)files->classes.count) != CG_OK) {
        cg_dataset_release(ds);
        return NULL;
    }
    return ds;
}

cg_dataset *cg_dataset_image_files(const cg_labelled_files *files, const cg_image_item_options *opts) {
    if (!files || files->paths.count == 0) {
        cg_fail(CG_ERR_VALUE, "image folder: no files given");
        return NULL;
    }
    cg_image_item_options o = opts ? *opts : cg_image_item_defaults();
    if (cg_image_item_check(&o, "image folder") != CG_OK) return NULL;
    cg_image_set *set = cg_image_set_decode(files, o.channels);
    if (!set) return NULL;
    cg_dataset *ds = files_dataset(set, NULL, set->n, files, &o);
    cg_image_set_release(set);
    return ds;
}

cg_dataset *cg_dataset_image_folder(const char *root, const char *split,
                                    const cg_image_item_options *opts) {
    if (!root || !split) {
        cg_fail(CG_ERR_VALUE, "image folder: root and split must be given");
        return NULL;
    }
    cg_image_item_options o = opts ? *opts : cg_image_item_defaults();
    if (cg_image_item_check(&o, "image folder") != CG_OK) return NULL;
    cg_labelled_files files = {0};
    if (cg_image_folder_list(root, split, &files) != CG_OK) return NULL;
    cg_dataset *ds = cg_dataset_image_files(&files, &o);
    cg_labelled_files_free(&files);
    return ds;
}

/* ---- ImageDataLoaders.from_folder ------------------------------------------- */

cg_image_folder_options cg_image_folder_defaults(void) {
    return (cg_image_folder_options){.batch_size = 64, .item = cg_image_item_defaults()};
}

/* The dataset of one split's files, decoded now or on demand. */
static cg_dataset *split_files(const cg_labelled_files *files, const cg_image_item_options *o,
                               bool on_demand) {
    if (!on_demand) return cg_dataset_image_files(files, o);
    cg_image_set *set = cg_image_set_headers(files, o->channels);
    if (!set) return NULL;
    cg_dataset *ds = files_dataset(set, NULL, set->n, files, o);
    cg_image_set_release(set);
    return ds;
}

/* Moves the empty class folders of f into report (when given); with strict,
 * any of them is an error naming the first. */
static cg_status take_empty(cg_labelled_files *f, bool strict, cg_strlist *report) {
    if (strict && f->empty_dirs.count)
        return cg_fail(CG_ERR_FORMAT, "image folder: %s is an empty class folder (no image file in "
                       "it%s); remove it, or do not ask for strict", f->empty_dirs.items[0],
                       f->empty_dirs.count > 1 ? ", and others" : "");
    for (size_t i = 0; report && i < f->empty_dirs.count; i++)
        if (cg_strlist_push(report, f->empty_dirs.items[i]) != CG_OK) return cg_last_status();
    return CG_OK;
}

/* The two datasets of a random split of every image under root (or of an IDX
 * folder's training set). */
static cg_status split_datasets(cg_image_set *set, const cg_labelled_files *files,
                                const cg_image_folder_options *o, const cg_image_item_options *to,
                                const cg_image_item_options *vo, cg_dataset **train,
                                cg_dataset **valid, cg_dataset *(*make)(cg_image_set *, const int64_t *,
                                                                        int64_t, const cg_labelled_files *,
                                                                        const cg_image_item_options *)) {
    int64_t *ti = NULL, *vi = NULL, nt = 0, nv = 0;
    cg_status st = cg_random_split(set->n, o->valid_pct, o->seeded, o->seed, &ti, &nt, &vi, &nv);
    if (st == CG_OK && (nt == 0 || nv == 0))
        st = cg_fail(CG_ERR_VALUE, "image folder: valid_pct %g of %lld images leaves %lld for training "
                     "and %lld for validation; both need at least one", o->valid_pct,
                     (long long)set->n, (long long)nt, (long long)nv);
    if (st == CG_OK) {
        *train = make(set, ti, nt, files, to);
        *valid = *train ? make(set, vi, nv, files, vo) : NULL;
        if (!*valid) st = cg_last_status();
    }
    free(ti);
    free(vi);
    return st;
}

/* files_dataset over an IDX set (its vocab is "0".."9"). */
static cg_dataset *idx_view(cg_image_set *set, const int64_t *index, int64_t n,
                            const cg_labelled_files *files, const cg_image_item_options *o) {
    (void)files;
    cg_dataset *ds = cg_image_set_dataset(set, index, n, o, "idx dataset");
    static const char *const digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    if (ds && cg_dataset_set_classes(ds, digits, 10) != CG_OK) {
        cg_dataset_release(ds);
        return NULL;
    }
    return ds;
}

/* The train and valid datasets of root, as o says. */
static cg_status folder_datasets(const char *root, const cg_image_folder_options *o,
                                 const cg_image_item_options *to, const cg_image_item_options *vo,
                                 cg_strlist *empty, cg_dataset **train, cg_dataset **valid) {
    const char *tn = o->train ? o->train : "train", *vn = o->valid ? o->valid : "valid";
    cg_status st = CG_OK;
    if (cg_is_idx_folder(root)) { /* MNIST's four files: the training and the test set */
        if (o->valid_pct <= 0) {
            *train = cg_dataset_idx_folder(root, true, to);
            *valid = *train ? cg_dataset_idx_folder(root, false, vo) : NULL;
            return *valid ? CG_OK : cg_last_status();
        }
        /* a random split of the training file's images: two views of one set */
        cg_image_set *set = cg_idx_folder_set(root, true);
        if (!set) return cg_last_status();
        st = split_datasets(set, NULL, o, to, vo, train, valid, idx_view);
        cg_image_set_release(set);
        return st;
    }
    cg_labelled_files tf = {0}, vf = {0};
    if (o->valid_pct > 0) { /* RandomSplitter over get_image_files(root) */
        st = cg_image_files_list(root, &tf);
        if (st == CG_OK) st = take_empty(&tf, o->strict, empty);
        cg_image_set *set = st != CG_OK           ? NULL
                            : o->decode_on_demand ? cg_image_set_headers(&tf, to->channels)
                                                  : cg_image_set_decode(&tf, to->channels);
        if (st == CG_OK && !set) st = cg_last_status();
        if (st == CG_OK) st = split_datasets(set, &tf, o, to, vo, train, valid, files_dataset);
        cg_image_set_release(set);
    } else { /* GrandparentSplitter(train, valid) */
        st = cg_image_folder_list_named(root, tn, tn, vn, &tf);
        if (st == CG_OK) st = cg_image_folder_list_named(root, vn, tn, vn, &vf);
        if (st == CG_OK) st = take_empty(&tf, o->strict, empty);
        if (st == CG_OK) st = take_empty(&vf, o->strict, empty);
        if (st == CG_OK) {
            *train = split_files(&tf, to, o->decode_on_demand);
            *valid = *train ? split_files(&vf, vo, o->decode_on_demand) : NULL;
            if (!*valid) st = cg_last_status();
        }
    }
    cg_labelled_files_free(&tf);
    cg_labelled_files_free(&vf);
    return st;
}

/* The options with their defaults filled in and checked. */
static cg_status folder_options(const char *root, const cg_image_folder_options *opts,
                                cg_image_folder_options *o) {
    *o = opts ? *opts : cg_image_folder_defaults();
    if (!root) return cg_fail(CG_ERR_VALUE, "image folder: NULL root");
    if (o->valid_pct < 0 || o->valid_pct >= 1 || o->valid_pct != o->valid_pct)
        return cg_fail(CG_ERR_VALUE, "image folder: valid_pct must be in [0, 1), got %g", o->valid_pct);
    if (o->batch_size == 0) o->batch_size = 64;
    return cg_image_item_check(&o->item, "image folder");
}

cg_status cg_image_folder_datasets(const char *root, const cg_image_folder_options *opts,
                                   cg_strlist *empty_dirs, cg_dataset **train, cg_dataset **valid) {
    if (!train || !valid) return cg_fail(CG_ERR_VALUE, "image folder: NULL output");
    *train = *valid = NULL;
    cg_image_folder_options o;
    cg_status st = folder_options(root, opts, &o);
    if (st != CG_OK) return st;
    /* fastai's Resize: random boxes on the training set, the centre on valid.
     * Their positions come from the seed (unseeded: the default generator's
     * last manual seed, without drawing from it, so torch-matching streams
     * stay where they are). */
    cg_image_item_options to = o.item, vo = o.item;
    to.random_crop = true;
    to.seed = (o.seeded ? o.seed : cg_default_generator()->seed) ^ UINT64_C(0x5245534954454d53);
    vo.random_crop = false;
    st = folder_datasets(root, &o, &to, &vo, empty_dirs, train, valid);
    if (st == CG_OK && o.augment) { /* fastai's batch transforms: split_idx 0, train only */
        cg_augment_options ao = *o.augment;
        ao.seed = to.seed ^ UINT64_C(0x4155474d454e5421);
        *train = cg_augment_dataset(*train, &ao);
        if (!*train) st = cg_last_status();
    }
    if (st != CG_OK) {
        cg_dataset_release(*train);
        cg_dataset_release(*valid);
        *train = *valid = NULL;
    }
    return st;
}

cg_dataloaders *cg_image_folder_dataloaders(const char *root, const cg_image_folder_options *opts,
                                            cg_strlist *empty_dirs) {
    cg_image_folder_options o;
    if (folder_options(root, opts, &o) != CG_OK) return NULL;
    cg_dataset *train = NULL, *valid = NULL;
    if (cg_image_folder_datasets(root, &o, empty_dirs, &train, &valid) != CG_OK) return NULL;
    cg_dataloader_options tl = {.batch_size = o.batch_size, .shuffle = true, .drop_last = true,
                                .num_workers = o.num_workers, .seeded = o.seeded, .seed = o.seed};
    cg_dataloader_options vl = {.batch_size = o.batch_size, .num_workers = o.num_workers};
    cg_dataloader *tdl = cg_dataloader_new(train, &tl);
    cg_dataloader *vdl = tdl ? cg_dataloader_new(valid, &vl) : NULL;
    cg_dataset_release(train); /* the loaders hold their own references */
    cg_dataset_release(valid);
    return cg_dataloaders_new(tdl, vdl);
}

cg_dataloaders *cg_image_dataloaders_from_folder(const char *root, int64_t bs, int num_workers,
                                                 bool seeded, uint64_t seed) {
    cg_image_folder_options o = cg_image_folder_defaults();
    o.batch_size = bs <= 0 ? 64 : bs;
    o.num_workers = num_workers;
    o.seeded = seeded;
    o.seed = seed;
    return cg_image_folder_dataloaders(root, &o, NULL);
}
