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
#include "cli/commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cgrad predict --model FILE [--probs] IMAGE...\n"
            "\n"
            "Prints, for each image, the predicted class, its probability and the image path\n"
            "(one line each, tab-separated): fastai's learn.predict.\n"
            "\n"
            "options:\n"
            "  --model FILE   a model file written by `cgrad train --save` (safetensors with the\n"
            "                 architecture in its metadata)\n"
            "  --probs        also print every class's probability (class=prob ...)\n"
            "  --info         print the model's metadata and architecture, then exit\n");
}

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL;
    bool probs = false, info = false;
    int first_image = argc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--model")) {
            if (++i >= argc) {
                usage(stderr);
                return 2;
            }
            model_path = argv[i];
        } else if (!strncmp(argv[i], "--model=", 8)) {
            model_path = argv[i] + 8;
        } else if (!strcmp(argv[i], "--probs")) {
            probs = true;
        } else if (!strcmp(argv[i], "--info")) {
            info = true;
        } else if (!strcmp(argv[i], "--")) {
            first_image = i + 1;
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "cgrad: predict: unknown option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            first_image = i;
            break;
        }
    }
    if (!model_path || (first_image >= argc && !info)) {
        fprintf(stderr, "cgrad: predict: %s\n\n", model_path ? "no image given" : "--model FILE is required");
        usage(stderr);
        return 2;
    }
    for (int i = first_image; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--") && i > first_image) {
            fprintf(stderr, "cgrad: predict: options go before the images ('%s')\n", argv[i]);
            return 2;
        }

    cg_metadata md = {0};
    cg_module *model = cg_model_load(model_path, &md);
    if (!model) return cli_fail_last();
    if (info) {
        for (int i = 0; i < md.n; i++) printf("%s: %s\n", md.keys[i], md.values[i]);
        char *r = cg_module_repr(model);
        if (r) printf("%s\n", r);
        free(r);
        cg_module_release(model);
        cg_metadata_free(&md);
        return 0;
    }
    int rc = 0;
    for (int i = first_image; i < argc; i++) {
        cg_scope_begin();
        cg_prediction p;
        cg_tensor *x = cg_model_input_from_png(&md, argv[i]);
        if (!x || cg_model_predict(model, &md, x, &p) != CG_OK) {
            rc = cli_fail_last(); /* report and go on with the other images */
        } else {
            printf("%s\t%.4f\t%s", p.name, p.probability, argv[i]);
            for (int64_t k = 0; probs && k < p.n_classes; k++)
                printf("%s%s=%.4f", k ? " " : "\t", p.names[k], p.probs[k]);
            printf("\n");
            cg_prediction_free(&p);
        }
        cg_scope_end();
    }
    cg_module_release(model);
    cg_metadata_free(&md);
    return rc;
}
