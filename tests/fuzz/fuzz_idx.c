/* Fuzz target: the IDX reader (src/data/idx.c), raw and gzip-compressed.
 *
 * Input: one mode byte, then the file.  Mode bit 0 clear: the file is the bytes
 * as given (raw IDX, or a gzip stream the fuzzer mutates as it is).  Bit 0 set:
 * the bytes are gzip-compressed here first, so the fuzzer mutates the IDX inside
 * a valid gzip stream and reaches the header checks through zlib.
 *
 * The reader's contract is exact (see image.h): a file is accepted if and only if
 * it is magic 00 00 08 NN (NN = 1..8), NN big-endian uint32 sizes, and exactly
 * prod(sizes) bytes of data.  So this target checks it against that rule worked
 * out independently here, whenever it knows the decompressed bytes (mode 1, or a
 * raw file that zlib will not take for gzip), and checks the tensor's shape and
 * every byte against the input. */
#include "fuzz_support.h" /* first: it defines _GNU_SOURCE */

#include <zlib.h>

static fuzz_memfile file = FUZZ_MEMFILE_INIT;

/* gzip (not zlib) framing: windowBits 15 + 16.  Returns malloc'd bytes. */
static uint8_t *gzip_bytes(const uint8_t *data, size_t size, size_t *out_size) {
    z_stream z;
    memset(&z, 0, sizeof z);
    FUZZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
    size_t cap = deflateBound(&z, (uLong)size) + 32;
    uint8_t *out = malloc(cap);
    FUZZ_CHECK(out, "out of memory");
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
    *out_size = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The format's rule, independently: is idx[0, n) a valid uint8 IDX file?
 * 1 yes, 0 no, -1 either answer is fine: an empty shape whose other sizes
 * multiply past 2^62 ([0, 4294967295, 4294967295]) holds no bytes, but a reader
 * may refuse a shape whose strides would overflow. */
static int idx_is_valid(const uint8_t *idx, size_t n) {
    if (n < 4 || idx[0] != 0 || idx[1] != 0 || idx[2] != 0x08 || idx[3] < 1 || idx[3] > CG_MAX_DIMS)
        return 0;
    size_t header = 4 + 4 * (size_t)idx[3];
    if (n < header) return 0;
    unsigned __int128 nonzero = 1; /* the product of the non-zero sizes, capped past 2^62 */
    int zero = 0;
    for (int d = 0; d < idx[3]; d++) {
        uint32_t s = be32(idx + 4 + 4 * d);
        if (s == 0) zero = 1;
        else if (nonzero <= ((unsigned __int128)1 << 62)) nonzero *= s;
    }
    int huge = nonzero > ((unsigned __int128)1 << 62);
    if (zero) return n != header ? 0 : huge ? -1 : 1;
    return !huge && nonzero == n - header;
}

int fuzz_run(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int wrap = data[0] & 1;
    const uint8_t *idx = data + 1; /* the IDX bytes, when known */
    size_t idx_size = size - 1;
    uint8_t *gz = NULL;
    size_t gz_size = 0;
    if (wrap) gz = gzip_bytes(idx, idx_size, &gz_size);
    const char *path = wrap ? fuzz_memfile_put(&file, gz, gz_size) : fuzz_memfile_put(&file, idx, idx_size);
    /* zlib takes a raw file that starts with the gzip magic for gzip */
    int known = wrap || idx_size < 2 || idx[0] != 0x1f || idx[1] != 0x8b;

    size_t before = fuzz_mem_before();
    cg_clear_error();
    cg_tensor *t = cg_idx_read(path);
    int accepted = t != NULL;
    if (!t) FUZZ_CHECK_MESSAGE("cg_idx_read");
    if (known) {
        int valid = idx_is_valid(idx, idx_size);
        FUZZ_CHECK(valid < 0 || accepted == valid, "the reader %s a file the format %s (%s)",
                   accepted ? "accepts" : "rejects", valid ? "allows" : "forbids",
                   accepted ? "" : cg_last_error());
    }
    if (t) {
        /* empty tensors left out: cg_is_contiguous says false for a fresh [3, 256, 0]
         * (its strides skip zero sizes, the check does not), a core matter */
        FUZZ_CHECK(t->dtype == CG_UINT8 && t->ndim >= 1 && t->ndim <= CG_MAX_DIMS &&
                       (cg_numel(t) == 0 || cg_is_contiguous(t)),
                   "dtype %d ndim %d", (int)t->dtype, t->ndim);
        if (known) {
            FUZZ_CHECK(t->ndim == idx[3], "ndim %d, header says %d", t->ndim, idx[3]);
            for (int d = 0; d < t->ndim; d++)
                FUZZ_CHECK(t->shape[d] == (int64_t)be32(idx + 4 + 4 * d), "dim %d", d);
            size_t header = 4 + 4 * (size_t)t->ndim;
            FUZZ_CHECK((size_t)cg_numel(t) == idx_size - header, "numel %lld", (long long)cg_numel(t));
            FUZZ_CHECK(!cg_numel(t) || !memcmp(cg_data(t), idx + header, idx_size - header),
                       "the tensor's bytes differ from the file's");
        }
        cg_release(t);
    }
    fuzz_mem_after(before);
    free(gz);
    return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_run(data, size);
    return 0;
}
