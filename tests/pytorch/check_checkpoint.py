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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--lirf", help="path of the lirf binary: compare with `lirf eval --json`")
    ap.add_argument("--data", default=FMNIST)
    a = ap.parse_args()

    with safe_open(a.model, framework="pt") as f:
        meta = f.metadata()
    c, h, w = (int(v) for v in meta["in_shape"].split(","))
    classes = int(meta["classes"])
    pre = json.loads(meta["preprocess"])
    assert meta["arch"] == "resnet18_cifar", meta["arch"]
    model = ResNet18(c, int(meta["width"]), classes)
    state = load_file(a.model)
    model.load_state_dict(state, strict=True)  # every tensor, names and shapes
    model.eval()

    x = idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")).astype(np.float32)
    y = idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x * pre["scale"] - pre["mean"][0]) / pre["std"][0]
    x = torch.from_numpy(x).reshape(-1, c, h, w)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), 500):
            correct += (model(x[i:i + 500]).argmax(1).numpy() == y[i:i + 500]).sum()
    acc = float(100.0 * correct / len(y))
    print(json.dumps({"model": a.model, "pytorch_accuracy": round(acc, 2), "samples": len(y)}))
    if a.lirf:
        out = subprocess.run([a.lirf, "eval", "--model", a.model, "--json"], check=True,
                             capture_output=True, text=True).stdout
        lacc = json.loads(out)["accuracy"]
        diff = abs(lacc - acc)
        print(json.dumps({"lirf_accuracy": lacc, "difference": round(diff, 3),
                          "within_0.1": bool(diff <= 0.1)}))
        sys.exit(0 if diff <= 0.1 else 1)


if __name__ == "__main__":
    main()
