/* Private to src/data: decoded images and turning them into dataset items
 * (fastai's PILImage.create, Resize, ToTensor and IntToFloatTensor). */
#ifndef CGRAD_DATA_IMAGE_ITEM_H
#define CGRAD_DATA_IMAGE_ITEM_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "cgrad/dataset.h"
#include "cgrad/image.h"

/* PIL's decompression-bomb limit (2 x Image.MAX_IMAGE_PIXELS), for every
 * decoder; an image of it in RGBA is the largest buffer a decode makes. */
#define CG_IMAGE_MAX_PIXELS 178956970ull
#define CG_IMAGE_MAX_BYTES (4LL * 178956970LL)

/* Copies n uint8 pixels to dst as uint8, or as float32 x/255 when to_float.
 * The division is done in float32, like torch's x.float() / 255. */
static inline void cg_image_item_store(const uint8_t *src, int64_t n, void *dst, bool to_float) {
    if (!to_float) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    float *f = dst;
    for (int64_t i = 0; i < n; i++) f[i] = (float)src[i] / 255.0f;
}

static inline cg_status cg_image_item_check(const cg_image_item_options *o, const char *who) {
    if (o->channels != 0 && o->channels != 1 && o->channels != 3 && o->channels != 4)
        return cg_fail(CG_ERR_VALUE, "%s: channels must be 0 (as stored), 1, 3 or 4, got %d", who,
                       o->channels);
    return cg_resize_options_check(&o->resize);
}

/* ---- files (image_file.c) ------------------------------------------------ */

/* The whole of a regular file, opened without blocking, at most
 * CG_IMAGE_MAX_FILE bytes; `who` starts the messages ("jpeg", "image"). */
cg_status cg_image_slurp(const char *path, const char *who, uint8_t **data, size_t *size);
/* Interleaved pixels (h x w x n, n = 1 gray or 3 RGB) as the readers' tensor
 * for `channels` (image.h's CHANNELS rules: 0 as stored, 1 luma, 3 RGB, 4 RGBA). */
cg_tensor *cg_image_from_interleaved(const uint8_t *px, uint32_t h, uint32_t w, int n, int channels);

/* A JPEG's size and channels (1 gray, 3 color) from its header alone (jpeg.c). */
cg_status cg_jpeg_info_mem(const void *data, size_t size, const char *name, int64_t *height,
                           int64_t *width, int *channels);

/* ---- resizing (resize.c), on planar uint8 [c, h, w] buffers --------------- */

/* PIL's bilinear resize of each plane: src [c,h,w] -> dst [c,oh,ow]. */
cg_status cg_resize_bilinear_u8(const uint8_t *src, int64_t c, int64_t h, int64_t w, uint8_t *dst,
                                int64_t oh, int64_t ow);
/* fastai's crop_pad without the resize: dst [c,oh,ow] is the window at (top,
 * left) of src, padded with `mode` where it lies outside. */
cg_status cg_crop_pad_u8(const uint8_t *src, int64_t c, int64_t h, int64_t w, int64_t top,
                         int64_t left, int64_t oh, int64_t ow, cg_pad_mode mode, uint8_t *dst);
/* fastai Resize's box (crop or pad) for an h x w image at position (pct_y, pct_x). */
void cg_resize_box(int64_t h, int64_t w, const cg_resize_options *o, double pct_y, double pct_x,
                   int64_t *top, int64_t *left, int64_t *box_h, int64_t *box_w);
/* Resize(o) of src [c,h,w] into dst [c, o->height, o->width]. */
cg_status cg_resize_item_u8(const uint8_t *src, int64_t c, int64_t h, int64_t w,
                            const cg_resize_options *o, double pct_y, double pct_x, uint8_t *dst);

/* ---- decoded images in memory (image_dataset.c) --------------------------- */

/* n uint8 images, image i planar [channels[i], height[i], width[i]] at
 * pixels[i] (each its own block, or all inside `arena`), with labels and the
 * names used in messages (NULL: "item i").  Reference counted: the train and
 * valid views of a random split share one set. */
typedef struct cg_image_set {
    int64_t n;
    uint8_t **pixels;
    uint8_t *arena;   /* malloc'd block holding every image, or NULL */
    cg_tensor *owner; /* or a tensor holding them (an IDX file's), released with the set */
    int32_t *height, *width;
    uint8_t *channels;
    int64_t *labels;
    cg_strlist names;
    int64_t bytes; /* pixel bytes held */
    bool lazy;         /* no pixels: each item decodes names[i] when it is made */
    int lazy_channels; /* the channels argument the set was made for */
    atomic_int refcount;
} cg_image_set;

/* An empty set for n images (refcount 1); the caller fills it. */
cg_image_set *cg_image_set_new(int64_t n);
void cg_image_set_release(cg_image_set *s);
/* Decodes every file of `files` (in parallel) into a new set, in the layout
 * opts->channels asks for (gray stays one plane when 3 is asked for: it is
 * copied to the three channels per batch). */
cg_image_set *cg_image_set_decode(const cg_labelled_files *files, int channels);

/* The same set without the pixels: only each file's size and channels (read
 * from its header), for cg_image_folder_options.decode_on_demand; the items
 * then decode their file every time they are made. */
cg_image_set *cg_image_set_headers(const cg_labelled_files *files, int channels);

/* A dataset over items index[0..n-1] of set (index NULL: all of them, in
 * order), made per batch with opts; the dataset holds its own reference to
 * set and copies index.  Classes are set on the dataset by the caller. */
cg_dataset *cg_image_set_dataset(cg_image_set *set, const int64_t *index, int64_t n,
                                 const cg_image_item_options *opts, const char *kind);

/* The training (or test) images and labels of an IDX folder as a set
 * (dataset_idx.c). */
cg_image_set *cg_idx_folder_set(const char *dir, bool train);

#endif
