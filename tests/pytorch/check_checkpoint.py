#!/usr/bin/env python3
"""Loads a lirf checkpoint in PyTorch and measures its test accuracy, to compare
with `lirf eval` (issue: a checkpoint from `lirf train` loads with
safetensors.torch.load_file into a torchvision-named CIFAR ResNet-18 and gives
the same accuracy, within 0.1 points).

Set-up (Debian 12): apt-get install python3-torch python3-venv; then
    python3 -m venv --system-site-packages /tmp/lirf-py   # with /usr/bin/python3
    /tmp/lirf-py/bin/pip install safetensors
Run:
    /tmp/lirf-py/bin/python tests/pytorch/check_checkpoint.py MODEL.safetensors \
        [--lirf build/lirf]          # also runs `lirf eval --json` and compares
        [--deposit-classes 0,1,2]    # Pre / Dep Acc too (compared with lirf's)
        [--agree T0.safetensors]     # the share of test argmaxes equal to T0's
A delta or exact recover net of lirf withdraw is such a checkpoint (a whole
network); a paper-mode recover net (deposit.* tensors) is not, and is refused
by the strict load.

Data: Fashion-MNIST test split from Debian's dataset-fashion-mnist (the
checkpoint's in_shape must be 1,28,28), preprocessed as the checkpoint's
metadata says: x = (pixel/255 - mean) / std.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors import safe_open

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from train_peer import ResNet18  # noqa: E402  (the same torchvision-named network)

FMNIST = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(magic & 0xFF)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load(path):
    """A lirf checkpoint as a torchvision-named ResNet18, strictly, and its metadata."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    c, h, w = (int(v) for v in meta["in_shape"].split(","))
    assert meta["arch"] == "resnet18_cifar", meta["arch"]
    model = ResNet18(c, int(meta["width"]), int(meta["classes"]))
    model.load_state_dict(load_file(path), strict=True)  # every tensor, names and shapes
    model.eval()
    return model, meta, (c, h, w)


def predict(model, meta, shape, data):
    pre = json.loads(meta["preprocess"])
    x = idx(os.path.join(data, "t10k-images-idx3-ubyte.gz")).astype(np.float32)
    x = (x * pre["scale"] - pre["mean"][0]) / pre["std"][0]
    x = torch.from_numpy(x).reshape(-1, *shape)
    with torch.no_grad():
        return np.concatenate([model(x[i:i + 500]).argmax(1).numpy()
                               for i in range(0, len(x), 500)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--lirf", help="path of the lirf binary: compare with `lirf eval --json`")
    ap.add_argument("--data", default=FMNIST)
    ap.add_argument("--deposit-classes", help="also Pre / Dep Acc over these classes (0,1,2)")
    ap.add_argument("--agree", metavar="T0", help="also the share of test argmaxes equal to T0's")
    a = ap.parse_args()

    model, meta, shape = load(a.model)
    p = predict(model, meta, shape, a.data)
    y = idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    res = {"model": a.model, "pytorch_accuracy": round(float(100.0 * (p == y).mean()), 2),
           "samples": len(y)}
    dep = [int(v) for v in a.deposit_classes.split(",")] if a.deposit_classes else None
    if dep:
        d = np.isin(y, dep)
        res["pytorch_pre_acc"] = round(float(100.0 * (p[~d] == y[~d]).mean()), 2)
        res["pytorch_dep_acc"] = round(float(100.0 * (p[d] == y[d]).mean()), 2)
    if a.agree:
        m0, meta0, shape0 = load(a.agree)
        res["pytorch_t0_argmax_agreement"] = round(
            float(100.0 * (predict(m0, meta0, shape0, a.data) == p).mean()), 2)
    print(json.dumps(res))
    if a.lirf:
        cmd = [a.lirf, "eval", "--model", a.model, "--json"]
        if dep:
            cmd += ["--deposit-classes", a.deposit_classes]
        lj = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        pairs = [("accuracy", "pytorch_accuracy")]
        if dep:
            pairs += [("pre_acc", "pytorch_pre_acc"), ("dep_acc", "pytorch_dep_acc")]
        diff = max(abs(lj[k] - res[t]) for k, t in pairs)
        print(json.dumps({"lirf": {k: lj[k] for k, _ in pairs}, "largest_difference": round(diff, 3),
                          "within_0.1": bool(diff <= 0.1)}))
        sys.exit(0 if diff <= 0.1 else 1)


if __name__ == "__main__":
    main()
