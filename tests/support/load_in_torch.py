"""Loads a cgrad model file (`cgrad train --save`) or checkpoint (`--checkpoint
DIR`) into PyTorch: the architecture named in the file is rebuilt with torch
(linear, simple_net, mlp:N as nn.Sequential; cnn as bench's twin, cnn-wide alike; resnet18/34
as torchvision's body plus fastai's create_head, as vision_learner builds it),
and load_state_dict(strict=True) must take the file's tensors as they are:
PyTorch's state_dict names, BatchNorm buffers, int64 num_batches_tracked.
With an image it prints the class probabilities, to compare with
`cgrad predict --model FILE IMAGE`.  Needs torch and torchvision (Debian:
python3-torch python3-torchvision, under /usr/bin/python3); exits 77 (skip)
without them.  No test depends on it.

    /usr/bin/python3 tests/support/load_in_torch.py model.safetensors [IMAGE]
    /usr/bin/python3 tests/support/load_in_torch.py ckpt/epoch-3.safetensors --arch cnn --n-in 784 --n-out 2
"""
import argparse
import json
import struct
import sys

try:
    import numpy as np
    import torch
    from torch import nn
    import torchvision
except ImportError as e:  # not installed: a skip, not a failure
    print("load_in_torch: skipped (%s)" % e)
    sys.exit(77)

DTYPES = {"F32": (np.float32, torch.float32), "I64": (np.int64, torch.int64),
          "U8": (np.uint8, torch.uint8), "BOOL": (np.bool_, torch.bool)}


def read_safetensors(path):
    """safetensors.torch.load_file, without the safetensors package."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out = {}
    for name, e in header.items():
        npt, _ = DTYPES[e["dtype"]]
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=npt).copy().reshape(e["shape"]))
    return out, meta


def build(arch, n_in, n_out, channels):
    if arch == "linear":
        return nn.Linear(n_in, n_out)
    if arch in ("simple_net", "mlp") or arch.startswith("mlp:"):
        hidden = 30 if ":" not in arch else int(arch.split(":")[1])
        return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    if arch == "cnn":
        def conv_bn(ci, co, s):
            return nn.Sequential(nn.Conv2d(ci, co, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU())
        return nn.Sequential(conv_bn(channels, 32, 1), conv_bn(32, 64, 2), conv_bn(64, 128, 2), conv_bn(128, 256, 2),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, n_out))
    if arch == "cnn-wide":
        def conv_bn(ci, co, s):
            return nn.Sequential(nn.Conv2d(ci, co, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU())
        return nn.Sequential(conv_bn(channels, 32, 1), conv_bn(32, 64, 2), conv_bn(64, 64, 1), conv_bn(64, 128, 2),
                             conv_bn(128, 128, 1), conv_bn(128, 256, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Dropout(0.25), nn.Linear(256, n_out))
    if arch in ("resnet18", "resnet34"):
        resnet = getattr(torchvision.models, arch)()
        body = nn.Sequential(*list(resnet.children())[:-2])
        from resnet_reference import fastai_head  # beside this script; the weights are loaded over its init
        return nn.Sequential(body, fastai_head(512 * 2, n_out))
    sys.exit("load_in_torch: no torch twin for arch '%s'" % arch)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("image", nargs="?")
    ap.add_argument("--arch")
    ap.add_argument("--n-in", type=int)
    ap.add_argument("--n-out", type=int)
    ap.add_argument("--channels", type=int, default=1)
    a = ap.parse_args()
    sd, meta = read_safetensors(a.file)
    arch = a.arch or meta.get("arch")
    if not arch:
        sys.exit("load_in_torch: %s names no arch (a checkpoint: give --arch, --n-in, --n-out)" % a.file)
    n_in = a.n_in or int(meta["n_in"])
    n_out = a.n_out or int(meta["n_out"])
    spec = meta.get("input", "gray:28x28")
    channels = 3 if spec.startswith("rgb") else a.channels
    if meta.get("format", "").startswith("cgrad-checkpoint"):  # the model's part of a checkpoint
        sd = {k: v for k, v in sd.items() if not k.startswith(("opt.", "rng.", "loader.", "recorder."))}
    model = build(arch, n_in, n_out, channels)
    model.load_state_dict(sd, strict=True)  # raises on a missing, unexpected or misshapen entry
    print("%s: %s loaded into torch %s strictly: %d tensors, %d parameters" %
          (a.file, arch, torch.__version__, len(sd), sum(p.numel() for p in model.parameters())))
    if a.image:
        from PIL import Image
        h, w = (int(s) for s in spec.split(":")[1].split("x"))
        img = Image.open(a.image).convert("RGB" if channels == 3 else "L")
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)
        x = x.permute(2, 0, 1)[None] if channels == 3 else x[None, None]
        if arch in ("linear", "simple_net", "mlp") or arch.startswith("mlp:"):
            x = x.reshape(1, -1)
        model.eval()
        with torch.no_grad():
            out = model(x)[0]
        probs = torch.sigmoid(out) if out.numel() == 1 else torch.softmax(out, 0)
        if out.numel() == 1:
            probs = torch.stack([1 - probs[0], probs[0]])
        classes = json.loads(meta["classes"]) if meta.get("classes", "").startswith("[") else None
        for i, p in enumerate(probs.tolist()):
            print("  %s: %.6f" % (classes[i] if classes else i, p))


if __name__ == "__main__":
    main()
