/* bench_data — getting the chapter's data into tensors, and the pixel-similarity
 * baseline on it.
 *
 *   load MNIST_SAMPLE PNGs    the 14,434 PNGs of train/{3,7}, valid/{3,7} into four
 *                             uint8 stacks (torch: [tensor(Image.open(o)) for o in
 *                             path.ls()] + torch.stack, the chapter's way)
 *   ... 1 thread              the same with OpenMP limited to one thread
 *   read MNIST IDX (4 .gz)    the four full-MNIST files (torch: gzip + numpy
 *                             frombuffer + from_numpy, what torchvision does)
 *   pixel similarity 3 vs 7   from the uint8 stacks: .float()/255, mean(0),
 *                             mnist_distance, is_3, the three accuracies
 *   pixel similarity 10 digits   full MNIST: ten mean digits from 60,000 images,
 *                             nearest mean (L1) for the 10,000 test images
 *
 * Prints RESULT<TAB>op<TAB>median ms lines and NOTE lines (bench/run.sh joins
 * them with bench/data_torch.py's).  Method, the same on both sides: 1 warm-up
 * run (which also warms the page cache), then repeat until 2 s have passed, at
 * least 3 and at most 20 runs; median.  Data comes through the dataset cache
 * (cg_untar_data: $CGRAD_HOME or ~/.cgrad, filled from $CGRAD_MIRROR if set). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"

static char sample_root[4096], mnist_root[4096];
static const char *const folders[4] = {"train/3", "train/7", "valid/3", "valid/7"};
static cg_strlist files[4];
static cg_tensor *stacks[4]; /* uint8, kept for the compute benches */
static cg_tensor *idx[4];    /* train images, train labels, test images, test labels */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    fprintf(stderr, "bench_data: %s: %s\n", what, cg_last_error());
    exit(1);
}

/* ---- the benched steps; each runs in its own scope ------------------------ */

static double check_value; /* a result of each run, so nothing is optimised away */

static void load_pngs(void) {
    for (int k = 0; k < 4; k++)
        if (!cg_png_read_many(&files[k], 0)) die(folders[k]);
}

static void read_idx(void) {
    static const char *const names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int k = 0; k < 4; k++) {
        char *file = cg_path_join(mnist_root, names[k]);
        if (!cg_idx_read(file)) die(names[k]);
        free(file);
    }
}

static cg_tensor *mnist_distance(cg_tensor *a, cg_tensor *b) {
    return cg_mean(cg_abs(cg_sub(a, b)), (int[]){-1, -2}, 2, false);
}

static void three_vs_seven(void) {
    cg_tensor *x[4];
    for (int k = 0; k < 4; k++) x[k] = cg_div_s(cg_float(stacks[k]), 255);
    cg_tensor *mean3 = cg_mean(x[0], (int[]){0}, 1, false), *mean7 = cg_mean(x[1], (int[]){0}, 1, false);
    cg_tensor *acc3 = cg_mean(cg_float(cg_lt(mnist_distance(x[2], mean3), mnist_distance(x[2], mean7))), NULL, 0, false);
    cg_tensor *acc7 = cg_mean(cg_rsub_s(1, cg_float(cg_lt(mnist_distance(x[3], mean3), mnist_distance(x[3], mean7)))), NULL, 0, false);
    if (cg_item(cg_div_s(cg_add(acc3, acc7), 2), &check_value) != CG_OK) die("3 vs 7");
}

static void ten_digits(void) {
    cg_tensor *x_train = cg_div_s(cg_float(idx[0]), 255), *x_test = cg_div_s(cg_float(idx[2]), 255);
    cg_tensor *onehot = cg_float(cg_eq(cg_unsqueeze(cg_long(idx[1]), 0), cg_unsqueeze(cg_arange(CG_INT64, 0, 10, 1), 1)));
    cg_tensor *sums = cg_matmul(onehot, cg_view(x_train, CG_SHAPE(60000, 784)));
    cg_tensor *means = cg_view(cg_div(sums, cg_sum(onehot, (int[]){1}, 1, true)), CG_SHAPE(10, 28, 28));
    cg_tensor *y_test = cg_long(idx[3]);
    double right = 0;
    for (int64_t i = 0; i < 10000; i += 1000) {
        cg_scope_begin();
        cg_tensor *d = mnist_distance(cg_unsqueeze(cg_slice(x_test, 0, i, i + 1000, 1), 1), means);
        double r = 0;
        if (cg_item(cg_sum(cg_eq(cg_argmin(d, 1, false), cg_slice(y_test, 0, i, i + 1000, 1)), NULL, 0, false), &r) != CG_OK)
            die("10 digits");
        right += r;
        cg_scope_end();
    }
    check_value = right / 10000;
}

static void load_pngs_one_thread(void) {
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    load_pngs();
    omp_set_num_threads(threads);
}

static void bench(const char *name, void (*step)(void)) {
    double times[20];
    int n = 0;
    cg_scope_begin();
    step(); /* warm-up */
    cg_scope_end();
    double start = now_ms();
    while (n < 20 && (n < 3 || now_ms() - start < 2000)) {
        double t0 = now_ms();
        cg_scope_begin();
        step();
        cg_scope_end();
        times[n++] = now_ms() - t0;
    }
    qsort(times, (size_t)n, sizeof *times, compare_doubles);
    printf("RESULT\t%s\t%.3f\n", name, times[n / 2]);
    fflush(stdout);
}

int main(void) {
    if (cg_untar_data("mnist_sample", sample_root, sizeof sample_root) != CG_OK) die("mnist_sample");
    if (cg_untar_data("mnist", mnist_root, sizeof mnist_root) != CG_OK) die("mnist");
    size_t n_png = 0;
    for (int k = 0; k < 4; k++) {
        char *dir = cg_path_join(sample_root, folders[k]);
        if (cg_ls(dir, &files[k]) != CG_OK) die(folders[k]);
        free(dir);
        n_png += files[k].count;
        if (!(stacks[k] = cg_png_read_many(&files[k], 0))) die(folders[k]);
    }
    static const char *const names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int k = 0; k < 4; k++) {
        char *file = cg_path_join(mnist_root, names[k]);
        if (!(idx[k] = cg_idx_read(file))) die(names[k]);
        free(file);
    }
    printf("NOTE\t%zu PNGs from %s; OpenMP threads %d\n", n_png, sample_root, omp_get_max_threads());

    bench("load MNIST_SAMPLE PNGs (14434)", load_pngs);
    bench("load MNIST_SAMPLE PNGs, 1 thread", load_pngs_one_thread);
    bench("read MNIST IDX (4 .gz files)", read_idx);
    bench("pixel similarity 3 vs 7", three_vs_seven);
    printf("NOTE\t3 vs 7 average accuracy %.4f\n", check_value);
    bench("pixel similarity 10 digits", ten_digits);
    printf("NOTE\t10 digits L1 accuracy %.4f\n", check_value);

    for (int k = 0; k < 4; k++) {
        cg_release(stacks[k]);
        cg_release(idx[k]);
        cg_strlist_free(&files[k]);
    }
    cg_pool_trim();
    return 0;
}
