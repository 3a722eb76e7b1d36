/* Private to src/data/{dataset_get,dataset_cache,dataset_leftovers,download,checksum,archive}.c: the pieces that
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
/* A one-off event with a message (CG_GET_RETRY, CG_GET_CLEAN, CG_GET_REPAIR),
 * never throttled. */
cg_status cg_fetch_report_message(cg_fetch_ctx *ctx, cg_get_stage stage, const char *item, const char *message);
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

/* ---- the completion marker and the file list (dataset_cache.c) -------------------- */

/* <dataset>/.cgrad-complete: written last, atomically, into the temp folder
 * before it is renamed into place.  A folder without it is not a dataset.
 * <dataset>/.cgrad-manifest: every file's path and size, written just before
 * it; the marker records its sha256.  Formats: dataset_cache.c. */
#define CG_MARKER_NAME ".cgrad-complete"
#define CG_MANIFEST_NAME ".cgrad-manifest"
/* The marker's origin for a dataset of the registry (datasets.c); an ad-hoc
 * dataset's origin is its archive URL. */
#define CG_ORIGIN_REGISTRY "registry"

typedef struct cg_marker {
    int version;              /* 1: written before file lists existed; 2: now */
    char name[128];
    char origin[4096];        /* CG_ORIGIN_REGISTRY, or the ad-hoc archive URL ("" in version 1) */
    char source[4096];        /* where the bytes came from: URL, mirror file or folder */
    char sha256[65];          /* of the archive, or "" */
    char manifest_sha256[65]; /* of .cgrad-manifest (version 2) */
    uint64_t files, bytes;    /* totals, marker and manifest excluded */
} cg_marker;

/* Lists every file below `root` into its manifest, then writes the marker for
 * dataset `name` (both atomically, the marker last). */
cg_status cg_marker_write(cg_fetch_ctx *ctx, const char *root, const char *name, const char *origin,
                          const char *source, const char *sha256);
/* Reads and checks <dir>/.cgrad-complete: CG_ERR_IO when it cannot be read,
 * CG_ERR_FORMAT (naming what) when it is not a marker, cut short or edited. */
cg_status cg_marker_load(const char *dir, cg_marker *m);
/* The same, as `cgrad data list` shows it (name, path = dir, files, bytes, source, sha256). */
cg_status cg_marker_read(const char *dir, cg_cached_dataset *out);
bool cg_marker_exists(const char *dir);

typedef enum cg_cache_state {
    CG_CACHE_ABSENT, /* no folder: never fetched, or removed */
    CG_CACHE_GOOD,   /* marker intact, every listed file there with its recorded size */
    CG_CACHE_BROKEN  /* anything else; why[] says what, e.g. "mnist_sample: 2849 of 14435
                      * files missing (first: train/7/10002.png)" */
} cg_cache_state;

/* Checks the cached copy at `dir` of dataset `name` against its marker and
 * manifest; `origin` (NULL: any) is what its marker must record.  Reports
 * nothing and never fails: an unreadable copy is BROKEN, with the reason. */
cg_cache_state cg_cache_check(const char *dir, const char *name, const char *origin, char *why, size_t n);

/* ---- leftovers of dead processes, and the dataset lock (dataset_leftovers.c) ------- */

/* Removes what processes that are no longer running left in <home>/data and
 * <home>/archive: temp files and folders (*.tmp.<pid>.<n>, .<name>.old.<pid>.<n>)
 * whose pid is dead, and lock files that no one holds whose recorded pid is
 * dead (or that record none).  Reports each removal (CG_GET_CLEAN); keeps
 * what a live process owns.  CG_ERR_CANCELLED if the callback says stop. */
cg_status cg_leftovers_sweep(cg_fetch_ctx *ctx, const char *data_dir, const char *archive_dir);

/* With dataset `name`'s lock held: removes its temp and old folders and the
 * temp files of its archives (`archives`, n of them, names in archive_dir),
 * whoever made them: only the lock holder makes those, so none is in use. */
cg_status cg_leftovers_remove_own(cg_fetch_ctx *ctx, const char *data_dir, const char *name,
                                  const char *archive_dir, const char *const *archives, int n);

/* True for a name of the form <stem>.tmp.<pid>.<n> or <stem>.old.<pid>.<n>,
 * which the sweep takes for a leftover: no dataset or archive may be named so. */
bool cg_is_temp_name(const char *name);

/* <data_dir>/.<name>.lock, held with flock and holding its holder's pid. */
typedef struct cg_dataset_lock {
    int fd;
    char path[4096];
} cg_dataset_lock;

/* Waits for and takes the lock.  The file is deleted by cg_dataset_unlock, so
 * none stays behind; a waiter that then holds a deleted file takes the new one. */
cg_status cg_dataset_lock_take(const char *data_dir, const char *name, cg_dataset_lock *lock);
void cg_dataset_unlock(cg_dataset_lock *lock);

#endif
