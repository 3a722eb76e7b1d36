/* JSON lines for scripts: one object per epoch, then a summary of the fit.
 *
 *     {"epoch": 0, "train_loss": 0.636918..., "valid_loss": ..., "batch_accuracy": ..., "seconds": 0.05}
 *     {"summary": true, "epochs": 10, "train_loss": ..., ..., "seconds": 0.52}
 *
 * Numbers use 17 significant digits, so a double read back is the same
 * double (reruns can be compared exactly); NaN (a skipped value) is null. */
#include <math.h>
#include <stdlib.h>

#include "learner/learner_internal.h"

typedef struct json_logger {
    FILE *out;
    double seconds;
} json_logger;

static void put_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void put_number(FILE *out, double v) {
    if (isfinite(v))
        fprintf(out, "%.17g", v);
    else
        fputs("null", out);
}

static void put_values(FILE *out, const cg_recorder *r, int e) {
    for (int c = 0; c < r->n_cols; c++) {
        fputs(", ", out);
        put_string(out, r->names[c]);
        fputs(": ", out);
        put_number(out, cg_recorder_value(r, e, c));
    }
}

static cg_cb_result before_fit(cg_learner *learn, void *state) {
    (void)learn;
    ((json_logger *)state)->seconds = 0;
    return CG_CB_OK;
}

static cg_cb_result after_epoch(cg_learner *learn, void *state) {
    json_logger *j = state;
    const cg_recorder *r = learn->recorder;
    if (!learn->logging || r->n_epochs == 0) return CG_CB_OK;
    int e = r->n_epochs - 1;
    j->seconds += r->seconds[e];
    fprintf(j->out, "{\"epoch\": %d", learn->epoch);
    put_values(j->out, r, e);
    fputs(", \"seconds\": ", j->out);
    put_number(j->out, r->seconds[e]);
    fputs("}\n", j->out);
    fflush(j->out);
    return CG_CB_OK;
}

static cg_cb_result after_fit(cg_learner *learn, void *state) {
    json_logger *j = state;
    const cg_recorder *r = learn->recorder;
    if (!learn->logging) return CG_CB_OK;
    fprintf(j->out, "{\"summary\": true, \"epochs\": %d", r->n_epochs);
    if (r->n_epochs > 0) put_values(j->out, r, r->n_epochs - 1);
    fputs(", \"seconds\": ", j->out);
    put_number(j->out, j->seconds);
    fputs("}\n", j->out);
    fflush(j->out);
    return CG_CB_OK;
}

cg_status cg_json_logger_callback(FILE *out, cg_callback *cb) {
    if (!out) return cg_fail(CG_ERR_VALUE, "json logger: the output stream is NULL");
    json_logger *j = calloc(1, sizeof *j);
    if (!j) return cg_fail(CG_ERR_NOMEM, "json logger: no memory");
    j->out = out;
    *cb = (cg_callback){.name = "json_logger",
                        .order = 60,
                        .state = j,
                        .free_state = free,
                        .before_fit = before_fit,
                        .after_epoch = after_epoch,
                        .after_cancel_fit = NULL,
                        .after_fit = after_fit};
    return CG_OK;
}

cg_status cg_learner_add_json_logger(cg_learner *learn, FILE *out) {
    cg_callback cb;
    cg_status st = cg_json_logger_callback(out, &cb);
    return st != CG_OK ? st : cg_learner_add_cb(learn, &cb); /* frees the state if it fails */
}
