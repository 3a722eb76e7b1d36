/* Getting datasets (include/cgrad/datasets.h): the real MNIST data through the
 * folder mirror CTest points CGRAD_MIRROR at, and every way a get can go wrong
 * (wrong checksum, truncated archive, a bad entry midway, a cancel during
 * download or extraction) leaving the cache exactly as it was.
 *
 * Every test works in its own temp home, so nothing here depends on what other
 * tests cached.  Corrupt files are made at test time in temp folders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "cgrad.h"

/* ---- helpers ----------------------------------------------------------------------- */

static char mirror[1024]; /* the real data: $CGRAD_MIRROR */

static const char *real_mirror(void) {
    const char *env = getenv("CGRAD_MIRROR");
    if (env && *env) return env;
    const char *src = getenv("CGRAD_SOURCE_DIR");
    static char guess[4096];
    snprintf(guess, sizeof guess, "%s/../shared/data", src ? src : "/work/main");
    return guess;
}

static void make_temp_dir(char *out, size_t n, const char *what) {
    snprintf(out, n, "/tmp/cgrad-test-%s-XXXXXX", what);
    assert_non_null(mkdtemp(out));
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t count_suffix(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int64_t n = 0;
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl > sl && !strcmp(e->d_name + nl - sl, suffix)) n++;
    }
    closedir(d);
    return n;
}

static bool exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* <home>/data holds only complete datasets and lock files: no temp or
 * half-renamed folder of a failed get. */
static void assert_no_leftovers(const char *home) {
    char data[4096];
    snprintf(data, sizeof data, "%s/data", home);
    DIR *d = opendir(data);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".old.")) fail_msg("leftover %s/%s", data, e->d_name);
    }
    closedir(d);
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static const char *const idx_files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
/* PROVENANCE.md: the published md5 of each .gz. */
static const char *const idx_md5[4] = {"f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                       "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"};

/* A mirror folder `dir` holding the four IDX files, in <dir>/mnist/ or at its
 * root, with t10k-labels corrupted by one flipped byte when `corrupt`. */
static void make_idx_mirror(const char *dir, bool in_folder, bool corrupt) {
    char sub[1100], from[4096], to[4096];
    snprintf(sub, sizeof sub, in_folder ? "%s/mnist" : "%s", dir);
    assert_int_equal(cg_mkdirs(sub), CG_OK);
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof from, "%s/mnist/%s", mirror, idx_files[i]);
        snprintf(to, sizeof to, "%s/%s", sub, idx_files[i]);
        if (i < 3) {
            assert_int_equal(symlink(from, to), 0); /* the big ones: no need to copy */
        } else {
            void *data;
            size_t len;
            assert_int_equal(cg_read_file(from, &data, &len), CG_OK);
            if (corrupt) ((unsigned char *)data)[len / 2] ^= 0x01;
            write_file(to, data, len);
            free(data);
        }
    }
}

typedef struct entry {
    const char *name;
    int type;          /* AE_IFREG, AE_IFDIR, AE_IFLNK */
    size_t size;       /* AE_IFREG: pseudo-random bytes, unless text is set */
    const char *text;  /* AE_IFREG content, or AE_IFLNK target */
} entry;

/* Writes a .tgz with libarchive: what fastai's archives are. */
static void make_tgz(const char *path, const entry *entries, int n) {
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, entries[i].name);
        archive_entry_set_filetype(e, (unsigned)entries[i].type);
        archive_entry_set_perm(e, entries[i].type == AE_IFDIR ? 0755 : 0644);
        size_t size = entries[i].type != AE_IFREG ? 0 : entries[i].text ? strlen(entries[i].text) : entries[i].size;
        if (entries[i].type == AE_IFLNK) archive_entry_set_symlink(e, entries[i].text);
        archive_entry_set_size(e, (la_int64_t)size);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (size) {
            unsigned char *buf = malloc(size);
            if (entries[i].text) memcpy(buf, entries[i].text, size);
            else
                for (size_t k = 0; k < size; k++) { /* xorshift: incompressible, so the .tgz is big */
                    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                    buf[k] = (unsigned char)rng;
                }
            assert_int_equal(archive_write_data(a, buf, size), (la_ssize_t)size);
            free(buf);
        }
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* strstr, failing with both strings shown. */
static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

/* A whole (small) file as a NUL-terminated string the caller frees. */
static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("cannot open %s", path);
    char *text = calloc(1, 1 << 20);
    assert_non_null(text);
    size_t got = fread(text, 1, (1 << 20) - 1, fp);
    assert_true(got < (1 << 20) - 1);
    fclose(fp);
    return text;
}

static int by_strcmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in `dir` ending in `suffix`, sorted in byte order, in a new
 * array of n strings (free each, then the array). */
static char **sorted_names(const char *dir, const char *suffix, int *n) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **names = NULL;
    int cap = 0;
    *n = 0;
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl <= sl || strcmp(e->d_name + nl - sl, suffix)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            names = realloc(names, (size_t)cap * sizeof *names);
            assert_non_null(names);
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof *names, by_strcmp);
    return names;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* A pid that is certainly not running now: a child that exited and was reaped. */
static pid_t dead_pid(void) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

/* A child that sleeps until killed: a live pid that is not ours. */
static pid_t sleeping_child(void) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;) pause();
    }
    return pid;
}

static void end_child(pid_t pid) {
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* A progress callback that records, and cancels on request. */
typedef struct recorder {
    int calls[CG_GET_STAGE_COUNT];
    bool cancel;               /* cancel midway through cancel_stage */
    cg_get_stage cancel_stage;
    bool cancelled;
    uint64_t cancelled_at, cancelled_of;
    char messages[16384]; /* CG_GET_CLEAN and CG_GET_REPAIR messages, one a line */
} recorder;

static int record(const cg_get_progress *p, void *user) {
    recorder *r = user;
    r->calls[p->stage]++;
    if ((p->stage == CG_GET_CLEAN || p->stage == CG_GET_REPAIR) && p->message) {
        size_t used = strlen(r->messages);
        snprintf(r->messages + used, sizeof r->messages - used, "%s\n", p->message);
    }
    if (!r->cancel || p->stage != r->cancel_stage) return 0;
    if (p->done == 0) {
        /* Sleep past the 50 ms throttle, so the very next report comes through
         * and is a mid-way one. */
        struct timespec ts = {0, 60 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return 0;
    }
    if (p->done < p->total) {
        r->cancelled = true;
        r->cancelled_at = p->done;
        r->cancelled_of = p->total;
        return 1;
    }
    return 0;
}

static cg_get_options options(const char *home, const char *mirror_spec, recorder *r) {
    cg_get_options o = {.home = home, .mirror = mirror_spec, .max_tries = 2, .retry_delay_ms = 10};
    if (r) {
        o.progress = record;
        o.progress_user = r;
    }
    return o;
}

/* ---- the real data through the folder mirror ------------------------------------ */

static char shared_home[256]; /* mnist_sample and mnist, got once for several tests */

static int group_setup(void **state) {
    (void)state;
    if (snprintf(mirror, sizeof mirror, "%s", real_mirror()) >= (int)sizeof mirror) return -1;
    /* The loopback server must be reached directly even where a proxy is set. */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    /* The 14435 files of mnist_sample go to memory (tmpfs) when there is one:
     * on a busy disk, writing them back and deleting them again takes tens of
     * seconds and tests nothing more.  The other tests use /tmp, so the disk
     * path (fsync, syncfs, rename) is exercised there. */
    const char *root = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(shared_home, sizeof shared_home, "%s/cgrad-test-home-XXXXXX", root);
    return mkdtemp(shared_home) ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    cg_remove_tree(shared_home);
    cg_pool_trim();
    return 0;
}

static void test_mirror_gets_mnist_sample(void **state) {
    (void)state;
    recorder r = {0};
    cg_get_options o = options(shared_home, mirror, &r);
    char path[4096], expect[4096], dir[4200];
    assert_int_equal(cg_dataset_get("mnist_sample", &o, path, sizeof path), CG_OK);
    snprintf(expect, sizeof expect, "%s/data/mnist_sample", shared_home);
    assert_string_equal(path, expect);
    assert_true(r.calls[CG_GET_COPY] > 0);

    /* The book's numbers: 6131 and 6265 training 3s and 7s, 1010 and 1028 valid. */
    const char *folders[4] = {"train/3", "train/7", "valid/3", "valid/7"};
    const int64_t counts[4] = {6131, 6265, 1010, 1028};
    for (int i = 0; i < 4; i++) {
        snprintf(dir, sizeof dir, "%s/%s", path, folders[i]);
        assert_int_equal(count_suffix(dir, ".png"), counts[i]);
    }
    snprintf(dir, sizeof dir, "%s/labels.csv", path);
    char *csv;
    size_t len;
    assert_int_equal(cg_read_file(dir, (void **)&csv, &len), CG_OK);
    int64_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += csv[i] == '\n';
    assert_int_equal(lines - 1, 14434); /* header + 14434 rows */
    assert_memory_equal(csv, "name,label\n", 11);
    free(csv);
    char md5[33];
    assert_int_equal(cg_file_digest(dir, "md5", md5, sizeof md5), CG_OK);
    assert_string_equal(md5, "d3cebecaef04485c8a7c21699d77b730"); /* PROVENANCE.md */

    /* The second call finds the marker and every file it lists: no copy, no verify. */
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/.cgrad-complete", path);
    struct stat before, after;
    assert_int_equal(stat(marker, &before), 0);
    recorder r2 = {0};
    cg_get_options o2 = options(shared_home, mirror, &r2);
    assert_int_equal(cg_dataset_get("mnist_sample", &o2, path, sizeof path), CG_OK);
    assert_string_equal(path, expect);
    for (int s = 0; s < CG_GET_STAGE_COUNT; s++) assert_int_equal(r2.calls[s], 0);
    assert_int_equal(stat(marker, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    /* No bound on the time (timings are not tests; the check stats all 14435
     * files): no report at all and the same marker inode prove that nothing
     * was fetched again. */
    assert_no_leftovers(shared_home);
}

static void test_mirror_gets_mnist_with_md5s(void **state) {
    (void)state;
    cg_get_options o = options(shared_home, mirror, NULL);
    char path[4096], file[4200], md5[33];
    assert_int_equal(cg_dataset_get("mnist", &o, path, sizeof path), CG_OK);
    for (int i = 0; i < 4; i++) {
        snprintf(file, sizeof file, "%s/%s", path, idx_files[i]);
        assert_int_equal(cg_file_digest(file, "md5", md5, sizeof md5), CG_OK);
        assert_string_equal(md5, idx_md5[i]);
    }
    snprintf(file, sizeof file, "%s/%s", path, idx_files[0]);
    assert_int_equal(cg_file_digest(file, "sha256", file, 65), CG_OK);
    assert_string_equal(file, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609");
}

static void test_list_shows_cached(void **state) {
    (void)state;
    cg_get_options o = options(shared_home, mirror, NULL);
    cg_cached_dataset *list;
    int n;
    assert_int_equal(cg_dataset_list_cached(&o, &list, &n), CG_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "mnist"); /* name order */
    assert_int_equal(list[0].files, 4);
    assert_int_equal(list[0].bytes, 9912422 + 28881 + 1648877 + 4542);
    assert_string_equal(list[1].name, "mnist_sample");
    assert_int_equal(list[1].files, 14434 + 1);
    char expect[4200];
    snprintf(expect, sizeof expect, "%s/mnist_sample", mirror);
    assert_string_equal(list[1].source, expect);
    free(list);
}

/* The case: 2849 of the 6265 sevens deleted.  The get says so, naming
 * the first one missing, and gets the dataset again (before, it said "ok" and
 * training ran on 3416 sevens). */
static void test_deleted_pngs_are_regot(void **state) {
    (void)state;
    char path[4096], dir[4200], file[4400], expect[4400];
    snprintf(dir, sizeof dir, "%s/data/mnist_sample/train/7", shared_home);
    int n;
    char **names = sorted_names(dir, ".png", &n);
    assert_int_equal(n, 6265);
    for (int i = 0; i < 2849; i++) {
        snprintf(file, sizeof file, "%s/%s", dir, names[i]);
        assert_int_equal(unlink(file), 0);
    }
    assert_int_equal(count_suffix(dir, ".png"), 3416);
    recorder r = {0};
    cg_get_options o = options(shared_home, mirror, &r);
    assert_int_equal(cg_dataset_get("mnist_sample", &o, path, sizeof path), CG_OK);
    assert_int_equal(r.calls[CG_GET_REPAIR], 1);
    snprintf(expect, sizeof expect, "mnist_sample: 2849 of 14435 files missing (first: train/7/%s); re-getting\n",
             names[0]);
    assert_string_equal(r.messages, expect);
    free_names(names, n);
    assert_true(r.calls[CG_GET_COPY] > 0);
    assert_int_equal(count_suffix(dir, ".png"), 6265);
    const char *folders[3] = {"train/3", "valid/3", "valid/7"};
    const int64_t counts[3] = {6131, 1010, 1028};
    for (int i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s/%s", path, folders[i]);
        assert_int_equal(count_suffix(file, ".png"), counts[i]);
    }
    /* Repaired: the next get finds it whole and reports nothing. */
    recorder r2 = {0};
    o = options(shared_home, mirror, &r2);
    assert_int_equal(cg_dataset_get("mnist_sample", &o, path, sizeof path), CG_OK);
    for (int s = 0; s < CG_GET_STAGE_COUNT; s++) assert_int_equal(r2.calls[s], 0);
    assert_no_leftovers(shared_home);
}

/* An ad-hoc archive URL whose file is called mnist_sample.tgz becomes its own
 * dataset; the registered, verified mnist_sample is never replaced, not even
 * with force, and removing the ad-hoc one leaves it too. */
static void test_adhoc_url_cannot_shadow_registered(void **state) {
    (void)state;
    char dir[256], archive[512], url[600], path[4096], registered[4200], marker[4300], file[4400];
    make_temp_dir(dir, sizeof dir, "lookalike");
    snprintf(archive, sizeof archive, "%s/mnist_sample.tgz", dir);
    const entry fake[] = {
        {"mnist_sample/labels.csv", AE_IFREG, 0, "name,label\ntrain/3/fake.png,3\n"},
        {"mnist_sample/train/3/fake.png", AE_IFREG, 100, NULL},
    };
    make_tgz(archive, fake, 2);
    snprintf(url, sizeof url, "file://%s", archive);
    snprintf(registered, sizeof registered, "%s/data/mnist_sample", shared_home);
    snprintf(marker, sizeof marker, "%s/.cgrad-complete", registered);
    char *marker_before = slurp(marker);
    struct stat before, after;
    assert_int_equal(stat(marker, &before), 0);

    for (int force = 0; force < 2; force++) {
        cg_get_options o = options(shared_home, "", NULL); /* no mirror: the URL itself, through libcurl */
        o.force = force;
        assert_int_equal(cg_dataset_get(url, &o, path, sizeof path), CG_OK);
        assert_string_not_equal(path, registered);
        /* mnist_sample-<8 hex digits of sha256(url)> */
        size_t rl = strlen(registered);
        assert_int_equal(strlen(path), rl + 9);
        assert_memory_equal(path, registered, rl);
        assert_int_equal(path[rl], '-');
        for (size_t i = rl + 1; i < rl + 9; i++) assert_non_null(strchr("0123456789abcdef", path[i]));
        snprintf(file, sizeof file, "%s/labels.csv", path);
        char *labels = slurp(file);
        assert_string_equal(labels, "name,label\ntrain/3/fake.png,3\n");
        free(labels);
        /* The registered copy: the same marker, the same inode, all 6131 threes. */
        char *marker_after = slurp(marker);
        assert_string_equal(marker_after, marker_before);
        free(marker_after);
        assert_int_equal(stat(marker, &after), 0);
        assert_int_equal(before.st_ino, after.st_ino);
        snprintf(file, sizeof file, "%s/train/3", registered);
        assert_int_equal(count_suffix(file, ".png"), 6131);
        /* Nor does its archive take the registered archive's name. */
        snprintf(file, sizeof file, "%s/archive/mnist_sample.tgz", shared_home);
        assert_false(exists(file));
        snprintf(file, sizeof file, "%s/archive/%s.tgz", shared_home, path + strlen(shared_home) + 6);
        assert_true(exists(file));
    }
    /* The registered name still gets the registered copy, untouched. */
    recorder r = {0};
    cg_get_options o = options(shared_home, mirror, &r);
    assert_int_equal(cg_dataset_get("mnist_sample", &o, path, sizeof path), CG_OK);
    assert_string_equal(path, registered);
    for (int s = 0; s < CG_GET_STAGE_COUNT; s++) assert_int_equal(r.calls[s], 0);
    /* Removing the ad-hoc dataset takes only it. */
    o = options(shared_home, "", NULL);
    assert_int_equal(cg_dataset_get(url, &o, path, sizeof path), CG_OK);
    assert_int_equal(cg_dataset_remove(url, &o), CG_OK);
    assert_false(exists(path));
    assert_int_equal(stat(marker, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    free(marker_before);
    assert_no_leftovers(shared_home);
    cg_remove_tree(dir);
}

/* A flipped byte in t10k-labels: CG_ERR_CHECKSUM, and the good cached copy stays. */
static void test_wrong_checksum_leaves_cache_as_it_was(void **state) {
    (void)state;
    char bad_mirror[256], path[4096], marker[4200], before[512], after[512];
    make_temp_dir(bad_mirror, sizeof bad_mirror, "badmirror");
    make_idx_mirror(bad_mirror, true, true);
    snprintf(marker, sizeof marker, "%s/data/mnist/.cgrad-complete", shared_home);
    assert_true(exists(marker)); /* from test_mirror_gets_mnist_with_md5s */
    FILE *fp = fopen(marker, "r");
    size_t got = fread(before, 1, sizeof before - 1, fp);
    before[got] = '\0';
    fclose(fp);

    cg_get_options o = options(shared_home, bad_mirror, NULL);
    o.force = true;
    assert_int_equal(cg_dataset_get("mnist", &o, path, sizeof path), CG_ERR_CHECKSUM);
    assert_non_null(strstr(cg_last_error(), "t10k-labels-idx1-ubyte.gz"));
    assert_non_null(strstr(cg_last_error(), "ec29112dd5afa0611ce80d1b7f02629c"));

    fp = fopen(marker, "r");
    assert_non_null(fp);
    got = fread(after, 1, sizeof after - 1, fp);
    after[got] = '\0';
    fclose(fp);
    assert_string_equal(before, after);
    char file[4200], md5[33];
    snprintf(file, sizeof file, "%s/data/mnist/t10k-labels-idx1-ubyte.gz", shared_home);
    assert_int_equal(cg_file_digest(file, "md5", md5, sizeof md5), CG_OK);
    assert_string_equal(md5, idx_md5[3]);
    assert_no_leftovers(shared_home);

    /* A forced get from the good mirror replaces the copy, leaving nothing behind. */
    struct stat old_marker, new_marker;
    assert_int_equal(stat(marker, &old_marker), 0);
    o.mirror = mirror;
    assert_int_equal(cg_dataset_get("mnist", &o, path, sizeof path), CG_OK);
    assert_int_equal(stat(marker, &new_marker), 0);
    assert_int_not_equal(old_marker.st_ino, new_marker.st_ino);
    assert_int_equal(cg_file_digest(file, "md5", md5, sizeof md5), CG_OK);
    assert_string_equal(md5, idx_md5[3]);
    assert_no_leftovers(shared_home);

    /* Into an empty home: nothing at all is cached. */
    char home[256], dir[4200];
    make_temp_dir(home, sizeof home, "home");
    o.home = home;
    o.force = false;
    o.mirror = bad_mirror;
    assert_int_equal(cg_dataset_get("mnist", &o, path, sizeof path), CG_ERR_CHECKSUM);
    snprintf(dir, sizeof dir, "%s/data/mnist", home);
    assert_false(exists(dir));
    assert_no_leftovers(home);
    cg_remove_tree(home);
    cg_remove_tree(bad_mirror);
}

/* The URL-prefix mirror (libcurl's file://): files named as in their URLs. */
static void test_file_url_mirror_through_libcurl(void **state) {
    (void)state;
    char dir[256], url[512], home[256], path[4096], file[4200], md5[33];
    make_temp_dir(dir, sizeof dir, "urlmirror");
    make_idx_mirror(dir, false, false);
    make_temp_dir(home, sizeof home, "home");
    snprintf(url, sizeof url, "file://%s", dir);
    recorder r = {0};
    cg_get_options o = options(home, url, &r);
    assert_int_equal(cg_dataset_get("mnist", &o, path, sizeof path), CG_OK);
    assert_true(r.calls[CG_GET_DOWNLOAD] >= 4);
    for (int i = 0; i < 4; i++) {
        snprintf(file, sizeof file, "%s/%s", path, idx_files[i]);
        assert_int_equal(cg_file_digest(file, "md5", md5, sizeof md5), CG_OK);
        assert_string_equal(md5, idx_md5[i]);
    }
    cg_remove_tree(home);
    cg_remove_tree(dir);

    /* The same with the flipped byte: refused after the download. */
    make_temp_dir(dir, sizeof dir, "urlmirror");
    make_idx_mirror(dir, false, true);
    make_temp_dir(home, sizeof home, "home");
    snprintf(url, sizeof url, "file://%s/", dir);
    o = options(home, url, NULL);
    assert_int_equal(cg_dataset_get("mnist", &o, path, sizeof path), CG_ERR_CHECKSUM);
    snprintf(file, sizeof file, "%s/data/mnist", home);
    assert_false(exists(file));
    assert_no_leftovers(home);

    /* A mirror missing a file: an io error naming it, after one try (not retried). */
    snprintf(file, sizeof file, "%s/t10k-labels-idx1-ubyte.gz", dir);
    unlink(file);
    assert_int_equal(cg_dataset_get("mnist", &o, path, sizeof path), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "t10k-labels-idx1-ubyte.gz"));
    assert_no_leftovers(home);
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* ---- archives ------------------------------------------------------------------------ */

static const entry tiny_entries[] = {
    {"tiny/", AE_IFDIR, 0, NULL},
    {"tiny/labels.csv", AE_IFREG, 0, "name,label\na.png,0\n"},
    {"tiny/train/a.png", AE_IFREG, 1000, NULL},
    {"tiny/train/b.png", AE_IFREG, 3000, NULL},
};

static void test_archive_url_local_and_file_mirror(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[4200], url[512];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    snprintf(archive, sizeof archive, "%s/tiny.tgz", dir);
    make_tgz(archive, tiny_entries, 4);
    make_temp_dir(home, sizeof home, "home");

    /* Named after the URL's file; the mirror serves it by that name. */
    cg_get_options o = options(home, dir, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/sets/tiny.tgz", &o, path, sizeof path), CG_OK);
    snprintf(file, sizeof file, "%s/data/tiny", home);
    assert_string_equal(path, file); /* the archive's top folder became the dataset */
    snprintf(file, sizeof file, "%s/labels.csv", path);
    void *data;
    size_t len;
    assert_int_equal(cg_read_file(file, &data, &len), CG_OK);
    assert_string_equal((char *)data, "name,label\na.png,0\n");
    free(data);
    snprintf(file, sizeof file, "%s/train/b.png", path);
    struct stat sb;
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_size, 3000);
    /* A local mirror's archive is read in place (not copied), its sha256 recorded. */
    snprintf(file, sizeof file, "%s/archive/tiny.tgz", home);
    assert_false(exists(file));
    snprintf(file, sizeof file, "%s/archive/tiny.tgz.sha256", home);
    assert_true(exists(file));

    /* Through file:// the archive is downloaded into <home>/archive, and its
     * sha256 recorded beside it once the dataset is good. */
    cg_remove_tree(home);
    make_temp_dir(home, sizeof home, "home");
    snprintf(url, sizeof url, "file://%s", dir);
    o = options(home, url, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/sets/tiny.tgz", &o, path, sizeof path), CG_OK);
    char sha[65], recorded_path[4200];
    assert_int_equal(cg_file_digest(archive, "sha256", sha, sizeof sha), CG_OK);
    snprintf(recorded_path, sizeof recorded_path, "%s/archive/tiny.tgz.sha256", home);
    assert_int_equal(cg_read_file(recorded_path, &data, &len), CG_OK);
    assert_int_equal(len, 65);
    assert_memory_equal(data, sha, 64);
    free(data);
    cg_cached_dataset *list;
    int n;
    assert_int_equal(cg_dataset_list_cached(&o, &list, &n), CG_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].sha256, sha);
    assert_int_equal(list[0].files, 3);
    assert_int_equal(list[0].bytes, strlen("name,label\na.png,0\n") + 1000 + 3000);
    free(list);

    /* Trust on first use: the same name with other bytes is refused, and the
     * cached copy stays. */
    entry changed[4];
    memcpy(changed, tiny_entries, sizeof changed);
    changed[1].text = "name,label\na.png,1\n";
    make_tgz(archive, changed, 4);
    o.force = true;
    assert_int_equal(cg_dataset_get("https://example.invalid/sets/tiny.tgz", &o, path, sizeof path), CG_ERR_CHECKSUM);
    assert_non_null(strstr(cg_last_error(), "sha256"));
    snprintf(file, sizeof file, "%s/data/tiny/labels.csv", home);
    assert_int_equal(cg_read_file(file, &data, &len), CG_OK);
    assert_string_equal((char *)data, "name,label\na.png,0\n");
    free(data);
    assert_no_leftovers(home);

    /* `rm` takes the dataset and its archive. */
    assert_int_equal(cg_dataset_remove("https://example.invalid/sets/tiny.tgz", &o), CG_OK);
    snprintf(file, sizeof file, "%s/data/tiny", home);
    assert_false(exists(file));
    snprintf(file, sizeof file, "%s/archive/tiny.tgz", home);
    assert_false(exists(file));
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* A truncated .tgz (a partial download, or a mirror mid-copy): a format error,
 * no dataset, and the corrupt download is not kept for next time. */
static void test_truncated_archive(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[4200], url[512];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    snprintf(archive, sizeof archive, "%s/trunc.tgz", dir);
    const entry entries[] = {
        {"trunc/a.bin", AE_IFREG, 200000, NULL},
        {"trunc/b.bin", AE_IFREG, 200000, NULL},
        {"trunc/c.bin", AE_IFREG, 200000, NULL},
    };
    make_tgz(archive, entries, 3);
    struct stat sb;
    assert_int_equal(stat(archive, &sb), 0);
    assert_int_equal(truncate(archive, sb.st_size / 2), 0);

    make_temp_dir(home, sizeof home, "home");
    cg_get_options o = options(home, dir, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/trunc.tgz", &o, path, sizeof path), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "trunc.tgz"));
    snprintf(file, sizeof file, "%s/data/trunc", home);
    assert_false(exists(file));
    assert_no_leftovers(home);

    snprintf(url, sizeof url, "file://%s", dir);
    o = options(home, url, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/trunc.tgz", &o, path, sizeof path), CG_ERR_FORMAT);
    assert_false(exists(file));
    snprintf(file, sizeof file, "%s/archive/trunc.tgz", home);
    assert_false(exists(file));
    assert_no_leftovers(home);

    /* Not an archive at all. */
    write_file(archive, "<html>404</html>", 16);
    assert_int_equal(cg_dataset_get("https://example.invalid/trunc.tgz", &o, path, sizeof path), CG_ERR_FORMAT);
    assert_no_leftovers(home);
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* A refused entry in the middle (climbing out with "..", or a symlink): the
 * files extracted before it are removed too, and nothing lands outside. */
static void test_bad_entry_midway(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[4200];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    make_temp_dir(home, sizeof home, "home");
    snprintf(archive, sizeof archive, "%s/evil.tgz", dir);
    const entry climbing[] = {
        {"evil/a.txt", AE_IFREG, 0, "a"},
        {"evil/b.txt", AE_IFREG, 0, "b"},
        {"evil/../../escaped.txt", AE_IFREG, 0, "gotcha"},
        {"evil/c.txt", AE_IFREG, 0, "c"},
    };
    make_tgz(archive, climbing, 4);
    cg_get_options o = options(home, dir, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/evil.tgz", &o, path, sizeof path), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), ".."));
    snprintf(file, sizeof file, "%s/data/evil", home);
    assert_false(exists(file));
    snprintf(file, sizeof file, "%s/escaped.txt", home);
    assert_false(exists(file));
    snprintf(file, sizeof file, "%s/data/escaped.txt", home);
    assert_false(exists(file));
    assert_no_leftovers(home);

    const entry linking[] = {
        {"evil/a.txt", AE_IFREG, 0, "a"},
        {"evil/passwd", AE_IFLNK, 0, "/etc/passwd"},
        {"evil/c.txt", AE_IFREG, 0, "c"},
    };
    make_tgz(archive, linking, 3);
    assert_int_equal(cg_dataset_get("https://example.invalid/evil.tgz", &o, path, sizeof path), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "symbolic link"));
    snprintf(file, sizeof file, "%s/data/evil", home);
    assert_false(exists(file));
    assert_no_leftovers(home);
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* What a process killed midway leaves (a temp folder, a partial download) is
 * cleaned up by the next get, which then succeeds. */
static void test_leftovers_of_a_killed_get_are_removed(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[4200], url[512];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    make_temp_dir(home, sizeof home, "home");
    snprintf(archive, sizeof archive, "%s/tiny.tgz", dir);
    make_tgz(archive, tiny_entries, 4);
    char stale_dir[4000], stale_download[4200];
    snprintf(stale_dir, sizeof stale_dir, "%s/data/.tiny.tmp.999999.0/tiny/train", home);
    assert_int_equal(cg_mkdirs(stale_dir), CG_OK);
    snprintf(file, sizeof file, "%s/a.png", stale_dir);
    write_file(file, "half", 4);
    snprintf(file, sizeof file, "%s/archive", home);
    assert_int_equal(cg_mkdirs(file), CG_OK);
    snprintf(stale_download, sizeof stale_download, "%s/archive/tiny.tgz.tmp.999999.0", home);
    write_file(stale_download, "partial", 7);
    /* A folder without a marker is not a dataset either. */
    snprintf(file, sizeof file, "%s/data/tiny", home);
    assert_int_equal(cg_mkdirs(file), CG_OK);

    snprintf(url, sizeof url, "file://%s", dir);
    cg_get_options o = options(home, url, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_OK);
    snprintf(file, sizeof file, "%s/data/.tiny.tmp.999999.0", home);
    assert_false(exists(file));
    assert_false(exists(stale_download));
    snprintf(file, sizeof file, "%s/train/b.png", path);
    assert_true(exists(file));
    assert_no_leftovers(home);
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* Gets tiny again after `damage`, checking the one repair message and that
 * the copy is whole again (and that the get after that reports nothing). */
static void expect_repair(const char *home, const char *dir, const char *message) {
    char path[4096], file[4200];
    recorder r = {0};
    cg_get_options o = options(home, dir, &r);
    /* Damaged means not cached: `list` leaves it out... unless only files went. */
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_OK);
    assert_int_equal(r.calls[CG_GET_REPAIR], 1);
    assert_contains(r.messages, message);
    assert_contains(r.messages, "; re-getting\n");
    snprintf(file, sizeof file, "%s/labels.csv", path);
    char *labels = slurp(file);
    assert_string_equal(labels, "name,label\na.png,0\n");
    free(labels);
    struct stat sb;
    snprintf(file, sizeof file, "%s/train/a.png", path);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_size, 1000);
    snprintf(file, sizeof file, "%s/train/b.png", path);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_size, 3000);
    snprintf(file, sizeof file, "%s/.cgrad-complete", path);
    char *marker = slurp(file);
    assert_memory_equal(marker, "cgrad-dataset 2\n", 16);
    free(marker);
    recorder r2 = {0};
    o = options(home, dir, &r2);
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_OK);
    for (int s = 0; s < CG_GET_STAGE_COUNT; s++) assert_int_equal(r2.calls[s], 0);
    assert_no_leftovers(home);
}

/* Every way a cached copy can be broken is found by the next get, said, and
 * repaired: files gone, a file cut short, a marker edited, garbled, missing or
 * written by an older cgrad, a file list edited. */
static void test_damaged_cache_is_regot(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[700], data[512];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    make_temp_dir(home, sizeof home, "home");
    snprintf(archive, sizeof archive, "%s/tiny.tgz", dir);
    make_tgz(archive, tiny_entries, 4);
    cg_get_options o = options(home, dir, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_OK);
    snprintf(data, sizeof data, "%s/data/tiny", home);
    assert_string_equal(path, data);

    /* The folder emptied (`rm -rf tiny/` followed by a star: the dot files stay). */
    snprintf(file, sizeof file, "%s/labels.csv", data);
    assert_int_equal(unlink(file), 0);
    snprintf(file, sizeof file, "%s/train", data);
    assert_int_equal(cg_remove_tree(file), CG_OK);
    expect_repair(home, dir, "tiny: 3 of 3 files missing (first: labels.csv)");

    /* A file cut short. */
    snprintf(file, sizeof file, "%s/train/b.png", data);
    assert_int_equal(truncate(file, 10), 0);
    expect_repair(home, dir, "tiny: 1 of 3 files changed size (first: train/b.png, 10 bytes, recorded 3000)");

    /* The marker edited: files=3 -> files=4 (its check line no longer matches). */
    snprintf(file, sizeof file, "%s/.cgrad-complete", data);
    char *marker = slurp(file);
    char *at = strstr(marker, "files=3\n");
    assert_non_null(at);
    at[6] = '4';
    write_file(file, marker, strlen(marker));
    free(marker);
    cg_cached_dataset *list;
    int n;
    assert_int_equal(cg_dataset_list_cached(&o, &list, &n), CG_OK);
    assert_int_equal(n, 0); /* a damaged marker: not cached */
    free(list);
    expect_repair(home, dir, "tiny: its marker is damaged");

    /* Garbage for a marker, then no marker at all. */
    write_file(file, "\x01\x02junk", 6);
    expect_repair(home, dir, "not a cgrad dataset marker");
    assert_int_equal(unlink(file), 0);
    expect_repair(home, dir, "has no completion marker");

    /* A marker as cgrad wrote it before file lists: not trusted, got again. */
    const char *v1 = "cgrad-dataset 1\nname=tiny\nsource=x\nsha256=\nfiles=3\nbytes=4019\n";
    write_file(file, v1, strlen(v1));
    assert_int_equal(cg_dataset_list_cached(&o, &list, &n), CG_OK);
    assert_int_equal(n, 1); /* listed as it was... */
    free(list);
    expect_repair(home, dir, "tiny: cached by an older cgrad"); /* ...but checked by getting it again */

    /* The file list edited. */
    snprintf(file, sizeof file, "%s/.cgrad-manifest", data);
    char *manifest = slurp(file);
    char *b = strstr(manifest, "3000 train/b.png\n");
    assert_non_null(b);
    b[0] = '4';
    write_file(file, manifest, strlen(manifest));
    free(manifest);
    expect_repair(home, dir, "tiny: its file list");
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* Temp files, temp folders and lock files of processes no longer running are
 * removed by the next get, each reported; those of live processes (this one,
 * a sleeping child, the holder of a lock) are kept until they are not. */
static void test_leftovers_of_dead_processes(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], data[512], arch[512];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    make_temp_dir(home, sizeof home, "home");
    snprintf(archive, sizeof archive, "%s/tiny.tgz", dir);
    make_tgz(archive, tiny_entries, 4);
    snprintf(data, sizeof data, "%s/data", home);
    snprintf(arch, sizeof arch, "%s/archive", home);
    assert_int_equal(cg_mkdirs(data), CG_OK);
    assert_int_equal(cg_mkdirs(arch), CG_OK);
    long dead = dead_pid(), me = getpid();
    pid_t child = sleeping_child();
    long live = child;

    enum { N = 13 };
    char p[N][700];
    snprintf(p[0], sizeof p[0], "%s/.tiny.tmp.%ld.0", data, dead);        /* removed: dead */
    snprintf(p[1], sizeof p[1], "%s/.other.tmp.%ld.3", data, dead);       /* removed: dead */
    snprintf(p[2], sizeof p[2], "%s/.other.old.%ld.4", data, dead);       /* removed: dead */
    snprintf(p[3], sizeof p[3], "%s/.ghost.lock", data);                  /* removed: records the dead pid */
    snprintf(p[4], sizeof p[4], "%s/.older.lock", data);                  /* removed: empty, held by no one */
    snprintf(p[5], sizeof p[5], "%s/other.tgz.tmp.%ld.1", arch, dead);    /* removed: dead */
    snprintf(p[6], sizeof p[6], "%s/other.tgz.sha256.tmp.%ld.2", arch, dead); /* removed: dead */
    snprintf(p[7], sizeof p[7], "%s/.other.tmp.%ld.5", data, live);       /* kept: the child lives */
    snprintf(p[8], sizeof p[8], "%s/.busy.lock", data);                   /* kept: records the child */
    snprintf(p[9], sizeof p[9], "%s/other.tgz.tmp.%ld.3", arch, live);    /* kept: the child lives */
    snprintf(p[10], sizeof p[10], "%s/.held.tmp.%ld.7", data, dead);      /* kept: .held.lock is held */
    snprintf(p[11], sizeof p[11], "%s/.held.lock", data);                 /* kept: held (records the dead pid) */
    snprintf(p[12], sizeof p[12], "%s/.other.tmp.%ld.6", data, me);       /* kept: this process lives */
    char file[800], text[32];
    for (int i = 0; i < N; i++) {
        bool folder = strstr(p[i], "/data/.") && !strstr(p[i], ".lock");
        if (folder) {
            assert_int_equal(cg_mkdirs(p[i]), CG_OK);
            snprintf(file, sizeof file, "%.700s/part.png", p[i]);
            write_file(file, "half", 4);
        } else {
            long pid = i == 3 || i == 11 ? dead : i == 8 ? live : 0;
            int len = pid ? snprintf(text, sizeof text, "%ld\n", pid) : 0;
            write_file(p[i], i == 4 ? "" : pid ? text : "partial", i == 4 ? 0 : pid ? (size_t)len : 7);
        }
    }
    int held = open(p[11], O_RDWR | O_CLOEXEC);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0);

    recorder r = {0};
    cg_get_options o = options(home, dir, &r);
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_OK);
    assert_int_equal(r.calls[CG_GET_CLEAN], 7);
    for (int i = 0; i < 7; i++) {
        if (exists(p[i])) fail_msg("%s was kept", p[i]);
        assert_contains(r.messages, p[i]);
    }
    char expect[900];
    snprintf(expect, sizeof expect, "removed %s, a temp folder left by process %ld (no longer running)\n", p[1], dead);
    assert_contains(r.messages, expect);
    snprintf(expect, sizeof expect, "removed %s, a lock file left by process %ld (no longer running)\n", p[3], dead);
    assert_contains(r.messages, expect);
    snprintf(expect, sizeof expect, "removed %s, a temp file left by process %ld (no longer running)\n", p[5], dead);
    assert_contains(r.messages, expect);
    assert_contains(r.messages, "(left by an older cgrad)");
    for (int i = 7; i < N; i++) {
        if (!exists(p[i])) fail_msg("%s was removed", p[i]);
        if (strstr(r.messages, p[i])) fail_msg("%s was reported", p[i]);
    }
    snprintf(file, sizeof file, "%s/.tiny.lock", data);
    assert_false(exists(file)); /* the get's own lock file goes when it unlocks */

    /* The child ends and the lock is let go: their leftovers go at the next get. */
    end_child(child);
    close(held);
    recorder r2 = {0};
    o = options(home, dir, &r2);
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_OK);
    assert_int_equal(r2.calls[CG_GET_CLEAN], 5);
    for (int i = 7; i < 12; i++) {
        if (exists(p[i])) fail_msg("%s was kept", p[i]);
        assert_contains(r2.messages, p[i]);
    }
    assert_true(exists(p[12])); /* this process still runs */
    assert_int_equal(cg_remove_tree(p[12]), CG_OK);
    assert_no_leftovers(home);
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* Cancelled by the progress callback halfway through extracting. */
static void test_cancel_during_extraction(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[4200];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    make_temp_dir(home, sizeof home, "home");
    snprintf(archive, sizeof archive, "%s/big.tgz", dir);
    entry entries[8];
    char names[8][32];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "big/part%d.bin", i);
        entries[i] = (entry){names[i], AE_IFREG, 100000, NULL};
    }
    make_tgz(archive, entries, 8);
    recorder r = {.cancel = true, .cancel_stage = CG_GET_EXTRACT};
    cg_get_options o = options(home, dir, &r);
    assert_int_equal(cg_dataset_get("https://example.invalid/big.tgz", &o, path, sizeof path), CG_ERR_CANCELLED);
    assert_true(r.cancelled);
    assert_true(r.cancelled_at > 0 && r.cancelled_at < r.cancelled_of); /* really midway */
    snprintf(file, sizeof file, "%s/data/big", home);
    assert_false(exists(file));
    assert_no_leftovers(home);

    /* And the next get, not cancelled, succeeds from scratch. */
    o = options(home, dir, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/big.tgz", &o, path, sizeof path), CG_OK);
    assert_int_equal(count_suffix(path, ".bin"), 8);
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* Cancelled halfway through a libcurl download: no partial archive kept. */
static void test_cancel_during_download(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[4200], url[512];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    make_temp_dir(home, sizeof home, "home");
    snprintf(archive, sizeof archive, "%s/big.tgz", dir);
    const entry entries[] = {{"big/blob.bin", AE_IFREG, 4000000, NULL}};
    make_tgz(archive, entries, 1);
    snprintf(url, sizeof url, "file://%s", dir);
    recorder r = {.cancel = true, .cancel_stage = CG_GET_DOWNLOAD};
    cg_get_options o = options(home, url, &r);
    assert_int_equal(cg_dataset_get("https://example.invalid/big.tgz", &o, path, sizeof path), CG_ERR_CANCELLED);
    assert_true(r.cancelled);
    assert_true(r.cancelled_at > 0 && r.cancelled_at < r.cancelled_of);
    snprintf(file, sizeof file, "%s/archive", home);
    assert_int_equal(count_suffix(file, ""), 2); /* . and ..: neither big.tgz nor a temp file of it */
    snprintf(file, sizeof file, "%s/data/big", home);
    assert_false(exists(file));
    assert_no_leftovers(home);
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* A registry archive is held to fastai's published size and md5
 * (fastai/data/checks.txt): a look-alike mnist_sample.tgz is refused. */
static void test_known_archive_checked_against_fastai_checksums(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], file[4200], url[512];
    make_temp_dir(dir, sizeof dir, "tgzmirror");
    make_temp_dir(home, sizeof home, "home");
    snprintf(archive, sizeof archive, "%s/mnist_sample.tgz", dir);
    const entry entries[] = {{"mnist_sample/labels.csv", AE_IFREG, 0, "name,label\n"}};
    make_tgz(archive, entries, 1);
    cg_get_options o = options(home, dir, NULL);
    assert_int_equal(cg_dataset_get("mnist_sample", &o, path, sizeof path), CG_ERR_CHECKSUM);
    assert_non_null(strstr(cg_last_error(), "expected 3214948"));
    snprintf(url, sizeof url, "file://%s", dir);
    o = options(home, url, NULL);
    assert_int_equal(cg_dataset_get("mnist_sample", &o, path, sizeof path), CG_ERR_CHECKSUM);
    snprintf(file, sizeof file, "%s/archive/mnist_sample.tgz", home);
    assert_false(exists(file)); /* the bad download is not kept */
    snprintf(file, sizeof file, "%s/data/mnist_sample", home);
    assert_false(exists(file));
    assert_no_leftovers(home);
    const cg_dataset_info *info = cg_dataset_find("mnist_sample");
    assert_string_equal(info->files[0].md5, "2dbc7ec6f9259b583af0072c55816a88");
    cg_remove_tree(home);
    cg_remove_tree(dir);
}

/* ---- real HTTP, on the loopback: retries, backoff, errors, stalls ------------------------
 * A scripted one-thread HTTP server on 127.0.0.1 (no other address is ever
 * used): each connection gets the next step's answer. */

typedef struct http_step {
    int status;         /* 200, 404, 503 */
    long declared;      /* Content-Length sent */
    long sent;          /* body bytes actually sent before closing */
    bool stall;         /* send headers, then nothing until the client gives up */
} http_step;

typedef struct http_server {
    int fd, port;
    const http_step *steps;
    int n_steps, served;
    const unsigned char *body;
    volatile int stop;
    pthread_t thread;
} http_server;

static void *serve(void *arg) {
    http_server *s = arg;
    while (!s->stop && s->served < s->n_steps) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) continue;
        char req[4096];
        size_t got = 0;
        while (got < sizeof req - 1) { /* read the request head */
            ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n")) break;
        }
        const http_step *st = &s->steps[s->served++];
        char head[256];
        int hl = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n",
                          st->status, st->status == 200 ? "OK" : "Error", st->declared);
        send(c, head, (size_t)hl, MSG_NOSIGNAL);
        if (st->stall) {
            char sink[64];
            while (recv(c, sink, sizeof sink, 0) > 0) { /* until the client hangs up */
            }
        } else if (st->sent > 0) {
            send(c, s->body, (size_t)st->sent, MSG_NOSIGNAL);
        }
        close(c);
    }
    return NULL;
}

static void http_start(http_server *s, const http_step *steps, int n, const unsigned char *body) {
    memset(s, 0, sizeof *s);
    s->steps = steps;
    s->n_steps = n;
    s->body = body;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(s->fd, 4), 0);
    socklen_t len = sizeof addr;
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&addr, &len), 0);
    s->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void http_stop(http_server *s) {
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static void test_http_retries_errors_and_stalls(void **state) {
    (void)state;
    char dir[256], archive[512], home[256], path[4096], url[128], file[4200];
    make_temp_dir(dir, sizeof dir, "httpsrc");
    snprintf(archive, sizeof archive, "%s/tiny.tgz", dir);
    make_tgz(archive, tiny_entries, 4);
    unsigned char *body;
    size_t body_len;
    assert_int_equal(cg_read_file(archive, (void **)&body, &body_len), CG_OK);
    long n = (long)body_len;

    /* Two 503s, then the file: got on the third try, the retries reported. */
    make_temp_dir(home, sizeof home, "home");
    http_step flaky[] = {{503, 0, 0, false}, {503, 0, 0, false}, {200, n, n, false}};
    http_server srv;
    http_start(&srv, flaky, 3, body);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sets", srv.port);
    recorder r = {0};
    cg_get_options o = options(home, url, &r);
    o.max_tries = 4;
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_OK);
    http_stop(&srv);
    assert_int_equal(srv.served, 3);
    assert_int_equal(r.calls[CG_GET_RETRY], 2);
    snprintf(file, sizeof file, "%s/train/b.png", path);
    assert_true(exists(file));
    cg_remove_tree(home);

    /* 404: fails at once, no retry. */
    make_temp_dir(home, sizeof home, "home");
    http_step missing[] = {{404, 0, 0, false}, {200, n, n, false}};
    http_start(&srv, missing, 2, body);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    o = options(home, url, NULL);
    o.max_tries = 4;
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_ERR_NETWORK);
    assert_non_null(strstr(cg_last_error(), "HTTP 404"));
    http_stop(&srv);
    assert_int_equal(srv.served, 1);

    /* The connection drops halfway, every time: retried, then a network error,
     * and no partial archive anywhere. */
    http_step cut[] = {{200, n, n / 2, false}, {200, n, n / 2, false}};
    http_start(&srv, cut, 2, body);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    o = options(home, url, NULL);
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_ERR_NETWORK);
    assert_non_null(strstr(cg_last_error(), "gave up after 2 tries"));
    http_stop(&srv);
    assert_int_equal(srv.served, 2);
    snprintf(file, sizeof file, "%s/archive", home);
    assert_int_equal(count_suffix(file, ""), 2); /* only . and .. */
    assert_no_leftovers(home);

    /* A server that stops sending: the stall timeout ends it. */
    http_step stall[] = {{200, n, 0, true}};
    http_start(&srv, stall, 1, body);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    o = options(home, url, NULL);
    o.max_tries = 1;
    o.stall_timeout_s = 1;
    double t0 = now_s();
    assert_int_equal(cg_dataset_get("https://example.invalid/tiny.tgz", &o, path, sizeof path), CG_ERR_NETWORK);
    double took = now_s() - t0;
    http_stop(&srv);
    assert_true(took >= 0.9 && took < 10.0);
    assert_int_equal(count_suffix(file, ""), 2);
    assert_no_leftovers(home);
    cg_remove_tree(home);
    free(body);
    cg_remove_tree(dir);
}

/* ---- names, mirrors, concurrency ------------------------------------------------------ */

static void test_unknown_name_and_missing_mirror_entry(void **state) {
    (void)state;
    char home[256], empty[256], path[4096];
    make_temp_dir(home, sizeof home, "home");
    make_temp_dir(empty, sizeof empty, "emptymirror");
    cg_get_options o = options(home, empty, NULL);
    assert_int_equal(cg_dataset_get("mnist_smaple", &o, path, sizeof path), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "mnist_smaple"));
    assert_non_null(strstr(cg_last_error(), "mnist_sample")); /* lists what is known */
    assert_null(cg_dataset_find("nope"));
    assert_non_null(cg_dataset_find("mnist_png"));
    assert_int_equal(cg_dataset_find("mnist_png")->n_counts, 20);

    /* A set mirror is authoritative: it says what it lacks, no silent internet. */
    assert_int_equal(cg_dataset_get("mnist_sample", &o, path, sizeof path), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "mnist_sample.tgz"));
    assert_non_null(strstr(cg_last_error(), "neither"));
    assert_no_leftovers(home);

    char small[8];
    assert_int_equal(cg_dataset_get("mnist", &o, small, sizeof small), CG_ERR_VALUE);
    cg_remove_tree(home);
    cg_remove_tree(empty);
}

typedef struct getter {
    const char *home;
    cg_status status;
    char path[4096];
} getter;

static void *get_mnist(void *arg) {
    getter *g = arg;
    cg_get_options o = options(g->home, mirror, NULL);
    g->status = cg_dataset_get("mnist", &o, g->path, sizeof g->path);
    return NULL;
}

/* Two gets of one dataset at once (two tests, two processes): the lock makes
 * the second wait and find it done. */
static void test_concurrent_gets(void **state) {
    (void)state;
    char home[256];
    make_temp_dir(home, sizeof home, "home");
    getter g[2] = {{.home = home}, {.home = home}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, get_mnist, &g[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    assert_int_equal(g[0].status, CG_OK);
    assert_int_equal(g[1].status, CG_OK);
    assert_string_equal(g[0].path, g[1].path);
    assert_no_leftovers(home);
    cg_remove_tree(home);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mirror_gets_mnist_sample),
        cmocka_unit_test(test_mirror_gets_mnist_with_md5s),
        cmocka_unit_test(test_list_shows_cached),
        cmocka_unit_test(test_deleted_pngs_are_regot),
        cmocka_unit_test(test_adhoc_url_cannot_shadow_registered),
        cmocka_unit_test(test_wrong_checksum_leaves_cache_as_it_was),
        cmocka_unit_test(test_file_url_mirror_through_libcurl),
        cmocka_unit_test(test_archive_url_local_and_file_mirror),
        cmocka_unit_test(test_truncated_archive),
        cmocka_unit_test(test_bad_entry_midway),
        cmocka_unit_test(test_leftovers_of_a_killed_get_are_removed),
        cmocka_unit_test(test_damaged_cache_is_regot),
        cmocka_unit_test(test_leftovers_of_dead_processes),
        cmocka_unit_test(test_cancel_during_extraction),
        cmocka_unit_test(test_cancel_during_download),
        cmocka_unit_test(test_known_archive_checked_against_fastai_checksums),
        cmocka_unit_test(test_http_retries_errors_and_stalls),
        cmocka_unit_test(test_unknown_name_and_missing_mirror_entry),
        cmocka_unit_test(test_concurrent_gets),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
