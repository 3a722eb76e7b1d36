/* What is in the cache: the completion marker each finished dataset carries,
 * and `cgrad data list` built on it.  The marker is a small key=value text
 * file, so a person can read it too:
 *
 *     cgrad-dataset 1
 *     name=mnist_sample
 *     source=/work/shared/data/mnist_sample
 *     sha256=                       (of the archive it came from, if any)
 *     files=14435
 *     bytes=9634120
 */
#include "data/fetch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad/fileio.h"

/* Totals for the marker: a quick walk (stat only), not reported as progress. */
typedef struct tree_totals {
    uint64_t files, bytes;
} tree_totals;

static cg_status walk_totals(tree_totals *t, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return cg_fail(CG_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    cg_status st = CG_OK;
    struct dirent *e;
    char path[4096];
    while (st == CG_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, CG_MARKER_NAME)) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            st = cg_fail(CG_ERR_VALUE, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat sb;
        if (lstat(path, &sb) != 0) {
            st = cg_fail(CG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            st = walk_totals(t, path);
        } else if (S_ISREG(sb.st_mode)) {
            t->files++;
            t->bytes += (uint64_t)sb.st_size;
        }
    }
    closedir(d);
    return st;
}

cg_status cg_marker_write(cg_fetch_ctx *ctx, const char *root, const char *name, const char *source,
                          const char *sha256) {
    (void)ctx;
    tree_totals t = {0};
    cg_status st = walk_totals(&t, root);
    if (st != CG_OK) return st;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", root, CG_MARKER_NAME) >= (int)sizeof path)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", root);
    cg_atomic_file *f = cg_atomic_open(path);
    if (!f) return cg_last_status();
    cg_atomic_printf(f, "cgrad-dataset 1\nname=%s\nsource=%s\nsha256=%s\nfiles=%" PRIu64 "\nbytes=%" PRIu64 "\n",
                     name, source ? source : "", sha256 ? sha256 : "", t.files, t.bytes);
    return cg_atomic_commit(f); /* a failed printf makes the commit fail too */
}

bool cg_marker_exists(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, CG_MARKER_NAME) >= (int)sizeof path) return false;
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void copy_value(char *dst, size_t cap, const char *line, size_t key_len) {
    const char *v = line + key_len;
    size_t len = strcspn(v, "\n");
    if (len >= cap) len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

cg_status cg_marker_read(const char *dir, cg_cached_dataset *out) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, CG_MARKER_NAME) >= (int)sizeof path)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", dir);
    void *data;
    size_t len;
    cg_status st = cg_read_file(path, &data, &len);
    if (st != CG_OK) return st;
    const char *text = data;
    if (strncmp(text, "cgrad-dataset 1\n", 16) != 0) {
        free(data);
        return cg_fail(CG_ERR_FORMAT, "%s: not a cgrad dataset marker", path);
    }
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", dir);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, "name=", 5)) copy_value(out->name, sizeof out->name, line, 5);
        else if (!strncmp(line, "source=", 7)) copy_value(out->source, sizeof out->source, line, 7);
        else if (!strncmp(line, "sha256=", 7)) copy_value(out->sha256, sizeof out->sha256, line, 7);
        else if (!strncmp(line, "files=", 6)) out->files = strtoull(line + 6, NULL, 10);
        else if (!strncmp(line, "bytes=", 6)) out->bytes = strtoull(line + 6, NULL, 10);
    }
    free(data);
    return CG_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const cg_cached_dataset *)a)->name, ((const cg_cached_dataset *)b)->name);
}

cg_status cg_dataset_list_cached(const cg_get_options *opt, cg_cached_dataset **out, int *n) {
    if (!out || !n) return cg_fail(CG_ERR_VALUE, "list cached datasets: NULL output");
    *out = NULL;
    *n = 0;
    char home[4096], data_dir[4096];
    cg_status st = cg_data_home(opt, home, sizeof home);
    if (st != CG_OK) return st;
    if (snprintf(data_dir, sizeof data_dir, "%s/data", home) >= (int)sizeof data_dir)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", home);
    DIR *d = opendir(data_dir);
    if (!d) {
        if (errno == ENOENT) return CG_OK; /* nothing fetched yet */
        return cg_fail(CG_ERR_IO, "%s: cannot open folder: %s", data_dir, strerror(errno));
    }
    int cap = 0;
    cg_cached_dataset *list = NULL;
    struct dirent *e;
    char dir[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* temp folders, locks */
        if (snprintf(dir, sizeof dir, "%s/%s", data_dir, e->d_name) >= (int)sizeof dir) continue;
        if (!cg_marker_exists(dir)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            cg_cached_dataset *bigger = realloc(list, (size_t)cap * sizeof *list);
            if (!bigger) {
                free(list);
                closedir(d);
                return cg_fail(CG_ERR_NOMEM, "%s: out of memory listing", data_dir);
            }
            list = bigger;
        }
        if (cg_marker_read(dir, &list[*n]) != CG_OK) continue; /* unreadable: not complete */
        if (snprintf(list[*n].name, sizeof list[*n].name, "%s", e->d_name) >= (int)sizeof list[*n].name)
            continue; /* a name this long was not made by cgrad */
        (*n)++;
    }
    closedir(d);
    if (*n > 1) qsort(list, (size_t)*n, sizeof *list, by_name);
    *out = list;
    return CG_OK;
}
