#!/usr/bin/env bash
# The OpenMP idle policy the command line runs under (src/cli/cli_omp_env.c):
#   - with neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY set, cgrad runs with
#     GOMP_SPINCOUNT=3000 (it sets it and execs itself; libgomp, asked by
#     OMP_DISPLAY_ENV=verbose, prints the value it runs with on stderr);
#   - a user's GOMP_SPINCOUNT or OMP_WAIT_POLICY is left alone;
#   - the second exec keeps the arguments, the output and the exit codes;
#   - under valgrind there is no second exec (valgrind refuses it).
# Usage: omp_env.sh /path/to/cgrad
set -u -o pipefail
cgrad=${1:?usage: omp_env.sh /path/to/cgrad}
tmp=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_omp_env.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0"

spin_of() { # the last GOMP_SPINCOUNT libgomp printed: the one the command ran with
    grep -o "GOMP_SPINCOUNT = '[0-9]*'" | tail -n 1 | grep -o "[0-9][0-9]*"
}

out=$(env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY OMP_DISPLAY_ENV=verbose "$cgrad" version 2>"$tmp/err")
rc=$?
spin=$(spin_of < "$tmp/err")
[ "$rc" = 0 ] && [ "$spin" = 3000 ] && ok "unset: GOMP_SPINCOUNT 3000" || bad "unset: rc $rc, GOMP_SPINCOUNT '$spin'"
[ "$(printf '%s\n' "$out" | grep -c '^cgrad ')" = 1 ] && ok "the version printed once" || bad "stdout: '$out'"

spin=$(env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=777 OMP_DISPLAY_ENV=verbose "$cgrad" version 2>&1 >/dev/null | spin_of)
[ "$spin" = 777 ] && ok "a user's GOMP_SPINCOUNT kept" || bad "GOMP_SPINCOUNT=777 ran with '$spin'"

err=$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose "$cgrad" version 2>&1 >/dev/null)
if printf '%s\n' "$err" | grep -q "GOMP_SPINCOUNT = '3000'"; then bad "OMP_WAIT_POLICY=active got 3000"
else ok "a user's OMP_WAIT_POLICY kept"; fi

env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY "$cgrad" train --no-such-flag >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && grep -q "unknown option '--no-such-flag'" "$tmp/err" \
    && ok "a usage error still exits 2 with its message" || bad "usage error: rc $rc, $(cat "$tmp/err")"
# under valgrind the exec would leave it (valgrind refuses the program run that way): no exec there
# (not on the sanitizer build: AddressSanitizer and valgrind do not run together)
if command -v valgrind >/dev/null 2>&1 && ! grep -q __asan_init "$cgrad"; then
    out=$(env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY valgrind -q "$cgrad" version 2>"$tmp/err")
    rc=$?
    [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^cgrad ')" = 1 ] \
        && ok "under valgrind: runs, no exec" || bad "under valgrind: rc $rc, '$out', $(cat "$tmp/err")"
else
    echo "skip: valgrind check (no valgrind, or a sanitizer build)"
fi
exit $fail
