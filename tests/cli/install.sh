#!/usr/bin/env bash
# `cmake --install` puts the headers, both libraries and cgrad.pc in a prefix,
# and a program outside the tree builds against them with pkg-config alone.
set -euo pipefail
build="${CGRAD_BINARY_DIR:?}"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/cgrad.h include/cgrad/tensor.h lib/libcgrad.a lib/pkgconfig/cgrad.pc; do
  [[ -e "$prefix/$f" || -e "$prefix/${f/lib\//lib/x86_64-linux-gnu/}" ]] || { echo "FAIL: $f not installed"; exit 1; }
done
pcdir=$(dirname "$(find "$prefix" -name cgrad.pc | head -1)")
cat > "$prefix/hello.c" <<'C'
#include <cgrad.h>
int main(void) {
    cg_tensor *x = cg_requires_grad_(cg_scalar(3.0), true);
    cg_tensor *y = cg_pow_s(x, 2);
    if (cg_backward(y, NULL) != CG_OK) return 1;
    double g;
    cg_item(x->grad, &g);
    cg_release(y), cg_release(x);
    return g == 6.0 ? 0 : 1;
}
C
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
extra=()
grep -q '^CGRAD_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && extra=(-fsanitize=address,undefined)
"${cc:-cc}" "${extra[@]}" "$prefix/hello.c" -o "$prefix/hello" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs cgrad)
LD_LIBRARY_PATH="$(dirname "$pcdir")" "$prefix/hello"

# The README's gradient example, compiled as it stands against the install, prints the book's values.
src="${CGRAD_SOURCE_DIR:?}/README.md"
awk '/^```c$/ {on=1; next} /^```$/ && on {exit} on' "$src" > "$prefix/readme.c"
[ -s "$prefix/readme.c" ] || { echo "FAIL: no C example in README.md"; exit 1; }
"${cc:-cc}" "${extra[@]}" "$prefix/readme.c" -o "$prefix/readme" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs cgrad)
out=$(LD_LIBRARY_PATH="$(dirname "$pcdir")" "$prefix/readme")
grep -qF "tensor(125., grad_fn=<SumBackward0>)" <<<"$out" || { echo "FAIL: README example printed: $out"; exit 1; }
grep -qF "tensor([ 6.,  8., 20.])" <<<"$out" || { echo "FAIL: README example printed: $out"; exit 1; }
echo "install: 2 passed, 0 failed"
