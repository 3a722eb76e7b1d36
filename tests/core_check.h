/* Helpers shared by the forward-value tests of the tensor core
 * (test_tensor.c, test_ops.c, test_errors.c).  Include after cmocka.h.
 *
 * Values are read back through cg_get(), element by element in row-major
 * logical order, so a check sees what the user sees whatever the strides. */
#ifndef CGRAD_TESTS_CORE_CHECK_H
#define CGRAD_TESTS_CORE_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgrad.h"

/* Element `flat` (row-major over t's logical shape) as a double. */
static inline double check_at(const cg_tensor *t, int64_t flat) {
    int64_t index[CG_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        index[d] = t->shape[d] ? flat % t->shape[d] : 0;
        flat = t->shape[d] ? flat / t->shape[d] : 0;
    }
    return cg_get(t, index);
}

/* Fails (with the shapes in the message) unless t has exactly this shape. */
static inline void check_shape(const cg_tensor *t, int ndim, const int64_t *shape, const char *where,
                               int line) {
    if (!t) fail_msg("%s:%d: tensor is NULL (%s)", where, line, cg_last_error());
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char got[128], want[128] = "[";
        cg_shape_str(t, got, sizeof got);
        for (int d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), d ? ", %lld" : "%lld",
                     (long long)shape[d]);
        strncat(want, "]", sizeof want - strlen(want) - 1);
        fail_msg("%s:%d: shape %s, expected %s", where, line, got, want);
    }
}

/* Fails unless t holds n values each within tol (absolute + relative) of want. */
static inline void check_values(const cg_tensor *t, const double *want, int64_t n, double tol,
                                const char *where, int line) {
    if (!t) fail_msg("%s:%d: tensor is NULL (%s)", where, line, cg_last_error());
    if (cg_numel(t) != n)
        fail_msg("%s:%d: %lld elements, expected %lld", where, line, (long long)cg_numel(t),
                 (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double got = check_at(t, i);
        bool ok = isnan(want[i]) ? isnan(got)
                                 : fabs(got - want[i]) <= tol * (1.0 + fabs(want[i]));
        if (!ok)
            fail_msg("%s:%d: element %lld is %.9g, expected %.9g (tol %g)", where, line,
                     (long long)i, got, want[i], tol);
    }
}

#define CHECK_SHAPE(t, ...) check_shape((t), CG_SHAPE(__VA_ARGS__), __FILE__, __LINE__)
#define CHECK_SHAPE0(t) check_shape((t), 0, NULL, __FILE__, __LINE__)
#define CHECK_VALUES(t, tol, ...)                                                               \
    check_values((t), (double[]){__VA_ARGS__},                                                  \
                 (int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), (tol), __FILE__, \
                 __LINE__)
#define CHECK_DTYPE(t, dt)                                                                      \
    do {                                                                                        \
        assert_non_null(t);                                                                     \
        assert_string_equal(cg_dtype_name((t)->dtype), cg_dtype_name(dt));                      \
    } while (0)
/* A NULL / status result with this status and a message containing `needle`. */
#define CHECK_ERROR(status, needle)                                                             \
    do {                                                                                        \
        assert_int_equal(cg_last_status(), (status));                                           \
        if (!strstr(cg_last_error(), (needle)))                                                 \
            fail_msg("error message \"%s\" does not mention \"%s\"", cg_last_error(), (needle)); \
    } while (0)

/* Each test runs inside a scope and must give back every byte it took. */
static inline int core_setup(void **state) {
    cg_clear_error();
    *state = (void *)(uintptr_t)cg_mem_in_use();
    cg_scope_begin();
    return 0;
}
static inline int core_teardown(void **state) {
    cg_scope_end();
    size_t before = (size_t)(uintptr_t)*state, after = cg_mem_in_use();
    if (after != before) {
        fprintf(stderr, "leak: cg_mem_in_use %zu bytes before the test, %zu after\n", before, after);
        return -1;
    }
    return 0;
}
#define CORE_TEST(f) cmocka_unit_test_setup_teardown(f, core_setup, core_teardown)

#endif
