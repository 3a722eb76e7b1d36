/* Fuzz target: the labels.csv reader (src/data/csv.c, cg_labels_csv_read).
 *
 * The input is the file (a memfd, so the CSV's folder is /proc/self/fd).
 * Properties of an accepted file, whatever the reader's exact syntax:
 *   - at least one row, and no more rows than the file has lines after the header;
 *   - each row has a path in the CSV's folder and a label that indexes classes;
 *   - classes are distinct and sorted in byte order (fastai's vocab), and each
 *     is some row's label;
 * a rejected one leaves a message and zeroed output; nothing leaks either way. */
#include "fuzz_support.h"

static fuzz_memfile file = FUZZ_MEMFILE_INIT;

int fuzz_run(const uint8_t *data, size_t size) {
    const char *path = fuzz_memfile_put(&file, data, size);
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (size && data[size - 1] != '\n') lines++; /* a last line without its newline */

    cg_labelled_files lf;
    memset(&lf, 0xa5, sizeof lf); /* the reader must set every field */
    cg_clear_error();
    cg_status st = cg_labels_csv_read(path, &lf);
    if (st != CG_OK) {
        FUZZ_CHECK_MESSAGE("cg_labels_csv_read");
        FUZZ_CHECK(!lf.paths.count && !lf.paths.items && !lf.labels && !lf.classes.count &&
                       !lf.classes.items,
                   "a failed read left output behind");
        return 0;
    }
    FUZZ_CHECK(lf.paths.count >= 1 && lf.paths.count + 1 <= lines, "%zu rows from %zu lines",
               lf.paths.count, lines);
    FUZZ_CHECK(lf.labels && lf.classes.count >= 1 && lf.classes.count <= lf.paths.count,
               "%zu classes for %zu rows", lf.classes.count, lf.paths.count);
    size_t dir_len = strlen(path) - strlen(cg_path_name(path)); /* "/proc/self/fd/" */
    unsigned char *used = calloc(lf.classes.count, 1);
    FUZZ_CHECK(used, "out of memory");
    for (size_t i = 0; i < lf.paths.count; i++) {
        FUZZ_CHECK(!strncmp(lf.paths.items[i], path, dir_len) && lf.paths.items[i][dir_len],
                   "row %zu: path '%s' is not in the CSV's folder", i, lf.paths.items[i]);
        FUZZ_CHECK(lf.labels[i] >= 0 && (size_t)lf.labels[i] < lf.classes.count, "row %zu: label %lld",
                   i, (long long)lf.labels[i]);
        used[lf.labels[i]] = 1;
    }
    for (size_t c = 0; c < lf.classes.count; c++) {
        FUZZ_CHECK(used[c], "class %zu ('%s') is no row's label", c, lf.classes.items[c]);
        FUZZ_CHECK(c == 0 || strcmp(lf.classes.items[c - 1], lf.classes.items[c]) < 0,
                   "classes %zu and %zu are not sorted and distinct", c - 1, c);
    }
    free(used);
    cg_labelled_files_free(&lf);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_run(data, size);
    return 0;
}
