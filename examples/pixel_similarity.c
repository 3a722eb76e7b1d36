/* fastbook chapter 4, "First Try: Pixel Similarity" and "Computing Metrics
 * Using Broadcasting", cell by cell.  Each block starts with the Python it
 * reproduces.  Prints exactly the chapter's numbers:
 *
 *     (6131, 6265)
 *     torch.Size([6131, 28, 28])
 *     (tensor(0.1114), tensor(0.2021))
 *     (tensor(0.1586), tensor(0.3021))
 *     ...
 *     (tensor(0.9168), tensor(0.9854), tensor(0.9511))
 *
 * and saves mean3.png and mean7.png (show_image with cmap 'Greys') in the
 * current folder, or in the folder given as the first argument.
 *
 * Build: it is built with the project (build/examples/pixel_similarity). */
#include <stdio.h>
#include <stdlib.h>

#include "cgrad.h"

static int failed(void) {
    fprintf(stderr, "pixel_similarity: %s\n", cg_last_error());
    cg_scope_end();
    cg_pool_trim();
    return 1;
}

/* show_image(t) saved as out_dir/name, 8x size */
static cg_status save_image(const char *out_dir, const char *name, const cg_tensor *t) {
    char *file = cg_path_join(out_dir, name);
    cg_status st = file ? cg_show_image_png(t, file, 8) : cg_fail(CG_ERR_NOMEM, "out of memory");
    free(file);
    return st;
}

/* Prints tensors as Python prints a tuple of them: (tensor(0.1114), tensor(0.2021)) */
static void print_tuple(int n, cg_tensor *const *ts) {
    printf("(");
    for (int i = 0; i < n; i++) {
        char *s = cg_format(ts[i]);
        printf("%s%s", i ? ", " : "", s ? s : "?");
        free(s);
    }
    printf(")\n");
}

/* torch.stack([tensor(Image.open(o)) for o in files]).float()/255 */
static cg_tensor *stack_folder(const char *root, const char *folder) {
    char *dir = cg_path_join(root, folder);
    cg_strlist files = {0};
    cg_tensor *t = NULL;
    if (dir && cg_ls(dir, &files) == CG_OK) t = cg_div_s(cg_float(cg_png_read_many(&files, 0)), 255);
    cg_strlist_free(&files);
    free(dir);
    return t;
}

/* def mnist_distance(a,b): return (a-b).abs().mean((-1,-2)) */
static cg_tensor *mnist_distance(cg_tensor *a, cg_tensor *b) {
    return cg_mean(cg_abs(cg_sub(a, b)), (int[]){-1, -2}, 2, false);
}

int main(int argc, char **argv) {
    const char *out_dir = argc > 1 ? argv[1] : ".";
    cg_scope_begin(); /* every tensor below dies at cg_scope_end() */

    /* path = untar_data(URLs.MNIST_SAMPLE) */
    char path[4096];
    if (cg_untar_data("mnist_sample", path, sizeof path) != CG_OK) return failed();

    /* threes = (path/'train'/'3').ls().sorted()
     * three_tensors = [tensor(Image.open(o)) for o in threes]
     * stacked_threes = torch.stack(three_tensors).float()/255 */
    cg_tensor *stacked_threes = stack_folder(path, "train/3");
    cg_tensor *stacked_sevens = stack_folder(path, "train/7");
    if (!stacked_threes || !stacked_sevens) return failed();
    /* len(three_tensors),len(seven_tensors) */
    printf("(%lld, %lld)\n", (long long)stacked_threes->shape[0], (long long)stacked_sevens->shape[0]);
    /* stacked_threes.shape */
    char shape[64];
    printf("torch.Size(%s)\n", cg_shape_str(stacked_threes, shape, sizeof shape));

    /* mean3 = stacked_threes.mean(0); show_image(mean3) */
    cg_tensor *mean3 = cg_mean(stacked_threes, (int[]){0}, 1, false);
    cg_tensor *mean7 = cg_mean(stacked_sevens, (int[]){0}, 1, false);
    if (!mean3 || !mean7) return failed();
    if (save_image(out_dir, "mean3.png", mean3) != CG_OK ||
        save_image(out_dir, "mean7.png", mean7) != CG_OK)
        return failed();

    /* a_3 = stacked_threes[1]
     * dist_3_abs = (a_3 - mean3).abs().mean()
     * dist_3_sqr = ((a_3 - mean3)**2).mean().sqrt() */
    cg_tensor *a_3 = cg_select(stacked_threes, 0, 1);
    cg_tensor *dist_3_abs = cg_mean(cg_abs(cg_sub(a_3, mean3)), NULL, 0, false);
    cg_tensor *dist_3_sqr = cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean3), 2), NULL, 0, false));
    print_tuple(2, (cg_tensor *[]){dist_3_abs, dist_3_sqr});
    cg_tensor *dist_7_abs = cg_mean(cg_abs(cg_sub(a_3, mean7)), NULL, 0, false);
    cg_tensor *dist_7_sqr = cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean7), 2), NULL, 0, false));
    print_tuple(2, (cg_tensor *[]){dist_7_abs, dist_7_sqr});
    /* F.l1_loss(a_3.float(),mean7), F.mse_loss(a_3,mean7).sqrt() */
    print_tuple(2, (cg_tensor *[]){cg_l1_loss(cg_float(a_3), mean7), cg_sqrt(cg_mse_loss(a_3, mean7))});

    /* valid_3_tens = torch.stack([tensor(Image.open(o)) for o in (path/'valid'/'3').ls()])
     * valid_3_tens = valid_3_tens.float()/255
     * (fastai's .ls() is unsorted; cg_ls sorts, which changes no result below) */
    cg_tensor *valid_3_tens = stack_folder(path, "valid/3");
    cg_tensor *valid_7_tens = stack_folder(path, "valid/7");
    if (!valid_3_tens || !valid_7_tens) return failed();
    char shape7[64];
    printf("(torch.Size(%s), torch.Size(%s))\n", cg_shape_str(valid_3_tens, shape, sizeof shape),
           cg_shape_str(valid_7_tens, shape7, sizeof shape7));

    /* mnist_distance(a_3, mean3) */
    cg_print(mnist_distance(a_3, mean3));
    /* valid_3_dist = mnist_distance(valid_3_tens, mean3); valid_3_dist.shape
     * broadcasting: [1010,28,28] - [28,28] -> [1010,28,28], mean over the last two */
    cg_tensor *valid_3_dist = mnist_distance(valid_3_tens, mean3);
    char *s = cg_format(valid_3_dist);
    printf("(%s, torch.Size(%s))\n", s ? s : "?", cg_shape_str(valid_3_dist, shape, sizeof shape));
    free(s);

    /* def is_3(x): return mnist_distance(x,mean3) < mnist_distance(x,mean7)
     * accuracy_3s =      is_3(valid_3_tens).float() .mean()
     * accuracy_7s = (1 - is_3(valid_7_tens).float()).mean() */
    cg_tensor *is_3_valid3 = cg_lt(mnist_distance(valid_3_tens, mean3), mnist_distance(valid_3_tens, mean7));
    cg_tensor *is_3_valid7 = cg_lt(mnist_distance(valid_7_tens, mean3), mnist_distance(valid_7_tens, mean7));
    cg_tensor *accuracy_3s = cg_mean(cg_float(is_3_valid3), NULL, 0, false);
    cg_tensor *accuracy_7s = cg_mean(cg_rsub_s(1, cg_float(is_3_valid7)), NULL, 0, false);
    /* accuracy_3s,accuracy_7s,(accuracy_3s+accuracy_7s)/2 */
    cg_tensor *average = cg_div_s(cg_add(accuracy_3s, accuracy_7s), 2);
    if (!average) return failed();
    print_tuple(3, (cg_tensor *[]){accuracy_3s, accuracy_7s, average});

    cg_scope_end();
    cg_pool_trim();
    return 0;
}
