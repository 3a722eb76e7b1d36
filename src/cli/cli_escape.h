/* Printing bytes that came from files (class names, metadata, paths, the
 * library's messages that quote them) so that a terminal shows them and
 * obeys none of them: control characters (ESC, CR, newline, tab, DEL, the C1
 * range U+0080..U+009F) and bytes that are not valid UTF-8 become \xNN; valid
 * UTF-8 text passes unchanged. */
#ifndef CGRAD_CLI_ESCAPE_H
#define CGRAD_CLI_ESCAPE_H

#include <stddef.h>

/* Writes the escaped form of in to out (always NUL-terminated when n > 0,
 * cut at a whole character or escape) and returns the length the whole
 * escaped string has, like snprintf: the result is complete when it is < n. */
size_t cli_escape(const char *in, char *out, size_t n);

/* The escaped form of s in one of a few rotating buffers owned here: valid
 * until the 8th call after this one, so several can go in one printf.
 * NULL gives "(null)". */
const char *cli_esc(const char *s);

#endif
