#!/usr/bin/env python3
"""Recover-net rules, compared on one lirf recover checkpoint (docs/results.md).

Loads a recover net written by `lirf withdraw` (the target's tensors and the
deposit module as deposit.*), runs both paths on the Fashion-MNIST test split
with a plain functional PyTorch forward (BN in inference mode), and prints
Pre / Dep / Avg accuracy for: the target, the deposit path alone, the paper's
column rule (what lirf uses), the sum of logits, a gate by the deposit path's
probability of a deposit class, a gate by the target's confidence, and the
column rule with the deposit columns lowered by a constant.

    /usr/bin/python3 tests/pytorch/recover_rules.py OUT/recover.safetensors
(python3-torch; safetensors from pip, see check_checkpoint.py)
"""
import sys, json, gzip, numpy as np, torch, torch.nn.functional as F
from safetensors.torch import load_file
from safetensors import safe_open
torch.set_num_threads(1)
path = sys.argv[1]
with safe_open(path, framework="pt") as f: meta = f.metadata()
S = load_file(path)
pre = json.loads(meta["preprocess"])
dep = [int(c) for c in meta["deposit_classes"].split(",")]
def idx(p):
    d = gzip.open(p).read(); m = int.from_bytes(d[0:4], "big")
    dims = [int.from_bytes(d[4+4*i:8+4*i], "big") for i in range(m & 0xFF)]
    return np.frombuffer(d, np.uint8, offset=4+4*len(dims)).reshape(dims)
X = idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").astype(np.float32)
Y = torch.tensor(idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").astype(np.int64))
X = torch.tensor((X * pre["scale"] - pre["mean"][0]) / pre["std"][0])[:, None]
def bn(x, p): return F.batch_norm(x, S[p+".running_mean"], S[p+".running_var"], S[p+".weight"], S[p+".bias"], False, 0, 1e-5)
def block(x, p, stride):
    o = F.relu(bn(F.conv2d(x, S[p+".conv1.weight"], stride=stride, padding=1), p+".bn1"))
    o = bn(F.conv2d(o, S[p+".conv2.weight"], padding=1), p+".bn2")
    sc = x
    if p+".downsample.0.weight" in S: sc = bn(F.conv2d(x, S[p+".downsample.0.weight"], stride=stride), p+".downsample.1")
    return F.relu(o + sc)
def lower(x, pre_):
    x = F.relu(bn(F.conv2d(x, S[pre_+"conv1.weight"], padding=1), pre_+"bn1"))
    x = block(x, pre_+"layer1.0", 1); x = block(x, pre_+"layer1.1", 1)
    x = block(x, pre_+"layer2.0", 2); x = block(x, pre_+"layer2.1", 1); return x
def upper(x):
    x = block(x, "layer3.0", 2); x = block(x, "layer3.1", 1)
    x = block(x, "layer4.0", 2); x = block(x, "layer4.1", 1)
    x = x.mean((2, 3)); return F.linear(x, S["fc.weight"], S["fc.bias"])
zt, zr = [], []
with torch.no_grad():
    for i in range(0, len(X), 500):
        xb = X[i:i+500]; zt.append(upper(lower(xb, ""))); zr.append(upper(lower(xb, "deposit.")))
zt = torch.cat(zt); zr = torch.cat(zr)
K = zt.shape[1]; R = torch.zeros(K, dtype=torch.bool); R[dep] = True
isR = R[Y]
def report(name, z):
    p = z.argmax(1); ok = (p == Y)
    print(f"{name:38s} Pre {100*ok[~isR].float().mean():6.2f} Dep {100*ok[isR].float().mean():6.2f} Avg {100*ok.float().mean():6.2f}")
report("target", zt); report("deposit path", zr)
col = zt.clone(); col[:, R] = zr[:, R]; report("columns (paper)", col)
report("sum", zt + zr)
# gate by deposit path's own R mass
pr = F.softmax(zr, 1); m = pr[:, R].sum(1, keepdim=True)
lg = torch.empty_like(zt)
lg[:, R] = torch.log(m + 1e-30) + F.log_softmax(zr[:, R], 1)
lg[:, ~R] = torch.log(1 - m + 1e-30) + F.log_softmax(zt[:, ~R], 1)
report("gate: deposit path R mass", lg)
# gate by target's confidence: target max prob
pt = F.softmax(zt, 1); conf = pt.max(1).values
for th in (0.3, 0.5, 0.7):
    use = conf < th
    pre_ids = torch.nonzero(~R).flatten()
    pred = torch.where(use, torch.tensor(dep)[zr[:, R].argmax(1)], pre_ids[zt[:, ~R].argmax(1)])
    ok = pred == Y
    print(f"{'target conf < %.1f -> deposit' % th:38s} Pre {100*ok[~isR].float().mean():6.2f} Dep {100*ok[isR].float().mean():6.2f} Avg {100*ok.float().mean():6.2f}")
# target's R-column mass / entropy
ent = -(pt * torch.log(pt + 1e-30)).sum(1)
print("target entropy on P: mean %.3f, on R: mean %.3f; max prob on P %.3f, R %.3f" % (ent[~isR].mean(), ent[isR].mean(), conf[~isR].mean(), conf[isR].mean()))
# bias calibration: subtract b from deposit columns
for b in (0, 2, 4, 6, 8, 10):
    c = zt.clone(); c[:, R] = zr[:, R] - b; report(f"columns, deposit - {b}", c)
print("zt max on P %.2f R %.2f ; zr R-max on P %.2f R %.2f" % (zt.max(1).values[~isR].mean(), zt.max(1).values[isR].mean(), zr[:, R].max(1).values[~isR].mean(), zr[:, R].max(1).values[isR].mean()))
