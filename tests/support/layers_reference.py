"""Reference values for tests/test_layers.c: one fixed conv -> batch_norm ->
relu -> max_pool -> adaptive_avg_pool stack, forward and backward, on
deterministic sin-based inputs, and nn.Conv2d's default init under a seed.
Needs only torch (Debian: python3-torch); prints C initialisers.

    python3 tests/support/layers_reference.py
"""
import math
import torch
import torch.nn.functional as F


def det(shape, a, b):
    n = 1
    for s in shape:
        n *= s
    return torch.tensor([math.sin(a * i + b) for i in range(n)], dtype=torch.float32).reshape(shape)


def c_floats(name, t):
    vals = ", ".join("%.8ef" % v for v in t.detach().flatten().tolist())
    print("static const float %s[%d] = {%s};" % (name, t.numel(), vals))


x = det((2, 3, 7, 7), 0.37, 0.1).requires_grad_()
w = (0.3 * det((4, 3, 3, 3), 0.71, 0.5)).requires_grad_()
b = (0.1 * det((4,), 1.3, 0.2)).requires_grad_()
gamma = (1 + 0.2 * det((4,), 0.9, 0.3)).requires_grad_()
beta = (0.1 * det((4,), 1.7, 0.4)).requires_grad_()
rm, rv = torch.zeros(4), torch.ones(4)

y = F.conv2d(x, w, b, stride=1, padding=1)
y = F.batch_norm(y, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-5)
y = F.relu(y)
y = F.max_pool2d(y, 3, 2, 1)            # 7 -> 4
out = F.adaptive_avg_pool2d(y, 2)        # 4 -> 2
loss = (out * det(tuple(out.shape), 0.43, 0.7)).sum()
loss.backward()

print("/* python3 tests/support/layers_reference.py (torch %s) */" % torch.__version__)
c_floats("ref_out", out)
c_floats("ref_running_mean", rm)
c_floats("ref_running_var", rv)
c_floats("ref_grad_x_head", x.grad.flatten()[:16])
print("static const double ref_grad_x_sum = %.10e, ref_grad_x_abs = %.10e;" % (x.grad.sum().item(), x.grad.abs().sum().item()))
c_floats("ref_grad_w", w.grad)
c_floats("ref_grad_b", b.grad)
c_floats("ref_grad_gamma", gamma.grad)
c_floats("ref_grad_beta", beta.grad)

torch.manual_seed(0)
conv = torch.nn.Conv2d(3, 4, 3)
c_floats("ref_conv_init_weight_head", conv.weight.flatten()[:8])
c_floats("ref_conv_init_bias", conv.bias)
