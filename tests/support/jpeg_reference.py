#!/usr/bin/python3
"""Prints PIL's pixels of a committed JPEG for tests/test_image_folders.c:
tests/fuzz/corpus/image/ok-rgb420-16x9-jpeg (a 16x9 RGB image with 4:2:0
chroma subsampling, the layout of most photos), as Image.open(f).convert('RGB')
gives them, channels first.  Run with the system python that has PIL
(/usr/bin/python3 jpeg_reference.py) from the repository root."""
import numpy as np
from PIL import Image
import PIL

path = "tests/fuzz/corpus/image/ok-rgb420-16x9-jpeg"
a = np.moveaxis(np.asarray(Image.open(path).convert("RGB")), -1, 0)
print("/* Pillow %s: %s, %s */" % (PIL.__version__, path, "x".join(map(str, a.shape))))
print("static const uint8_t pil_rgb420_16x9[] = {%s};" % ", ".join(str(int(v)) for v in a.flatten()))
