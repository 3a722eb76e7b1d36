/* cgrad pixel-similarity — fastbook chapter 4's first classifier: compare an
 * image with the mean image of each class and pick the nearest.
 *
 *   cgrad pixel-similarity              3s vs 7s on MNIST_SAMPLE: the chapter's numbers
 *   cgrad pixel-similarity --show       ... and its pictures in the terminal
 *   cgrad pixel-similarity --digits 10  all ten digits on full MNIST (IDX files)
 *   cgrad pixel-similarity --out DIR    save the mean images (and a_3) as PNGs
 *
 * The steps are the chapter's, one library call each: stack the images,
 * .float()/255, .mean(0), mnist_distance = (a-b).abs().mean((-1,-2)) with
 * broadcasting, is_3 = d3 < d7. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad.h"
#include "cli/cli_common.h"
#include "cli/cli_escape.h"
#include "cli/cli_json.h"
#include "cli/cli_number.h"
#include "cli/commands.h"

#define PIXEL_COMMON (CLI_OUT | CLI_QUIET | CLI_JSON | CLI_THREADS | CLI_DATA)

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad pixel-similarity [--digits 2|10] [--show|--json] [--out DIR] [--no-color|--color]\n"
            "\n"
            "Classifies digits by their distance to the mean image of each class, the first\n"
            "try of fastbook chapter 4.  Data comes through the dataset cache (`cgrad data`).\n"
            "\n"
            "options:\n"
            "  --digits 2    3s vs 7s on MNIST_SAMPLE (default): folder sizes, the distances of\n"
            "                threes[1] to mean3 and mean7, and the accuracy on the valid set\n"
            "  --digits 10   the ten digits on full MNIST: each test image goes to the nearest of\n"
            "                the ten mean training digits, by L1 and by RMSE\n"
            "  --show        show the images in the terminal too (im3 with its pixel table, the means)\n"
            "  --no-color    plain-text pictures (the default when stdout is not a terminal or\n"
            "                NO_COLOR is set); --color forces ANSI colors\n"
            "\n"
            "--out DIR writes the mean images as PNGs, drawn like show_image with cmap 'Greys':\n"
            "DIR/mean3.png, DIR/mean7.png and DIR/a_3.png (--digits 2), DIR/means.png (--digits 10).\n"
            "--json prints the numbers as one JSON object instead of the chapter's lines (the\n"
            "folder sizes, the distances, the accuracies and counts; with --digits 10 the L1 and\n"
            "RMSE accuracies and L1's per digit); it does not take --show.\n"
            "\n");
    cli_common_help(f, PIXEL_COMMON);
}

typedef struct options {
    int digits;
    bool show, color, quiet, json;
    const char *out_dir;
} options;

/* ---- printing ------------------------------------------------------------- */

static void print_tuple(const char *label, int n, cg_tensor *const *ts) {
    printf("%s(", label);
    for (int i = 0; i < n; i++) {
        char *s = cg_format(ts[i]);
        printf("%s%s", i ? ", " : "", s ? s : "?");
        free(s);
    }
    printf(")\n");
}

static void print_picture(const char *title, const cg_tensor *t, bool color) {
    char *s = cg_render_image_text(t, color);
    if (!s) return;
    printf("%s\n%s", title, s);
    free(s);
}

static cg_status save_picture(const options *o, const char *name, const cg_tensor *t, int scale) {
    char *file = cg_path_join(o->out_dir, name);
    if (!file) return cg_fail(CG_ERR_NOMEM, "out of memory");
    cg_status st = cg_show_image_png(t, file, scale);
    if (st == CG_OK && !o->quiet) fprintf(stderr, "saved %s\n", cli_esc(file));
    free(file);
    return st;
}

/* ---- 3s vs 7s ---------------------------------------------------------------- */

/* torch.stack([tensor(Image.open(o)) for o in (path/folder).ls()]).float()/255 */
static cg_tensor *stack_folder(const char *root, const char *folder, cg_strlist *names) {
    char *dir = cg_path_join(root, folder);
    cg_strlist files = {0};
    cg_tensor *t = NULL;
    if (dir && cg_ls(dir, &files) == CG_OK) t = cg_div_s(cg_float(cg_png_read_many(&files, 0)), 255);
    if (names) *names = files;
    else cg_strlist_free(&files);
    free(dir);
    return t;
}

static cg_tensor *mnist_distance(cg_tensor *a, cg_tensor *b) {
    return cg_mean(cg_abs(cg_sub(a, b)), (int[]){-1, -2}, 2, false);
}

static int three_vs_seven(const options *o) {
    char path[4096];
    if (cg_untar_data("mnist_sample", path, sizeof path) != CG_OK) return cli_fail_last();
    if (!o->json) printf("path = untar_data(URLs.MNIST_SAMPLE): %s\n", cli_esc(path));

    cg_strlist threes = {0};
    cg_tensor *stacked_threes = stack_folder(path, "train/3", &threes);
    cg_tensor *stacked_sevens = stack_folder(path, "train/7", NULL);
    cg_tensor *valid_3_tens = stack_folder(path, "valid/3", NULL);
    cg_tensor *valid_7_tens = stack_folder(path, "valid/7", NULL);
    if (!stacked_threes || !stacked_sevens || !valid_3_tens || !valid_7_tens) {
        cg_strlist_free(&threes);
        return cli_fail_last();
    }
    char shape[64];
    if (!o->json) {
        printf("images: train/3 %lld, train/7 %lld, valid/3 %lld, valid/7 %lld; each %lldx%lld\n",
               (long long)stacked_threes->shape[0], (long long)stacked_sevens->shape[0],
               (long long)valid_3_tens->shape[0], (long long)valid_7_tens->shape[0],
               (long long)stacked_threes->shape[1], (long long)stacked_threes->shape[2]);
        printf("stacked_threes.shape: torch.Size(%s)\n", cg_shape_str(stacked_threes, shape, sizeof shape));
    }

    cg_tensor *mean3 = cg_mean(stacked_threes, (int[]){0}, 1, false);
    cg_tensor *mean7 = cg_mean(stacked_sevens, (int[]){0}, 1, false);
    cg_tensor *a_3 = cg_select(stacked_threes, 0, 1);
    if (!a_3) {
        cg_strlist_free(&threes);
        return cli_fail_last();
    }
    char a_3_name[512];
    snprintf(a_3_name, sizeof a_3_name, "%s", cg_path_name(threes.items[1]));
    if (!o->json) printf("a_3 = stacked_threes[1]: %s\n", cli_esc(a_3_name));

    if (o->show) {
        /* im3_t = tensor(Image.open(threes[1])); df = pd.DataFrame(im3_t[4:15,4:22]) */
        cg_tensor *im3_t = cg_png_read(threes.items[1], 0);
        char *table = cg_render_pixel_table(cg_slice(cg_slice(im3_t, 0, 4, 15, 1), 1, 4, 22, 1), o->color);
        if (table) {
            print_picture("\nshow_image(im3):", im3_t, o->color);
            printf("\nim3_t[4:15,4:22], background_gradient('Greys'):\n%s", table);
            free(table);
        }
        print_picture("\nshow_image(mean3):", mean3, o->color);
        print_picture("\nshow_image(mean7):", mean7, o->color);
        printf("\n");
    }
    cg_strlist_free(&threes);

    /* ((a_3 - mean3).abs().mean(), ((a_3 - mean3)**2).mean().sqrt()) */
    cg_tensor *dist[6] = {cg_mean(cg_abs(cg_sub(a_3, mean3)), NULL, 0, false),
                          cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean3), 2), NULL, 0, false)),
                          cg_mean(cg_abs(cg_sub(a_3, mean7)), NULL, 0, false),
                          cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean7), 2), NULL, 0, false)),
                          cg_l1_loss(a_3, mean7), cg_sqrt(cg_mse_loss(a_3, mean7))};
    if (!o->json) {
        print_tuple("dist_3_abs, dist_3_sqr: ", 2, dist);
        print_tuple("dist_7_abs, dist_7_sqr: ", 2, dist + 2);
        print_tuple("F.l1_loss(a_3,mean7), F.mse_loss(a_3,mean7).sqrt(): ", 2, dist + 4);
    }

    /* is_3(x) = mnist_distance(x,mean3) < mnist_distance(x,mean7) */
    cg_tensor *is_3_of_3s = cg_lt(mnist_distance(valid_3_tens, mean3), mnist_distance(valid_3_tens, mean7));
    cg_tensor *is_3_of_7s = cg_lt(mnist_distance(valid_7_tens, mean3), mnist_distance(valid_7_tens, mean7));
    cg_tensor *accuracy_3s = cg_mean(cg_float(is_3_of_3s), NULL, 0, false);
    cg_tensor *accuracy_7s = cg_mean(cg_rsub_s(1, cg_float(is_3_of_7s)), NULL, 0, false);
    cg_tensor *average = cg_div_s(cg_add(accuracy_3s, accuracy_7s), 2);
    double right3 = 0, wrong7 = 0;
    if (!average || cg_item(cg_sum(is_3_of_3s, NULL, 0, false), &right3) != CG_OK ||
        cg_item(cg_sum(is_3_of_7s, NULL, 0, false), &wrong7) != CG_OK)
        return cli_fail_last();
    if (o->json) {
        /* the same numbers as one object: each tensor's value as a double */
        double d[6], acc[3];
        cg_tensor *accs[3] = {accuracy_3s, accuracy_7s, average};
        for (int k = 0; k < 6; k++)
            if (cg_item(dist[k], &d[k]) != CG_OK) return cli_fail_last();
        for (int k = 0; k < 3; k++)
            if (cg_item(accs[k], &acc[k]) != CG_OK) return cli_fail_last();
        printf("{\"digits\": 2, \"path\": ");
        cli_json_string(stdout, path);
        printf(", \"train3\": %lld, \"train7\": %lld, \"valid3\": %lld, \"valid7\": %lld, \"height\": %lld, "
               "\"width\": %lld, \"a_3\": ",
               (long long)stacked_threes->shape[0], (long long)stacked_sevens->shape[0],
               (long long)valid_3_tens->shape[0], (long long)valid_7_tens->shape[0],
               (long long)stacked_threes->shape[1], (long long)stacked_threes->shape[2]);
        cli_json_string(stdout, a_3_name);
        printf(", \"dist_3_abs\": %.9g, \"dist_3_sqr\": %.9g, \"dist_7_abs\": %.9g, \"dist_7_sqr\": %.9g, "
               "\"l1_loss_7\": %.9g, \"mse_loss_sqrt_7\": %.9g, \"accuracy_3s\": %.9g, \"accuracy_7s\": %.9g, "
               "\"average\": %.9g, \"right_3s\": %.0f, \"right_7s\": %.0f}\n",
               d[0], d[1], d[2], d[3], d[4], d[5], acc[0], acc[1], acc[2], right3,
               (double)valid_7_tens->shape[0] - wrong7);
    } else {
        print_tuple("accuracy_3s, accuracy_7s, average: ", 3, (cg_tensor *[]){accuracy_3s, accuracy_7s, average});
        printf("(%.0f of %lld threes and %.0f of %lld sevens right)\n", right3,
               (long long)valid_3_tens->shape[0], (double)valid_7_tens->shape[0] - wrong7,
               (long long)valid_7_tens->shape[0]);
    }

    if (o->out_dir) {
        if (cg_mkdirs(o->out_dir) != CG_OK || save_picture(o, "mean3.png", mean3, 8) != CG_OK ||
            save_picture(o, "mean7.png", mean7, 8) != CG_OK || save_picture(o, "a_3.png", a_3, 8) != CG_OK)
            return cli_fail_last();
    }
    return 0;
}

/* ---- ten digits on full MNIST ------------------------------------------------ */

static cg_tensor *read_idx_in(const char *root, const char *name) {
    char *file = cg_path_join(root, name);
    cg_tensor *t = file ? cg_idx_read(file) : NULL;
    free(file);
    return t;
}

/* read_idx_in(...).float()/255 made block by block into one float tensor, so
 * that the uint8 images, their float copy and the quotient are never all in
 * memory at once (full MNIST's training set: 47 MB + 188 MB, not + 188 more).
 * Each element is the same float(x)/255 either way.  The caller's scope owns it. */
static cg_tensor *read_idx_unit_float(const char *root, const char *name) {
    cg_scope_begin();
    cg_tensor *u8 = read_idx_in(root, name);
    cg_tensor *x = u8 ? cg_empty(CG_FLOAT32, u8->ndim, u8->shape) : NULL;
    const int64_t block = 4096;
    for (int64_t i = 0; x && i < u8->shape[0]; i += block) {
        int64_t end = i + block < u8->shape[0] ? i + block : u8->shape[0];
        cg_scope_begin();
        cg_status st = cg_copy_(cg_slice(x, 0, i, end, 1), cg_div_s(cg_float(cg_slice(u8, 0, i, end, 1)), 255));
        cg_scope_end();
        if (st != CG_OK) x = NULL;
    }
    x = cg_keep(x);
    cg_scope_end();
    return x;
}

/* Lays out `count` of the [28,28] means side by side, two blank columns between. */
static cg_tensor *means_strip(cg_tensor *means, int64_t first, int64_t count) {
    int64_t h = means->shape[1], w = means->shape[2];
    cg_tensor *strip = cg_zeros(CG_FLOAT32, CG_SHAPE(h, count * (w + 2) - 2));
    for (int64_t i = 0; strip && i < count; i++)
        if (cg_copy_(cg_slice(strip, 1, i * (w + 2), i * (w + 2) + w, 1), cg_select(means, 0, first + i)) != CG_OK)
            return NULL;
    return strip;
}

static int ten_digits(const options *o) {
    char root[4096];
    if (cg_untar_data("mnist", root, sizeof root) != CG_OK) return cli_fail_last();
    if (!o->json) printf("full MNIST: %s\n", cli_esc(root));
    /* The training set's float copy (188 MB) lives only until the means are made. */
    int64_t n_train = 0, n_test = 0, h = 0, w = 0;
    cg_scope_begin();
    cg_tensor *x_train = read_idx_unit_float(root, "train-images-idx3-ubyte.gz");
    cg_tensor *y_train = x_train ? cg_long(read_idx_in(root, "train-labels-idx1-ubyte.gz")) : NULL;
    cg_tensor *means = NULL;
    if (y_train) {
        n_train = x_train->shape[0], h = x_train->shape[1], w = x_train->shape[2];
        /* means[d] = x_train[y_train==d].mean(0), as onehot [10,N] @ x [N,H*W] / counts [10,1] */
        cg_tensor *onehot = cg_float(cg_eq(cg_unsqueeze(y_train, 0), cg_unsqueeze(cg_arange(CG_INT64, 0, 10, 1), 1)));
        cg_tensor *sums = cg_matmul(onehot, cg_reshape(x_train, CG_SHAPE(n_train, h * w)));
        means = cg_keep(cg_contiguous(cg_reshape(cg_div(sums, cg_sum(onehot, (int[]){1}, 1, true)), CG_SHAPE(10, h, w))));
    }
    cg_scope_end();
    cg_pool_trim(); /* the pool would keep those 235 MB for same-sized tensors, which come no more */
    if (!means) return cli_fail_last();
    cg_tensor *x_test = read_idx_unit_float(root, "t10k-images-idx3-ubyte.gz");
    cg_pool_trim();
    cg_tensor *y_test = x_test ? cg_long(read_idx_in(root, "t10k-labels-idx1-ubyte.gz")) : NULL;
    if (!x_test || !y_test) return cli_fail_last();
    n_test = x_test->shape[0];
    if (!o->json)
        printf("images: %lld train, %lld test, each %lldx%lld\n", (long long)n_train, (long long)n_test,
               (long long)h, (long long)w);

    /* Nearest mean for each test image, 1000 at a time: [1000,1,H,W] - [10,H,W]. */
    int64_t right_l1 = 0, right_rmse = 0, per_digit[10] = {0}, digit_count[10] = {0};
    for (int64_t i = 0; i < n_test; i += 1000) {
        int64_t end = i + 1000 < n_test ? i + 1000 : n_test;
        cg_scope_begin();
        cg_tensor *diff = cg_sub(cg_unsqueeze(cg_slice(x_test, 0, i, end, 1), 1), means);
        cg_tensor *pred_l1 = cg_argmin(cg_mean(cg_abs(diff), (int[]){-1, -2}, 2, false), 1, false);
        cg_tensor *pred_rmse = cg_argmin(cg_sqrt(cg_mean(cg_pow_s(diff, 2), (int[]){-1, -2}, 2, false)), 1, false);
        cg_tensor *y = cg_slice(y_test, 0, i, end, 1);
        if (!pred_l1 || !pred_rmse) {
            cg_scope_end();
            return cli_fail_last();
        }
        for (int64_t k = 0; k < end - i; k++) {
            int64_t label = (int64_t)cg_get(y, (int64_t[]){k});
            bool l1_right = (int64_t)cg_get(pred_l1, (int64_t[]){k}) == label;
            right_l1 += l1_right;
            right_rmse += (int64_t)cg_get(pred_rmse, (int64_t[]){k}) == label;
            if (label >= 0 && label < 10) per_digit[label] += l1_right, digit_count[label]++;
        }
        cg_scope_end();
    }
    if (o->json) {
        printf("{\"digits\": 10, \"path\": ");
        cli_json_string(stdout, root);
        printf(", \"train\": %lld, \"test\": %lld, \"height\": %lld, \"width\": %lld, \"accuracy_l1\": %.9g, "
               "\"right_l1\": %lld, \"accuracy_rmse\": %.9g, \"right_rmse\": %lld, \"accuracy_l1_per_digit\": [",
               (long long)n_train, (long long)n_test, (long long)h, (long long)w,
               (double)right_l1 / (double)n_test, (long long)right_l1, (double)right_rmse / (double)n_test,
               (long long)right_rmse);
        for (int d = 0; d < 10; d++)
            printf("%s%.9g", d ? ", " : "", digit_count[d] ? (double)per_digit[d] / (double)digit_count[d] : 0.0);
        printf("]}\n");
    } else {
        printf("each test image is classified as the digit whose mean training image is nearest\n");
        printf("distance  accuracy\n");
        printf("L1        %.4f  (%lld of %lld)\n", (double)right_l1 / (double)n_test, (long long)right_l1,
               (long long)n_test);
        printf("RMSE      %.4f  (%lld of %lld)\n", (double)right_rmse / (double)n_test, (long long)right_rmse,
               (long long)n_test);
        printf("L1 accuracy per digit:");
        for (int d = 0; d < 10; d++)
            printf(" %d:%.4f", d, digit_count[d] ? (double)per_digit[d] / (double)digit_count[d] : 0.0);
        printf("\n");
    }

    /* Five means per row in color (148 columns), two in plain text (2 characters a pixel). */
    int64_t per_row = o->color ? 5 : 2;
    if (o->show)
        for (int64_t first = 0; first < 10; first += per_row) {
            char title[64];
            snprintf(title, sizeof title, "\nmean digits %lld-%lld:", (long long)first, (long long)(first + per_row - 1));
            cg_tensor *strip = means_strip(means, first, per_row);
            if (!strip) return cli_fail_last();
            print_picture(title, strip, o->color);
        }
    if (o->out_dir) {
        const char *titles[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        char *file = cg_path_join(o->out_dir, "means.png");
        cg_status st = cg_mkdirs(o->out_dir);
        if (st == CG_OK) st = file ? cg_show_grid_png(means, titles, 5, 4, file) : CG_ERR_NOMEM;
        if (st == CG_OK && !o->quiet) fprintf(stderr, "saved %s\n", cli_esc(file));
        free(file);
        if (st != CG_OK) return cli_fail_last();
    }
    return 0;
}

enum { O_DIGITS, O_SHOW, O_NO_COLOR, O_COLOR };
static const cli_option pixel_options[] = {
    [O_DIGITS] = {"--digits", true},   [O_SHOW] = {"--show", false},
    [O_NO_COLOR] = {"--no-color", false}, [O_COLOR] = {"--color", false},
};

int cmd_pixel_similarity(int argc, char **argv) {
    options o = {.digits = 2, .color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
    int i = 0, n_opts = (int)(sizeof pixel_options / sizeof pixel_options[0]);
    bool dashes = false;
    const char *v;
    char msg[256];
    int64_t n;
    const char *cmd = "pixel-similarity";
    cli_common c = cli_common_init(PIXEL_COMMON, 0);
    for (int k; (k = cli_parse(cmd, pixel_options, n_opts, &c, argc, argv, &i, &dashes, &v, usage)) != -2;) {
        switch (k) {
        case CLI_USAGE: return 2;
        case CLI_DONE: return 0;
        case -1: return cli_usage_error(cmd, usage, "unexpected argument '%s'", cli_esc(v));
        case O_DIGITS:
            /* a set, not a range: the strict parser, then one of the two */
            if (cli_parse_int64("--digits", v, 2, 10, &n, msg, sizeof msg) || (n != 2 && n != 10))
                return cli_usage_error(cmd, usage, "--digits must be 2 or 10, got '%s'", cli_esc(v));
            o.digits = (int)n;
            break;
        case O_SHOW: o.show = true; break;
        case O_NO_COLOR: o.color = false; break;
        case O_COLOR: o.color = true; break;
        default: break;
        }
    }
    if (c.json && o.show)
        return cli_usage_error(cmd, usage, "--show draws pictures on stdout; --json prints numbers there (pick one)");
    o.out_dir = c.out;
    o.quiet = c.quiet, o.json = c.json;
    if (cli_common_apply(&c)) return 1;
    cg_scope_begin();
    int rc = o.digits == 10 ? ten_digits(&o) : three_vs_seven(&o);
    cg_scope_end();
    return rc;
}
