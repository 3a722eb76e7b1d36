#!/usr/bin/python3
"""Prints the PyTorch values that tests/test_random.c expects.

Run with the system python that has torch (/usr/bin/python3 random_reference.py).
Floats are printed as C hex literals so the test compares them bit for bit;
fnv() is the FNV-1a hash over float bit patterns (or int64 values) that the
test computes the same way.
"""
import math
import struct

import torch


def lit(t):
    out = []
    for x in t.flatten().tolist():
        m, e = float(x).hex().split("p")
        m = m.rstrip("0").rstrip(".")
        out.append(m + "p" + e + "f")
    return ", ".join(out)


def fnv(t):
    h = 0xCBF29CE484222325
    for x in t.flatten().tolist():
        v = struct.unpack("<I", struct.pack("<f", x))[0] if t.is_floating_point() else x % 2**64
        h = ((h ^ v) * 0x100000001B3) % 2**64
    return "UINT64_C(0x%016x)" % h


print("torch", torch.__version__, torch.__config__.show().split("CPU capability usage: ")[1].split("\n")[0])
print("fresh Generator seed", torch.Generator().initial_seed())
torch.manual_seed(42); print("rand(5)", lit(torch.rand(5)))
torch.manual_seed(42); print("randn(20)", lit(torch.randn(20)))
torch.manual_seed(42); print("randn(3)", lit(torch.randn(3)))
torch.manual_seed(42); a = torch.randn(784, 1)
print("randn(784,1)", lit(a[:4]), "...", lit(a[-4:]), fnv(a))
torch.manual_seed(42); a = torch.randn(3); b = torch.randn(784, 1); c = torch.randn(1)
print("chapter order", lit(a), "|", lit(b[:2]), lit(b[-2:]), fnv(b), "|", lit(c))
torch.manual_seed(0); print("randn(65536)", fnv(torch.randn(65536)))
torch.manual_seed(5); print("randn(())", lit(torch.randn(())))
g = torch.Generator().manual_seed(11); print("randn(17, generator=g)", lit(torch.randn(17, generator=g)))
torch.manual_seed(7); print("normal_(0.5,2) x10", lit(torch.empty(10).normal_(0.5, 2.0)))
torch.manual_seed(7); a = torch.empty(100).normal_(0.5, 2.0); print("normal_(0.5,2) x100", lit(a[:3]), fnv(a))
torch.manual_seed(42); l = torch.nn.Linear(784, 30)
print("Linear(784,30)", lit(l.weight.flatten()[:3]), fnv(l.weight), "|", lit(l.bias[:3]), fnv(l.bias))
torch.manual_seed(3); t = torch.empty(2, 3, 4).permute(2, 0, 1); t.normal_()
print("permuted normal_", lit(t.permute(1, 2, 0).contiguous()))
torch.manual_seed(3); t = torch.empty(4, 5)[:, ::2]; t.uniform_()
print("sliced uniform_", lit(t.contiguous()))
torch.manual_seed(42); print("randperm(10)", torch.randperm(10).tolist())
torch.manual_seed(42); print("randperm(12396)", fnv(torch.randperm(12396)))
