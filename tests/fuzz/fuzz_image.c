/* Fuzz target: any image file (src/data/image_file.c, jpeg.c, png.c) and
 * fastai's Resize on what it decodes (src/data/resize.c).
 *
 * The input is the file.  cg_image_decode tells PNG from JPEG by the first bytes;
 * when it decodes, the image goes through cg_image_resize, cg_image_crop_pad and
 * cg_image_resize_item with sizes, box positions, methods and pad modes drawn
 * from the input's CRC-32 (so a run is reproducible from its input alone).
 * Properties:
 *   - cg_image_decode gives what the format's own decoder gives (same shape and
 *     bytes), and channels 1, 3 and 4 give [H,W], [3,H,W] and [4,H,W];
 *   - every transform returns uint8 with the input's channels and exactly the
 *     size asked for; resizing to the image's own size, and a crop_pad of the
 *     whole image, return it unchanged (PIL returns a copy);
 *   - a failure leaves a message; nothing leaks.
 * Images over 1 Mpixel are only decoded once (a 491-byte JPEG can hold 16 Mpixels):
 * the checks' cost grows with them. */
#include "fuzz_support.h" /* first: it defines _GNU_SOURCE */

#include <zlib.h>

static void check_image(const cg_tensor *t, int64_t c, int64_t h, int64_t w, const char *what) {
    FUZZ_CHECK(t, "%s failed: %s", what, cg_last_error());
    FUZZ_CHECK(t->dtype == CG_UINT8 && cg_is_contiguous(t), "%s: dtype %d", what, (int)t->dtype);
    if (c == 1)
        FUZZ_CHECK(t->ndim == 2 && t->shape[0] == h && t->shape[1] == w, "%s: ndim %d", what, t->ndim);
    else
        FUZZ_CHECK(t->ndim == 3 && t->shape[0] == c && t->shape[1] == h && t->shape[2] == w,
                   "%s: ndim %d", what, t->ndim);
}

static int same(const cg_tensor *a, const cg_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return !memcmp(cg_data(a), cg_data(b), (size_t)cg_numel(a));
}

static void transforms(const cg_tensor *img, uint32_t r) {
    int64_t c = img->ndim == 2 ? 1 : img->shape[0];
    int64_t h = img->shape[img->ndim - 2], w = img->shape[img->ndim - 1];

    FUZZ_CHECK(same(cg_image_resize(img, h, w), img), "resize to its own size changed the image");
    FUZZ_CHECK(same(cg_image_crop_pad(img, 0, 0, h, w, (cg_pad_mode)(r % 3)), img),
               "crop_pad of the whole image changed it");

    int64_t oh = 1 + (int64_t)(r % 23), ow = 1 + (int64_t)((r >> 5) % 23);
    check_image(cg_image_resize(img, oh, ow), c, oh, ow, "cg_image_resize");

    int64_t top = (int64_t)((r >> 10) % 11) - 5, left = (int64_t)((r >> 14) % 11) - 5;
    cg_pad_mode mode = (cg_pad_mode)((r >> 18) % 3);
    cg_clear_error();
    cg_tensor *box = cg_image_crop_pad(img, top, left, oh, ow, mode);
    /* a box that misses the image entirely is refused, one that touches it is not */
    bool touches = top < h && left < w && top + oh > 0 && left + ow > 0;
    if (touches) check_image(box, c, oh, ow, "cg_image_crop_pad");
    else FUZZ_CHECK(!box, "crop_pad accepted a box outside the image");
    if (!box) FUZZ_CHECK_MESSAGE("cg_image_crop_pad");

    cg_resize_options o = {.height = oh, .width = ow, .method = (cg_resize_method)((r >> 20) % 3),
                           .pad_mode = (cg_pad_mode)((r >> 22) % 3)};
    double pct_y = (double)((r >> 24) & 15) / 15, pct_x = (double)((r >> 28) & 15) / 15;
    /* PAD builds its whole box before resizing it, as fastai's crop_pad does: for a
     * 1x1000 image padded to a tall target that is up to CG_IMAGE_MAX_BYTES (715 MB)
     * by design.  Boxes over 4 MB are left out here: a 62 MB one takes 10 s under
     * ASan, which libFuzzer reports as a hang. */
    if (o.method == CG_RESIZE_PAD) {
        double m = (double)w / (double)ow > (double)h / (double)oh ? (double)w / (double)ow : (double)h / (double)oh;
        if (m * m * (double)oh * (double)ow * (double)c > 4e6) return;
    }
    cg_clear_error();
    cg_tensor *item = cg_image_resize_item(img, &o, pct_y, pct_x);
    if (item) check_image(item, c, oh, ow, "cg_image_resize_item");
    else FUZZ_CHECK_MESSAGE("cg_image_resize_item"); /* e.g. a crop too thin for the aspect ratio */
}

int fuzz_run(const uint8_t *data, size_t size) {
    size_t before = fuzz_mem_before();
    cg_scope_begin();
    cg_clear_error();
    cg_tensor *img = cg_image_decode(data, size, 0, "fuzz.image");
    int accepted = img != NULL;
    if (!img) {
        FUZZ_CHECK_MESSAGE("cg_image_decode");
    } else {
        FUZZ_CHECK(img->ndim == 2 || img->ndim == 3, "ndim %d", img->ndim);
        int64_t h = img->shape[img->ndim - 2], w = img->shape[img->ndim - 1];
        if (h * w <= (1 << 20)) {
            bool png = size >= 1 && data[0] == 0x89;
            cg_tensor *own = png ? cg_png_decode(data, size, 0, "fuzz.image")
                                 : cg_jpeg_decode(data, size, 0, "fuzz.image");
            FUZZ_CHECK(own && same(own, img), "cg_image_decode and cg_%s_decode differ", png ? "png" : "jpeg");
            const int wanted[3] = {1, 3, 4};
            for (int i = 0; i < 3; i++)
                check_image(cg_image_decode(data, size, wanted[i], "fuzz.image"), wanted[i], h, w,
                            "cg_image_decode with channels");
            transforms(img, (uint32_t)crc32(0, data, (uInt)size));
        }
    }
    cg_scope_end();
    fuzz_mem_after(before);
    return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_run(data, size);
    return 0;
}
