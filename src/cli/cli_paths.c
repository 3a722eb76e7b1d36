/* Checking output paths before a run (see cli_paths.h). */
#include "cli/cli_paths.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_escape.h"

/* path's folder ("." for a bare name, "/" for /x) into dir; its last part into *base. */
static int split(const char *path, char *dir, size_t size, const char **base) {
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash) return snprintf(dir, size, ".") < (int)size ? 0 : -1;
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= size) return -1;
    memcpy(dir, path, len);
    dir[len] = '\0';
    return 0;
}

int cli_check_output_path(const char *label, const char *path, char *msg, size_t size) {
    char dir[PATH_MAX];
    const char *base;
    struct stat st;
    if (!path || !*path) {
        snprintf(msg, size, "%s: an empty path", cli_esc(label));
        return -1;
    }
    if (split(path, dir, sizeof dir, &base)) {
        snprintf(msg, size, "%s: the path is too long (%zu bytes)", cli_esc(label), strlen(path));
        return -1;
    }
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
        snprintf(msg, size, "%s: names a folder, not a file", cli_esc(label));
        return -1;
    }
    if (stat(dir, &st) != 0) {
        snprintf(msg, size, "%s: the folder %s %s", cli_esc(label), cli_esc(dir),
                 errno == ENOENT || errno == ENOTDIR ? "does not exist" : strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(msg, size, "%s: %s is not a folder", cli_esc(label), cli_esc(dir));
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(msg, size, "%s: cannot write in the folder %s (%s)", cli_esc(label), cli_esc(dir),
                 strerror(errno));
        return -1;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(msg, size, "%s: exists and is %s, not a regular file", cli_esc(label),
                 S_ISDIR(st.st_mode) ? "a folder" : "something else (a device, FIFO or socket)");
        return -1;
    }
    return 0;
}

/* The file path names, as an absolute path with the folders resolved: the
 * file's own realpath when it exists, else its folder's plus its name.
 * malloc'd; NULL if the folder cannot be resolved. */
static char *resolve(const char *path) {
    char *full = realpath(path, NULL);
    if (full) return full;
    char dir[PATH_MAX];
    const char *base;
    if (split(path, dir, sizeof dir, &base)) return NULL;
    char *rdir = realpath(dir, NULL);
    if (!rdir) return NULL;
    size_t n = strlen(rdir) + 1 + strlen(base) + 1;
    full = malloc(n);
    if (full) snprintf(full, n, "%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "", base);
    free(rdir);
    return full;
}

static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ra = resolve(a), *rb = resolve(b);
    bool same = ra && rb ? !strcmp(ra, rb) : !strcmp(a, b);
    free(ra);
    free(rb);
    return same;
}

int cli_check_distinct_outputs(const char *const *labels, const char *const *paths, int n, char *msg,
                               size_t size) {
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (!paths[i] || !paths[j] || !same_file(paths[i], paths[j])) continue;
            snprintf(msg, size, "%s and %s name the same file; give each output its own name",
                     cli_esc(labels[i]), cli_esc(labels[j]));
            return -1;
        }
    return 0;
}
