"""Reference values for tests/test_resnet.c: fastai's vision_learner(resnet18)
model, built the way fastai 2.7's create_vision_model builds it (torchvision's
resnet18(weights=None), the body cut at -2, the dummy_eval draw of
num_features_model, create_head(1024, n_out) and apply_init's kaiming_normal_
on the head), with torch.manual_seed(42).  Needs torch and torchvision only
(Debian: python3-torch python3-torchvision); prints C initialisers.

    python3 tests/support/resnet_reference.py
"""
import torch
import torchvision
from torch import nn


class AdaptiveConcatPool2d(nn.Module):
    def __init__(self, size=1):
        super().__init__()
        self.ap, self.mp = nn.AdaptiveAvgPool2d(size), nn.AdaptiveMaxPool2d(size)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


def vision_model(n_out):
    resnet = torchvision.models.resnet18()
    body = nn.Sequential(*list(resnet.children())[:-2])
    # num_features_model -> model_sizes -> dummy_eval at 32x32: one uniform_ draw
    x = torch.empty(1, 3, 32, 32).uniform_(-1.0, 1.0)
    with torch.no_grad():
        nf = body.eval()(x).shape[1] * 2
    return nn.Sequential(body, fastai_head(nf, n_out))


def fastai_head(nf, n_out):
    """create_head(nf, n_out) with apply_init's kaiming_normal_ on its Linears
    (bench/vision_torch.py and load_in_torch.py build theirs here too)."""
    head = nn.Sequential(AdaptiveConcatPool2d(), nn.Flatten(), nn.BatchNorm1d(nf), nn.Dropout(0.25),
                         nn.Linear(nf, 512, bias=False), nn.ReLU(inplace=True), nn.BatchNorm1d(512),
                         nn.Dropout(0.5), nn.Linear(512, n_out, bias=False))
    for layer in head:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight)
    return head


def c_floats(t, n=6):
    return "{" + ", ".join("%.9ef" % v for v in t.flatten()[:n].tolist()) + "}"


def main():
    torch.manual_seed(42)
    model = vision_model(2)
    sd = model.state_dict()
    params = sum(p.numel() for p in model.parameters())
    body = sum(p.numel() for p in model[0].parameters())
    print("/* python3 tests/support/resnet_reference.py (torch %s, torchvision %s) */"
          % (torch.__version__, torchvision.__version__))
    print("#define REF_PARAMS %d\n#define REF_BODY_PARAMS %d\n#define REF_STATE_ENTRIES %d" % (params, body, len(sd)))
    print("static const char *const ref_names[] = {")
    for k in sd:
        print('    "%s",' % k)
    print("};")
    for name in ["0.0.weight", "0.4.0.conv1.weight", "0.5.0.downsample.0.weight", "0.7.1.conv2.weight",
                 "1.4.weight", "1.8.weight"]:
        t = sd[name]
        print('/* %s %s */ static const float ref_%s[] = %s;' % (name, list(t.shape), name.replace(".", "_"), c_floats(t)))


if __name__ == "__main__":
    main()
