# Sourced by the CLI tests that train on a cut of MNIST (vision.sh, dist_cnn.sh,
# augment_recipe.sh); not a test itself (CMake globs tests/cli/*.sh only).
#
# mnist_cut DIR NTRAIN NTEST writes an IDX folder of the mirror's first NTRAIN
# training and NTEST test images and labels, under MNIST's file names, into DIR.
# An IDX file is a big-endian header (magic 0x0803 / 0x0801, the sizes) and the
# bytes: the first N items are the header with N and the first N*784 (or N) bytes.
# Needs MIRROR (the data mirror) and fail (print and exit 1) from the caller.

be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
idx_head() { # src.gz dst n item_bytes magic_byte dims...
    local src=$1 dst=$2 n=$3 item=$4 magic=$5
    shift 5
    { printf "\\x00\\x00\\x08\\x$magic"; be32 "$n"; for d in "$@"; do be32 "$d"; done
      gzip -dc "$src" | tail -c +$((9 + 4 * $#)) | head -c $((n * item)) || true; } > "$dst"
}
mnist_cut() { # dir ntrain ntest
    local dir=$1 ntrain=$2 ntest=$3
    mkdir -p "$dir"
    idx_head "$MIRROR/mnist/train-images-idx3-ubyte.gz" "$dir/train-images-idx3-ubyte" "$ntrain" 784 03 28 28
    idx_head "$MIRROR/mnist/train-labels-idx1-ubyte.gz" "$dir/train-labels-idx1-ubyte" "$ntrain" 1 01
    idx_head "$MIRROR/mnist/t10k-images-idx3-ubyte.gz" "$dir/t10k-images-idx3-ubyte" "$ntest" 784 03 28 28
    idx_head "$MIRROR/mnist/t10k-labels-idx1-ubyte.gz" "$dir/t10k-labels-idx1-ubyte" "$ntest" 1 01
    [ "$(wc -c < "$dir/train-images-idx3-ubyte")" -eq $((16 + ntrain * 784)) ] || fail "IDX subset has the wrong size"
}
