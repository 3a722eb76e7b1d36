/* cgrad chapter4 — fastbook chapter 4 ("Under the Hood: Training a Digit
 * Classifier") in one run, in the book's order, on MNIST_SAMPLE:
 *
 *    1 get the data            untar_data(URLs.MNIST_SAMPLE), as `cgrad data get`
 *    2 look at a digit         im3, array(im3)[4:10,4:10], the shaded pixel table
 *    3 pixel similarity        mean3, mean7, the distances, the accuracies
 *    4 gradients               gv(...) the SGD loop, plot_function(f), xt.grad
 *    5 SGD on the quadratic    the roller coaster: speed, show_preds, apply_step
 *    6 linear from scratch     init_params, linear1, train_epoch, validate_epoch
 *    7 BasicOptim              nn.Linear + BasicOptim, then SGD
 *    8 the Learner             Learner(dls, nn.Linear(28*28,1), SGD, mnist_loss).fit(10, 1)
 *    9 simple_net              784-30-ReLU-1 .fit(40, 0.1), recorder.values, lr_find
 *   10 resnet18                vision_learner(resnet18).fit_one_cycle(1, 0.1),
 *                              the confusion matrix and the top losses
 *
 * stdout gets what the book's cells print; stderr the progress.  The report,
 * OUT/index.html, holds every figure of the chapter (embedded: the page is one
 * file), the book's numbers beside cgrad's, and each step's time.
 * --full does steps 3 and 8-10 on all ten digits of MNIST too; --quick is the
 * short smoke run CI makes (few epochs, resnet18 on 256 images). */
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cgrad.h"
#include "cgrad/chapter4.h"
#include "cgrad/interpretation.h"
#include "cli/cli_common.h"
#include "cli/cli_escape.h"
#include "cli/cli_paths.h"
#include "cli/commands.h"
#include "cli/train_setup.h"
#include "report/diagram.h"
#include "report/html_report.h"

#define CHAPTER4_ACCEPTS (CLI_OUT | CLI_QUIET | CLI_THREADS | CLI_SEED | CLI_DATA)

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad chapter4 [--quick|--full] [--out DIR] [--seed N] [--threads N]\n"
            "                      [--mirror M] [--home DIR] [--quiet]\n"
            "\n"
            "Runs fastbook chapter 4 in the book's order on MNIST_SAMPLE: the data, a digit and\n"
            "its pixel table, pixel similarity, gradients, SGD on the quadratic, the linear model\n"
            "from scratch, BasicOptim, the Learner's linear model, simple_net (with lr_find) and\n"
            "resnet18 with fit_one_cycle(1, 0.1).  Prints what the book prints on stdout (progress\n"
            "on stderr) and writes one self-contained HTML report with every figure:\n"
            "DIR/index.html (default DIR: ./cgrad-chapter4).\n"
            "\n"
            "options:\n"
            "  --quick           a smoke run: few epochs, resnet18 on 128+64 images (CI runs it)\n"
            "  --full            also all ten digits of full MNIST: pixel similarity on 10 means, a\n"
            "                    linear (softmax) model, an MLP 784-500-10 and resnet18 for one epoch\n");
    cli_common_help(f, CHAPTER4_ACCEPTS);
}

typedef struct run {
    bool quick, full, quiet;
    const char *out, *mirror, *home;
    uint64_t seed;
    int threads;
    char root[4096];       /* MNIST_SAMPLE */
    char mnist_root[4096]; /* full MNIST (--full) */
    cg_html_report *r;
    cg_mnist_sample data;  /* the chapter's train_x, train_y, valid_x, valid_y */
    cg_ch4_pixsim pix;
    /* the step being run */
    int step, n_steps;
    double wall0, cpu0, wall_total, cpu_total;
} run;

/* ---- small helpers ------------------------------------------------------------ */

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) { /* user + sys of the whole process, all threads */
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec * 1e-6;
}

/* Resident memory now and at its peak, in MiB (/proc/self/statm, getrusage). */
static double rss_now_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    int got = f ? fscanf(f, "%lld %lld", &size, &resident) : 0;
    if (f) fclose(f);
    return got == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0 : 0;
}

static double rss_peak_mib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* KiB on Linux */
}

static void progress(const run *c, const char *fmt, ...) {
    if (c->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chapter4: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static cg_status step_begin(run *c, const char *title) {
    c->step++;
    printf("\n## %d. %s\n", c->step, title);
    fflush(stdout);
    progress(c, "[%d/%d] %s", c->step, c->n_steps, title);
    char h[256];
    snprintf(h, sizeof h, "%d. %s", c->step, title);
    c->wall0 = wall_now(), c->cpu0 = cpu_now();
    return cg_html_heading(c->r, 2, h);
}

/* Gives the memory a finished step freed back to the system: the tensor
 * pool's cached buffers (kept for reuse by same-sized tensors, which the next
 * step, another model on other data, mostly does not make) and glibc's free
 * heap.  Only allocation changes; no number does. */
static void give_back_memory(void) {
    cg_pool_trim();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static cg_status step_end(run *c) {
    give_back_memory();
    double wall = wall_now() - c->wall0, cpu = cpu_now() - c->cpu0;
    c->wall_total += wall, c->cpu_total += cpu;
    double rss = rss_now_mib(), peak = rss_peak_mib();
    progress(c, "[%d/%d] done: %.1f s wall, %.1f s CPU, %.0f MiB resident (peak so far %.0f MiB)", c->step,
             c->n_steps, wall, cpu, rss, peak);
    char line[256];
    snprintf(line, sizeof line,
             "<p class=\"time\">step %d: %.2f s wall, %.2f s CPU (user+sys, all threads); %.0f MiB resident after "
             "it, %.0f MiB at the peak so far</p>\n",
             c->step, wall, cpu, rss, peak);
    return cg_html_raw(c->r, line);
}

/* A double as Python's repr prints it: the shortest text that reads back the same. */
static void py_float(double v, char *buf, size_t n) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eni")) strncat(buf, ".0", n - strlen(buf) - 1);
}

/* An accuracy as validate_epoch's round(x, 4) prints: 0.9696, 0.97, 0.5 */
static void py_round4(double acc, char *buf, size_t n) {
    snprintf(buf, n, "%.4f", acc);
    size_t k = strlen(buf);
    while (k > 3 && buf[k - 1] == '0') buf[--k] = '\0';
}

/* Prints cg_format(t) (PyTorch's repr) after a label; also returns it in buf. */
static cg_status print_tensor(const char *label, cg_tensor *t, char *buf, size_t n) {
    char *s = t ? cg_format(t) : NULL;
    if (!s) return cg_last_status();
    printf("%s%s\n", label, s);
    if (buf) snprintf(buf, n, "%s", s);
    free(s);
    return CG_OK;
}

/* Embeds the picture a library call wrote to the scratch file `name`. */
typedef cg_status (*save_fn)(const void *ctx, const char *path);
static cg_status figure(run *c, const char *name, save_fn save, const void *ctx, const char *caption, int width) {
    char path[4300];
    cg_status st = cg_html_scratch_path(c->r, name, path, sizeof path);
    if (st == CG_OK) st = save(ctx, path);
    return st == CG_OK ? cg_html_embed_file(c->r, path, name, caption, width) : st;
}

typedef struct image_ctx {
    const cg_tensor *t;
    int scale;
} image_ctx;
static cg_status save_image(const void *ctx, const char *path) {
    const image_ctx *i = ctx;
    return cg_show_image_png(i->t, path, i->scale);
}
static cg_status save_plot(const void *ctx, const char *path) { return cg_plot_save(ctx, path); }

static cg_status show_image(run *c, const char *name, const cg_tensor *t, int scale, const char *caption) {
    image_ctx i = {t, scale};
    return figure(c, name, save_image, &i, caption, 0);
}

/* plot_function(f, tx, ty, title, min, max): f on torch.linspace(min, max, 100) (fastbook's utils). */
static cg_status plot_function(run *c, const char *name, cg_tensor *(*f)(cg_tensor *), const char *tx,
                               const char *ty, const char *title, double min, double max, const double *mark) {
    cg_scope_begin();
    cg_tensor *x = cg_linspace(min, max, 100);
    cg_tensor *y = x ? cg_contiguous(f(x)) : NULL;
    double xs[100], ys[100];
    cg_status st = y ? CG_OK : cg_last_status();
    for (int i = 0; st == CG_OK && i < 100; i++) {
        xs[i] = cg_get(x, (int64_t[]){i});
        ys[i] = cg_get(y, (int64_t[]){i});
    }
    cg_scope_end();
    if (st != CG_OK) return st;
    cg_plot p;
    cg_plot_init(&p, title, tx, ty);
    p.width = 600, p.height = 400; /* figsize (6,4) */
    st = cg_plot_add_series(&p, NULL, xs, ys, 100);
    if (st == CG_OK && mark) st = cg_plot_add_point(&p, mark[0], mark[1], NULL); /* plt.scatter(..., color='red') */
    char caption[128];
    snprintf(caption, sizeof caption, "plot_function(%s)%s", title ? title : ty ? ty : "", mark ? " and the red point" : "");
    return st == CG_OK ? figure(c, name, save_plot, &p, caption, 480) : st;
}

static cg_tensor *square(cg_tensor *x) { return cg_pow_s(x, 2); }
static cg_tensor *sigmoid(cg_tensor *x) { return cg_sigmoid(x); }
static cg_tensor *relu(cg_tensor *x) { return cg_relu(x); }

/* ---- 1. the data ------------------------------------------------------------------ */

/* `cgrad data get NAME` itself (its progress, checks and printing), then the
 * path the library now finds in the cache. */
static cg_status get_dataset(run *c, const char *name, char *root, size_t size) {
    char *argv[8] = {"data", "get", (char *)name};
    int argc = 3;
    if (c->home) argv[argc++] = "--home", argv[argc++] = (char *)c->home;
    if (c->mirror) argv[argc++] = "--mirror", argv[argc++] = (char *)c->mirror;
    if (c->quiet) argv[argc++] = "--quiet";
    fflush(stdout);
    if (cmd_data(argc, argv) != 0) return cg_fail(CG_ERR_IO, "%s could not be got (see above)", name);
    return cg_untar_data(name, root, size);
}

static cg_status step_data(run *c) {
    cg_status st = step_begin(c, "Get the data: path = untar_data(URLs.MNIST_SAMPLE)");
    if (st == CG_OK) st = get_dataset(c, "mnist_sample", c->root, sizeof c->root);
    if (st == CG_OK && c->full) st = get_dataset(c, "mnist", c->mnist_root, sizeof c->mnist_root);
    cg_strlist top = {0}, threes = {0};
    char *train3 = cg_path_join(c->root, "train/3");
    if (st == CG_OK) st = train3 ? cg_ls(c->root, &top) : cg_fail(CG_ERR_NOMEM, "out of memory");
    if (st == CG_OK) st = cg_ls_ext(train3, ".png", &threes);
    if (st == CG_OK) {
        char line[1024] = "";
        size_t shown = 0; /* the cache's own dot files (marker, manifest) are not the dataset's */
        for (size_t i = 0; i < top.count; i++) {
            char item[300];
            if (cg_path_name(top.items[i])[0] == '.') continue;
            snprintf(item, sizeof item, "%sPath('%s')", shown++ ? "," : "", cg_path_name(top.items[i]));
            strncat(line, item, sizeof line - strlen(line) - 1);
        }
        printf("path.ls(): (#%zu) [%s]\n", shown, line);
        printf("threes = (path/'train'/'3').ls().sorted(): (#%zu) [Path('train/3/%s'),Path('train/3/%s'),...]\n",
               threes.count, threes.count ? cg_path_name(threes.items[0]) : "",
               threes.count > 1 ? cg_path_name(threes.items[1]) : "");
        st = cg_html_para(c->r, "untar_data(URLs.MNIST_SAMPLE) = %s, got through `cgrad data get mnist_sample` "
                          "(download or mirror, checksum, atomic unpack). path.ls(): (#%zu) [%s]; train/3 holds %zu images.",
                          c->root, shown, line, threes.count);
        if (st == CG_OK && c->full) st = cg_html_para(c->r, "Full MNIST (--full): %s", c->mnist_root);
    }
    cg_strlist_free(&top);
    cg_strlist_free(&threes);
    free(train3);
    /* the chapter's tensors, used from step 6 on (stacked, .float()/255, cat, view) */
    if (st == CG_OK) st = cg_mnist_sample_load(c->root, &c->data);
    return st == CG_OK ? step_end(c) : st;
}

/* ---- 2. a digit ----------------------------------------------------------------------- */

static cg_status step_digit(run *c) {
    cg_status st = step_begin(c, "Look at a digit: im3 = Image.open(threes[1])");
    if (st != CG_OK) return st;
    cg_scope_begin();
    char *dir = cg_path_join(c->root, "train/3");
    cg_strlist threes = {0};
    st = dir ? cg_ls_ext(dir, ".png", &threes) : cg_fail(CG_ERR_NOMEM, "out of memory");
    free(dir);
    if (st == CG_OK && threes.count < 2) st = cg_fail(CG_ERR_FORMAT, "%s/train/3 holds fewer than 2 images", c->root);
    cg_tensor *im3_t = st == CG_OK ? cg_png_read(threes.items[1], 0) : NULL;
    if (st == CG_OK && !im3_t) st = cg_last_status();
    char path_line[600] = "";
    if (st == CG_OK) {
        snprintf(path_line, sizeof path_line, "im3_path = threes[1]: train/3/%s", cg_path_name(threes.items[1]));
        printf("%s\n", cli_esc(path_line));
    }
    cg_strlist_free(&threes);
    char table[4096] = "";
    if (st == CG_OK) /* array(im3)[4:10,4:10] */
        st = print_tensor("tensor(im3)[4:10,4:10]:\n", cg_slice(cg_slice(im3_t, 0, 4, 10, 1), 1, 4, 10, 1), table,
                          sizeof table);
    cg_tensor *view = st == CG_OK ? cg_slice(cg_slice(im3_t, 0, 4, 15, 1), 1, 4, 22, 1) : NULL;
    if (st == CG_OK) {
        /* df = pd.DataFrame(im3_t[4:15,4:22]); df.style.background_gradient('Greys') */
        char *text = cg_render_pixel_table(view, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
        if (!text) st = cg_last_status();
        else printf("im3_t[4:15,4:22], background_gradient('Greys'):\n%s", text);
        free(text);
    }
    if (st == CG_OK) st = cg_html_para(c->r, "%s", path_line);
    if (st == CG_OK) st = show_image(c, "im3.png", im3_t, 6, "im3 (show_image, cmap 'Greys')");
    if (st == CG_OK) st = cg_html_para(c->r, "tensor(im3)[4:10,4:10]:");
    if (st == CG_OK) st = cg_html_pre(c->r, table);
    if (st == CG_OK) st = cg_html_para(c->r, "df = pd.DataFrame(im3_t[4:15,4:22]); df.style.background_gradient('Greys'):");
    if (st == CG_OK) st = cg_html_pixel_table(c->r, view, 4, 4);
    cg_scope_end();
    return st == CG_OK ? step_end(c) : st;
}

/* ---- 3. pixel similarity ---------------------------------------------------------------- */

static void fmt4(char *buf, size_t n, double v) { snprintf(buf, n, "%.4f", v); }

static cg_status step_pixels(run *c) {
    cg_status st = step_begin(c, "Pixel similarity: the distance to mean3 and mean7");
    if (st == CG_OK) st = cg_ch4_pixel_similarity(c->root, &c->pix);
    if (st != CG_OK) return st;
    const cg_ch4_pixsim *p = &c->pix;
    printf("len(three_tensors),len(seven_tensors): (%lld, %lld)\n", (long long)p->n_train3, (long long)p->n_train7);
    printf("stacked_threes.shape: torch.Size([%lld, %lld, %lld])\n", (long long)p->n_train3, (long long)p->height,
           (long long)p->width);
    printf("dist_3_abs,dist_3_sqr: (tensor(%.4f), tensor(%.4f))\n", p->dist_3_abs, p->dist_3_sqr);
    printf("dist_7_abs,dist_7_sqr: (tensor(%.4f), tensor(%.4f))\n", p->dist_7_abs, p->dist_7_sqr);
    printf("F.l1_loss(a_3.float(),mean7), F.mse_loss(a_3,mean7).sqrt(): (tensor(%.4f), tensor(%.4f))\n", p->l1_7,
           p->mse_sqrt_7);
    printf("valid_3_tens.shape,valid_7_tens.shape: (torch.Size([%lld, %lld, %lld]), torch.Size([%lld, %lld, %lld]))\n",
           (long long)p->n_valid3, (long long)p->height, (long long)p->width, (long long)p->n_valid7,
           (long long)p->height, (long long)p->width);
    printf("accuracy_3s,accuracy_7s,(accuracy_3s+accuracy_7s)/2: (tensor(%.4f), tensor(%.4f), tensor(%.4f))\n",
           p->accuracy_3s, p->accuracy_7s, p->average);
    printf("(%lld of %lld threes and %lld of %lld sevens right)\n", (long long)p->right_3s, (long long)p->n_valid3,
           (long long)p->right_7s, (long long)p->n_valid7);

    st = cg_html_row_begin(c->r);
    if (st == CG_OK) st = show_image(c, "mean3.png", p->mean3, 6, "show_image(mean3)");
    if (st == CG_OK) st = show_image(c, "mean7.png", p->mean7, 6, "show_image(mean7)");
    if (st == CG_OK) st = show_image(c, "a_3.png", p->a_3, 6, "show_image(a_3)");
    if (st == CG_OK) st = cg_html_row_end(c->r);
    char v[8][32], sizes[64];
    fmt4(v[0], 32, p->dist_3_abs), fmt4(v[1], 32, p->dist_3_sqr), fmt4(v[2], 32, p->dist_7_abs);
    fmt4(v[3], 32, p->dist_7_sqr), fmt4(v[4], 32, p->accuracy_3s), fmt4(v[5], 32, p->accuracy_7s);
    fmt4(v[6], 32, p->average);
    snprintf(sizes, sizeof sizes, "%lld, %lld, %lld, %lld", (long long)p->n_train3, (long long)p->n_train7,
             (long long)p->n_valid3, (long long)p->n_valid7);
    snprintf(v[7], 32, "%lld of %lld", (long long)p->right_3s, (long long)p->n_valid3);
    const cg_html_compare_row rows[] = {
        {"images train/3, train/7, valid/3, valid/7", "6131, 6265, 1010, 1028", sizes},
        {"dist_3_abs (L1 of a_3 to mean3)", "0.1114", v[0]},
        {"dist_3_sqr (RMSE to mean3)", "0.2021", v[1]},
        {"dist_7_abs (L1 to mean7)", "0.1586", v[2]},
        {"dist_7_sqr (RMSE to mean7)", "0.3021", v[3]},
        {"accuracy_3s", "0.9168", v[4]},
        {"threes right", "926 of 1010", v[7]},
        {"accuracy_7s", "0.9854", v[5]},
        {"average", "0.9511", v[6]},
    };
    if (st == CG_OK) st = cg_html_compare(c->r, rows, (int)(sizeof rows / sizeof rows[0]));
    if (st == CG_OK && c->full) {
        /* the ten-digit version is `cgrad pixel-similarity --digits 10` itself */
        char dir[4300];
        st = cg_html_scratch_path(c->r, "digits10", dir, sizeof dir);
        char *argv[] = {"pixel-similarity", "--digits", "10", "--no-color", "--out", dir};
        printf("\nall ten digits (full MNIST), `cgrad pixel-similarity --digits 10`:\n");
        fflush(stdout);
        give_back_memory(); /* MNIST_SAMPLE's stacked images, before full MNIST's */
        if (st == CG_OK && cmd_pixel_similarity(6, argv) != 0)
            st = cg_fail(CG_ERR_VALUE, "pixel similarity on ten digits failed (see above)");
        char png[4400];
        snprintf(png, sizeof png, "%s/means.png", dir);
        if (st == CG_OK)
            st = cg_html_para(c->r, "--full: each MNIST test image goes to the nearest of the ten mean training "
                              "digits (the accuracies are printed on stdout; PyTorch on the same files: L1 0.6685, "
                              "RMSE 0.8203).");
        if (st == CG_OK) st = cg_html_embed_file(c->r, png, "means", "the ten mean digits", 0);
    }
    return st == CG_OK ? step_end(c) : st;
}

/* ---- 4. gradients ----------------------------------------------------------------------- */

static const char sgd_loop[] = "init->predict->loss->gradient->step->stop\nstep->predict[label=repeat]";

static cg_status step_gradients(run *c) {
    cg_status st = step_begin(c, "Gradients: the SGD loop, f(x) = x**2 and xt.grad");
    if (st != CG_OK) return st;
    /* gv('''init->predict->loss->gradient->step->stop
     *       step->predict[label=repeat]''') */
    char *svg = NULL;
    size_t n = 0;
    st = cg_gv_svg(sgd_loop, &svg, &n);
    if (st == CG_OK)
        st = cg_html_image(c->r, "image/svg+xml", svg, n, "the SGD loop",
                           "gv('init->predict->loss->gradient->step->stop; step->predict[label=repeat]'), laid out by Graphviz",
                           0);
    free(svg);
    if (st == CG_OK) printf("gv(...): the SGD loop diagram, laid out by Graphviz (in the report)\n");
    /* plot_function(f, 'x', 'x**2'); plt.scatter(-1.5, f(-1.5), color='red') */
    if (st == CG_OK) st = plot_function(c, "x2.svg", square, "x", "x**2", NULL, -2, 2, (double[]){-1.5, 2.25});
    char s[5][256] = {{0}};
    cg_scope_begin();
    /* xt = tensor(3.).requires_grad_(); yt = f(xt); yt.backward(); xt.grad */
    cg_tensor *xt = st == CG_OK ? cg_requires_grad_(cg_scalar(3.0), true) : NULL;
    cg_tensor *yt = xt ? square(xt) : NULL;
    if (st == CG_OK) st = print_tensor("yt = f(xt): ", yt, s[0], sizeof s[0]);
    if (st == CG_OK) st = cg_backward(yt, NULL);
    if (st == CG_OK) st = print_tensor("xt.grad: ", xt->grad, s[1], sizeof s[1]);
    /* xt = tensor([3.,4.,10.]).requires_grad_(); f(x) = (x**2).sum() */
    cg_tensor *xv = st == CG_OK ? cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){3, 4, 10}), true) : NULL;
    if (st == CG_OK) st = print_tensor("xt: ", xv, s[2], sizeof s[2]);
    cg_tensor *yv = xv ? cg_sum(cg_pow_s(xv, 2), NULL, 0, false) : NULL;
    if (st == CG_OK) st = print_tensor("yt = f(xt): ", yv, s[3], sizeof s[3]);
    if (st == CG_OK) st = cg_backward(yv, NULL);
    if (st == CG_OK) st = print_tensor("xt.grad: ", xv->grad, s[4], sizeof s[4]);
    cg_scope_end();
    const cg_html_compare_row rows[] = {
        {"xt = tensor(3.); yt = f(xt)", "tensor(9., grad_fn=<PowBackward0>)", s[0]},
        {"xt.grad", "tensor(6.)", s[1]},
        {"xt = tensor([3.,4.,10.]).requires_grad_()", "tensor([ 3.,  4., 10.], requires_grad=True)", s[2]},
        {"yt = (xt**2).sum()", "tensor(125., grad_fn=<SumBackward0>)", s[3]},
        {"xt.grad", "tensor([ 6.,  8., 20.])", s[4]},
    };
    if (st == CG_OK) st = cg_html_compare(c->r, rows, 5);
    return st == CG_OK ? step_end(c) : st;
}

/* ---- 5. the roller coaster -------------------------------------------------------------------- */

/* show_preds(preds): the speeds and, in red, the predictions, ylim (-300, 100). */
static cg_status show_preds(run *c, const char *name, const double *time, const double *speed, cg_tensor *preds,
                            const char *caption) {
    double pr[20];
    for (int i = 0; i < 20; i++) pr[i] = cg_get(preds, (int64_t[]){i});
    cg_plot p;
    cg_plot_init(&p, NULL, NULL, NULL);
    p.width = 400, p.height = 300;
    p.ylim = true, p.ymin = -300, p.ymax = 100;
    cg_status st = cg_plot_add_scatter(&p, NULL, time, speed, 20, 0);
    if (st == CG_OK) st = cg_plot_add_scatter(&p, NULL, time, pr, 20, 0xd62728);
    return st == CG_OK ? figure(c, name, save_plot, &p, caption, 0) : st;
}

static cg_status step_speed(run *c) {
    cg_status st = step_begin(c, "SGD on the quadratic: the roller coaster's speed");
    if (st != CG_OK) return st;
    cg_scope_begin();
    cg_manual_seed(c->seed);
    cg_tensor *time = NULL, *speed = NULL;
    st = cg_ch4_speed_data(&time, &speed);
    cg_tensor *params = st == CG_OK ? cg_requires_grad_(cg_randn(NULL, CG_SHAPE(3)), true) : NULL;
    cg_tensor *orig_params = params ? cg_clone(cg_detach(params)) : NULL;
    if (st == CG_OK && !orig_params) st = cg_last_status();
    double t[20], s[20];
    for (int i = 0; st == CG_OK && i < 20; i++) t[i] = cg_get(time, (int64_t[]){i}), s[i] = cg_get(speed, (int64_t[]){i});
    if (st == CG_OK) st = print_tensor("speed = torch.randn(20)*3 + 0.75*(time-9.5)**2 + 1:\n", speed, NULL, 0);
    if (st == CG_OK) { /* plt.scatter(time, speed) */
        cg_plot p;
        cg_plot_init(&p, NULL, NULL, NULL);
        p.width = 480, p.height = 360;
        st = cg_plot_add_scatter(&p, NULL, t, s, 20, 0);
        if (st == CG_OK) st = figure(c, "speed.svg", save_plot, &p, "plt.scatter(time, speed)", 0);
    }
    if (st == CG_OK) st = print_tensor("params = torch.randn(3).requires_grad_(): ", params, NULL, 0);
    /* preds = f(time, params); show_preds(preds); loss = mse(preds, speed) */
    cg_tensor *preds = st == CG_OK ? cg_ch4_quadratic(time, params) : NULL;
    cg_tensor *loss = preds ? cg_mean(cg_pow_s(cg_sub(preds, speed), 2), NULL, 0, false) : NULL;
    if (st == CG_OK) st = print_tensor("loss = mse(preds, speed): ", loss, NULL, 0);
    if (st == CG_OK) st = show_preds(c, "preds0.svg", t, s, cg_detach(preds), "show_preds(preds): the initial guess");
    if (st == CG_OK) st = cg_backward(loss, NULL);
    if (st == CG_OK) st = print_tensor("params.grad: ", params->grad, NULL, 0);
    if (st == CG_OK) cg_clear_grad(params);
    /* for i in range(10): apply_step(params) */
    const double lr = 1e-5;
    char losses[512] = "";
    if (st == CG_OK) printf("for i in range(10): apply_step(params)\n");
    for (int i = 0; st == CG_OK && i < 10; i++) {
        double l;
        st = cg_ch4_apply_step(params, time, speed, lr, &l, NULL);
        char b[40];
        py_float(l, b, sizeof b);
        if (st == CG_OK) printf("%s\n", b);
        strncat(losses, b, sizeof losses - strlen(losses) - 2);
        strncat(losses, i < 9 ? ", " : "", sizeof losses - strlen(losses) - 1);
    }
    if (st == CG_OK) st = cg_html_para(c->r, "for i in range(10): apply_step(params) printed the losses %s.", losses);
    /* params = orig_params.detach().requires_grad_()
     * _,axs = plt.subplots(1,4); for ax in axs: show_preds(apply_step(params, False), ax) */
    cg_tensor *again = st == CG_OK ? cg_requires_grad_(cg_clone(orig_params), true) : NULL;
    if (st == CG_OK && !again) st = cg_last_status();
    if (st == CG_OK) st = cg_html_row_begin(c->r);
    for (int i = 0; st == CG_OK && i < 4; i++) {
        double l;
        cg_tensor *pr = NULL;
        st = cg_ch4_apply_step(again, time, speed, lr, &l, &pr);
        char name[32], caption[64];
        snprintf(name, sizeof name, "preds%d.svg", i + 1);
        snprintf(caption, sizeof caption, "show_preds(apply_step(params, False)) %d (loss %.1f)", i + 1, l);
        if (st == CG_OK) st = show_preds(c, name, t, s, pr, caption);
    }
    if (st == CG_OK) st = cg_html_row_end(c->r);
    cg_scope_end();
    return st == CG_OK ? step_end(c) : st;
}

/* ---- 6. linear from scratch ---------------------------------------------------------------------- */

/* One line of accuracies: the HTML plot of them against the epoch. */
static cg_status plot_accs(run *c, const char *name, const double *accs, int n, const char *title) {
    cg_plot p;
    cg_plot_init(&p, title, "epoch", "validate_epoch accuracy");
    p.width = 600, p.height = 400;
    cg_status st = cg_plot_add_series(&p, NULL, NULL, accs, n);
    return st == CG_OK ? figure(c, name, save_plot, &p, title, 480) : st;
}

static cg_status step_linear(run *c) {
    cg_status st = step_begin(c, "Linear from scratch: init_params, linear1, train_epoch");
    if (st != CG_OK) return st;
    /* plot_function(torch.sigmoid, title='Sigmoid', min=-4, max=4) */
    st = plot_function(c, "sigmoid.svg", sigmoid, NULL, NULL, "Sigmoid", -4, 4, NULL);
    char s1[64], s2[64];
    printf("train_x.shape,train_y.shape: (torch.Size(%s), torch.Size(%s))\n",
           cg_shape_str(c->data.train_x, s1, sizeof s1), cg_shape_str(c->data.train_y, s2, sizeof s2));
    int epochs = c->quick ? 2 : 20;
    cg_manual_seed(c->seed);
    cg_ch4_linear1 m = {cg_init_params(CG_SHAPE(28 * 28, 1), 1.0), cg_init_params(CG_SHAPE(1), 1.0)};
    cg_dataloaders *dls = m.weights && m.bias ? cg_mnist_sample_dls(&c->data, 256) : NULL;
    if (st == CG_OK && !dls) st = cg_last_status();
    double accs[32];
    int n = 0;
    char line[1024] = "", b[32];
    if (st == CG_OK) accs[n++] = cg_ch4_validate_epoch(cg_ch4_linear1_forward, &m, dls->valid);
    if (st == CG_OK && accs[0] < 0) st = cg_last_status();
    if (st == CG_OK) py_round4(accs[0], b, sizeof b), printf("validate_epoch(linear1): %s\n", b);
    cg_tensor *params[2] = {m.weights, m.bias};
    for (int e = 0; st == CG_OK && e <= epochs; e++) {
        st = cg_ch4_train_epoch(cg_ch4_linear1_forward, &m, dls->train, 1.0, params, 2);
        double a = st == CG_OK ? cg_ch4_validate_epoch(cg_ch4_linear1_forward, &m, dls->valid) : -1;
        if (st == CG_OK && a < 0) st = cg_last_status();
        if (st != CG_OK) break;
        accs[n++] = a;
        py_round4(a, b, sizeof b);
        if (e == 0) printf("train_epoch(linear1, lr, params); validate_epoch(linear1): %s\n", b);
        else {
            strncat(line, b, sizeof line - strlen(line) - 2);
            strncat(line, " ", sizeof line - strlen(line) - 1);
        }
    }
    if (st == CG_OK) printf("for i in range(%d): ... print(validate_epoch(linear1), end=' '):\n%s\n", epochs, line);
    cg_dataloaders_free(dls);
    /* m's two tensors belong to the run's scope (cmd_chapter4 opens one), which
     * releases them: releasing them here too freed them twice, hidden while the
     * pool kept every freed header and seen once it gives memory back */
    char v[3][32];
    if (st == CG_OK) {
        py_round4(accs[0], v[0], 32), py_round4(accs[1], v[1], 32), py_round4(accs[n - 1], v[2], 32);
        char what[64];
        snprintf(what, sizeof what, "after %d more epochs%s", epochs, c->quick ? " (--quick; the book: 20)" : "");
        const cg_html_compare_row rows[] = {
            {"validate_epoch(linear1) before training", "0.5219", v[0]},
            {"after 1 epoch", "0.6883", v[1]},
            {what, "0.9696", v[2]},
        };
        st = cg_html_para(c->r, "seed %llu; the book's numbers come from its own random init (no seed), so the "
                          "first two differ; training brings them together.", (unsigned long long)c->seed);
        if (st == CG_OK) st = cg_html_compare(c->r, rows, 3);
        if (st == CG_OK) st = plot_accs(c, "linear1.svg", accs, n, "linear1: accuracy after each epoch");
    }
    return st == CG_OK ? step_end(c) : st;
}

/* ---- 7. BasicOptim -------------------------------------------------------------------------------- */

static cg_status train_model(cg_module *model, cg_optimizer *opt, cg_dataloaders *dls, int epochs, double *last) {
    cg_status st = CG_OK;
    char b[32];
    for (int i = 0; st == CG_OK && i < epochs; i++) {
        st = cg_ch4_train_epoch_opt(model, opt, dls->train);
        double a = st == CG_OK ? cg_ch4_validate_epoch(cg_ch4_module_forward, model, dls->valid) : -1;
        if (st == CG_OK && a < 0) st = cg_last_status();
        if (st == CG_OK) py_round4(a, b, sizeof b), printf("%s%s", b, i < epochs - 1 ? " " : "\n"), *last = a;
    }
    return st;
}

static cg_optimizer *optimizer_for(cg_module *model, bool basic) {
    cg_named_tensors ps;
    if (cg_module_named_parameters(model, &ps) != CG_OK) return NULL;
    cg_optimizer *opt = basic ? cg_basic_optim(ps.tensors, ps.n, 1.0) : cg_sgd(ps.tensors, ps.n, 1.0, 0, 0);
    cg_named_tensors_free(&ps);
    return opt;
}

static cg_status step_basic_optim(run *c) {
    cg_status st = step_begin(c, "BasicOptim: nn.Linear(28*28,1) with the chapter's optimizer");
    if (st != CG_OK) return st;
    int epochs = c->quick ? 3 : 20;
    cg_manual_seed(c->seed);
    cg_dataloaders *dls = cg_mnist_sample_dls(&c->data, 256);
    double basic = NAN, sgd = NAN;
    for (int pass = 0; dls && st == CG_OK && pass < 2; pass++) {
        cg_module *model = cg_nn_linear(28 * 28, 1, true);
        cg_optimizer *opt = model ? optimizer_for(model, pass == 0) : NULL;
        if (!opt) st = cg_last_status();
        if (st == CG_OK && pass == 0) {
            char s1[64], s2[64], b[32];
            printf("w.shape,b.shape: (torch.Size(%s), torch.Size(%s))\n",
                   cg_shape_str(cg_module_find(model, "weight"), s1, sizeof s1),
                   cg_shape_str(cg_module_find(model, "bias"), s2, sizeof s2));
            double a = cg_ch4_validate_epoch(cg_ch4_module_forward, model, dls->valid);
            if (a < 0) st = cg_last_status();
            else py_round4(a, b, sizeof b), printf("validate_epoch(linear_model): %s\n", b);
        }
        if (st == CG_OK) printf("train_model(linear_model, %d) with %s: ", epochs, pass == 0 ? "BasicOptim" : "SGD");
        if (st == CG_OK) st = train_model(model, opt, dls, epochs, pass == 0 ? &basic : &sgd);
        cg_optimizer_free(opt);
        cg_module_release(model);
    }
    if (!dls) st = cg_last_status();
    cg_dataloaders_free(dls);
    if (st == CG_OK) {
        char v[2][32], what[2][96];
        py_round4(basic, v[0], 32), py_round4(sgd, v[1], 32);
        snprintf(what[0], 96, "BasicOptim, %d epochs%s", epochs, c->quick ? " (--quick; the book: 20)" : "");
        snprintf(what[1], 96, "fastai's SGD, %d epochs", epochs);
        const cg_html_compare_row rows[] = {{what[0], "0.9785", v[0]}, {what[1], "0.9785", v[1]}};
        st = cg_html_compare(c->r, rows, 2);
    }
    return st == CG_OK ? step_end(c) : st;
}

/* ---- 8-10. the Learner ---------------------------------------------------------------------------- */

/* fastai's progress: the table on stdout, the epoch and batch bars on stderr (none with --quiet). */
static cg_status add_progress(const run *c, cg_learner *learn) {
    cg_progress_options po = {.table = stdout, .bars = c->quiet ? NULL : stderr, .mode = CG_PROGRESS_AUTO};
    return cg_learner_add_progress_with(learn, &po);
}

/* ---- the Learner's pictures and tables ----------------------------------------------- */

/* The recorder's table (what the progress callback printed) as HTML. */
static cg_status recorder_table(run *c, const cg_recorder *rec) {
    cg_status st = cg_html_raw(c->r, "<table class=\"cmp\"><tr><th>epoch</th>");
    char cell[128];
    for (int k = 0; st == CG_OK && k < rec->n_cols; k++) {
        snprintf(cell, sizeof cell, "<th>%s</th>", rec->names[k]); /* the library's own names */
        st = cg_html_raw(c->r, cell);
    }
    if (st == CG_OK) st = cg_html_raw(c->r, "<th>time</th></tr>\n");
    for (int e = 0; st == CG_OK && e < rec->n_epochs; e++) {
        snprintf(cell, sizeof cell, "<tr><td>%d</td>", e);
        st = cg_html_raw(c->r, cell);
        for (int k = 0; st == CG_OK && k < rec->n_cols; k++) {
            snprintf(cell, sizeof cell, "<td>%.6f</td>", cg_recorder_value(rec, e, k));
            st = cg_html_raw(c->r, cell);
        }
        char t[32];
        cg_format_time(rec->seconds[e], t, sizeof t);
        snprintf(cell, sizeof cell, "<td>%s</td></tr>\n", t);
        if (st == CG_OK) st = cg_html_raw(c->r, cell);
    }
    return st == CG_OK ? cg_html_raw(c->r, "</table>\n") : st;
}

typedef struct rec_plot {
    const cg_recorder *rec;
    int col;
} rec_plot;
static cg_status save_loss(const void *ctx, const char *path) {
    return cg_plot_loss_png(((const rec_plot *)ctx)->rec, 5, path);
}
static cg_status save_metric(const void *ctx, const char *path) {
    const rec_plot *p = ctx;
    return cg_plot_metric_png(p->rec, p->col, path);
}

/* The table, recorder.plot_loss and plt.plot(L(learn.recorder.values).itemgot(2)),
 * and the book's final numbers beside ours. */
static cg_status learner_report(run *c, const cg_learner *learn, const char *tag, const char *book_acc,
                                const char *book_loss, const char *book_train_loss) {
    const cg_recorder *rec = learn->recorder;
    int last = rec->n_epochs - 1;
    printf("learn.recorder.values[-1][2]: %.6f\n", cg_recorder_value(rec, last, 2));
    cg_status st = recorder_table(c, rec);
    rec_plot rp = {rec, 2};
    char name[64], caption[128];
    if (st == CG_OK) st = cg_html_row_begin(c->r);
    snprintf(name, sizeof name, "%s_loss.svg", tag);
    if (st == CG_OK) st = figure(c, name, save_loss, &rp, "learn.recorder.plot_loss()", 480);
    snprintf(name, sizeof name, "%s_metric.svg", tag);
    snprintf(caption, sizeof caption, "plt.plot(L(learn.recorder.values).itemgot(2)): %s per epoch", rec->names[2]);
    if (st == CG_OK) st = figure(c, name, save_metric, &rp, caption, 480);
    if (st == CG_OK) st = cg_html_row_end(c->r);
    char v[3][32], what[96];
    snprintf(v[0], 32, "%.6f", cg_recorder_value(rec, last, 2));
    snprintf(v[1], 32, "%.6f", cg_recorder_value(rec, last, 1));
    snprintf(v[2], 32, "%.6f", cg_recorder_value(rec, last, 0));
    snprintf(what, sizeof what, "%s after %d epoch%s", rec->names[2], rec->n_epochs, rec->n_epochs == 1 ? "" : "s");
    const cg_html_compare_row rows[] = {{what, book_acc, v[0]}, {"valid_loss", book_loss, v[1]},
                                        {"train_loss", book_train_loss, v[2]}};
    return st == CG_OK ? cg_html_compare(c->r, rows, 3) : st;
}

/* Learner(dls, model, loss_func=mnist_loss, opt_func=SGD, metrics=batch_accuracy) on the chapter's tensors. */
static cg_learner *chapter_learner(run *c, const char *arch, cg_dataloaders **dls, cg_module **model) {
    cg_manual_seed(c->seed);
    *model = cg_model_create(arch, 28 * 28, 1);
    *dls = *model ? cg_mnist_sample_dls(&c->data, 256) : NULL;
    cg_metric metric = cg_metric_batch_accuracy();
    cg_learner *learn = *dls ? cg_learner_new(*dls, *model, cg_loss_by_name("mnist_loss"), CG_OPTIM_SGD, &metric, 1) : NULL;
    if (learn && add_progress(c, learn) != CG_OK) cg_learner_free(learn), learn = NULL;
    return learn;
}

static void free_learner(cg_learner *learn, cg_dataloaders *dls, cg_module *model) {
    cg_learner_free(learn);
    cg_dataloaders_free(dls);
    cg_module_release(model);
}

/* --full: the same Learner step on full MNIST through `cgrad train`'s set-up. */
static cg_status full_mnist_fit(run *c, const char *model, int epochs, double lr, const char *tag, const char *note) {
    train_args a;
    train_args_defaults(&a);
    a.data = "mnist", a.model = model, a.opt = cg_model_takes_images(model) ? "adam" : "sgd";
    a.epochs = epochs, a.lr = lr, a.bs = cg_model_takes_images(model) ? 64 : 256;
    a.seed = c->seed, a.threads = c->threads, a.one_cycle = cg_model_takes_images(model);
    printf("\nfull MNIST, %s: %s\n", model, note);
    fflush(stdout);
    give_back_memory(); /* what the step's MNIST_SAMPLE run freed */
    train_setup s;
    cg_status st = train_setup_build(&a, &s);
    if (st != CG_OK) return st;
    st = add_progress(c, s.learn);
    if (st == CG_OK) st = a.one_cycle ? cg_learner_fit_one_cycle(s.learn, epochs, lr) : cg_learner_fit(s.learn, epochs, lr);
    if (st == CG_OK) st = cg_html_heading(c->r, 3, note);
    if (st == CG_OK) st = learner_report(c, s.learn, tag, "", "", "");
    train_setup_free(&s);
    return st;
}

static cg_status step_learner(run *c) {
    cg_status st = step_begin(c, "The Learner: Learner(dls, nn.Linear(28*28,1), opt_func=SGD, loss_func=mnist_loss)");
    if (st != CG_OK) return st;
    int epochs = c->quick ? 2 : 10;
    cg_dataloaders *dls = NULL;
    cg_module *model = NULL;
    cg_learner *learn = chapter_learner(c, "linear", &dls, &model);
    if (!learn) st = cg_last_status();
    if (st == CG_OK) printf("learn.fit(%d, lr=1):\n", epochs), fflush(stdout);
    if (st == CG_OK) st = cg_learner_fit(learn, epochs, 1.0);
    if (st == CG_OK) st = learner_report(c, learn, "linear", "0.967615", "0.038573", "");
    free_learner(learn, dls, model);
    if (st == CG_OK && c->full)
        st = full_mnist_fit(c, "linear", c->quick ? 1 : 10, 0.1, "mnist_linear",
                            "--full: nn.Linear(784,10) with softmax (cross_entropy), SGD, fit(10, 0.1)");
    return st == CG_OK ? step_end(c) : st;
}

static cg_status save_lr_find(const void *ctx, const char *path) { return cg_plot_lr_find_png(ctx, path); }

static cg_status step_simple_net(run *c) {
    cg_status st = step_begin(c, "Adding a nonlinearity: simple_net = nn.Sequential(Linear(784,30), ReLU(), Linear(30,1))");
    if (st != CG_OK) return st;
    /* plot_function(F.relu) */
    st = plot_function(c, "relu.svg", relu, NULL, NULL, "F.relu", -2, 2, NULL);
    int epochs = c->quick ? 3 : 40;
    cg_dataloaders *dls = NULL;
    cg_module *model = NULL;
    cg_learner *learn = st == CG_OK ? chapter_learner(c, "simple_net", &dls, &model) : NULL;
    if (st == CG_OK && !learn) st = cg_last_status();
    if (st == CG_OK) printf("learn.fit(%d, 0.1):\n", epochs), fflush(stdout);
    if (st == CG_OK) st = cg_learner_fit(learn, epochs, 0.1);
    if (st == CG_OK) st = learner_report(c, learn, "simple_net", "0.982826", "0.020415", "");
    free_learner(learn, dls, model);
    /* learn.lr_find() on a fresh simple_net */
    learn = st == CG_OK ? chapter_learner(c, "simple_net", &dls, &model) : NULL;
    if (st == CG_OK && !learn) st = cg_last_status();
    cg_lr_find_result lr = {0};
    cg_lr_find_options lo = cg_lr_find_defaults();
    if (st == CG_OK) learn->logging = false;
    if (st == CG_OK) st = cg_learner_lr_find(learn, &lo, &lr);
    if (st == CG_OK) {
        printf("learn.lr_find(): %lld steps, valley %.2e\n", (long long)lr.n, lr.valley);
        st = cg_html_heading(c->r, 3, "learn.lr_find()");
        if (st == CG_OK) st = cg_html_para(c->r, "%lld batches from 1e-7 to 10; the valley suggests lr = %.2e.",
                                           (long long)lr.n, lr.valley);
        if (st == CG_OK) st = figure(c, "lr_find.svg", save_lr_find, &lr, "learn.lr_find()", 480);
    }
    cg_lr_find_result_free(&lr);
    free_learner(learn, dls, model);
    if (st == CG_OK && c->full)
        st = full_mnist_fit(c, "mlp:500", c->quick ? 1 : 5, 0.1, "mnist_mlp",
                            "--full: an MLP 784-500-ReLU-10 (cross_entropy), SGD, fit(5, 0.1)");
    return st == CG_OK ? step_end(c) : st;
}

/* --quick's resnet18 data: the first n threes and n sevens of a split of the
 * chapter's tensors as [2n,3,28,28] RGB images (gray copied to 3 channels, as
 * PILImage.create opens them) and from_folder's labels (class "3" = 0, "7" = 1). */
static cg_status image_subset(cg_tensor *x, cg_tensor *y, int64_t n_threes, int64_t n, cg_tensor **xi,
                              cg_tensor **yi) {
    cg_tensor *xs = cg_cat((cg_tensor *[]){cg_slice(x, 0, 0, n, 1), cg_slice(x, 0, n_threes, n_threes + n, 1)}, 2, 0);
    cg_tensor *ys = cg_cat((cg_tensor *[]){cg_slice(y, 0, 0, n, 1), cg_slice(y, 0, n_threes, n_threes + n, 1)}, 2, 0);
    *xi = xs ? cg_contiguous(cg_expand(cg_view(xs, CG_SHAPE(2 * n, 1, 28, 28)), CG_SHAPE(2 * n, 3, 28, 28))) : NULL;
    *yi = ys ? cg_long(cg_view(cg_rsub_s(1, ys), CG_SHAPE(2 * n))) : NULL;
    return *xi && *yi ? CG_OK : cg_last_status();
}

/* ClassificationInterpretation: the confusion matrix and the top losses,
 * each named by its file under the data folder (dl.items[idx], as fastai's
 * plot_top_losses) when the data came from one (s not NULL), else by its
 * index in the valid set (IDX files, --quick's tensors). */
static cg_status interpretation(run *c, cg_module *model, cg_dataloaders *dls, const cg_loss *loss,
                                const char *const *classes, const train_setup *s) {
    cg_interp in = {0};
    cg_status st = cg_interp_from_model(model, dls->valid, loss, &in);
    int64_t nc = in.n_classes, top[9];
    int64_t *cm = st == CG_OK ? calloc((size_t)(nc * nc), sizeof *cm) : NULL;
    if (st == CG_OK && !cm) st = cg_fail(CG_ERR_NOMEM, "out of memory");
    if (st == CG_OK) st = cg_interp_confusion_matrix(&in, cm);
    if (st == CG_OK) {
        printf("interp.confusion_matrix() (rows actual, columns predicted; %lld valid images):\n", (long long)in.n);
        printf("%6s", "");
        for (int64_t j = 0; j < nc; j++) printf("%6s", classes ? classes[j] : "?");
        printf("\n");
        for (int64_t i = 0; i < nc; i++) {
            printf("%6s", classes ? classes[i] : "?");
            for (int64_t j = 0; j < nc; j++) printf("%6lld", (long long)cm[i * nc + j]);
            printf("\n");
        }
    }
    char path[4300];
    if (st == CG_OK) st = cg_html_heading(c->r, 3, "ClassificationInterpretation");
    if (st == CG_OK) st = cg_html_scratch_path(c->r, "confusion.svg", path, sizeof path);
    if (st == CG_OK) st = cg_plot_confusion_matrix(cm, nc, classes, path);
    if (st == CG_OK) st = cg_html_embed_file(c->r, path, "confusion matrix", "interp.plot_confusion_matrix()", 360);
    int64_t k = st == CG_OK ? cg_interp_top_losses(&in, 9, top) : 0;
    cg_dataset *vds = cg_dataloader_dataset(dls->valid);
    bool files = s && k > 0 && train_item_path(s, vds, top[0]);
    if (st == CG_OK)
        printf("interp.top_losses(%lld): %s, predicted/actual, loss, probability\n", (long long)k,
               files ? "image (its file under the data folder)" : "item (its index in the valid set)");
    /* the report's table: the same rows, cells row-major */
    char cell_text[9][5][320];
    const char *cells[9 * 5];
    for (int64_t j = 0; st == CG_OK && j < k; j++) {
        int64_t i = top[j];
        const char *file = files ? train_item_path(s, vds, i) : NULL;
        char (*row)[320] = cell_text[j];
        if (file) snprintf(row[0], 320, "%s", file);
        else snprintf(row[0], 320, "%lld", (long long)i);
        snprintf(row[1], 320, "%s", classes ? classes[in.preds[i]] : "?");
        snprintf(row[2], 320, "%s", classes ? classes[in.targets[i]] : "?");
        snprintf(row[3], 320, "%.4f", in.losses[i]);
        snprintf(row[4], 320, "%.4f", in.probs[i * nc + in.preds[i]]);
        for (int col = 0; col < 5; col++) cells[j * 5 + col] = row[col];
        printf("  %s  %s/%s  %s  %s\n", cli_esc(row[0]), row[1], row[2], row[3], row[4]);
    }
    cg_scope_begin();
    cg_tensor *imgs[9] = {0};
    for (int64_t j = 0; st == CG_OK && j < k; j++) {
        cg_tensor *y = NULL;
        st = cg_dataset_item(vds, top[j], &imgs[j], &y);
    }
    cg_tensor *batch = st == CG_OK && k > 0 ? cg_stack(imgs, (int)k, 0) : NULL;
    if (st == CG_OK && k > 0 && !batch) st = cg_last_status();
    if (st == CG_OK && k > 0) st = cg_html_scratch_path(c->r, "top_losses.png", path, sizeof path);
    if (st == CG_OK && k > 0) st = cg_plot_top_losses(&in, top, k, batch, classes, path);
    if (st == CG_OK && k > 0)
        st = cg_html_embed_file(c->r, path, "top losses", "interp.plot_top_losses(9): predicted/actual / loss / probability", 480);
    cg_scope_end();
    static const char *const header[] = {"image", "predicted", "actual", "loss", "probability"};
    if (st == CG_OK && k > 0) st = cg_html_table(c->r, header, 5, cells, (int)k);
    if (st == CG_OK) {
        char acc[32];
        snprintf(acc, sizeof acc, "%.6f", cg_interp_accuracy(&in));
        st = cg_html_para(c->r, "Over the %lld validation images: accuracy %s, mean loss %.6f.", (long long)in.n, acc,
                          cg_interp_mean_loss(&in));
    }
    free(cm);
    cg_interp_free(&in);
    return st;
}

static cg_status step_resnet(run *c) {
    cg_status st = step_begin(c, "Going deeper: vision_learner(dls, resnet18).fit_one_cycle(1, 0.1)");
    if (st != CG_OK) return st;
    const char *const classes[] = {"3", "7"};
    if (c->quick) {
        /* 128 training images of each digit, 64 valid of each; the book's call otherwise */
        cg_scope_begin();
        cg_tensor *x = NULL, *y = NULL, *vx = NULL, *vy = NULL;
        st = image_subset(c->data.train_x, c->data.train_y, c->pix.n_train3, 64, &x, &y);
        if (st == CG_OK) st = image_subset(c->data.valid_x, c->data.valid_y, c->pix.n_valid3, 32, &vx, &vy);
        cg_dataloaders *dls = st == CG_OK ? cg_tensor_dataloaders(x, y, vx, vy, 64, true, c->seed) : NULL;
        cg_manual_seed(c->seed);
        cg_module *model = dls ? cg_model_create_image("resnet18", 3, 28, 28, 2) : NULL;
        const cg_loss *loss = cg_loss_by_name("cross_entropy");
        cg_metric metric = cg_metric_accuracy();
        cg_learner *learn = model ? cg_learner_new(dls, model, loss, CG_OPTIM_ADAM, &metric, 1) : NULL;
        if (st == CG_OK && !learn) st = cg_last_status();
        if (st == CG_OK) st = add_progress(c, learn);
        if (st == CG_OK)
            printf("--quick: resnet18 on %lld training and %lld valid images (the book: all 12396 and 2038)\n"
                   "learn.fit_one_cycle(1, 0.1):\n",
                   (long long)x->shape[0], (long long)vx->shape[0]);
        fflush(stdout);
        if (st == CG_OK) st = cg_learner_fit_one_cycle(learn, 1, 0.1);
        if (st == CG_OK) st = cg_html_para(c->r, "--quick: on %lld training and %lld valid images only.",
                                           (long long)x->shape[0], (long long)vx->shape[0]);
        if (st == CG_OK) st = learner_report(c, learn, "resnet18", "0.997056", "0.009578", "0.082089");
        if (st == CG_OK) st = interpretation(c, model, dls, loss, classes, NULL);
        free_learner(learn, dls, model);
        cg_scope_end();
        return st == CG_OK ? step_end(c) : st;
    }
    /* the chapter's float tensors (46 MB) are done with: steps 6-9 trained on them */
    cg_mnist_sample_free(&c->data);
    for (int pass = 0; st == CG_OK && pass < (c->full ? 2 : 1); pass++) {
        /* exactly `cgrad train --data mnist_sample --model resnet18 --epochs 1 --lr 0.1 --one-cycle` */
        train_args a;
        train_args_defaults(&a);
        a.data = pass ? "mnist" : "mnist_sample", a.model = "resnet18", a.opt = "adam";
        a.epochs = 1, a.lr = 0.1, a.bs = 64, a.seed = c->seed, a.threads = c->threads, a.one_cycle = true;
        if (pass) printf("\n--full: resnet18 on full MNIST (60000 training, 10000 test images), fit_one_cycle(1, 0.1):\n");
        else printf("dls = ImageDataLoaders.from_folder(path); learn.fit_one_cycle(1, 0.1):\n");
        fflush(stdout);
        train_setup s;
        st = train_setup_build(&a, &s);
        if (st != CG_OK) break;
        st = add_progress(c, s.learn);
        if (st == CG_OK) st = cg_learner_fit_one_cycle(s.learn, 1, 0.1);
        if (st == CG_OK && pass) st = cg_html_heading(c->r, 3, "--full: resnet18 on all ten digits");
        if (st == CG_OK)
            st = learner_report(c, s.learn, pass ? "mnist_resnet18" : "resnet18", pass ? "" : "0.997056",
                                pass ? "" : "0.009578", pass ? "" : "0.082089");
        const char *const digits[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        if (st == CG_OK) st = interpretation(c, s.model, s.dls, s.loss, pass ? digits : classes, &s);
        train_setup_free(&s);
        give_back_memory(); /* MNIST_SAMPLE's resnet18 before full MNIST's */
    }
    return st == CG_OK ? step_end(c) : st;
}

/* ---- the run ---------------------------------------------------------------------------------------- */

static int chapter4(run *c) {
    char index[4300], msg[9000];
    if ((size_t)snprintf(index, sizeof index, "%s/index.html", c->out) >= sizeof index)
        return cli_usage_error("chapter4", usage, "--out: the folder name is too long");
    if (cg_mkdirs(c->out) != CG_OK) return cli_fail_last();
    if (cli_check_output_path("--out (index.html)", index, msg, sizeof msg)) {
        fprintf(stderr, "cgrad: chapter4: %s; nothing was run\n", msg);
        return 1;
    }
    c->r = cg_html_report_new("cgrad: fastbook chapter 4, Under the Hood: Training a Digit Classifier");
    if (!c->r) return cli_fail_last();
    c->n_steps = 10;
    char intro[1024];
    snprintf(intro, sizeof intro,
             "<h1>fastbook chapter 4, in C</h1>\n<p>“Under the Hood: Training a Digit Classifier”, run by "
             "<code>cgrad chapter4%s</code> (cgrad %s, seed %llu). Each step shows what the book prints beside what "
             "cgrad printed, its figures, and its time.</p>\n",
             c->quick ? " --quick" : c->full ? " --full" : "", CGRAD_VERSION_STRING, (unsigned long long)c->seed);
    cg_status st = cg_html_raw(c->r, intro);
    cg_status (*const steps[])(run *) = {step_data,        step_digit,  step_pixels,     step_gradients,
                                         step_speed,       step_linear, step_basic_optim, step_learner,
                                         step_simple_net,  step_resnet};
    for (int i = 0; st == CG_OK && i < 10; i++) st = steps[i](c);
    if (st == CG_OK)
        st = cg_html_para(c->r, "All ten steps: %.1f s wall, %.1f s CPU (user+sys, all threads).", c->wall_total,
                          c->cpu_total);
    if (st == CG_OK) st = cg_html_report_write(c->r, index);
    int rc = 0;
    if (st != CG_OK) rc = cli_fail_last();
    else {
        printf("\nchapter4: %.1f s wall, %.1f s CPU; the report is %s\n", c->wall_total, c->cpu_total, cli_esc(index));
        progress(c, "wrote %s", index);
    }
    return rc;
}

enum { O_QUICK, O_FULL, O_COUNT };
static const cli_option chapter4_options[O_COUNT] = {[O_QUICK] = {"--quick", false}, [O_FULL] = {"--full", false}};

int cmd_chapter4(int argc, char **argv) {
    run c;
    memset(&c, 0, sizeof c);
    cli_common common = cli_common_init(CHAPTER4_ACCEPTS, 42);
    int i = 0;
    bool dashes = false;
    const char *v;
    for (int k; (k = cli_parse("chapter4", chapter4_options, O_COUNT, &common, argc, argv, &i, &dashes, &v, usage)) != -2;) {
        switch (k) {
        case CLI_DONE: return 0;
        case CLI_USAGE: return 2;
        case -1: return cli_usage_error("chapter4", usage, "unexpected argument '%s'", cli_esc(v));
        case O_QUICK: c.quick = true; break;
        case O_FULL: c.full = true; break;
        default: break;
        }
    }
    c.out = common.out ? common.out : "cgrad-chapter4";
    c.quiet = common.quiet, c.seed = common.seed, c.threads = common.threads;
    c.mirror = common.mirror, c.home = common.home;
    if (cli_common_apply(&common) != 0) return 1; /* --threads, --mirror, --home for the whole run */
    if (!*c.out) return cli_usage_error("chapter4", usage, "--out: an empty folder name");
    cg_scope_begin();
    int rc = chapter4(&c);
    cg_scope_end();
    cg_ch4_pixsim_free(&c.pix);
    cg_mnist_sample_free(&c.data);
    cg_html_report_free(c.r);
    return rc;
}
