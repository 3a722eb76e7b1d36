/* Private to src/data/{dataset_get,dataset_cache,download,checksum,archive}.c: the pieces that
 * cg_dataset_get (dataset_get.c) puts together.  Not installed. */
#ifndef CGRAD_DATA_FETCH_INTERNAL_H
#define CGRAD_DATA_FETCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad/datasets.h"

/* ---- progress: forwards to opt->progress, throttled ---------------------- */

typedef struct cg_fetch_ctx {
    const cg_get_options *opt; /* never NULL: defaults filled in */
    const char *dataset;
    double last_report_s;      /* monotonic time of the last report, for throttling */
    cg_get_stage last_stage;
    uint64_t last_done, last_total; /* a report equal to the last one is dropped */
    const char *last_item;
    int attempt;
} cg_fetch_ctx;

/* Reports progress; returns CG_ERR_CANCELLED (message set) when the callback
 * asks to stop, CG_OK otherwise.  Reports at most every 50 ms of a stage,
 * except done == 0 and done == total, which always go through. */
cg_status cg_fetch_report(cg_fetch_ctx *ctx, cg_get_stage stage, const char *item,
                          uint64_t done, uint64_t total);
cg_status cg_fetch_report_retry(cg_fetch_ctx *ctx, const char *item, const char *message);
double cg_fetch_now_s(void);

/* ---- digests (checksum.c) ------------------------------------------------ */

typedef struct cg_digest cg_digest;
cg_digest *cg_digest_new(const char *algo); /* "md5" or "sha256" */
void cg_digest_update(cg_digest *d, const void *data, size_t len);
/* Writes the hex digest and frees d. */
cg_status cg_digest_finish(cg_digest *d, char *hex_out, size_t n);
void cg_digest_free(cg_digest *d);

/* What a fetch or copy produced: digests computed while the bytes streamed. */
typedef struct cg_fetched {
    uint64_t bytes;
    char md5[33];
    char sha256[65];
} cg_fetched;

/* ---- moving bytes (download.c) -------------------------------------------- */

/* Downloads `url` (http, https, file) to `dest` atomically, with retries and
 * backoff per ctx->opt; on failure dest is untouched. */
cg_status cg_fetch_url(cg_fetch_ctx *ctx, const char *url, const char *dest, cg_fetched *out);
/* Copies a local file to `dest` atomically (no progress: the caller reports
 * files done). */
cg_status cg_fetch_copy_file(cg_fetch_ctx *ctx, const char *src, const char *dest, cg_fetched *out);
/* Copies every regular file below src_dir into dest_dir (created if missing),
 * reporting CG_GET_COPY files done/total; no per-file fsync: the caller makes
 * the whole tree durable at once before publishing it. */
cg_status cg_fetch_copy_tree(cg_fetch_ctx *ctx, const char *src_dir, const char *dest_dir);

/* ---- archives (archive.c) ------------------------------------------------- */

/* Extracts every regular file and folder of `archive_path` under `dest_dir`
 * (which must exist and be empty).  Refuses absolute paths, "..", links and
 * special files.  On failure dest_dir may hold a partial tree: the caller owns
 * dest_dir and removes it. */
cg_status cg_extract_archive(cg_fetch_ctx *ctx, const char *archive_path, const char *dest_dir);

/* ---- the completion marker (dataset_cache.c) -------------------------------- */

/* <dataset>/.cgrad-complete: written last, atomically, into the temp folder
 * before it is renamed into place.  A folder without it is not a dataset. */
#define CG_MARKER_NAME ".cgrad-complete"

/* Writes the marker into `root` for dataset `name` (files/bytes from a walk of root). */
cg_status cg_marker_write(cg_fetch_ctx *ctx, const char *root, const char *name, const char *source,
                          const char *sha256);
/* Reads <dir>/.cgrad-complete into out (name, path = dir, files, bytes, source, sha256). */
cg_status cg_marker_read(const char *dir, cg_cached_dataset *out);
bool cg_marker_exists(const char *dir);

#endif
