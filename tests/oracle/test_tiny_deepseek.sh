#!/usr/bin/env bash
# Golden test: the trained tiny DeepSeek-V3-style MoE (deepseek2: MLA, sigmoid router with
# selection bias, shared expert) against llama.cpp.
#  - F32: three 256-token held-out windows of Shakespeare, top-1 identical, rel err <= 1e-3;
#  - greedy continuation of "\nROMEO:\n" (ids 13 461 441 446 459 441 467 13, no BOS) equals
#    llama.cpp's: moerun's argmax after every prefix of prompt + oracle continuation is the
#    oracle's next token (teacher forcing proves the greedy sequences are identical);
#  - Q8_0 made by `moerun quantize`: top-1 >= 98%, mean KL <= 1e-3 (DESIGN §7). Over 256
#    positions some activations always land within float noise of a rounding boundary
#    (test_synth_archs.sh), so the KL is ~1e-7, not ~1e-13.
#  - with --flash-attn (the online softmax at every length, float rounding instead of
#    llama.cpp's non-flash order): F32 window 0 and the Q8_0 file within the same bounds.
#   test_tiny_deepseek.sh MOERUN MOERUN_COMPARE
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 2)) || die "usage: $0 MOERUN MOERUN_COMPARE"
MOERUN=$1 COMPARE=$2
need_python
MODEL=$TESTDATA_DIR/models/tiny-deepseek-moe.gguf
TEXT=$TESTDATA_DIR/text/tinyshakespeare.txt

# Held-out text (the model trained on the first 90%): 3 windows from the last 10%.
python3 - "$TEXT" "$WORK/heldout.txt" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
start = int(len(data) * 0.93)
open(sys.argv[2], "wb").write(data[start:start + 6000])
PY
run tok_heldout "$ORACLE" -m "$MODEL" --tokenize "$(cat "$WORK/heldout.txt")"
read -r -a HELD <"$WORK/tok_heldout.out"
((${#HELD[@]} >= 3 * 256 + 100)) || die "held-out slice gives only ${#HELD[@]} tokens"

for w in 0 1 2; do
  IDS="${HELD[*]:$((50 + w * 256)):256}"
  run "oracle_w$w" "$ORACLE" -m "$MODEL" --tokens "$IDS" -o "$WORK/ref$w.f32"
  V=$(n_vocab_of "$WORK/oracle_w$w.out")
  try_run "moerun_w$w" "$MOERUN" logits -m "$MODEL" --tokens "$IDS" -o "$WORK/got$w.f32" || continue
  try_run "compare_w$w" "$COMPARE" "$WORK/got$w.f32" "$WORK/ref$w.f32" --n-vocab "$V" --min-top1 1 --max-rel-err 1e-3 || true
  echo "tiny-deepseek-moe F32 window $w vs llama.cpp: $(cat "$WORK/compare_w$w.out")"
done
if try_run moerun_fa "$MOERUN" logits -m "$MODEL" --tokens "${HELD[*]:50:256}" -o "$WORK/got-fa.f32" --flash-attn; then
  try_run compare_fa "$COMPARE" "$WORK/got-fa.f32" "$WORK/ref0.f32" --n-vocab "$V" --min-top1 1 --max-rel-err 1e-3 || true
  echo "tiny-deepseek-moe F32 window 0 --flash-attn vs llama.cpp: $(cat "$WORK/compare_fa.out")"
fi

PROMPT="13 461 441 446 459 441 467 13"
run greedy "$ORACLE" -m "$MODEL" --tokens "$PROMPT" -n 64
GREEDY=$(sed -n 's/^greedy: //p' "$WORK/greedy.out")
[[ -n $GREEDY ]] || die "no greedy line from the oracle"
run moerun_greedy "$MOERUN" logits -m "$MODEL" --tokens "$PROMPT $GREEDY" -o "$WORK/greedy.f32"
python3 - "$WORK/greedy.f32" "$PROMPT" "$GREEDY" "$V" <<'PY' || fail_later "moerun's greedy continuation of ROMEO differs from llama.cpp's"
import array, sys
path, prompt, greedy, v = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4])
seq = [int(t) for t in prompt + greedy]
logits = array.array("f")
logits.frombytes(open(path, "rb").read())
n = len(logits) // v
assert n == len(seq), (n, len(seq))
for i in range(len(prompt) - 1, len(seq) - 1):
    row = logits[i * v:(i + 1) * v]
    best = max(range(v), key=lambda j: row[j])
    if best != seq[i + 1]:
        sys.exit(f"step {i - len(prompt) + 1}: moerun picks {best}, llama.cpp picked {seq[i + 1]}")
print(f"greedy ROMEO: {len(greedy)} tokens identical")
PY

Q=$WORK/tiny-deepseek-moe-q8_0.gguf
IDS="${HELD[*]:50:256}"
if try_run quantize "$MOERUN" quantize "$MODEL" "$Q" q8_0; then
  run oracle_q8 "$ORACLE" -m "$Q" --tokens "$IDS" -o "$WORK/ref-q8.f32"
  if try_run moerun_q8 "$MOERUN" logits -m "$Q" --tokens "$IDS" -o "$WORK/got-q8.f32"; then
    try_run compare_q8 "$COMPARE" "$WORK/got-q8.f32" "$WORK/ref-q8.f32" --n-vocab "$V" --min-top1 0.98 --max-mean-kl 1e-3 || true
    echo "tiny-deepseek-moe q8_0 vs llama.cpp: $(cat "$WORK/compare_q8.out")"
  fi
  if try_run moerun_q8_fa "$MOERUN" logits -m "$Q" --tokens "$IDS" -o "$WORK/got-q8-fa.f32" --flash-attn; then
    try_run compare_q8_fa "$COMPARE" "$WORK/got-q8-fa.f32" "$WORK/ref-q8.f32" --n-vocab "$V" --min-top1 0.98 --max-mean-kl 1e-3 || true
    echo "tiny-deepseek-moe q8_0 --flash-attn vs llama.cpp: $(cat "$WORK/compare_q8_fa.out")"
  fi
fi
finish
