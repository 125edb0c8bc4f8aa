#!/usr/bin/env bash
# Checks the oracle and the compare tool themselves, needing nothing of moerun but
# moerun_compare, so a broken reference shows up before it is used to judge moerun:
# - llama.cpp tokenizes, greedily continues and scores stories260K as the independent
#   float64 re-implementation in stories260K.greedy.json does;
# - it continues tiny-deepseek-moe as recorded in tiny-deepseek-moe.json;
# - it is deterministic; moerun_compare accepts identical logits, rejects different ones,
#   and returns 2 on malformed input.
#   test_oracle_self.sh MOERUN_COMPARE
# shellcheck source=tests/oracle/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
(($# == 1)) || die "usage: $0 MOERUN_COMPARE"
COMPARE=$1
need_python
MOE=$TESTDATA_DIR/models/tiny-deepseek-moe.gguf
MOE_JSON=$TESTDATA_DIR/models/tiny-deepseek-moe.json

# Every stories260K case: tokenization, greedy tokens, and the logits after the prompt
# (written to last-<i>.f32 / json-<i>.f32 for moerun_compare below).
python3 - "$ORACLE" "$STORIES" "$STORIES_JSON" "$MOE" "$MOE_JSON" "$WORK" <<'PY' || fail_later "oracle vs JSON references"
import json, struct, subprocess, sys
oracle, stories, stories_json, moe, moe_json, work = sys.argv[1:]
def call(*args):
    return subprocess.run([oracle, *args], capture_output=True, text=True, check=True).stdout
bad = 0
for i, c in enumerate(json.load(open(stories_json))["cases"]):
    ids = [int(x) for x in call("-m", stories, "--tokenize", c["prompt_text"], "--bos").split()]
    if ids != c["prompt_tokens"]:
        print(f"{c['name']}: tokenize gives {ids}, json {c['prompt_tokens']}", file=sys.stderr); bad = 1
    out = call("-m", stories, "--tokens", " ".join(map(str, c["prompt_tokens"])), "-n", str(c["n_predict"]),
               "-o", f"{work}/all-{i}.f32")
    greedy = [int(x) for x in out.split("greedy:")[1].split()]
    ok = greedy == c["greedy_tokens"]
    print(f"stories260K {c['name']}: greedy {'matches' if ok else 'DIFFERS from'} json ({len(greedy)} tokens)")
    bad |= not ok
    n_vocab = len(c["logits_after_prompt"])
    rows = open(f"{work}/all-{i}.f32", "rb").read()
    open(f"{work}/last-{i}.f32", "wb").write(rows[-4 * n_vocab:])
    open(f"{work}/json-{i}.f32", "wb").write(struct.pack(f"<{n_vocab}f", *c["logits_after_prompt"]))
for c in json.load(open(moe_json))["greedy_llama_cpp"]:
    out = call("-m", moe, "--tokens", " ".join(map(str, c["prompt_ids"])), "-n", str(c["n_generated"]))
    greedy = [int(x) for x in out.split("greedy:")[1].split()]
    ok = greedy == c["generated_ids"]
    print(f"tiny-deepseek-moe {c['prompt_text']!r}: greedy {'matches' if ok else 'DIFFERS from'} json")
    bad |= not ok
sys.exit(bad)
PY

# The float64 reference's logits vs llama.cpp's F32 ones (json's hint: ~1e-3 absolute).
for f in "$WORK"/json-*.f32; do
  i=${f##*/json-}; i=${i%.f32}
  try_run "vs_json_$i" "$COMPARE" "$WORK/last-$i.f32" "$f" --n-vocab 512 --min-top1 1 --max-rel-err 1e-4 \
    && echo "stories260K case $i, llama.cpp vs float64 json: $(cat "$WORK/vs_json_$i.out")"
done

# Determinism (thread count included) and the compare tool's verdicts.
story_ids_64
run a "$ORACLE" -m "$STORIES" --tokens "$STORY_IDS" -o "$WORK/a.f32" -t 1
run b "$ORACLE" -m "$STORIES" --tokens "$STORY_IDS" -o "$WORK/b.f32" -t 2
cmp -s "$WORK/a.f32" "$WORK/b.f32" || fail_later "oracle logits differ between 1 and 2 threads"
try_run same "$COMPARE" "$WORK/a.f32" "$WORK/b.f32" --n-vocab 512 --min-top1 1 --max-rel-err 0 --max-mean-kl 0 \
  && echo "oracle vs itself: $(cat "$WORK/same.out")"
# Other tokens at each position: different logits that every threshold must reject.
read -r -a ids <<<"$STORY_IDS"
rev=(); for ((k = ${#ids[@]} - 1; k >= 0; k--)); do rev+=("${ids[k]}"); done
run r "$ORACLE" -m "$STORIES" --tokens "${rev[*]}" -o "$WORK/r.f32"
expect_rc() { # want_rc args...
  local want=$1 rc=0; shift
  "$COMPARE" "$@" >"$WORK/rc.out" 2>&1 || rc=$?
  ((rc == want)) || { cat "$WORK/rc.out" >&2; fail_later "moerun_compare $* returned $rc, expected $want"; }
}
expect_rc 1 "$WORK/r.f32" "$WORK/a.f32" --n-vocab 512 --min-top1 0.5
expect_rc 1 "$WORK/r.f32" "$WORK/a.f32" --n-vocab 512 --max-rel-err 1e-3
expect_rc 1 "$WORK/r.f32" "$WORK/a.f32" --n-vocab 512 --max-mean-kl 1e-3
expect_rc 0 "$WORK/r.f32" "$WORK/a.f32" --n-vocab 512
head -c 2048 "$WORK/a.f32" >"$WORK/short.f32"
expect_rc 2 "$WORK/short.f32" "$WORK/a.f32" --n-vocab 512
expect_rc 2 "$WORK/a.f32" "$WORK/a.f32" --n-vocab 500
expect_rc 2 "$WORK/a.f32" "$WORK/missing.f32" --n-vocab 512
expect_rc 2 "$WORK/a.f32" "$WORK/a.f32"
finish
