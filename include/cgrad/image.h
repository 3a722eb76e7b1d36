/* cgrad/image.h — image and dataset files: PNG, JPEG and IDX, as tensors;
 * fastai's Resize.
 *
 * The chapter opens its images with PIL and turns them into tensors:
 *
 *     im3_t = tensor(Image.open(threes[1]))       # uint8 [28,28]
 *
 * In C:
 *
 *     cg_tensor *im3_t = cg_png_read(path, 0);     // uint8 [28,28]
 *
 * SHAPES.  A gray image is a 2-d tensor [H,W], exactly what tensor(Image.open(o))
 * gives for an 'L' image.  A color image is channels-first [C,H,W] (PyTorch's and
 * torchvision's ToTensor order; PIL would give [H,W,C]).  Pixels are uint8 0..255;
 * cg_float(t) / 255 gives the chapter's float images.
 *
 * CHANNELS ARGUMENT of the readers:
 *   0  as stored: gray -> [H,W]; gray+alpha -> [2,H,W]; RGB -> [3,H,W];
 *      RGBA -> [4,H,W]; palette -> expanded to RGB [3,H,W] (RGBA [4,H,W] when the
 *      palette has transparency; PIL would give the palette indices instead).
 *   1  gray [H,W]: color is converted with PIL's convert('L') rule (ITU-R 601-2
 *      luma, L = (19595 R + 38470 G + 7471 B + 32768) >> 16); alpha is dropped.
 *   3  RGB [3,H,W]: gray is copied to the 3 channels and alpha is dropped, like
 *      PIL's convert('RGB') (what fastai's PILImage.create does).
 *   4  RGBA [4,H,W]: missing alpha is 255.
 * 16-bit samples are reduced to 8 bits by keeping the high byte (what PIL does for
 * 16-bit color PNGs); 1/2/4-bit gray is expanded to 0..255.
 *
 * ERRORS.  Readers return NULL and set cg_last_error() with the file name:
 *   CG_ERR_IO      "png: /x/a.png: No such file or directory"
 *   CG_ERR_FORMAT  "png: /x/a.png: not a PNG file (bad signature)"
 *                  "png: /x/a.png: corrupt or truncated: <libpng's reason>"
 *                  "png: /x/a.png: corrupt or truncated: image too large (...)"
 *                  "idx: /x/t.gz: bad magic 0x12000803 (expected 0x000008NN, ...)"
 *                  "idx: /x/t.gz: magic 0x00000d03 has element type 0x0d; only 0x08 ..."
 *                  "idx: /x/t.gz: file length 7840000 bytes, header [10000, 28, 28] says 7840016"
 *   CG_ERR_VALUE   an unsupported channels argument.
 * Nothing leaks on any error path.
 *
 * Threads: every function here is safe to call from several threads at once
 * (libpng and zlib keep their state per call); cg_png_read_many decodes in
 * parallel with OpenMP. */
#ifndef CGRAD_IMAGE_H
#define CGRAD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cgrad/files.h"
#include "cgrad/status.h"
#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PNG ----------------------------------------------------------------- */
/* tensor(Image.open(path)) — see CHANNELS above.  uint8, contiguous. */
cg_tensor *cg_png_read(const char *path, int channels);

/* The same, from a PNG held in memory (e.g. a member of an archive); `name`
 * is only used in error messages. */
cg_tensor *cg_png_decode(const void *data, size_t size, int channels, const char *name);

/* Decodes path into an existing uint8 contiguous tensor `dst` whose shape must
 * be exactly what cg_png_read(path, channels) would return ([H,W] or [C,H,W]);
 * for filling one slot of a batch without an allocation:
 *     cg_png_read_into(path, 3, cg_select(batch, 0, i))
 * channels must be 1, 3 or 4 here.  CG_ERR_SHAPE names both shapes on mismatch. */
cg_status cg_png_read_into(const char *path, int channels, cg_tensor *dst);

/* torch.stack([tensor(Image.open(o)) for o in paths]) — uint8 [N,H,W] (or
 * [N,C,H,W]); every image must have the same size (the message names the first
 * that differs).  Decodes in parallel (OpenMP). */
cg_tensor *cg_png_read_many(const cg_strlist *paths, int channels);

/* Image size without decoding the pixels.  channels is as stored (1 gray,
 * 2 gray+alpha, 3 RGB or palette, 4 RGBA or palette with transparency). */
cg_status cg_png_info(const char *path, int64_t *height, int64_t *width, int *channels);

/* Writes img as an 8-bit PNG, atomically (temp file + fsync + rename).
 *   uint8   [H,W] or [1,H,W] -> gray; [3,H,W] -> RGB; [4,H,W] -> RGBA;
 *           [2,H,W] -> gray+alpha.
 *   float32 the same shapes, values in [0,1]: scaled by 255, rounded, clamped.
 *   bool    [H,W]: false 0, true 255.
 * Any strides are accepted (a view such as im3[4:15,4:22] writes fine). */
cg_status cg_png_write(const char *path, const cg_tensor *img);

/* ---- JPEG (libjpeg-turbo) -------------------------------------------------
 * The same shapes and CHANNELS argument as the PNG readers.  Decoded with
 * libjpeg's defaults (accurate integer IDCT, fancy upsampling), which is what
 * PIL does with the same library, so the pixels are PIL's.  Gray JPEGs are
 * [H,W] as stored; YCbCr/RGB ones [3,H,W].  CMYK/YCCK JPEGs are refused
 * (CG_ERR_FORMAT naming the color space).  Errors as for PNG, "jpeg: PATH: ...";
 * the size is checked against PIL's limit (178956970 pixels) before the pixels
 * are allocated; libjpeg's warnings are not printed. */
cg_tensor *cg_jpeg_read(const char *path, int channels);
cg_tensor *cg_jpeg_decode(const void *data, size_t size, int channels, const char *name);

/* ---- any image file --------------------------------------------------------
 * fastai's PILImage.create: the format is told by the file's first bytes (PNG's
 * signature, JPEG's FF D8 FF), never by its name.  Anything else is
 * CG_ERR_FORMAT: "image: PATH: not a PNG or JPEG file".  The file is opened
 * without blocking and must be a regular file (a FIFO or a device is refused),
 * at most CG_IMAGE_MAX_FILE bytes. */
#define CG_IMAGE_MAX_FILE (1LL << 30)
cg_tensor *cg_image_read(const char *path, int channels);
cg_tensor *cg_image_decode(const void *data, size_t size, int channels, const char *name);
/* A PNG's or JPEG's size and its channels as stored (cg_png_info's; a JPEG: 1
 * gray, 3 color) without decoding the pixels. */
cg_status cg_image_info(const char *path, int64_t *height, int64_t *width, int *channels);

/* ---- fastai's Resize item transform ----------------------------------------
 *
 *     Resize(224)                          # crop (random on train, centre on valid)
 *     Resize(224, method='pad', pad_mode='zeros')
 *     Resize(224, method='squish')
 *
 * method (fastai's ResizeMethod; the zero value is its default):
 *   CROP    the largest box of the target's aspect ratio inside the image,
 *           then resized to the target;
 *   PAD     the smallest such box that holds the image, the outside filled by
 *           pad_mode, then resized;
 *   SQUISH  the whole image resized to the target (aspect ratio not kept).
 * The box's position is a fraction (pct_y, pct_x) of the free room: fastai takes
 * (0.5, 0.5), the centre, on the validation set and two random.random() draws per
 * item on the training set.  pad_mode (fastai's PadMode, default REFLECTION):
 * numpy's 'reflect' (mirrored without repeating the edge), ZEROS, BORDER (the
 * edge repeated).  Resampling is PIL's BILINEAR (see src/data/resize.c for the
 * exact arithmetic). */
typedef enum cg_resize_method { CG_RESIZE_CROP = 0, CG_RESIZE_PAD, CG_RESIZE_SQUISH } cg_resize_method;
typedef enum cg_pad_mode { CG_PAD_REFLECTION = 0, CG_PAD_ZEROS, CG_PAD_BORDER } cg_pad_mode;

#define CG_RESIZE_MAX 16384 /* the largest target side */

typedef struct cg_resize_options {
    int64_t height, width;   /* the target size; both 0: no resizing */
    cg_resize_method method;
    cg_pad_mode pad_mode;
} cg_resize_options;

/* CG_OK, or CG_ERR_VALUE naming the bad size, method or pad mode. */
cg_status cg_resize_options_check(const cg_resize_options *o);
/* "crop", "pad", "squish" (or "squash"); CG_ERR_VALUE otherwise. */
cg_status cg_resize_method_parse(const char *name, cg_resize_method *out);

/* Resize(o)(img) for a uint8 [H,W] or [C,H,W] image with the box at (pct_y,
 * pct_x) in [0,1]: a new uint8 image of o's size (a copy when o has none). */
cg_tensor *cg_image_resize_item(const cg_tensor *img, const cg_resize_options *o, double pct_y,
                                double pct_x);
/* img.resize((width, height), Image.BILINEAR) — uint8 [H,W] or [C,H,W]. */
cg_tensor *cg_image_resize(const cg_tensor *img, int64_t height, int64_t width);
/* fastai's crop_pad(sz=(width,height), tl=(left,top), pad_mode) without the
 * resize: the [.., height, width] window whose top-left pixel is (top, left) of
 * img (negative or past the edge where it pads). */
cg_tensor *cg_image_crop_pad(const cg_tensor *img, int64_t top, int64_t left, int64_t height,
                             int64_t width, cg_pad_mode mode);

/* ---- fastai's aug_transforms, the affine part (src/data/augment.c) ----------
 *
 *     aug_transforms(do_flip=False, max_warp=0, max_lighting=0)
 *
 * Per item of a training batch: a rotation uniform in [-max_rotate,
 * max_rotate] degrees and a zoom uniform in [min_zoom, max_zoom] about a
 * random centre, each applied with probability p_affine, plus a shift uniform
 * in [-max_translate, max_translate] per axis (normalised units: 2 is the
 * image's width; fastai has none); bilinear sampling as F.grid_sample with
 * align_corners=True and pad_mode's padding.  The draws come from `seed`, the
 * item's index and how many times it has been made. */
typedef struct cg_augment_options {
    double max_rotate;         /* degrees; fastai 10 */
    double min_zoom, max_zoom; /* fastai 1.0, 1.1 */
    double max_translate;      /* normalised units; fastai 0 */
    double p_affine;           /* fastai 0.75 */
    cg_pad_mode pad_mode;      /* fastai REFLECTION */
    uint64_t seed;
} cg_augment_options;

/* fastai's defaults above (seed 0). */
cg_augment_options cg_augment_defaults(void);
/* CG_OK, or CG_ERR_VALUE naming the bad field. */
cg_status cg_augment_options_check(const cg_augment_options *o);
/* The 2x3 matrix M (row-major) drawn for `item` at its `draw`-th making:
 * the input point sampled for output (x, y) is M (x, y, 1), in [-1,1]
 * coordinates. */
void cg_augment_draw(const cg_augment_options *o, int64_t item, unsigned draw, double m[6]);
/* F.grid_sample(src, F.affine_grid(M, align_corners=True), 'bilinear',
 * pad_mode, align_corners=True) on one float32 image, planar [c,h,w] -> dst
 * (not overlapping src).  The identity gives src back exactly. */
cg_status cg_affine_sample(const float *src, int64_t c, int64_t h, int64_t w, const double m[6],
                           cg_pad_mode mode, float *dst);

/* ---- IDX (LeCun's MNIST format) --------------------------------------------
 * The file may be raw or gzip-compressed (decided by content, not by name).
 * Header: magic 0x0000 08 NN (type 0x08 = unsigned byte, NN = number of dims),
 * then NN big-endian uint32 sizes, then the data.  The file length must be
 * exactly header + prod(sizes) bytes.
 *   t10k-images-idx3-ubyte.gz -> uint8 [10000,28,28]
 *   t10k-labels-idx1-ubyte.gz -> uint8 [10000]
 * Labels stay uint8 as stored; cg_long(t) gives PyTorch's int64 targets. */
cg_tensor *cg_idx_read(const char *path);

#ifdef __cplusplus
}
#endif
#endif
