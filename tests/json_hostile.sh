#!/bin/bash
# Every command's --json is one valid JSON document on stdout, with hostile
# names: an image folder whose class folders are `say "hi"`, `back\slash` and
# a unicode name, under a path with a `"` and a space, and outputs named the
# same way. A tiny net (ResNet-18 width 2 on 8x8 images) is trained for one
# epoch on it; then eval, deposit, withdraw, unlearn, import (of a PyTorch
# state dict, the names given in --meta), keygen, verify (one
# small student), reproduce (Table 1, one seed), demo (one epoch each),
# devices, selftest and tune
# (--dry-run --quick, a short budget) run with --json. Each stdout is parsed
# by jansson (tests/json_tool.c; nothing else may be on it) and the class
# names and paths must come back unchanged where the document carries them.
# usage: json_hostile.sh LIRF_BIN JSON_TOOL
set -euo pipefail
LIRF=${1:?usage: json_hostile.sh LIRF_BIN JSON_TOOL}
TOOL=${2:?usage: json_hostile.sh LIRF_BIN JSON_TOOL}
export LC_ALL=C.UTF-8
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir="$work/a \"quoted\" dir"
mkdir -p "$dir"
root="$dir/data"
C0='back\slash'
C1='say "hi"'
C2='ünïcødé ☃'

# 8x8 gray PNGs: class k a bright row 2k+1 on noise; 8 training and 4 test
# images a class.
k=0
for name in "$C0" "$C1" "$C2"; do
    for split in train:8 test:4; do
        mkdir -p "$root/${split%:*}/$name"
        "$TOOL" pngs "$root/${split%:*}/$name" "$k" "${split#*:}"
    done
    k=$((k + 1))
done

# check NAME OUT [STRING...]: OUT holds one JSON document (and nothing else)
# in which every STRING is a string value or key, or part of one.
check() {
    "$TOOL" check "$1" "$2" "${@:3}" || { echo "--- $2:"; cat "$2"; exit 1; }
}

# run NAME RCS ARGS...: lirf ARGS > stdout (stderr kept for a failure); RCS
# the exit statuses allowed, as a regex alternation ("0", "0|1")
run() {
    local name=$1 want=$2
    shift 2
    local rc=0
    "$LIRF" "$@" > "$work/$name.json" 2> "$work/$name.err" || rc=$?
    if ! [[ "$rc" =~ ^($want)$ ]]; then
        echo "lirf $name exited $rc (expected $want)"; cat "$work/$name.err"; exit 1
    fi
}

data=(--data "$root" --format imagefolder --image-size 8)
edata=(--data "$root" --format imagefolder) # lirf eval: the image size is the net's
t0="$dir/t0 \"T0\".safetensors"
target="$dir/target \"t\".safetensors"
archive="$dir/deposit \"d\".lirf"
recover="$dir/recover \"r\".safetensors"

run train 0 train "${data[@]}" --width 2 --epochs 1 --batch 8 --out "$t0" --json --quiet
check train "$work/train.json" "$t0" "$C0" "$C1" "$C2"
run eval 0 eval --model "$t0" "${edata[@]}" --deposit-classes 1 --json
check eval "$work/eval.json" "$t0" "$C0" "$C1" "$C2"
run deposit 0 deposit --model "$t0" --deposit-classes 1 "${data[@]}" --epochs 1 --batch 8 \
    --target "$target" --archive "$archive" --json --quiet
check deposit "$work/deposit.json" "$target" "$archive"
run withdraw 0 withdraw --target "$target" --archive "$archive" --out "$recover" --json
check withdraw "$work/withdraw.json" "$recover"
run table1 0 eval --deposit-classes 1 --original "$t0" --target "$target" --recover "$recover" \
    "${edata[@]}" --json
check table1 "$work/table1.json" "$t0" "$target" "$recover"
# an image folder whose classes are not T0's (one folder renamed): refused,
# naming the class, and nothing on stdout (the labels would be wrong)
other="$dir/other \"o\""
cp -r "$root" "$other"
mv "$other/test/$C2" "$other/test/zzz"
run eval-other 2 eval --model "$t0" --data "$other" --format imagefolder --json
grep -q 'class 2 is .* do not belong together' "$work/eval-other.err" ||
    { echo "eval-other: no refusal naming class 2"; cat "$work/eval-other.err"; exit 1; }
[ ! -s "$work/eval-other.json" ] || { echo "eval-other: output on stdout"; exit 1; }
run unlearn 0 unlearn --method finetune --model "$t0" --deposit-classes 1 "${data[@]}" \
    --epochs 1 --batch 8 --target "$dir/unlearn \"u\".safetensors" --json --quiet
check unlearn "$work/unlearn.json" "$dir/unlearn \"u\".safetensors"
run unlearn-list 0 unlearn --list --json
check unlearn-list "$work/unlearn-list.json" scrub
run keygen 0 keygen --out "$dir/key \"k\"" --json
check keygen "$work/keygen.json" "$dir/key \"k\".key" "$dir/key \"k\".pub"
# import: a PyTorch state dict (the import fixture, 10 classes), the hostile
# names through --meta, written to a hostile path; then eval of the import
src=$(cd "$(dirname "$0")" && pwd)/golden/import
imeta="$dir/meta \"m\".json"
cat > "$imeta" <<'JSON'
{"in_shape": [1, 28, 28],
 "preprocess": {"scale": 0.00392156862745098, "mean": [0.286], "std": [0.353]},
 "class_names": ["back\\slash", "say \"hi\"", "ünïcødé ☃", "c3", "c4", "c5", "c6", "c7", "c8", "c9"]}
JSON
imported="$dir/imported \"i\".safetensors"
run import 0 import --state-dict "$src/fmnist_resnet18_w4.pt.safetensors" --meta "$imeta" \
    --out "$imported" --json
check import "$work/import.json" "$imported" "$C0" "$C1" "$C2"
run eval-import 0 eval --model "$imported" --data "$src/fmnist-256" --deposit-classes 1 --json
# (eval names the classes as the data set does: Fashion-MNIST's here)
check eval-import "$work/eval-import.json" "$imported" "Ankle boot"
run devices 0 devices --json
check devices "$work/devices.json"
run selftest 0 selftest --json
check selftest "$work/selftest.json" conv2d_backward gemm
# a budget this short may end incomplete (exit 1): the document says so
run tune '0|1' tune --dry-run --quick --budget 2 --json
check tune "$work/tune.json" outcome

vout="$dir/verify \"v\""
verify_opts=(--seeds 1 --epochs 1 --train-subset 16 --batch 8 --students cnn --methods logit
             --labels true --no-mia --no-probe --no-relearn --control-epochs 1 --datafree-images 16)
set +e
"$LIRF" verify --target "$target" --original "$t0" --archive "$archive" "${data[@]}" \
    "${verify_opts[@]}" --out "$vout" --quiet --json > "$work/verify.json" 2> "$work/verify.err"
vrc=$?
set -e
# 0, 1 or 3 (no check with power): a verdict; 2 or anything else: an error
case "$vrc" in 0|1|3) ;; *) echo "lirf verify exited $vrc"; cat "$work/verify.err"; exit 1 ;; esac
check verify "$work/verify.json" "$target" "$t0" "$vout/report.json" "$vout/report.html"
check verify-report.json "$vout/report.json" "$target" "$root"
# the default (delta) archive holds no deposit module: that probe is skipped, saying why
grep -q '"deposit_module_alone": {[^}]*"skipped"' "$vout/report.json" ||
    grep -A2 '"deposit_module_alone"' "$vout/report.json" | grep -q '"skipped"' ||
    { echo "verify: deposit_module_alone not skipped for a delta archive"; exit 1; }
run verify-again "$vrc" verify --from-json "$vout/report.json" --out "$vout" --json
check verify-again "$work/verify-again.json" "$vout/report.md" "$vout/report.json"

# a path that is not UTF-8 (JSON holds UTF-8 only): the documents stay valid,
# the bytes outside ASCII shown as '?'; a class folder so named is refused
# (class names are data: they are never altered)
bdir="$work/bad"$'\xff'"dir"
mkdir -p "$bdir"
run bad-train 0 train "${data[@]}" --width 2 --epochs 1 --batch 8 --out "$bdir/t0.st" --json --quiet
check bad-train "$work/bad-train.json" "bad?dir/t0.st"
run bad-deposit 0 deposit --model "$bdir/t0.st" --deposit-classes 1 "${data[@]}" --epochs 1 \
    --batch 8 --target "$bdir/tg.st" --archive "$bdir/d.lirf" --json --quiet
check bad-deposit "$work/bad-deposit.json" "bad?dir/tg.st" "bad?dir/d.lirf"
run bad-withdraw 0 withdraw --target "$bdir/tg.st" --archive "$bdir/d.lirf" --out "$bdir/r.st" --json
check bad-withdraw "$work/bad-withdraw.json" "bad?dir/r.st"
run bad-verify '0|1' verify --target "$bdir/tg.st" --original "$bdir/t0.st" --archive "$bdir/d.lirf" \
    "${data[@]}" "${verify_opts[@]}" --out "$bdir/v" --quiet --json
check bad-verify "$work/bad-verify.json" "bad?dir/v/report.json"
check bad-verify-report "$bdir/v/report.json" "bad?dir/tg.st"
broot="$work/badclasses"
cp -r "$root" "$broot"
for split in train test; do mv "$broot/$split/$C2" "$broot/$split/c"$'\xff'; done
run bad-class 2 train --data "$broot" --format imagefolder --image-size 8 --out "$work/x.st" --json
grep -q 'not valid UTF-8' "$work/bad-class.err" ||
    { echo "bad-class: not refused as not UTF-8"; cat "$work/bad-class.err"; exit 1; }

# reproduce: Table 1 of one seed at a tiny budget, into a hostile folder
rout="$dir/repro \"p\""
run reproduce 0 reproduce --table 1 "${data[@]}" --name hostile --deposit-classes 1 --quick \
    --width 2 --epochs 1 --deposit-epochs 1 --batch 8 --seeds 1 --out "$rout" --json
check reproduce "$work/reproduce.json" "$rout/results.json" "$rout/results.md" "hostile-w2-custom" \
    "Pre Acc"
run reproduce-plan 0 reproduce --plan --table all "${data[@]}" --name hostile --deposit-classes 1 \
    --quick --width 2 --epochs 1 --deposit-epochs 1 --batch 8 --seeds 1 --out "$rout" --json
check reproduce-plan "$work/reproduce-plan.json" "hostile-w2-custom" "deposit-split4"

dout="$dir/demo \"x\""
run demo 0 demo "${data[@]}" --width 2 --epochs 1 --deposit-epochs 1 --batch 8 --limit 0 \
    --deposit-tries 1 --deposit-classes 1 --out "$dout" --json
check demo "$work/demo.json" "$dout/original.safetensors" "$dout/recover-exact.safetensors" \
    "$dout/summary.json" "Withdrawal (exact)"
check demo-table1.json "$dout/table1.json" "$dout/target.safetensors"
# summary.json holds the same document
"$TOOL" same "$work/demo.json" "$dout/summary.json" || { echo "demo --json differs from summary.json"; exit 1; }
echo "every --json parsed; hostile names and paths came back"
