#!/usr/bin/env bash
# Golden test: `moerun logits` on stories260K (F32) against llama.cpp, 64-token prompt.
# F32 weights, F32 everything: same top-1 at every position, relative error <= 1e-3 (§7);
# the same bounds with --flash-attn (the online softmax at every length: float rounding,
# not llama.cpp's non-flash order).
#   test_stories260k.sh MOERUN MOERUN_COMPARE
# shellcheck source=tests/oracle/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 2)) || die "usage: $0 MOERUN MOERUN_COMPARE"
MOERUN=$1 COMPARE=$2

story_ids_64
run oracle "$ORACLE" -m "$STORIES" --tokens "$STORY_IDS" -o "$WORK/ref.f32"
V=$(n_vocab_of "$WORK/oracle.out")
run moerun "$MOERUN" logits -m "$STORIES" --tokens "$STORY_IDS" -o "$WORK/got.f32"
grep -qx "n_tokens 64 n_vocab $V" "$WORK/moerun.out" \
  || fail_later "moerun logits printed '$(head -n1 "$WORK/moerun.out")', expected 'n_tokens 64 n_vocab $V'"
try_run compare "$COMPARE" "$WORK/got.f32" "$WORK/ref.f32" --n-vocab "$V" --min-top1 1 --max-rel-err 1e-3 || true
echo "stories260K F32 vs llama.cpp: $(cat "$WORK/compare.out")"
run moerun_fa "$MOERUN" logits -m "$STORIES" --tokens "$STORY_IDS" -o "$WORK/got-fa.f32" --flash-attn
try_run compare_fa "$COMPARE" "$WORK/got-fa.f32" "$WORK/ref.f32" --n-vocab "$V" --min-top1 1 --max-rel-err 1e-3 || true
echo "stories260K F32 --flash-attn vs llama.cpp: $(cat "$WORK/compare_fa.out")"
finish
