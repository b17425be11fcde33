#!/usr/bin/env python3
"""docs/interop.md with torchvision's own resnet18: a CIFAR-style ResNet-18
(torchvision.models.resnet18 with a 3x3 conv1 and no max-pool) written by
safetensors.torch.save_file, imported by `lirf import`, and the lirf checkpoint
loaded back into the same torchvision model with load_state_dict(strict=True):
every tensor byte-identical, the same eval-mode logits. The same for
torchvision's unmodified resnet18 and resnet34 (ImageNet stem, width 64, 224 px
input); resnet50 (bottleneck blocks) is recognised and refused with "not
supported by this build". Not part of the test suite (CI has no torch); run by
hand:

    /work/V/bin/python tests/pytorch/torchvision_roundtrip.py build/lirf
"""
import copy
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


def check(lirf, model, name, shape, mean, std, d):
    """model -> save_file -> lirf import -> load_state_dict(strict) -> same bytes, logits."""
    mine, imported = os.path.join(d, name + ".pt"), os.path.join(d, name + ".lirf")
    save_file(model.state_dict(), mine)
    subprocess.run([lirf, "import", "--state-dict", mine, "--in-shape", shape, "--scale", "1/255",
                    "--mean", mean, "--std", std, "--out", imported], check=True,
                   stdout=subprocess.DEVNULL)
    back = copy.deepcopy(model)
    back.load_state_dict(load_file(imported), strict=True)
    a, b = model.state_dict(), back.state_dict()
    same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(2, *map(int, shape.split(",")))
    with torch.no_grad():
        equal = torch.equal(model(x), back(x))
    print(f"{name}: {len(a)} tensors identical: {same}; logits identical: {equal}")
    return same and equal


def main():
    lirf = sys.argv[1]
    torch.manual_seed(0)
    cifar = ("3,32,32", "0.4914,0.4822,0.4465", "0.2470,0.2435,0.2616")
    imagenet = ("3,224,224", "0.485,0.456,0.406", "0.229,0.224,0.225")
    ok = True
    with tempfile.TemporaryDirectory() as d:
        ok &= check(lirf, cifar_resnet18(10).eval(), "cifar_resnet18", *cifar, d)
        for name in ("resnet18", "resnet34"):
            m = getattr(torchvision.models, name)(num_classes=10).eval()
            ok &= check(lirf, m, "torchvision_" + name, *imagenet, d)
        path = os.path.join(d, "resnet50.safetensors")
        save_file(torchvision.models.resnet50(num_classes=10).state_dict(), path)
        r = subprocess.run([lirf, "import", "--state-dict", path, "--in-shape", imagenet[0],
                            "--scale", "1/255", "--mean", imagenet[1], "--std", imagenet[2],
                            "--out", path + ".lirf"], capture_output=True, text=True)
        refused = r.returncode == 2 and "not supported by this build" in r.stderr
        print(f"torchvision resnet50: refused: {refused}: {r.stderr.strip()}")
        ok &= refused and not os.path.exists(path + ".lirf")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
