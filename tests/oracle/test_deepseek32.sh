#!/usr/bin/env bash
# Golden test: DeepSeek-V3.2's sparse attention (arch deepseek32, DSA) against llama.cpp
# over 256 tokens of Shakespeare, so the first top_k positions attend densely and the rest
# through the lightning indexer's top-k:
#  - the tiny synth presets (top_k 16), F32: whole prompt in one pass, in passes of 48
#    tokens, and token by token on 2 threads (decode: the indexer's scores and the attention
#    split over the threads): top-1 identical at every position, relative error <= 1e-3.
#    tiny-ds32-yarn adds YaRN with mscale_all_dim != 1, where deepseek32's attention scale
#    differs from deepseek2's;
#  - the trained tiny DeepSeek (../shared/testdata) with a random indexer grafted on
#    (moerun_graft_indexer, top_k 32; the indexer changes its top-1 at 1/3 of the positions),
#    F32 as above and Q8_0 from `moerun quantize`: top-1 >= 98%, mean KL <= 1e-3 (DESIGN §7).
#    Q8_0 is checked on the trained model only: on the random synth models a one-level
#    rounding difference (test_synth_archs.sh) is chaotic enough over 256 tokens to move
#    keys across the top-k cut (their Q8_0 runs give top-1 93-100%, KL up to 4e-2, against
#    95-99% and up to 3e-3 for deepseek2's tiny-v3 without DSA).
#   test_deepseek32.sh MOERUN MOERUN_COMPARE MOERUN_GRAFT_INDEXER
# shellcheck source=tests/oracle/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 3)) || die "usage: $0 MOERUN MOERUN_COMPARE MOERUN_GRAFT_INDEXER"
MOERUN=$1 COMPARE=$2 GRAFT=$3
TEXT=$TESTDATA_DIR/text/tinyshakespeare.txt
# From the held-out last 10% of the text the trained model never saw.
tail -c 100000 "$TEXT" >"$WORK/tail.txt"
head -c 3000 "$WORK/tail.txt" >"$WORK/text.txt"

run graft "$GRAFT" "$TESTDATA_DIR/models/tiny-deepseek-moe.gguf" "$WORK/trained-f32.gguf" --heads 8 --head-dim 64 \
  --top-k 32
run quantize "$MOERUN" quantize "$WORK/trained-f32.gguf" "$WORK/trained-q8_0.gguf" q8_0

# check PRESET TYPE LABEL [moerun logits options] -- [compare options]
# PRESET "trained" is the grafted file, anything else a deepseek32 synth preset.
check() {
  local preset=$1 type=$2 label=$3; shift 3
  local file="$WORK/$preset-$type.gguf" name="$preset-$type-$label" opts=() V
  while (($#)) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  [[ -f $file ]] || run "synth_$preset-$type" "$MOERUN" synth --arch deepseek32 --preset "$preset" --type "$type" -o "$file"
  if [[ ! -f $WORK/ids-$preset ]]; then
    run "tok_$preset" "$ORACLE" -m "$file" --tokenize "$(cat "$WORK/text.txt")" --bos
    local toks
    read -r -a toks <"$WORK/tok_$preset.out"
    ((${#toks[@]} >= 256)) || die "the text gives only ${#toks[@]} tokens"
    echo "${toks[*]:0:256}" >"$WORK/ids-$preset"
  fi
  [[ -f $WORK/ref-$preset-$type.f32 ]] ||
    run "oracle_$preset-$type" "$ORACLE" -m "$file" --tokens "$(cat "$WORK/ids-$preset")" -o "$WORK/ref-$preset-$type.f32"
  V=$(n_vocab_of "$WORK/oracle_$preset-$type.out")
  try_run "moerun_$name" "$MOERUN" logits -m "$file" --tokens "$(cat "$WORK/ids-$preset")" -o "$WORK/got-$name.f32" \
    "${opts[@]}" || return 0
  try_run "compare_$name" "$COMPARE" "$WORK/got-$name.f32" "$WORK/ref-$preset-$type.f32" --n-vocab "$V" "$@" || true
  printf '%-15s %-5s %-12s vs llama.cpp: %s\n' "$preset" "$type" "$label" "$(cat "$WORK/compare_$name.out")"
}

for preset in tiny-ds32 tiny-ds32-yarn trained; do
  check "$preset" f32 one-pass -- --min-top1 1 --max-rel-err 1e-3
  check "$preset" f32 batch-48 --batch 48 -- --min-top1 1 --max-rel-err 1e-3
  check "$preset" f32 decode-t2 --batch 1 -t 2 -- --min-top1 1 --max-rel-err 1e-3
done
check trained q8_0 one-pass -- --min-top1 0.98 --max-mean-kl 1e-3
check trained q8_0 decode-t2 --batch 1 -t 2 -- --min-top1 0.98 --max-mean-kl 1e-3
finish
