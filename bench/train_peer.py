#!/usr/bin/env python3
"""PyTorch peer of bench_train: the same CIFAR ResNet-18 (docs/method.md), the
same batch and input, SGD with momentum and weight decay, random data; prints
one JSON line. Run with PyTorch 2.x from PyPI (bench/train.sh makes its venv).

    bench/train_peer.py --width 64 --in 3,32,32 --batch 64 --threads 2 [--device cuda]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    def __init__(self, cin, w, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        layers, c = [], w
        for i, stride in enumerate([1, 2, 2, 2]):
            out = w << i
            layers.append(nn.Sequential(Block(c, out, stride), Block(out, out, 1)))
            c = out
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--in", dest="inp", default="3,32,32")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32, as lirf
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # cuDNN picks its fastest kernels
    c, h, w = (int(v) for v in a.inp.split(","))
    dev = torch.device(a.device)
    model = ResNet18(c, a.width).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.full((a.batch, c, h, w), 0.5, device=dev)
    y = torch.full((a.batch,), 3, dtype=torch.long, device=dev)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    print(json.dumps({"peer": "pytorch " + torch.__version__, "device": a.device,
                      "threads": a.threads, "width": a.width, "input": a.inp, "batch": a.batch,
                      "ms_per_step": round(dt * 1e3, 2), "images_per_s": round(a.batch / dt, 1)}))


if __name__ == "__main__":
    main()
