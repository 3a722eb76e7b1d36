/* Atomic file writing, whole-file reading and directory helpers: see
 * include/cgrad/fileio.h.  The one rule: write a temp file beside the target,
 * fsync it, rename it over the target, fsync the directory. */
#include "cgrad/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct cg_atomic_file {
    char *path;     /* the target */
    char *tmp_path; /* <path>.tmp.<pid>.<n>, same directory */
    FILE *stream;
    size_t size;
    bool failed;    /* a write failed: commit must not publish */
};

/* Distinguishes temp files of several threads of one process writing the same target. */
static atomic_uint temp_counter;

/* The directory part of `path` ("." when it has none), in a new string. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t len = (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (!dir) return NULL;
    memcpy(dir, path, len);
    dir[len] = '\0';
    return dir;
}

cg_status cg_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return cg_fail(CG_ERR_IO, "%s: cannot open directory to sync: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* Some filesystems (tmpfs on old kernels, some FUSE) refuse fsync on a directory:
     * the rename is still done, so that is not a failure of ours. */
    if (rc != 0 && err != EINVAL && err != ENOTSUP)
        return cg_fail(CG_ERR_IO, "%s: fsync of directory failed: %s", dir, strerror(err));
    return CG_OK;
}

cg_atomic_file *cg_atomic_open(const char *path) {
    if (!path || !*path) {
        cg_fail(CG_ERR_VALUE, "atomic open: empty path");
        return NULL;
    }
    cg_atomic_file *f = calloc(1, sizeof *f);
    size_t tmp_len = strlen(path) + 64;
    if (!f || !(f->path = strdup(path)) || !(f->tmp_path = malloc(tmp_len))) {
        if (f) free(f->path);
        free(f);
        cg_fail(CG_ERR_NOMEM, "%s: out of memory opening for atomic write", path);
        return NULL;
    }
    /* O_EXCL: never write into a temp file some other writer is using. */
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(f->tmp_path, tmp_len, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&temp_counter, 1u));
        fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0 || !(f->stream = fdopen(fd, "wb"))) {
        cg_fail(CG_ERR_IO, "%s: cannot create temp file %s: %s", path, f->tmp_path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(f->tmp_path);
        }
        free(f->tmp_path);
        free(f->path);
        free(f);
        return NULL;
    }
    return f;
}

cg_status cg_atomic_write(cg_atomic_file *f, const void *data, size_t len) {
    if (!f) return cg_fail(CG_ERR_VALUE, "atomic write: NULL handle");
    if (f->failed) return cg_fail(CG_ERR_IO, "%s: an earlier write failed", f->path);
    if (len && fwrite(data, 1, len, f->stream) != len) {
        f->failed = true;
        return cg_fail(CG_ERR_IO, "%s: write failed after %zu bytes: %s", f->path, f->size, strerror(errno));
    }
    f->size += len;
    return CG_OK;
}

cg_status cg_atomic_printf(cg_atomic_file *f, const char *fmt, ...) {
    if (!f) return cg_fail(CG_ERR_VALUE, "atomic printf: NULL handle");
    if (f->failed) return cg_fail(CG_ERR_IO, "%s: an earlier write failed", f->path);
    va_list ap;
    va_start(ap, fmt);
    int written = vfprintf(f->stream, fmt, ap);
    va_end(ap);
    if (written < 0) {
        f->failed = true;
        return cg_fail(CG_ERR_IO, "%s: write failed after %zu bytes: %s", f->path, f->size, strerror(errno));
    }
    f->size += (size_t)written;
    return CG_OK;
}

FILE *cg_atomic_stream(cg_atomic_file *f) { return f ? f->stream : NULL; }
size_t cg_atomic_size(const cg_atomic_file *f) { return f ? f->size : 0; }
const char *cg_atomic_path(const cg_atomic_file *f) { return f ? f->path : NULL; }

static void atomic_free(cg_atomic_file *f) {
    free(f->tmp_path);
    free(f->path);
    free(f);
}

void cg_atomic_abort(cg_atomic_file *f) {
    if (!f) return;
    if (f->stream) fclose(f->stream);
    unlink(f->tmp_path);
    atomic_free(f);
}

cg_status cg_atomic_commit(cg_atomic_file *f) {
    if (!f) return cg_fail(CG_ERR_VALUE, "atomic commit: NULL handle");
    cg_status st = CG_OK;
    if (f->failed) {
        st = cg_fail(CG_ERR_IO, "%s: not written, an earlier write failed", f->path);
    } else if (fflush(f->stream) != 0 || ferror(f->stream)) {
        st = cg_fail(CG_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    } else if (fsync(fileno(f->stream)) != 0) {
        st = cg_fail(CG_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
    }
    int close_rc = fclose(f->stream);
    f->stream = NULL;
    if (st == CG_OK && close_rc != 0)
        st = cg_fail(CG_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
    if (st == CG_OK && rename(f->tmp_path, f->path) != 0)
        st = cg_fail(CG_ERR_IO, "%s: cannot rename %s over it: %s", f->path, f->tmp_path, strerror(errno));
    if (st != CG_OK) {
        unlink(f->tmp_path);
        atomic_free(f);
        return st;
    }
    char *dir = dir_of(f->path);
    if (dir) st = cg_fsync_dir(dir);
    free(dir);
    atomic_free(f);
    return st;
}

cg_status cg_atomic_write_file(const char *path, const void *data, size_t len) {
    cg_atomic_file *f = cg_atomic_open(path);
    if (!f) return cg_last_status();
    if (cg_atomic_write(f, data, len) != CG_OK) {
        cg_status st = cg_last_status();
        cg_atomic_abort(f);
        return st;
    }
    return cg_atomic_commit(f);
}

cg_status cg_read_file(const char *path, void **data, size_t *len) {
    /* Regular files only (a FIFO or /dev/zero is refused, not waited on or
     * read forever): the shared open-and-check of data/file_read.c. */
    return cg_read_file_bounded(path, NULL, (size_t)PTRDIFF_MAX - 1, data, len);
}

cg_status cg_mkdirs(const char *path) {
    if (!path || !*path) return cg_fail(CG_ERR_VALUE, "mkdirs: empty path");
    char *p = strdup(path);
    if (!p) return cg_fail(CG_ERR_NOMEM, "%s: out of memory", path);
    /* Walk the components left to right, creating each; EEXIST is fine as long
     * as what exists is a directory (checked once at the end). */
    for (char *c = p + 1;; c++) {
        if (*c == '/' || *c == '\0') {
            char saved = *c;
            *c = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                cg_status st = cg_fail(CG_ERR_IO, "%s: cannot create directory %s: %s", path, p, strerror(errno));
                free(p);
                return st;
            }
            *c = saved;
            if (saved == '\0') break;
        }
    }
    free(p);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cg_fail(CG_ERR_IO, "%s: exists and is not a directory", path);
    return CG_OK;
}

cg_status cg_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT) return CG_OK;
        return cg_fail(CG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return cg_fail(CG_ERR_IO, "%s: cannot open directory: %s", path, strerror(errno));
        size_t base = strlen(path);
        struct dirent *e;
        cg_status st = CG_OK;
        while (st == CG_OK && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            size_t need = base + strlen(e->d_name) + 2;
            char *child = malloc(need);
            if (!child) {
                st = cg_fail(CG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            snprintf(child, need, "%s/%s", path, e->d_name);
            st = cg_remove_tree(child);
            free(child);
        }
        closedir(d);
        if (st != CG_OK) return st;
        if (rmdir(path) != 0) return cg_fail(CG_ERR_IO, "%s: cannot remove directory: %s", path, strerror(errno));
        return CG_OK;
    }
    if (unlink(path) != 0) return cg_fail(CG_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return CG_OK;
}
