#!/usr/bin/env python3
"""An independent PyTorch evaluation of a column-rule recover net (lirf withdraw
of a paper- or calibrated-mode archive: the target's tensors plus the module as
deposit.*), to compare with `lirf eval`.

The recover logits are Eq. 8 written out again here: preservation columns from
the target (lower + upper), deposit columns from the module followed by the
same upper part; BN in inference mode. Functional forward from lirf_c.py.

    /work/V/bin/python tests/pytorch/check_columns.py RECOVER.safetensors \\
        --original T0.safetensors [--lirf build/lirf]

prints Pre / Dep / Avg and the share of test argmaxes equal to T0's, and with
--lirf the same from `lirf eval --json --agreement` and the differences.
Fashion-MNIST test split from Debian's dataset-fashion-mnist.
"""
import argparse
import json
import os
import subprocess
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
from lirf_c import batched, is_lower, load_split, lower, metrics, upper  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recover")
    ap.add_argument("--original", required=True, help="T0")
    ap.add_argument("--lirf", help="the lirf binary: compare with lirf eval --json --agreement")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    with safe_open(args.recover, framework="pt") as f:
        meta = f.metadata()
    if meta.get("recover_rule") != "columns":
        raise SystemExit(f"{args.recover}: recover_rule {meta.get('recover_rule')}, not columns")
    dep = [int(c) for c in meta["deposit_classes"].split(",")]
    pre = json.loads(meta["preprocess"])
    P = load_file(args.recover)
    S0 = load_file(args.original)
    tgt = {k: v for k, v in P.items() if not k.startswith("deposit.")}
    mod = {k[len("deposit."):]: v for k, v in P.items() if k.startswith("deposit.")}
    if not mod or not all(is_lower(k) for k in mod):
        raise SystemExit(f"{args.recover}: no deposit module, or one beyond the lower part")
    x, y = load_split("t10k", pre)
    K = tgt["fc.weight"].shape[0]
    R = torch.zeros(K, dtype=torch.bool)
    R[dep] = True
    zT = batched(lambda xb: upper(lower(xb, tgt), tgt), x)
    zD = batched(lambda xb: upper(lower(xb, mod), tgt), x)
    z = torch.where(R[None, :], zD, zT)
    z0 = batched(lambda xb: upper(lower(xb, S0), S0), x)
    got = metrics(z, y, R[y], z0.argmax(1))
    print("pytorch: Pre %.2f Dep %.2f Avg %.2f agree %.2f (module: %d tensors, mode %s)"
          % (*got, len(mod), meta.get("deposit_mode")))
    if not args.lirf:
        return
    out = subprocess.run([args.lirf, "eval", "--deposit-classes", meta["deposit_classes"],
                          "--original", args.original, "--recover", "R=" + args.recover,
                          "--agreement", "--json"], check=True, capture_output=True, text=True)
    col = json.loads(out.stdout)[1]
    want = (col["pre_acc"], col["dep_acc"], col["avg_acc"], col["t0_argmax_agreement"])
    print("lirf:    Pre %.2f Dep %.2f Avg %.2f agree %.2f" % want)
    diff = max(abs(a - b) for a, b in zip(got, want))
    print("largest difference: %.2f points" % diff)
    sys.exit(0 if diff <= 0.1 else 1)


if __name__ == "__main__":
    main()
