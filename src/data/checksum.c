/* File digests with OpenSSL's EVP interface: md5 for the published MNIST
 * checksums, sha256 for what we record of archives ourselves.  See
 * cg_file_digest in include/cgrad/datasets.h. */
#include "cgrad/datasets.h"
#include "cgrad/fileio.h"
#include "data/fetch_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

struct cg_digest {
    EVP_MD_CTX *ctx;
    char algo[16];
};

cg_digest *cg_digest_new(const char *algo) {
    const EVP_MD *md = NULL;
    if (algo && !strcmp(algo, "md5")) md = EVP_md5();
    else if (algo && !strcmp(algo, "sha256")) md = EVP_sha256();
    if (!md) {
        cg_fail(CG_ERR_VALUE, "digest: unknown algorithm '%s' (use md5 or sha256)", algo ? algo : "(null)");
        return NULL;
    }
    cg_digest *d = calloc(1, sizeof *d);
    if (!d || !(d->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(d->ctx, md, NULL) != 1) {
        if (d) EVP_MD_CTX_free(d->ctx);
        free(d);
        cg_fail(CG_ERR_NOMEM, "digest: cannot start %s", algo);
        return NULL;
    }
    snprintf(d->algo, sizeof d->algo, "%s", algo);
    return d;
}

void cg_digest_update(cg_digest *d, const void *data, size_t len) {
    if (d && len) EVP_DigestUpdate(d->ctx, data, len);
}

cg_status cg_digest_finish(cg_digest *d, char *hex_out, size_t n) {
    if (!d) return cg_fail(CG_ERR_VALUE, "digest: NULL handle");
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int raw_len = 0;
    int ok = EVP_DigestFinal_ex(d->ctx, raw, &raw_len);
    EVP_MD_CTX_free(d->ctx);
    char algo[16];
    memcpy(algo, d->algo, sizeof algo);
    free(d);
    if (ok != 1) return cg_fail(CG_ERR_VALUE, "digest: %s failed", algo);
    if (n < 2 * (size_t)raw_len + 1)
        return cg_fail(CG_ERR_VALUE, "digest: %s needs %u bytes of output, got %zu", algo, 2 * raw_len + 1, n);
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < raw_len; i++) {
        hex_out[2 * i] = hex[raw[i] >> 4];
        hex_out[2 * i + 1] = hex[raw[i] & 15];
    }
    hex_out[2 * raw_len] = '\0';
    return CG_OK;
}

void cg_digest_free(cg_digest *d) {
    if (!d) return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

cg_status cg_file_digest(const char *path, const char *algo, char *hex_out, size_t n) {
    if (!path || !hex_out) return cg_fail(CG_ERR_VALUE, "digest: NULL argument");
    cg_digest *d = cg_digest_new(algo);
    if (!d) return cg_last_status();
    /* The readers' shared open: a FIFO or /dev/zero is refused, not read forever. */
    int fd;
    if (cg_open_regular(path, NULL, &fd, NULL) != CG_OK) {
        cg_digest_free(d);
        return cg_last_status();
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        cg_digest_free(d);
        return cg_fail(CG_ERR_IO, "%s: cannot open to checksum: %s", path, strerror(errno));
    }
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0) cg_digest_update(d, buf, got);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        cg_digest_free(d);
        return cg_fail(CG_ERR_IO, "%s: read failed while checksumming", path);
    }
    return cg_digest_finish(d, hex_out, n);
}
