/* cgrad/files.h — listing folders and labelled image collections.
 *
 * The chapter lists its data with fastai's Path.ls():
 *
 *     threes = (path/'train'/'3').ls().sorted()
 *
 * In C:
 *
 *     cg_strlist threes = {0};
 *     if (cg_ls(train3_dir, &threes) != CG_OK) ...   // already sorted
 *     threes.items[1]                                // ".../train/3/10000.png"
 *     cg_strlist_free(&threes);
 *
 * ORDER.  Everything here is sorted like Python's sorted() on str paths: plain
 * byte order (strcmp), so "10.png" < "10000.png" < "10011.png" < "9.png".
 * fastai's .ls() itself returns the file system's order; sorting makes cgrad
 * deterministic on every machine (the chapter sorts threes/sevens; for the
 * validation images the order does not change any result).
 *
 * Structs are plain values: zero-initialise, fill with one call, free with the
 * matching *_free (which leaves a zeroed struct, so a second free is harmless).
 * On failure a call leaves its output zeroed and sets cg_last_error(). */
#ifndef CGRAD_FILES_H
#define CGRAD_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An owned list of owned strings. */
typedef struct cg_strlist {
    char **items;
    size_t count;
    size_t capacity;
} cg_strlist;

/* Appends a copy of s. */
cg_status cg_strlist_push(cg_strlist *l, const char *s);
/* Sorts in byte order (Python's sorted()). */
void cg_strlist_sort(cg_strlist *l);
/* Index of s, or -1. */
int64_t cg_strlist_find(const cg_strlist *l, const char *s);
void cg_strlist_free(cg_strlist *l);

/* "dir" + "/" + "name" in a new malloc'd string (no doubled '/'); NULL on no memory. */
char *cg_path_join(const char *dir, const char *name);
/* The last component of a path ("/a/train/3/10.png" -> "10.png"); points into path. */
const char *cg_path_name(const char *path);
/* 1 if path is a directory, 0 if not (or missing). */
int cg_path_is_dir(const char *path);

/* Path.ls(): every entry of dir except "." and "..", as "dir/name", sorted. */
cg_status cg_ls(const char *dir, cg_strlist *out);
/* Like cg_ls, keeping only regular files whose name ends with ext
 * (case-insensitive, e.g. ".png"). */
cg_status cg_ls_ext(const char *dir, const char *ext, cg_strlist *out);

/* ---- labelled files ---------------------------------------------------------
 * paths[i] has class index labels[i]; classes are the sorted class names
 * (fastai's vocab), so labels[i] indexes classes.items. */
typedef struct cg_labelled_files {
    cg_strlist paths;
    int64_t *labels;   /* count = paths.count */
    cg_strlist classes;
    cg_strlist empty_dirs; /* class folders (direct sub-folders of the split) holding no image */
} cg_labelled_files;

void cg_labelled_files_free(cg_labelled_files *f);

/* ImageDataLoaders.from_folder(root) for one split: fastai's
 * get_image_files(root/<split>) labelled by parent_label (the image's parent
 * folder's name) and split by folder (GrandparentSplitter).  Image files are
 * those with one of fastai's image_extensions (.png, .jpg, .jpeg, .gif, ...:
 * Python's mimetypes image types; cg_is_image_name); names that start with a
 * dot, files or folders, are skipped; sub-folders are entered at any depth.
 * The vocabulary is the sorted set of the labels of the images of root/train
 * and root/valid (and root/<split>), so "3" is 0 and "7" is 1 in both, and a
 * folder without images never becomes a class: such class folders are listed
 * in empty_dirs for the caller to report.  Items are sorted by path.  An empty
 * split or a missing folder is an error. */
cg_status cg_image_folder_list(const char *root, const char *split, cg_labelled_files *out);
/* The same with other folder names for the two splits (mnist_png's training/
 * and testing/): the vocabulary spans root/<train> and root/<valid>. */
cg_status cg_image_folder_list_named(const char *root, const char *split, const char *train,
                                     const char *valid, cg_labelled_files *out);
/* get_image_files(dir) with parent_label, for a random split (valid_pct): every
 * image under dir at any depth; the vocabulary is the sorted set of their
 * labels; empty_dirs as above (dir's direct sub-folders without images). */
cg_status cg_image_files_list(const char *dir, cg_labelled_files *out);
/* Whether fastai's get_image_files lists a file of this name: not starting with
 * '.', and the text after its last '.' (the whole name if it has none) is one
 * of image_extensions, case-insensitively. */
bool cg_is_image_name(const char *name);

/* A "name,label" CSV with a header row (MNIST_SAMPLE's labels.csv).  paths are the
 * names joined to the CSV's folder; classes are the sorted distinct label strings.
 * Rows keep the file's order.  Quoted fields are not supported (a quote is an error
 * naming the line). */
cg_status cg_labels_csv_read(const char *csv_path, cg_labelled_files *out);

#ifdef __cplusplus
}
#endif
#endif
