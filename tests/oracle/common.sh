# shellcheck shell=bash disable=SC2034  # variables here are used by the test scripts
# Sourced by tests/oracle/test_*.sh: paths, the oracle, a scratch dir, failure helpers.
# The oracle is built (or found built) by setup.sh; if that fails the test fails: a golden
# test that cannot reach its reference must never pass or skip.
set -euo pipefail

ORACLE_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$ORACLE_SRC_DIR/../.." && pwd)
# The shared folder sits beside the repository checkout.
TESTDATA_DIR=$ORACLE_SRC_DIR/../../../shared/testdata
ORACLE_DIR=${MOERUN_ORACLE_DIR:-$REPO_DIR/build/oracle}

FAILED=0
die() { echo "FAIL: $*" >&2; exit 1; }
fail_later() { echo "FAIL: $*" >&2; FAILED=1; }
finish() {
  if ((FAILED)); then echo "$(basename "$0"): FAILED" >&2; exit 1; fi
  echo "$(basename "$0"): ok"
}

[[ -d $TESTDATA_DIR/models ]] || die "shared test data not found at $TESTDATA_DIR"
TESTDATA_DIR=$(cd "$TESTDATA_DIR" && pwd)
STORIES=$TESTDATA_DIR/models/stories260K.gguf
STORIES_JSON=$TESTDATA_DIR/models/stories260K.greedy.json

"$ORACLE_SRC_DIR/setup.sh" "$ORACLE_DIR" || die "the llama.cpp oracle could not be set up (see above)"
ORACLE=$ORACLE_DIR/moerun-oracle
[[ -x $ORACLE ]] || die "$ORACLE missing after setup.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/moerun-oracle-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# run NAME CMD...: runs CMD with stdout to $WORK/NAME.out and stderr to $WORK/NAME.err;
# on failure shows both and dies, naming the command.
run() {
  local name=$1; shift
  local rc=0
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  if ((rc != 0)); then
    echo "--- stdout of: $*" >&2; tail -n 20 "$WORK/$name.out" >&2
    echo "--- stderr:" >&2; tail -n 40 "$WORK/$name.err" >&2
    die "'$*' exited with status $rc"
  fi
}

# Like run, but a failure is recorded and the test goes on (returns 1).
try_run() {
  local name=$1; shift
  local rc=0
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  if ((rc != 0)); then
    echo "--- stdout of: $*" >&2; tail -n 20 "$WORK/$name.out" >&2
    echo "--- stderr:" >&2; tail -n 40 "$WORK/$name.err" >&2
    fail_later "'$*' exited with status $rc"
    return 1
  fi
}

# n_vocab from a "n_tokens N n_vocab V" line in file $1; dies if there is none.
n_vocab_of() {
  local v
  v=$(sed -n 's/^n_tokens [0-9][0-9]* n_vocab \([0-9][0-9]*\)$/\1/p' "$1" | head -n1)
  [[ -n $v ]] || die "no 'n_tokens N n_vocab V' line in $1"
  echo "$v"
}

# The first 64 tokens (BOS included) of a TinyStories-like text: the golden logits prompt.
STORY_TEXT="Once upon a time, there was a little dog named Max. Max liked to run in the big green \
park with his friend Sue. One sunny day, they found a shiny red ball under a tree. Max was very happy."
# Sets STORY_IDS (space-separated).
story_ids_64() {
  run tokenize_story "$ORACLE" -m "$STORIES" --tokenize "$STORY_TEXT" --bos
  local ids
  read -r -a ids <"$WORK/tokenize_story.out"
  ((${#ids[@]} >= 64)) || die "story text gives only ${#ids[@]} tokens, need 64"
  STORY_IDS="${ids[*]:0:64}"
}

need_python() { command -v python3 >/dev/null || die "python3 is needed to read the JSON test data"; }
