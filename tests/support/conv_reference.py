#!/usr/bin/python3
"""Prints the PyTorch values that tests/test_nn_kernels.c expects for one
fixed conv -> batch_norm (training) -> relu -> max_pool stack, forward and
backward.

Run with the system python that has torch:
    /usr/bin/python3 tests/support/conv_reference.py
and paste its output into the test.  Inputs are not random: every value is
a sine of its flat index, so the C test builds the same tensors with the
same formula (see the comments on each array).
"""
import math

import torch

torch.set_default_dtype(torch.float64)  # the literals are exact to float precision


def sines(shape, a, b, scale):
    """value[i] = scale * sin(a*i + b) over the flat index i."""
    n = math.prod(shape)
    return torch.tensor([scale * math.sin(a * i + b) for i in range(n)]).reshape(shape)


x = sines((2, 2, 5, 5), 0.7, 0.1, 1.0).requires_grad_()
w = sines((3, 2, 3, 3), 1.3, 0.4, 0.5).requires_grad_()
bias = sines((3,), 2.1, 0.2, 0.3).requires_grad_()
gamma = (1.0 + sines((3,), 0.9, 0.3, 0.2)).detach().requires_grad_()
beta = sines((3,), 1.7, 0.5, 0.1).requires_grad_()
upstream = sines((2, 3, 3, 3), 0.45, 0.25, 1.0)

running_mean, running_var = torch.zeros(3), torch.ones(3)
conv = torch.nn.functional.conv2d(x, w, bias, stride=1, padding=1)
bn = torch.nn.functional.batch_norm(conv, running_mean, running_var, gamma, beta, training=True,
                                    momentum=0.1, eps=1e-5)
out = torch.nn.functional.max_pool2d(torch.relu(bn), 3, stride=2, padding=1)
(out * upstream).sum().backward()
_, idx = torch.nn.functional.max_pool2d(torch.relu(bn), 3, stride=2, padding=1, return_indices=True)


def arr(name, t, fmt="%.9g"):
    vals = t.detach().flatten().tolist()
    body = ", ".join(fmt % v for v in vals)
    print(f"static const {'int64_t' if not t.is_floating_point() else 'double'} {name}[{len(vals)}] = {{{body}}};")


print("/* tests/support/conv_reference.py, torch", torch.__version__, "*/")
arr("ref_out", out)
arr("ref_idx", idx, "%d")
arr("ref_dx", x.grad)
arr("ref_dw", w.grad)
arr("ref_dbias", bias.grad)
arr("ref_dgamma", gamma.grad)
arr("ref_dbeta", beta.grad)
arr("ref_running_mean", running_mean)
arr("ref_running_var", running_var)
