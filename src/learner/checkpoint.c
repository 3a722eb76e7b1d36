/* Checkpoints: the learner's whole training state in one safetensors file
 * (the layout is in cgrad/checkpoint.h), the after_epoch callback that writes
 * one per epoch, and resume, which reads one back and positions the next fit
 * through a before_fit callback (order 55: after the recorder has reset
 * itself, before the schedulers read the optimizer). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgrad/checkpoint.h"
#include "cgrad/fileio.h"
#include "cgrad/random.h"
#include "learner/learner_internal.h"

#define GEN_WORDS 628 /* 624 state words, index, seed, has_next_normal, next_normal */
#define LAST_MAX 4096 /* the "last" file: one file name */

/* ---- doubles and generators as int64 words -------------------------------- */

static int64_t dbits(double d) {
    int64_t i;
    memcpy(&i, &d, sizeof i);
    return i;
}

static double bitsd(int64_t i) {
    double d;
    memcpy(&d, &i, sizeof d);
    return d;
}

static void gen_to_words(const cg_generator *g, int64_t *w) {
    for (int i = 0; i < 624; i++) w[i] = g->state[i];
    w[624] = g->index;
    w[625] = (int64_t)g->seed;
    w[626] = g->has_next_normal;
    w[627] = dbits(g->next_normal);
}

static bool gen_from_words(const int64_t *w, cg_generator *g) {
    for (int i = 0; i < 624; i++) {
        if (w[i] < 0 || w[i] > (int64_t)UINT32_MAX) return false;
        g->state[i] = (uint32_t)w[i];
    }
    if (w[624] < 0 || w[624] > 624 || (w[626] != 0 && w[626] != 1)) return false;
    g->index = (int)w[624];
    g->seed = (uint64_t)w[625];
    g->has_next_normal = w[626] == 1;
    g->next_normal = bitsd(w[627]);
    return true;
}

/* ---- saving ---------------------------------------------------------------- */

typedef struct entries {
    int n, cap;
    char **names;
    cg_tensor **tensors; /* in the caller's scope */
} entries;

static void entries_free(entries *e) {
    for (int i = 0; i < e->n; i++) free(e->names[i]);
    free(e->names);
    free(e->tensors);
}

static cg_status add(entries *e, const char *name, cg_tensor *t) {
    if (!t) return cg_last_status();
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 64;
        char **names = realloc(e->names, (size_t)cap * sizeof *names);
        if (names) e->names = names;
        cg_tensor **ts = realloc(e->tensors, (size_t)cap * sizeof *ts);
        if (ts) e->tensors = ts;
        if (!names || !ts) return cg_fail(CG_ERR_NOMEM, "checkpoint: no memory for %d entries", cap);
        e->cap = cap;
    }
    size_t len = strlen(name) + 1;
    if (!(e->names[e->n] = malloc(len))) return cg_fail(CG_ERR_NOMEM, "checkpoint: no memory");
    memcpy(e->names[e->n], name, len);
    e->tensors[e->n++] = t;
    return CG_OK;
}

/* A 1-d I64 tensor of n words (a 0-element list is stored as one unused word
 * and its length in metadata, so no entry is empty). */
static cg_status add_words(entries *e, const char *name, const int64_t *w, int64_t n) {
    int64_t zero = 0;
    return add(e, name, cg_from_data(CG_INT64, 1, (int64_t[]){n > 0 ? n : 1}, n > 0 ? w : &zero));
}

static cg_status add_doubles(entries *e, const char *name, const double *d, int64_t n) {
    int64_t *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
    if (!w) return cg_fail(CG_ERR_NOMEM, "checkpoint: no memory for %lld values", (long long)n);
    for (int64_t i = 0; i < n; i++) w[i] = dbits(d[i]);
    cg_status st = add_words(e, name, w, n);
    free(w);
    return st;
}

static cg_status meta_printf(cg_metadata *md, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_status meta_printf(cg_metadata *md, const char *key, const char *fmt, ...) {
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cg_metadata_set(md, key, buf);
}

/* The state_dict name of an optimizer parameter (by identity), or NULL. */
static const char *param_name(const cg_named_tensors *ps, const cg_tensor *p) {
    for (int i = 0; i < ps->n; i++)
        if (ps->tensors[i] == p) return ps->names[i];
    return NULL;
}

static cg_status add_loader(entries *e, const char *name, const cg_dataloader *dl) {
    cg_dataloader_state ls;
    cg_status st = cg_dataloader_get_state(dl, &ls);
    if (st) return st;
    int64_t w[1 + GEN_WORDS];
    w[0] = ls.epoch;
    gen_to_words(&ls.gen, w + 1);
    return add_words(e, name, w, 1 + GEN_WORDS);
}

static cg_status collect_optimizer(cg_learner *learn, entries *e, cg_metadata *md) {
    cg_status st = cg_learner_create_opt(learn);
    if (st) return st;
    cg_named_tensors ps = {0};
    if ((st = cg_module_named_parameters(learn->model, &ps))) return st;
    cg_optimizer *opt = learn->opt;
    int ng = cg_optimizer_n_groups(opt);
    st = cg_metadata_set(md, "opt", cg_optimizer_name(opt));
    if (!st) st = meta_printf(md, "n_groups", "%d", ng);
    for (int g = 0; !st && g < ng; g++) {
        cg_param_group *pg = cg_optimizer_group(opt, g);
        const char *hn[] = {"lr", "mom", "sqr_mom", "eps", "wd"};
        double hv[] = {pg->h.lr, pg->h.mom, pg->h.sqr_mom, pg->h.eps, pg->h.wd};
        for (int k = 0; !st && k < 5; k++) {
            char key[64];
            snprintf(key, sizeof key, "group.%d.%s", g, hn[k]);
            st = meta_printf(md, key, "%a", hv[k]);
        }
        for (int i = 0; !st && i < pg->n_params; i++) {
            const char *pn = param_name(&ps, pg->params[i]);
            if (!pn) {
                st = cg_fail(CG_ERR_STATE, "checkpoint: optimizer parameter %d of group %d is not "
                                           "a parameter of the model", i, g);
                break;
            }
            cg_optim_param_state s;
            if ((st = cg_optimizer_param_state(opt, g, i, &s))) break;
            const cg_tensor *p = pg->params[i];
            char key[512];
            if (s.grad_avg) {
                snprintf(key, sizeof key, "opt.%s.grad_avg", pn);
                st = add(e, key, cg_from_data(CG_FLOAT32, p->ndim, p->shape, s.grad_avg));
            }
            if (!st && s.sqr_avg) {
                snprintf(key, sizeof key, "opt.%s.sqr_avg", pn);
                st = add(e, key, cg_from_data(CG_FLOAT32, p->ndim, p->shape, s.sqr_avg));
            }
            if (!st) {
                snprintf(key, sizeof key, "opt.%s.step", pn);
                st = add(e, key, cg_from_data(CG_INT64, 0, NULL, s.step));
            }
        }
    }
    cg_named_tensors_free(&ps);
    return st;
}

static cg_status collect_recorder(const cg_recorder *r, entries *e, cg_metadata *md) {
    cg_status st = add_doubles(e, "recorder.losses", r->losses, r->n_losses);
    if (!st) st = add_doubles(e, "recorder.lrs", r->lrs, r->n_losses);
    if (!st) st = add_doubles(e, "recorder.values", r->values, (int64_t)r->n_epochs * r->n_cols);
    if (!st) st = add_words(e, "recorder.iters", r->iters, r->n_epochs);
    if (!st) st = add_doubles(e, "recorder.seconds", r->seconds, r->n_epochs);
    int64_t sm[3] = {dbits(r->smooth.beta), dbits(r->smooth.val), r->smooth.count};
    if (!st) st = add_words(e, "recorder.smooth", sm, 3);
    if (!st) st = meta_printf(md, "recorder.n_losses", "%lld", (long long)r->n_losses);
    char cols[2048] = "";
    size_t used = 0;
    for (int c = 0; c < r->n_cols && used < sizeof cols; c++)
        used += (size_t)snprintf(cols + used, sizeof cols - used, c ? ",%s" : "%s", r->names[c]);
    if (!st) st = cg_metadata_set(md, "recorder.cols", cols);
    return st;
}

cg_status cg_learner_save_checkpoint(cg_learner *learn, const char *path, const cg_metadata *extra) {
    if (!learn || !path) return cg_fail(CG_ERR_VALUE, "checkpoint: NULL learner or path");
    cg_metadata md = {0};
    entries e = {0};
    cg_named_tensors sd = {0};
    cg_scope_begin();
    cg_status st = cg_metadata_set(&md, "format", CG_CHECKPOINT_FORMAT);
    for (int i = 0; !st && extra && i < extra->n; i++)
        if (strcmp(extra->keys[i], "format")) st = cg_metadata_set(&md, extra->keys[i], extra->values[i]);
    if (!st) st = meta_printf(&md, "epochs_done", "%d", learn->recorder->n_epochs);
    if (!st) st = meta_printf(&md, "n_epoch", "%d", learn->n_epoch);
    if (!st) st = meta_printf(&md, "train_iter", "%lld", (long long)learn->train_iter);
    if (!st) st = cg_module_state_dict(learn->model, &sd);
    for (int i = 0; !st && i < sd.n; i++) st = add(&e, sd.names[i], sd.tensors[i]); /* borrowed */
    if (!st) st = collect_optimizer(learn, &e, &md);
    int64_t w[GEN_WORDS];
    gen_to_words(cg_default_generator(), w);
    if (!st) st = add_words(&e, "rng.default", w, GEN_WORDS);
    if (!st && learn->dls) st = add_loader(&e, "loader.train", learn->dls->train);
    if (!st && learn->dls) st = add_loader(&e, "loader.valid", learn->dls->valid);
    if (!st) st = collect_recorder(learn->recorder, &e, &md);
    if (!st) st = cg_safetensors_save(path, e.n, (const char *const *)e.names, e.tensors, &md);
    cg_scope_end();
    cg_named_tensors_free(&sd);
    entries_free(&e);
    cg_metadata_free(&md);
    return st;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct resume_state {
    bool done;
    int epochs_done, n_epoch;
    int64_t train_iter;
    int n_groups;
    cg_optim_hypers *hypers;
    int64_t n_losses;
    double *losses, *lrs;
    int n_epochs, n_cols;
    double *values, *seconds;
    int64_t *iters;
    cg_smooth_loss smooth;
    char path[512];
} resume_state;

static void resume_free(void *p) {
    resume_state *r = p;
    if (!r) return;
    free(r->hypers);
    free(r->losses);
    free(r->lrs);
    free(r->values);
    free(r->seconds);
    free(r->iters);
    free(r);
}

static cg_status meta_i64(const char *path, const cg_metadata *md, const char *key, int64_t lo,
                          int64_t hi, int64_t *out) {
    const char *v = cg_metadata_get(md, key);
    if (!v) return cg_fail(CG_ERR_FORMAT, "%s: checkpoint has no \"%s\" in its metadata", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return cg_fail(CG_ERR_FORMAT, "%s: checkpoint metadata \"%s\" is \"%.64s\", expected an "
                                      "integer in [%lld, %lld]",
                       path, key, v, (long long)lo, (long long)hi);
    *out = x;
    return CG_OK;
}

static cg_status meta_double(const char *path, const cg_metadata *md, const char *key, double *out) {
    const char *v = cg_metadata_get(md, key);
    if (!v) return cg_fail(CG_ERR_FORMAT, "%s: checkpoint has no \"%s\" in its metadata", path, key);
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x))
        return cg_fail(CG_ERR_FORMAT, "%s: checkpoint metadata \"%s\" is \"%.64s\", expected a "
                                      "finite number", path, key, v);
    *out = x;
    return CG_OK;
}

/* The tensor `name` of dtype dt with numel n (ndim -1: any shape), or an error. */
static cg_status get(const cg_safetensors *st, const char *path, const char *name, cg_dtype dt,
                     int64_t n, const cg_tensor **out) {
    const cg_tensor *t = cg_safetensors_get(st, name);
    if (!t) return cg_fail(CG_ERR_FORMAT, "%s: checkpoint has no tensor \"%s\"", path, name);
    if (t->dtype != dt)
        return cg_fail(CG_ERR_DTYPE, "%s: checkpoint tensor \"%s\" is %s, expected %s", path, name,
                       cg_dtype_name(t->dtype), cg_dtype_name(dt));
    if (cg_numel(t) != n)
        return cg_fail(CG_ERR_SHAPE, "%s: checkpoint tensor \"%s\" has %lld elements, expected %lld",
                       path, name, (long long)cg_numel(t), (long long)n);
    *out = t;
    return CG_OK;
}

static cg_status get_doubles(const cg_safetensors *st, const char *path, const char *name,
                             int64_t n, double **out) {
    const cg_tensor *t;
    cg_status rc = get(st, path, name, CG_INT64, n > 0 ? n : 1, &t);
    if (rc) return rc;
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof **out);
    if (!*out) return cg_fail(CG_ERR_NOMEM, "%s: no memory for %lld values", path, (long long)n);
    const int64_t *w = cg_data(t);
    for (int64_t i = 0; i < n; i++) (*out)[i] = bitsd(w[i]);
    return CG_OK;
}

static cg_status get_loader(const cg_safetensors *st, const char *path, const char *name,
                            cg_dataloader_state *ls) {
    const cg_tensor *t;
    cg_status rc = get(st, path, name, CG_INT64, 1 + GEN_WORDS, &t);
    if (rc) return rc;
    const int64_t *w = cg_data(t);
    if (w[0] < 0 || !gen_from_words(w + 1, &ls->gen))
        return cg_fail(CG_ERR_FORMAT, "%s: checkpoint tensor \"%s\" is not a loader state", path, name);
    ls->epoch = w[0];
    return CG_OK;
}

/* Reads and checks the recorder part into r. */
static cg_status read_recorder(const cg_safetensors *st, const char *path, const cg_learner *learn,
                               resume_state *r) {
    const cg_metadata *md = &st->metadata;
    const cg_recorder *rec = learn->recorder;
    char cols[2048] = "";
    size_t used = 0;
    for (int c = 0; c < rec->n_cols && used < sizeof cols; c++)
        used += (size_t)snprintf(cols + used, sizeof cols - used, c ? ",%s" : "%s", rec->names[c]);
    const char *saved = cg_metadata_get(md, "recorder.cols");
    if (!saved || strcmp(saved, cols))
        return cg_fail(CG_ERR_FORMAT, "%s: checkpoint's recorder columns \"%.200s\" are not the "
                                      "learner's \"%s\"", path, saved ? saved : "(none)", cols);
    r->n_cols = rec->n_cols;
    int64_t nl;
    cg_status rc = meta_i64(path, md, "recorder.n_losses", 0, INT64_MAX / 16, &nl);
    if (rc) return rc;
    r->n_losses = nl;
    rc = get_doubles(st, path, "recorder.losses", nl, &r->losses);
    if (!rc) rc = get_doubles(st, path, "recorder.lrs", nl, &r->lrs);
    int64_t ne = r->epochs_done;
    r->n_epochs = r->epochs_done;
    if (!rc) rc = get_doubles(st, path, "recorder.values", ne * r->n_cols, &r->values);
    if (!rc) rc = get_doubles(st, path, "recorder.seconds", ne, &r->seconds);
    const cg_tensor *t;
    if (!rc) rc = get(st, path, "recorder.iters", CG_INT64, ne > 0 ? ne : 1, &t);
    if (!rc) {
        if (!(r->iters = malloc((size_t)(ne > 0 ? ne : 1) * sizeof *r->iters)))
            return cg_fail(CG_ERR_NOMEM, "%s: no memory", path);
        memcpy(r->iters, cg_data(t), (size_t)(ne > 0 ? ne : 1) * sizeof *r->iters);
    }
    if (!rc) rc = get(st, path, "recorder.smooth", CG_INT64, 3, &t);
    if (!rc) {
        const int64_t *w = cg_data(t);
        r->smooth.beta = bitsd(w[0]);
        r->smooth.val = bitsd(w[1]);
        r->smooth.count = w[2];
        if (!(r->smooth.beta >= 0 && r->smooth.beta < 1) || w[2] < 0)
            rc = cg_fail(CG_ERR_FORMAT, "%s: checkpoint's smoothed loss is not valid", path);
    }
    return rc;
}

/* Checks that the optimizer entries exist with the right shapes (no change). */
static cg_status check_optimizer(const cg_safetensors *st, const char *path, cg_learner *learn,
                                 const cg_named_tensors *ps, bool apply) {
    cg_optimizer *opt = learn->opt;
    cg_status rc = CG_OK;
    for (int g = 0; !rc && g < cg_optimizer_n_groups(opt); g++) {
        cg_param_group *pg = cg_optimizer_group(opt, g);
        for (int i = 0; !rc && i < pg->n_params; i++) {
            const char *pn = param_name(ps, pg->params[i]);
            if (!pn) return cg_fail(CG_ERR_STATE, "%s: optimizer parameter %d is not the model's", path, i);
            cg_optim_param_state s;
            if ((rc = cg_optimizer_param_state(opt, g, i, &s))) break;
            char key[512];
            const cg_tensor *t;
            if (s.grad_avg) {
                snprintf(key, sizeof key, "opt.%s.grad_avg", pn);
                if (!(rc = get(st, path, key, CG_FLOAT32, s.numel, &t)) && apply)
                    memcpy(s.grad_avg, cg_data(t), (size_t)s.numel * sizeof(float));
            }
            if (!rc && s.sqr_avg) {
                snprintf(key, sizeof key, "opt.%s.sqr_avg", pn);
                if (!(rc = get(st, path, key, CG_FLOAT32, s.numel, &t)) && apply)
                    memcpy(s.sqr_avg, cg_data(t), (size_t)s.numel * sizeof(float));
            }
            if (!rc) {
                snprintf(key, sizeof key, "opt.%s.step", pn);
                if (!(rc = get(st, path, key, CG_INT64, 1, &t))) {
                    int64_t step = *(const int64_t *)cg_data(t);
                    if (step < 0)
                        rc = cg_fail(CG_ERR_FORMAT, "%s: \"%s\" is %lld", path, key, (long long)step);
                    else if (apply)
                        *s.step = step;
                }
            }
        }
    }
    return rc;
}

static cg_status read_hypers(const cg_safetensors *st, const char *path, const cg_learner *learn,
                             resume_state *r) {
    const cg_metadata *md = &st->metadata;
    const char *name = cg_metadata_get(md, "opt");
    if (!name || strcmp(name, cg_optimizer_name(learn->opt)))
        return cg_fail(CG_ERR_FORMAT, "%s: checkpoint was made with optimizer \"%.64s\", the learner "
                                      "has %s", path, name ? name : "(none)",
                       cg_optimizer_name(learn->opt));
    int64_t ng;
    cg_status rc = meta_i64(path, md, "n_groups", 1, 1 << 20, &ng);
    if (rc) return rc;
    if (ng != cg_optimizer_n_groups(learn->opt))
        return cg_fail(CG_ERR_FORMAT, "%s: checkpoint has %lld parameter groups, the optimizer %d",
                       path, (long long)ng, cg_optimizer_n_groups(learn->opt));
    r->n_groups = (int)ng;
    if (!(r->hypers = calloc((size_t)ng, sizeof *r->hypers)))
        return cg_fail(CG_ERR_NOMEM, "%s: no memory", path);
    for (int g = 0; !rc && g < ng; g++) {
        const char *hn[] = {"lr", "mom", "sqr_mom", "eps", "wd"};
        double *hv[] = {&r->hypers[g].lr, &r->hypers[g].mom, &r->hypers[g].sqr_mom,
                        &r->hypers[g].eps, &r->hypers[g].wd};
        for (int k = 0; !rc && k < 5; k++) {
            char key[64];
            snprintf(key, sizeof key, "group.%d.%s", g, hn[k]);
            rc = meta_double(path, md, key, hv[k]);
        }
    }
    return rc;
}

/* Model entries: every state_dict name present (the rest is checked and
 * copied by cg_module_load_state). */
static cg_status check_model(const cg_safetensors *st, const char *path, const cg_module *m) {
    cg_named_tensors sd;
    cg_status rc = cg_module_state_dict(m, &sd);
    if (rc) return rc;
    for (int i = 0; !rc && i < sd.n; i++)
        if (!cg_safetensors_get(st, sd.names[i]))
            rc = cg_fail(CG_ERR_FORMAT, "%s: checkpoint has no tensor \"%s\" of the model", path,
                         sd.names[i]);
    cg_named_tensors_free(&sd);
    return rc;
}

/* before_fit of the "resume" callback: puts the fit where the saved one was. */
static cg_cb_result resume_before_fit(cg_learner *learn, void *state) {
    resume_state *r = state;
    if (r->done) return CG_CB_OK;
    if (learn->n_epoch != r->n_epoch) {
        cg_fail(CG_ERR_VALUE, "%s: resumed with a fit of %d epochs, the checkpoint's fit had %d "
                              "(the schedule depends on it)", r->path, learn->n_epoch, r->n_epoch);
        return CG_CB_ERROR;
    }
    cg_recorder *rec = learn->recorder;
    if (rec->cap_epochs < r->n_epochs || rec->n_cols != r->n_cols) {
        cg_fail(CG_ERR_STATE, "%s: the recorder has room for %d epochs, the checkpoint %d", r->path,
                rec->cap_epochs, r->n_epochs);
        return CG_CB_ERROR;
    }
    if (rec->cap_losses < r->n_losses) {
        int64_t cap = r->n_losses;
        double *losses = realloc(rec->losses, (size_t)cap * sizeof *losses);
        if (losses) rec->losses = losses;
        double *lrs = realloc(rec->lrs, (size_t)cap * sizeof *lrs);
        if (lrs) rec->lrs = lrs;
        if (!losses || !lrs) {
            cg_fail(CG_ERR_NOMEM, "%s: no memory for %lld losses", r->path, (long long)cap);
            return CG_CB_ERROR;
        }
        rec->cap_losses = cap;
    }
    if (r->n_losses > 0) {
        memcpy(rec->losses, r->losses, (size_t)r->n_losses * sizeof *rec->losses);
        memcpy(rec->lrs, r->lrs, (size_t)r->n_losses * sizeof *rec->lrs);
    }
    rec->n_losses = r->n_losses;
    if (r->n_epochs > 0) {
        memcpy(rec->values, r->values, (size_t)r->n_epochs * (size_t)r->n_cols * sizeof *rec->values);
        memcpy(rec->iters, r->iters, (size_t)r->n_epochs * sizeof *rec->iters);
        memcpy(rec->seconds, r->seconds, (size_t)r->n_epochs * sizeof *rec->seconds);
    }
    rec->n_epochs = r->n_epochs;
    rec->smooth = r->smooth;
    learn->smooth_loss = cg_smooth_loss_value(&rec->smooth);
    for (int g = 0; g < r->n_groups; g++) cg_optimizer_group(learn->opt, g)->h = r->hypers[g];
    learn->start_epoch = r->epochs_done;
    learn->epoch = r->epochs_done;
    learn->train_iter = r->train_iter;
    learn->pct_train = learn->n_epoch > 0 ? (double)r->epochs_done / learn->n_epoch : 0;
    r->done = true;
    return CG_CB_OK;
}

static cg_status resolve(const char *path, char *file, size_t n) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return cg_fail(CG_ERR_IO, "checkpoint: %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return cg_checkpoint_latest(path, file, n);
    if ((size_t)snprintf(file, n, "%s", path) >= n)
        return cg_fail(CG_ERR_VALUE, "checkpoint: path too long: %.64s...", path);
    return CG_OK;
}

cg_status cg_learner_resume(cg_learner *learn, const char *path) {
    if (!learn || !path) return cg_fail(CG_ERR_VALUE, "resume: NULL learner or path");
    resume_state *r = calloc(1, sizeof *r);
    if (!r) return cg_fail(CG_ERR_NOMEM, "resume: no memory");
    cg_status rc = resolve(path, r->path, sizeof r->path);
    const char *file = r->path;
    cg_safetensors st = {0};
    bool loaded = false;
    if (!rc) loaded = (rc = cg_safetensors_load(file, &st)) == CG_OK;
    const cg_metadata *md = &st.metadata;
    if (!rc) {
        const char *fmt = cg_metadata_get(md, "format");
        if (!fmt || strcmp(fmt, CG_CHECKPOINT_FORMAT))
            rc = cg_fail(CG_ERR_FORMAT, "%s: not a cgrad checkpoint (format \"%.64s\", expected \"%s\")",
                         file, fmt ? fmt : "(none)", CG_CHECKPOINT_FORMAT);
    }
    int64_t v = 0;
    if (!rc && !(rc = meta_i64(file, md, "n_epoch", 1, INT32_MAX, &v))) r->n_epoch = (int)v;
    if (!rc && !(rc = meta_i64(file, md, "epochs_done", 0, r->n_epoch, &v))) r->epochs_done = (int)v;
    if (!rc) rc = meta_i64(file, md, "train_iter", 0, INT64_MAX, &r->train_iter);
    if (!rc) rc = check_model(&st, file, learn->model);
    if (!rc) rc = cg_learner_create_opt(learn);
    cg_named_tensors ps = {0};
    if (!rc) rc = cg_module_named_parameters(learn->model, &ps);
    if (!rc) rc = read_hypers(&st, file, learn, r);
    if (!rc) rc = check_optimizer(&st, file, learn, &ps, false);
    if (!rc) rc = read_recorder(&st, file, learn, r);
    const cg_tensor *gt = NULL;
    cg_generator gen;
    if (!rc) rc = get(&st, file, "rng.default", CG_INT64, GEN_WORDS, &gt);
    if (!rc && !gen_from_words(cg_data(gt), &gen))
        rc = cg_fail(CG_ERR_FORMAT, "%s: checkpoint tensor \"rng.default\" is not a generator state", file);
    cg_dataloader_state lt, lv;
    if (!rc && learn->dls) rc = get_loader(&st, file, "loader.train", &lt);
    if (!rc && learn->dls) rc = get_loader(&st, file, "loader.valid", &lv);
    /* everything is checked: now change things (the model's load checks again first) */
    if (!rc) rc = cg_module_load_state(learn->model, &st, file, false);
    if (!rc) rc = check_optimizer(&st, file, learn, &ps, true);
    if (!rc) {
        *cg_default_generator() = gen;
        if (learn->dls) {
            cg_dataloader_set_state(learn->dls->train, &lt);
            cg_dataloader_set_state(learn->dls->valid, &lv);
        }
    }
    cg_named_tensors_free(&ps);
    if (loaded) cg_safetensors_free(&st);
    if (rc) {
        resume_free(r);
        return rc;
    }
    cg_learner_remove_cb(learn, "resume"); /* an earlier resume not yet used */
    cg_clear_error();
    cg_callback cb = {.name = "resume", .order = 55, .state = r, .free_state = resume_free,
                      .before_fit = resume_before_fit};
    return cg_learner_add_cb(learn, &cb);
}

cg_status cg_checkpoint_latest(const char *dir, char *buf, size_t n) {
    char last[4096];
    if ((size_t)snprintf(last, sizeof last, "%s/last", dir) >= sizeof last)
        return cg_fail(CG_ERR_VALUE, "checkpoint: directory name too long: %.64s...", dir);
    void *data = NULL;
    size_t len = 0;
    cg_status rc = cg_read_file_bounded(last, "checkpoint", LAST_MAX, &data, &len);
    if (rc) return rc;
    char *s = data;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) s[--len] = '\0';
    bool plain = len > 0 && strlen(s) == len && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
    if (!plain) rc = cg_fail(CG_ERR_FORMAT, "%s: expected one checkpoint file name, got \"%.64s\"", last, s);
    else if ((size_t)snprintf(buf, n, "%s/%s", dir, s) >= n)
        rc = cg_fail(CG_ERR_VALUE, "checkpoint: path too long: %.64s/%.64s", dir, s);
    free(data);
    return rc;
}

/* ---- the callback ------------------------------------------------------------ */

static cg_cb_result checkpoint_after_epoch(cg_learner *learn, void *state) {
    const char *dir = state;
    if (!learn->logging) return CG_CB_OK;
    char name[64], path[4096];
    snprintf(name, sizeof name, "epoch-%d.safetensors", learn->epoch);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        cg_fail(CG_ERR_VALUE, "checkpoint: directory name too long: %.64s...", dir);
        return CG_CB_ERROR;
    }
    if (cg_learner_save_checkpoint(learn, path, NULL) != CG_OK) return CG_CB_ERROR;
    /* only now, with the checkpoint complete, does "last" move to it */
    char line[80], last[4096];
    int len = snprintf(line, sizeof line, "%s\n", name);
    snprintf(last, sizeof last, "%s/last", dir);
    return cg_atomic_write_file(last, line, (size_t)len) == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

cg_status cg_checkpoint_callback(const char *dir, cg_callback *cb) {
    if (!dir || !*dir || !cb) return cg_fail(CG_ERR_VALUE, "checkpoint: a directory is needed");
    if (strlen(dir) > 3000) return cg_fail(CG_ERR_VALUE, "checkpoint: directory name too long: %.64s...", dir);
    cg_status st = cg_mkdirs(dir);
    if (st) return st;
    size_t len = strlen(dir) + 1;
    char *copy = malloc(len);
    if (!copy) return cg_fail(CG_ERR_NOMEM, "checkpoint: no memory");
    memcpy(copy, dir, len);
    *cb = (cg_callback){.name = "checkpoint", .order = 70, .state = copy, .free_state = free,
                        .after_epoch = checkpoint_after_epoch};
    return CG_OK;
}

cg_status cg_learner_add_checkpoint(cg_learner *learn, const char *dir) {
    if (!learn) return cg_fail(CG_ERR_VALUE, "checkpoint: NULL learner");
    cg_callback cb;
    cg_status st = cg_checkpoint_callback(dir, &cb);
    return st ? st : cg_learner_add_cb(learn, &cb);
}
