#!/usr/bin/python3
"""Prints the pixels that tests/test_image_folders.c expects from fastai's Resize.

Run with the system python that has PIL and numpy (/usr/bin/python3
resize_reference.py).  fastai itself is not needed: its Resize.encodes and
Image._do_crop_pad (fastai/vision/augment.py) are a few lines, restated below
on the same PIL calls; torchvision's pad for PIL images is numpy.pad, which is
what fastai's tvpad runs for 'reflect' and 'edge' ('constant' pads with 0).

The test images are the pattern the C test builds: pixel (c, y, x) =
(c*53 + y*37 + x*91 + (x*y) % 7 * 29) % 256.
"""
import numpy as np
from PIL import Image


def pattern(c, h, w):
    y, x = np.mgrid[0:h, 0:w]
    planes = [(ci * 53 + y * 37 + x * 91 + (x * y) % 7 * 29) % 256 for ci in range(c)]
    return np.stack(planes).astype(np.uint8)  # [C,H,W]


def to_pil(a):
    return Image.fromarray(a[0]) if a.shape[0] == 1 else Image.fromarray(np.moveaxis(a, 0, -1), "RGB")


def from_pil(im):
    a = np.asarray(im)
    return a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)


def crop_pad(im, sz, tl, pad_mode):
    """fastai's Image._do_crop_pad without the resize; sz, tl in (w, h) / (x, y) order."""
    orig = np.array(im.size)
    sz, tl = np.array(sz), np.array(tl)
    if (tl >= 0).any() or (tl + sz <= orig).any():
        c = np.maximum(tl, 0)
        im = im.crop((*c, *np.minimum(tl + sz, orig)))
    if (tl < 0).any() or (tl + sz >= orig).any():
        p = np.maximum(-tl, 0)
        f = np.maximum(sz - orig + tl, 0)
        a = np.asarray(im)
        widths = ((p[1], f[1]), (p[0], f[0])) + (((0, 0),) if a.ndim == 3 else ())
        mode = {"zeros": "constant", "border": "edge", "reflection": "reflect"}[pad_mode]
        im = Image.fromarray(np.pad(a, widths, mode))
    return im


def resize(im, size, method, pad_mode="reflection", pcts=(0.5, 0.5)):
    """fastai's Resize(size, method, pad_mode).encodes with self.pcts = pcts; size (w, h)."""
    w, h = im.size
    if method == "squish":
        return crop_pad(im, (w, h), (0, 0), pad_mode).resize(size, Image.BILINEAR)
    op = (lambda a, b: a < b) if method == "crop" else (lambda a, b: a > b)
    m = w / size[0] if op(w / size[0], h / size[1]) else h / size[1]
    cp_sz = (int(m * size[0]), int(m * size[1]))
    tl = (int(pcts[0] * (w - cp_sz[0])), int(pcts[1] * (h - cp_sz[1])))
    return crop_pad(im, cp_sz, tl, pad_mode).resize(size, Image.BILINEAR)


def show(name, a):
    print("/* %s: %s */" % (name, "x".join(str(d) for d in a.shape)))
    print("static const uint8_t %s[] = {%s};" % (name, ", ".join(str(int(v)) for v in a.flatten())))


import PIL
print("/* Pillow", PIL.__version__, "numpy", np.__version__, "*/")
g57 = to_pil(pattern(1, 5, 7))
show("pil_5x7_to_3x4", from_pil(g57.resize((4, 3), Image.BILINEAR)))
show("pil_4x3_to_7x5", from_pil(to_pil(pattern(1, 4, 3)).resize((5, 7), Image.BILINEAR)))
show("pil_rgb_5x6_to_3x4", from_pil(to_pil(pattern(3, 5, 6)).resize((4, 3), Image.BILINEAR)))
g610 = to_pil(pattern(1, 6, 10))
show("fastai_crop_valid_6x10_4", from_pil(resize(g610, (4, 4), "crop")))
show("fastai_crop_train_6x10_4", from_pil(resize(g610, (4, 4), "crop", pcts=(0.75, 0.25))))
show("fastai_pad_valid_6x10_4", from_pil(resize(g610, (4, 4), "pad")))
show("fastai_pad_zeros_6x10_4", from_pil(resize(g610, (4, 4), "pad", "zeros")))
show("fastai_pad_border_train_6x10_4", from_pil(resize(g610, (4, 4), "pad", "border", pcts=(0.3, 0.9))))
show("fastai_squish_6x10_4", from_pil(resize(g610, (4, 4), "squish")))
show("fastai_pad_reflect_3x2_to_9", from_pil(resize(to_pil(pattern(1, 3, 2)), (9, 9), "pad")))
