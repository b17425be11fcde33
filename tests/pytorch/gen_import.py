#!/usr/bin/env python3
"""Generate the fixtures of `lirf import` (tests/golden/import/, see README.md
there) and, with --lirf, check the round trip lirf -> PyTorch -> lirf.

A CIFAR ResNet-18 (3x3 stem, no max-pool, torchvision names) of width 4 with a
1-channel stem is trained in PyTorch for 300 SGD steps on the first 6000
Fashion-MNIST training images, then written exactly as a PyTorch user writes it:

    safetensors.torch.save_file(model.state_dict(), path)      # no metadata

Its eval-mode logits on the first 256 Fashion-MNIST test images, and the
accuracy they give, are the reference that tests/test_import.c compares
`lirf import`'s checkpoint with (CI has no torch: the files are committed).

    /work/V/bin/python tests/pytorch/gen_import.py            # writes the fixtures
    /work/V/bin/python tests/pytorch/gen_import.py --lirf build/lirf --check-only

--lirf BIN runs the real round trip after writing (or, with --check-only,
without rewriting) the fixtures: `lirf import` of the PyTorch file, that lirf
checkpoint read by safetensors.torch.load_file and written again by save_file,
`lirf import` of that file; every tensor of the two lirf checkpoints and of the
PyTorch original must be byte-identical, and PyTorch's load_state_dict(strict)
must take the lirf checkpoint. It also runs `lirf eval --json` on the imported
checkpoint and compares its accuracy with PyTorch's. Nothing of that run is
committed; it prints what it checked and exits 1 on a difference.

Deterministic on one machine (CPU, one thread, fixed seeds,
torch.use_deterministic_algorithms): a second run gives the same tensors and
the same PyTorch file byte for byte; only the order of the logits file's
metadata keys may change (safetensors writes them from a hash map). The data
come from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from train_peer import ResNet18  # noqa: E402  (the torchvision-named CIFAR ResNet-18)

FMNIST = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "golden", "import"))
NAME = "fmnist_resnet18_w4"
WIDTH, STEPS, BATCH, TRAIN_N, EVAL_N = 4, 300, 64, 6000, 256
SCALE, MEAN, STD = 1.0 / 255.0, 0.2860, 0.3530
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


def idx_read(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(magic & 0xFF)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def idx_write(path, arr, magic):
    head = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape)
    with open(path, "wb") as raw:  # mtime 0 and no name: the same bytes every run
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(head + arr.astype(np.uint8).tobytes())


def preprocess(pixels):
    x = torch.from_numpy(pixels.astype(np.float32)).unsqueeze(1)
    return (x * SCALE - MEAN) / STD  # torchvision: ToTensor() then Normalize(mean, std)


def train():
    torch.manual_seed(0)
    xs = idx_read(os.path.join(FMNIST, "train-images-idx3-ubyte.gz"))[:TRAIN_N]
    ys = idx_read(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz"))[:TRAIN_N]
    x, y = preprocess(xs), torch.from_numpy(ys.astype(np.int64))
    model = ResNet18(1, WIDTH, len(CLASSES))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(1)
    model.train()
    for step in range(STEPS):
        i = torch.randint(0, TRAIN_N, (BATCH,), generator=gen)
        loss = F.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == STEPS - 1:
            print(f"step {step}: loss {loss.item():.4f}")
    return model.eval()


def write_fixtures(model):
    os.makedirs(os.path.join(OUT, "fmnist-256"), exist_ok=True)
    xs = idx_read(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))[:EVAL_N]
    ys = idx_read(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"))[:EVAL_N]
    idx_write(os.path.join(OUT, "fmnist-256", "t10k-images-idx3-ubyte.gz"), xs, 0x803)
    idx_write(os.path.join(OUT, "fmnist-256", "t10k-labels-idx1-ubyte.gz"), ys, 0x801)
    with torch.no_grad():
        logits = model(preprocess(xs))
    pred = logits.argmax(1).numpy()
    correct = int((pred == ys).sum())
    top2 = logits.topk(2, dim=1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    # what a PyTorch user writes: no metadata, nothing but the state dict
    save_file(model.state_dict(), os.path.join(OUT, NAME + ".pt.safetensors"))
    meta = {"in_shape": [1, 28, 28],
            "preprocess": {"scale": SCALE, "mean": [MEAN], "std": [STD]},
            "class_names": CLASSES}
    with open(os.path.join(OUT, NAME + ".meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    ref = {"logits": logits.contiguous(), "labels": torch.from_numpy(ys.astype(np.int64))}
    info = {"torch": torch.__version__, "samples": str(EVAL_N), "correct": str(correct),
            "accuracy": f"{100.0 * correct / EVAL_N:.4f}", "min_top2_margin": f"{margin:.6f}",
            "steps": str(STEPS), "width": str(WIDTH)}
    save_file(ref, os.path.join(OUT, NAME + ".logits.safetensors"), metadata=info)
    print(json.dumps(info))
    return correct


def tensor_bytes(path):
    return {k: v.contiguous().view(torch.uint8).numpy().tobytes() if v.dim() else
            v.reshape(1).view(torch.uint8).numpy().tobytes() for k, v in load_file(path).items()}


def round_trip(lirf, correct):
    pt = os.path.join(OUT, NAME + ".pt.safetensors")
    meta = os.path.join(OUT, NAME + ".meta.json")
    ok = True
    with tempfile.TemporaryDirectory() as d:
        l1, back, l2 = (os.path.join(d, n) for n in ("l1.safetensors", "pt2.safetensors",
                                                     "l2.safetensors"))
        subprocess.run([lirf, "import", "--state-dict", pt, "--meta", meta, "--out", l1], check=True)
        model = ResNet18(1, WIDTH, len(CLASSES))
        model.load_state_dict(load_file(l1), strict=True)  # PyTorch takes lirf's file
        save_file(load_file(l1), back)                     # lirf -> PyTorch
        subprocess.run([lirf, "import", "--state-dict", back, "--meta", meta, "--out", l2],
                       check=True)                          # -> lirf
        a, b, c = tensor_bytes(pt), tensor_bytes(l1), tensor_bytes(l2)
        for name, x in (("lirf import of the PyTorch file", b), ("after lirf -> PyTorch -> lirf", c)):
            same = x.keys() == a.keys() and all(x[k] == a[k] for k in a)
            print(f"{name}: {len(x)} tensors, byte-identical to the PyTorch original: {same}")
            ok = ok and same
        with open(pt, "rb") as f1, open(back, "rb") as f2:
            print("PyTorch's save_file of the lirf checkpoint is the original file, byte for "
                  f"byte: {f1.read() == f2.read()}")
        out = subprocess.run([lirf, "eval", "--model", l1, "--data",
                              os.path.join(OUT, "fmnist-256"), "--json"],
                             check=True, capture_output=True, text=True).stdout
        lacc = json.loads(out)["accuracy"]
        pacc = 100.0 * correct / EVAL_N
        print(f"accuracy: PyTorch {pacc:.4f}, lirf eval {lacc}")
        ok = ok and abs(lacc - pacc) < 0.005  # lirf eval --json rounds to 0.01
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lirf", help="the lirf binary: check the round trip")
    ap.add_argument("--check-only", action="store_true", help="with --lirf: do not regenerate")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if a.check_only:
        ref = load_file(os.path.join(OUT, NAME + ".logits.safetensors"))
        correct = int((ref["logits"].argmax(1) == ref["labels"]).sum())
    else:
        correct = write_fixtures(train())
    if a.lirf and not round_trip(a.lirf, correct):
        sys.exit(1)


if __name__ == "__main__":
    main()
