/* Schedules, the smoothed loss and lr_find's valley, against values worked
 * out by hand from fastai's formulas (and, for valley, fastai's own code run
 * in Python on the same curve). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "cgrad.h"

#define assert_close(a, b, tol)                                                        \
    do {                                                                               \
        double a_ = (a), b_ = (b);                                                     \
        if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.12g, expected %.12g", #a, a_, b_); \
    } while (0)

static void test_cos_and_exp(void **state) {
    (void)state;
    /* start + (1 + cos(pi*(1-pos))) * (end-start)/2: flat at both ends, halfway at 0.5 */
    assert_close(cg_sched_cos(2, 10, 0), 2, 1e-15);
    assert_close(cg_sched_cos(2, 10, 1), 10, 1e-15);
    assert_close(cg_sched_cos(2, 10, 0.5), 6, 1e-15);
    /* 1e-7 * (10/1e-7)^pos: 1e-3 at pos 0.5, 10 at the end */
    assert_close(cg_sched_exp(1e-7, 10, 0.5), 1e-3, 1e-15);
    assert_close(cg_sched_exp(1e-7, 10, 1), 10, 1e-12);
    assert_close(cg_sched_lin(1, 3, 0.25), 1.5, 1e-15);
}

static void test_one_cycle_values(void **state) {
    (void)state;
    cg_one_cycle oc = cg_one_cycle_defaults(1.0);
    assert_close(oc.div, 25, 0);
    assert_close(oc.div_final, 1e5, 0);
    assert_close(oc.pct_start, 0.25, 0);
    double lr, mom;
    /* first step: lr_max/25, mom 0.95 */
    cg_one_cycle_at(&oc, 0, &lr, &mom);
    assert_close(lr, 0.04, 1e-15);
    assert_close(mom, 0.95, 1e-15);
    /* pos 0.05 = 20% of the warm-up: 0.04 + (1+cos(0.8 pi))/2 * 0.96 */
    cg_one_cycle_at(&oc, 0.05, &lr, &mom);
    assert_close(lr, 0.1316718427, 1e-10);
    assert_close(mom, 0.940450849719, 1e-12);
    /* middle of the warm-up: halfway between 0.04 and 1 */
    cg_one_cycle_at(&oc, 0.125, &lr, &mom);
    assert_close(lr, 0.52, 1e-15);
    assert_close(mom, 0.90, 1e-15);
    /* pct_start: lr_max, mom 0.85 */
    cg_one_cycle_at(&oc, 0.25, &lr, &mom);
    assert_close(lr, 1.0, 1e-15);
    assert_close(mom, 0.85, 1e-15);
    /* middle of the annealing: halfway between 1 and 1e-5 */
    cg_one_cycle_at(&oc, 0.625, &lr, &mom);
    assert_close(lr, 0.500005, 1e-12);
    assert_close(mom, 0.90, 1e-15);
    /* the last of 100 steps (pos 0.99), and the end */
    cg_one_cycle_at(&oc, 0.99, &lr, &mom);
    assert_close(lr, 0.000448580564721, 1e-14);
    assert_close(mom, 0.949956141505, 1e-12);
    cg_one_cycle_at(&oc, 1.0, &lr, NULL);
    assert_close(lr, 1e-5, 1e-15);
    /* lr_max scales the lr only */
    oc = cg_one_cycle_defaults(0.1);
    cg_one_cycle_at(&oc, 0, &lr, &mom);
    assert_close(lr, 0.004, 1e-15);
    assert_close(mom, 0.95, 1e-15);
}

static void test_smooth_loss(void **state) {
    (void)state;
    cg_smooth_loss s;
    cg_smooth_loss_reset(&s, 0.98);
    assert_true(isnan(cg_smooth_loss_value(&s)));
    /* 1st: 0.02*1 / (1-0.98) = 1 exactly: debiasing removes the pull to 0 */
    cg_smooth_loss_add(&s, 1);
    assert_close(cg_smooth_loss_value(&s), 1.0, 1e-15);
    /* 2nd: (0.98*0.02 + 0.02*2) / (1-0.98^2) = 0.0596/0.0396 */
    cg_smooth_loss_add(&s, 2);
    assert_close(cg_smooth_loss_value(&s), 0.0596 / 0.0396, 1e-13);
    /* 3rd: (0.98*0.0596 + 0.02*3) / (1-0.98^3) = 0.118408/0.058808 */
    cg_smooth_loss_add(&s, 3);
    assert_close(cg_smooth_loss_value(&s), 0.118408 / 0.058808, 1e-13);
    /* a constant loss stays that constant at every step */
    cg_smooth_loss_reset(&s, 0.98);
    for (int i = 0; i < 50; i++) {
        cg_smooth_loss_add(&s, 0.25);
        assert_close(cg_smooth_loss_value(&s), 0.25, 1e-12);
    }
}

static void test_valley(void **state) {
    (void)state;
    /* A bumpy U-shaped curve over lr_find's 100 lrs, sliced [10:-5] as fastai
     * does; fastai's valley() on the same numbers returns 43. */
    double lrs[100], losses[100];
    for (int i = 0; i < 100; i++) {
        lrs[i] = 1e-7 * pow(1e8, i / 100.0);
        double d = log10(lrs[i]) + 1.5;
        losses[i] = d * d * 0.1 + 0.05 * sin(3.0 * i) + 1;
    }
    assert_int_equal(cg_lr_valley(lrs + 10, losses + 10, 85), 43);
    /* a straight descent then a rise: the run starts "before" 0 in fastai's
     * arithmetic (max_start = 4 - 5), so the suggestion is index 0 */
    double down_up[] = {5, 4, 3, 2, 1, 2, 3};
    assert_int_equal(cg_lr_valley(down_up, down_up, 7), 0);
    double longer[] = {9, 9, 8, 7, 6, 5, 4, 3, 2, 1, 5, 9};
    /* lds[9] = 9 (9 at index 1 down to 1): max_start = 9-9 = 0, sections 3, idx 0+3+1 */
    assert_int_equal(cg_lr_valley(longer, longer, 12), 4);
    assert_int_equal(cg_lr_valley(down_up, down_up, 0), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cos_and_exp),
        cmocka_unit_test(test_one_cycle_values),
        cmocka_unit_test(test_smooth_loss),
        cmocka_unit_test(test_valley),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return rc;
}
