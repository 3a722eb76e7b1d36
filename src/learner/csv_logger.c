/* fastai's CSVLogger: the results table as CSV,
 *
 *     epoch,train_loss,valid_loss,batch_accuracy,time
 *     0,0.636918,0.503445,0.495584,00:00
 *
 * The rows are kept in memory and the whole file is rewritten atomically
 * after every epoch (cg_atomic_write_file), so the file on disk is always a
 * complete table of the epochs done so far, never a half-written line. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/fileio.h"
#include "learner/learner_internal.h"

typedef struct csv_logger {
    char *path;
    char *text;
    size_t len, cap;
} csv_logger;

static cg_status append(csv_logger *c, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(c->text + c->len, c->cap - c->len, fmt, ap);
        va_end(ap);
        if (n < 0) return cg_fail(CG_ERR_VALUE, "csv logger: bad format");
        if ((size_t)n < c->cap - c->len) {
            c->len += (size_t)n;
            return CG_OK;
        }
        size_t cap = 2 * c->cap + (size_t)n + 1;
        char *grown = realloc(c->text, cap);
        if (!grown) return cg_fail(CG_ERR_NOMEM, "csv logger: no memory");
        c->text = grown;
        c->cap = cap;
    }
}

static cg_cb_result before_fit(cg_learner *learn, void *state) {
    csv_logger *c = state;
    if (!learn->logging) return CG_CB_OK;
    c->len = 0;
    c->text[0] = '\0';
    cg_status st = append(c, "epoch");
    for (int i = 0; i < learn->recorder->n_cols && st == CG_OK; i++)
        st = append(c, ",%s", learn->recorder->names[i]);
    if (st == CG_OK) st = append(c, ",time\n");
    return st == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

static cg_cb_result after_epoch(cg_learner *learn, void *state) {
    csv_logger *c = state;
    const cg_recorder *r = learn->recorder;
    if (!learn->logging || r->n_epochs == 0) return CG_CB_OK;
    int e = r->n_epochs - 1;
    cg_status st = append(c, "%d", learn->epoch);
    for (int i = 0; i < r->n_cols && st == CG_OK; i++) {
        double v = cg_recorder_value(r, e, i);
        st = isnan(v) ? append(c, ",") : append(c, ",%.6f", v);
    }
    char t[32];
    cg_format_time(r->seconds[e], t, sizeof t);
    if (st == CG_OK) st = append(c, ",%s\n", t);
    if (st == CG_OK) st = cg_atomic_write_file(c->path, c->text, c->len);
    return st == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

static void csv_free(void *state) {
    csv_logger *c = state;
    if (!c) return;
    free(c->path);
    free(c->text);
    free(c);
}

cg_status cg_csv_logger_callback(const char *path, cg_callback *cb) {
    if (!path || !*path) return cg_fail(CG_ERR_VALUE, "csv logger: empty path");
    csv_logger *c = calloc(1, sizeof *c);
    if (c) c->path = malloc(strlen(path) + 1);
    if (c) c->text = calloc(1, c->cap = 1024);
    if (!c || !c->path || !c->text) {
        csv_free(c);
        return cg_fail(CG_ERR_NOMEM, "csv logger: no memory");
    }
    strcpy(c->path, path);
    *cb = (cg_callback){.name = "csv_logger",
                        .order = 60,
                        .state = c,
                        .free_state = csv_free,
                        .before_fit = before_fit,
                        .after_epoch = after_epoch};
    return CG_OK;
}

cg_status cg_learner_add_csv_logger(cg_learner *learn, const char *path) {
    cg_callback cb;
    cg_status st = cg_csv_logger_callback(path, &cb);
    return st != CG_OK ? st : cg_learner_add_cb(learn, &cb); /* frees the state if it fails */
}
