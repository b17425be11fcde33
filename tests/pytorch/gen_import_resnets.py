#!/usr/bin/env python3
"""Fixtures for lirf import of torchvision's ResNet-18 / ResNet-34 layouts
(tests/test_import.c, torchvision_resnets_imported): for each, a narrow model
with torchvision's names (ResNetTV of tests/golden/gen_golden.py, which that
script checks against torchvision's own resnet18 / resnet34: same names,
shapes and logits), random BN statistics, written as PyTorch writes it —
safetensors.torch.save_file(model.state_dict()), no metadata — and its
eval-mode logits on a fixed input:

    tests/golden/import/<name>.pt.safetensors      the state dict
    tests/golden/import/<name>.logits.safetensors  "input" (N,C,H,W), "logits" (N,K)

With --lirf BINARY it also checks the round trip with the real torch: each
state dict imported by `lirf import`, the lirf checkpoint read with
safetensors.torch.load_file and loaded into the model (strict), written again
with save_file: byte-identical to the committed file, and the same logits.

    /work/V/bin/python tests/pytorch/gen_import_resnets.py [--lirf build/lirf] [--check-only]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
from gen_golden import ResNetTV, perturb_bn  # noqa: E402

OUT = os.path.join(HERE, "..", "golden", "import")
# name: blocks, stem, width, input (C, H, W)
NETS = {
    "resnet18_imagenet_w4": ([2, 2, 2, 2], "imagenet", 4, (3, 64, 64)),
    "resnet34_imagenet_w4": ([3, 4, 6, 3], "imagenet", 4, (3, 64, 64)),
    "resnet34_cifar_w4": ([3, 4, 6, 3], "cifar", 4, (3, 32, 32)),
}
MEAN, STD = "0.485,0.456,0.406", "0.229,0.224,0.225"


def make(name, seed):
    blocks, stem, w, shape = NETS[name]
    torch.manual_seed(seed)
    m = ResNetTV(shape[0], w, 10, blocks, stem)
    perturb_bn(m, torch.Generator().manual_seed(seed + 1))
    return m.eval(), shape


def generate():
    for seed, name in enumerate(NETS, start=700):
        m, shape = make(name, seed)
        x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(seed + 2))
        with torch.no_grad():
            z = m(x)
        save_file(m.state_dict(), os.path.join(OUT, name + ".pt.safetensors"))
        save_file({"input": x.contiguous(), "logits": z.contiguous()},
                  os.path.join(OUT, name + ".logits.safetensors"))
        print(f"{name}: {sum(p.numel() for p in m.state_dict().values())} numbers")


def round_trip(lirf):
    ok = True
    for seed, name in enumerate(NETS, start=700):
        m, shape = make(name, seed)
        pt = os.path.join(OUT, name + ".pt.safetensors")
        ref = load_file(os.path.join(OUT, name + ".logits.safetensors"))
        with tempfile.TemporaryDirectory() as d:
            out, again = os.path.join(d, "t0.safetensors"), os.path.join(d, "again.safetensors")
            subprocess.run([lirf, "import", "--state-dict", pt, "--in-shape",
                            ",".join(map(str, shape)), "--scale", "1/255", "--mean", MEAN,
                            "--std", STD, "--out", out], check=True, stdout=subprocess.DEVNULL)
            m.load_state_dict(load_file(out), strict=True)
            save_file(m.state_dict(), again)
            same = open(again, "rb").read() == open(pt, "rb").read()
            with torch.no_grad():
                equal = torch.equal(m(ref["input"]), ref["logits"])
        print(f"{name}: PyTorch rewrite of the lirf checkpoint byte-identical: {same}; "
              f"logits identical: {equal}")
        ok = ok and same and equal
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lirf", help="the lirf binary: check the round trip")
    ap.add_argument("--check-only", action="store_true", help="with --lirf: do not regenerate")
    a = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    if not a.check_only:
        generate()
    if a.lirf and not round_trip(a.lirf):
        sys.exit(1)


if __name__ == "__main__":
    main()
