#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/corpus/<target>/ (small hand-made files)
and the crash inputs of tests/fuzz/regressions/<target>/.

    python3 tests/fuzz/make_corpus.py [build/tests/fuzz/fuzz_make_model_seeds]

Names: "ok-*" must be accepted by the target and "bad-*" rejected (the replay
test checks both, see replay_main.c); "near-*" are almost valid inputs whose
verdict is the reader's choice.  PNG seeds have no ".png" (.gitignore has *.png).  Everything is made here or by cgrad itself (the
safetensors models, with the program given), never taken from a dataset.  Only
the Python standard library is used: PNGs are written chunk by chunk.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- PNG ---------------------------------------------------------------------
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width, height, depth, color, rows, extra=b"", interlace=0):
    """rows: the filtered scanlines (filter byte + packed samples) as bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def pngs():
    gray = png(2, 2, 8, 0, b"\x00\x00\x55" + b"\x00\xaa\xff")
    put("png", "ok-gray8-2x2", gray)
    # 1 bit, 3 wide: the last byte of each row is partly padding; filter Sub on row 2
    put("png", "ok-gray1-3x2", png(3, 2, 1, 0, b"\x00\xa0" + b"\x01\x40"))
    plte = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]))
    put("png", "ok-palette2-2x2", png(2, 2, 2, 3, b"\x00\x10" + b"\x00\x20", plte))
    put("png", "ok-palette8-trns-2x1",
        png(2, 1, 8, 3, b"\x00\x00\x02", plte + chunk(b"tRNS", b"\x00\x80")))
    put("png", "ok-gray-alpha-1x2", png(1, 2, 8, 4, b"\x00\x10\xff" + b"\x02\x10\x00"))
    put("png", "ok-rgba16-2x1", png(2, 1, 16, 6, b"\x00" + bytes(range(16))))
    # Adam7 interlaced 3x3 RGB: passes 1 (1 px), 4 (1 px), 5 (1x2), 6 (2x... )
    put("png", "ok-rgb-adam7-3x3", interlaced_rgb_3x3())
    put("png", "bad-signature", b"\x89PNX" + gray[4:])
    put("png", "bad-truncated", gray[:45])
    bad_crc = bytearray(gray)
    bad_crc[29] ^= 0xff  # IHDR's CRC
    put("png", "bad-ihdr-crc", bytes(bad_crc))
    put("png", "bad-zero-width", png(0, 2, 8, 0, b"\x00\x00"))
    return gray


def interlaced_rgb_3x3():
    # Adam7 on a 3x3 image: pass 1 (0,0); pass 4 (2,0); pass 5 (0,2),(2,2);
    # pass 6 (1,0),(1,2); pass 7 rows 1: (0,1),(1,1),(2,1).  Passes 2, 3 are empty.
    px = lambda x, y: bytes([x * 80, y * 80, 200])
    rows = b""
    rows += b"\x00" + px(0, 0)                       # pass 1: 1x1
    rows += b"\x00" + px(2, 0)                       # pass 4: 1x1 (x=2,y=0)
    rows += b"\x00" + px(0, 2) + px(2, 2)            # pass 5: 2x1 (y=2, x=0,2)
    rows += b"\x00" + px(1, 0) + b"\x00" + px(1, 2)  # pass 6: 1x2 (x=1, y=0,2)
    rows += b"\x00" + px(0, 1) + px(1, 1) + px(2, 1)  # pass 7: 3x1 (y=1)
    return png(3, 3, 8, 2, rows, interlace=1)


# ---- any image file (fuzz_image): JPEGs made with PIL when it is there -------
def images(gray_png):
    put("image", "ok-gray8-2x2-png", gray_png)
    put("image", "ok-rgb-adam7-3x3-png", interlaced_rgb_3x3())
    put("image", "bad-neither", b"GIF89a" + bytes(20))
    try:
        from PIL import Image  # Debian's python3-pil: /usr/bin/python3
    except ImportError:
        print("make_corpus: no PIL, JPEG seeds of corpus/image/ kept as they are")
        return
    import io

    def jpeg(img, **kw):
        out = io.BytesIO()
        img.save(out, "JPEG", **kw)
        return out.getvalue()
    gray = Image.frombytes("L", (8, 8), bytes((x * 37 + y * 11) & 255 for y in range(8) for x in range(8)))
    rgb = Image.frombytes("RGB", (16, 9), bytes((i * 29) & 255 for i in range(16 * 9 * 3)))
    put("image", "ok-gray-8x8-jpeg", jpeg(gray, quality=75))
    put("image", "ok-rgb420-16x9-jpeg", jpeg(rgb, quality=50, subsampling=2))
    put("image", "ok-rgb444-progressive-16x9-jpeg", jpeg(rgb, quality=90, subsampling=0, progressive=True))
    put("image", "ok-rgb-restart-16x9-jpeg", jpeg(rgb, quality=60, restart_marker_blocks=1))
    put("image", "bad-cmyk-4x4-jpeg", jpeg(Image.new("CMYK", (4, 4), (10, 20, 30, 40))))
    whole = jpeg(rgb, quality=50)
    put("image", "near-truncated-jpeg", whole[: len(whole) * 2 // 3])


# ---- IDX (the target's first byte: 0 as given, 1 gzipped by the target) ------
def idx(sizes, data):
    return bytes([0, 0, 8, len(sizes)]) + b"".join(struct.pack(">I", s) for s in sizes) + bytes(data)


def idxs():
    images = idx([3, 2, 2], range(0, 240, 20))
    labels = idx([3], [3, 7, 3])
    put("idx", "ok-raw-images-3x2x2", b"\x00" + images)
    put("idx", "ok-raw-labels-3", b"\x00" + labels)
    put("idx", "ok-gzip-images-3x2x2", b"\x00" + gzip.compress(images, mtime=0))
    put("idx", "ok-wrapped-images-3x2x2", b"\x01" + images)
    put("idx", "ok-raw-empty-0x5", b"\x00" + idx([0, 5], []))
    put("idx", "bad-raw-short", b"\x00" + images[:-1])
    put("idx", "bad-raw-long", b"\x00" + images + b"\x00")
    put("idx", "bad-raw-magic-type", b"\x00" + b"\x00\x00\x0d\x01" + images[4:])
    put("idx", "bad-raw-9-dims", b"\x00" + b"\x00\x00\x08\x09" + b"\x00\x00\x00\x01" * 9)
    # the deflate data is whole, 6 of the 8 trailer bytes (CRC, length) are cut:
    # zlib only notes "unexpected end of file", and the CRC is never checked
    put("idx", "bad-gzip-no-trailer", b"\x00" + gzip.compress(images, mtime=0)[:-6])


# ---- labels.csv --------------------------------------------------------------
def csvs():
    put("labels_csv", "ok-labels.csv", "name,label\ntrain/3/7463.png,3\ntrain/7/21102.png,7\nvalid/3/9.png,3\n")
    put("labels_csv", "ok-crlf-no-final-newline.csv", "name,label\r\na.png,x\r\nb.png,y")
    put("labels_csv", "ok-blank-lines.csv", "name,label\n\na.png,1\n\nb.png,0\n")
    put("labels_csv", "bad-empty.csv", "")
    put("labels_csv", "bad-header-only.csv", "name,label\n")
    put("labels_csv", "bad-no-comma.csv", "name,label\na.png\n")
    put("labels_csv", "near-quoted.csv", 'name,label\n"a,b.png",3\n')
    put("labels_csv", "near-three-fields.csv", "name,label\na.png,3,extra\n")
    put("labels_csv", "near-empty-label.csv", "name,label\na.png,\n")


# ---- CLI numbers: a control byte, then the text (see fuzz_cli_number.c) -------
# bit 0: 0 int64, 1 double; bits 1-2: range; bit 3: a 12-byte message buffer.
INT_FULL, INT_0_1000, INT_BS = 6, 2, 4  # ranges 3, 1, 2: see int_ranges
D_LR, D_ANY, D_UNIT, D_SCALE = 1, 3, 5, 7  # double ranges 0..3
TIGHT = 8


def numbers():
    cases = {
        "ok-int-42": (0, "42"), "ok-int-max": (0, "9223372036854775807"),
        "ok-int-neg": (INT_FULL, "-5"), "ok-int-bs": (INT_BS, "1048576"),
        "bad-int-overflow": (INT_FULL, "9223372036854775808"), "bad-int-abc": (0, "abc"),
        "bad-int-trailing": (0, "42x"), "bad-int-empty": (0, ""),
        "bad-int-above-range": (INT_0_1000, "1001"), "bad-int-tight-msg": (INT_0_1000 | TIGHT, "-1"),
        "bad-int-bs-zero": (INT_BS, "0"), "bad-int-float": (0, "1.5"),
        "bad-int-space": (0, " 42"), "ok-int-plus": (0, "+7"), "bad-int-hex": (0, "0x10"),
        "ok-double-lr": (D_LR, "0.01"), "ok-double-exp": (D_LR, "1e-3"), "ok-double-max": (D_ANY, "1.7976931348623157e308"),
        "ok-double-unit": (D_UNIT, "0.5"), "ok-double-scale": (D_SCALE, "100"),
        "bad-double-zero-lr": (D_LR, "0"), "bad-double-inf": (D_LR, "inf"), "bad-double-nan": (D_ANY, "nan"),
        "bad-double-empty": (D_LR, ""), "bad-double-above": (D_UNIT | TIGHT, "1.5"),
        "bad-double-overflow": (D_ANY, "1e999"), "bad-double-trailing": (D_LR, "0.1abc"),
        "ok-double-subnormal": (D_LR, "4.9e-324"), "bad-double-hexfloat": (D_LR, "0x1p-3"),
    }
    for name, (control, text) in cases.items():
        put("cli_number", name, bytes([control]) + text.encode())


# ---- safetensors ---------------------------------------------------------------
def safetensors_file(header, data=b""):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def safetensors(make_seeds):
    folder = os.path.join(CORPUS, "safetensors")
    os.makedirs(folder, exist_ok=True)
    if make_seeds:
        subprocess.run([make_seeds, folder], check=True)
    linear = os.path.join(folder, "ok-linear.safetensors")
    if not os.path.exists(linear):
        sys.exit("make_corpus: no %s; pass the fuzz_make_model_seeds program" % linear)
    header, data = read_safetensors(linear)

    def variant(name, **meta):
        h = json.loads(json.dumps(header))
        h["__metadata__"].update(meta)
        put("safetensors", name, safetensors_file(h, data))

    variant("bad-model-n_in-mismatch.safetensors", n_in="5")
    variant("bad-model-arch-unknown.safetensors", arch="resnet")
    variant("bad-model-n_in-text.safetensors", n_in="4x")
    variant("near-model-classes-short.safetensors", classes="7")
    variant("near-model-input-rgb.safetensors", input="rgb:2x2")
    put("safetensors", "ok-empty-header.safetensors", safetensors_file({}))
    put("safetensors", "bad-header-length.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
    put("safetensors", "bad-json.safetensors", struct.pack("<Q", 8) + b'{"a":[1,')
    h = {"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "u": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
    put("safetensors", "bad-overlap.safetensors", safetensors_file(h, bytes(8)))


# ---- regressions/<target>/: inputs that once crashed or misled a reader ------
# Replayed like the corpus (fuzz_replay_<target>), but never fuzzed from.  Under
# ASan an allocation over 256 MB fails the replay, which is how the memory bombs
# below fail on the code before their fix.
def put_regression(target, name, data):
    folder = os.path.join(HERE, "regressions", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def regressions():
    # libpng allocated an eXIf chunk's claimed length (1 GiB) before reading it (fixed in png.c:
    # only the chunks that make the pixels are read)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    put_regression("png", "bad-exif-claims-1gib",
                   b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + struct.pack(">I", 1 << 30) + b"eXIf" + bytes(4))
    # 676 MB of pixels allocated for a 66-byte file before any image data was read (fixed in
    # png.c: deflate expands at most 1032:1)
    put_regression("png", "bad-13000x13000-rgba-in-66-bytes", png(13000, 13000, 8, 6, b"\x00"))
    # a 13-byte IDX whose header asks for 65535 x 65535 bytes: 4 GiB allocated before the length
    # check (fixed in idx.c: sizes against what the file can hold)
    put_regression("idx", "bad-header-claims-4gib", b"\x00" + idx([65535, 65535], []))
    # an empty shape whose other sizes overflow int64: signed overflow in the contiguous strides
    # (fixed in core/shape_check.c); refusing it or returning it empty are both right
    put_regression("idx", "zero-then-huge-dims", b"\x00" + idx([0, 0xFFFFFFFF, 0xFFFFFFFF], []))
    put_regression("safetensors", "zero-then-huge-shape", safetensors_file(
        {"t": {"dtype": "F32", "shape": [0, 1 << 32, 1 << 32], "data_offsets": [0, 0]}}))
    # model files whose metadata built a 1.6 GB mlp:100000000 or a 4 GB linear (n_in 10^9) before
    # any tensor shape was checked (fixed in weights.c: cg_model_param_shapes first)
    header, data = read_safetensors(os.path.join(CORPUS, "safetensors", "ok-linear.safetensors"))
    header["__metadata__"]["arch"] = "mlp:100000000"
    put_regression("safetensors", "bad-model-hidden-1e8", safetensors_file(header, data))
    header["__metadata__"].update(arch="linear", n_in="1000000000")
    put_regression("safetensors", "bad-model-n_in-1e9", safetensors_file(header, data))


if __name__ == "__main__":
    images(pngs())
    idxs()
    csvs()
    numbers()
    safetensors(sys.argv[1] if len(sys.argv) > 1 else None)
    regressions()
