/* labels.csv: "name,label" rows with a header (MNIST_SAMPLE's labels.csv,
 * read by fastai's ImageDataLoaders.from_csv).  Labels are category strings:
 * the vocabulary is their sorted distinct values, as fastai's CategoryMap.
 *
 * The file is untrusted: it is opened without blocking and must be a regular
 * file (cg_open_regular), at most MAX_FILE_BYTES, with lines of at most
 * MAX_LINE_BYTES; classes are found by sorting, so a million distinct labels
 * cost n log n, not n^2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad/fileio.h"
#include "cgrad/files.h"

/* MNIST_SAMPLE's labels.csv is 200 KB; 256 MiB is a million rows of 256 bytes. */
#define MAX_FILE_BYTES ((uint64_t)256 << 20)
/* A row is a relative path (PATH_MAX 4096) and a label. */
#define MAX_LINE_BYTES 8192

/* The folder part of a path ("a/b/labels.csv" -> "a/b", "labels.csv" -> "."). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Removes a trailing "\n" or "\r\n". */
static void chomp(char *line) {
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* classes = the sorted distinct labels; labels[i] = index of row i's label. */
static cg_status resolve_labels(const cg_strlist *label_text, cg_labelled_files *out) {
    size_t n = label_text->count;
    char **sorted = malloc(n * sizeof *sorted);
    out->labels = malloc(n * sizeof *out->labels);
    if (!sorted || !out->labels) {
        free(sorted);
        return cg_fail(CG_ERR_NOMEM, "csv: out of memory");
    }
    memcpy(sorted, label_text->items, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_strings);
    cg_status st = CG_OK;
    for (size_t i = 0; st == CG_OK && i < n; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]))
            st = cg_strlist_push(&out->classes, sorted[i]);
    free(sorted);
    for (size_t i = 0; st == CG_OK && i < n; i++) {
        char *const *hit = bsearch(&label_text->items[i], out->classes.items, out->classes.count,
                                   sizeof *out->classes.items, compare_strings);
        out->labels[i] = hit - out->classes.items;
    }
    return st;
}

cg_status cg_labels_csv_read(const char *csv_path, cg_labelled_files *out) {
    memset(out, 0, sizeof *out);
    int fd;
    uint64_t size;
    if (cg_open_regular(csv_path, "csv", &fd, &size)) return cg_last_status();
    if (size > MAX_FILE_BYTES) {
        close(fd);
        return cg_fail(CG_ERR_FORMAT, "csv: %s: %llu bytes, more than the %llu a labels file may have",
                       csv_path, (unsigned long long)size, (unsigned long long)MAX_FILE_BYTES);
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        int e = errno;
        close(fd);
        return cg_fail(CG_ERR_IO, "csv: %s: %s", csv_path, strerror(e));
    }
    char *dir = dir_of(csv_path);
    cg_strlist label_text = {0}; /* each row's label string, resolved at the end */
    char *line = NULL;
    size_t line_cap = 0;
    cg_status st = dir ? CG_OK : cg_fail(CG_ERR_NOMEM, "csv: out of memory");
    long line_no = 0;
    uint64_t total = 0;
    ssize_t got;

    while (st == CG_OK && (got = getline(&line, &line_cap, f)) != -1) {
        line_no++;
        total += (uint64_t)got;
        if (got > MAX_LINE_BYTES) {
            st = cg_fail(CG_ERR_FORMAT, "csv: %s:%ld: line longer than %d bytes", csv_path, line_no,
                         MAX_LINE_BYTES);
            break;
        }
        if (total > MAX_FILE_BYTES) { /* it grew while we read it */
            st = cg_fail(CG_ERR_FORMAT, "csv: %s: more than the %llu bytes a labels file may have",
                         csv_path, (unsigned long long)MAX_FILE_BYTES);
            break;
        }
        if ((size_t)got != strlen(line)) {
            st = cg_fail(CG_ERR_FORMAT, "csv: %s:%ld: NUL byte in the line", csv_path, line_no);
            break;
        }
        chomp(line);
        if (line_no == 1) continue; /* header: name,label */
        if (line[0] == '\0') continue;
        if (strchr(line, '"')) {
            st = cg_fail(CG_ERR_FORMAT, "csv: %s:%ld: quoted fields are not supported", csv_path, line_no);
            break;
        }
        char *comma = strchr(line, ',');
        if (!comma || strchr(comma + 1, ',') || comma == line || comma[1] == '\0') {
            st = cg_fail(CG_ERR_FORMAT, "csv: %s:%ld: expected \"name,label\", got \"%.200s\"",
                         csv_path, line_no, line);
            break;
        }
        *comma = '\0';
        char *full = cg_path_join(dir, line);
        if (!full) {
            st = cg_fail(CG_ERR_NOMEM, "csv: out of memory");
            break;
        }
        st = cg_strlist_push(&out->paths, full);
        free(full);
        if (st == CG_OK) st = cg_strlist_push(&label_text, comma + 1);
    }
    if (st == CG_OK && ferror(f)) st = cg_fail(CG_ERR_IO, "csv: %s: read error", csv_path);
    if (st == CG_OK && line_no == 0) st = cg_fail(CG_ERR_FORMAT, "csv: %s: empty file", csv_path);
    if (st == CG_OK && out->paths.count == 0)
        st = cg_fail(CG_ERR_FORMAT, "csv: %s: no rows after the header", csv_path);
    free(line);
    free(dir);
    fclose(f);

    if (st == CG_OK) st = resolve_labels(&label_text, out);
    cg_strlist_free(&label_text);
    if (st != CG_OK) cg_labelled_files_free(out);
    return st;
}
