#!/usr/bin/env bash
# Golden test: `moerun run --temp 0` on stories260K generates what llama.cpp's greedy
# continuation of the same prompt tokens detokenizes to, and what the independent float64
# reference in stories260K.greedy.json generated.
#   test_stories260k_greedy.sh MOERUN MOERUN_COMPARE   (the compare tool is unused here)
# shellcheck source=tests/oracle/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# >= 1)) || die "usage: $0 MOERUN [MOERUN_COMPARE]"
MOERUN=$1
need_python
PROMPT="Once upon a time"
N=128

run tok "$ORACLE" -m "$STORIES" --tokenize "$PROMPT" --bos
read -r IDS <"$WORK/tok.out"
run greedy "$ORACLE" -m "$STORIES" --tokens "$IDS" -n "$N"
GREEDY=$(sed -n 's/^greedy: //p' "$WORK/greedy.out")
[[ -n $GREEDY ]] || die "no greedy line from the oracle"
run detok "$ORACLE" -m "$STORIES" --detokenize "$GREEDY"

# The JSON case with this prompt: the oracle must agree with it before it can judge moerun.
# Its greedy_text keeps the SentencePiece leading space that llama_detokenize drops, so
# the text check is on the text with leading spaces removed.
python3 - "$STORIES_JSON" "$PROMPT" "$IDS" "$GREEDY" "$WORK/json_text" <<'PY' || die "oracle disagrees with stories260K.greedy.json"
import json, sys
path, prompt, ids, greedy, out = sys.argv[1:]
case = next(c for c in json.load(open(path))["cases"] if c["prompt_text"] == prompt)
ids = [int(x) for x in ids.split()]
greedy = [int(x) for x in greedy.split()]
if ids != case["prompt_tokens"]:
    sys.exit(f"prompt tokens: oracle {ids}, json {case['prompt_tokens']}")
n = len(case["greedy_tokens"])
if greedy[:n] != case["greedy_tokens"]:
    k = next(i for i, (a, b) in enumerate(zip(greedy, case["greedy_tokens"])) if a != b)
    sys.exit(f"greedy token {k}: oracle {greedy[k]}, json {case['greedy_tokens'][k]}")
# The oracle never stops at EOS while `moerun run` does (unless --ignore-eos): this prompt's
# continuation must stay free of it (stories260K's EOS is id 2) for the texts to compare.
if 2 in greedy:
    sys.exit(f"the oracle's continuation reaches EOS at step {greedy.index(2)}: use another prompt or -n")
open(out, "w").write(case["greedy_text"].lstrip(" "))
PY

run moerun "$MOERUN" run -m "$STORIES" -p "$PROMPT" -n "$N" --temp 0
# moerun may echo the prompt before the continuation, and end with a newline of its own;
# the continuation must appear whole, byte for byte (trailing newlines included: bash's
# $(...) would drop them, so python compares the files).
python3 - "$WORK/moerun.out" "$WORK/detok.out" "$WORK/json_text" <<'PY' || fail_later "moerun's greedy text differs"
import sys
got, want, json_text = (open(f, "rb").read() for f in sys.argv[1:])
bad = 0
for name, ref in (("llama.cpp's greedy continuation", want), ("stories260K.greedy.json's greedy_text", json_text)):
    if ref not in got:
        print(f"moerun's output lacks {name}:\n--- moerun stdout:\n{got.decode(errors='replace')}\n"
              f"--- expected to contain:\n{ref.decode(errors='replace')}\n---", file=sys.stderr)
        bad = 1
sys.exit(bad)
PY
finish
