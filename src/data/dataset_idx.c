/* IDX datasets (LeCun's MNIST files): an images file and a labels file read
 * whole into memory as uint8 and served like an image folder (items made per
 * batch: channels, resize, float, flatten), and IDX folders holding MNIST's
 * four files under their own names.  See include/cgrad/dataset.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgrad/dataset.h"
#include "cgrad/image.h"
#include "data/image_item.h"

/* The images and labels of an IDX pair as a set (the images tensor is kept as
 * the set's storage: no copy). */
static cg_image_set *idx_set(const char *images_path, const char *labels_path) {
    cg_image_set *set = NULL;
    cg_scope_begin(); /* the files' tensors die here; the set keeps its own reference */
    cg_tensor *images = cg_idx_read(images_path);
    cg_tensor *labels = images ? cg_idx_read(labels_path) : NULL;
    char a[128], b[128];
    if (!labels) goto done;
    if (images->ndim != 3 || images->dtype != CG_UINT8 || images->shape[1] < 1 ||
        images->shape[2] < 1 || images->shape[1] > INT32_MAX || images->shape[2] > INT32_MAX) {
        cg_fail(CG_ERR_FORMAT, "idx dataset: %s holds %s %s; expected uint8 images [N,H,W]",
                images_path, cg_dtype_name(images->dtype), cg_shape_str(images, a, sizeof a));
        goto done;
    }
    if (labels->ndim != 1 || labels->dtype != CG_UINT8 || labels->shape[0] != images->shape[0]) {
        cg_fail(CG_ERR_SHAPE, "idx dataset: %s has %lld images (%s) but %s holds labels of shape %s",
                images_path, (long long)images->shape[0], cg_shape_str(images, a, sizeof a),
                labels_path, cg_shape_str(labels, b, sizeof b));
        goto done;
    }
    int64_t n = images->shape[0], h = images->shape[1], w = images->shape[2];
    set = cg_image_set_new(n);
    if (!set) goto done;
    set->owner = cg_retain(images);
    uint8_t *px = cg_data(images);
    const uint8_t *lab = cg_data(labels);
    for (int64_t i = 0; i < n; i++) {
        set->pixels[i] = px + i * h * w;
        set->channels[i] = 1;
        set->height[i] = (int32_t)h;
        set->width[i] = (int32_t)w;
        set->labels[i] = lab[i];
    }
    set->bytes = n * h * w;
done:
    cg_scope_end();
    return set;
}

/* The dataset over all of set, with MNIST's vocab when the labels are digits. */
static cg_dataset *idx_dataset(cg_image_set *set, const cg_image_item_options *o) {
    cg_dataset *ds = cg_image_set_dataset(set, NULL, set->n, o, "idx dataset");
    if (!ds) return NULL;
    int64_t max = -1;
    for (int64_t i = 0; i < set->n; i++) max = set->labels[i] > max ? set->labels[i] : max;
    if (max >= 0 && max <= 9) {
        static const char *const digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        if (cg_dataset_set_classes(ds, digits, 10) != CG_OK) {
            cg_dataset_release(ds);
            return NULL;
        }
    }
    return ds;
}

cg_dataset *cg_dataset_idx(const char *images_path, const char *labels_path,
                           const cg_image_item_options *opts) {
    cg_image_item_options o = opts ? *opts : (cg_image_item_options){.channels = 0, .to_float = true};
    if (cg_image_item_check(&o, "idx dataset") != CG_OK) return NULL;
    if (!images_path || !labels_path) {
        cg_fail(CG_ERR_VALUE, "idx dataset: both an images and a labels file are needed");
        return NULL;
    }
    cg_image_set *set = idx_set(images_path, labels_path);
    if (!set) return NULL;
    cg_dataset *ds = idx_dataset(set, &o);
    cg_image_set_release(set); /* the dataset holds its own reference */
    return ds;
}

/* ---- IDX folders ------------------------------------------------------------ */

/* The file for MNIST's `base` ("train-images-idx3-ubyte") in dir: the name as
 * published, gzipped or not, or with '.' before idxN (torchvision's raw/ and
 * some mirrors).  A new malloc'd path, or NULL when none is a regular file. */
static char *find_idx_file(const char *dir, const char *base) {
    char dotted[64];
    snprintf(dotted, sizeof dotted, "%s", base);
    char *dash = strstr(dotted, "-idx");
    if (dash) *dash = '.';
    const char *names[2] = {base, dotted};
    for (int k = 0; k < 2; k++)
        for (int gz = 0; gz < 2; gz++) {
            char name[80];
            snprintf(name, sizeof name, "%s%s", names[k], gz ? ".gz" : "");
            char *p = cg_path_join(dir, name);
            struct stat st;
            if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode)) return p;
            free(p);
        }
    return NULL;
}

static const char *const idx_bases[2][2] = {
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
};

bool cg_is_idx_folder(const char *dir) {
    if (!dir || !cg_path_is_dir(dir)) return false;
    bool all = true;
    for (int t = 0; t < 2 && all; t++)
        for (int f = 0; f < 2 && all; f++) {
            char *p = find_idx_file(dir, idx_bases[t][f]);
            all = p != NULL;
            free(p);
        }
    return all;
}

cg_image_set *cg_idx_folder_set(const char *dir, bool train) {
    char *images = find_idx_file(dir, idx_bases[train][0]);
    char *labels = find_idx_file(dir, idx_bases[train][1]);
    cg_image_set *set = NULL;
    if (!images || !labels)
        cg_fail(CG_ERR_IO, "idx folder: %s: no %s[.gz] (MNIST's file name) in the folder", dir,
                idx_bases[train][images ? 1 : 0]);
    else
        set = idx_set(images, labels);
    free(images);
    free(labels);
    return set;
}

cg_dataset *cg_dataset_idx_folder(const char *dir, bool train, const cg_image_item_options *opts) {
    cg_image_item_options o = opts ? *opts : (cg_image_item_options){.channels = 0, .to_float = true};
    if (cg_image_item_check(&o, "idx folder") != CG_OK) return NULL;
    if (!dir) {
        cg_fail(CG_ERR_VALUE, "idx folder: NULL folder");
        return NULL;
    }
    cg_image_set *set = cg_idx_folder_set(dir, train);
    if (!set) return NULL;
    cg_dataset *ds = idx_dataset(set, &o);
    cg_image_set_release(set);
    return ds;
}
