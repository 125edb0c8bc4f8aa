#!/usr/bin/env bash
# Golden test: files written by `moerun quantize` load in llama.cpp, and moerun's logits on
# them agree with llama.cpp's on the same file: top-1 >= 98% of positions; mean KL printed.
#   test_stories260k_quant.sh MOERUN MOERUN_COMPARE
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 2)) || die "usage: $0 MOERUN MOERUN_COMPARE"
MOERUN=$1 COMPARE=$2

story_ids_64
for TYPE in q8_0 q4_0 q4_k; do
  Q=$WORK/stories260K-$TYPE.gguf
  try_run "quantize_$TYPE" "$MOERUN" quantize "$STORIES" "$Q" "$TYPE" || continue
  # The oracle loading the file is itself the check that moerun wrote valid GGUF.
  try_run "oracle_$TYPE" "$ORACLE" -m "$Q" --tokens "$STORY_IDS" -o "$WORK/ref-$TYPE.f32" \
    || { fail_later "llama.cpp cannot evaluate moerun's $TYPE file"; continue; }
  V=$(n_vocab_of "$WORK/oracle_$TYPE.out")
  try_run "moerun_$TYPE" "$MOERUN" logits -m "$Q" --tokens "$STORY_IDS" -o "$WORK/got-$TYPE.f32" || continue
  try_run "compare_$TYPE" "$COMPARE" "$WORK/got-$TYPE.f32" "$WORK/ref-$TYPE.f32" --n-vocab "$V" --min-top1 0.98 || true
  echo "stories260K $TYPE vs llama.cpp: $(cat "$WORK/compare_$TYPE.out")"
done
finish
