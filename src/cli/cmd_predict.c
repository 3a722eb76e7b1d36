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
            "usage: cgrad predict --model FILE [--probs] [--] IMAGE...\n"
            "\n"
            "Prints, for each image, the predicted class, its probability and the image path\n"
            "(one line each, tab-separated): fastai's learn.predict.\n"
            "\n"
            "options:\n"
            "  --model FILE   a model file written by `cgrad train --save` (safetensors with the\n"
            "                 architecture in its metadata)\n"
            "  --probs        also print every class's probability (class=prob ...)\n"
            "  --info         print the model's metadata and architecture, then exit\n"
            "  --json         one JSON object per image on stdout: {\"path\": ..., \"class\": ...,\n"
            "                 \"probability\": ..., \"probs\": {class: probability, ...}}; a failed\n"
            "                 image is {\"path\": ..., \"error\": ...} (and the exit status is 1)\n"
            "  --             ends the options: every argument after it is an image\n"
            "\n"
            "predict writes no files.\n"
            "\n");
    cli_common_help(f, PREDICT_COMMON);
}

static void json_prediction(const char *path, const cg_prediction *p) {
    printf("{\"path\": ");
    cli_json_string(stdout, path);
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
        cg_scope_begin();
        cg_prediction p;
        cg_tensor *x = cg_model_input_from_png(&md, images[i]);
        if (!x || cg_model_predict(model, &md, x, &p) != CG_OK) {
            rc = cli_fail_last(); /* report and go on with the other images */
            if (json) {
                printf("{\"path\": ");
                cli_json_string(stdout, images[i]);
                printf(", \"error\": ");
                cli_json_string(stdout, cg_last_error());
                printf("}\n");
            }
        } else if (json) {
            json_prediction(images[i], &p);
            cg_prediction_free(&p);
        } else {
            /* the class names come from the model file, the paths from the
             * user's shell: both escaped, so a tab or an ESC in them cannot
             * break the columns or drive the terminal */
            printf("%s\t%.4f\t%s", cli_esc(p.name), p.probability, cli_esc(images[i]));
            for (int64_t k = 0; probs && k < p.n_classes; k++)
                printf("%s%s=%.4f", k ? " " : "\t", cli_esc(p.names[k]), p.probs[k]);
            printf("\n");
            cg_prediction_free(&p);
        }
        cg_scope_end();
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
