/* cgrad/datasets.h — getting a dataset onto disk, like fastai's untar_data.
 *
 * The chapter starts with
 *
 *     path = untar_data(URLs.MNIST_SAMPLE)
 *
 * and in cgrad that is
 *
 *     char path[4096];
 *     if (cg_dataset_get("mnist_sample", NULL, path, sizeof path) != CG_OK)
 *         fprintf(stderr, "%s\n", cg_last_error());
 *     // path = "/home/you/.cgrad/data/mnist_sample", holding train/3, train/7,
 *     // valid/3, valid/7 and labels.csv
 *
 * The first call fetches, verifies and unpacks; every later call checks the
 * cached copy against what its marker recorded (a stat per file: about 20 ms
 * of CPU for mnist_sample's 14435 files) and returns.  A copy that fails the
 * check is reported (CG_GET_REPAIR, saying what is missing) and got again.
 *
 * KNOWN DATASETS (cg_dataset_find / `cgrad data list --known`)
 *   mnist_sample  fastai's 3s and 7s: s3.amazonaws.com/fast-ai-sample/mnist_sample.tgz
 *                 -> train/{3,7}, valid/{3,7} (6131, 6265, 1010, 1028 PNGs), labels.csv
 *   mnist         the four canonical IDX files, gzipped, from
 *                 ossci-datasets.s3.amazonaws.com/mnist/ (kept as .gz; loaders
 *                 read them with zlib) -> train-images-idx3-ubyte.gz, ...
 *   mnist_png     fastai's full MNIST as PNGs: s3.amazonaws.com/fast-ai-imageclas/mnist_png.tgz
 *                 -> training/0..9 (60000 PNGs), testing/0..9 (10000 PNGs)
 * A NAME containing "://" is taken as an archive URL, as fastai's
 * untar_data(url) does: the dataset is called after the file name without its
 * extension (".../tiny.tgz" -> "tiny"); with no published checksum or
 * structure to check, only trust on first use protects it (see below).
 * A registered name is filled only from its registered source, held to its
 * published checksum: a URL whose file would give a registered name (or a
 * registered archive's file name) makes a dataset of its own, named
 * <name>-<first 8 hex digits of the URL's sha256>
 * (".../mnist_sample.tgz" -> e.g. "mnist_sample-1f0c9a2e"), with its own archive in
 * <home>/archive; it never replaces or removes the registered one, with force
 * or not.
 *
 * WHAT IS VERIFIED, PLAINLY
 *   - mnist: the md5 of each .gz against the values published with the files
 *     (f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...): any wrong byte is
 *     CG_ERR_CHECKSUM and nothing is cached.
 *   - mnist_sample.tgz, mnist_png.tgz, when fetched as archives: their size
 *     and md5 as fastai publishes them in fastai/data/checks.txt (the table its
 *     own untar_data checks): mnist_sample.tgz 3214948 bytes, md5 2dbc7ec6...;
 *     mnist_png.tgz 15683414 bytes, md5 03639f83....  We could not download
 *     them here (no internet) to confirm those values ourselves.
 *   - mnist_sample, mnist_png, always (also from a folder mirror, where there is
 *     no archive to hash): the structure after extraction, i.e. the exact
 *     number of PNGs in each class folder (MNIST's own label counts) and, for
 *     mnist_sample, that labels.csv has 14434 rows.  A folder mirror's PNG
 *     bytes are not hashed: no published per-file checksums exist.
 *   - every archive: its sha256 is recorded in the cache when it first gives a
 *     good dataset (<home>/archive/<file>.sha256 and the dataset's marker); a
 *     later fetch of the same file name that hashes differently is refused
 *     with CG_ERR_CHECKSUM (trust on first use).  For an archive URL of your
 *     own this is the only content check there is.  (Where a published md5
 *     exists, it decides, and the record is rewritten to match.)
 *   - every cached dataset, on every get: its marker is intact (it ends with
 *     the sha256 of its own fields, so one cut short or edited is damaged),
 *     was written by this version (older markers list no files: such a copy
 *     is got again), names this dataset and, for a registered name, the
 *     registry as its origin; its file list (.cgrad-manifest, whose sha256
 *     the marker holds) matches it; and every file listed is there with the
 *     size it had.  That finds deleted, truncated and replaced files, not a
 *     same-sized change inside a file (hashing 14435 files on every get would
 *     read the whole dataset each time); files added beside them are ignored.
 *     Anything else is not cached: the get says what is wrong and gets it
 *     again ("mnist_sample: 2849 of 14435 files missing (first:
 *     train/7/10002.png); re-getting").
 *
 * WHERE THINGS GO
 *   home    = opt->home, else $CGRAD_HOME, else $HOME/.cgrad (fastai uses
 *             ~/.fastai; one folder that is easy to find and delete beats
 *             spreading over XDG dirs).
 *   <home>/data/<name>/      the extracted dataset (what path_out names)
 *   <home>/archive/<file>    downloaded archives, kept like fastai's, so a
 *                            re-extract does not download again (an archive
 *                            in a local-folder mirror is read in place instead)
 *   <home>/archive/<file>.sha256   its sha256, once it gave a good dataset
 *   <home>/data/<name>/.cgrad-complete   the completion marker (see below)
 *   <home>/data/<name>/.cgrad-manifest   every file's path and size, as got
 *   (formats: src/data/dataset_cache.c)
 *
 * MIRRORS: opt->mirror, else $CGRAD_MIRROR ("" means none: use the URLs).
 * A mirror is a local folder, a file:// URL or an http(s):// URL prefix.  For
 * each dataset it holds EITHER its files named as in their URLs
 * (<mirror>/mnist_sample.tgz, <mirror>/t10k-labels-idx1-ubyte.gz, ...) OR a
 * folder named after the dataset with the extracted files (<mirror>/mnist/,
 * <mirror>/mnist_sample/; local or file:// mirrors only, since http cannot list
 * a folder).  A folder is preferred when both exist.  A set mirror is
 * authoritative: a dataset it does not hold is an error naming what was looked
 * for, not a silent fallback to the internet.  A folder mirror is COPIED into
 * the cache (into a temp folder, verified, then renamed), not used in place:
 * the cache then never depends on a mirror that may be unmounted or changed,
 * and every caller sees the same <home>/data/<name> whatever the source.
 * Tests and CI use exactly this path, with CGRAD_MIRROR=/work/shared/data.
 *
 * ATOMICITY: everything is built in a temp folder beside the final one
 * (<home>/data/.<name>.tmp.<pid>.<n>), verified, then the file list and the
 * marker are written in it (atomically, the marker last), and the folder is
 * renamed to <home>/data/<name>.  A
 * partial download, a wrong checksum, a corrupt archive, a failed check or a
 * cancel removes the temp folder and leaves the cache exactly as it was: with
 * force=true, an older complete copy stays in place until the new one is ready.
 * A folder without the marker is never taken as complete.  Concurrent gets of
 * the same dataset (two tests, two processes) are serialised by a lock file
 * (<home>/data/.<name>.lock, flock, holding the holder's pid and deleted as it
 * unlocks), so the second waits and finds it done.
 *
 * LEFTOVERS: every get (and rm) first removes what processes that are no
 * longer running left in <home>/data and <home>/archive: temp files
 * (<file>.tmp.<pid>.<n>) and folders (.<name>.tmp.<pid>.<n>, .<name>.old.<pid>.<n>)
 * whose pid is dead (kill(pid, 0) fails with ESRCH), and lock files no one
 * holds whose recorded pid is dead or that record none (older cgrad).  Each
 * removal is reported (CG_GET_CLEAN); what a live process owns is kept.  A
 * temp folder of a dataset whose lock is held is kept too, and a get that
 * holds a dataset's lock removes that dataset's own temp folders whatever
 * their pid, since only a lock holder makes them.
 *
 * ARCHIVES are read with libarchive (tar, tar.gz, zip, ...).  Only regular
 * files and folders are extracted; absolute paths, ".." components, links and
 * devices are refused (CG_ERR_FORMAT), so an archive cannot write outside its
 * folder.  When the archive holds one top folder (mnist_sample.tgz holds
 * mnist_sample/), that folder becomes <home>/data/<name>, as with fastai.
 *
 * DOWNLOADS use libcurl: redirects followed, a connect timeout, a stall
 * timeout (less than 1 KiB/s for `stall_timeout_s`), and up to `max_tries`
 * attempts with exponential backoff (retry_delay_ms, 2x, 4x, ...) on errors
 * that may pass (timeouts, resets, HTTP 5xx and 429); 404 and friends fail at
 * once.  The library prints nothing: progress reaches the caller through
 * opt->progress, which may also cancel (CG_ERR_CANCELLED). */
#ifndef CGRAD_DATASETS_H
#define CGRAD_DATASETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- progress ------------------------------------------------------------ */

typedef enum cg_get_stage {
    CG_GET_DOWNLOAD, /* bytes of `item` fetched over libcurl (done/total bytes; total 0 if unknown) */
    CG_GET_COPY,     /* files copied from a folder mirror (done/total files) */
    CG_GET_EXTRACT,  /* archive bytes read (done/total compressed bytes) */
    CG_GET_VERIFY,   /* files checked (done/total files) */
    CG_GET_RETRY,    /* a download failed and will be retried: see message */
    CG_GET_CLEAN,    /* a leftover of a process no longer running was removed: item is its
                      * path, message says what it was and whose */
    CG_GET_REPAIR,   /* the cached copy failed its check and is fetched again: message says
                      * what is wrong ("mnist_sample: 2849 of 14435 files missing (first:
                      * train/7/10002.png); re-getting") */
    CG_GET_STAGE_COUNT
} cg_get_stage;

typedef struct cg_get_progress {
    const char *dataset; /* "mnist_sample" */
    cg_get_stage stage;
    const char *item;    /* the file being fetched/extracted/checked, or NULL */
    uint64_t done, total;
    int attempt;         /* 1-based download attempt */
    const char *message; /* CG_GET_RETRY: why, and how long until the next try;
                          * CG_GET_CLEAN, CG_GET_REPAIR: what happened (a full sentence) */
} cg_get_progress;

/* Called often (at most every few ms per stage, and always at 0 and at the
 * end of a stage).  Return 0 to go on, non-zero to cancel: the get stops,
 * cleans up, and returns CG_ERR_CANCELLED. */
typedef int (*cg_get_progress_fn)(const cg_get_progress *p, void *user);

/* ---- options --------------------------------------------------------------
 * A zeroed struct (or NULL) means every default. */
typedef struct cg_get_options {
    const char *home;     /* NULL: $CGRAD_HOME, else $HOME/.cgrad */
    const char *mirror;   /* NULL: $CGRAD_MIRROR; "": no mirror */
    bool force;           /* fetch again even if cached (the old copy stays until the new one is good) */
    int max_tries;        /* download attempts; 0: 4 */
    int retry_delay_ms;   /* first backoff; doubles each retry; 0: 1000 */
    long connect_timeout_s; /* 0: 30 */
    long stall_timeout_s;   /* abort a transfer slower than 1 KiB/s for this long; 0: 60 */
    cg_get_progress_fn progress; /* NULL: silent */
    void *progress_user;
} cg_get_options;

/* ---- getting ------------------------------------------------------------- */

/* Makes dataset `name` (a known name, or an archive URL) present and complete
 * in the cache and writes its folder to path_out (n bytes).  Errors:
 * CG_ERR_VALUE (unknown name, bad option), CG_ERR_IO (disk, missing mirror file),
 * CG_ERR_NETWORK, CG_ERR_CHECKSUM, CG_ERR_FORMAT (corrupt archive, wrong
 * structure), CG_ERR_CANCELLED. */
cg_status cg_dataset_get(const char *name, const cg_get_options *opt, char *path_out, size_t n);

/* fastai's spelling: cg_dataset_get with every default. */
cg_status cg_untar_data(const char *name, char *path_out, size_t n);

/* The resolved cgrad home (see WHERE THINGS GO). */
cg_status cg_data_home(const cg_get_options *opt, char *path_out, size_t n);

/* Deletes a cached dataset (and its downloaded archives).  Absent is fine. */
cg_status cg_dataset_remove(const char *name, const cg_get_options *opt);

/* ---- the registry of known datasets --------------------------------------- */

typedef struct cg_dataset_file {
    const char *url;  /* where it is fetched from; its basename is its mirror name */
    const char *md5;  /* lowercase hex, or NULL where no published checksum exists */
    bool is_archive;  /* extracted (tgz) vs placed as is (mnist's .gz) */
    int64_t bytes;    /* the published size, or 0 where unknown */
} cg_dataset_file;

typedef struct cg_dataset_count {
    const char *folder; /* relative to the dataset root: "train/3" */
    const char *suffix; /* files counted: ".png" */
    int64_t count;      /* exactly this many */
} cg_dataset_count;

typedef struct cg_dataset_info {
    const char *name;
    const char *description;
    const cg_dataset_file *files;   int n_files;
    const cg_dataset_count *counts; int n_counts;
    const char *csv;       /* a CSV file that must exist (with a header line), or NULL */
    int64_t csv_rows;      /* its data rows, header excluded */
} cg_dataset_info;

int cg_dataset_count_known(void);
const cg_dataset_info *cg_dataset_at(int i);
/* NULL (with CG_ERR_VALUE listing the known names) when unknown. */
const cg_dataset_info *cg_dataset_find(const char *name);

/* ---- what is cached ------------------------------------------------------ */

typedef struct cg_cached_dataset {
    char name[128];
    char path[4096];
    uint64_t bytes;       /* sum of the file sizes */
    uint64_t files;       /* regular files, the marker and the file list excluded */
    char source[4096];    /* where it came from (URL, mirror file or folder) */
    char sha256[65];      /* of the archive it came from; "" for plain files */
} cg_cached_dataset;

/* Lists the complete datasets under <home>/data (those with an intact marker;
 * one that is damaged is left out, as not cached), in name order, into a new
 * malloc'd array the caller frees.  Reads the markers only (a get checks the
 * files), so it is fast even for 70000 files. */
cg_status cg_dataset_list_cached(const cg_get_options *opt, cg_cached_dataset **out, int *n);

/* ---- checksums (OpenSSL EVP) --------------------------------------------- */

/* Hex digest of a file: algo "md5" or "sha256"; hex_out needs 33 / 65 bytes. */
cg_status cg_file_digest(const char *path, const char *algo, char *hex_out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
