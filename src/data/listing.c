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
    cg_strlist_free(&f->empty_dirs);
    free(f->labels);
    f->labels = NULL;
}

/* fastai's image_extensions: the "image/..." types of Python's mimetypes table. */
static const char *const image_extensions[] = {
    "avif", "bmp", "gif", "heic", "heif", "ico", "ief", "jpe", "jpeg", "jpg", "pbm", "pgm",
    "png",  "pnm", "ppm", "ras",  "rgb",  "svg", "tif", "tiff", "xbm", "xpm", "xwd",
};

bool cg_is_image_name(const char *name) {
    /* fastai's _get_files: f'.{f.split(".")[-1].lower()}' in extensions, and
     * never a name that starts with a dot. */
    if (name[0] == '.') return false;
    const char *dot = strrchr(name, '.');
    const char *ext = dot ? dot + 1 : name;
    for (size_t i = 0; i < sizeof image_extensions / sizeof *image_extensions; i++)
        if (!strcasecmp(ext, image_extensions[i])) return true;
    return false;
}

/* get_image_files(dir), one level of it: the image files under dir, at any
 * depth (folders whose names start with a dot are not entered), each with its
 * parent folder's name (parent_label).  Links are followed, as os.walk(...,
 * followlinks=True) does; a depth cap stops a link loop.  *found counts the
 * files added. */
#define MAX_DEPTH 64
static cg_status walk(const char *dir, int depth, cg_strlist *paths, cg_strlist *parents,
                      size_t *found) {
    if (depth > MAX_DEPTH)
        return cg_fail(CG_ERR_FORMAT, "image folder: %s: more than %d folders deep (a link loop?)", dir,
                       MAX_DEPTH);
    cg_strlist entries = {0};
    cg_status st = cg_ls(dir, &entries);
    const char *parent = cg_path_name(dir);
    for (size_t i = 0; st == CG_OK && i < entries.count; i++) {
        const char *path = entries.items[i], *name = cg_path_name(path);
        if (name[0] == '.') continue;
        if (cg_path_is_dir(path)) {
            st = walk(path, depth + 1, paths, parents, found);
        } else if (cg_is_image_name(name) && is_regular_file(path)) {
            st = cg_strlist_push(paths, path);
            if (st == CG_OK) st = cg_strlist_push(parents, parent);
            if (st == CG_OK) (*found)++;
        }
    }
    cg_strlist_free(&entries);
    return st;
}

/* The images of dir (as walk), plus the direct sub-folders of dir that hold no
 * image at all (the empty class folders) added to empty (when not NULL). */
static cg_status walk_split(const char *dir, cg_strlist *paths, cg_strlist *parents,
                            cg_strlist *empty) {
    cg_strlist entries = {0};
    cg_status st = cg_ls(dir, &entries);
    const char *parent = cg_path_name(dir);
    for (size_t i = 0; st == CG_OK && i < entries.count; i++) {
        const char *path = entries.items[i], *name = cg_path_name(path);
        if (name[0] == '.') continue;
        if (cg_path_is_dir(path)) {
            size_t found = 0;
            st = walk(path, 1, paths, parents, &found);
            if (st == CG_OK && found == 0 && empty) st = cg_strlist_push(empty, path);
        } else if (cg_is_image_name(name) && is_regular_file(path)) {
            st = cg_strlist_push(paths, path);
            if (st == CG_OK) st = cg_strlist_push(parents, parent);
        }
    }
    cg_strlist_free(&entries);
    return st;
}

static cg_status add_unique(cg_strlist *set, const cg_strlist *names) {
    cg_status st = CG_OK;
    for (size_t i = 0; st == CG_OK && i < names->count; i++)
        if (cg_strlist_find(set, names->items[i]) < 0) st = cg_strlist_push(set, names->items[i]);
    return st;
}

static int compare_str(const void *a, const void *b) { return strcmp(a, *(char *const *)b); }

/* out->paths / labels from the walked paths and their parents' names, given the
 * sorted vocabulary in out->classes; then every item sorted by path. */
static cg_status label_items(cg_strlist *paths, cg_strlist *parents, cg_labelled_files *out) {
    size_t n = paths->count;
    out->labels = malloc((n ? n : 1) * sizeof *out->labels);
    if (!out->labels) return cg_fail(CG_ERR_NOMEM, "image folder: out of memory for %zu labels", n);
    typedef struct { char *path; int64_t label; } item;
    item *items = malloc((n ? n : 1) * sizeof *items);
    if (!items) return cg_fail(CG_ERR_NOMEM, "image folder: out of memory for %zu items", n);
    for (size_t i = 0; i < n; i++) {
        char **hit = bsearch(parents->items[i], out->classes.items, out->classes.count,
                             sizeof *out->classes.items, compare_str);
        items[i] = (item){paths->items[i], hit ? (int64_t)(hit - out->classes.items) : -1};
    }
    /* Listings are sorted, but a folder's files and a sibling file sort
     * differently as full paths ("b/x.png" vs "b.png"); sort to be exact. */
    qsort(items, n, sizeof *items, compare_bytes); /* path is the first member */
    out->paths = *paths; /* the strings move over, in the new order */
    for (size_t i = 0; i < n; i++) {
        out->paths.items[i] = items[i].path;
        out->labels[i] = items[i].label;
    }
    memset(paths, 0, sizeof *paths);
    free(items);
    return CG_OK;
}

cg_status cg_image_folder_list_named(const char *root, const char *split, const char *train,
                                     const char *valid, cg_labelled_files *out) {
    memset(out, 0, sizeof *out);
    if (!root || !split || !train || !valid)
        return cg_fail(CG_ERR_VALUE, "image folder: root and folder names must be given");
    char *split_dir = cg_path_join(root, split);
    if (!split_dir) return cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
    if (!cg_path_is_dir(split_dir)) {
        cg_status st = cg_fail(CG_ERR_IO, "image folder: %s: no such folder", split_dir);
        free(split_dir);
        return st;
    }
    cg_strlist paths = {0}, parents = {0};
    cg_status st = walk_split(split_dir, &paths, &parents, &out->empty_dirs);
    /* fastai's vocab comes from the labels of the items (never from an empty
     * folder); cgrad takes it over both splits, so "3" is 0 and "7" is 1 in
     * each and a class seen only in valid still has a label. */
    if (st == CG_OK) st = add_unique(&out->classes, &parents);
    const char *others[2] = {train, valid};
    for (int k = 0; k < 2 && st == CG_OK; k++) {
        if (!strcmp(others[k], split)) continue;
        char *dir = cg_path_join(root, others[k]);
        if (!dir) {
            st = cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
            break;
        }
        if (cg_path_is_dir(dir)) {
            cg_strlist p2 = {0}, n2 = {0};
            st = walk_split(dir, &p2, &n2, NULL);
            if (st == CG_OK) st = add_unique(&out->classes, &n2);
            cg_strlist_free(&p2);
            cg_strlist_free(&n2);
        }
        free(dir);
    }
    cg_strlist_sort(&out->classes);
    if (st == CG_OK && paths.count == 0)
        st = cg_fail(CG_ERR_FORMAT, "image folder: %s: no .png files (nor any other image file) in "
                     "any class folder", split_dir);
    if (st == CG_OK) st = label_items(&paths, &parents, out);
    cg_strlist_free(&paths);
    cg_strlist_free(&parents);
    free(split_dir);
    if (st != CG_OK) cg_labelled_files_free(out);
    return st;
}

cg_status cg_image_folder_list(const char *root, const char *split, cg_labelled_files *out) {
    return cg_image_folder_list_named(root, split, "train", "valid", out);
}

cg_status cg_image_files_list(const char *dir, cg_labelled_files *out) {
    memset(out, 0, sizeof *out);
    if (!dir) return cg_fail(CG_ERR_VALUE, "image files: NULL folder");
    if (!cg_path_is_dir(dir)) return cg_fail(CG_ERR_IO, "image files: %s: no such folder", dir);
    cg_strlist paths = {0}, parents = {0};
    cg_status st = walk_split(dir, &paths, &parents, &out->empty_dirs);
    if (st == CG_OK) st = add_unique(&out->classes, &parents);
    cg_strlist_sort(&out->classes);
    if (st == CG_OK && paths.count == 0)
        st = cg_fail(CG_ERR_FORMAT, "image files: %s: no .png files (nor any other image file)", dir);
    if (st == CG_OK) st = label_items(&paths, &parents, out);
    cg_strlist_free(&paths);
    cg_strlist_free(&parents);
    if (st != CG_OK) cg_labelled_files_free(out);
    return st;
}
