/* The progress callback (src/learner/progress.c): fastprogress's two bars on
 * a stream of their own, the results table on another.
 *   - LINES (a log or a pipe): one line per finished epoch, with the epoch
 *     count and the percentage of the fit; the table stream gets the table alone;
 *   - LIVE (a terminal): the epoch bar above the batch bar, redrawn in place
 *     with ESC[1A, full at the end, and erased before every table row and at the end;
 *   - NONE / NULL bars: nothing; bad options are refused with a message.
 * Times are not asserted (they are the clock's), only the text around them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgrad.h"

/* 6 training rows in batches of 2 (3 batches), 4 valid rows in 2 */
static cg_learner *small_learner(void) {
    int64_t ytr[6] = {1, 0, 1, 0, 1, 0}, yv[4] = {1, 0, 0, 1};
    cg_tensor *x = cg_empty(CG_FLOAT32, CG_SHAPE(6, 2));
    cg_tensor *vx = cg_empty(CG_FLOAT32, CG_SHAPE(4, 2));
    float *px = cg_data(x), *pv = cg_data(vx);
    for (int64_t i = 0; i < 12; i++) px[i] = (float)((i % 7) - 3) * 0.25f;
    for (int64_t i = 0; i < 8; i++) pv[i] = (float)((i % 5) - 2) * 0.25f;
    cg_tensor *y = cg_from_data(CG_INT64, CG_SHAPE(6, 1), ytr);
    cg_tensor *vy = cg_from_data(CG_INT64, CG_SHAPE(4, 1), yv);
    cg_dataset *a = cg_dataset_from_tensors(x, y), *b = cg_dataset_from_tensors(vx, vy);
    cg_release(x), cg_release(y), cg_release(vx), cg_release(vy);
    cg_dataloader_options o = {.batch_size = 2};
    cg_dataloaders *dls = cg_dataloaders_new(cg_dataloader_new(a, &o), cg_dataloader_new(b, &o));
    cg_dataset_release(a), cg_dataset_release(b);
    assert_non_null(dls);
    cg_manual_seed(3);
    cg_module *model = cg_nn_linear(2, 1, true);
    cg_metric metrics[] = {cg_metric_batch_accuracy()};
    cg_learner *learn = cg_learner_new(dls, model, cg_loss_by_name("mnist_loss"), CG_OPTIM_SGD, metrics, 1);
    cg_module_release(model);
    assert_non_null(learn);
    return learn;
}

static void free_learner(cg_learner *learn) {
    cg_dataloaders *dls = learn->dls;
    cg_learner_free(learn);
    cg_dataloaders_free(dls);
}

static char *slurp(FILE *f) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

static void test_lines_and_table_apart(void **state) {
    (void)state;
    cg_learner *learn = small_learner();
    FILE *table = tmpfile(), *bars = tmpfile();
    cg_progress_options o = {.table = table, .bars = bars, .mode = CG_PROGRESS_AUTO, .line_every_s = 3600};
    assert_int_equal(cg_learner_add_progress_with(learn, &o), CG_OK); /* AUTO: a file is not a terminal */
    assert_int_equal(cg_learner_fit(learn, 2, 0.5), CG_OK);
    char *t = slurp(table), *b = slurp(bars);
    /* the table alone on its stream: a header and a row per epoch */
    assert_int_equal(count(t, "\n"), 3);
    assert_true(!strncmp(t, "epoch  train_loss  valid_loss  batch_accuracy  time\n0      ", 59));
    assert_non_null(strstr(t, "\n1      "));
    assert_null(strstr(t, "done"));
    /* the bars' stream: one plain line per finished epoch, no escape, nothing of the table */
    assert_int_equal(count(b, "\n"), 2);
    assert_true(!strncmp(b, "epoch 1/2 done  50% ", 20));
    assert_non_null(strstr(b, "\nepoch 2/2 done 100% "));
    assert_null(strchr(b, '\033'));
    assert_null(strchr(b, '\r'));
    assert_null(strstr(b, "train_loss"));
    free(t), free(b);
    free_learner(learn);
}

static void test_live_bars(void **state) {
    (void)state;
    cg_learner *learn = small_learner();
    FILE *bars = tmpfile();
    cg_progress_options o = {.bars = bars, .mode = CG_PROGRESS_LIVE};
    assert_int_equal(cg_learner_add_progress_with(learn, &o), CG_OK);
    assert_int_equal(cg_learner_fit(learn, 2, 0.5), CG_OK);
    char *b = slurp(bars);
    /* the last batch of each pass is always drawn: full bars with their counts */
    assert_non_null(strstr(b, "epoch 2/2 [####################] 100% "));
    assert_non_null(strstr(b, "train [####################] 100% 3/3 "));
    assert_non_null(strstr(b, "valid [####################] 100% 2/2 "));
    assert_non_null(strstr(b, "epoch 1/2 [##########----------]  50% ")); /* epoch 1's training done */
    /* two lines, so each redraw clears the batch line and goes up to the epoch line */
    assert_true(count(b, "\r\033[K\033[1A\r\033[K") >= 4);
    assert_non_null(strstr(b, " loss ")); /* the smoothed loss, while training */
    /* erased at the end: the stream ends with the cursor at the start of a cleared line */
    const char *erase = "\r\033[K\033[1A\r\033[K";
    size_t n = strlen(b), k = strlen(erase);
    assert_true(n > k && !strcmp(b + n - k, erase));
    free(b);
    free_learner(learn);
}

static void test_none_and_errors(void **state) {
    (void)state;
    cg_learner *learn = small_learner();
    FILE *bars = tmpfile();
    cg_progress_options o = {.bars = bars, .mode = CG_PROGRESS_NONE};
    assert_int_equal(cg_learner_add_progress_with(learn, &o), CG_OK);
    assert_int_equal(cg_learner_fit(learn, 1, 0.5), CG_OK);
    char *b = slurp(bars);
    assert_string_equal(b, "");
    free(b);
    cg_callback cb;
    assert_int_equal(cg_progress_callback_with(NULL, &cb), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "options are NULL"));
    cg_progress_options bad = {.mode = (cg_progress_mode)7};
    assert_int_equal(cg_progress_callback_with(&bad, &cb), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "unknown mode 7"));
    bad = (cg_progress_options){.line_every_s = -1};
    assert_int_equal(cg_progress_callback_with(&bad, &cb), CG_ERR_VALUE);
    assert_int_equal(cg_progress_callback(NULL, &cb), CG_ERR_VALUE);
    free_learner(learn);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_table_apart),
        cmocka_unit_test(test_live_bars),
        cmocka_unit_test(test_none_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
