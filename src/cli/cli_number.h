/* Strict parsing of the CLI's numeric flags: one parser for every subcommand,
 * so `--index abc`, `--scale 99999999999` and `--lr nan` are refused the same
 * way everywhere, with a message that names the flag, the value and the range.
 *
 * What is accepted: an optional sign and decimal digits for integers; an
 * optional sign, decimal digits, a point and an exponent for reals.  Nothing
 * else: no leading or trailing blanks, no hex (0x10, 0x1p3), no "1e3" for an
 * integer, no inf or nan, no values that overflow.  A real that underflows
 * (1e-400) reads as the nearest representable value (0 or a denormal) and is
 * then range-checked like any other; -0 reads as 0. */
#ifndef CGRAD_CLI_NUMBER_H
#define CGRAD_CLI_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* text -> *out, min <= *out <= max.
 * 0 on success; -1 with a message in msg naming the flag, the value and the range. */
int cli_parse_int64(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out, char *msg,
                    size_t msg_size);

/* text -> *out, finite, min <= *out <= max (min < *out when min_exclusive).
 * max = DBL_MAX (or INFINITY) means no upper bound: any finite value.
 * 0 on success; -1 with a message in msg naming the flag, the value and the range. */
int cli_parse_double(const char *flag, const char *text, double min, double max, bool min_exclusive,
                     double *out, char *msg, size_t msg_size);

/* The range as the help texts and messages write it: "1..64", "> 0", ">= 0". */
void cli_int_range_str(int64_t min, int64_t max, char *out, size_t size);
void cli_double_range_str(double min, double max, bool min_exclusive, char *out, size_t size);

#endif
