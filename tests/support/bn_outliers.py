"""Why a few test images get huge logits from a trained image model (cgrad
chapter4 --full's resnet18 on all ten digits: items 6330, 6423, 6357, 6340,
all 2s of one writer, predicted 5 with losses of 1e5).  Loads a cgrad model
file into torch (load_in_torch.py, strictly), runs the items in eval mode and
prints, for every BatchNorm, the largest |output| and the channel it comes
from with that channel's running_var: a channel whose ReLU input was (almost)
always 0 in training has running_var ~ 0, and an unusual stroke that lights
it up is multiplied by weight / sqrt(running_var + 1e-5), up to ~316x per
BatchNorm.  Then the same items once more with batch statistics (train-mode
BatchNorm over the items and the first 60 test images): if the logits are
ordinary there, the eval statistics are the cause, not the data or a kernel.

    /work/venv-torch2/bin/python tests/support/bn_outliers.py MODEL.safetensors MNIST_IDX_DIR [ITEM ...]
Without items: the test set's four largest eval-mode losses.  Not a test (needs torch)."""
import gzip
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_in_torch import build, read_safetensors  # noqa: E402


def main():
    path, data = sys.argv[1], sys.argv[2]
    items = [int(a) for a in sys.argv[3:]]
    sd, meta = read_safetensors(path)
    arch, n_in, n_out = meta["arch"], int(meta["n_in"]), int(meta["n_out"])
    channels = 3 if meta.get("input", "gray").startswith("rgb") else 1
    model = build(arch, n_in, n_out, channels)
    model.load_state_dict(sd, strict=True)
    x = np.frombuffer(gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz")).read(), np.uint8, offset=16)
    y = np.frombuffer(gzip.open(os.path.join(data, "t10k-labels-idx1-ubyte.gz")).read(), np.uint8, offset=8)
    x = torch.from_numpy(x.reshape(-1, 1, 28, 28).astype(np.float32) / 255).expand(-1, channels, -1, -1)
    if not sys.argv[3:]:  # the four largest eval-mode losses of the whole test set
        model.eval()
        with torch.no_grad():
            losses = torch.cat([nn.functional.cross_entropy(model(x[i:i + 500]), torch.from_numpy(y[i:i + 500].astype(np.int64)),
                                                            reduction="none") for i in range(0, len(x), 500)])
        top = losses.topk(4)
        items = top.indices.tolist()
        print(f"test set: mean loss {losses.mean().item():.6g}; largest {[round(v, 4) for v in top.values.tolist()]} "
              f"at items {items}")
    xb = x[items]
    stats = []

    def hook(name):
        def f(m, inp, out):
            a = out.detach().abs().reshape(out.shape[0], out.shape[1], -1).amax(-1).amax(0)  # per channel
            c = int(a.argmax())
            stats.append((name, float(a[c]), c, float(m.running_var[c]), float(m.weight[c])))
        return f

    for name, m in model.named_modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.register_forward_hook(hook(name))
    model.eval()
    with torch.no_grad():
        logits = model(xb)
    print(f"items {items}, labels {y[items].tolist()}")
    print("eval-mode logits (running statistics):")
    for i, row in zip(items, logits):
        print(f"  {i}: argmax {int(row.argmax())}, max {row.max().item():.4g}, min {row.min().item():.4g}")
    print("per BatchNorm: max |out| over the items, its channel, that channel's running_var and weight")
    for s in stats:
        print("  %-28s %10.4g  ch %4d  running_var %.3g  weight %.3g" % s)
    stats.clear()
    for m in model.modules():  # BatchNorm alone on batch statistics; Dropout stays off
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.train()
    with torch.no_grad():
        logits = model(torch.cat([xb, x[:60]]))[:len(items)]
    print("train-mode logits (batch statistics over these items and test images 0..59):")
    for i, row in zip(items, logits):
        print(f"  {i}: argmax {int(row.argmax())}, max {row.max().item():.4g}, min {row.min().item():.4g}")


if __name__ == "__main__":
    main()
