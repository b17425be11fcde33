#!/usr/bin/env python3
"""docs/interop.md with torchvision's own resnet18: a CIFAR-style ResNet-18
(torchvision.models.resnet18 with a 3x3 conv1 and no max-pool) written by
safetensors.torch.save_file, imported by `lirf import`, and the lirf checkpoint
loaded back into the same torchvision model with load_state_dict(strict=True):
every tensor byte-identical, the same eval-mode logits. Also: torchvision's
unmodified resnet18 / resnet34 / resnet50 (ImageNet stem) are recognised and
refused by this build with "not supported by this build". Not part of the test
suite (CI has no torch); run by hand:

    /work/V/bin/python tests/pytorch/torchvision_roundtrip.py build/lirf
"""
import os
import subprocess
import sys
import tempfile

import torch
import torchvision
from safetensors.torch import load_file, save_file


def cifar_resnet18(classes):
    m = torchvision.models.resnet18(num_classes=classes)
    m.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    m.maxpool = torch.nn.Identity()  # lirf's ResNet-18 has no max-pool after a 3x3 stem
    return m


def main():
    lirf = sys.argv[1]
    torch.manual_seed(0)
    model = cifar_resnet18(10).eval()
    with tempfile.TemporaryDirectory() as d:
        mine, imported = os.path.join(d, "my_model.safetensors"), os.path.join(d, "t0.safetensors")
        save_file(model.state_dict(), mine)
        subprocess.run([lirf, "import", "--state-dict", mine, "--in-shape", "3,32,32",
                        "--scale", "1/255", "--mean", "0.4914,0.4822,0.4465",
                        "--std", "0.2470,0.2435,0.2616", "--out", imported], check=True)
        back = cifar_resnet18(10).eval()
        back.load_state_dict(load_file(imported), strict=True)
        a, b = model.state_dict(), back.state_dict()
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        x = torch.randn(4, 3, 32, 32)
        with torch.no_grad():
            equal = torch.equal(model(x), back(x))
        print(f"{len(a)} tensors identical: {same}; logits identical: {equal}")
        refused = True
        for name in ("resnet18", "resnet34", "resnet50"):
            path = os.path.join(d, name + ".safetensors")
            save_file(getattr(torchvision.models, name)(num_classes=10).state_dict(), path)
            r = subprocess.run([lirf, "import", "--state-dict", path, "--in-shape", "3,224,224",
                                "--scale", "1/255", "--mean", "0.485,0.456,0.406",
                                "--std", "0.229,0.224,0.225", "--out", imported + "." + name],
                               capture_output=True, text=True)
            ok = r.returncode == 2 and "not supported by this build" in r.stderr
            print(f"torchvision {name}: refused: {ok}: {r.stderr.strip()}")
            refused = refused and ok and not os.path.exists(imported + "." + name)
        sys.exit(0 if same and equal and refused else 1)


if __name__ == "__main__":
    main()
