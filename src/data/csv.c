/* labels.csv: "name,label" rows with a header (MNIST_SAMPLE's labels.csv,
 * read by fastai's ImageDataLoaders.from_csv).  Labels are category strings:
 * the vocabulary is their sorted distinct values, as fastai's CategoryMap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/files.h"

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

cg_status cg_labels_csv_read(const char *csv_path, cg_labelled_files *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(csv_path, "r");
    if (!f) return cg_fail(CG_ERR_IO, "csv: %s: %s", csv_path, strerror(errno));
    char *dir = dir_of(csv_path);
    cg_strlist label_text = {0}; /* each row's label string, resolved at the end */
    char *line = NULL;
    size_t line_cap = 0;
    cg_status st = dir ? CG_OK : cg_fail(CG_ERR_NOMEM, "csv: out of memory");
    long line_no = 0;

    while (st == CG_OK && getline(&line, &line_cap, f) != -1) {
        line_no++;
        chomp(line);
        if (line_no == 1) continue; /* header: name,label */
        if (line[0] == '\0') continue;
        if (strchr(line, '"')) {
            st = cg_fail(CG_ERR_FORMAT, "csv: %s:%ld: quoted fields are not supported", csv_path, line_no);
            break;
        }
        char *comma = strchr(line, ',');
        if (!comma || strchr(comma + 1, ',') || comma == line || comma[1] == '\0') {
            st = cg_fail(CG_ERR_FORMAT, "csv: %s:%ld: expected \"name,label\", got \"%s\"",
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
        if (st == CG_OK && cg_strlist_find(&out->classes, comma + 1) < 0)
            st = cg_strlist_push(&out->classes, comma + 1);
    }
    if (st == CG_OK && ferror(f)) st = cg_fail(CG_ERR_IO, "csv: %s: read error", csv_path);
    if (st == CG_OK && line_no == 0) st = cg_fail(CG_ERR_FORMAT, "csv: %s: empty file", csv_path);
    if (st == CG_OK && out->paths.count == 0)
        st = cg_fail(CG_ERR_FORMAT, "csv: %s: no rows after the header", csv_path);
    free(line);
    free(dir);
    fclose(f);

    if (st == CG_OK) {
        cg_strlist_sort(&out->classes);
        out->labels = malloc(out->paths.count * sizeof *out->labels);
        if (!out->labels) st = cg_fail(CG_ERR_NOMEM, "csv: out of memory");
        for (size_t i = 0; st == CG_OK && i < out->paths.count; i++)
            out->labels[i] = cg_strlist_find(&out->classes, label_text.items[i]);
    }
    cg_strlist_free(&label_text);
    if (st != CG_OK) cg_labelled_files_free(out);
    return st;
}
