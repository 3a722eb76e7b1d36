/* cgrad predict — fastai's learn.predict for a saved model file.
 *
 *   cgrad predict --model model.safetensors IMAGE.png...
 *   3 0.9912 .../valid/3/10.png
 *
 * The model file (written by `cgrad train --save`, see weights.h) carries its
 * architecture, loss and class names in its safetensors metadata, so nothing
 * else is needed to rebuild it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "cli/cli_common.h"
#include "cli/cli_escape.h"
#include "cli/cli_json.h"
#include "cli/commands.h"

#define PREDICT_COMMON (CLI_QUIET | CLI_JSON | CLI_THREADS)

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad predict --model FILE [--probs] [--] IMAGE|FOLDER|IDX...\n"
            "\n"
            "Prints, for each image, the predicted class, its probability and the image path\n"
            "(one line each, tab-separated): fastai's learn.predict.  A FOLDER stands for every\n"
            "image under it at any depth, sorted (fastai's get_image_files); an IDX file of\n"
            "images (MNIST's t10k-images-idx3-ubyte, .gz or not) for each of its images, named\n"
            "FILE[i].  Images of another size are resized as the model's training was when it\n"
            "was trained with --size (the model file keeps its Resize).\n"
            "\n"
            "options:\n"
            "  --model FILE   a model file written by `cgrad train --save` (safetensors with the\n"
            "                 architecture in its metadata)\n"
            "  --probs        also print every class's probability (class=prob ...)\n"
            "  --info         print the model's metadata and architecture, then exit\n"
            "  --json         one JSON object per image on stdout: {\"path\": ..., \"class\": ...,\n"
            "                 \"probability\": ..., \"probs\": {class: probability, ...}} (an IDX\n"
            "                 file's images add \"item\": i); a failed image is {\"path\": ...,\n"
            "                 \"error\": ...} (and the exit status is 1)\n"
            "  --             ends the options: every argument after it is an image\n"
            "\n"
            "predict writes no files.\n"
            "\n");
    cli_common_help(f, PREDICT_COMMON);
}

static void json_prediction(const char *path, int64_t item, const cg_prediction *p) {
    printf("{\"path\": ");
    cli_json_string(stdout, path);
    if (item >= 0) printf(", \"item\": %lld", (long long)item);
    printf(", \"class\": ");
    cli_json_string(stdout, p->name);
    printf(", \"label\": %lld, \"probability\": %.9g, \"probs\": {", (long long)p->label, p->probability);
    for (int64_t k = 0; k < p->n_classes; k++) {
        printf("%s", k ? ", " : "");
        cli_json_string(stdout, p->names[k]);
        printf(": %.9g", p->probs[k]);
    }
    printf("}}\n");
}

/* Says why `path` (item `item` of it, when >= 0) failed: one line on stderr,
 * and with --json an {"path", "error"} object.  Returns 1. */
static int report_failure(const char *path, int64_t item, bool json) {
    cli_fail_last();
    if (json) {
        printf("{\"path\": ");
        cli_json_string(stdout, path);
        if (item >= 0) printf(", \"item\": %lld", (long long)item);
        printf(", \"error\": ");
        cli_json_string(stdout, cg_last_error());
        printf("}\n");
    }
    return 1;
}

/* An IDX file by its first bytes: the IDX magic 00 00 08 0N, or gzip's 1f 8b
 * (MNIST's .gz files; a gzipped PNG is not a thing predict reads). */
static bool is_idx_file(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char m[4] = {0};
    size_t got = f ? fread(m, 1, 4, f) : 0;
    if (f) fclose(f);
    if (got >= 2 && m[0] == 0x1f && m[1] == 0x8b) return true;
    return got == 4 && m[0] == 0 && m[1] == 0 && m[2] == 8 && m[3] >= 1 && m[3] <= 8;
}

/* One image: the file at path, or (image not NULL) item `item` of the IDX file
 * at path.  Prints its line (or JSON object); 0, or 1 after reporting. */
static int predict_one(cg_module *model, const cg_metadata *md, const char *path, int64_t item,
                       const cg_tensor *image, bool probs, bool json) {
    cg_scope_begin();
    char name[4200];
    if (item >= 0) snprintf(name, sizeof name, "%s[%lld]", path, (long long)item);
    else snprintf(name, sizeof name, "%s", path);
    cg_prediction p;
    cg_tensor *x = image ? cg_model_input_from_image(md, image, name) : cg_model_input_from_png(md, path);
    int rc = 0;
    if (!x || cg_model_predict(model, md, x, &p) != CG_OK) {
        rc = report_failure(path, item, json); /* and go on with the other images */
    } else if (json) {
        json_prediction(path, item, &p);
        cg_prediction_free(&p);
    } else {
        /* the class names come from the model file, the paths from the
         * user's shell: both escaped, so a tab or an ESC in them cannot
         * break the columns or drive the terminal */
        printf("%s\t%.4f\t%s", cli_esc(p.name), p.probability, cli_esc(name));
        for (int64_t k = 0; probs && k < p.n_classes; k++)
            printf("%s%s=%.4f", k ? " " : "\t", cli_esc(p.names[k]), p.probs[k]);
        printf("\n");
        cg_prediction_free(&p);
    }
    cg_scope_end();
    return rc;
}

/* Loads the model and predicts each image (or prints --info). */
static int predict(const char *model_path, const char *const *images, int n_images, bool probs, bool info,
                   bool json) {
    cg_metadata md = {0};
    cg_module *model = cg_model_load(model_path, &md);
    if (!model) return cli_fail_last();
    if (info) {
        for (int i = 0; i < md.n; i++) printf("%s: %s\n", cli_esc(md.keys[i]), cli_esc(md.values[i]));
        char *r = cg_module_repr(model);
        if (r) printf("%s\n", r);
        free(r);
        cg_module_release(model);
        cg_metadata_free(&md);
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < n_images; i++) {
        const char *arg = images[i];
        if (cg_path_is_dir(arg)) { /* get_image_files(arg): every image under it, sorted */
            cg_labelled_files lf = {0};
            if (cg_image_files_list(arg, &lf) != CG_OK) {
                rc = report_failure(arg, -1, json);
            } else {
                for (size_t j = 0; j < lf.paths.count; j++)
                    if (predict_one(model, &md, lf.paths.items[j], -1, NULL, probs, json)) rc = 1;
            }
            cg_labelled_files_free(&lf);
        } else if (is_idx_file(arg)) { /* each image of an IDX file [N,H,W] */
            cg_scope_begin();
            cg_tensor *all = cg_idx_read(arg);
            if (!all || all->ndim != 3) {
                if (all) cg_fail(CG_ERR_SHAPE, "%s: not IDX images [N,H,W] (%d dims)", arg, all->ndim);
                rc = report_failure(arg, -1, json);
            } else {
                for (int64_t j = 0; j < all->shape[0]; j++)
                    if (predict_one(model, &md, arg, j, cg_select(all, 0, j), probs, json)) rc = 1;
            }
            cg_scope_end();
        } else if (predict_one(model, &md, arg, -1, NULL, probs, json)) {
            rc = 1;
        }
    }
    cg_module_release(model);
    cg_metadata_free(&md);
    return rc;
}

enum { O_MODEL, O_PROBS, O_INFO };
static const cli_option predict_options[] = {
    [O_MODEL] = {"--model", true}, [O_PROBS] = {"--probs", false}, [O_INFO] = {"--info", false},
};

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL;
    bool probs = false, info = false;
    /* the images: argv's positional arguments, in order (at most argc of them) */
    const char **images = calloc((size_t)argc, sizeof *images);
    if (!images) return cli_fail("predict: out of memory");
    int n_images = 0, i = 0, n_opts = (int)(sizeof predict_options / sizeof predict_options[0]);
    bool dashes = false;
    const char *v;
    cli_common c = cli_common_init(PREDICT_COMMON, 0);
    for (int k; (k = cli_parse("predict", predict_options, n_opts, &c, argc, argv, &i, &dashes, &v, usage)) != -2;) {
        switch (k) {
        case CLI_USAGE: free(images); return 2;
        case CLI_DONE: free(images); return 0;
        case -1: images[n_images++] = v; break;
        case O_MODEL: model_path = v; break;
        case O_PROBS: probs = true; break;
        case O_INFO: info = true; break;
        default: break;
        }
    }
    if (!model_path || (n_images == 0 && !info)) {
        free(images);
        return cli_usage_error("predict", usage, "%s", model_path ? "no image given" : "--model FILE is required");
    }
    int rc = cli_common_apply(&c) ? 1 : predict(model_path, images, n_images, probs, info, c.json);
    free(images);
    return rc;
}
