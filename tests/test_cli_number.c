/* The CLI's numeric flag parser (src/cli/cli_number.c, linked into this test
 * directly): what it accepts, with the exact value, and what it refuses, with
 * a message that names the flag, the value and the range. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "cli/cli_number.h"

/* Asserts cli_parse_int64 accepts text as want. */
static void int_ok(const char *text, int64_t min, int64_t max, int64_t want) {
    int64_t v = -12345;
    char msg[256] = "";
    if (cli_parse_int64("--n", text, min, max, &v, msg, sizeof msg) != 0)
        fail_msg("'%s' refused: %s", text, msg);
    if (v != want) fail_msg("'%s' read as %lld, want %lld", text, (long long)v, (long long)want);
}

/* Asserts cli_parse_int64 refuses text, leaves *out alone, and says `what`. */
static void int_bad(const char *text, int64_t min, int64_t max, const char *what) {
    int64_t v = -12345;
    char msg[256] = "";
    assert_int_equal(cli_parse_int64("--index", text, min, max, &v, msg, sizeof msg), -1);
    assert_int_equal(v, -12345);
    if (!strstr(msg, what)) fail_msg("'%s': message \"%s\" lacks \"%s\"", text ? text : "(null)", msg, what);
    if (strncmp(msg, "--index", 7)) fail_msg("'%s': message \"%s\" does not name the flag", text, msg);
}

static void dbl_ok(const char *text, double min, double max, bool excl, double want) {
    double v = -12345;
    char msg[256] = "";
    if (cli_parse_double("--x", text, min, max, excl, &v, msg, sizeof msg) != 0)
        fail_msg("'%s' refused: %s", text, msg);
    if (memcmp(&v, &want, sizeof v)) fail_msg("'%s' read as %.17g, want %.17g", text, v, want);
}

static void dbl_bad(const char *text, double min, double max, bool excl, const char *what) {
    double v = -12345;
    char msg[256] = "";
    assert_int_equal(cli_parse_double("--lr", text, min, max, excl, &v, msg, sizeof msg), -1);
    assert_true(v == -12345);
    if (!strstr(msg, what)) fail_msg("'%s': message \"%s\" lacks \"%s\"", text ? text : "(null)", msg, what);
    if (strncmp(msg, "--lr", 4)) fail_msg("'%s': message \"%s\" does not name the flag", text, msg);
}

static void test_int_accepts(void **state) {
    (void)state;
    int_ok("0", 0, 10, 0);
    int_ok("7", 0, 10, 7);
    int_ok("+7", 0, 10, 7);
    int_ok("-0", 0, 10, 0);
    int_ok("007", 0, 10, 7); /* decimal, not octal */
    int_ok("-5", -10, 10, -5);
    int_ok("1", 1, 1, 1);
    int_ok("9223372036854775807", 0, INT64_MAX, INT64_MAX);
    int_ok("-9223372036854775808", INT64_MIN, 0, INT64_MIN);
}

static void test_int_refuses(void **state) {
    (void)state;
    int_bad("abc", 0, 10, "'abc' is not an integer; expected 0..10");
    int_bad("", 0, 10, "'' is not an integer");
    int_bad(" 5", 0, 10, "not an integer");
    int_bad("5 ", 0, 10, "not an integer");
    int_bad("\t5", 0, 10, "not an integer");
    int_bad("0x10", 0, 100, "'0x10' is not an integer");
    int_bad("1e3", 0, 10000, "'1e3' is not an integer");
    int_bad("1.0", 0, 10, "not an integer");
    int_bad("+", 0, 10, "not an integer");
    int_bad("-", 0, 10, "not an integer");
    int_bad("--5", -10, 10, "not an integer");
    int_bad("5x", 0, 10, "'5x' is not an integer");
    int_bad("11", 0, 10, "'11' is out of range; expected 0..10");
    int_bad("-1", 0, 10, "'-1' is out of range");
    int_bad("0", 1, 64, "'0' is out of range; expected 1..64");
    int_bad("99999999999", 1, 64, "'99999999999' is out of range; expected 1..64");
    /* past int64: strtoll's ERANGE, not a wrapped value */
    int_bad("9223372036854775808", 0, INT64_MAX, "is out of range; expected >= 0");
    int_bad("-9223372036854775809", INT64_MIN, 0, "is out of range");
    int_bad("99999999999999999999999", 1, 1000000, "is out of range; expected 1..1000000");
    int_bad(NULL, 1, 5, "--index needs a value (an integer, 1..5)");
}

static void test_int_message_escapes_and_cuts(void **state) {
    (void)state;
    char msg[256], text[200];
    assert_int_equal(cli_parse_int64("--index", "\x1b[31m", 0, 10, NULL, msg, sizeof msg), -1);
    assert_string_equal(msg, "--index: '\\x1B[31m' is not an integer; expected 0..10");
    memset(text, '9', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    assert_int_equal(cli_parse_int64("--bs", text, 1, 10, NULL, msg, sizeof msg), -1);
    /* the value is shown cut to 40 bytes */
    assert_string_equal(msg, "--bs: '9999999999999999999999999999999999999999...' is out of range; expected 1..10");
    /* a tiny buffer is cut, not overrun */
    char small[8];
    assert_int_equal(cli_parse_int64("--index", "x", 0, 1, NULL, small, sizeof small), -1);
    assert_string_equal(small, "--index");
}

static void test_double_accepts(void **state) {
    (void)state;
    dbl_ok("0.1", 0, DBL_MAX, true, 0.1);
    dbl_ok("1", 0, DBL_MAX, true, 1.0);
    dbl_ok("1e-30", 0, DBL_MAX, true, 1e-30); /* any positive finite lr */
    dbl_ok("3E2", 0, DBL_MAX, true, 300.0);
    dbl_ok("1.", 0, DBL_MAX, true, 1.0);
    dbl_ok(".5", 0, DBL_MAX, true, 0.5);
    dbl_ok("+2.5e+1", 0, DBL_MAX, true, 25.0);
    dbl_ok("1.7976931348623157e308", 0, DBL_MAX, true, DBL_MAX);
    /* a denormal is positive and finite */
    dbl_ok("4.9406564584124654e-324", 0, DBL_MAX, true, 4.9406564584124654e-324);
    dbl_ok("1e-310", 0, DBL_MAX, true, 1e-310);
    /* 0 with an inclusive bound; -0 reads as +0 */
    dbl_ok("0", 0, DBL_MAX, false, 0.0);
    dbl_ok("-0", 0, DBL_MAX, false, 0.0);
    dbl_ok("-0.0", 0, DBL_MAX, false, 0.0);
    dbl_ok("1e-400", 0, DBL_MAX, false, 0.0); /* underflows to 0, which >= 0 allows */
    dbl_ok("-2.5", -3, 3, false, -2.5);
    dbl_ok("3", -3, 3, false, 3.0);
}

static void test_double_refuses(void **state) {
    (void)state;
    dbl_bad("-1", 0, DBL_MAX, true, "'-1' is out of range; expected > 0");
    dbl_bad("0", 0, DBL_MAX, true, "'0' is out of range; expected > 0");
    dbl_bad("-0", 0, DBL_MAX, true, "'-0' is out of range; expected > 0");
    dbl_bad("1e-400", 0, DBL_MAX, true, "'1e-400' is out of range; expected > 0"); /* underflow to 0 */
    dbl_bad("nan", 0, DBL_MAX, true, "'nan' is not a finite decimal number; expected > 0");
    dbl_bad("NaN", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("inf", 0, DBL_MAX, true, "'inf' is not a finite decimal number");
    dbl_bad("-inf", -DBL_MAX, DBL_MAX, false, "not a finite decimal number");
    dbl_bad("infinity", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("1e309", 0, DBL_MAX, true, "'1e309' is out of range"); /* overflows to inf */
    dbl_bad("-1e309", -DBL_MAX, DBL_MAX, false, "is out of range");
    dbl_bad("0x1p3", 0, DBL_MAX, true, "'0x1p3' is not a finite decimal number");
    dbl_bad("0x10", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("", 0, DBL_MAX, true, "'' is not a finite decimal number");
    dbl_bad(" 1", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("1 ", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("1e", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("1e+", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad(".", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("e5", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("1.2.3", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("1,5", 0, DBL_MAX, true, "not a finite decimal number");
    dbl_bad("4", -3, 3, false, "'4' is out of range; expected -3..3");
    dbl_bad("0", 0, 1, true, "expected > 0 and <= 1");
    dbl_bad(NULL, 0, DBL_MAX, true, "--lr needs a value (a number, > 0)");
}

static void test_range_strings(void **state) {
    (void)state;
    char s[64];
    cli_int_range_str(1, 64, s, sizeof s);
    assert_string_equal(s, "1..64");
    cli_int_range_str(0, INT64_MAX, s, sizeof s);
    assert_string_equal(s, ">= 0");
    cli_double_range_str(0, DBL_MAX, true, s, sizeof s);
    assert_string_equal(s, "> 0");
    cli_double_range_str(0, INFINITY, false, s, sizeof s);
    assert_string_equal(s, ">= 0");
    cli_double_range_str(0.5, 2, false, s, sizeof s);
    assert_string_equal(s, "0.5..2");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_accepts),
        cmocka_unit_test(test_int_refuses),
        cmocka_unit_test(test_int_message_escapes_and_cuts),
        cmocka_unit_test(test_double_accepts),
        cmocka_unit_test(test_double_refuses),
        cmocka_unit_test(test_range_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
