#!/usr/bin/env bash
# Golden test: `moerun perplexity` against llama.cpp on tinyshakespeare.txt, for
# stories260K (llama) and tiny-deepseek-moe (deepseek2): within 0.5%.
#
# The reference is computed the way llama-perplexity computes it (cli/perplexity.h)
# from the oracle's own tokens and logits: the file tokenized by llama.cpp, windows
# of CTX tokens with BOS in front, the second half of each scored. That needs only
# the oracle (cheap in CI). Where llama.cpp's llama-perplexity itself has been built
# (tests/bench/build-llamacpp.sh; $MOERUN_LLAMA_CPP_DIR or build/llama.cpp), its
# printed estimate must agree with both, which checks the reference method too.
#   test_perplexity.sh MOERUN
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 1)) || die "usage: $0 MOERUN"
MOERUN=$1
need_python
TEXT=$TESTDATA_DIR/text/tinyshakespeare.txt
CTX=128
CHUNKS=8
LLAMA_PPL=${MOERUN_LLAMA_CPP_DIR:-$REPO_DIR/build/llama.cpp}/bin/llama-perplexity

# close_to "PPL ERR" "REF_PPL REF_ERR" WHAT REF_NAME: perplexity within 0.5%, its ± within 2%.
close_to() {
  python3 - "$1" "$2" "$3" "$4" <<'PY' || fail_later "$3: perplexity '$1' is not within 0.5% of '$2', $4"
import sys
got, ref = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()]
rel = abs(got[0] - ref[0]) / ref[0]
rel_err = abs(got[1] - ref[1]) / ref[1]
print(f"{sys.argv[3]}: perplexity within {100 * rel:.3f}% of {sys.argv[4]}, ± within {100 * rel_err:.3f}%")
sys.exit(0 if rel <= 0.005 and rel_err <= 0.02 else 1)
PY
}

for name in stories260K tiny-deepseek-moe; do
  MODEL=$TESTDATA_DIR/models/$name.gguf
  run "moerun_$name" "$MOERUN" perplexity -m "$MODEL" -f "$TEXT" -c $CTX --chunks $CHUNKS -t 1
  GOT=$(sed -n 's/^perplexity: \([0-9.]*\) ± \([0-9.]*\)$/\1 \2/p' "$WORK/moerun_$name.out")
  [[ -n $GOT ]] || die "$name: no 'perplexity: X ± Y' line from moerun"

  # llama.cpp's tokens as llama-perplexity makes them (with the BOS the vocabulary adds,
  # if it adds one: a one-letter text tells).
  run "tok_$name" "$ORACLE" -m "$MODEL" --tokenize-file "$TEXT" --bos
  run "tok_a_bos_$name" "$ORACLE" -m "$MODEL" --tokenize "a" --bos
  run "tok_a_$name" "$ORACLE" -m "$MODEL" --tokenize "a"
  python3 - "$WORK/tok_$name.out" "$WORK/tok_a_bos_$name.out" "$WORK/tok_a_$name.out" "$CTX" "$CHUNKS" \
    "$WORK/win_$name" <<'PY'
import sys
ids = open(sys.argv[1]).read().split()
a_bos, a = open(sys.argv[2]).read().split(), open(sys.argv[3]).read().split()
ctx, chunks, out = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
bos = a_bos[0] if len(a_bos) == len(a) + 1 else None
assert len(ids) >= 2 * ctx and len(ids) // ctx >= chunks, len(ids)
for c in range(chunks):
    w = ids[c * ctx:(c + 1) * ctx]
    nxt = list(w)
    if bos is not None:
        w[0] = bos
    open(f"{out}.{c}.ids", "w").write(" ".join(w))
    open(f"{out}.{c}.next", "w").write(" ".join(nxt))
PY
  for ((c = 0; c < CHUNKS; ++c)); do
    run "oracle_${name}_$c" "$ORACLE" -m "$MODEL" --tokens-file "$WORK/win_$name.$c.ids" -c $CTX \
      -o "$WORK/win_$name.$c.f32"
  done
  V=$(n_vocab_of "$WORK/oracle_${name}_0.out")
  REF=$(python3 - "$WORK/win_$name" "$CTX" "$CHUNKS" "$V" <<'PY'
import array, math, sys
base, ctx, chunks, v = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
nll = nll2 = 0.0
count = 0
for c in range(chunks):
    nxt = [int(t) for t in open(f"{base}.{c}.next").read().split()]
    logits = array.array("f")
    logits.frombytes(open(f"{base}.{c}.f32", "rb").read())
    assert len(logits) == ctx * v, (len(logits), ctx, v)
    for j in range(ctx // 2, ctx - 1):
        row = logits[j * v:(j + 1) * v]
        m = max(row)
        # llama.cpp: x - max and exp in float (array "f" rounds to float), the sum in double.
        shifted = array.array("f", (x - m for x in row))
        s = sum(array.array("f", (math.exp(x) for x in shifted)))
        val = -(shifted[nxt[j + 1]] - math.log(s))
        nll += val
        nll2 += val * val
        count += 1
mean = nll / count
var = nll2 / count - mean * mean
print(f"{math.exp(mean):.4f} {math.sqrt(var / (count - 1)) * math.exp(mean):.5f}")
PY
  )
  echo "$name: moerun perplexity $GOT; from llama.cpp's logits $REF"
  close_to "$GOT" "$REF" "$name: moerun" "the figure from llama.cpp's logits"

  if [[ -x $LLAMA_PPL ]]; then
    # llama.cpp logs through a thread it never joins, so its last lines are now and then
    # lost at exit (its common/log.cpp says so): try again for the "Final estimate" line.
    LLAMA=
    for attempt in 1 2 3; do
      run "llama_ppl_${name}_$attempt" "$LLAMA_PPL" -m "$MODEL" -f "$TEXT" -c $CTX --chunks $CHUNKS -t 1
      LLAMA=$(cat "$WORK/llama_ppl_${name}_$attempt".{out,err} |
        sed -n 's/.*Final estimate: PPL = \([0-9.]*\) +\/- \([0-9.]*\).*/\1 \2/p' | head -n1)
      [[ -n $LLAMA ]] && break
    done
    [[ -n $LLAMA ]] || die "$name: no 'Final estimate' line from $LLAMA_PPL in 3 runs"
    echo "$name: llama-perplexity $LLAMA"
    for pair in "moerun:$GOT" "reference:$REF"; do
      close_to "${pair#*:}" "$LLAMA" "$name: ${pair%%:*}" "llama-perplexity"
    done
  else
    echo "$name: llama-perplexity not built at $LLAMA_PPL (tests/bench/build-llamacpp.sh): compared with llama.cpp's logits only"
  fi
done
finish
