/* Output paths checked before a long run starts, so that a finished run is
 * never lost to a typo: `cgrad train --save`, `--csv` and `--plot`, and
 * `cgrad lr-find --plot`. */
#ifndef CGRAD_CLI_PATHS_H
#define CGRAD_CLI_PATHS_H

#include <stddef.h>

/* Can the atomic writers (fileio.h: a temp file in the same folder, then a
 * rename) write path?  Its folder must exist, be a folder and be writable,
 * and path itself, if it exists, must be a regular file (or a link to one).
 * 0, or -1 with a message in msg that starts with label, the flag and the
 * path as the user gave them ("--save out/m.safetensors", "--plot out
 * (out_loss.png)").
 * (access(2) is what the kernel will say; root passes it for any folder, but
 * not the other checks.) */
int cli_check_output_path(const char *label, const char *path, char *msg, size_t size);

/* Do two of the n paths name the same file (after resolving the folders:
 * out.csv, ./out.csv and d/../out.csv are one file, as are two hard links)?
 * labels[i] names paths[i] in the message, e.g. "--plot out (out_loss.png)".
 * 0 when all differ; -1 with the first pair in msg. */
int cli_check_distinct_outputs(const char *const *labels, const char *const *paths, int n, char *msg,
                               size_t size);

#endif
