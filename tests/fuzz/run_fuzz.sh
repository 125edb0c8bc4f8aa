#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the
# other on one core, from the seed corpora (made fresh from the shared test
# data) plus the committed regression inputs. A crash, sanitizer report, leak,
# timeout (10 s per input) or an input needing over 2 GiB fails the run; the
# input that did it is kept under $FUZZ_ARTIFACTS (default: BUILD/fuzz-artifacts).
#   tests/fuzz/run_fuzz.sh BUILD SECONDS [fuzz_gguf fuzz_tokenize_spm ...]
# Extra libFuzzer flags can be passed in $FUZZ_FLAGS (e.g. -runs=2000000).
set -euo pipefail
BUILD=$(cd "${1:?usage: run_fuzz.sh BUILD SECONDS [TARGET...]}" && pwd)
SECONDS_EACH=${2:?usage: run_fuzz.sh BUILD SECONDS [TARGET...]}
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(fuzz_gguf fuzz_tokenize_spm fuzz_tokenize_bpe fuzz_chat_template fuzz_batch_jsonl)

# target -> seed folder, regression folder, longest input
declare -A SEEDS=([fuzz_gguf]=gguf [fuzz_tokenize_spm]=tokenize [fuzz_tokenize_bpe]=tokenize [fuzz_chat_template]=chat
                  [fuzz_batch_jsonl]=batch)
declare -A REGRESSIONS=([fuzz_gguf]=gguf [fuzz_tokenize_spm]=tokenize_spm [fuzz_tokenize_bpe]=tokenize_bpe
                        [fuzz_chat_template]=chat_template [fuzz_batch_jsonl]=batch_jsonl)
declare -A MAX_LEN=([fuzz_gguf]=32768 [fuzz_tokenize_spm]=1024 [fuzz_tokenize_bpe]=1024 [fuzz_chat_template]=8192
                     [fuzz_batch_jsonl]=4096)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/moerun-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS=${FUZZ_ARTIFACTS:-$BUILD/fuzz-artifacts}
mkdir -p "$ARTIFACTS"
"$BUILD/moerun_fuzz_seeds" "$WORK/seeds"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${TARGETS[@]}"; do
  [[ -n ${SEEDS[$t]:-} ]] || { echo "run_fuzz.sh: unknown target $t" >&2; exit 2; }
  corpus=$WORK/corpus-$t
  regressions=$HERE/regressions/${REGRESSIONS[$t]}
  mkdir -p "$corpus"
  dirs=("$corpus" "$WORK/seeds/${SEEDS[$t]}")
  [[ -d $regressions ]] && dirs+=("$regressions")
  echo "== $t: ${SECONDS_EACH}s"
  rc=0
  # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
  "$BUILD/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len="${MAX_LEN[$t]}" \
    -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-" ${FUZZ_FLAGS:-} "${dirs[@]}" \
    >"$WORK/$t.log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added)' "$WORK/$t.log" | sed "s/^/$t /" || true
  if ((rc != 0)); then
    echo "run_fuzz.sh: $t FAILED (exit $rc); the input is in $ARTIFACTS; the end of its log:" >&2
    tail -n 60 "$WORK/$t.log" >&2
    status=1
  fi
done
exit $status
