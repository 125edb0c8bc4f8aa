// Block formats: the ggml-compatible weight/activation encodings moerun reads
// and writes, and the scalar reference for each (quantize, dequantize, dot).
// Owns: the format registry (formats.def) and the traits table built from it.
// Does not own: SIMD (simd/), choosing a format for a tensor (cli quantize).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace moerun {

// Enum values are the ggml type ids stored in GGUF tensor infos.
enum class QType : uint32_t {
#define MOERUN_FORMAT(id, name, ggml_id, ...) id = ggml_id,
#include "quant/formats.def"
#undef MOERUN_FORMAT
};

// dst/src lengths are n elements; n must be a multiple of block_size.
using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);
// Dot product of n elements: weight row `w` (this format) with activation row
// `a` (in this format's vec_dot_type). Scalar reference; simd/ has fast ones.
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);

struct FormatTraits {
  QType type;
  const char* name;          // lower-case, as users type it: "q4_k", "f16"
  int64_t block_size;        // elements per block
  size_t block_bytes;        // bytes per block
  DequantizeFn dequantize;   // always present
  QuantizeFn quantize;       // nullptr where moerun cannot write this format
  QuantizeFn quantize_act;   // as llama.cpp's CPU backend quantizes activations
  QType vec_dot_type;        // activation format paired in dot products
  VecDotFn vec_dot;          // w (this) · a (vec_dot_type)
  double round_trip_budget;  // max RMS(x - dq(q(x))) / RMS(x) on N(0,1) data
};

// nullptr when `ggml_id` is not a format moerun knows.
const FormatTraits* find_format(uint32_t ggml_id);
// Case-insensitive name lookup ("Q4_K", "q8_0"); nullptr when unknown.
const FormatTraits* find_format(std::string_view name);
// Traits of a known format (QType values always exist in the table).
const FormatTraits& format_traits(QType t);

// The type a row of `row` elements is written in when `target` is asked for:
// target when the row is a whole number of its blocks, else llama.cpp's
// quantizer fallback (q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0), else f16.
QType fallback_type(QType target, int64_t row);

// Every registered format, in formats.def order.
const FormatTraits* all_formats(size_t* count);

// Bytes of a row of n elements; n must be a multiple of the block size.
size_t row_bytes(QType t, int64_t n);

// Scalar half/bfloat conversions shared by every format.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

}  // namespace moerun
