/* JPEG files -> uint8 tensors, through libjpeg(-turbo)'s decompression API.
 *
 * libjpeg's defaults are kept (JDCT_ISLOW, fancy upsampling): PIL decodes with
 * the same library and the same defaults, so the pixels are PIL's.  Gray files
 * come out as one channel, YCbCr and RGB ones as RGB; CMYK and YCCK files are
 * refused rather than converted with a guess at Adobe's inversion.
 *
 * libjpeg reports errors through error_exit, which must not return: ours
 * formats the message into the job and longjmps back to run_decode.  As in
 * png.c, everything the decoder allocates lives in the job struct in the
 * caller's frame and setjmp sits in a function that touches only that struct;
 * messages are formatted into the job, not through cg_fail, so decoding is
 * thread-safe; the public functions turn them into cg_fail. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "cgrad/image.h"
#include "data/image_item.h"

#define MSG_LEN 512

typedef struct jpeg_job {
    struct jpeg_error_mgr err; /* first member: libjpeg hands us a pointer to it */
    jmp_buf jump;
    struct jpeg_decompress_struct cinfo;
    bool created;
    const uint8_t *data;
    size_t size;
    bool header_only; /* stop after the header: height, width, channels */
    uint8_t *pixels; /* height x width x channels, interleaved; caller frees */
    uint32_t height, width;
    int channels; /* 1 gray, 3 RGB */
    char msg[MSG_LEN];
} jpeg_job;

static void on_jpeg_error(j_common_ptr cinfo) {
    jpeg_job *job = (jpeg_job *)cinfo->err;
    char what[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, what);
    snprintf(job->msg, MSG_LEN, "%s", what);
    longjmp(job->jump, 1);
}

/* Trace messages and warnings: the library never prints.  Recoverable damage
 * (extra bytes between markers) is tolerated as PIL tolerates it; a file that
 * ends before its image does is an error, as PIL's "image file is truncated"
 * (libjpeg would fill the rest with gray and only warn). */
static void on_jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        jpeg_job *job = (jpeg_job *)cinfo->err;
        snprintf(job->msg, MSG_LEN, "corrupt or truncated: the file ends before the image does");
        longjmp(job->jump, 2);
    }
}

static void decode_body(jpeg_job *job) {
    struct jpeg_decompress_struct *c = &job->cinfo;
    jpeg_create_decompress(c);
    job->created = true;
    jpeg_mem_src(c, job->data, (unsigned long)job->size);
    jpeg_read_header(c, TRUE);
    switch (c->jpeg_color_space) {
    case JCS_GRAYSCALE: c->out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: c->out_color_space = JCS_RGB; break;
    default:
        snprintf(job->msg, MSG_LEN, "unsupported color space %s (only gray, YCbCr and RGB JPEGs)",
                 c->jpeg_color_space == JCS_CMYK ? "CMYK" : c->jpeg_color_space == JCS_YCCK ? "YCCK" : "unknown");
        longjmp(job->jump, 2);
    }
    /* A 200-byte header can declare 65500 x 65500: refuse what PIL refuses
     * (DecompressionBombError above 2 x 89,478,485 pixels) before allocating. */
    if ((uint64_t)c->image_width * c->image_height > CG_IMAGE_MAX_PIXELS || c->image_width == 0 ||
        c->image_height == 0) {
        snprintf(job->msg, MSG_LEN, "image of %ux%u pixels is empty or too large (over %llu pixels, "
                 "PIL's limit)", (unsigned)c->image_width, (unsigned)c->image_height,
                 (unsigned long long)CG_IMAGE_MAX_PIXELS);
        longjmp(job->jump, 2);
    }
    /* A file smaller than its image: a 720-byte file (the fuzzer's find) can
     * declare 11273x8208 RGB and end in a marker after its header; libjpeg
     * then fills the image with gray, with a warning only, after 277 MB were
     * allocated for it.  Huffman-coded data spends at least one bit on every
     * 8x8 block of each component (its DC difference, in any scan order), so
     * the component with the fewest blocks bounds what N bytes can hold, as
     * deflate's 1032:1 does in png.c.  Arithmetic coding has no such bound
     * (a flat image packs into almost nothing) and is left to the pixel limit. */
    if (!c->arith_code) {
        uint64_t least = UINT64_MAX;
        for (int i = 0; i < c->num_components; i++) {
            uint64_t blocks = (uint64_t)c->comp_info[i].width_in_blocks * c->comp_info[i].height_in_blocks;
            if (blocks < least) least = blocks;
        }
        if (c->num_components > 0 && least > (uint64_t)job->size * 8) {
            snprintf(job->msg, MSG_LEN, "a %ux%u image needs at least %llu bits of data, more than a %zu-byte "
                     "file holds", (unsigned)c->image_width, (unsigned)c->image_height,
                     (unsigned long long)least, job->size);
            longjmp(job->jump, 2);
        }
    }
    if (job->header_only) {
        job->height = c->image_height;
        job->width = c->image_width;
        job->channels = c->jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
        return;
    }
    jpeg_start_decompress(c);
    job->height = c->output_height;
    job->width = c->output_width;
    job->channels = c->output_components;
    if (job->channels != 1 && job->channels != 3) {
        snprintf(job->msg, MSG_LEN, "unexpected %d output components", job->channels);
        longjmp(job->jump, 2);
    }
    size_t row = (size_t)job->width * (size_t)job->channels;
    job->pixels = malloc(row * job->height);
    if (!job->pixels) {
        snprintf(job->msg, MSG_LEN, "out of memory for %ux%u pixels", (unsigned)job->width,
                 (unsigned)job->height);
        longjmp(job->jump, 2);
    }
    while (c->output_scanline < c->output_height) {
        JSAMPROW rows[1] = {job->pixels + (size_t)c->output_scanline * row};
        if (jpeg_read_scanlines(c, rows, 1) != 1) {
            snprintf(job->msg, MSG_LEN, "no scanline %u", (unsigned)c->output_scanline);
            longjmp(job->jump, 2);
        }
    }
    jpeg_finish_decompress(c);
}

/* 0 on success (job->pixels owned by the caller), -1 with job->msg set. */
static int run_decode(jpeg_job *job) {
    job->msg[0] = '\0';
    if (job->size < 3 || job->data[0] != 0xFF || job->data[1] != 0xD8 || job->data[2] != 0xFF) {
        snprintf(job->msg, MSG_LEN, "not a JPEG file (bad signature)");
        return -1;
    }
    job->cinfo.err = jpeg_std_error(&job->err);
    job->err.error_exit = on_jpeg_error;
    job->err.emit_message = on_jpeg_message;
    int rc = setjmp(job->jump);
    if (rc == 0) decode_body(job);
    if (job->created) jpeg_destroy_decompress(&job->cinfo);
    job->created = false;
    if (rc != 0) {
        free(job->pixels);
        job->pixels = NULL;
        if (rc == 1) { /* libjpeg's own error */
            char reason[MSG_LEN];
            memcpy(reason, job->msg, MSG_LEN);
            snprintf(job->msg, MSG_LEN, "corrupt or truncated: %.400s", reason);
        }
        return -1;
    }
    return 0;
}

cg_tensor *cg_jpeg_decode(const void *data, size_t size, int channels, const char *name) {
    if (!name) name = "<memory>";
    if (channels != 0 && channels != 1 && channels != 3 && channels != 4) {
        cg_fail(CG_ERR_VALUE, "jpeg: %s: channels must be 0, 1, 3 or 4, got %d", name, channels);
        return NULL;
    }
    if (!data) {
        cg_fail(CG_ERR_VALUE, "jpeg: %s: NULL data", name);
        return NULL;
    }
    jpeg_job *job = calloc(1, sizeof *job); /* jmp_buf and libjpeg's structs: off the stack */
    if (!job) {
        cg_fail(CG_ERR_NOMEM, "jpeg: %s: out of memory", name);
        return NULL;
    }
    job->data = data;
    job->size = size;
    if (run_decode(job) != 0) {
        cg_fail(CG_ERR_FORMAT, "jpeg: %s: %s", name, job->msg);
        free(job);
        return NULL;
    }
    cg_tensor *t = cg_image_from_interleaved(job->pixels, job->height, job->width, job->channels,
                                             channels);
    free(job->pixels);
    free(job);
    return t;
}

cg_status cg_jpeg_info_mem(const void *data, size_t size, const char *name, int64_t *height,
                           int64_t *width, int *channels) {
    jpeg_job *job = calloc(1, sizeof *job);
    if (!job) return cg_fail(CG_ERR_NOMEM, "jpeg: %s: out of memory", name);
    job->data = data;
    job->size = size;
    job->header_only = true;
    cg_status st = CG_OK;
    if (run_decode(job) != 0) {
        st = cg_fail(CG_ERR_FORMAT, "jpeg: %s: %s", name, job->msg);
    } else {
        *height = job->height;
        *width = job->width;
        *channels = job->channels;
    }
    free(job);
    return st;
}

cg_tensor *cg_jpeg_read(const char *path, int channels) {
    if (!path) {
        cg_fail(CG_ERR_VALUE, "jpeg: NULL path");
        return NULL;
    }
    uint8_t *data;
    size_t size;
    if (cg_image_slurp(path, "jpeg", &data, &size) != CG_OK) return NULL;
    cg_tensor *t = cg_jpeg_decode(data, size, channels, path);
    free(data);
    return t;
}
