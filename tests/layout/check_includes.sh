#!/usr/bin/env bash
# Include rules of the source tree (core/README.md, README.md "Layout"): which
# folder may include which. Prints every include that breaks a rule and fails;
# prints one summary line when the tree is clean.
#   usage: check_includes.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"

# folder -> the include prefixes it may use (besides system headers).
declare -A allowed=(
  [core/gguf]="core/error.h core/gguf/ quant/"
  [core/text]="core/error.h core/gguf/ core/text/"
  [core/chat]="core/error.h core/chat/"
  [core/compute]="core/error.h core/gguf/ core/text/ core/compute/ quant/ simd/"
  [quant]="core/error.h quant/"
  [simd]="core/error.h simd/ quant/"
  [models]="core/ quant/ simd/ models/"
)

bad=0
checked=0
for dir in "${!allowed[@]}"; do
  [ -d "$dir" ] || { echo "check_includes: folder $dir is missing"; bad=1; continue; }
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    checked=$((checked + 1))
    ok=0
    for prefix in ${allowed[$dir]}; do
      [[ $inc == "$prefix"* ]] && { ok=1; break; }
    done
    if [ $ok = 0 ]; then
      echo "check_includes: $file includes \"$inc\" (a $dir/ file may include only: ${allowed[$dir]})"
      bad=1
    fi
  done < <(grep -rHE '^[[:space:]]*#[[:space:]]*include "' "$dir" --include='*.h' --include='*.cpp' --include='*.def' || true)
done

# core/ itself holds only error.h and the concern folders.
for f in core/*; do
  case "$f" in
    core/error.h|core/README.md|core/gguf|core/text|core/chat|core/compute) ;;
    *) echo "check_includes: $f sits at the top of core/ (move it into a concern folder)"; bad=1 ;;
  esac
done

[ $bad = 0 ] && echo "check_includes: $checked includes follow the layout rules"
exit $bad
