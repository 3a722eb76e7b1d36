/* Any image file: the format told by its first bytes (fastai's PILImage.create
 * lets PIL do the same), a bounded read of the file, and the channel rules the
 * JPEG reader shares with the PNG one.  See include/cgrad/image.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad/fileio.h"
#include "cgrad/image.h"
#include "data/image_item.h"

cg_status cg_image_slurp(const char *path, const char *who, uint8_t **data, size_t *size) {
    /* The readers' shared open (data/file_read.c): O_NONBLOCK so a FIFO does
     * not wait for a writer, fstat refusing anything but a regular file, and
     * never more than CG_IMAGE_MAX_FILE bytes or what fstat said. */
    void *bytes = NULL;
    cg_status st = cg_read_file_bounded(path, who, (size_t)CG_IMAGE_MAX_FILE, &bytes, size);
    *data = bytes;
    return st;
}

/* PIL's convert('L'): ITU-R 601-2 luma in 16.16 fixed point, rounded. */
static inline uint8_t luma(const uint8_t *p) {
    return (uint8_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u + (uint32_t)p[2] * 7471u +
                      0x8000u) >> 16);
}

cg_tensor *cg_image_from_interleaved(const uint8_t *px, uint32_t h, uint32_t w, int n, int channels) {
    int oc = channels ? channels : n;
    int64_t hw = (int64_t)h * w;
    cg_tensor *t = oc == 1 ? cg_empty(CG_UINT8, 2, (int64_t[]){h, w})
                           : cg_empty(CG_UINT8, 3, (int64_t[]){oc, h, w});
    if (!t) return NULL;
    uint8_t *o = cg_data(t);
    for (int64_t i = 0; i < hw; i++) {
        const uint8_t *p = px + i * n;
        uint8_t r = p[0], g = n >= 3 ? p[1] : p[0], b = n >= 3 ? p[2] : p[0];
        switch (oc) {
        case 1: o[i] = n >= 3 ? luma(p) : p[0]; break;
        case 3: o[i] = r, o[hw + i] = g, o[2 * hw + i] = b; break;
        default: o[i] = r, o[hw + i] = g, o[2 * hw + i] = b, o[3 * hw + i] = 255; break;
        }
    }
    return t;
}

static bool is_png(const uint8_t *d, size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return n >= 8 && !memcmp(d, sig, 8);
}

static bool is_jpeg(const uint8_t *d, size_t n) {
    return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
}

cg_tensor *cg_image_decode(const void *data, size_t size, int channels, const char *name) {
    if (!name) name = "<memory>";
    if (!data) {
        cg_fail(CG_ERR_VALUE, "image: %s: NULL data", name);
        return NULL;
    }
    if (is_png(data, size)) return cg_png_decode(data, size, channels, name);
    if (is_jpeg(data, size)) return cg_jpeg_decode(data, size, channels, name);
    cg_fail(CG_ERR_FORMAT, "image: %s: not a PNG or JPEG file (%zu bytes%s)", name, size,
            size >= 6 && (!memcmp(data, "GIF8", 4)) ? ", a GIF" :
            size >= 2 && !memcmp(data, "BM", 2) ? ", a BMP?" : "");
    return NULL;
}

cg_tensor *cg_image_read(const char *path, int channels) {
    if (!path) {
        cg_fail(CG_ERR_VALUE, "image: NULL path");
        return NULL;
    }
    uint8_t *data;
    size_t size;
    if (cg_image_slurp(path, "image", &data, &size) != CG_OK) return NULL;
    cg_tensor *t = cg_image_decode(data, size, channels, path);
    free(data);
    return t;
}

cg_status cg_image_info(const char *path, int64_t *height, int64_t *width, int *channels) {
    if (!path || !height || !width || !channels) return cg_fail(CG_ERR_VALUE, "image: NULL argument");
    uint8_t *data;
    size_t size;
    cg_status st = cg_image_slurp(path, "image", &data, &size);
    if (st != CG_OK) return st;
    if (is_jpeg(data, size))
        st = cg_jpeg_info_mem(data, size, path, height, width, channels);
    else if (is_png(data, size))
        st = CG_OK; /* cg_png_info reads the file again: it takes a path */
    else
        st = cg_fail(CG_ERR_FORMAT, "image: %s: not a PNG or JPEG file (%zu bytes)", path, size);
    bool png = st == CG_OK && is_png(data, size);
    free(data);
    return png ? cg_png_info(path, height, width, channels) : st;
}
