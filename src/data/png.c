/* PNG files <-> uint8 tensors, through libpng's low-level API.
 *
 * Why not libpng's simplified API (png_image_*): it treats 16-bit files as
 * linear light and converts color to gray with its own weights, so its pixels
 * would differ from PIL's.  Here we ask libpng only for 8-bit samples
 * (png_set_strip_16 keeps the high byte, as PIL does) and do the channel
 * conversions (PIL's convert('L') / convert('RGB')) ourselves.
 *
 * libpng reports errors by longjmp.  Each call keeps everything it allocates in
 * a job struct owned by the caller's frame, and setjmp lives in a small function
 * that touches only that struct, so the error path frees it all and no local is
 * clobbered.  Errors are formatted into job->msg, not through cg_fail, so that
 * decoding can run on OpenMP worker threads; the public function on the calling
 * thread turns the message into cg_fail. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad/fileio.h"
#include "cgrad/image.h"

#define MSG_LEN 512
#define MAX_PIXELS 178956970ull
/* A PNG holding PIL's largest image (MAX_PIXELS RGBA) stored uncompressed is
 * about 716 MB; no valid input we can decode is larger than 1 GiB. */
#define MAX_FILE_BYTES ((size_t)1 << 30)
#define MAX_DEFLATE_RATIO 1032

/* ---- decoding ------------------------------------------------------------ */

typedef struct png_read_job {
    /* input */
    const uint8_t *data;
    size_t size, pos;
    const char *name;
    bool header_only;
    /* libpng state and buffers (freed by run_decode on every path but pixels) */
    png_structp png;
    png_infop info;
    png_bytep *rows;
    /* output */
    uint8_t *pixels;       /* height x width x channels, interleaved; caller frees */
    uint32_t height, width;
    int channels;          /* channels of `pixels`: 1 G, 2 GA, 3 RGB, 4 RGBA */
    int stored_channels;   /* as the file describes itself (palette: 3 or 4) */
    char msg[MSG_LEN];
} png_read_job;

static void on_png_error(png_structp png, png_const_charp what) {
    char *msg = png_get_error_ptr(png);
    snprintf(msg, MSG_LEN, "%s", what);
    png_longjmp(png, 1);
}

/* libpng's default warning handler prints to stderr; the library never prints. */
static void on_png_warning(png_structp png, png_const_charp what) { (void)png, (void)what; }

static void read_from_memory(png_structp png, png_bytep out, size_t n) {
    png_read_job *job = png_get_io_ptr(png);
    if (n > job->size - job->pos) png_error(png, "unexpected end of file");
    memcpy(out, job->data + job->pos, n);
    job->pos += n;
}

static void decode_body(png_read_job *job) {
    png_structp png = job->png;
    png_infop info = job->info;
    png_set_read_fn(png, job, read_from_memory);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);

    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    job->height = png_get_image_height(png, info);
    job->width = png_get_image_width(png, info);
    switch (color) {
    case PNG_COLOR_TYPE_GRAY: job->stored_channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: job->stored_channels = 2; break;
    case PNG_COLOR_TYPE_RGB: job->stored_channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: job->stored_channels = 4; break;
    case PNG_COLOR_TYPE_PALETTE: job->stored_channels = has_trns ? 4 : 3; break;
    default: png_error(png, "unknown color type");
    }
    if (job->header_only) return;
    /* A 100-byte file can declare a 10^6 x 10^6 image; refuse what PIL refuses
     * (DecompressionBombError above 2 x 89,478,485 pixels) before allocating. */
    if ((uint64_t)job->height * job->width > MAX_PIXELS) png_error(png, "image too large (over 178956970 pixels, PIL's limit)");
    /* Deflate expands at most 1032:1 (zlib's technical details), so a file of N
     * bytes holds at most about 1032 N bytes of image data: a 60-byte file that
     * declares 13000x13000 RGBA is refused before 676 MB are allocated for it. */
    uint64_t least_bytes = ((uint64_t)job->height * job->width * (uint64_t)(depth * png_get_channels(png, info)) + 7) / 8;
    if (least_bytes > (uint64_t)job->size * MAX_DEFLATE_RATIO + 1024) {
        char what[160];
        snprintf(what, sizeof what, "a %ux%u image needs %llu bytes of data, more than a %zu-byte file can hold",
                 job->width, job->height, (unsigned long long)least_bytes, job->size);
        png_error(png, what);
    }

    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (has_trns) png_set_tRNS_to_alpha(png);
    }
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    job->channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (row_bytes != (size_t)job->width * (size_t)job->channels)
        png_error(png, "unexpected row size after transforms");
    if (job->height > SIZE_MAX / row_bytes) png_error(png, "image too large");
    job->pixels = malloc(row_bytes * job->height);
    job->rows = malloc(job->height * sizeof *job->rows);
    if (!job->pixels || !job->rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < job->height; y++) job->rows[y] = job->pixels + (size_t)y * row_bytes;
    /* Like PIL, a file whose image data is complete is accepted even if the
     * chunks after the image data (IEND) are cut off: no png_read_end. */
    png_read_image(png, job->rows);
}

/* 0 on success (job->pixels owned by the caller), -1 with job->msg set. */
static int run_decode(png_read_job *job) {
    job->msg[0] = '\0';
    if (job->size < 8 || png_sig_cmp(job->data, 0, 8) != 0) {
        snprintf(job->msg, MSG_LEN, "not a PNG file (bad signature)");
        return -1;
    }
    job->pos = 8;
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job->msg, on_png_error, on_png_warning);
    if (job->png) job->info = png_create_info_struct(job->png);
    if (!job->png || !job->info) {
        png_destroy_read_struct(&job->png, &job->info, NULL);
        snprintf(job->msg, MSG_LEN, "out of memory");
        return -1;
    }
    /* Only the chunks that make the pixels are read (IHDR, PLTE, IDAT, IEND,
     * and tRNS); every other one is skipped unread.  Text, ICC profiles, eXIf
     * and the like change no pixel without a transform we never ask for, and
     * libpng allocates some of them at the length their header claims (eXIf:
     * up to 2 GiB for a 45-byte file) before reading them. */
    static const png_byte pixel_chunks[] = {'t', 'R', 'N', 'S', '\0'};
    png_set_keep_unknown_chunks(job->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_keep_unknown_chunks(job->png, PNG_HANDLE_CHUNK_AS_DEFAULT, pixel_chunks, 1);
    int failed = 0;
    if (setjmp(png_jmpbuf(job->png)))
        failed = 1;
    else
        decode_body(job);
    png_destroy_read_struct(&job->png, &job->info, NULL);
    free(job->rows);
    job->rows = NULL;
    if (failed) {
        free(job->pixels);
        job->pixels = NULL;
        char reason[MSG_LEN];
        memcpy(reason, job->msg, MSG_LEN);
        snprintf(job->msg, MSG_LEN, "corrupt or truncated: %.400s", reason);
        return -1;
    }
    return 0;
}

/* Reads a whole file into memory; -1 with msg set on failure.  Plain
 * open/fstat/read through cg_read_file_bounded_msg (no stdio: for 300-byte
 * MNIST files its buffer and extra copy cost a third of the read), which
 * refuses FIFOs, devices and directories without blocking, and files above
 * MAX_FILE_BYTES.  No cg_fail: this runs on OpenMP workers. */
static int slurp(const char *path, uint8_t **data, size_t *size, char *msg, cg_status *status) {
    void *bytes;
    *status = cg_read_file_bounded_msg(path, MAX_FILE_BYTES, &bytes, size, msg, MSG_LEN);
    *data = bytes;
    return *status == CG_OK ? 0 : -1;
}

/* ---- channel conversion (PIL's rules) ------------------------------------ */

static int output_channels(int native, int requested) { return requested ? requested : native; }

/* PIL's convert('L'): ITU-R 601-2 luma in 16.16 fixed point, rounded. */
static inline uint8_t luma(const uint8_t *p) {
    return (uint8_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u + (uint32_t)p[2] * 7471u + 0x8000u) >> 16);
}

/* Writes the interleaved pixels (h x w x n) as `oc` planes into dst with the given
 * element strides (channel stride unused when oc is 1). */
static void convert_pixels(const uint8_t *src, uint32_t h, uint32_t w, int n, int oc, uint8_t *dst,
                           int64_t sc, int64_t sy, int64_t sx) {
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * w * (size_t)n;
        uint8_t *out = dst + (int64_t)y * sy;
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *p = row + (size_t)x * (size_t)n;
            uint8_t *o = out + (int64_t)x * sx;
            uint8_t g = n >= 3 ? luma(p) : p[0];
            uint8_t r = p[0], gr = n >= 3 ? p[1] : p[0], b = n >= 3 ? p[2] : p[0];
            uint8_t a = n == 2 ? p[1] : n == 4 ? p[3] : 255;
            switch (oc) {
            case 1: o[0] = g; break;
            case 2: o[0] = p[0], o[sc] = a; break; /* only when stored as gray+alpha */
            case 3: o[0] = r, o[sc] = gr, o[2 * sc] = b; break;
            default: o[0] = r, o[sc] = gr, o[2 * sc] = b, o[3 * sc] = a; break;
            }
        }
    }
}

/* The shape cg_png_read gives for an image of h x w with oc output channels. */
static int image_shape(uint32_t h, uint32_t w, int oc, int64_t *shape) {
    if (oc == 1) {
        shape[0] = h, shape[1] = w;
        return 2;
    }
    shape[0] = oc, shape[1] = h, shape[2] = w;
    return 3;
}

static bool valid_channels(int channels) {
    return channels == 0 || channels == 1 || channels == 3 || channels == 4;
}

/* ---- public readers ------------------------------------------------------ */

static cg_tensor *decode_to_tensor(const uint8_t *data, size_t size, int channels, const char *name) {
    png_read_job job = {.data = data, .size = size, .name = name};
    if (run_decode(&job) != 0) {
        cg_fail(CG_ERR_FORMAT, "png: %s: %s", name, job.msg);
        return NULL;
    }
    int oc = output_channels(job.channels, channels);
    int64_t shape[3] = {0, 0, 0};
    int ndim = image_shape(job.height, job.width, oc, shape);
    cg_tensor *t = cg_empty(CG_UINT8, ndim, shape);
    if (t)
        convert_pixels(job.pixels, job.height, job.width, job.channels, oc, cg_data(t),
                       (int64_t)job.height * job.width, job.width, 1);
    free(job.pixels);
    return t;
}

cg_tensor *cg_png_decode(const void *data, size_t size, int channels, const char *name) {
    if (!name) name = "<memory>";
    if (!valid_channels(channels)) {
        cg_fail(CG_ERR_VALUE, "png: %s: channels must be 0, 1, 3 or 4, got %d", name, channels);
        return NULL;
    }
    if (!data) {
        cg_fail(CG_ERR_VALUE, "png: %s: NULL data", name);
        return NULL;
    }
    return decode_to_tensor(data, size, channels, name);
}

cg_tensor *cg_png_read(const char *path, int channels) {
    if (!path) {
        cg_fail(CG_ERR_VALUE, "png: NULL path");
        return NULL;
    }
    if (!valid_channels(channels)) {
        cg_fail(CG_ERR_VALUE, "png: %s: channels must be 0, 1, 3 or 4, got %d", path, channels);
        return NULL;
    }
    uint8_t *data;
    size_t size;
    char msg[MSG_LEN];
    cg_status st;
    if (slurp(path, &data, &size, msg, &st) != 0) {
        cg_fail(st, "png: %s: %s", path, msg);
        return NULL;
    }
    cg_tensor *t = decode_to_tensor(data, size, channels, path);
    free(data);
    return t;
}

cg_status cg_png_info(const char *path, int64_t *height, int64_t *width, int *channels) {
    if (!path) return cg_fail(CG_ERR_VALUE, "png: NULL path");
    uint8_t *data;
    size_t size;
    char msg[MSG_LEN];
    cg_status st;
    if (slurp(path, &data, &size, msg, &st) != 0) return cg_fail(st, "png: %s: %s", path, msg);
    png_read_job job = {.data = data, .size = size, .name = path, .header_only = true};
    int rc = run_decode(&job);
    free(data);
    if (rc != 0) return cg_fail(CG_ERR_FORMAT, "png: %s: %s", path, job.msg);
    if (height) *height = job.height;
    if (width) *width = job.width;
    if (channels) *channels = job.stored_channels;
    return CG_OK;
}

/* Decodes path into dst (uint8 of exactly the expected shape, any strides).
 * Thread-safe: errors go to msg/status, not to cg_fail. */
static int read_into(const char *path, int channels, cg_tensor *dst, char *msg, cg_status *status) {
    uint8_t *data;
    size_t size;
    if (slurp(path, &data, &size, msg, status) != 0) return -1;
    png_read_job job = {.data = data, .size = size, .name = path};
    int rc = run_decode(&job);
    free(data);
    if (rc != 0) {
        snprintf(msg, MSG_LEN, "%s", job.msg);
        *status = CG_ERR_FORMAT;
        return -1;
    }
    int oc = output_channels(job.channels, channels);
    int64_t shape[3] = {0, 0, 0};
    int ndim = image_shape(job.height, job.width, oc, shape);
    bool same = ndim == dst->ndim;
    for (int d = 0; same && d < ndim; d++) same = shape[d] == dst->shape[d];
    if (!same) {
        char want[64], got[64];
        cg_shape_str(dst, want, sizeof want);
        snprintf(got, sizeof got, ndim == 2 ? "[%lld, %lld]" : "[%lld, %lld, %lld]",
                 (long long)shape[0], (long long)shape[1], (long long)shape[2]);
        snprintf(msg, MSG_LEN, "image is %s, destination is %s", got, want);
        *status = CG_ERR_SHAPE;
        free(job.pixels);
        return -1;
    }
    const int64_t *s = dst->strides;
    if (ndim == 2)
        convert_pixels(job.pixels, job.height, job.width, job.channels, oc, cg_data(dst), 0, s[0], s[1]);
    else
        convert_pixels(job.pixels, job.height, job.width, job.channels, oc, cg_data(dst), s[0], s[1], s[2]);
    free(job.pixels);
    return 0;
}

cg_status cg_png_read_into(const char *path, int channels, cg_tensor *dst) {
    if (!path || !dst) return cg_fail(CG_ERR_VALUE, "png: NULL %s", path ? "destination" : "path");
    if (channels != 1 && channels != 3 && channels != 4)
        return cg_fail(CG_ERR_VALUE, "png: %s: read_into needs channels 1, 3 or 4, got %d", path, channels);
    if (dst->dtype != CG_UINT8)
        return cg_fail(CG_ERR_DTYPE, "png: %s: destination must be uint8, not %s", path,
                       cg_dtype_name(dst->dtype));
    char msg[MSG_LEN];
    cg_status st;
    if (read_into(path, channels, dst, msg, &st) != 0) return cg_fail(st, "png: %s: %s", path, msg);
    return CG_OK;
}

cg_tensor *cg_png_read_many(const cg_strlist *paths, int channels) {
    if (!paths || paths->count == 0) {
        cg_fail(CG_ERR_VALUE, "png: read_many needs at least one path");
        return NULL;
    }
    if (!valid_channels(channels)) {
        cg_fail(CG_ERR_VALUE, "png: channels must be 0, 1, 3 or 4, got %d", channels);
        return NULL;
    }
    /* The first image fixes the shape (and, for channels 0, the channel count).
     * A scope of our own owns `first` and, on failure, `out`. */
    cg_scope_begin();
    cg_tensor *first = cg_png_read(paths->items[0], channels);
    if (!first) {
        cg_scope_end();
        return NULL;
    }
    int oc = first->ndim == 2 ? 1 : (int)first->shape[0];
    int64_t shape[4] = {(int64_t)paths->count};
    for (int d = 0; d < first->ndim; d++) shape[1 + d] = first->shape[d];
    cg_tensor *out = cg_empty(CG_UINT8, first->ndim + 1, shape);
    if (!out) {
        cg_scope_end();
        return NULL;
    }
    size_t image_bytes = (size_t)cg_numel(first);
    uint8_t *base = cg_data(out);
    memcpy(base, cg_data(first), image_bytes);

    /* Workers decode straight into out's buffer and report errors through
     * locals, never through cg_fail (whose message is per thread). */
    int64_t n = (int64_t)paths->count;
    int64_t bad = n; /* lowest failing index */
    char bad_msg[MSG_LEN] = "";
    cg_status bad_status = CG_OK;
    const int64_t H = first->ndim == 2 ? first->shape[0] : first->shape[1];
    const int64_t W = first->ndim == 2 ? first->shape[1] : first->shape[2];
#pragma omp parallel for schedule(dynamic, 32)
    for (int64_t i = 1; i < n; i++) {
        char msg[MSG_LEN];
        cg_status st = CG_OK;
        uint8_t *data;
        size_t size;
        int rc = slurp(paths->items[i], &data, &size, msg, &st);
        if (rc == 0) {
            png_read_job job = {.data = data, .size = size, .name = paths->items[i]};
            rc = run_decode(&job);
            free(data);
            if (rc != 0) {
                snprintf(msg, MSG_LEN, "%s", job.msg);
                st = CG_ERR_FORMAT;
            } else {
                int joc = output_channels(job.channels, channels);
                if (joc != oc || job.height != H || job.width != W) {
                    snprintf(msg, MSG_LEN, "image is %dx%ux%u (channels x height x width), the first (%s) is %dx%lldx%lld",
                             joc, job.height, job.width, paths->items[0], oc, (long long)H, (long long)W);
                    st = CG_ERR_SHAPE;
                    rc = -1;
                } else {
                    convert_pixels(job.pixels, job.height, job.width, job.channels, oc,
                                   base + (size_t)i * image_bytes, H * W, W, 1);
                }
                free(job.pixels);
            }
        }
        if (rc != 0) {
#pragma omp critical(cg_png_read_many_error)
            if (i < bad) {
                bad = i;
                bad_status = st;
                snprintf(bad_msg, MSG_LEN, "%s", msg);
            }
        }
    }
    if (bad < n) {
        cg_scope_end();
        cg_fail(bad_status, "png: %s: %s", paths->items[bad], bad_msg);
        return NULL;
    }
    cg_keep(out);
    cg_scope_end();
    return out;
}

/* ---- writing --------------------------------------------------------------- */

typedef struct png_write_job {
    FILE *file;
    png_structp png;
    png_infop info;
    png_bytep row;          /* one interleaved row, rebuilt per y */
    const cg_tensor *img;
    int channels;           /* 1, 2, 3 or 4 */
    int64_t height, width;
    char msg[MSG_LEN];
} png_write_job;

static void write_to_file(png_structp png, png_bytep data, size_t n) {
    png_write_job *job = png_get_io_ptr(png);
    if (fwrite(data, 1, n, job->file) != n) png_error(png, strerror(errno));
}

static void flush_file(png_structp png) {
    png_write_job *job = png_get_io_ptr(png);
    fflush(job->file);
}

/* Pixel (c, y, x) of the image as a byte: float scaled by 255, rounded, clamped. */
static uint8_t pixel_byte(const png_write_job *job, int c, int64_t y, int64_t x) {
    const cg_tensor *t = job->img;
    int64_t off = t->ndim == 2 ? y * t->strides[0] + x * t->strides[1]
                               : c * t->strides[0] + y * t->strides[1] + x * t->strides[2];
    const char *base = cg_data(t);
    switch (t->dtype) {
    case CG_UINT8: return ((const uint8_t *)base)[off];
    case CG_BOOL: return ((const bool *)base)[off] ? 255 : 0;
    case CG_INT64: {
        int64_t v = ((const int64_t *)base)[off];
        return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    default: {
        float v = ((const float *)base)[off] * 255.0f;
        if (!(v > 0)) return 0; /* also NaN */
        if (v >= 255) return 255;
        return (uint8_t)(v + 0.5f);
    }
    }
}

static void encode_body(png_write_job *job) {
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                       PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_structp png = job->png;
    png_set_write_fn(png, job, write_to_file, flush_file);
    png_set_IHDR(png, job->info, (png_uint_32)job->width, (png_uint_32)job->height, 8,
                 color_types[job->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, job->info);
    job->row = malloc((size_t)job->width * (size_t)job->channels);
    if (!job->row) png_error(png, "out of memory");
    for (int64_t y = 0; y < job->height; y++) {
        for (int64_t x = 0; x < job->width; x++)
            for (int c = 0; c < job->channels; c++)
                job->row[x * job->channels + c] = pixel_byte(job, c, y, x);
        png_write_row(png, job->row);
    }
    png_write_end(png, NULL);
}

static int run_encode(png_write_job *job) {
    job->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job->msg, on_png_error, on_png_warning);
    if (job->png) job->info = png_create_info_struct(job->png);
    if (!job->png || !job->info) {
        png_destroy_write_struct(&job->png, &job->info);
        snprintf(job->msg, MSG_LEN, "out of memory");
        return -1;
    }
    int failed = 0;
    if (setjmp(png_jmpbuf(job->png)))
        failed = 1;
    else
        encode_body(job);
    png_destroy_write_struct(&job->png, &job->info);
    free(job->row);
    job->row = NULL;
    return failed ? -1 : 0;
}

cg_status cg_png_write(const char *path, const cg_tensor *img) {
    if (!path || !img) return cg_fail(CG_ERR_VALUE, "png: write: NULL %s", path ? "image" : "path");
    char shape_buf[64];
    cg_shape_str(img, shape_buf, sizeof shape_buf);
    int channels = 0;
    if (img->ndim == 2) channels = 1;
    else if (img->ndim == 3 && img->shape[0] >= 1 && img->shape[0] <= 4) channels = (int)img->shape[0];
    if (!channels)
        return cg_fail(CG_ERR_SHAPE, "png: %s: cannot write a %s tensor as an image "
                       "(expected [H,W] or [C,H,W] with C 1..4)", path, shape_buf);
    int64_t h = img->shape[img->ndim - 2], w = img->shape[img->ndim - 1];
    if (h < 1 || w < 1 || h > 0x7fffffff || w > 0x7fffffff)
        return cg_fail(CG_ERR_SHAPE, "png: %s: cannot write a %s image", path, shape_buf);
    if (img->dtype != CG_UINT8 && img->dtype != CG_FLOAT32 && img->dtype != CG_BOOL &&
        img->dtype != CG_INT64)
        return cg_fail(CG_ERR_DTYPE, "png: %s: cannot write dtype %s", path, cg_dtype_name(img->dtype));

    /* Atomic: the bytes go to a temp file beside path, then fsync + rename. */
    cg_atomic_file *file = cg_atomic_open(path);
    if (!file) return cg_last_status();
    png_write_job job = {.img = img, .channels = channels, .height = h, .width = w,
                         .file = cg_atomic_stream(file)};
    if (run_encode(&job) != 0) {
        cg_atomic_abort(file);
        return cg_fail(CG_ERR_IO, "png: %s: write failed: %s", path, job.msg);
    }
    return cg_atomic_commit(file);
}
