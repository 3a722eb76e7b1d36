/* cgrad/fileio.h — files that are either wholly written or not there at all.
 *
 * Every file cgrad writes (weights, checkpoints, plots, reports, downloaded
 * archives, a dataset's completion marker) goes through this API, so a crash,
 * a full disk or a Ctrl-C never leaves a half-written file under the final
 * name that a later run would take for a good one.
 *
 * How: the bytes go to a temp file in the SAME directory as the target
 * (`<path>.tmp.<pid>.<n>`, so rename never crosses a filesystem), then
 * fflush + fsync, rename over the target, and fsync of the directory so the
 * rename itself survives a power cut.  Until the commit, readers see the old
 * file (or none); after it, the new one.  Nothing in between.
 *
 * Streaming (a file too big, or too incremental, to build in memory):
 *
 *     cg_atomic_file *f = cg_atomic_open("model.cgw");
 *     if (!f) return cg_last_status();
 *     if (cg_atomic_write(f, header, sizeof header) != CG_OK ||
 *         cg_atomic_printf(f, "%d\n", n) != CG_OK) {
 *         cg_atomic_abort(f);              // model.cgw untouched, temp removed
 *         return cg_last_status();
 *     }
 *     return cg_atomic_commit(f);          // model.cgw replaced in one step
 *
 * One shot:   cg_atomic_write_file("labels.txt", buf, len);
 *
 * cg_atomic_commit and cg_atomic_abort both free the handle, whatever they
 * return; a failed write makes the later commit fail too (the temp file is
 * removed and the target is left as it was), so callers may check only the
 * commit's status if they like.
 *
 * New files get mode 0666 & ~umask, like fopen(path, "w").
 * Errors: CG_ERR_IO with the path and strerror(errno) in cg_last_error(). */
#ifndef CGRAD_FILEIO_H
#define CGRAD_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_atomic_file cg_atomic_file;

/* Starts writing `path` atomically: creates the temp file beside it.  The
 * directory must exist (see cg_mkdirs).  NULL on failure. */
cg_atomic_file *cg_atomic_open(const char *path);
/* Appends `len` bytes. */
cg_status cg_atomic_write(cg_atomic_file *f, const void *data, size_t len);
/* Appends formatted text. */
cg_status cg_atomic_printf(cg_atomic_file *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The stdio stream of the temp file, for libraries that want a FILE* (libpng's
 * png_init_io, fwrite).  Do not fclose it; an error on it is seen at commit. */
FILE *cg_atomic_stream(cg_atomic_file *f);
/* Bytes written so far. */
size_t cg_atomic_size(const cg_atomic_file *f);
/* The final path this handle will write. */
const char *cg_atomic_path(const cg_atomic_file *f);
/* Flushes, fsyncs, renames over the target, fsyncs the directory, frees f. */
cg_status cg_atomic_commit(cg_atomic_file *f);
/* Removes the temp file and frees f; the target is left as it was.  NULL is a no-op. */
void cg_atomic_abort(cg_atomic_file *f);

/* Writes `len` bytes to `path` atomically in one call. */
cg_status cg_atomic_write_file(const char *path, const void *data, size_t len);

/* Reads a whole file into a new malloc'd buffer (NUL-terminated one byte past
 * *len, so text can be used as a C string).  The caller frees *data. */
cg_status cg_read_file(const char *path, void **data, size_t *len);

/* ---- reading files that may not be what they say (src/data/file_read.c) ---
 * Every reader opens named files through these.  The open never blocks
 * (O_NONBLOCK, so a FIFO does not wait for a writer), the descriptor is
 * fstat'ed, and anything but a regular file (a FIFO, a device such as
 * /dev/zero, a directory, a socket) is refused: CG_ERR_IO, "WHAT: PATH: is a
 * FIFO (named pipe), not a regular file".  Reads stop at max_bytes (what the
 * format allows; a larger file is CG_ERR_FORMAT) and at the size fstat gave.
 * `what` prefixes messages ("png", "idx"; NULL for none). */
/* An open descriptor (O_CLOEXEC, blocking again) of a regular file and its
 * size; the caller closes *fd. */
cg_status cg_open_regular(const char *path, const char *what, int *fd, uint64_t *size);
/* The whole file in a new malloc'd buffer, NUL-terminated one past *len. */
cg_status cg_read_file_bounded(const char *path, const char *what, size_t max_bytes, void **data,
                               size_t *len);
/* The same without cg_fail, for worker threads (cg_last_error is per thread):
 * the status is returned and the reason written into msg (without the path). */
cg_status cg_open_regular_msg(const char *path, int *fd, uint64_t *size, char *msg, size_t msg_size);
cg_status cg_read_fd_msg(int fd, uint64_t file_size, size_t max_bytes, void **data, size_t *len,
                         char *msg, size_t msg_size);
cg_status cg_read_file_bounded_msg(const char *path, size_t max_bytes, void **data, size_t *len,
                                   char *msg, size_t msg_size);

/* mkdir -p: creates `path` and any missing parents (mode 0777 & ~umask).
 * An existing directory is fine; an existing non-directory is CG_ERR_IO. */
cg_status cg_mkdirs(const char *path);
/* rm -rf for a tree cgrad made: removes files and directories below `path`
 * and `path` itself, without following symlinks.  A missing path is fine. */
cg_status cg_remove_tree(const char *path);
/* fsyncs a directory, so renames and creations in it are durable. */
cg_status cg_fsync_dir(const char *dir);

#ifdef __cplusplus
}
#endif
#endif
