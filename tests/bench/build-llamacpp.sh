#!/usr/bin/env bash
# Builds llama.cpp's own tools (llama-bench, llama-perplexity) from the source
# bundle inside the npm package node-llama-cpp@3.21.1 — the same release as the
# correctness oracle (tests/oracle/setup.sh) — natively for this CPU, so moerun
# can be compared with llama.cpp at its best on the same machine.
#
#   tests/bench/build-llamacpp.sh [OUTDIR]     (default OUTDIR: <repo>/build/llama.cpp)
#
# Result: OUTDIR/bin/llama-bench, OUTDIR/bin/llama-perplexity. Idempotent: a warm
# run only checks that both binaries exist. Nothing is downloaded but the npm
# tarball that the oracle setup already pins by sha256.
set -euo pipefail

fail() { echo "llama.cpp build FAILED: $*" >&2; exit 1; }
note() { echo "llama.cpp build: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT=${1:-$REPO/build/llama.cpp}
mkdir -p "$OUT" || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
TOOLS=(llama-bench llama-perplexity)

have_all() { local t; for t in "${TOOLS[@]}"; do [[ -x $OUT/bin/$t ]] || return 1; done; }
have_all && exit 0

exec 9>"$OUT/.build.lock"
flock 9
have_all && exit 0

# The tarball comes from the oracle setup (fetched and checked there).
ORACLE=${MOERUN_ORACLE_DIR:-$REPO/build/oracle}
bash "$REPO/tests/oracle/setup.sh" "$ORACLE" >/dev/null 2>&1 || bash "$REPO/tests/oracle/setup.sh" "$ORACLE" \
  || fail "the oracle setup (which fetches the npm package) failed"
TGZ=$(find "$ORACLE/npm" -maxdepth 1 -name 'node-llama-cpp-3.21.1.tgz' | head -n1)
[[ -n $TGZ ]] || fail "node-llama-cpp-3.21.1.tgz not found in $ORACLE/npm"

SRC=$OUT/src
if [[ ! -f $SRC/.done ]]; then
  note "extracting the llama.cpp source from gitRelease.bundle"
  rm -rf "$SRC" "$OUT/src.tmp"
  mkdir -p "$OUT/src.tmp"
  tar -xzf "$TGZ" -C "$OUT/src.tmp" package/llama/gitRelease.bundle || fail "gitRelease.bundle missing from $TGZ"
  git -c init.defaultBranch=main init -q "$SRC" || fail "git init failed"
  git -C "$SRC" fetch -q "$OUT/src.tmp/package/llama/gitRelease.bundle" HEAD || fail "cannot read the bundle"
  git -C "$SRC" -c advice.detachedHead=false checkout -q FETCH_HEAD || fail "checkout failed"
  rm -rf "$OUT/src.tmp"
  touch "$SRC/.done"
fi

# Native CPU build (AVX-512/VNNI where the CPU has them), OpenMP threads as
# llama.cpp ships by default; no network, no GPU backends.
note "configuring (native CPU build)"
cmake -S "$SRC" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >"$OUT/configure.log" 2>&1 \
  || { tail -n 30 "$OUT/configure.log" >&2; fail "cmake configure (log: $OUT/configure.log)"; }
note "compiling ${TOOLS[*]} (several minutes on 2 cores)"
cmake --build "$OUT/build" -j "$(nproc)" --target "${TOOLS[@]}" >"$OUT/build.log" 2>&1 \
  || { tail -n 30 "$OUT/build.log" >&2; fail "compile (log: $OUT/build.log)"; }
mkdir -p "$OUT/bin"
for t in "${TOOLS[@]}"; do cp "$OUT/build/bin/$t" "$OUT/bin/$t" || fail "$t was not built"; done
note "ready: $OUT/bin (llama.cpp $(git -C "$SRC" rev-parse --short=12 HEAD))"
