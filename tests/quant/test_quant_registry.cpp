// The format registry: ids, names, sizes and activation pairing as in ggml.
#include <doctest/doctest.h>

#include <string>

#include "quant/all_formats.h"
#include "quant/format.h"

namespace moerun {
namespace {

struct Expected {
  QType type;
  uint32_t ggml_id;  // ggml.h enum ggml_type
  const char* name;
  int64_t block_size;
  size_t block_bytes;  // ggml-common.h static_asserts
  QType vec_dot_type;  // ggml-cpu.c type_traits_cpu (Q8_1/Q8_K: moerun's own)
};

// Hand-copied from ggml-common.h / ggml.h / ggml-cpu.c, not from our table.
const Expected kExpected[] = {
    {QType::F32, 0, "f32", 1, 4, QType::F32},
    {QType::F16, 1, "f16", 1, 2, QType::F16},
    {QType::Q4_0, 2, "q4_0", 32, 18, QType::Q8_0},
    {QType::Q4_1, 3, "q4_1", 32, 20, QType::Q8_1},
    {QType::Q5_0, 6, "q5_0", 32, 22, QType::Q8_0},
    {QType::Q5_1, 7, "q5_1", 32, 24, QType::Q8_1},
    {QType::Q8_0, 8, "q8_0", 32, 34, QType::Q8_0},
    {QType::Q8_1, 9, "q8_1", 32, 36, QType::Q8_1},
    {QType::Q4_K, 12, "q4_k", 256, 144, QType::Q8_K},
    {QType::Q5_K, 13, "q5_k", 256, 176, QType::Q8_K},
    {QType::Q6_K, 14, "q6_k", 256, 210, QType::Q8_K},
    {QType::Q8_K, 15, "q8_k", 256, 292, QType::Q8_K},
    {QType::BF16, 30, "bf16", 1, 2, QType::BF16},
};

TEST_CASE("quant registry: every ggml format in formats.def order") {
  size_t count = 0;
  const FormatTraits* formats = all_formats(&count);
  REQUIRE(count == std::size(kExpected));
  for (size_t i = 0; i < count; ++i) {
    const Expected& e = kExpected[i];
    const FormatTraits& f = formats[i];
    CAPTURE(e.name);
    CHECK(f.type == e.type);
    CHECK(static_cast<uint32_t>(f.type) == e.ggml_id);
    CHECK(std::string(f.name) == e.name);
    CHECK(f.block_size == e.block_size);
    CHECK(f.block_bytes == e.block_bytes);
    CHECK(f.vec_dot_type == e.vec_dot_type);
    CHECK((f.dequantize != nullptr));
    CHECK((f.quantize != nullptr));
    // Activations are quantized as weights are, as ggml's portable build
    // does (quant/q8_0.h).
    CHECK((f.quantize_act != nullptr));
    CHECK((f.quantize_act == f.quantize));
    CHECK((f.vec_dot != nullptr));
    CHECK(f.round_trip_budget >= 0.0);
    CHECK(f.round_trip_budget < 0.2);
    CHECK(&format_traits(e.type) == &f);
    CHECK(find_format(e.ggml_id) == &f);
    CHECK(find_format(std::string_view(e.name)) == &f);
  }
}

TEST_CASE("quant registry: block structs have ggml's sizes") {
  CHECK(sizeof(BlockQ4_0) == 18);
  CHECK(sizeof(BlockQ4_1) == 20);
  CHECK(sizeof(BlockQ5_0) == 22);
  CHECK(sizeof(BlockQ5_1) == 24);
  CHECK(sizeof(BlockQ8_0) == 34);
  CHECK(sizeof(BlockQ8_1) == 36);
  CHECK(sizeof(BlockQ4_K) == 144);
  CHECK(sizeof(BlockQ5_K) == 176);
  CHECK(sizeof(BlockQ6_K) == 210);
  CHECK(sizeof(BlockQ8_K) == 292);
}

TEST_CASE("quant registry: lookups by name are case-insensitive and exact") {
  REQUIRE(find_format("Q4_K") != nullptr);
  CHECK(find_format("Q4_K")->type == QType::Q4_K);
  CHECK(find_format("BF16")->type == QType::BF16);
  CHECK(find_format("q4_k_m") == nullptr);  // a file type, not a format
  CHECK(find_format("q4") == nullptr);
  CHECK(find_format("") == nullptr);
  CHECK(find_format(uint32_t{4}) == nullptr);   // Q4_2, removed from ggml
  CHECK(find_format(uint32_t{10}) == nullptr);  // Q2_K: not supported yet
  CHECK(find_format(uint32_t{1000}) == nullptr);
}

TEST_CASE("quant registry: row_bytes") {
  CHECK(row_bytes(QType::F32, 7) == 28);
  CHECK(row_bytes(QType::F16, 7) == 14);
  CHECK(row_bytes(QType::Q4_0, 4096) == 128 * 18);
  CHECK(row_bytes(QType::Q8_0, 96) == 3 * 34);
  CHECK(row_bytes(QType::Q4_K, 4096) == 16 * 144);
  CHECK(row_bytes(QType::Q6_K, 768) == 3 * 210);
  CHECK(row_bytes(QType::Q8_K, 256) == 292);
}

}  // namespace
}  // namespace moerun
