#!/usr/bin/env bash
# Golden test: moerun's block formats against ggml itself (layouts, dequantize, quantize,
# the CPU activation quantizers, vec_dot), via tests/oracle/ggml_quant_check.cpp, which
# setup.sh links against the same prebuilt ggml the oracle uses.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CHECK=$ORACLE_DIR/ggml_quant_check
[[ -x $CHECK ]] || die "$CHECK was not built (see $ORACLE_DIR/ggml_quant_check.log)"
run quant_check "$CHECK"
tail -n 1 "$WORK/quant_check.out"
finish
