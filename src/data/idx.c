/* IDX files (LeCun's MNIST format), raw or gzip-compressed, into uint8 tensors.
 *
 *   magic   0x00 0x00 <type> <ndims>      type 0x08 = unsigned byte
 *   sizes   ndims big-endian uint32
 *   data    prod(sizes) elements, row-major
 *
 * zlib's gzread reads gzip and plain files alike (it looks at the content), so
 * one path serves both.  The header is checked (magic, type, ndims, sizes) and
 * the file must hold exactly the bytes the header promises: a short or an
 * over-long file is a format error naming the file and both lengths. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cgrad/fileio.h"

#include "cgrad/image.h"

/* Reads up to n bytes (n may exceed gzread's unsigned limit); returns bytes
 * read, or -1 on a zlib error. */
static int64_t read_fully(gzFile f, void *dst, int64_t n) {
    int64_t done = 0;
    while (done < n) {
        int64_t want = n - done;
        unsigned chunk = want > (1 << 30) ? (1u << 30) : (unsigned)want;
        int got = gzread(f, (char *)dst + done, chunk);
        if (got < 0) return -1;
        if (got == 0) break;
        done += got;
    }
    return done;
}

static const char *gz_reason(gzFile f) {
    int code;
    const char *msg = gzerror(f, &code);
    return code == Z_ERRNO ? strerror(errno) : msg;
}

/* Deflate expands at most 1032:1 (zlib's technical details), so a gzip file
 * of N bytes holds at most this many; a plain file holds exactly N. */
#define GZIP_MAX_RATIO 1032

/* Reads header and data from an open file of file_size bytes (gzip or not);
 * the tensor it makes is owned by the scope the caller opened, so every
 * failure just returns NULL. */
static cg_tensor *read_idx(gzFile f, const char *path, uint64_t file_size, bool gzipped) {
    uint8_t magic[4];
    int64_t got = read_fully(f, magic, 4);
    if (got < 0) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: %s", path, gz_reason(f));
        return NULL;
    }
    if (got < 4) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: file length %lld bytes, shorter than the 4-byte magic",
                path, (long long)got);
        return NULL;
    }
    uint32_t magic_value = (uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 | (uint32_t)magic[2] << 8 | magic[3];
    if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > CG_MAX_DIMS) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: bad magic 0x%08x (expected 0x000008NN, NN = 1..%d dims)",
                path, magic_value, CG_MAX_DIMS);
        return NULL;
    }
    if (magic[2] != 0x08) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: magic 0x%08x has element type 0x%02x; only 0x08 (unsigned byte) is supported",
                path, magic_value, magic[2]);
        return NULL;
    }
    int ndim = magic[3];
    uint8_t sizes[4 * CG_MAX_DIMS];
    int64_t header_bytes = 4 + 4 * (int64_t)ndim;
    got = read_fully(f, sizes, 4 * (int64_t)ndim);
    if (got < 0) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: %s", path, gz_reason(f));
        return NULL;
    }
    if (got < 4 * ndim) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: file length %lld bytes, shorter than its %lld-byte header",
                path, (long long)(4 + got), (long long)header_bytes);
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS];
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        const uint8_t *s = sizes + 4 * d;
        shape[d] = (int64_t)((uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3]);
        if (shape[d] > 0 && numel > INT64_MAX / 2 / shape[d]) {
            cg_fail(CG_ERR_FORMAT, "idx: %s: sizes in the header overflow", path);
            return NULL;
        }
        numel *= shape[d];
    }
    /* The header's sizes are checked against what the file can hold before
     * anything is allocated: a 16-byte file may not ask for 2^32 x 2^32 bytes. */
    uint64_t plain_data = file_size > (uint64_t)header_bytes ? file_size - (uint64_t)header_bytes : 0;
    uint64_t can_hold = !gzipped ? plain_data
                        : file_size > UINT64_MAX / GZIP_MAX_RATIO ? UINT64_MAX : file_size * GZIP_MAX_RATIO;
    if ((uint64_t)numel > can_hold) {
        char dims[CG_MAX_DIMS * 24] = "";
        size_t used = 0;
        for (int d = 0; d < ndim && used < sizeof dims; d++)
            used += (size_t)snprintf(dims + used, sizeof dims - used, d ? ", %lld" : "%lld", (long long)shape[d]);
        if (!gzipped)
            cg_fail(CG_ERR_FORMAT, "idx: %s: file length %llu bytes, header [%s] says %lld", path,
                    (unsigned long long)file_size, dims, (long long)(header_bytes + numel));
        else
            cg_fail(CG_ERR_FORMAT,
                    "idx: %s: header [%s] needs %lld data bytes, more than the %llu-byte gzip file can hold (%llu)",
                    path, dims, (long long)numel, (unsigned long long)file_size, (unsigned long long)can_hold);
        return NULL;
    }
    cg_tensor *t = cg_empty(CG_UINT8, ndim, shape);
    if (!t) return NULL;
    char shape_buf[64];
    cg_shape_str(t, shape_buf, sizeof shape_buf);
    got = read_fully(f, cg_data(t), numel);
    if (got < 0) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: %s", path, gz_reason(f));
        return NULL;
    }
    if (got < numel) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: file length %lld bytes, header %s says %lld",
                path, (long long)(header_bytes + got), shape_buf, (long long)(header_bytes + numel));
        return NULL;
    }
    /* Anything after the data means the header does not describe the file. */
    char extra[4096];
    int64_t more = 0, n;
    while ((n = read_fully(f, extra, sizeof extra)) > 0) more += n;
    if (n < 0) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: %s", path, gz_reason(f));
        return NULL;
    }
    /* A gzip stream cut after its data (CRC and length trailer missing) reads
     * to the end with only a note, "unexpected end of file": its CRC was never
     * checked, so its bytes can't be trusted. */
    int zcode;
    const char *zmsg = gzerror(f, &zcode);
    if (zcode == Z_BUF_ERROR) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: truncated gzip file (%s)", path, zmsg);
        return NULL;
    }
    if (more > 0) {
        cg_fail(CG_ERR_FORMAT, "idx: %s: file length %lld bytes, header %s says %lld",
                path, (long long)(header_bytes + numel + more), shape_buf, (long long)(header_bytes + numel));
        return NULL;
    }
    return t;
}

cg_tensor *cg_idx_read(const char *path) {
    if (!path) {
        cg_fail(CG_ERR_VALUE, "idx: NULL path");
        return NULL;
    }
    /* Our own non-blocking open and regular-file check (a FIFO or /dev/zero
     * is refused), then zlib on that descriptor. */
    int fd;
    uint64_t file_size;
    if (cg_open_regular(path, "idx", &fd, &file_size)) return NULL;
    unsigned char magic[2] = {0, 0};
    bool gzipped = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    errno = 0;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        cg_fail(CG_ERR_NOMEM, "idx: %s: out of memory", path);
        return NULL;
    }
    gzbuffer(f, 1 << 17);
    cg_scope_begin();
    cg_tensor *t = read_idx(f, path, file_size, gzipped);
    if (t) cg_keep(t);
    cg_scope_end();
    gzclose(f);
    return t;
}
