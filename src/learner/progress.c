/* What the user sees while training (fastai's ProgressCallback, order 60):
 * fastprogress's two bars while it runs,
 *
 *     epoch 2/5 [########------------]  40% 00:12<00:18
 *     train [#####---------------]  25% 12/48 00:01<00:03 loss 0.1234
 *
 * the epoch bar (epochs done, elapsed<remaining of the fit) above the batch
 * bar of the current pass (train or valid; the smoothed loss while training),
 * and fastai's results table, one row per epoch,
 *
 *     epoch  train_loss  valid_loss  batch_accuracy  time
 *     0      0.636918    0.503445    0.495584        00:00
 *
 * every cell left-aligned to its column name's width, columns two spaces
 * apart, losses and metrics with 6 decimals.
 *
 * The bars and the table may go to different streams (the CLI: bars on
 * stderr, the table on stdout, so `cgrad train ... | cat` keeps the bars on
 * the terminal and stdout holds the table alone).  On a terminal the two bars
 * are redrawn in place (at most 10 times a second; '\r', ESC[K and one line
 * up); elsewhere (a log file, a pipe, TERM=dumb) they become plain lines: one
 * per finished epoch and one per batch at most every line_every_s. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learner/learner_internal.h"

void cg_format_time(double seconds, char *buf, size_t n) {
    long t = seconds > 0 ? (long)seconds : 0;
    long h = t / 3600, m = (t / 60) % 60, s = t % 60;
    if (h)
        snprintf(buf, n, "%ld:%02ld:%02ld", h, m, s);
    else
        snprintf(buf, n, "%02ld:%02ld", m, s);
}

#define BAR_CELLS 20

typedef struct progress {
    FILE *table, *bars;
    cg_progress_mode mode;  /* LIVE, LINES or NONE, resolved */
    double line_every_s;
    double fit_start, stage_start, last_draw, last_line;
    int first_epoch;        /* the first epoch of this fit (a resumed fit starts later) */
    int lines_drawn;        /* LIVE: bar lines on the screen now (0, 1 or 2) */
} progress;

static void print_cell(FILE *out, const char *text, const char *column, bool last) {
    int width = (int)strlen(column);
    if (last)
        fprintf(out, "%s\n", text);
    else
        fprintf(out, "%-*s  ", width, text);
}

/* "[#####---------------]" for done of total */
static void bar_text(char *buf, double frac) {
    int filled = frac >= 1 ? BAR_CELLS : frac > 0 ? (int)(BAR_CELLS * frac) : 0;
    buf[0] = '[';
    for (int i = 0; i < BAR_CELLS; i++) buf[1 + i] = i < filled ? '#' : '-';
    buf[BAR_CELLS + 1] = ']';
    buf[BAR_CELLS + 2] = '\0';
}

static void erase_bars(progress *p) {
    if (p->mode != CG_PROGRESS_LIVE || p->lines_drawn == 0) return;
    fputs("\r\033[K", p->bars);
    for (int i = 1; i < p->lines_drawn; i++) fputs("\033[1A\r\033[K", p->bars);
    fflush(p->bars);
    p->lines_drawn = 0;
}

/* The fraction of the fit done: whole epochs plus the training pass of this
 * one (validation is short beside it), and its elapsed and remaining time. */
static double fit_fraction(const cg_learner *learn, const progress *p, double now, double *elapsed,
                           double *eta) {
    int n = learn->n_epoch - p->first_epoch;
    double in_epoch = learn->training && learn->n_iter > 0 ? (double)(learn->iter + 1) / (double)learn->n_iter
                      : learn->training                    ? 0
                                                           : 1;
    double done = (double)(learn->epoch - p->first_epoch) + in_epoch;
    double frac = n > 0 ? done / n : 1;
    *elapsed = now - p->fit_start;
    *eta = frac > 0 ? *elapsed / frac * (1 - frac) : 0;
    return frac;
}

/* "epoch 2/5 [####----]  40% 00:12<00:18" (epochs shown 1-based) */
static void epoch_line(const cg_learner *learn, const progress *p, double now, char *buf, size_t n) {
    double elapsed, eta;
    double frac = fit_fraction(learn, p, now, &elapsed, &eta);
    char bar[BAR_CELLS + 3], t0[16], t1[16];
    bar_text(bar, frac);
    cg_format_time(elapsed, t0, sizeof t0);
    cg_format_time(eta, t1, sizeof t1);
    snprintf(buf, n, "epoch %d/%d %s %3d%% %s<%s", learn->epoch + 1, learn->n_epoch, bar, (int)(100 * frac), t0, t1);
}

/* "train [####----]  25% 12/48 00:01<00:03 loss 0.1234" */
static void batch_line(const cg_learner *learn, const progress *p, double now, char *buf, size_t n) {
    int64_t done = learn->iter + 1, total = learn->n_iter;
    double frac = total > 0 ? (double)done / (double)total : 1;
    double elapsed = now - p->stage_start, eta = done > 0 ? elapsed / (double)done * (double)(total - done) : 0;
    char bar[BAR_CELLS + 3], t0[16], t1[16];
    bar_text(bar, frac);
    cg_format_time(elapsed, t0, sizeof t0);
    cg_format_time(eta, t1, sizeof t1);
    int w = snprintf(buf, n, "%s %s %3d%% %lld/%lld %s<%s", learn->training ? "train" : "valid", bar, (int)(100 * frac),
                     (long long)done, (long long)total, t0, t1);
    if (learn->training && isfinite(learn->smooth_loss) && w > 0 && (size_t)w < n)
        snprintf(buf + w, n - (size_t)w, " loss %.4f", learn->smooth_loss);
}

static cg_cb_result before_fit(cg_learner *learn, void *state) {
    progress *p = state;
    p->fit_start = p->last_line = cg_learner_clock();
    p->first_epoch = -1;
    if (!learn->logging || !p->table) return CG_CB_OK;
    const cg_recorder *r = learn->recorder;
    print_cell(p->table, "epoch", "epoch", false);
    for (int c = 0; c < r->n_cols; c++) print_cell(p->table, r->names[c], r->names[c], false);
    print_cell(p->table, "time", "time", true);
    fflush(p->table);
    return CG_CB_OK;
}

static cg_cb_result before_epoch(cg_learner *learn, void *state) {
    progress *p = state;
    if (p->first_epoch < 0) { /* a resumed fit's first epoch is not 0 */
        p->first_epoch = learn->epoch;
        p->fit_start = cg_learner_clock();
    }
    return CG_CB_OK;
}

static cg_cb_result start_stage(cg_learner *learn, void *state) {
    progress *p = state;
    (void)learn;
    p->stage_start = cg_learner_clock();
    p->last_draw = 0;
    return CG_CB_OK;
}

static cg_cb_result after_batch(cg_learner *learn, void *state) {
    progress *p = state;
    if (p->mode == CG_PROGRESS_NONE) return CG_CB_OK;
    if (p->first_epoch < 0) p->first_epoch = learn->epoch; /* lr_find runs no epoch events */
    double now = cg_learner_clock();
    bool last = learn->iter + 1 >= learn->n_iter;
    char eline[128], bline[160];
    if (p->mode == CG_PROGRESS_LINES) {
        if (now - p->last_line < p->line_every_s) return CG_CB_OK;
        p->last_line = now;
        batch_line(learn, p, now, bline, sizeof bline);
        if (learn->logging) fprintf(p->bars, "epoch %d/%d %s\n", learn->epoch + 1, learn->n_epoch, bline);
        else fprintf(p->bars, "%s\n", bline);
        fflush(p->bars);
        return CG_CB_OK;
    }
    if (!last && now - p->last_draw < 0.1) return CG_CB_OK;
    p->last_draw = now;
    batch_line(learn, p, now, bline, sizeof bline);
    erase_bars(p);
    if (learn->logging) { /* lr_find's sweep has no epochs to show */
        epoch_line(learn, p, now, eline, sizeof eline);
        fprintf(p->bars, "%s\n%s", eline, bline);
        p->lines_drawn = 2;
    } else {
        fputs(bline, p->bars);
        p->lines_drawn = 1;
    }
    fflush(p->bars);
    return CG_CB_OK;
}

static cg_cb_result after_epoch(cg_learner *learn, void *state) {
    progress *p = state;
    erase_bars(p);
    if (!learn->logging) return CG_CB_OK;
    const cg_recorder *r = learn->recorder;
    int e = r->n_epochs - 1;
    if (e < 0) return CG_CB_OK;
    if (p->mode == CG_PROGRESS_LINES) {
        double elapsed, eta;
        char t0[16], t1[16];
        fit_fraction(learn, p, cg_learner_clock(), &elapsed, &eta);
        double frac = learn->n_epoch > p->first_epoch
                          ? (double)(learn->epoch + 1 - p->first_epoch) / (learn->n_epoch - p->first_epoch) : 1;
        eta = frac > 0 ? elapsed / frac * (1 - frac) : 0;
        cg_format_time(elapsed, t0, sizeof t0);
        cg_format_time(eta, t1, sizeof t1);
        fprintf(p->bars, "epoch %d/%d done %3d%% %s<%s\n", learn->epoch + 1, learn->n_epoch, (int)(100 * frac), t0, t1);
        fflush(p->bars);
    }
    if (!p->table) return CG_CB_OK;
    char cell[64];
    snprintf(cell, sizeof cell, "%d", learn->epoch);
    print_cell(p->table, cell, "epoch", false);
    for (int c = 0; c < r->n_cols; c++) {
        double v = cg_recorder_value(r, e, c);
        if (isnan(v))
            snprintf(cell, sizeof cell, "%s", "nan");
        else
            snprintf(cell, sizeof cell, "%.6f", v);
        print_cell(p->table, cell, r->names[c], false);
    }
    cg_format_time(r->seconds[e], cell, sizeof cell);
    print_cell(p->table, cell, "time", true);
    fflush(p->table);
    return CG_CB_OK;
}

static cg_cb_result after_fit(cg_learner *learn, void *state) {
    (void)learn;
    erase_bars(state);
    return CG_CB_OK;
}

static bool is_terminal(FILE *f) {
    const char *term = getenv("TERM");
    return isatty(fileno(f)) == 1 && !(term && !strcmp(term, "dumb"));
}

cg_status cg_progress_callback_with(const cg_progress_options *o, cg_callback *cb) {
    if (!o) return cg_fail(CG_ERR_VALUE, "progress: the options are NULL");
    if ((unsigned)o->mode > CG_PROGRESS_NONE) return cg_fail(CG_ERR_VALUE, "progress: unknown mode %d", (int)o->mode);
    if (!(o->line_every_s >= 0)) return cg_fail(CG_ERR_VALUE, "progress: line_every_s %g is not >= 0", o->line_every_s);
    progress *p = calloc(1, sizeof *p);
    if (!p) return cg_fail(CG_ERR_NOMEM, "progress: no memory");
    p->table = o->table;
    p->bars = o->bars;
    p->mode = !o->bars ? CG_PROGRESS_NONE
              : o->mode == CG_PROGRESS_AUTO ? (is_terminal(o->bars) ? CG_PROGRESS_LIVE : CG_PROGRESS_LINES)
                                            : o->mode;
    p->line_every_s = o->line_every_s > 0 ? o->line_every_s : 30;
    p->first_epoch = -1;
    *cb = (cg_callback){.name = "progress",
                        .order = 60,
                        .state = p,
                        .free_state = free,
                        .before_fit = before_fit,
                        .before_epoch = before_epoch,
                        .before_train = start_stage,
                        .before_validate = start_stage,
                        .after_batch = after_batch,
                        .after_epoch = after_epoch,
                        .after_cancel_fit = after_fit,
                        .after_fit = after_fit};
    return CG_OK;
}

cg_status cg_progress_callback(FILE *out, cg_callback *cb) {
    if (!out) return cg_fail(CG_ERR_VALUE, "progress: the output stream is NULL");
    /* one stream: the bars only where they can be redrawn, so a log holds the table alone */
    cg_progress_options o = {.table = out, .bars = out,
                             .mode = is_terminal(out) ? CG_PROGRESS_LIVE : CG_PROGRESS_NONE};
    return cg_progress_callback_with(&o, cb);
}

cg_status cg_learner_add_progress_with(cg_learner *learn, const cg_progress_options *o) {
    cg_callback cb;
    cg_status st = cg_progress_callback_with(o, &cb);
    return st != CG_OK ? st : cg_learner_add_cb(learn, &cb); /* frees the state if it fails */
}

cg_status cg_learner_add_progress(cg_learner *learn, FILE *out) {
    cg_callback cb;
    cg_status st = cg_progress_callback(out, &cb);
    return st != CG_OK ? st : cg_learner_add_cb(learn, &cb);
}
