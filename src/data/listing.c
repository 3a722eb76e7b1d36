/* Folder listing (Path.ls) and labelled image folders (ImageDataLoaders.from_folder's
 * file list: parent_label + GrandparentSplitter).  Everything sorted in byte order,
 * like Python's sorted() on str paths. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cgrad/files.h"

/* ---- string lists -------------------------------------------------------- */

cg_status cg_strlist_push(cg_strlist *l, const char *s) {
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? 2 * l->capacity : 16;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items) return cg_fail(CG_ERR_NOMEM, "strlist: out of memory growing to %zu items", cap);
        l->items = items;
        l->capacity = cap;
    }
    char *copy = strdup(s);
    if (!copy) return cg_fail(CG_ERR_NOMEM, "strlist: out of memory copying \"%s\"", s);
    l->items[l->count++] = copy;
    return CG_OK;
}

static int compare_bytes(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cg_strlist_sort(cg_strlist *l) {
    if (l->count > 1) qsort(l->items, l->count, sizeof *l->items, compare_bytes);
}

int64_t cg_strlist_find(const cg_strlist *l, const char *s) {
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i], s)) return (int64_t)i;
    return -1;
}

void cg_strlist_free(cg_strlist *l) {
    if (!l) return;
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* ---- paths --------------------------------------------------------------- */

char *cg_path_join(const char *dir, const char *name) {
    size_t nd = strlen(dir), nn = strlen(name);
    while (nd > 1 && dir[nd - 1] == '/') nd--; /* "a/" + "b" -> "a/b"; "/" stays "/" */
    bool slash = nd > 0 && dir[nd - 1] != '/';
    char *p = malloc(nd + slash + nn + 1);
    if (!p) return NULL;
    memcpy(p, dir, nd);
    if (slash) p[nd] = '/';
    memcpy(p + nd + slash, name, nn + 1);
    return p;
}

const char *cg_path_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int cg_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- listing ------------------------------------------------------------- */

static bool ends_with_ci(const char *s, const char *ext) {
    size_t ns = strlen(s), ne = strlen(ext);
    return ns >= ne && strcasecmp(s + ns - ne, ext) == 0;
}

static bool is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Lists dir into out (full paths, sorted); ext NULL keeps every entry. */
static cg_status list_dir(const char *dir, const char *ext, cg_strlist *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return cg_fail(CG_ERR_IO, "ls: %s: %s", dir, strerror(errno));
    cg_status st = CG_OK;
    struct dirent *e;
    while (st == CG_OK && (errno = 0, e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (ext && !ends_with_ci(e->d_name, ext)) continue;
        char *full = cg_path_join(dir, e->d_name);
        if (!full) {
            st = cg_fail(CG_ERR_NOMEM, "ls: %s: out of memory", dir);
            break;
        }
        /* d_type saves a stat per file where the file system reports it; links
         * are followed (stat), as Python follows them. */
        bool regular = e->d_type == DT_REG || ((e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) && is_regular_file(full));
        if (!ext || regular) st = cg_strlist_push(out, full);
        free(full);
    }
    if (st == CG_OK && errno != 0) st = cg_fail(CG_ERR_IO, "ls: %s: %s", dir, strerror(errno));
    closedir(d);
    if (st != CG_OK) {
        cg_strlist_free(out);
        return st;
    }
    cg_strlist_sort(out);
    return CG_OK;
}

cg_status cg_ls(const char *dir, cg_strlist *out) { return list_dir(dir, NULL, out); }

cg_status cg_ls_ext(const char *dir, const char *ext, cg_strlist *out) {
    return list_dir(dir, ext, out);
}

/* ---- labelled image folders --------------------------------------------- */

void cg_labelled_files_free(cg_labelled_files *f) {
    if (!f) return;
    cg_strlist_free(&f->paths);
    cg_strlist_free(&f->classes);
    free(f->labels);
    f->labels = NULL;
}

/* Adds the names of the sub-folders of root/split to classes (no duplicates).
 * A split folder that does not exist adds nothing. */
static cg_status add_class_names(const char *root, const char *split, cg_strlist *classes) {
    char *dir = cg_path_join(root, split);
    if (!dir) return cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
    cg_status st = CG_OK;
    if (cg_path_is_dir(dir)) {
        cg_strlist entries = {0};
        st = cg_ls(dir, &entries);
        for (size_t i = 0; st == CG_OK && i < entries.count; i++) {
            const char *name = cg_path_name(entries.items[i]);
            if (name[0] == '.' || !cg_path_is_dir(entries.items[i])) continue;
            if (cg_strlist_find(classes, name) < 0) st = cg_strlist_push(classes, name);
        }
        cg_strlist_free(&entries);
    }
    free(dir);
    return st;
}

cg_status cg_image_folder_list(const char *root, const char *split, cg_labelled_files *out) {
    memset(out, 0, sizeof *out);
    char *split_dir = cg_path_join(root, split);
    if (!split_dir) return cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
    if (!cg_path_is_dir(split_dir)) {
        cg_status st = cg_fail(CG_ERR_IO, "image folder: %s: no such folder", split_dir);
        free(split_dir);
        return st;
    }

    /* fastai's vocab is built over the items of both splits, sorted. */
    cg_status st = add_class_names(root, "train", &out->classes);
    if (st == CG_OK) st = add_class_names(root, "valid", &out->classes);
    if (st == CG_OK) st = add_class_names(root, split, &out->classes);
    cg_strlist_sort(&out->classes);

    /* Items: every .png of split/<class>/, labelled by the class's index. */
    size_t labels_cap = 0;
    for (size_t c = 0; st == CG_OK && c < out->classes.count; c++) {
        char *class_dir = cg_path_join(split_dir, out->classes.items[c]);
        if (!class_dir) {
            st = cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
            break;
        }
        if (cg_path_is_dir(class_dir)) {
            cg_strlist files = {0};
            st = cg_ls_ext(class_dir, ".png", &files);
            for (size_t i = 0; st == CG_OK && i < files.count; i++) {
                if (out->paths.count == labels_cap) {
                    size_t cap = labels_cap ? 2 * labels_cap : 1024;
                    int64_t *labels = realloc(out->labels, cap * sizeof *labels);
                    if (!labels) {
                        st = cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
                        break;
                    }
                    out->labels = labels;
                    labels_cap = cap;
                }
                out->labels[out->paths.count] = (int64_t)c;
                st = cg_strlist_push(&out->paths, files.items[i]);
            }
            cg_strlist_free(&files);
        }
        free(class_dir);
    }
    if (st == CG_OK && out->paths.count == 0)
        st = cg_fail(CG_ERR_FORMAT, "image folder: %s: no .png files in any class folder", split_dir);
    free(split_dir);
    if (st != CG_OK) {
        cg_labelled_files_free(out);
        return st;
    }

    /* Sort the items by path, carrying the labels along.  Class folders were
     * visited in sorted order and each listing is sorted, and "<split>/<class>/"
     * prefixes of sorted class names keep that order unless one class name is a
     * prefix of another followed by a byte below '/'; sort to be exact. */
    size_t n = out->paths.count;
    typedef struct { char *path; int64_t label; } item;
    item *items = malloc(n * sizeof *items);
    if (!items) {
        cg_labelled_files_free(out);
        return cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
    }
    for (size_t i = 0; i < n; i++) items[i] = (item){out->paths.items[i], out->labels[i]};
    qsort(items, n, sizeof *items, compare_bytes); /* path is the first member */
    for (size_t i = 0; i < n; i++) {
        out->paths.items[i] = items[i].path;
        out->labels[i] = items[i].label;
    }
    free(items);
    return CG_OK;
}
