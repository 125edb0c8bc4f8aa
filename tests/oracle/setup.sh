#!/usr/bin/env bash
# Builds the correctness oracle (DESIGN.md §7): llama.cpp as shipped prebuilt by
# node-llama-cpp on npm, plus the small programs in tests/oracle/ linked against it.
#
#   tests/oracle/setup.sh [OUTDIR]        (default OUTDIR: <repo>/build/oracle)
#
# Result: OUTDIR/moerun-oracle (and OUTDIR/ggml_quant_check when its source exists),
# OUTDIR/lib/*.so, OUTDIR/include/. Idempotent: each stage is skipped when its output
# is already there and up to date, so a warm run costs well under a second.
#
# Anything that needs the oracle must fail when this script fails; it exits non-zero
# with a line starting "oracle setup FAILED" on every error, never silently.
set -euo pipefail

NLC_VERSION=3.21.1
# The llama.cpp release node-llama-cpp 3.21.1 was built from; its library names carry it.
LLAMA_LIB_TAG=v0.4.0
# sha256 of the two registry tarballs as first fetched (2026-11-29). npm already checks the
# registry's own integrity hash; this pin also catches a republished or different package.
SHA_MAIN=7a231d6bafa14142a1cbed9893d4ec5bc6041b2a5f5939a623accaab4203c11f
SHA_X64=4b5b65a8b2611d8af94349b02d815c0f424a30a0a19aef2be5db25ecfef6730f

fail() { echo "oracle setup FAILED: $*" >&2; exit 1; }
note() { echo "oracle setup: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT=${1:-$REPO/build/oracle}
mkdir -p "$OUT" || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

for tool in npm tar git g++ sha256sum flock; do
  command -v "$tool" >/dev/null || fail "'$tool' not found in PATH"
done

# Several CTest jobs may run this at once; one builds, the others wait and then find it done.
exec 9>"$OUT/.setup.lock"
flock 9

# ---- 1. the two npm tarballs ------------------------------------------------------------
NPM_DIR=$OUT/npm
TGZ_MAIN=$NPM_DIR/node-llama-cpp-$NLC_VERSION.tgz
TGZ_X64=$NPM_DIR/node-llama-cpp-linux-x64-$NLC_VERSION.tgz
mkdir -p "$NPM_DIR"

# npm pack only downloads the tarball: no dependency resolution, no install scripts. Short
# retry back-off: an unreachable registry should fail in seconds, not after a minute.
fetch_pkg() { # spec dest sha
  local spec=$1 dest=$2 sha=$3 tmp
  if [[ -f $dest ]] && echo "$sha  $dest" | sha256sum -c --status; then return 0; fi
  note "fetching $spec from the npm registry"
  tmp=$(mktemp -d "$NPM_DIR/pack.XXXXXX")
  if ! (cd "$tmp" && npm_config_ignore_scripts=true npm pack "$spec" --loglevel=error \
          --fetch-retries=2 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 \
          >/dev/null 2>"$tmp/npm.log"); then
    sed 's/^/  npm: /' "$tmp/npm.log" >&2 || true
    rm -rf "$tmp"
    fail "'npm pack $spec' failed (is the npm registry reachable? see npm's messages above)"
  fi
  local got
  got=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n1)
  [[ -n $got ]] || { rm -rf "$tmp"; fail "'npm pack $spec' produced no tarball"; }
  if ! echo "$sha  $got" | sha256sum -c --status; then
    local actual
    actual=$(sha256sum "$got" | cut -d' ' -f1)
    rm -rf "$tmp"
    fail "$spec: sha256 $actual, expected $sha (package changed upstream?)"
  fi
  mv "$got" "$dest"
  rm -rf "$tmp"
}
fetch_pkg "node-llama-cpp@$NLC_VERSION" "$TGZ_MAIN" "$SHA_MAIN"
fetch_pkg "@node-llama-cpp/linux-x64@$NLC_VERSION" "$TGZ_X64" "$SHA_X64"

# ---- 2. shared libraries --------------------------------------------------------------
LIB=$OUT/lib
if [[ ! -f $LIB/.done || $LIB/.done -ot $TGZ_X64 ]]; then
  note "extracting llama.cpp libraries"
  rm -rf "$LIB" "$OUT/lib.tmp"
  mkdir -p "$OUT/lib.tmp"
  tar -xzf "$TGZ_X64" -C "$OUT/lib.tmp" package/bins/linux-x64 \
    || fail "cannot extract libraries from $TGZ_X64"
  mkdir -p "$LIB"
  # Only the engine: libllama, libggml (backend registry), libggml-base, the CPU variants.
  # libllama-common and the node addon are node-llama-cpp's, not needed here.
  cp "$OUT"/lib.tmp/package/bins/linux-x64/libllama.$LLAMA_LIB_TAG.so \
     "$OUT"/lib.tmp/package/bins/linux-x64/libggml.$LLAMA_LIB_TAG.so \
     "$OUT"/lib.tmp/package/bins/linux-x64/libggml-base.so \
     "$OUT"/lib.tmp/package/bins/linux-x64/libggml-cpu-*.so \
     "$OUT"/lib.tmp/package/bins/linux-x64/_nlcBuildMetadata.json "$LIB/" \
    || fail "expected libraries missing from $TGZ_X64"
  rm -rf "$OUT/lib.tmp"
  touch "$LIB/.done"
fi

# ---- 3. headers from the source bundle -------------------------------------------------
INC=$OUT/include
if [[ ! -f $INC/.done || $INC/.done -ot $TGZ_MAIN ]]; then
  note "extracting llama.cpp headers from gitRelease.bundle"
  rm -rf "$INC" "$OUT/src.tmp"
  mkdir -p "$OUT/src.tmp"
  tar -xzf "$TGZ_MAIN" -C "$OUT/src.tmp" package/llama/gitRelease.bundle \
    || fail "gitRelease.bundle missing from $TGZ_MAIN"
  BUNDLE=$OUT/src.tmp/package/llama/gitRelease.bundle
  GIT=(git -c init.defaultBranch=main -c advice.detachedHead=false -C "$OUT/src.tmp/git")
  git init -q "$OUT/src.tmp/git" >/dev/null || fail "git init failed"
  "${GIT[@]}" fetch -q "$BUNDLE" HEAD || fail "cannot read $BUNDLE"
  mkdir -p "$INC"
  # Only the public headers: llama.h and ggml's include/ (llama.h includes ggml*.h, gguf.h).
  "${GIT[@]}" archive FETCH_HEAD include/llama.h ggml/include \
    | tar -x -C "$OUT/src.tmp" || fail "git archive of the headers failed"
  cp "$OUT/src.tmp/include/llama.h" "$OUT"/src.tmp/ggml/include/*.h "$INC/"
  "${GIT[@]}" rev-parse FETCH_HEAD > "$INC/llama.cpp.commit"
  rm -rf "$OUT/src.tmp"
  touch "$INC/.done"
fi

# ---- 4. the oracle programs ------------------------------------------------------------
CXX=${CXX:-g++}
# -isystem: llama.cpp's headers are not ours to keep -Wextra clean.
# $ORIGIN/lib: the binaries find the libraries next to them, wherever OUTDIR is moved.
COMMON_FLAGS=(-std=c++20 -O2 -g -Wall -Wextra -isystem "$INC")
# shellcheck disable=SC2016  # $ORIGIN is for the dynamic loader, not the shell
LINK_FLAGS=("-L$LIB" "-l:libllama.$LLAMA_LIB_TAG.so" "-l:libggml.$LLAMA_LIB_TAG.so" -l:libggml-base.so
            '-Wl,-rpath,$ORIGIN/lib' -pthread)

# True when $1 is missing or older than any of the remaining files.
stale() {
  local target=$1; shift
  [[ -f $target ]] || return 0
  local f
  for f in "$@"; do [[ $f -nt $target ]] && return 0; done
  return 1
}

build() { # target sources... -- extra flags...
  local target=$1; shift
  local srcs=() extra=()
  while (($#)); do [[ $1 == -- ]] && { shift; extra=("$@"); break; }; srcs+=("$1"); shift; done
  local deps=("${srcs[@]}" "$INC/.done" "$LIB/.done")
  if ! stale "$target" "${deps[@]}"; then return 0; fi
  note "compiling $(basename "$target")"
  rm -f "$target"
  local cmd=("$CXX" "${COMMON_FLAGS[@]}" "${extra[@]}" "${srcs[@]}" -o "$target.tmp" "${LINK_FLAGS[@]}")
  # BUILD_LOG, when set, takes the compiler's messages (the optional quant check's). Not
  # 2>/dev/stderr otherwise: reopening that truncates a stderr redirected to a file.
  if [[ -n ${BUILD_LOG:-} ]]; then "${cmd[@]}" 2>"$BUILD_LOG"; else "${cmd[@]}"; fi \
    && mv "$target.tmp" "$target"
}

build "$OUT/moerun-oracle" "$SCRIPT_DIR/llama_oracle.cpp" \
  || fail "compiling tests/oracle/llama_oracle.cpp"

# ggml_quant_check.cpp belongs to the quant work: it links moerun's quant/*.cpp too. Its
# failure is reported (and leaves no binary behind, so its own test fails) but does not take
# the logits oracle down with it.
if [[ -f $SCRIPT_DIR/ggml_quant_check.cpp ]]; then
  mapfile -t QSRC < <(find "$REPO/quant" -maxdepth 1 -name '*.cpp' | sort)
  mapfile -t QHDR < <(find "$REPO/quant" "$REPO/core" -maxdepth 1 \( -name '*.h' -o -name '*.def' \) | sort)
  QDEPS=("$SCRIPT_DIR/ggml_quant_check.cpp" "$REPO/simd/ggml_exp.h" "${QSRC[@]}" "${QHDR[@]}" "$INC/.done"
    "$LIB/.done")
  # A failed build leaves a .failed stamp, so warm runs do not recompile unchanged sources
  # just to fail again; they repeat the warning instead.
  QSTAMP=$OUT/ggml_quant_check; [[ -f $QSTAMP ]] || QSTAMP=$OUT/ggml_quant_check.failed
  if stale "$QSTAMP" "${QDEPS[@]}"; then
    rm -f "$OUT/ggml_quant_check" "$OUT/ggml_quant_check.failed"
    if BUILD_LOG=$OUT/ggml_quant_check.log build "$OUT/ggml_quant_check" \
         "$SCRIPT_DIR/ggml_quant_check.cpp" "${QSRC[@]}" -- -I"$REPO" -fopenmp; then
      rm -f "$OUT/ggml_quant_check.log"
    else
      sed 's/^/  /' "$OUT/ggml_quant_check.log" | tail -n 40 >&2
      touch "$OUT/ggml_quant_check.failed"
    fi
  fi
  if [[ -f $OUT/ggml_quant_check.failed ]]; then
    echo "oracle setup: WARNING: ggml_quant_check did not build (log: $OUT/ggml_quant_check.log);" \
         "moerun-oracle is unaffected" >&2
  fi
fi

note "ready in $OUT (llama.cpp $(cut -c1-12 <"$INC/llama.cpp.commit"), node-llama-cpp $NLC_VERSION)"
