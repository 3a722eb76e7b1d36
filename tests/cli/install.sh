#!/usr/bin/env bash
# `cmake --install` puts the headers, both libraries, cgrad.pc and the cgrad
# command in a prefix; outside the tree, with LD_LIBRARY_PATH unset:
#   - the installed cgrad runs (its RPATH is $ORIGIN/../lib);
#   - a program built with `pkg-config --cflags --libs cgrad` runs against the
#     installed libcgrad.so (the .pc's Libs carry -Wl,-rpath,${libdir});
#   - a program linked statically against libcgrad.a with `pkg-config --static
#     --libs cgrad` (Libs.private and Requires.private: every library cgrad uses)
#     links and runs, with no libcgrad.so in it.
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
unset LD_LIBRARY_PATH
libdir=$(dirname "$pcdir")
"$prefix/hello" || { echo "FAIL: hello (against libcgrad.so) did not run without LD_LIBRARY_PATH"; exit 1; }
loaded=$(ldd "$prefix/hello" | awk '/libcgrad\.so/ {print $3}')
[ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$libdir/libcgrad.so.0")" ] \
  || { echo "FAIL: hello does not load the installed libcgrad.so: $(ldd "$prefix/hello" | grep cgrad)"; exit 1; }

# the installed command runs as it is, found libraries and all
ver=$("$prefix/bin/cgrad" --version) || { echo "FAIL: the installed cgrad did not run"; exit 1; }
[[ $ver =~ ^cgrad\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "FAIL: installed cgrad --version: $ver"; exit 1; }
if ldd "$prefix/bin/cgrad" | grep -q "not found"; then
  echo "FAIL: the installed cgrad misses libraries: $(ldd "$prefix/bin/cgrad" | grep 'not found')"; exit 1
fi
"$prefix/bin/cgrad" train --help | grep -F "DIR/model.safetensors" > /dev/null || { echo "FAIL: installed cgrad train --help"; exit 1; }

# static: libcgrad.a and everything pkg-config --static names (-l:libcgrad.a, since the
# shared library sits beside it and -lcgrad would pick that)
static_libs=$(PKG_CONFIG_PATH="$pcdir" pkg-config --static --libs cgrad) || { echo "FAIL: pkg-config --static --libs cgrad"; exit 1; }
grep -q -- "-lsleef" <<<"$static_libs" && grep -q -- "-ljpeg" <<<"$static_libs" && grep -q -- "-ldnnl" <<<"$static_libs" \
  && grep -q -- "-lcurl" <<<"$static_libs" && grep -q -- "-larchive" <<<"$static_libs" && grep -q -- "-lcairo" <<<"$static_libs" \
  || { echo "FAIL: pkg-config --static --libs cgrad misses a library: $static_libs"; exit 1; }
# shellcheck disable=SC2086
"${cc:-cc}" "${extra[@]}" "$prefix/hello.c" -o "$prefix/hello_static" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags cgrad) \
  ${static_libs//-lcgrad/-l:libcgrad.a} || { echo "FAIL: the static link with pkg-config --static failed"; exit 1; }
"$prefix/hello_static" || { echo "FAIL: the statically linked hello did not run"; exit 1; }
ldd "$prefix/hello_static" | grep -q libcgrad && { echo "FAIL: hello_static loads libcgrad.so"; exit 1; }

# The README's gradient example, compiled as it stands against the install, prints the book's values.
src="${CGRAD_SOURCE_DIR:?}/README.md"
awk '/^```c$/ {on=1; next} /^```$/ && on {exit} on' "$src" > "$prefix/readme.c"
[ -s "$prefix/readme.c" ] || { echo "FAIL: no C example in README.md"; exit 1; }
"${cc:-cc}" "${extra[@]}" "$prefix/readme.c" -o "$prefix/readme" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs cgrad)
out=$("$prefix/readme")
grep -qF "tensor(125., grad_fn=<SumBackward0>)" <<<"$out" || { echo "FAIL: README example printed: $out"; exit 1; }
grep -qF "tensor([ 6.,  8., 20.])" <<<"$out" || { echo "FAIL: README example printed: $out"; exit 1; }
echo "install: 5 passed, 0 failed (shared, installed cgrad, static, README example)"
