/* The Learner's event loop: the exact sequence of events in a 2-epoch fit over
 * 3 training batches and 1 validation batch, the same with each kind of
 * cancellation (fastai's Cancel*Exception semantics), callbacks sorted by
 * order, and errors stopping the fit with the callback's message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgrad.h"

/* ---- a callback that writes every event it sees into a log -------------- */

typedef struct recording {
    char log[16384];
    /* cancel with `code` at the event `at`, in epoch `epoch`, batch `iter` (-1: any) */
    cg_event at;
    cg_cb_result code;
    int epoch;
    int64_t iter;
    const char *tag; /* prefix for each entry (ordering test) */
} recording;

static cg_cb_result record(cg_learner *learn, recording *r, cg_event ev) {
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "%s%s%s", n ? " " : "", r->tag ? r->tag : "",
             cg_event_name(ev));
    if (ev == r->at && learn->epoch == r->epoch &&
        (r->iter < 0 || learn->iter == r->iter))
        return r->code;
    return CG_CB_OK;
}

#define HANDLER(field, ev)                                                   \
    static cg_cb_result on_##field(cg_learner *learn, void *state) {         \
        return record(learn, state, ev);                                     \
    }
HANDLER(before_fit, CG_EV_BEFORE_FIT)
HANDLER(before_epoch, CG_EV_BEFORE_EPOCH)
HANDLER(before_train, CG_EV_BEFORE_TRAIN)
HANDLER(before_batch, CG_EV_BEFORE_BATCH)
HANDLER(after_pred, CG_EV_AFTER_PRED)
HANDLER(after_loss, CG_EV_AFTER_LOSS)
HANDLER(before_backward, CG_EV_BEFORE_BACKWARD)
HANDLER(after_backward, CG_EV_AFTER_BACKWARD)
HANDLER(before_step, CG_EV_BEFORE_STEP)
HANDLER(after_step, CG_EV_AFTER_STEP)
HANDLER(after_cancel_backward, CG_EV_AFTER_CANCEL_BACKWARD)
HANDLER(after_cancel_step, CG_EV_AFTER_CANCEL_STEP)
HANDLER(after_cancel_batch, CG_EV_AFTER_CANCEL_BATCH)
HANDLER(after_batch, CG_EV_AFTER_BATCH)
HANDLER(after_cancel_train, CG_EV_AFTER_CANCEL_TRAIN)
HANDLER(after_train, CG_EV_AFTER_TRAIN)
HANDLER(before_validate, CG_EV_BEFORE_VALIDATE)
HANDLER(after_cancel_validate, CG_EV_AFTER_CANCEL_VALIDATE)
HANDLER(after_validate, CG_EV_AFTER_VALIDATE)
HANDLER(after_cancel_epoch, CG_EV_AFTER_CANCEL_EPOCH)
HANDLER(after_epoch, CG_EV_AFTER_EPOCH)
HANDLER(after_cancel_fit, CG_EV_AFTER_CANCEL_FIT)
HANDLER(after_fit, CG_EV_AFTER_FIT)

static cg_callback recording_callback(recording *r, int order) {
    return (cg_callback){
        .name = "recording", .order = order, .state = r,
        .before_fit = on_before_fit, .before_epoch = on_before_epoch,
        .before_train = on_before_train, .before_batch = on_before_batch,
        .after_pred = on_after_pred, .after_loss = on_after_loss,
        .before_backward = on_before_backward, .after_backward = on_after_backward,
        .before_step = on_before_step, .after_step = on_after_step,
        .after_cancel_backward = on_after_cancel_backward,
        .after_cancel_step = on_after_cancel_step, .after_cancel_batch = on_after_cancel_batch,
        .after_batch = on_after_batch, .after_cancel_train = on_after_cancel_train,
        .after_train = on_after_train, .before_validate = on_before_validate,
        .after_cancel_validate = on_after_cancel_validate, .after_validate = on_after_validate,
        .after_cancel_epoch = on_after_cancel_epoch, .after_epoch = on_after_epoch,
        .after_cancel_fit = on_after_cancel_fit, .after_fit = on_after_fit};
}

/* ---- the expected sequences, built from fastai's loop -------------------- */

typedef struct text {
    char s[16384];
} text;

static void add(text *t, const char *words) {
    size_t n = strlen(t->s);
    snprintf(t->s + n, sizeof t->s - n, "%s%s", n ? " " : "", words);
}

#define TRAIN_BATCH                                                                        \
    "before_batch after_pred after_loss before_backward after_backward before_step "      \
    "after_step after_batch"
#define VALID_BATCH "before_batch after_pred after_loss after_batch"

/* ---- fixtures ----------------------------------------------------------- */

typedef struct fixture {
    cg_dataloaders *dls;
    cg_learner *learn;
} fixture;

/* 6 training items in batches of 2 (3 batches), 2 validation items (1 batch). */
static int setup(void **state) {
    static fixture f;
    cg_manual_seed(42);
    float xs[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 1.1f, 1.2f};
    float ys[] = {1, 0, 1, 0, 1, 0};
    cg_tensor *x = cg_from_floats(CG_SHAPE(6, 2), xs), *y = cg_from_floats(CG_SHAPE(6, 1), ys);
    cg_tensor *vx = cg_from_floats(CG_SHAPE(2, 2), xs), *vy = cg_from_floats(CG_SHAPE(2, 1), ys);
    cg_dataset *train = cg_dataset_from_tensors(x, y), *valid = cg_dataset_from_tensors(vx, vy);
    cg_release(x), cg_release(y), cg_release(vx), cg_release(vy);
    cg_dataloader_options o = {.batch_size = 2};
    f.dls = cg_dataloaders_new(cg_dataloader_new(train, &o), cg_dataloader_new(valid, &o));
    cg_dataset_release(train), cg_dataset_release(valid);
    assert_non_null(f.dls);
    cg_module *model = cg_nn_linear(2, 1, true);
    f.learn = cg_learner_new(f.dls, model, cg_loss_by_name("mnist_loss"), CG_OPTIM_SGD, NULL, 0);
    cg_module_release(model);
    assert_non_null(f.learn);
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    cg_learner_free(f->learn);
    cg_dataloaders_free(f->dls);
    cg_pool_trim();
    return 0;
}

static recording *fit_recorded(fixture *f, recording *r, int n_epoch, cg_status expect) {
    cg_callback cb = recording_callback(r, 0);
    assert_int_equal(cg_learner_add_cb(f->learn, &cb), CG_OK);
    cg_status st = cg_learner_fit(f->learn, n_epoch, 0.1);
    if (st != expect) fail_msg("fit returned %d (%s), expected %d", st, cg_last_error(), expect);
    assert_int_equal(cg_learner_remove_cb(f->learn, "recording"), CG_OK);
    return r;
}

static void assert_log(const recording *r, const text *expected) {
    if (strcmp(r->log, expected->s)) fail_msg("events:\n%s\nexpected:\n%s", r->log, expected->s);
}

/* ---- tests -------------------------------------------------------------- */

static void test_plain_fit(void **state) {
    static recording r = {.at = CG_EV_COUNT};
    r.log[0] = '\0';
    fit_recorded(*state, &r, 2, CG_OK);
    static text t;
    t.s[0] = '\0';
    add(&t, "before_fit");
    for (int e = 0; e < 2; e++) {
        add(&t, "before_epoch before_train");
        for (int b = 0; b < 3; b++) add(&t, TRAIN_BATCH);
        add(&t, "after_train before_validate");
        add(&t, VALID_BATCH);
        add(&t, "after_validate after_epoch");
    }
    add(&t, "after_fit");
    assert_log(&r, &t);
    fixture *f = *state;
    assert_int_equal(f->learn->train_iter, 6);
    assert_int_equal(f->learn->recorder->n_losses, 6);
    assert_int_equal(f->learn->recorder->n_epochs, 2);
    assert_int_equal(f->learn->recorder->iters[0], 3);
    assert_int_equal(f->learn->recorder->iters[1], 6);
}

static void test_cancel_batch(void **state) {
    /* CancelBatchException in before_batch of the 2nd training batch of epoch 0:
     * that batch skips to after_cancel_batch, after_batch; training goes on. */
    static recording r = {.at = CG_EV_BEFORE_BATCH, .code = CG_CB_CANCEL_BATCH, .epoch = 0, .iter = 1};
    r.log[0] = '\0';
    fit_recorded(*state, &r, 1, CG_OK);
    static text t;
    t.s[0] = '\0';
    add(&t, "before_fit before_epoch before_train");
    add(&t, TRAIN_BATCH);
    add(&t, "before_batch after_cancel_batch after_batch");
    add(&t, TRAIN_BATCH);
    add(&t, "after_train before_validate");
    /* the validation batch has iter 0, so it is not cancelled */
    add(&t, VALID_BATCH);
    add(&t, "after_validate after_epoch after_fit");
    assert_log(&r, &t);
    /* the cancelled batch still counts as a training iteration (TrainEvalCallback) */
    fixture *f = *state;
    assert_int_equal(f->learn->train_iter, 3);
    assert_int_equal(f->learn->recorder->n_losses, 2);
}

static void test_cancel_step_and_backward(void **state) {
    static recording r = {.at = CG_EV_BEFORE_STEP, .code = CG_CB_CANCEL_STEP, .epoch = 0, .iter = 0};
    r.log[0] = '\0';
    fit_recorded(*state, &r, 1, CG_OK);
    const char *want_step =
        "before_batch after_pred after_loss before_backward after_backward before_step "
        "after_cancel_step after_step after_batch";
    assert_non_null(strstr(r.log, want_step));

    static recording b = {.at = CG_EV_BEFORE_BACKWARD, .code = CG_CB_CANCEL_BACKWARD, .epoch = 0, .iter = 2};
    b.log[0] = '\0';
    fit_recorded(*state, &b, 1, CG_OK);
    const char *want_backward =
        "before_batch after_pred after_loss before_backward after_cancel_backward "
        "after_backward before_step after_step after_batch after_train";
    assert_non_null(strstr(b.log, want_backward));
}

static void test_cancel_train_validate_epoch(void **state) {
    /* CancelTrainException after the 1st batch: the other two are skipped */
    static recording r = {.at = CG_EV_AFTER_STEP, .code = CG_CB_CANCEL_TRAIN, .epoch = 0, .iter = 0};
    r.log[0] = '\0';
    fit_recorded(*state, &r, 1, CG_OK);
    static text t;
    t.s[0] = '\0';
    add(&t, "before_fit before_epoch before_train");
    add(&t, "before_batch after_pred after_loss before_backward after_backward before_step after_step");
    add(&t, "after_cancel_train after_train before_validate");
    add(&t, VALID_BATCH);
    add(&t, "after_validate after_epoch after_fit");
    assert_log(&r, &t);
    fixture *f = *state;
    assert_true(isnan(cg_recorder_value(f->learn->recorder, 0, 0))); /* no train_loss */
    assert_false(isnan(cg_recorder_value(f->learn->recorder, 0, 1)));

    /* CancelValidException in before_validate of epoch 1 */
    static recording v = {.at = CG_EV_BEFORE_VALIDATE, .code = CG_CB_CANCEL_VALIDATE, .epoch = 1, .iter = -1};
    v.log[0] = '\0';
    fit_recorded(*state, &v, 2, CG_OK);
    assert_non_null(strstr(v.log, "after_train before_validate after_cancel_validate "
                                  "after_validate after_epoch after_fit"));
    assert_true(isnan(cg_recorder_value(f->learn->recorder, 1, 1)));
    assert_false(isnan(cg_recorder_value(f->learn->recorder, 0, 1)));

    /* CancelEpochException in before_train of epoch 0: straight to after_epoch */
    static recording e = {.at = CG_EV_BEFORE_TRAIN, .code = CG_CB_CANCEL_EPOCH, .epoch = 0, .iter = -1};
    e.log[0] = '\0';
    fit_recorded(*state, &e, 2, CG_OK);
    assert_int_equal(strncmp(e.log,
                             "before_fit before_epoch before_train after_cancel_epoch after_epoch "
                             "before_epoch before_train before_batch",
                             strlen("before_fit before_epoch before_train after_cancel_epoch "
                                    "after_epoch before_epoch before_train before_batch")),
                     0);
}

static void test_cancel_fit(void **state) {
    /* CancelFitException in after_batch of epoch 1's 3rd batch: no after_train,
     * no after_epoch; after_cancel_fit then after_fit; fit returns CG_OK. */
    static recording r = {.at = CG_EV_AFTER_BATCH, .code = CG_CB_CANCEL_FIT, .epoch = 1, .iter = 2};
    r.log[0] = '\0';
    fit_recorded(*state, &r, 2, CG_OK);
    static text t;
    t.s[0] = '\0';
    add(&t, "before_fit before_epoch before_train");
    for (int b = 0; b < 3; b++) add(&t, TRAIN_BATCH);
    add(&t, "after_train before_validate");
    add(&t, VALID_BATCH);
    add(&t, "after_validate after_epoch before_epoch before_train");
    for (int b = 0; b < 3; b++) add(&t, TRAIN_BATCH);
    add(&t, "after_cancel_fit after_fit");
    assert_log(&r, &t);
    fixture *f = *state;
    assert_int_equal(f->learn->recorder->n_epochs, 1);
    /* the loader was left mid-epoch... and a new fit starts a fresh epoch */
    static recording again = {.at = CG_EV_COUNT};
    again.log[0] = '\0';
    fit_recorded(*state, &again, 1, CG_OK);
    assert_int_equal(f->learn->recorder->n_losses, 3);
}

static cg_cb_result fail_in_after_loss(cg_learner *learn, void *state) {
    (void)state;
    if (learn->iter < 1) return CG_CB_OK;
    cg_fail(CG_ERR_VALUE, "test callback refused batch %lld", (long long)learn->iter);
    return CG_CB_ERROR;
}

static void test_error_stops_fit(void **state) {
    fixture *f = *state;
    static recording r = {.at = CG_EV_COUNT};
    r.log[0] = '\0';
    cg_callback rec = recording_callback(&r, 100);
    cg_callback bad = {.name = "bad", .order = 0, .after_loss = fail_in_after_loss};
    assert_int_equal(cg_learner_add_cb(f->learn, &rec), CG_OK);
    assert_int_equal(cg_learner_add_cb(f->learn, &bad), CG_OK);
    assert_int_equal(cg_learner_fit(f->learn, 2, 0.1), CG_ERR_VALUE);
    assert_string_equal(cg_last_error(), "test callback refused batch 1");
    /* the recording callback (order 100) never saw batch 1's after_loss, nor any after_ event */
    assert_null(strstr(r.log, "after_fit"));
    assert_int_equal(cg_learner_remove_cb(f->learn, "bad"), CG_OK);
    assert_int_equal(cg_learner_remove_cb(f->learn, "recording"), CG_OK);
    assert_int_equal(cg_learner_remove_cb(f->learn, "nothing"), CG_ERR_VALUE);
    /* the learner is still usable */
    assert_int_equal(cg_learner_fit(f->learn, 1, 0.1), CG_OK);
}

static char order_log[256];

static cg_cb_result log_name(cg_learner *learn, void *state) {
    (void)learn;
    size_t n = strlen(order_log);
    snprintf(order_log + n, sizeof order_log - n, "%s%s", n ? " " : "", (const char *)state);
    return CG_CB_OK;
}

static void test_callbacks_sorted_by_order(void **state) {
    fixture *f = *state;
    /* added with orders 20, -5, 20, 3: they run as -5, 3, then the two 20s in
     * the order they were added (a stable sort, like fastai's sort_by_run) */
    const char *names[] = {"a", "b", "c", "d"};
    const int orders[] = {20, -5, 20, 3};
    for (int i = 0; i < 4; i++) {
        cg_callback cb = {.name = names[i], .order = orders[i], .state = (void *)names[i],
                          .before_fit = log_name};
        assert_int_equal(cg_learner_add_cb(f->learn, &cb), CG_OK);
    }
    /* with the built-ins: nan_guard (-9) and recorder (50) */
    const char *want[] = {"nan_guard", "b", "d", "a", "c", "recorder"};
    assert_int_equal(f->learn->n_cbs, 6);
    for (int i = 0; i < 6; i++) assert_string_equal(f->learn->cbs[i].name, want[i]);
    order_log[0] = '\0';
    assert_int_equal(cg_learner_fit(f->learn, 1, 0.1), CG_OK);
    assert_string_equal(order_log, "b d a c");
    for (int i = 0; i < 4; i++) assert_int_equal(cg_learner_remove_cb(f->learn, names[i]), CG_OK);
    assert_int_equal(f->learn->n_cbs, 2);
}

static void test_event_names(void **state) {
    (void)state;
    assert_string_equal(cg_event_name(CG_EV_BEFORE_FIT), "before_fit");
    assert_string_equal(cg_event_name(CG_EV_AFTER_CANCEL_VALIDATE), "after_cancel_validate");
    assert_string_equal(cg_event_name(CG_EV_AFTER_FIT), "after_fit");
    assert_string_equal(cg_event_name(CG_EV_COUNT), "unknown_event");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_names),
        cmocka_unit_test_setup_teardown(test_plain_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_step_and_backward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_train_validate_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_stops_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_sorted_by_order, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return rc;
}
