/* fastbook chapter 4, "Pixels: The Foundations of Computer Vision", cell by
 * cell: list the data, open one 3, look at its numbers.  Each block starts with
 * the Python it reproduces.
 *
 *     path.ls()                  (#3) [Path('labels.csv'),Path('train'),Path('valid')]
 *     tensor(im3)[4:10,4:10]     tensor([[  0,   0,   0,   0,   0,   0], ...
 *     df.style...background_gradient('Greys')   the shaded table, in the terminal
 *
 * Saves im3.png (show_image(three_tensors[1]), cmap 'Greys') in the current
 * folder, or in the folder given as the first argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad.h"

static int failed(void) {
    fprintf(stderr, "pixels: %s\n", cg_last_error());
    cg_scope_end();
    cg_pool_trim();
    return 1;
}

/* Prints a listing as fastai's L does: (#n) [Path('a'),Path('b'),...], with
 * paths relative to base (Path.BASE_PATH = path), at most `show` items. */
static void print_listing(const cg_strlist *l, const char *base, size_t show) {
    size_t skip = strlen(base) + 1;
    printf("(#%zu) [", l->count);
    for (size_t i = 0; i < l->count && i < show; i++)
        printf("%sPath('%s')", i ? "," : "", l->items[i] + skip);
    printf("%s]\n", l->count > show ? "..." : "");
}

static cg_status ls_print(const char *base, const char *folder, size_t show) {
    char *dir = folder ? cg_path_join(base, folder) : strdup(base);
    cg_strlist all = {0}, l = {0};
    cg_status st = dir ? cg_ls(dir, &all) : cg_fail(CG_ERR_NOMEM, "out of memory");
    /* Leave out dot files: the cache's completion marker (.cgrad-complete) is
     * cgrad's, not the dataset's. */
    for (size_t i = 0; st == CG_OK && i < all.count; i++)
        if (cg_path_name(all.items[i])[0] != '.') st = cg_strlist_push(&l, all.items[i]);
    if (st == CG_OK) print_listing(&l, base, show);
    cg_strlist_free(&all);
    cg_strlist_free(&l);
    free(dir);
    return st;
}

int main(int argc, char **argv) {
    const char *out_dir = argc > 1 ? argv[1] : ".";
    bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    cg_scope_begin();

    /* path = untar_data(URLs.MNIST_SAMPLE); Path.BASE_PATH = path */
    char path[4096];
    if (cg_untar_data("mnist_sample", path, sizeof path) != CG_OK) return failed();
    /* path.ls(); (path/'train').ls() */
    if (ls_print(path, NULL, 10) != CG_OK || ls_print(path, "train", 10) != CG_OK) return failed();

    /* threes = (path/'train'/'3').ls().sorted(); threes */
    char *dir = cg_path_join(path, "train/3");
    cg_strlist threes = {0};
    cg_status st = cg_ls(dir, &threes);
    free(dir);
    if (st != CG_OK) return failed();
    print_listing(&threes, path, 10);

    /* im3_path = threes[1]; im3 = Image.open(im3_path) */
    cg_tensor *im3 = cg_png_read(threes.items[1], 0);
    cg_strlist_free(&threes);
    if (!im3) return failed();
    /* array(im3)[4:10,4:10] / tensor(im3)[4:10,4:10] */
    cg_print(cg_slice(cg_slice(im3, 0, 4, 10, 1), 1, 4, 10, 1));

    /* df = pd.DataFrame(im3_t[4:15,4:22])
     * df.style.set_properties(**{'font-size':'6pt'}).background_gradient('Greys') */
    char *table = cg_render_pixel_table(cg_slice(cg_slice(im3, 0, 4, 15, 1), 1, 4, 22, 1), color);
    if (!table) return failed();
    printf("%s", table);
    free(table);

    /* show_image(three_tensors[1]) — in the terminal, and as a PNG */
    char *text = cg_render_image_text(im3, color);
    if (!text) return failed();
    printf("%s", text);
    free(text);
    char *file = cg_path_join(out_dir, "im3.png");
    st = file ? cg_show_image_png(im3, file, 8) : cg_fail(CG_ERR_NOMEM, "out of memory");
    if (st == CG_OK) printf("saved %s\n", file);
    free(file);
    if (st != CG_OK) return failed();

    cg_scope_end();
    cg_pool_trim();
    return 0;
}
