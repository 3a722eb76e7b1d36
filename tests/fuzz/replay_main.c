/* Runs a fuzz target on files, without libFuzzer: the seed corpus and the saved
 * crash inputs, in every normal build (ctest fuzz_replay_<target>).
 *
 *     fuzz_replay_png DIR_OR_FILE...
 *
 * Each file is one input.  A file named "ok-*" must be accepted by the target
 * (fuzz_run returns non-zero) and one named "bad-*" rejected, so the seeds keep
 * reaching the code past the first checks; any other file (a regression input
 * from tests/fuzz/regressions/) just has to run without a crash, a leak or a
 * failed property, which the target checks itself.  Exits 1 on a mismatch, or
 * when a folder yields no files (a corpus lost in a move).
 *
 * Under ASan one allocation may not exceed 256 MB (scripts/fuzz.sh gives
 * libFuzzer the same limit): no input here is larger than 16 KB, so a bigger
 * request means a reader believed a size in the file before checking it. */
#include "fuzz_support.h" /* first: it defines _GNU_SOURCE */

#include <dirent.h>
#include <sys/stat.h>

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "max_allocation_size_mb=256"; }

static int run_file(const char *path, int *failures) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        (*failures)++;
        return 0;
    }
    size_t cap = 1 << 16, size = 0, n;
    uint8_t *data = malloc(cap);
    while (data && (n = fread(data + size, 1, cap - size, f)) > 0) {
        size += n;
        if (size == cap) {
            uint8_t *bigger = realloc(data, cap *= 2);
            if (!bigger) free(data);
            data = bigger;
        }
    }
    fclose(f);
    if (!data) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        (*failures)++;
        return 0;
    }
    int accepted = fuzz_run(data, size) != 0;
    free(data);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if ((!strncmp(name, "ok-", 3) && !accepted) || (!strncmp(name, "bad-", 4) && accepted)) {
        fprintf(stderr, "replay: %s: %s, expected %s (%s)\n", path, accepted ? "accepted" : "rejected",
                accepted ? "a rejection" : "it accepted", accepted ? "" : cg_last_error());
        (*failures)++;
    }
    return 1;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of dir, in name order (so a run is reproducible). */
static int run_dir(const char *dir, int *failures) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: cannot open folder\n", dir);
        (*failures)++;
        return 0;
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char **more = realloc(names, (count + 1) * sizeof *names);
        if (!more) break;
        names = more;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[count] = malloc(len))) break;
        snprintf(names[count++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, compare_names);
    int files = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat s;
        if (stat(names[i], &s) == 0 && S_ISREG(s.st_mode)) files += run_file(names[i], failures);
        free(names[i]);
    }
    free(names);
    return files;
}

int main(int argc, char **argv) {
    int failures = 0, files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat s;
        if (stat(argv[i], &s) == 0 && S_ISDIR(s.st_mode)) {
            int n = run_dir(argv[i], &failures);
            if (n == 0) {
                fprintf(stderr, "replay: %s: no inputs\n", argv[i]);
                failures++;
            }
            files += n;
        } else {
            files += run_file(argv[i], &failures);
        }
    }
    printf("replay: %d inputs, %d failures\n", files, failures);
    cg_pool_trim();
    return failures ? 1 : 0;
}
