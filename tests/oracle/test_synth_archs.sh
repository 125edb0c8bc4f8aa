#!/usr/bin/env bash
# Golden test over every architecture: each tiny preset `moerun synth --list` shows (the
# deepseek2 routing/attention variants, qwen3moe, qwen2moe, Mixtral-style llama) is written
# by `moerun synth`, evaluated by llama.cpp (its portable CPU build, tests/oracle/README.md)
# and by `moerun logits` on a 32-token input:
#  - F32: top-1 identical at every position, relative error <= 1e-3 (DESIGN §7);
#  - Q8_0 for every preset and Q6_K for presets named *-k (every row 256 wide): top-1 at
#    every position and mean KL <= 1e-6 (issue 14), and moerun's default ISA against
#    MOERUN_ISA=scalar within relative error 1e-4. moerun follows ggml's portable kernels in
#    every product, sum and rounding that feeds an int8 activation or a routing choice, so
#    these agree to the last bit; before, one activation in ~1e4 landed on the other side of
#    a rounding boundary from float-order noise and moved the logits by KL 1e-5..1e-2;
#  - Q4_0 for each architecture's default tiny preset and Q4_K for *-k presets: top-1 >= 98%,
#    mean KL printed (their kernels keep their own float order, so a boundary hit stays
#    possible there).
# The oracle loading each file is also the check that synth writes valid GGUF.
#   test_synth_archs.sh MOERUN MOERUN_COMPARE
# shellcheck source=tests/oracle/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 2)) || die "usage: $0 MOERUN MOERUN_COMPARE"
MOERUN=$1 COMPARE=$2

run list "$MOERUN" synth --list
# Lines: ARCH PRESET tiny ABOUT...
mapfile -t TINY < <(awk '$3 == "tiny" { print $1 " " $2 }' "$WORK/list.out")
((${#TINY[@]} >= 7)) || die "synth --list shows only ${#TINY[@]} tiny presets: $(cat "$WORK/list.out")"

TEXT="Once upon a time, there was a little dog named Max. Max liked to run in the big green park."
N_CHECKED=0
# check ARCH PRESET TYPE MIN_TOP1 [compare options...]
check() {
  local arch=$1 preset=$2 type=$3 min_top1=$4; shift 4
  local name="$arch-$preset-$type" file="$WORK/$arch-$preset-$type.gguf" V ids toks
  try_run "synth_$name" "$MOERUN" synth --arch "$arch" --preset "$preset" --type "$type" -o "$file" || return 0
  try_run "tok_$name" "$ORACLE" -m "$file" --tokenize "$TEXT" --bos \
    || { fail_later "llama.cpp cannot load $name"; return 0; }
  read -r -a toks <"$WORK/tok_$name.out"
  ((${#toks[@]} >= 32)) || { fail_later "$name: the text gives only ${#toks[@]} tokens"; return 0; }
  ids="${toks[*]:0:32}"
  try_run "oracle_$name" "$ORACLE" -m "$file" --tokens "$ids" -o "$WORK/ref-$name.f32" || return 0
  V=$(n_vocab_of "$WORK/oracle_$name.out")
  try_run "moerun_$name" "$MOERUN" logits -m "$file" --tokens "$ids" -o "$WORK/got-$name.f32" || return 0
  try_run "compare_$name" "$COMPARE" "$WORK/got-$name.f32" "$WORK/ref-$name.f32" --n-vocab "$V" \
    --min-top1 "$min_top1" "$@" || true
  printf '%-10s %-16s %-5s vs llama.cpp: %s\n' "$arch" "$preset" "$type" "$(cat "$WORK/compare_$name.out")"
  if [[ $type == q8_0 || $type == q6_k ]]; then
    # The default ISA against the scalar reference (the same file, the same tokens).
    try_run "scalar_$name" env MOERUN_ISA=scalar "$MOERUN" logits -m "$file" --tokens "$ids" \
      -o "$WORK/scalar-$name.f32" || return 0
    try_run "isa_$name" "$COMPARE" "$WORK/got-$name.f32" "$WORK/scalar-$name.f32" --n-vocab "$V" \
      --max-rel-err 1e-4 || true
    printf '%-10s %-16s %-5s default ISA vs scalar: %s\n' "$arch" "$preset" "$type" "$(cat "$WORK/isa_$name.out")"
  fi
  rm -f "$file"
  N_CHECKED=$((N_CHECKED + 1))
}

declare -A FIRST
EXTRA=0
for row in "${TINY[@]}"; do
  read -r arch preset <<<"$row"
  check "$arch" "$preset" f32 1 --max-rel-err 1e-3
  check "$arch" "$preset" q8_0 1 --max-mean-kl 1e-6
  # Presets whose rows fit 256-element blocks also check the K-quant types.
  if [[ $preset == *-k ]]; then
    check "$arch" "$preset" q4_k 0.98
    check "$arch" "$preset" q6_k 1 --max-mean-kl 1e-6
    EXTRA=$((EXTRA + 2))
  fi
  if [[ -z ${FIRST[$arch]:-} ]]; then
    FIRST[$arch]=1
    check "$arch" "$preset" q4_0 0.98
  fi
done
((N_CHECKED == 2 * ${#TINY[@]} + ${#FIRST[@]} + EXTRA)) || fail_later "only $N_CHECKED comparisons ran"
finish
