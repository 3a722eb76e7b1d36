/* cgrad show — look at data: an image in the terminal, its pixel values as the
 * chapter's shaded table, or a PNG (show_image, show_batch).
 *
 *   cgrad show ~/.cgrad/data/mnist_sample/train/3/10000.png
 *   cgrad show .../10000.png --table 4:15,4:22       the chapter's df of im3_t
 *   cgrad show .../mnist/t10k-images-idx3-ubyte.gz --index 7 --count 9 --png batch.png
 *   cgrad show .../mnist_sample --split valid --count 9 --png batch.png   (titles: classes)
 *
 * From an image-folder root, --count N without --index shows fastai's
 * show_batch: N items drawn at random (seeded by --seed), so the classes mix. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cgrad.h"
#include "cli/cli_common.h"
#include "cli/cli_escape.h"
#include "cli/cli_json.h"
#include "cli/cli_number.h"
#include "cli/commands.h"

/* The flags' ranges, and the largest PNG show writes (64 Mpixels, 192 MB of
 * RGB): a --scale or --count that would go past it is refused before drawing. */
#define SHOW_INDEX_MAX INT32_MAX
#define SHOW_COUNT_MAX 1024
#define SHOW_SCALE_MAX 64
#define SHOW_TABLE_MAX 65536
#define SHOW_PNG_MAX_PIXELS ((double)(1 << 26))
#define SHOW_COMMON (CLI_OUT | CLI_QUIET | CLI_JSON | CLI_SEED | CLI_DATA)
#define SHOW_OUT_IMAGE "image.png" /* --out DIR with one image */
#define SHOW_OUT_BATCH "batch.png" /* --out DIR with --count N > 1: the grid */

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad show PATH|DATASET [--index I] [--count N] [--table R0:R1,C0:C1] [--out DIR]\n"
            "                  [options]\n"
            "\n"
            "Shows images in the terminal (shaded blocks) or writes them as a PNG, drawn like\n"
            "fastai's show_image (cmap 'Greys': high values dark) and show_batch (a grid with titles).\n"
            "PATH is a .png file, an IDX file of images (.gz or raw), a folder of .png files, or\n"
            "an image-folder root (train/<class>/*.png, valid/<class>/*.png); a dataset name\n"
            "(mnist_sample, mnist_png) is its folder in the cache (got first when missing).\n"
            "\n"
            "--out DIR writes DIR/" SHOW_OUT_IMAGE " (one image) or DIR/" SHOW_OUT_BATCH " (--count N > 1: the\n"
            "grid) instead of drawing in the terminal.  (--png FILE, the older flag, names the PNG.)\n"
            "--json prints, instead of pictures, one JSON object: the images picked (title, file,\n"
            "shape), the PNG written (or null), and with --table the pixel values as rows.\n"
            "\n"
            "options:\n"
            "  --index I      first image to show, of an IDX file or a folder, 0..%d (default 0)\n"
            "  --count N      how many images, 1..%d (default 1); with --png they make one grid\n"
            "  --table R0:R1,C0:C1  print the pixels of rows R0..R1-1 and columns C0..C1-1 shaded\n"
            "                 like the chapter's df.style.background_gradient('Greys') (4:15,4:22);\n"
            "                 each bound 0..%d\n"
            "  --labels FILE  an IDX labels file: titles for the images of an IDX file\n"
            "  --split S      which split of an image-folder root (default train); --count N without\n"
            "                 --index shows a random, mixed-class batch like fastai's show_batch\n"
            "                 (seeded by --seed, default 42)\n"
            "  --channels C   read PNGs as 0 (as stored, default), 1 (gray) or 3 (RGB)\n"
            "  --scale S      size of a pixel in the PNG, 1..%d (default 8 for one image, 4 for a\n"
            "                 grid); the PNG may have at most %.0f Mpixels\n"
            "  --no-color     plain-text pictures (the default when stdout is not a terminal or\n"
            "                 NO_COLOR is set); --color forces ANSI colors\n"
            "  --             ends the options (a PATH that starts with -)\n"
            "\n",
            SHOW_INDEX_MAX, SHOW_COUNT_MAX, SHOW_TABLE_MAX, SHOW_SCALE_MAX, SHOW_PNG_MAX_PIXELS / (1 << 20));
    cli_common_help(f, SHOW_COMMON);
}

typedef struct show_options {
    const char *path, *png, *labels, *split, *table;
    int64_t index, count;
    int64_t rows[2], cols[2]; /* --table, parsed */
    int channels, scale;
    bool color, index_set; /* index_set: --index given (else a folder root's batch is random) */
    bool quiet, json;
    uint64_t seed;
} show_options;

/* The images to show as [N,H,W] or [N,C,H,W], with a title each. */
typedef struct picked {
    cg_tensor *images;
    cg_strlist titles;
    cg_strlist files; /* each image's file; empty for an IDX file's images */
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
    /* show_batch: a labelled folder's files are sorted by class, so without
     * --index the batch is the first count of a seeded random permutation. */
    cg_tensor *perm = NULL;
    if (st == CG_OK && labels && !o->index_set && o->count > 1) {
        cg_generator g;
        cg_generator_init(&g, o->seed);
        perm = cg_randperm(&g, (int64_t)paths->count);
        if (!perm) st = cg_last_status();
    }
    for (int64_t k = o->index; st == CG_OK && k < o->index + o->count; k++) {
        int64_t i = perm ? ((const int64_t *)cg_data(perm))[k] : k;
        st = cg_strlist_push(&subset, paths->items[i]);
        if (st == CG_OK)
            st = cg_strlist_push(&out->titles, labels ? classes->items[labels[i]] : cg_path_name(paths->items[i]));
        if (st == CG_OK) st = cg_strlist_push(&out->files, paths->items[i]);
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
        cg_status st = cg_strlist_push(&out->files, o->path);
        return st == CG_OK ? cg_strlist_push(&out->titles, cg_path_name(o->path)) : st;
    }
    return pick_from_idx(o, out);
}

/* "4:15,4:22" -> rows [4,15), cols [4,22), each bound read by the strict
 * number parser.  0, or -1 with the reason in msg. */
static int parse_table(const char *spec, int64_t r[2], int64_t c[2], char *msg, size_t size) {
    char buf[128];
    const char *names[4] = {"--table R0", "--table R1", "--table C0", "--table C1"};
    int64_t *dst[4] = {&r[0], &r[1], &c[0], &c[1]};
    const char seps[4] = {':', ',', ':', '\0'};
    if (strlen(spec) >= sizeof buf) {
        snprintf(msg, size, "--table wants ROW0:ROW1,COL0:COL1, e.g. 4:15,4:22 (got %zu bytes)", strlen(spec));
        return -1;
    }
    strcpy(buf, spec);
    char *p = buf;
    for (int k = 0; k < 4; k++) {
        char *end = seps[k] ? strchr(p, seps[k]) : p + strlen(p);
        if (!end) {
            snprintf(msg, size, "--table wants ROW0:ROW1,COL0:COL1, e.g. 4:15,4:22, got '%s'", cli_esc(spec));
            return -1;
        }
        *end = '\0';
        if (cli_parse_int64(names[k], p, 0, SHOW_TABLE_MAX, dst[k], msg, size)) return -1;
        p = end + 1;
    }
    if (r[1] <= r[0] || c[1] <= c[0]) {
        snprintf(msg, size, "--table %s: each range needs its end after its start (4:15,4:22)", cli_esc(spec));
        return -1;
    }
    return 0;
}

/* Refuses a PNG larger than SHOW_PNG_MAX_PIXELS: the images' pixels times
 * scale^2 (a grid adds a little padding and the titles on top of that). */
static cg_status check_png_size(const cg_tensor *images, int scale) {
    double h = (double)images->shape[images->ndim - 2], w = (double)images->shape[images->ndim - 1];
    double pixels = (double)images->shape[0] * h * w * scale * scale;
    if (pixels > SHOW_PNG_MAX_PIXELS)
        return cg_fail(CG_ERR_VALUE,
                       "show: %lld image%s of %.0fx%.0f at --scale %d make%s a %.0f Mpixel PNG; the cap is %.0f "
                       "(use a smaller --scale or --count)",
                       (long long)images->shape[0], images->shape[0] == 1 ? "" : "s", h, w, scale,
                       images->shape[0] == 1 ? "s" : "", pixels / (1 << 20), SHOW_PNG_MAX_PIXELS / (1 << 20));
    return CG_OK;
}

/* --json: what was picked (and written), and the --table values, as one object. */
static void print_json(const show_options *o, const picked *p, const cg_tensor *table) {
    printf("{\"path\": ");
    cli_json_string(stdout, o->path);
    printf(", \"images\": [");
    for (int64_t i = 0; i < p->images->shape[0]; i++) {
        printf("%s{\"title\": ", i ? ", " : "");
        cli_json_string(stdout, p->titles.items[i]);
        printf(", \"file\": ");
        cli_json_string(stdout, (size_t)i < p->files.count ? p->files.items[i] : NULL);
        printf(", \"shape\": [");
        for (int d = 1; d < p->images->ndim; d++) printf("%s%lld", d > 1 ? ", " : "", (long long)p->images->shape[d]);
        printf("]}");
    }
    printf("], \"png\": ");
    cli_json_string(stdout, o->png);
    if (table) {
        printf(", \"table\": {\"rows\": [%lld, %lld], \"cols\": [%lld, %lld], \"values\": [", (long long)o->rows[0],
               (long long)o->rows[1], (long long)o->cols[0], (long long)o->cols[1]);
        for (int64_t r = 0; r < table->shape[0]; r++) {
            printf("%s[", r ? ", " : "");
            for (int64_t c = 0; c < table->shape[1]; c++)
                printf("%s%.9g", c ? ", " : "", cg_get(table, (int64_t[]){r, c}));
            printf("]");
        }
        printf("]}");
    }
    printf("}\n");
}

static int show(const show_options *o) {
    picked p = {0};
    if (pick(o, &p) != CG_OK) {
        cg_strlist_free(&p.titles);
        cg_strlist_free(&p.files);
        return cli_fail_last();
    }
    int rc = 0;
    if (o->table) {
        const int64_t *r = o->rows, *c = o->cols;
        cg_tensor *first = cg_select(p.images, 0, 0);
        if (first->ndim != 2) {
            rc = cli_fail("--table shows a gray image; add --channels 1 for a color one");
        } else if (r[1] > first->shape[0] || c[1] > first->shape[1]) {
            char buf[64];
            fprintf(stderr, "cgrad: --table %s is outside the %s image\n", cli_esc(o->table),
                    cg_shape_str(first, buf, sizeof buf));
            rc = 1;
        } else {
            cg_tensor *view = cg_slice(cg_slice(first, 0, r[0], r[1], 1), 1, c[0], c[1], 1);
            char *s = o->json || !view ? NULL : cg_render_pixel_table(view, o->color);
            if (!view || (!o->json && !s)) rc = cli_fail_last();
            else if (o->json) print_json(o, &p, view);
            else printf("%s", s);
            free(s);
        }
    } else if (o->png) {
        int scale = o->scale ? o->scale : (o->count > 1 ? 4 : 8);
        cg_status st = check_png_size(p.images, scale);
        if (st == CG_OK)
            st = o->count > 1 ? cg_show_grid_png(p.images, (const char *const *)p.titles.items, 0, scale, o->png)
                              : cg_show_image_png(cg_select(p.images, 0, 0), o->png, scale);
        if (st != CG_OK) rc = cli_fail_last();
        else if (!o->quiet) fprintf(stderr, "saved %s\n", cli_esc(o->png));
        if (!rc && o->json) print_json(o, &p, NULL);
    } else if (o->json) {
        print_json(o, &p, NULL);
    } else {
        for (int64_t i = 0; i < p.images->shape[0] && rc == 0; i++) {
            char *s = cg_render_image_text(cg_select(p.images, 0, i), o->color);
            if (!s) rc = cli_fail_last();
            else printf("%s\n%s", cli_esc(p.titles.items[i]), s);
            free(s);
        }
    }
    cg_strlist_free(&p.titles);
    cg_strlist_free(&p.files);
    return rc;
}

enum { O_NO_COLOR, O_COLOR, O_INDEX, O_COUNT, O_TABLE, O_LABELS, O_SPLIT, O_CHANNELS, O_PNG, O_SCALE };
static const cli_option show_options_table[] = {
    [O_NO_COLOR] = {"--no-color", false},
    [O_COLOR] = {"--color", false}, [O_INDEX] = {"--index", true},  [O_COUNT] = {"--count", true},
    [O_TABLE] = {"--table", true},  [O_LABELS] = {"--labels", true}, [O_SPLIT] = {"--split", true},
    [O_CHANNELS] = {"--channels", true}, [O_PNG] = {"--png", true}, [O_SCALE] = {"--scale", true},
};

/* PATH names a known dataset and no file: its folder in the cache. */
static int dataset_path(const char **path, char *buf, size_t n) {
    if (access(*path, F_OK) == 0) return 0;
    for (int i = 0; i < cg_dataset_count_known(); i++)
        if (!strcmp(cg_dataset_at(i)->name, *path)) {
            if (cg_dataset_get(*path, NULL, buf, n) != CG_OK) return cli_fail_last();
            *path = buf;
            return 0;
        }
    return 0;
}

int cmd_show(int argc, char **argv) {
    show_options o = {.count = 1, .split = "train", .seed = 42, .color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
    int i = 0;
    bool dashes = false;
    const char *v;
    char msg[256];
    int64_t n;
    int n_opts = (int)(sizeof show_options_table / sizeof show_options_table[0]);
    cli_common c = cli_common_init(SHOW_COMMON, 42);
    for (int k; (k = cli_parse("show", show_options_table, n_opts, &c, argc, argv, &i, &dashes, &v, usage)) != -2;) {
        int bad = 0;
        switch (k) {
        case CLI_USAGE: return 2;
        case CLI_DONE: return 0;
        case -1:
            if (o.path) return cli_usage_error("show", usage, "one PATH only (got '%s' too)", cli_esc(v));
            o.path = v;
            break;
        case O_NO_COLOR: o.color = false; break;
        case O_COLOR: o.color = true; break;
        case O_INDEX:
            bad = cli_parse_int64("--index", v, 0, SHOW_INDEX_MAX, &o.index, msg, sizeof msg);
            o.index_set = true;
            break;
        case O_COUNT: bad = cli_parse_int64("--count", v, 1, SHOW_COUNT_MAX, &o.count, msg, sizeof msg); break;
        case O_TABLE: o.table = v; break;
        case O_LABELS: o.labels = v; break;
        case O_SPLIT: o.split = v; break;
        case O_CHANNELS:
            bad = cli_parse_int64("--channels", v, 0, 3, &n, msg, sizeof msg);
            if (!bad && n == 2) bad = 1, snprintf(msg, sizeof msg, "--channels: '2' is not 0, 1 or 3");
            o.channels = (int)n;
            break;
        case O_PNG: o.png = v; break;
        case O_SCALE:
            bad = cli_parse_int64("--scale", v, 1, SHOW_SCALE_MAX, &n, msg, sizeof msg);
            o.scale = (int)n;
            break;
        default: break;
        }
        if (bad) return cli_usage_error("show", usage, "%s", msg);
    }
    if (!o.path) return cli_usage_error("show", usage, "which PATH? (a .png, an IDX file or a folder)");
    if (o.table && parse_table(o.table, o.rows, o.cols, msg, sizeof msg))
        return cli_usage_error("show", usage, "%s", msg);
    o.seed = c.seed;
    o.quiet = c.quiet, o.json = c.json;
    if (cli_common_apply(&c)) return 1;
    char root[4096];
    int rc = dataset_path(&o.path, root, sizeof root);
    if (rc) return rc;
    char *out_png = NULL;
    if (c.out && !o.png && !o.table) {
        if (cli_out_file("show", c.out, o.count > 1 ? SHOW_OUT_BATCH : SHOW_OUT_IMAGE, &out_png)) return 1;
        o.png = out_png;
    }
    cg_scope_begin();
    rc = show(&o);
    cg_scope_end();
    free(out_png);
    return rc;
}
