/* Escaping file-derived text for the terminal (src/cli/cli_escape.c, linked
 * into this test directly): control bytes and invalid UTF-8 become \xNN,
 * valid UTF-8 passes unchanged, and a short buffer is cut at a whole piece. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cli/cli_escape.h"

static void expect(const char *in, const char *want) {
    char out[256];
    size_t n = cli_escape(in, out, sizeof out);
    if (strcmp(out, want)) fail_msg("escape gave \"%s\", want \"%s\"", out, want);
    assert_int_equal(n, strlen(want));
}

static void test_plain_and_utf8_pass(void **state) {
    (void)state;
    expect("", "");
    expect("train/3/10.png", "train/3/10.png");
    expect("a b,c;\\d", "a b,c;\\d"); /* spaces, commas and backslashes are printable */
    expect("caf\xC3\xA9", "caf\xC3\xA9");                 /* é, U+00E9 */
    expect("\xE2\x82\xAC 5", "\xE2\x82\xAC 5");           /* €, U+20AC */
    expect("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80");       /* U+1F600 */
    expect("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF");       /* U+10FFFF, the last code point */
    expect("\xC2\xA0", "\xC2\xA0");                       /* U+00A0, just past the C1 range */
}

static void test_controls_escaped(void **state) {
    (void)state;
    expect("e\x1bvil", "e\\x1Bvil");
    expect("\x1b[2J\x1b]0;title\x07", "\\x1B[2J\\x1B]0;title\\x07");
    expect("a\tb\nc\rd", "a\\x09b\\x0Ac\\x0Dd");
    expect("\x7f", "\\x7F");
    expect("\x01", "\\x01");
    /* C1 controls in UTF-8: U+009B is a CSI on some terminals */
    expect("\xC2\x9B" "31m", "\\xC2\\x9B31m");
    expect("\xC2\x80", "\\xC2\\x80");
}

static void test_invalid_utf8_escaped(void **state) {
    (void)state;
    expect("\x80", "\\x80");                       /* a stray continuation byte */
    expect("\xC3", "\\xC3");                       /* cut short by the end */
    expect("\xC3" "A", "\\xC3A");                  /* cut short by ASCII */
    expect("\xC0\x80", "\\xC0\\x80");              /* overlong NUL */
    expect("\xC1\xBF", "\\xC1\\xBF");              /* overlong */
    expect("\xE0\x80\xAF", "\\xE0\\x80\\xAF");     /* overlong '/' */
    expect("\xF0\x80\x80\xAF", "\\xF0\\x80\\x80\\xAF");
    expect("\xED\xA0\x80", "\\xED\\xA0\\x80");     /* a surrogate, U+D800 */
    expect("\xF4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"); /* U+110000 */
    expect("\xF5\x80\x80\x80", "\\xF5\\x80\\x80\\x80");
    expect("\xFF\xFE", "\\xFF\\xFE");
    expect("\xE2\x82", "\\xE2\\x82");              /* 2 of a 3-byte sequence */
}

static void test_short_buffers(void **state) {
    (void)state;
    char out[8];
    /* "ab\x1B" -> "ab\x1B" is 6 bytes; a buffer of 5 holds "ab" (no half escape) */
    assert_int_equal(cli_escape("ab\x1b", out, 5), 6);
    assert_string_equal(out, "ab");
    assert_int_equal(cli_escape("ab\x1b", out, 7), 6);
    assert_string_equal(out, "ab\\x1B");
    /* no half UTF-8 character either */
    assert_int_equal(cli_escape("a\xE2\x82\xAC", out, 3), 4);
    assert_string_equal(out, "a");
    /* n == 0 writes nothing and still measures */
    out[0] = 'X';
    assert_int_equal(cli_escape("abc", out, 0), 3);
    assert_int_equal(out[0], 'X');
    assert_int_equal(cli_escape("abc", NULL, 0), 3);
}

static void test_cli_esc_rotates(void **state) {
    (void)state;
    const char *a = cli_esc("x\x1b"), *b = cli_esc("y\n");
    assert_string_equal(a, "x\\x1B"); /* still valid after another call */
    assert_string_equal(b, "y\\x0A");
    assert_string_equal(cli_esc(NULL), "(null)");
    char big[5000];
    memset(big, '\x1b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(strlen(cli_esc(big)), 4 * (sizeof big - 1)); /* grows, never cuts */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_utf8_pass),
        cmocka_unit_test(test_controls_escaped),
        cmocka_unit_test(test_invalid_utf8_escaped),
        cmocka_unit_test(test_short_buffers),
        cmocka_unit_test(test_cli_esc_rotates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
