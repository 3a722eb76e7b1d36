/* Unpacking a dataset archive with libarchive (tar, tar.gz, tar.xz, zip, ...).
 *
 * We read with libarchive but write the files ourselves instead of using
 * archive_write_disk: the tree is small and plain (folders of PNGs), and
 * writing it by hand makes the safety rules obvious.  Only regular files and
 * folders are accepted; an absolute path, a ".." component, a link or a device
 * is a CG_ERR_FORMAT naming the entry, so no archive can write outside
 * dest_dir.  A corrupt or truncated archive is CG_ERR_FORMAT with libarchive's
 * reason and the entry it was reading. */
#include "data/fetch_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "cgrad/fileio.h"

/* The entry's path with leading "./" and "/"-runs removed, checked to stay
 * inside the destination.  Returns NULL (with an error) when it does not. */
static const char *safe_relative_path(const char *archive_path, const char *name) {
    if (!name || !*name) {
        cg_fail(CG_ERR_FORMAT, "%s: an entry has an empty name", archive_path);
        return NULL;
    }
    if (name[0] == '/') {
        cg_fail(CG_ERR_FORMAT, "%s: entry '%s' has an absolute path; refusing to extract", archive_path, name);
        return NULL;
    }
    while (name[0] == '.' && name[1] == '/') {
        name += 2;
        while (*name == '/') name++;
    }
    /* Any ".." component could climb out. */
    for (const char *c = name; *c;) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 2 && c[0] == '.' && c[1] == '.') {
            cg_fail(CG_ERR_FORMAT, "%s: entry '%s' contains '..'; refusing to extract", archive_path, name);
            return NULL;
        }
        if (!end) break;
        c = end + 1;
    }
    return name;
}

static cg_status make_parent_dirs(const char *file_path) {
    char *dir = strdup(file_path);
    if (!dir) return cg_fail(CG_ERR_NOMEM, "%s: out of memory", file_path);
    char *slash = strrchr(dir, '/');
    cg_status st = CG_OK;
    if (slash && slash != dir) {
        *slash = '\0';
        st = cg_mkdirs(dir);
    }
    free(dir);
    return st;
}

/* Writes the current entry's data to `out_path`, block by block at each
 * block's offset (sparse entries come as holes). */
static cg_status write_entry_data(struct archive *a, const char *archive_path, const char *entry_name,
                                  const char *out_path) {
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return cg_fail(CG_ERR_IO, "%s: cannot create: %s", out_path, strerror(errno));
    cg_status st = CG_OK;
    int64_t end = 0;
    for (;;) {
        const void *block;
        size_t size;
        la_int64_t offset;
        int rc = archive_read_data_block(a, &block, &size, &offset);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) {
            st = cg_fail(CG_ERR_FORMAT, "%s: corrupt or truncated at entry '%s': %s", archive_path, entry_name,
                         archive_error_string(a) ? archive_error_string(a) : "read error");
            break;
        }
        const char *p = block;
        while (size > 0) {
            ssize_t put = pwrite(fd, p, size, (off_t)offset);
            if (put < 0) {
                if (errno == EINTR) continue;
                st = cg_fail(CG_ERR_IO, "%s: write failed: %s", out_path, strerror(errno));
                break;
            }
            p += put;
            size -= (size_t)put;
            offset += put;
        }
        if (st != CG_OK) break;
        if (offset > end) end = offset;
    }
    /* A trailing hole must still give the file its full size. */
    if (st == CG_OK && ftruncate(fd, (off_t)end) != 0 && errno != EINVAL)
        st = cg_fail(CG_ERR_IO, "%s: cannot set size: %s", out_path, strerror(errno));
    if (close(fd) != 0 && st == CG_OK)
        st = cg_fail(CG_ERR_IO, "%s: close failed: %s", out_path, strerror(errno));
    return st;
}

cg_status cg_extract_archive(cg_fetch_ctx *ctx, const char *archive_path, const char *dest_dir) {
    struct stat sb;
    if (stat(archive_path, &sb) != 0)
        return cg_fail(CG_ERR_IO, "%s: cannot stat: %s", archive_path, strerror(errno));
    uint64_t total = (uint64_t)sb.st_size;

    struct archive *a = archive_read_new();
    if (!a) return cg_fail(CG_ERR_NOMEM, "%s: cannot start libarchive", archive_path);
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, archive_path, 1 << 16) != ARCHIVE_OK) {
        cg_status st = cg_fail(CG_ERR_FORMAT, "%s: not a readable archive: %s", archive_path,
                               archive_error_string(a) ? archive_error_string(a) : "unknown error");
        archive_read_free(a);
        return st;
    }
    const char *item = strrchr(archive_path, '/') ? strrchr(archive_path, '/') + 1 : archive_path;
    cg_status st = cg_fetch_report(ctx, CG_GET_EXTRACT, item, 0, total);
    size_t dest_len = strlen(dest_dir);
    int64_t entries = 0;
    while (st == CG_OK) {
        struct archive_entry *entry;
        int rc = archive_read_next_header(a, &entry);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) {
            st = cg_fail(CG_ERR_FORMAT, "%s: corrupt or truncated after %lld entries: %s", archive_path,
                         (long long)entries, archive_error_string(a) ? archive_error_string(a) : "read error");
            break;
        }
        entries++;
        const char *raw_name = archive_entry_pathname(entry);
        const char *name = safe_relative_path(archive_path, raw_name);
        if (!name) {
            st = cg_last_status();
            break;
        }
        mode_t type = archive_entry_filetype(entry);
        if (archive_entry_hardlink(entry) || (type != AE_IFREG && type != AE_IFDIR)) {
            st = cg_fail(CG_ERR_FORMAT, "%s: entry '%s' is a %s; only files and folders are extracted",
                         archive_path, raw_name,
                         archive_entry_hardlink(entry) ? "hard link"
                         : type == AE_IFLNK            ? "symbolic link"
                                                       : "special file");
            break;
        }
        if (!*name) continue; /* "./" itself */
        size_t need = dest_len + strlen(name) + 2;
        char *out_path = malloc(need);
        if (!out_path) {
            st = cg_fail(CG_ERR_NOMEM, "%s: out of memory", archive_path);
            break;
        }
        snprintf(out_path, need, "%s/%s", dest_dir, name);
        /* Folders may be implied by their files' paths, so parents are always made. */
        if (type == AE_IFDIR) {
            st = cg_mkdirs(out_path);
        } else {
            st = make_parent_dirs(out_path);
            if (st == CG_OK) st = write_entry_data(a, archive_path, raw_name, out_path);
        }
        free(out_path);
        if (st == CG_OK) {
            la_int64_t read_so_far = archive_filter_bytes(a, -1);
            st = cg_fetch_report(ctx, CG_GET_EXTRACT, item, (uint64_t)(read_so_far > 0 ? read_so_far : 0), total);
        }
    }
    if (st == CG_OK && entries == 0)
        st = cg_fail(CG_ERR_FORMAT, "%s: the archive holds no entries", archive_path);
    if (st == CG_OK) st = cg_fetch_report(ctx, CG_GET_EXTRACT, item, total, total);
    archive_read_free(a);
    return st;
}
