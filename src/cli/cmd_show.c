/* cgrad show — look at data: an image in the terminal, its pixel values as the
 * chapter's shaded table, or a PNG (show_image, show_batch).
 *
 *   cgrad show ~/.cgrad/data/mnist_sample/train/3/10000.png
 *   cgrad show .../10000.png --table 4:15,4:22       the chapter's df of im3_t
 *   cgrad show .../mnist/t10k-images-idx3-ubyte.gz --index 7 --count 9 --png batch.png
 *   cgrad show .../mnist_sample --split valid --count 9 --png batch.png   (titles: classes) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cgrad.h"
#include "cli/commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad show PATH [--index I] [--count N] [--table R0:R1,C0:C1] [--png OUT] [options]\n"
            "\n"
            "Shows images in the terminal (shaded blocks) or writes them as a PNG, drawn like\n"
            "fastai's show_image (cmap 'Greys': high values dark) and show_batch (a grid with titles).\n"
            "PATH is a .png file, an IDX file of images (.gz or raw), a folder of .png files, or\n"
            "an image-folder root (train/<class>/*.png, valid/<class>/*.png).\n"
            "\n"
            "options:\n"
            "  --index I      first image to show, of an IDX file or a folder (default 0)\n"
            "  --count N      how many images (default 1); with --png they make one grid\n"
            "  --table R0:R1,C0:C1  print the pixels of rows R0..R1-1 and columns C0..C1-1 shaded\n"
            "                 like the chapter's df.style.background_gradient('Greys') (4:15,4:22)\n"
            "  --labels FILE  an IDX labels file: titles for the images of an IDX file\n"
            "  --split S      which split of an image-folder root (default train)\n"
            "  --channels C   read PNGs as 0 (as stored, default), 1 (gray) or 3 (RGB)\n"
            "  --png OUT      write the picture to OUT (atomically) instead of the terminal\n"
            "  --scale S      size of a pixel in the PNG (default 8 for one image, 4 for a grid)\n"
            "  --no-color     plain-text pictures (the default when stdout is not a terminal or\n"
            "                 NO_COLOR is set); --color forces ANSI colors\n");
}

typedef struct show_options {
    const char *path, *png, *labels, *split, *table;
    int64_t index, count;
    int channels, scale;
    bool color;
} show_options;

/* The images to show as [N,H,W] or [N,C,H,W], with a title each. */
typedef struct picked {
    cg_tensor *images;
    cg_strlist titles;
} picked;

static bool ends_with_ci(const char *s, const char *suffix) {
    size_t ns = strlen(s), nx = strlen(suffix);
    return ns >= nx && !strcasecmp(s + ns - nx, suffix);
}

static cg_status check_range(const show_options *o, int64_t available, const char *what) {
    if (o->index < 0 || o->count < 1 || o->index + o->count > available)
        return cg_fail(CG_ERR_VALUE, "%s holds %lld %s; cannot show %lld from index %lld",
                       o->path, (long long)available, what, (long long)o->count, (long long)o->index);
    return CG_OK;
}

static cg_status pick_from_files(const show_options *o, const cg_strlist *paths, const int64_t *labels,
                                 const cg_strlist *classes, picked *out) {
    cg_status st = check_range(o, (int64_t)paths->count, "images");
    cg_strlist subset = {0};
    for (int64_t i = o->index; st == CG_OK && i < o->index + o->count; i++) {
        st = cg_strlist_push(&subset, paths->items[i]);
        if (st == CG_OK)
            st = cg_strlist_push(&out->titles, labels ? classes->items[labels[i]] : cg_path_name(paths->items[i]));
    }
    if (st == CG_OK) {
        out->images = cg_png_read_many(&subset, o->channels);
        if (!out->images) st = cg_last_status();
    }
    cg_strlist_free(&subset);
    return st;
}

static cg_status pick_from_folder(const show_options *o, picked *out) {
    char *train = cg_path_join(o->path, o->split);
    bool image_folder = train && cg_path_is_dir(train);
    free(train);
    cg_status st;
    if (image_folder) {
        cg_labelled_files items = {0};
        st = cg_image_folder_list(o->path, o->split, &items);
        if (st == CG_OK) st = pick_from_files(o, &items.paths, items.labels, &items.classes, out);
        cg_labelled_files_free(&items);
    } else {
        cg_strlist files = {0};
        st = cg_ls_ext(o->path, ".png", &files);
        if (st == CG_OK) st = pick_from_files(o, &files, NULL, NULL, out);
        cg_strlist_free(&files);
    }
    return st;
}

static cg_status pick_from_idx(const show_options *o, picked *out) {
    cg_tensor *all = cg_idx_read(o->path);
    if (!all) return cg_last_status();
    if (all->ndim != 3)
        return cg_fail(CG_ERR_SHAPE, "%s: expected IDX images [N,H,W], got %lld dims", o->path, (long long)all->ndim);
    cg_status st = check_range(o, all->shape[0], "images");
    if (st != CG_OK) return st;
    cg_tensor *labels = o->labels ? cg_idx_read(o->labels) : NULL;
    if (o->labels && !labels) return cg_last_status();
    if (labels && (labels->ndim != 1 || labels->shape[0] != all->shape[0]))
        return cg_fail(CG_ERR_SHAPE, "%s: %lld labels for %lld images", o->labels,
                       (long long)(labels->ndim ? labels->shape[0] : 0), (long long)all->shape[0]);
    out->images = cg_slice(all, 0, o->index, o->index + o->count, 1);
    for (int64_t i = o->index; st == CG_OK && i < o->index + o->count; i++) {
        char title[32];
        if (labels) snprintf(title, sizeof title, "%.0f", cg_get(labels, (int64_t[]){i}));
        else snprintf(title, sizeof title, "#%lld", (long long)i);
        st = cg_strlist_push(&out->titles, title);
    }
    return st;
}

static cg_status pick(const show_options *o, picked *out) {
    if (cg_path_is_dir(o->path)) return pick_from_folder(o, out);
    if (ends_with_ci(o->path, ".png")) {
        if (o->index != 0 || o->count != 1)
            return cg_fail(CG_ERR_VALUE, "%s: a PNG file holds one image (no --index/--count)", o->path);
        cg_tensor *img = cg_png_read(o->path, o->channels);
        if (!img) return cg_last_status();
        out->images = cg_unsqueeze(img, 0);
        return cg_strlist_push(&out->titles, cg_path_name(o->path));
    }
    return pick_from_idx(o, out);
}

/* "4:15,4:22" -> rows [4,15), cols [4,22) */
static bool parse_table(const char *spec, int64_t r[2], int64_t c[2]) {
    long long a, b, d, e;
    int used = 0;
    if (sscanf(spec, "%lld:%lld,%lld:%lld%n", &a, &b, &d, &e, &used) != 4 || spec[used] != '\0') return false;
    r[0] = a, r[1] = b, c[0] = d, c[1] = e;
    return a >= 0 && b > a && d >= 0 && e > d;
}

static int show(const show_options *o) {
    picked p = {0};
    if (pick(o, &p) != CG_OK) {
        cg_strlist_free(&p.titles);
        return cli_fail_last();
    }
    int rc = 0;
    if (o->table) {
        int64_t r[2], c[2];
        cg_tensor *first = cg_select(p.images, 0, 0);
        if (!parse_table(o->table, r, c)) {
            rc = cli_fail("--table wants ROW0:ROW1,COL0:COL1, e.g. 4:15,4:22");
        } else if (first->ndim != 2) {
            rc = cli_fail("--table shows a gray image; add --channels 1 for a color one");
        } else if (r[1] > first->shape[0] || c[1] > first->shape[1]) {
            char buf[64];
            fprintf(stderr, "cgrad: --table %s is outside the %s image\n", o->table,
                    cg_shape_str(first, buf, sizeof buf));
            rc = 1;
        } else {
            char *s = cg_render_pixel_table(cg_slice(cg_slice(first, 0, r[0], r[1], 1), 1, c[0], c[1], 1), o->color);
            if (!s) rc = cli_fail_last();
            else printf("%s", s);
            free(s);
        }
    } else if (o->png) {
        int scale = o->scale ? o->scale : (o->count > 1 ? 4 : 8);
        cg_status st = o->count > 1
                           ? cg_show_grid_png(p.images, (const char *const *)p.titles.items, 0, scale, o->png)
                           : cg_show_image_png(cg_select(p.images, 0, 0), o->png, scale);
        if (st != CG_OK) rc = cli_fail_last();
        else printf("saved %s\n", o->png);
    } else {
        for (int64_t i = 0; i < p.images->shape[0] && rc == 0; i++) {
            char *s = cg_render_image_text(cg_select(p.images, 0, i), o->color);
            if (!s) rc = cli_fail_last();
            else printf("%s\n%s", p.titles.items[i], s);
            free(s);
        }
    }
    cg_strlist_free(&p.titles);
    return rc;
}

int cmd_show(int argc, char **argv) {
    show_options o = {.count = 1, .split = "train", .color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-color")) {
            o.color = false;
        } else if (!strcmp(a, "--color")) {
            o.color = true;
        } else if (!strcmp(a, "--index") && has_value) {
            o.index = atoll(argv[++i]);
        } else if (!strcmp(a, "--count") && has_value) {
            o.count = atoll(argv[++i]);
        } else if (!strcmp(a, "--table") && has_value) {
            o.table = argv[++i];
        } else if (!strcmp(a, "--labels") && has_value) {
            o.labels = argv[++i];
        } else if (!strcmp(a, "--split") && has_value) {
            o.split = argv[++i];
        } else if (!strcmp(a, "--channels") && has_value) {
            o.channels = atoi(argv[++i]);
        } else if (!strcmp(a, "--png") && has_value) {
            o.png = argv[++i];
        } else if (!strcmp(a, "--scale") && has_value) {
            o.scale = atoi(argv[++i]);
        } else if (a[0] != '-' && !o.path) {
            o.path = a;
        } else {
            fprintf(stderr, "cgrad: show: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.path) {
        usage(stderr);
        return 2;
    }
    cg_scope_begin();
    int rc = show(&o);
    cg_scope_end();
    return rc;
}
