#!/usr/bin/env bash
# Golden test on quantized stories260K, for q8_0, q4_0 and q4_k:
# - the file `moerun quantize` writes loads in llama.cpp, and moerun's logits on it agree
#   with llama.cpp's on that same file: q8_0 top-1 at every position and mean KL <= 1e-6,
#   and the default ISA within relative error 1e-4 of MOERUN_ISA=scalar (issue 14: the
#   same order of products, sums and roundings as ggml's portable kernels,
#   test_synth_archs.sh); q4_0 and q4_k top-1 >= 98%, mean KL printed;
# - the same comparison on the file llama.cpp's own quantizer writes (moerun-oracle
#   --quantize), so a reader or kernel bug shows up apart from a quantizer bug.
# stories260K has n_embd 64 and n_ff 172: no row fits a K-quant block (256), and ffn_down
# rows (172) fit no block at all, so llama.cpp's q4_k file is q5_0 + f16 and every file
# keeps ffn_down in f16. K-quant kernels need a larger model to be exercised.
#   test_stories260k_quant.sh MOERUN MOERUN_COMPARE
# shellcheck source=tests/oracle/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 2)) || die "usage: $0 MOERUN MOERUN_COMPARE"
MOERUN=$1 COMPARE=$2

story_ids_64
# compare_on NAME FILE: oracle and moerun logits on FILE, then moerun_compare.
compare_on() {
  local name=$1 file=$2 V
  # The oracle evaluating the file is also the check that it is valid GGUF.
  try_run "oracle_$name" "$ORACLE" -m "$file" --tokens "$STORY_IDS" -o "$WORK/ref-$name.f32" \
    || { fail_later "llama.cpp cannot evaluate $name"; return 0; }
  V=$(n_vocab_of "$WORK/oracle_$name.out")
  try_run "moerun_$name" "$MOERUN" logits -m "$file" --tokens "$STORY_IDS" -o "$WORK/got-$name.f32" || return 0
  local bounds=(--min-top1 0.98)
  [[ $name == q8_0-* ]] && bounds=(--min-top1 1 --max-mean-kl 1e-6)
  try_run "compare_$name" "$COMPARE" "$WORK/got-$name.f32" "$WORK/ref-$name.f32" --n-vocab "$V" "${bounds[@]}" \
    || true
  echo "stories260K $name, moerun vs llama.cpp: $(cat "$WORK/compare_$name.out")"
  if [[ $name == q8_0-* ]]; then
    try_run "scalar_$name" env MOERUN_ISA=scalar "$MOERUN" logits -m "$file" --tokens "$STORY_IDS" \
      -o "$WORK/scalar-$name.f32" || return 0
    try_run "isa_$name" "$COMPARE" "$WORK/got-$name.f32" "$WORK/scalar-$name.f32" --n-vocab "$V" --max-rel-err 1e-4 \
      || true
    echo "stories260K $name, default ISA vs scalar: $(cat "$WORK/isa_$name.out")"
  fi
}

for TYPE in q8_0 q4_0 q4_k; do
  if try_run "quantize_$TYPE" "$MOERUN" quantize "$STORIES" "$WORK/moerun-$TYPE.gguf" "$TYPE"; then
    compare_on "$TYPE-by-moerun" "$WORK/moerun-$TYPE.gguf"
  fi
  run "llama_quantize_$TYPE" "$ORACLE" -m "$STORIES" --quantize "$WORK/llama-$TYPE.gguf" "$TYPE"
  compare_on "$TYPE-by-llama.cpp" "$WORK/llama-$TYPE.gguf"
done
finish
