#!/usr/bin/env bash
# Fidelity of block-sparse attention (--sparse-attn): mean KL(dense || sparse) per token,
# in nats, for each budget, against the sinks+window baseline (--sparse-window-only: the
# same budget spent on the latest tokens only), on the trained models of the shared test
# data at their full context (512 tokens), over WINDOWS windows of held-out Shakespeare.
# Prints a Markdown table: the mean over every position, and over the positions past the
# budget (the only ones sparse attention changes; a budget >= the context is dense).
#   tests/bench/sparse_fidelity.sh [MOERUN] [WINDOWS]     (~1 min for 4 windows)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOERUN=${1:-$ROOT/build/moerun}
WINDOWS=${2:-4}
DATA=$ROOT/../shared/testdata
TEXT=$DATA/text/tinyshakespeare.txt
BUDGETS=(64 128 256 512 1024 2048)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/moerun-fidelity.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# kl DENSE SPARSE N_VOCAB BUDGET -> "mean_all mean_past_budget"
kl() {
  python3 - "$@" <<'PY'
import array, math, sys
a = array.array("f"); a.frombytes(open(sys.argv[1], "rb").read())
b = array.array("f"); b.frombytes(open(sys.argv[2], "rb").read())
v, budget = int(sys.argv[3]), int(sys.argv[4])
n = len(a) // v
tot = past = 0.0
for t in range(n):
    p, q = a[t * v:(t + 1) * v], b[t * v:(t + 1) * v]
    mp, mq = max(p), max(q)
    lp = mp + math.log(sum(math.exp(x - mp) for x in p))
    lq = mq + math.log(sum(math.exp(x - mq) for x in q))
    k = sum(math.exp(x - lp) * ((x - lp) - (y - lq)) for x, y in zip(p, q))
    tot += k
    if t + 1 > budget:
        past += k
print(tot / n, past / max(1, n - budget))
PY
}

echo "| model | budget | KL block-sparse (all / past budget) | KL sinks+window (all / past budget) | ratio |"
echo "|---|---:|---|---|---:|"
for model in tiny-deepseek-moe stories260K; do
  M=$DATA/models/$model.gguf
  # Held-out text (tiny-deepseek-moe trained on the first 90%): windows from the last 10%.
  tail -c 120000 "$TEXT" >"$WORK/heldout.txt"
  "$MOERUN" tokenize -m "$M" -f "$WORK/heldout.txt" >"$WORK/ids.txt"
  read -r -a IDS <"$WORK/ids.txt"
  declare -A SUM=()
  for ((w = 0; w < WINDOWS; ++w)); do
    # stories260K was trained on texts that start with BOS (id 1); the Shakespeare model on
    # raw windows.
    if [[ $model == stories260K ]]; then ids="1 ${IDS[*]:$((w * 700)):511}"; else ids="${IDS[*]:$((w * 700)):512}"; fi
    "$MOERUN" logits -m "$M" --tokens "$ids" -o "$WORK/dense.f32" >"$WORK/info.txt"
    V=$(sed -n 's/^n_tokens [0-9]* n_vocab \([0-9]*\)$/\1/p' "$WORK/info.txt")
    for b in "${BUDGETS[@]}"; do
      "$MOERUN" logits -m "$M" --tokens "$ids" -o "$WORK/sel.f32" --sparse-attn="$b" >/dev/null
      "$MOERUN" logits -m "$M" --tokens "$ids" -o "$WORK/win.f32" --sparse-attn="$b" --sparse-window-only >/dev/null
      read -r s_all s_past <<<"$(kl "$WORK/dense.f32" "$WORK/sel.f32" "$V" "$b")"
      read -r w_all w_past <<<"$(kl "$WORK/dense.f32" "$WORK/win.f32" "$V" "$b")"
      SUM[$b]=$(python3 -c "import sys; a=[float(x) for x in '${SUM[$b]:-0 0 0 0}'.split()]; \
b=[$s_all,$s_past,$w_all,$w_past]; print(' '.join(str(x+y) for x,y in zip(a,b)))")
    done
  done
  for b in "${BUDGETS[@]}"; do
    read -r s_all s_past w_all w_past <<<"${SUM[$b]}"
    python3 - "$model" "$b" "$WINDOWS" "$s_all" "$s_past" "$w_all" "$w_past" <<'PY'
import sys
model, b, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s_all, s_past, w_all, w_past = (float(x) / n for x in sys.argv[4:])
if b >= 512:  # every query sees at most 512 keys: sparse attention never engages
    print(f"| {model} | {b} | {s_all:.3g} (dense: context 512 <= budget) | {w_all:.3g} (dense) | - |")
else:
    ratio = w_past / s_past if s_past > 0 else float("inf")
    print(f"| {model} | {b} | {s_all:.3g} / {s_past:.3g} | {w_all:.3g} / {w_past:.3g} | {ratio:.1f}x |")
PY
  done
  unset SUM
done
