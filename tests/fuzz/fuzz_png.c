/* Fuzz target: the PNG reader (src/data/png.c) on arbitrary bytes.
 *
 * Every entry point a PNG reaches: cg_png_decode (memory) with channels 0, 1, 3
 * and 4, cg_png_info and cg_png_read_into (a path, here a memfd).  Properties:
 *   - they agree: if one decode succeeds, all do, with the same height and width,
 *     and cg_png_info reports that size;
 *   - channels 1 gives [H,W], 3 gives [3,H,W], 4 gives [4,H,W], all uint8, and
 *     the same bytes as channels 0 when that is what the image holds;
 *   - read_into a tensor of that shape fills it with the same bytes as decode;
 *   - a failure leaves a message, and nothing leaks.
 * Images over 4 Mpixels are only decoded once: four 16 MB copies of each would
 * take the memory libFuzzer allows (a 64 KB 1-bit PNG can hold 500 Mpixels).
 *
 * libpng checks every chunk's CRC, so nearly every mutation would stop there.
 * When an input's CRCs are wrong, the checks run on it as it is and then on a
 * copy with each chunk's CRC recomputed, which lets the mutations reach the
 * chunk parsers and the image data. */
#include "fuzz_support.h" /* first: it defines _GNU_SOURCE */

#include <zlib.h>

static fuzz_memfile file = FUZZ_MEMFILE_INIT;

static void check_shape(const cg_tensor *t, int channels, int64_t h, int64_t w) {
    FUZZ_CHECK(t->dtype == CG_UINT8, "dtype %d", (int)t->dtype);
    if (channels == 1) {
        FUZZ_CHECK(t->ndim == 2 && t->shape[0] == h && t->shape[1] == w, "channels 1: ndim %d", t->ndim);
    } else {
        FUZZ_CHECK(t->ndim == 3 && t->shape[0] == channels && t->shape[1] == h && t->shape[2] == w,
                   "channels %d: ndim %d", channels, t->ndim);
    }
}

/* A copy of a PNG with each complete chunk's CRC recomputed, or NULL when the
 * CRCs are already right (or it is not a PNG). */
static uint8_t *with_fixed_crcs(const uint8_t *data, size_t size) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size < 8 || memcmp(data, signature, 8)) return NULL;
    uint8_t *copy = NULL;
    for (size_t pos = 8; size - pos >= 12;) {
        uint32_t len = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 | (uint32_t)data[pos + 2] << 8 |
                       data[pos + 3];
        if (len > size - pos - 12) break;
        uint32_t crc = (uint32_t)crc32(0, data + pos + 4, len + 4);
        const uint8_t *at = data + pos + 8 + len;
        uint32_t stored = (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
        if (crc != stored) {
            if (!copy) {
                copy = malloc(size);
                FUZZ_CHECK(copy, "out of memory");
                memcpy(copy, data, size);
            }
            uint8_t *c = copy + pos + 8 + len;
            c[0] = (uint8_t)(crc >> 24), c[1] = (uint8_t)(crc >> 16), c[2] = (uint8_t)(crc >> 8), c[3] = (uint8_t)crc;
        }
        pos += 12 + (size_t)len;
    }
    return copy;
}

static int check_png(const uint8_t *data, size_t size) {
    cg_scope_begin();
    cg_clear_error();
    cg_tensor *as_stored = cg_png_decode(data, size, 0, "fuzz.png");
    int accepted = as_stored != NULL;
    if (!as_stored) {
        FUZZ_CHECK_MESSAGE("cg_png_decode");
    } else {
        FUZZ_CHECK(as_stored->ndim == 2 || as_stored->ndim == 3, "ndim %d", as_stored->ndim);
        int64_t h = as_stored->shape[as_stored->ndim - 2], w = as_stored->shape[as_stored->ndim - 1];
        FUZZ_CHECK(h > 0 && w > 0, "size %lldx%lld", (long long)h, (long long)w);
        if (h * w > (4 << 20)) goto done;
        const int wanted[3] = {1, 3, 4};
        cg_tensor *decoded[3];
        for (int i = 0; i < 3; i++) {
            decoded[i] = cg_png_decode(data, size, wanted[i], "fuzz.png");
            FUZZ_CHECK(decoded[i], "channels 0 decodes but channels %d fails: %s", wanted[i], cg_last_error());
            check_shape(decoded[i], wanted[i], h, w);
            /* asking for the channels it has changes nothing */
            int64_t stored_c = as_stored->ndim == 2 ? 1 : as_stored->shape[0];
            if (stored_c == wanted[i])
                FUZZ_CHECK(!memcmp(cg_data(decoded[i]), cg_data(as_stored), (size_t)cg_numel(as_stored)),
                           "channels %d differs from the image as stored", wanted[i]);
        }
        const char *path = fuzz_memfile_put(&file, data, size);
        int64_t ih = 0, iw = 0;
        int stored = 0;
        FUZZ_CHECK(cg_png_info(path, &ih, &iw, &stored) == CG_OK, "info fails: %s", cg_last_error());
        FUZZ_CHECK(ih == h && iw == w && stored >= 1 && stored <= 4, "info %lldx%lld, %d channels",
                   (long long)ih, (long long)iw, stored);
        for (int i = 0; i < 3; i++) {
            cg_tensor *dst = cg_zeros(CG_UINT8, decoded[i]->ndim, decoded[i]->shape);
            FUZZ_CHECK(dst, "zeros: %s", cg_last_error());
            FUZZ_CHECK(cg_png_read_into(path, wanted[i], dst) == CG_OK, "read_into %d: %s", wanted[i],
                       cg_last_error());
            FUZZ_CHECK(!memcmp(cg_data(dst), cg_data(decoded[i]), (size_t)cg_numel(dst)),
                       "read_into and decode differ (channels %d)", wanted[i]);
        }
    }
done:
    cg_scope_end();
    return accepted;
}

int fuzz_run(const uint8_t *data, size_t size) {
    size_t before = fuzz_mem_before();
    int accepted = check_png(data, size);
    uint8_t *fixed = with_fixed_crcs(data, size);
    if (fixed) {
        check_png(fixed, size);
        free(fixed);
    }
    fuzz_mem_after(before);
    return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_run(data, size);
    return 0;
}
