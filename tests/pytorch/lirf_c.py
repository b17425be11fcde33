#!/usr/bin/env python3
"""LIRF-C prototype: a calibrated, pruned deposit module (issue 17 item 2).

The paper's recover net (Eq. 8, the column rule) takes the preservation
columns of the logits from the target net and the deposit columns from the
deposit path (deposit module -> frozen shared upper part). Its module is
trained on D_r only and nothing pins the offset between the two column
groups, so the recover net takes many preservation inputs for deposit classes
(lirf's Table 1: recover Pre 59.06 against T0's 87.40). LIRF-C keeps the
paper's semantics (a pruned module plugged in by the column rule) and trains
only the module, in a second phase against the FROZEN target, with data
D_r (training images of the deposit classes) plus T0 and the target. No
preservation-class image is read; the test split is only for evaluation.

Network: ResNet-18 CIFAR stem, torchvision names, split at layer2 (lower =
conv1, bn1, layer1, layer2; upper = layer3, layer4, fc, shared and frozen).
Module = T0's lower part with each BasicBlock's conv1 output filters pruned by
L1-norm ranking (keep the top 1-rate filters by sum|w|, the matching bn1
channels and conv2 input channels; stem, conv2 outputs, downsample unpruned).
Every BN runs in inference mode with T0's running statistics (gathered for
the kept channels); BN affine parameters train unless --bn-affine frozen.

Variants (each adds to the one before; see docs/lirf-c.md):
  init      no training: the pruned T0 lower part as it is (baseline row).
  oracle    no training, NOT a valid module: T0's whole lower part (2x the
            size budget); shows what pure imitation of T0 gives under Eq. 8.
  a         the paper's module losses, on D_r, with (a)'s BN handling:
            lambda_pt * T^2 KL over the deposit columns to T0 + CE(z~, y).
  ab        (b): T^2 KL of ALL ten recover logits z~ to T0's logits + CE(z~, y).
  abc       (c): + MSE between module output and T0's lower output (on D_r).
  abcd-mix  (d): + mixups of D_r images (a fresh pool each epoch); on them
            KL(z~ || T0) and the feature MSE.
  abcd-pgd  + a pool of PGD samples: D_r images pushed by a few signed-gradient
            steps against T0 toward a random preservation class (L_inf ball);
            same losses on them. Mixups stay.
  abcd-di   + a pool of DeepInversion images: mixups of D_r optimised so T0's
            batch statistics match its BN running statistics (+ CE to a random
            preservation class, TV and L2 priors); same losses. Mixups stay.
  abcd-all  mixups + PGD pool + DeepInversion pool.
The default is abcd-pgd (the configuration measured over 3 seeds) with
rate 0.53: rate 0.5 gives 51.1% of the lower part's parameters, over the
half-size budget.

Usage (CPU, nice, 2 threads; --cache keeps T0's and the target's outputs
between runs and changes no number):
    nice -n 19 /work/V/bin/python tests/pytorch/lirf_c.py \\
        --original artifacts/original.safetensors \\
        --target artifacts/target.safetensors --variant abcd-pgd --seed 1 --epochs 2
    ... --variant init            # the untrained pruned module (baseline row)
    ... --header                  # print the Markdown table header first

Prints progress on stderr and one Markdown table row per run on stdout:
variant, seed, epochs, then for the recover net (column rule) Pre / Dep / Avg
and argmax agreement with T0, then the same for the deposit path alone.
"""
import argparse
import gzip
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

FMNIST = "/usr/share/datasets/fashion-mnist"
LOWER_BLOCKS = [("layer1.0", 1), ("layer1.1", 1), ("layer2.0", 2), ("layer2.1", 1)]
UPPER_BLOCKS = [("layer3.0", 2), ("layer3.1", 1), ("layer4.0", 2), ("layer4.1", 1)]
VARIANTS = ["init", "oracle", "a", "ab", "abc", "abcd-mix", "abcd-pgd", "abcd-di", "abcd-all"]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def read_idx(path):
    d = gzip.open(path).read()
    ndim = d[3]
    dims = [int.from_bytes(d[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(d, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(name, pre):
    x = read_idx(f"{FMNIST}/{name}-images-idx3-ubyte.gz").astype(np.float32)
    y = read_idx(f"{FMNIST}/{name}-labels-idx1-ubyte.gz").astype(np.int64)
    x = (x * pre["scale"] - pre["mean"][0]) / pre["std"][0]
    return torch.tensor(x)[:, None], torch.tensor(y)


# ---- functional forward (BN always in inference mode) ----------------------

BN_TAP = None  # when a dict, bn() records its inputs (DeepInversion)


def bn(x, P, p):
    if BN_TAP is not None:
        BN_TAP[p] = x
    return F.batch_norm(x, P[p + ".running_mean"], P[p + ".running_var"],
                        P[p + ".weight"], P[p + ".bias"], False, 0.0, 1e-5)


def block(x, P, p, stride):
    o = F.relu(bn(F.conv2d(x, P[p + ".conv1.weight"], stride=stride, padding=1), P, p + ".bn1"))
    o = bn(F.conv2d(o, P[p + ".conv2.weight"], padding=1), P, p + ".bn2")
    sc = x
    if p + ".downsample.0.weight" in P:
        sc = bn(F.conv2d(x, P[p + ".downsample.0.weight"], stride=stride), P, p + ".downsample.1")
    return F.relu(o + sc)


def lower(x, P):
    x = F.relu(bn(F.conv2d(x, P["conv1.weight"], padding=1), P, "bn1"))
    for p, s in LOWER_BLOCKS:
        x = block(x, P, p, s)
    return x


def upper(x, P):
    for p, s in UPPER_BLOCKS:
        x = block(x, P, p, s)
    return F.linear(x.mean((2, 3)), P["fc.weight"], P["fc.bias"])


def is_lower(k):
    return k.startswith(("conv1.", "bn1.", "layer1.", "layer2."))


def count(P, names=None):
    """Learnable parameters (conv weights, BN affine) and all stored floats."""
    learn = sum(v.numel() for k, v in P.items() if is_lower(k) and
                (k.endswith("weight") or k.endswith("bias")))
    stored = sum(v.numel() for k, v in P.items() if is_lower(k) and "num_batches" not in k)
    return learn, stored


def prune_lower(S0, rate):
    """T0's lower part with each block's conv1 filters pruned by L1 ranking."""
    M = {k: v.clone() for k, v in S0.items() if is_lower(k) and "num_batches" not in k}
    for p, _ in LOWER_BLOCKS:
        w = M[p + ".conv1.weight"]
        n_keep = w.shape[0] - int(round(w.shape[0] * rate))
        l1 = w.abs().sum((1, 2, 3))
        keep = torch.sort(torch.argsort(l1, descending=True, stable=True)[:n_keep]).values
        M[p + ".conv1.weight"] = w[keep].clone()
        for t in ("weight", "bias", "running_mean", "running_var"):
            M[p + ".bn1." + t] = M[p + ".bn1." + t][keep].clone()
        M[p + ".conv2.weight"] = M[p + ".conv2.weight"][:, keep].clone()
    return M


def batched(fn, x, bs=500):
    with torch.no_grad():
        return torch.cat([fn(x[i:i + bs]) for i in range(0, len(x), bs)])


# ---- preservation-like negatives from T0 and D_r only ----------------------

def mixups(x, n, gen):
    i = torch.randint(len(x), (n,), generator=gen)
    j = torch.randint(len(x), (n,), generator=gen)
    lam = torch.rand(n, 1, 1, 1, generator=gen) * 0.6 + 0.2
    return lam * x[i] + (1 - lam) * x[j]


def pgd_pool(x, n, S0, P_cls, gen, lo, hi, eps, steps):
    """D_r images pushed toward a random preservation class of T0 (L_inf)."""
    out = []
    idx = torch.randint(len(x), (n,), generator=gen)
    for b in range(0, n, 256):
        x0 = x[idx[b:b + 256]]
        tgt = P_cls[torch.randint(len(P_cls), (len(x0),), generator=gen)]
        xa = x0.clone()
        for _ in range(steps):
            xa.requires_grad_(True)
            loss = F.cross_entropy(upper(lower(xa, S0), S0), tgt)
            g, = torch.autograd.grad(loss, xa)
            with torch.no_grad():
                xa = xa - (2.5 * eps / steps) * g.sign()
                xa = torch.max(torch.min(xa, x0 + eps), x0 - eps).clamp(lo, hi)
        out.append(xa.detach())
        log(f"  pgd pool {b + len(x0)}/{n}")
    return torch.cat(out)


def deepinv_pool(x, n, S0, P_cls, gen, lo, hi, iters, bs=128):
    """DeepInversion (Yin et al. 2020) of T0, started from mixups of D_r."""
    global BN_TAP
    bn_names = [k[:-len(".running_mean")] for k in S0 if k.endswith(".running_mean")]
    out = []
    for b in range(0, n, bs):
        xa = mixups(x, min(bs, n - b), gen).requires_grad_(True)
        tgt = P_cls[torch.randint(len(P_cls), (len(xa),), generator=gen)]
        opt = torch.optim.Adam([xa], lr=0.05)
        for _ in range(iters):
            feats = BN_TAP = {}
            try:
                z = upper(lower(xa, S0), S0)
            finally:
                BN_TAP = None
            r_bn = 0.0
            for p_ in bn_names:
                f_ = feats[p_]
                r_bn = r_bn + (f_.mean((0, 2, 3)) - S0[p_ + ".running_mean"]).norm() + \
                    (f_.var((0, 2, 3), unbiased=False) - S0[p_ + ".running_var"]).norm()
            tv = (xa[:, :, 1:] - xa[:, :, :-1]).abs().mean() + (xa[:, :, :, 1:] - xa[:, :, :, :-1]).abs().mean()
            loss = F.cross_entropy(z, tgt) + 0.05 * r_bn + 0.5 * tv + 1e-3 * xa.pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                xa.clamp_(lo, hi)
        out.append(xa.detach())
        log(f"  deepinv pool {b + len(xa)}/{n} (last loss {loss.item():.3f}, bn {float(r_bn.detach()):.3f})")
    return torch.cat(out)


# ---- evaluation ------------------------------------------------------------

def metrics(z, y, isR, ref):
    ok = (z.argmax(1) == y)
    return (100 * ok[~isR].float().mean().item(), 100 * ok[isR].float().mean().item(),
            100 * ok.float().mean().item(), 100 * (z.argmax(1) == ref).float().mean().item())


def evaluate(M, S0, zT_te, z0_te, x_te, y_te, R):
    zr = batched(lambda xb: upper(lower(xb, M), S0), x_te)
    zrec = zT_te.clone()
    zrec[:, R] = zr[:, R]
    isR = R[y_te]
    ref = z0_te.argmax(1)
    return metrics(zrec, y_te, isR, ref), metrics(zr, y_te, isR, ref)


# ---- training --------------------------------------------------------------

def kd(s, t, T):
    return T * T * F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")


def targets_for(x, S0, ST):
    """T0 logits, target logits and T0 lower features for a pool of inputs."""
    f0 = batched(lambda xb: lower(xb, S0), x)
    z0 = batched(lambda fb: upper(fb, S0), f0)
    zT = batched(lambda xb: upper(lower(xb, ST), ST), x)
    return z0, zT, f0


def cached(args, what, fn):
    """fn() once per pair of artifacts, kept in --cache (outputs of frozen nets only)."""
    if not args.cache:
        return fn()
    import hashlib
    import os
    h = hashlib.sha256()
    for p in (args.original, args.target):
        h.update(open(p, "rb").read())
    path = os.path.join(args.cache, f"{what}-{h.hexdigest()[:16]}.pt")
    if os.path.exists(path):
        return torch.load(path)
    out = fn()
    os.makedirs(args.cache, exist_ok=True)
    torch.save(out, path + ".tmp")
    os.replace(path + ".tmp", path)
    return out


def train(args, M, S0, ST, x_r, y_r, R, P_cls, gen, lo, hi):
    v = args.variant
    trainable = [k for k in M if k.endswith("weight") or k.endswith("bias")]
    if args.bn_affine == "frozen":
        trainable = [k for k in trainable if "conv" in k or "downsample.0" in k]
    for k in trainable:
        M[k].requires_grad_(True)
    params = [M[k] for k in trainable]
    opt = (torch.optim.SGD(params, lr=args.lr, momentum=0.9) if args.opt == "sgd"
           else torch.optim.Adam(params, lr=args.lr))
    log(f"training {len(trainable)} tensors, variant {v}")
    z0_r, zT_r, f0_r = cached(args, "dr", lambda: targets_for(x_r, S0, ST))
    pools = []  # fixed negatives, computed once
    if v in ("abcd-pgd", "abcd-all"):
        xp = pgd_pool(x_r, args.pgd_n, S0, P_cls, gen, lo, hi, args.pgd_eps, args.pgd_steps)
        pools.append(("pgd", xp, *targets_for(xp, S0, ST)))
    if v in ("abcd-di", "abcd-all"):
        xd = deepinv_pool(x_r, args.di_n, S0, P_cls, gen, lo, hi, args.di_iters)
        pools.append(("deepinv", xd, *targets_for(xd, S0, ST)))
    for name, xp, z0p, _, _ in pools:
        log(f"  pool {name}: {len(xp)} images, T0 says preservation for "
            f"{100 * (~R[z0p.argmax(1)]).float().mean():.1f}%")
    use_mix = v.startswith("abcd")
    steps_per_epoch = math.ceil(len(x_r) / args.batch)
    total = steps_per_epoch * args.epochs
    step = 0
    for ep in range(args.epochs):
        neg = list(pools)
        if use_mix:
            xm = mixups(x_r, args.mix_n, gen)
            z0m, zTm, f0m = targets_for(xm, S0, ST)
            neg.append(("mix", xm, z0m, zTm, f0m))
            log(f"  mixups: {len(xm)}, T0 says preservation for "
                f"{100 * (~R[z0m.argmax(1)]).float().mean():.1f}%")
        perm = torch.randperm(len(x_r), generator=gen)
        nperm = {nm: torch.randperm(len(xp), generator=gen) for nm, xp, *_ in neg}
        run = {}
        for it in range(steps_per_epoch):
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            for g in opt.param_groups:
                g["lr"] = lr
            bi = perm[it * args.batch:(it + 1) * args.batch]
            xb, yb = x_r[bi], y_r[bi]
            f = lower(xb, M)
            zr = upper(f, S0)
            zrec = torch.cat([zr[:, R], zT_r[bi][:, ~R]], 1)
            z0b = torch.cat([z0_r[bi][:, R], z0_r[bi][:, ~R]], 1)  # same column order
            parts = {}
            if v == "a":
                parts["pt"] = args.lam_pt * kd(zr[:, R], z0_r[bi][:, R], args.T)
                parts["ce"] = F.cross_entropy(zrec, yb)  # deposit classes are R, columns 0..|R|-1
            else:
                parts["kd"] = args.lam_kd * kd(zrec, z0b, args.T)
                parts["ce"] = args.lam_ce * F.cross_entropy(zrec, yb)
            if v.startswith("abc"):
                parts["feat"] = args.lam_feat * F.mse_loss(f, f0_r[bi])
            for nm, xp, z0p, zTp, f0p in neg:
                nb = args.neg_batch
                ni = nperm[nm][(it * nb) % len(xp):(it * nb) % len(xp) + nb]
                fn = lower(xp[ni], M)
                zn = upper(fn, S0)
                zrn = torch.cat([zn[:, R], zTp[ni][:, ~R]], 1)
                z0n = torch.cat([z0p[ni][:, R], z0p[ni][:, ~R]], 1)
                parts["n_" + nm] = args.lam_neg * kd(zrn, z0n, args.T) + \
                    args.lam_feat * F.mse_loss(fn, f0p[ni])
            loss = sum(parts.values())
            if not torch.isfinite(loss):
                raise SystemExit(f"non-finite loss at epoch {ep} step {it}: {parts}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            for k, val in parts.items():
                run[k] = run.get(k, 0.0) + val.item()
            if (it + 1) % 50 == 0 or it + 1 == steps_per_epoch:
                log(f"  epoch {ep + 1}/{args.epochs} step {it + 1}/{steps_per_epoch} lr {lr:.2e} " +
                    " ".join(f"{k} {val / (it + 1):.4f}" for k, val in run.items()))
    for k in M:
        M[k] = M[k].detach()
    return M


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--original", default="artifacts/original.safetensors", help="T0 (torchvision-named)")
    ap.add_argument("--target", default="artifacts/target.safetensors", help="the target net of the deposit (frozen)")
    ap.add_argument("--deposit", default="0,1,2", help="deposit classes (default: the target's metadata)")
    ap.add_argument("--variant", choices=VARIANTS, default="abcd-pgd")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3, help="cosine decay to 0")
    ap.add_argument("--opt", choices=["adam", "sgd"], default="adam",
                    help="optimiser (sgd: momentum 0.9, as lirf's C engine has)")
    ap.add_argument("--rate", type=float, default=0.53,
                    help="pruning rate of each block's conv1 (0.53: 8 of 16 and 15 of 32 filters kept, "
                         "the module <= half the lower part; 0.5 keeps 16 of 32: 51.1%%)")
    ap.add_argument("--bn-affine", choices=["train", "frozen"], default="train")
    ap.add_argument("--T", type=float, default=4.0, help="KD temperature (loss has the T^2 factor)")
    ap.add_argument("--lam-kd", type=float, default=1.0)
    ap.add_argument("--lam-ce", type=float, default=0.1)
    ap.add_argument("--lam-pt", type=float, default=10.0, help="variant a only (paper's lambda_pt)")
    ap.add_argument("--lam-feat", type=float, default=1.0)
    ap.add_argument("--lam-neg", type=float, default=1.0)
    ap.add_argument("--neg-batch", type=int, default=64, help="negatives of each kind per step")
    ap.add_argument("--mix-n", type=int, default=9000, help="mixups per epoch")
    ap.add_argument("--pgd-n", type=int, default=2000)
    ap.add_argument("--pgd-eps", type=float, default=0.5, help="L_inf radius, normalised units")
    ap.add_argument("--pgd-steps", type=int, default=4)
    ap.add_argument("--di-n", type=int, default=256)
    ap.add_argument("--di-iters", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="", help="folder to keep the frozen nets' outputs between runs")
    ap.add_argument("--header", action="store_true", help="print the table header first")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    S0, ST = load_file(args.original), load_file(args.target)
    S0 = {k: v.float() for k, v in S0.items()}
    ST = {k: v.float() for k, v in ST.items()}
    for k in S0:
        if not is_lower(k) and not torch.equal(S0[k], ST[k]):
            raise SystemExit(f"upper part differs between T0 and the target: {k}")
    with safe_open(args.original, framework="pt") as f:
        pre = json.loads(f.metadata()["preprocess"])
    with safe_open(args.target, framework="pt") as f:
        meta = f.metadata()
    dep = [int(c) for c in (meta.get("deposit_classes") or args.deposit).split(",")]
    K = S0["fc.weight"].shape[0]
    R = torch.zeros(K, dtype=torch.bool)
    R[dep] = True
    if dep != list(range(len(dep))):
        raise SystemExit("this prototype orders recover columns as deposit first; use classes 0..k-1")
    P_cls = torch.nonzero(~R).flatten()
    lo = (0 - pre["mean"][0]) / pre["std"][0]
    hi = (pre["scale"] * 255 - pre["mean"][0]) / pre["std"][0]

    x_tr, y_tr = load_split("train", pre)
    keep = R[y_tr]
    x_r, y_r = x_tr[keep].contiguous(), y_tr[keep].contiguous()  # D_r only
    del x_tr, y_tr
    x_te, y_te = load_split("t10k", pre)
    log(f"D_r: {len(x_r)} images of classes {dep}; test: {len(x_te)}")

    z0_te, zT_te = cached(args, "test", lambda: (batched(lambda xb: upper(lower(xb, S0), S0), x_te),
                                                 batched(lambda xb: upper(lower(xb, ST), ST), x_te)))
    isR = R[y_te]
    m0 = metrics(z0_te, y_te, isR, z0_te.argmax(1))
    mT = metrics(zT_te, y_te, isR, z0_te.argmax(1))
    log("T0     Pre %.2f Dep %.2f Avg %.2f" % m0[:3])
    log("target Pre %.2f Dep %.2f Avg %.2f agree %.2f" % mT)

    full = {k: v for k, v in S0.items() if is_lower(k)}
    if args.variant == "oracle":
        M = {k: v.clone() for k, v in full.items() if "num_batches" not in k}
    else:
        M = prune_lower(S0, args.rate)
    (lf, sf), (lm, sm) = count(full), count(M)
    log(f"lower part: {lf} learnable parameters ({sf} stored floats); module: {lm} ({sm}), "
        f"{100 * lm / lf:.1f}% / {100 * sm / sf:.1f}%" + ("" if lm <= lf / 2 else "  OVER the half-size budget"))
    if args.variant not in ("init", "oracle"):
        M = train(args, M, S0, ST, x_r, y_r, R, P_cls, gen, lo, hi)
    rec, path = evaluate(M, S0, zT_te, z0_te, x_te, y_te, R)
    if args.header:
        print("| variant | seed | epochs | recover Pre | Dep | Avg | agree T0 | deposit path Pre | Dep | Avg | agree T0 | module params |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ep = 0 if args.variant in ("init", "oracle") else args.epochs
    print(f"| {args.variant}{'' if args.bn_affine == 'train' else ' (BN affine frozen)'} | {args.seed} | {ep} | "
          + " | ".join(f"{v:.2f}" for v in rec) + " | "
          + " | ".join(f"{v:.2f}" for v in path) + f" | {lm} |", flush=True)


if __name__ == "__main__":
    main()
