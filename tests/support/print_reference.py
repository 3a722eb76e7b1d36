#!/usr/bin/python3
"""Prints repr() of the tensors whose PyTorch strings tests/test_print.c expects.

Run with the system python that has torch (/usr/bin/python3 print_reference.py).
"""
import os

import numpy as np
import torch
from PIL import Image


def show(label, t):
    print("=== " + label)
    print(repr(t))


tns = torch.tensor([[1, 2, 3], [4, 5, 6]])
show("tns", tns); show("tns+1", tns + 1); show("tns*1.5", tns * 1.5)
show("tns[1]", tns[1]); show("tns[:,1]", tns[:, 1]); show("tns[1,1:3]", tns[1, 1:3]); show("tns.T", tns.T)
print(tns.type(), (tns * 1.5).type())
show("xt.grad", torch.tensor([6., 8., 20.]))
show("0-d", torch.tensor(6.)); show("0-d long", torch.tensor(1)); show("0-d neg", torch.tensor(-0.5))
show("zeros", torch.zeros(3)); show("signed zeros", torch.tensor([-0.0, 0.0]))
xt = torch.tensor(3.).requires_grad_(); show("xt", xt); show("xt**2", xt ** 2)
xv = torch.tensor([3., 4., 10.]).requires_grad_(); show("xv", xv); show("(xv**2).sum()", (xv ** 2).sum())
torch.manual_seed(0); show("randn(3) leaf", torch.randn(3).requires_grad_())
x = torch.tensor([[0.5, 1.25], [3., -2.]]).requires_grad_()
show("mean", (x * 2).mean()); show("view", x.view(4)); show("sigmoid", torch.sigmoid(x)); show("x.T", x.T)
show("wide leaf", (torch.arange(24, dtype=torch.float32) * 1.25).requires_grad_())
show("negative", torch.tensor([-1.5, 2.25, -3.0, 0.125]))
show("prds", torch.tensor([0.9, 0.4, 0.2])); show("trgts", torch.tensor([1, 0, 1]))
for v in ([1e-5, 1.0, 1000.0], [0.001, 123.456, -7.0], [1e9, 2.0], [1e8, 3.0], [1e-5, 2e-5]):
    show("sci %s" % v, torch.tensor(v))
show("nonfinite", torch.tensor([float("nan"), 1.5, float("inf"), -float("inf")]))
show("nonfinite int", torch.tensor([float("nan"), 2.0, -float("inf")]))
mnist = os.environ.get("CGRAD_MIRROR", "/work/shared/data") + "/mnist_sample/train/3/"
im3 = torch.tensor(np.array(Image.open(mnist + sorted(os.listdir(mnist))[1])))
show("tensor(im3)[4:10,4:10]", im3[4:10, 4:10]); show("/255", im3[4:10, 4:10].float() / 255)
show("uint8", torch.tensor([0, 255, 7], dtype=torch.uint8))
show("bool", torch.tensor([True, False, True])); show("bool 2x1", torch.tensor([[True], [False]]))
show("empty", torch.tensor([])); show("empty int64", torch.tensor([], dtype=torch.int64)); show("zeros(0,3)", torch.zeros(0, 3))
show("arange(24).view(2,3,4)", torch.arange(24).view(2, 3, 4))
show("wrapping", torch.arange(30, dtype=torch.float32) * 1.25)
show("arange(1010)/7", torch.arange(1010, dtype=torch.float32) / 7); show("arange(1010)", torch.arange(1010))
show("(40,30)/3", torch.arange(1200, dtype=torch.float32).view(40, 30) / 3)
show("arange(2400).view(8,10,30)", torch.arange(2400).view(8, 10, 30))
show("expand", torch.tensor([1.5, -2.0]).expand(2, 2))
