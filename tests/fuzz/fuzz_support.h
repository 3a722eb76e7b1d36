/* tests/fuzz/fuzz_support.h — what every fuzz target shares.
 *
 * A target is one file, tests/fuzz/fuzz_<name>.c, that defines
 *
 *     int fuzz_run(const uint8_t *data, size_t size);   // 1 accepted, 0 rejected
 *
 * and the libFuzzer entry point that calls it.  Built with -fsanitize=fuzzer it is
 * a libFuzzer binary (scripts/fuzz.sh); linked with replay_main.c it is a plain
 * program that runs the seed corpus and the saved crash inputs in every normal
 * build (ctest fuzz_replay_<name>), so a target cannot rot unnoticed.
 *
 * Targets keep their input in memory.  Readers that only take a path get one to a
 * memfd (an anonymous in-memory file, "/proc/self/fd/N"): nothing is written to
 * any disk, and every run rewrites the same file, so runs are independent.
 *
 * A property that does not hold is a bug: FUZZ_CHECK prints it and aborts, which
 * libFuzzer reports as a crash with the input that caused it. */
#ifndef CGRAD_FUZZ_SUPPORT_H
#define CGRAD_FUZZ_SUPPORT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create; include this header before any system header */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cgrad.h"

int fuzz_run(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                           \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz: %s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                               \
            fprintf(stderr, "\n");                                                      \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* An in-memory file with a path; one per use, created on first put. */
typedef struct fuzz_memfile {
    int fd;
    char path[32];
} fuzz_memfile;
#define FUZZ_MEMFILE_INIT {-1, ""}

/* Replaces the file's contents with data[0, size) and returns its path. */
static inline const char *fuzz_memfile_put(fuzz_memfile *f, const void *data, size_t size) {
    if (f->fd < 0) {
        f->fd = memfd_create("cgrad-fuzz", MFD_CLOEXEC);
        FUZZ_CHECK(f->fd >= 0, "memfd_create failed");
        snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    }
    FUZZ_CHECK(ftruncate(f->fd, 0) == 0, "ftruncate failed");
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(f->fd, (const char *)data + done, size - done, (off_t)done);
        FUZZ_CHECK(n > 0, "pwrite failed");
        done += (size_t)n;
    }
    return f->path;
}

/* One run must leave the live tensor bytes as it found them: a tensor not
 * released is a leak even where the buffer pool would hide it from LeakSanitizer. */
static inline size_t fuzz_mem_before(void) {
    static int pool_off;
    if (!pool_off) { /* the pool's cache would make a run depend on earlier ones */
        setenv("CGRAD_POOL_CAP_MB", "0", 1);
        pool_off = 1;
    }
    return cg_mem_in_use();
}
static inline void fuzz_mem_after(size_t before) {
    size_t after = cg_mem_in_use();
    FUZZ_CHECK(after == before, "tensor bytes in use went from %zu to %zu (a tensor leaked)", before, after);
}

/* A failing call must say why: call cg_clear_error() before it, this after. */
#define FUZZ_CHECK_MESSAGE(what)                                                        \
    FUZZ_CHECK(cg_last_status() != CG_OK && cg_last_error()[0], "%s failed without a message", what)

#endif
