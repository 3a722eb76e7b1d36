#!/usr/bin/python3
"""Prints the splits that tests/test_image_folders.c expects from fastai's
RandomSplitter(valid_pct, seed) (fastai/data/transforms.py):

    def _inner(o):
        if seed is not None: torch.manual_seed(seed)
        rand_idx = L(list(torch.randperm(len(o)).numpy()))
        cut = int(valid_pct * len(o))
        return rand_idx[cut:], rand_idx[:cut]

Run with the system python that has torch (/usr/bin/python3 split_reference.py).
"""
import torch


def split(n, valid_pct, seed):
    torch.manual_seed(seed)
    idx = torch.randperm(n).tolist()
    cut = int(valid_pct * n)
    return idx[cut:], idx[:cut]


print("/* torch", torch.__version__, "*/")
for n, pct, seed in [(10, 0.2, 42), (7, 0.3, 0), (12, 0.25, 7)]:
    t, v = split(n, pct, seed)
    tag = "n%d_seed%d" % (n, seed)
    print("static const int64_t split_%s_train[] = {%s};" % (tag, ", ".join(map(str, t))))
    print("static const int64_t split_%s_valid[] = {%s};" % (tag, ", ".join(map(str, v))))

# ImageDataLoaders' training loader: DataLoader(..., shuffle=True, drop_last=True)
# with its own seeded generator; the item order of its first two epochs.
from torch.utils.data import DataLoader
dl = DataLoader(range(10), batch_size=4, shuffle=True, drop_last=True,
                generator=torch.Generator().manual_seed(3))
for epoch in range(2):
    order = [int(i) for b in dl for i in b]
    print("static const int64_t loader_n10_bs4_seed3_epoch%d[] = {%s};" % (epoch, ", ".join(map(str, order))))
