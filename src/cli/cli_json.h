/* JSON strings on the CLI's stdout (`--json`): any bytes (a path, a class
 * name read from a model file) become one valid JSON string. */
#ifndef CGRAD_CLI_JSON_H
#define CGRAD_CLI_JSON_H

#include <stdio.h>

/* Writes s as a JSON string, quotes included: '"', '\\' and control
 * characters escaped (\n, \t, \u001b ...), valid UTF-8 passed through, and a
 * byte that is not valid UTF-8 written as U+FFFD so the output stays valid
 * JSON.  NULL writes null. */
void cli_json_string(FILE *f, const char *s);

#endif
