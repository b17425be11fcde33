#!/usr/bin/python3
"""Generate the PyTorch golden fixtures in tests/golden/ (see README.md there).

Run with Debian's python3-torch:   /usr/bin/python3 tests/golden/gen_golden.py
Options: --out DIR    write somewhere else (default: this script's folder)
         --full       store every grad.* / step3.* tensor in full (no sampling;
                      about 7 MB, for local debugging, not for committing)
         --only LIST  write only these fixtures (comma separated file names
                      without .safetensors), e.g. the ImageNet-stem and ResNet-34
                      ones: --only resnet18_imagenet_w8,resnet34_w4,resnet34_imagenet_w4
                      (they read resnet18_w8's / resnet34_w4's param.* from --out
                      when that file is not made in the same run)

Deterministic: CPU, float32, one thread, torch.use_deterministic_algorithms,
fixed seeds. The safetensors files are written by the small writer below (no
safetensors package needed) and read back and compared bit for bit.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Tensors with more elements than this get grad.* / step3.* as a sample (see
# README "Sampled tensors"); everything else is stored in full.
FULL_MAX_NUMEL = 4608
SAMPLE_K = 1024

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
LR, MOMENTUM, WD = 0.1, 0.9, 5e-4
STEPS = 3

# ---------------------------------------------------------------- safetensors

_DT = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def st_write(path, tensors, metadata):
    """tensors: list of (name, torch tensor F32/I64). Written in list order,
    contiguous; header padded with spaces to a multiple of 8."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, off, seen = [], 0, set()
    for name, t in tensors:
        assert name not in seen, name
        seen.add(name)
        t = t.detach().cpu().contiguous()
        code, npdt = _DT[t.dtype]
        b = t.numpy().astype(npdt, copy=False).tobytes(order="C")
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def st_read(path):
    """Independent reader: returns (ordered list of (name, np.ndarray), metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    assert hlen % 8 == 0 and 8 + hlen <= len(raw), "bad header length"
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + hlen:]
    out, expect = [], 0
    for name, d in header.items():
        code = d["dtype"]
        npdt = {"F32": "<f4", "I64": "<i8"}[code]
        b, e = d["data_offsets"]
        assert b == expect, f"{name}: not contiguous ({b} != {expect})"
        n = int(np.prod(d["shape"], dtype=np.int64)) if d["shape"] else 1
        assert e - b == n * np.dtype(npdt).itemsize, f"{name}: size mismatch"
        out.append((name, np.frombuffer(data[b:e], dtype=npdt).reshape(d["shape"])))
        expect = e
    assert expect == len(data), "trailing bytes after the last tensor"
    return out, meta


def write_and_verify(path, tensors, metadata):
    st_write(path, tensors, metadata)
    back, meta = st_read(path)
    assert [n for n, _ in back] == [n for n, _ in tensors], "name order differs"
    for (name, t), (_, a) in zip(tensors, back):
        ref = t.detach().cpu().contiguous().numpy()
        assert a.dtype == np.dtype(_DT[t.dtype][1]), name
        assert a.shape == ref.shape, name
        assert a.tobytes() == ref.astype(a.dtype).tobytes(), f"{name}: data differs"
    assert meta == {str(k): str(v) for k, v in metadata.items()}
    return len(back), os.path.getsize(path)


# ---------------------------------------------------------------- networks

# Kink margins seen while recording: smallest |ReLU input| and smallest gap
# between the two largest values of a max-pool window (a C implementation whose
# rounding differs by more than these could route a gradient differently).
MARGIN = {"on": False, "relu": float("inf"), "pool": float("inf")}


def relu(x):
    if MARGIN["on"]:
        MARGIN["relu"] = min(MARGIN["relu"], float(x.detach().abs().min()))
    return F.relu(x)


def max_pool2(x):
    if MARGIN["on"]:
        n, c, h, w = x.shape
        win = x.detach()[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
        win = win.permute(0, 1, 2, 4, 3, 5).reshape(-1, 4).sort(dim=1, descending=True).values
        MARGIN["pool"] = min(MARGIN["pool"], float((win[:, 0] - win[:, 1]).min()))
    return F.max_pool2d(x, 2)

def max_pool_3s2p1(x):
    """torch.nn.MaxPool2d(3, 2, 1), the ImageNet stem's; margins as max_pool2."""
    if MARGIN["on"]:
        n, c, h, w = x.shape
        xp = F.pad(x.detach(), (1, 1, 1, 1), value=float("-inf"))
        win = F.unfold(xp.reshape(n * c, 1, h + 2, w + 2), 3, stride=2)  # (nc, 9, L)
        win = win.transpose(1, 2).reshape(-1, 9).sort(dim=1, descending=True).values
        win = win[win[:, 0] > 0]  # after the ReLU: a tie at 0 passes no gradient either way
        if len(win):
            MARGIN["pool"] = min(MARGIN["pool"], float((win[:, 0] - win[:, 1]).min()))
    return F.max_pool2d(x, 3, 2, 1)


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = bn(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = bn(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), bn(cout))

    def forward(self, x):
        out = relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return relu(out + sc)


class ResNet18Cifar(nn.Module):
    """torchvision tensor names; CIFAR stem (3x3 stride 1, no max-pool)."""

    def __init__(self, in_ch, w, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, w, 3, 1, 1, bias=False)
        self.bn1 = bn(w)
        widths, strides = [w, 2 * w, 4 * w, 8 * w], [1, 2, 2, 2]
        cin = w
        for i, (c, s) in enumerate(zip(widths, strides)):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, c, s), BasicBlock(c, c, 1)))
            cin = c
        self.fc = nn.Linear(8 * w, classes)
        self.feats = {}

    def forward(self, x):
        x = relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        self.feats["layer2"] = x
        x = self.layer3(x)
        x = self.layer4(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class ResNetTV(nn.Module):
    """torchvision's resnet18 / resnet34 layout (BasicBlock, blocks per layer),
    at width w, with the ImageNet stem (7x7 stride 2 pad 3, BN, ReLU, max pool
    3/2/1) or the CIFAR one (3x3 stride 1, no max pool)."""

    def __init__(self, in_ch, w, classes, blocks, stem):
        super().__init__()
        self.imagenet = stem == "imagenet"
        k, st = (7, 2) if self.imagenet else (3, 1)
        self.conv1 = nn.Conv2d(in_ch, w, k, st, k // 2, bias=False)
        self.bn1 = bn(w)
        widths, strides = [w, 2 * w, 4 * w, 8 * w], [1, 2, 2, 2]
        cin = w
        for i, (c, s, b) in enumerate(zip(widths, strides, blocks)):
            layer = [BasicBlock(cin, c, s)] + [BasicBlock(c, c, 1) for _ in range(b - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            cin = c
        self.fc = nn.Linear(8 * w, classes)
        self.feats = {}

    def forward(self, x):
        x = relu(self.bn1(self.conv1(x)))
        if self.imagenet:
            x = max_pool_3s2p1(x)
        x = self.layer1(x)
        x = self.layer2(x)
        self.feats["layer2"] = x
        x = self.layer3(x)
        x = self.layer4(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class CNNStudent(nn.Module):
    """3 x [conv3x3 pad 1 (bias) -> BN -> maxpool 2x2 -> ReLU], fc1 128, ReLU, fc2."""

    def __init__(self, in_ch, hw, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 32, 3, 1, 1)
        self.bn1 = bn(32)
        self.conv2 = nn.Conv2d(32, 64, 3, 1, 1)
        self.bn2 = bn(64)
        self.conv3 = nn.Conv2d(64, 128, 3, 1, 1)
        self.bn3 = bn(128)
        self.fc1 = nn.Linear(128 * (hw // 8) * (hw // 8), 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        for c, b in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = relu(max_pool2(b(c(x))))
        x = relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def perturb_bn(model, gen):
    """Make BN non-trivial: weight U(0.5,1.5), bias U(-0.2,0.2),
    running_mean U(-0.1,0.1), running_var U(0.5,1.5)."""
    def u(shape, lo, hi):
        return torch.rand(shape, generator=gen) * (hi - lo) + lo
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(u(c, 0.5, 1.5))
                m.bias.copy_(u(c, -0.2, 0.2))
                m.running_mean.copy_(u(c, -0.1, 0.1))
                m.running_var.copy_(u(c, 0.5, 1.5))


# ---------------------------------------------------------------- runs

def clone_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_case(model, x, y, need_feat, margins=False):
    """All reference results for one network, from its current (initial) state."""
    MARGIN.update(on=margins, relu=float("inf"), pool=float("inf"))
    init = clone_state(model)
    pnames = [n for n, _ in model.named_parameters()]
    r = {"init": init, "pnames": pnames}

    # First train-mode forward / backward.
    model.train()
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    r["train.logits"] = logits.detach().clone()
    r["train.loss"] = loss.detach().clone()
    if need_feat:
        r["train.feat.layer2"] = model.feats["layer2"].detach().clone()
    r["grad"] = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    r["after1"] = clone_state(model)  # running stats after one train forward

    # Eval-mode forward of the initial weights.
    model.load_state_dict(init)
    model.eval()
    with torch.no_grad():
        r["eval.logits"] = model(x).detach().clone()

    # STEPS SGD steps from the initial weights.
    model.load_state_dict(init)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    r["losses"] = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        r["losses"].append(loss.detach().clone())
    r["step3"] = clone_state(model)
    r["margin"] = (MARGIN["relu"], MARGIN["pool"])
    MARGIN["on"] = False
    model.eval()
    with torch.no_grad():
        r["step3.eval.logits"] = model(x).detach().clone()
    model.load_state_dict(init)
    return r


def check_bn_update(r, x):
    """Independent check of PyTorch's running-stat rule on the stem BN:
    new = (1-m)*old + m*stat, stat = batch mean / UNBIASED batch variance."""
    conv_out = F.conv2d(x, r["init"]["conv1.weight"], r["init"].get("conv1.bias"), padding=1)
    n = conv_out.numel() // conv_out.shape[1]
    mean = conv_out.mean(dim=(0, 2, 3))
    var_b = conv_out.var(dim=(0, 2, 3), unbiased=False)
    rm = (1 - BN_MOMENTUM) * r["init"]["bn1.running_mean"] + BN_MOMENTUM * mean
    rv = (1 - BN_MOMENTUM) * r["init"]["bn1.running_var"] + BN_MOMENTUM * var_b * n / (n - 1)
    assert torch.allclose(r["after1"]["bn1.running_mean"], rm, rtol=1e-5, atol=1e-6)
    assert torch.allclose(r["after1"]["bn1.running_var"], rv, rtol=1e-5, atol=1e-6)
    assert int(r["after1"]["bn1.num_batches_tracked"]) == 1
    assert int(r["step3"]["bn1.num_batches_tracked"]) == STEPS


def f64_discrepancy(make, r, x, y):
    """The same run in float64: per group, the worst per-tensor max|f32 - f64| /
    max|f64|, i.e. how far a correct float32 implementation may be off from the
    fixture through rounding alone. Tensors that are zero in exact arithmetic
    (conv bias followed by train-mode BN) are reported apart, absolutely."""
    m = make().double()
    init64 = {k: (v.double() if v.is_floating_point() else v) for k, v in r["init"].items()}
    m.load_state_dict(init64)
    r64 = run_case(m, x.double(), y, need_feat=False)
    worst, zero = {}, {}

    def put(group, name, a, b):
        a, b = a.double(), b.double()
        if float(b.abs().max()) < 1e-12:
            zero[name] = max(zero.get(name, 0.0), float(a.abs().max()))
            return
        worst[group] = max(worst.get(group, 0.0), float((a - b).abs().max() / b.abs().max()))
    for k in ("train.logits", "train.loss", "eval.logits", "step3.eval.logits"):
        put(k, k, r[k], r64[k])
    for n in r["pnames"]:
        put("grad", "grad." + n, r["grad"][n], r64["grad"][n])
    for k, v in r["step3"].items():
        if v.is_floating_point():
            put("step3", "step3." + k, v, r64["step3"][k])
    return worst, zero


def sample_idx(numel, gen):
    return torch.randperm(numel, generator=gen)[:SAMPLE_K].sort().values


def pack_case(r, x, y, full, gen, param_only=None):
    """Tensor list in file order. param_only: store only these param.* names."""
    t = [("param." + k, v) for k, v in r["init"].items() if param_only is None or k in param_only]
    t += [("input", x), ("labels", y), ("train.logits", r["train.logits"]),
          ("train.loss", r["train.loss"])]
    if "train.feat.layer2" in r:
        t.append(("train.feat.layer2", r["train.feat.layer2"]))
    t.append(("eval.logits", r["eval.logits"]))
    sampled = []
    for n in r["pnames"]:
        g = r["grad"][n]
        if full or g.numel() <= FULL_MAX_NUMEL:
            t.append(("grad." + n, g))
        else:
            sampled.append(n)
    for i, l in enumerate(r["losses"]):
        t.append((f"step3.loss{i + 1}", l))
    t.append(("step3.eval.logits", r["step3.eval.logits"]))
    for k, v in r["step3"].items():
        if full or v.numel() <= FULL_MAX_NUMEL:
            t.append(("step3." + k, v))
        else:
            assert k in sampled, k
    for n in sampled:
        idx = sample_idx(r["grad"][n].numel(), gen)
        t.append(("sample_idx." + n, idx))
        t.append(("grad_sample." + n, r["grad"][n].flatten()[idx]))
        t.append(("step3_sample." + n, r["step3"][n].flatten()[idx]))
    return t, sampled


# ---------------------------------------------------------------- KD / attention

def kd_loss(s, t, T):
    return F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean") * T * T


def at_map(Fm, eps):
    a = F.normalize(Fm.pow(2).mean(1).flatten(1), p=2, dim=1, eps=1e-12)
    return a * (a >= eps).to(a.dtype) if eps > 0 else a


def at_loss(F1, F2, eps):
    return (at_map(F1, eps) - at_map(F2, eps)).pow(2).mean()


def make_kd_at():
    g = torch.Generator().manual_seed(39)
    T, cols = 4.0, torch.tensor([0, 2, 5], dtype=torch.int64)
    s = torch.randn(5, 10, generator=g) * 3
    t = torch.randn(5, 10, generator=g) * 3
    out = [("s", s), ("t", t), ("cols", cols), ("T", torch.tensor(T))]

    for tag, c in (("kd", cols), ("kd_all", torch.arange(10))):
        sv = s.clone().requires_grad_(True)
        loss = kd_loss(sv[:, c], t[:, c], T)
        loss.backward()
        # Independent closed form: ds[n,c] = T/N (softmax(s_c/T) - softmax(t_c/T)).
        ref = torch.zeros_like(s)
        ref[:, c] = T / s.shape[0] * (F.softmax(s[:, c] / T, 1) - F.softmax(t[:, c] / T, 1))
        assert torch.allclose(sv.grad, ref, rtol=1e-5, atol=1e-7), tag
        assert (sv.grad[:, [k for k in range(10) if k not in c.tolist()]] == 0).all()
        out += [(tag + ".loss", loss.detach()), (tag + ".grad_s", sv.grad.clone())]

    # Attention: per-position scales (log-normal) so that the eps filter removes
    # some entries of both maps, not all at the same positions; F2 close to F1
    # so that the filter's effect is visible (seed 39 picked for that: the
    # filtered loss differs by ~1%, its gradient by ~2.5% of max |grad|); no entry
    # lies within 1% of the threshold (float rounding cannot flip the filter).
    eps = 0.005
    scale = torch.exp(torch.randn(3, 1, 5, 5, generator=g) * 0.6)
    F1 = torch.randn(3, 4, 5, 5, generator=g) * scale
    F2 = F1 + torch.randn(3, 4, 5, 5, generator=g) * 0.2 * scale
    a1, a2 = at_map(F1, 0.0), at_map(F2, 0.0)
    for a in (a1, a2):
        assert (a < eps).sum() >= 3 and (a >= eps).sum() >= 40
        assert float(((a - eps).abs() / eps).min()) > 0.01, "entry too close to eps"
    assert ((a1 < eps) != (a2 < eps)).any(), "want a position filtered in one map only"
    out += [("F1", F1), ("F2", F2), ("at.eps", torch.tensor(eps)),
            ("at.a1", at_map(F1, eps)), ("at.a2", at_map(F2, eps))]
    for tag, e in (("at", eps), ("at_nofilter", 0.0)):
        Fv = F1.clone().requires_grad_(True)
        loss = at_loss(Fv, F2, e)
        loss.backward()
        # float64 gradcheck of the same function.
        F1d = F1.double().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda z: at_loss(z, F2.double(), e), (F1d,), eps=1e-7,
                                        atol=1e-8, rtol=1e-4)
        out += [(tag + ".loss", loss.detach()), (tag + ".grad_F1", Fv.grad.clone())]
    n_filt = (int((a1 < eps).sum()), int((a2 < eps).sum()))
    return out, n_filt


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))

    def want(name):
        return not only or name in only
    os.makedirs(args.out, exist_ok=True)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    common = {"lr": str(LR), "momentum": str(MOMENTUM), "weight_decay": str(WD),
              "bn_eps": str(BN_EPS), "bn_momentum": str(BN_MOMENTUM), "steps": str(STEPS),
              "torch": torch.__version__,
              "sampling": f"full if numel <= {FULL_MAX_NUMEL}, else {SAMPLE_K} sorted random "
                          f"indices" if not args.full else "none"}
    labels = torch.tensor([3, 0, 7, 3], dtype=torch.int64)
    summary = []

    def emit(name, tensors, meta):
        cnt, size = write_and_verify(os.path.join(args.out, name), tensors, meta)
        summary.append((name, cnt, size))

    margins, disc = {}, {}

    # Input seeds (111, 135, 142) were picked among 60 for the largest kink
    # margins (see the summary); the other seeds are arbitrary.

    # 1. ResNet-18 w8, 3x16x16.
    rgb_init = None
    if want("resnet18_w8") or want("resnet18_w8_gray"):
        rgb_init = case_resnet18(args, emit, margins, disc, labels, common, want)
    if want("cnn"):
        case_cnn(args, emit, margins, disc, labels, common)
    if want("kd"):
        t, n_filt = make_kd_at()
        meta = {"T": "4", "cols": "0,2,5", "at_eps": "0.005", "at_norm_eps": "1e-12",
                "torch": torch.__version__}
        emit("kd.safetensors", t, meta)
        print(f"  attention: entries filtered in F1/F2 maps: {n_filt[0]}/{n_filt[1]} of 75")
    case_new_resnets(args, emit, margins, disc, common, want, rgb_init)
    return report(args, summary, disc, margins)


def case_resnet18(args, emit, margins, disc, labels, common, want):
    """resnet18_w8 and resnet18_w8_gray (the gray one needs the RGB run's init)."""
    torch.manual_seed(0)
    rgb = ResNet18Cifar(3, 8, 10)
    perturb_bn(rgb, torch.Generator().manual_seed(1))
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(111))
    r = run_case(rgb, x, labels, need_feat=True, margins=True)
    check_bn_update(r, x)
    margins["resnet18_w8"] = r["margin"]
    disc["resnet18_w8"] = f64_discrepancy(lambda: ResNet18Cifar(3, 8, 10), r, x, labels)
    t, sampled = pack_case(r, x, labels, args.full, torch.Generator().manual_seed(3))
    meta = {"arch": "resnet18_cifar", "width": "8", "classes": "10", "input": "3x16x16",
            "batch": "4", **common, "sampled": ",".join(sampled)}
    if want("resnet18_w8"):
        emit("resnet18_w8.safetensors", t, meta)
    rgb_init = r["init"]
    if not want("resnet18_w8_gray"):
        return rgb_init

    # 2. The same network with a 1-channel stem on 1x28x28. All weights equal to
    #    resnet18_w8's except conv1.weight, which is the only param.* stored.
    gray = ResNet18Cifar(1, 8, 10)
    gray_init = dict(rgb_init)
    gray_init["conv1.weight"] = rgb_init["conv1.weight"].sum(1, keepdim=True) / 3 ** 0.5
    gray.load_state_dict(gray_init)
    xg = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(135))
    rg = run_case(gray, xg, labels, need_feat=False, margins=True)
    check_bn_update(rg, xg)
    margins["resnet18_w8_gray"] = rg["margin"]
    disc["resnet18_w8_gray"] = f64_discrepancy(lambda: ResNet18Cifar(1, 8, 10), rg, xg, labels)
    t, sampled = pack_case(rg, xg, labels, args.full, torch.Generator().manual_seed(6),
                           param_only=None if args.full else {"conv1.weight"})
    meta = {"arch": "resnet18_cifar", "width": "8", "classes": "10", "input": "1x28x28",
            "batch": "4", **common, "sampled": ",".join(sampled),
            "params": "all param.*" if args.full else
                      "param.conv1.weight here; every other param.* from resnet18_w8.safetensors"}
    emit("resnet18_w8_gray.safetensors", t, meta)
    return rgb_init


def case_cnn(args, emit, margins, disc, labels, common):
    """3. CNN student, 3x32x32."""
    torch.manual_seed(7)
    cnn = CNNStudent(3, 32, 10)
    perturb_bn(cnn, torch.Generator().manual_seed(8))
    xc = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(142))
    rc = run_case(cnn, xc, labels, need_feat=False, margins=True)
    check_bn_update(rc, xc)
    margins["cnn"] = rc["margin"]
    disc["cnn"] = f64_discrepancy(lambda: CNNStudent(3, 32, 10), rc, xc, labels)
    t, sampled = pack_case(rc, xc, labels, args.full, torch.Generator().manual_seed(10))
    meta = {"arch": "cnn_student", "classes": "10", "input": "3x32x32", "batch": "4",
            **common, "sampled": ",".join(sampled)}
    emit("cnn.safetensors", t, meta)


def init_from(args, name, made):
    """param.* of fixture `name` as a state_dict: `made` if this run made it,
    else read from --out (the committed file)."""
    if made is not None:
        return made
    back, _ = st_read(os.path.join(args.out, name + ".safetensors"))
    return {n[len("param."):]: torch.from_numpy(a.copy()) for n, a in back
            if n.startswith("param.")}


def resnet_case(emit, margins, disc, common, name, model, make, x, y, gen_seed, arch, width,
                param_only, params_note):
    r = run_case(model, x, y, need_feat=True, margins=True)
    if not model.imagenet:
        check_bn_update(r, x)
    margins[name] = r["margin"]
    disc[name] = f64_discrepancy(make, r, x, y)
    t, sampled = pack_case(r, x, y, False, torch.Generator().manual_seed(gen_seed),
                           param_only=param_only)
    n, c, h, w = x.shape
    meta = {"arch": arch, "width": str(width), "classes": "10", "input": f"{c}x{h}x{w}",
            "batch": str(n), **common, "sampled": ",".join(sampled)}
    if params_note:
        meta["params"] = params_note
    emit(name + ".safetensors", t, meta)
    return r["init"]


def case_new_resnets(args, emit, margins, disc, common, want, rgb_init):
    """5. ResNet-18 with the ImageNet stem (width 8, 3x64x64): resnet18_w8's
    initial tensors but a 7x7 conv1 (the only param.* stored).
    6. ResNet-34 CIFAR stem (width 4, 3x16x16), every param.* stored.
    7. ResNet-34 ImageNet stem (width 4, 3x64x64): resnet34_w4's initial
    tensors but a 7x7 conv1 (the only param.* stored). Batch 2, labels 3, 7."""
    y2 = torch.tensor([3, 7], dtype=torch.int64)
    if want("resnet18_imagenet_w8") or want("resnet34_imagenet_w4"):
        check_torchvision_layout()
    if want("resnet18_imagenet_w8"):
        init = dict(init_from(args, "resnet18_w8", rgb_init))
        g = torch.Generator().manual_seed(21)
        init["conv1.weight"] = torch.randn(8, 3, 7, 7, generator=g) * (2.0 / (8 * 49)) ** 0.5
        m = ResNetTV(3, 8, 10, [2, 2, 2, 2], "imagenet")
        m.load_state_dict(init)
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(INPUT_SEED["r18i"]))
        resnet_case(emit, margins, disc, common, "resnet18_imagenet_w8", m,
                    lambda: ResNetTV(3, 8, 10, [2, 2, 2, 2], "imagenet"), x, y2, 22,
                    "resnet18_imagenet", 8, {"conv1.weight"},
                    "param.conv1.weight here; every other param.* from resnet18_w8.safetensors")
    r34_init = None
    if want("resnet34_w4"):
        torch.manual_seed(30)
        m = ResNetTV(3, 4, 10, [3, 4, 6, 3], "cifar")
        perturb_bn(m, torch.Generator().manual_seed(31))
        x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(INPUT_SEED["r34"]))
        r34_init = resnet_case(emit, margins, disc, common, "resnet34_w4", m,
                               lambda: ResNetTV(3, 4, 10, [3, 4, 6, 3], "cifar"), x, y2, 32,
                               "resnet34_cifar", 4, None, None)
    if want("resnet34_imagenet_w4"):
        init = dict(init_from(args, "resnet34_w4", r34_init))
        g = torch.Generator().manual_seed(41)
        init["conv1.weight"] = torch.randn(4, 3, 7, 7, generator=g) * (2.0 / (4 * 49)) ** 0.5
        m = ResNetTV(3, 4, 10, [3, 4, 6, 3], "imagenet")
        m.load_state_dict(init)
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(INPUT_SEED["r34i"]))
        resnet_case(emit, margins, disc, common, "resnet34_imagenet_w4", m,
                    lambda: ResNetTV(3, 4, 10, [3, 4, 6, 3], "imagenet"), x, y2, 42,
                    "resnet34_imagenet", 4, {"conv1.weight"},
                    "param.conv1.weight here; every other param.* from resnet34_w4.safetensors")


def check_torchvision_layout():
    """ResNetTV with the ImageNet stem at width 64 is torchvision's resnet18 /
    resnet34: the same state_dict names and shapes, and the same logits from
    the same weights (so the fixtures test lirf against torchvision itself).
    Skipped when torchvision is not installed."""
    try:
        import torchvision
    except ImportError:
        print("  torchvision not installed: layout check skipped")
        return
    for name, blocks in (("resnet18", [2, 2, 2, 2]), ("resnet34", [3, 4, 6, 3])):
        torch.manual_seed(50)
        tv = getattr(torchvision.models, name)(num_classes=10)
        ours = ResNetTV(3, 64, 10, blocks, "imagenet")
        a, b = tv.state_dict(), ours.state_dict()
        assert list(a) == list(b), f"{name}: state_dict names differ"
        assert all(a[k].shape == b[k].shape for k in a), f"{name}: shapes differ"
        ours.load_state_dict(a)
        tv.eval(), ours.eval()
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(51))
        with torch.no_grad():
            assert torch.equal(tv(x), ours(x)), f"{name}: logits differ from torchvision's"
    print(f"  torchvision {torchvision.__version__} resnet18 / resnet34: same names, shapes, logits")


# input seeds of the new fixtures (picked for kink margins, see the summary)
INPUT_SEED = {"r18i": 211, "r34": 311, "r34i": 414}


def report(args, summary, disc, margins):
    total = 0
    print(f"torch {torch.__version__}; fixtures in {args.out}")
    for name, cnt, size in summary:
        print(f"  {name:32s} {cnt:4d} tensors {size:9d} bytes")
        total += size
    print(f"  {'total':32s}      {'':7s} {total:9d} bytes ({total / 2**20:.2f} MiB)")
    print("  float32 vs float64 (max abs diff / max |value|):")
    for k, (d, z) in disc.items():
        print(f"    {k:18s} " + "  ".join(f"{n} {v:.1e}" for n, v in d.items()))
        if z:
            print(f"    {'':18s} zero in exact arithmetic, max |f32|: " +
                  "  ".join(f"{n} {v:.1e}" for n, v in z.items()))
    print("  kink margins over all train-mode forwards (min |ReLU input|, min max-pool top-2 gap):")
    for k, (a, b) in margins.items():
        warn = "  WARNING: below 2e-6, pick another input seed" if min(a, b) < 2e-6 else ""
        print(f"    {k:18s} relu {a:.1e}  pool {b:.1e}{warn}")
    print("  read back and compared bit for bit: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
