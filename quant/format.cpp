// The format registry: the traits table expanded from quant/formats.def, the
// lookups over it, and row sizes. Owns no format's math (quant/<format>.h).
#include "quant/format.h"

#include <cctype>
#include <cstddef>
#include <string_view>

#include "quant/all_formats.h"

namespace moerun {
namespace {

constexpr FormatTraits kFormats[] = {
#define MOERUN_FORMAT(id, name, ggml_id, block, block_size, dequantize,    \
                      quantize, quantize_act, vec_dot_type, vec_dot,       \
                      round_trip_budget)                                   \
  {QType::id, name, block_size, sizeof(block), dequantize, quantize,       \
   quantize_act, QType::vec_dot_type, vec_dot, round_trip_budget},
#include "quant/formats.def"
#undef MOERUN_FORMAT
};

constexpr size_t kFormatCount = sizeof(kFormats) / sizeof(kFormats[0]);

// Each row's activation format must itself be a registered format whose
// block size divides the weight's, so vec_dot can walk both rows together.
constexpr const FormatTraits* lookup(QType t) {
  for (const FormatTraits& f : kFormats) {
    if (f.type == t) return &f;
  }
  return nullptr;
}
constexpr bool registry_is_consistent() {
  for (size_t i = 0; i < kFormatCount; ++i) {
    const FormatTraits* act = lookup(kFormats[i].vec_dot_type);
    if (act == nullptr || kFormats[i].block_size % act->block_size != 0) {
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (kFormats[j].type == kFormats[i].type) return false;  // duplicate id
    }
  }
  return true;
}
static_assert(registry_is_consistent(),
              "formats.def: duplicate ggml id or unusable vec_dot_type");

bool equal_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

const FormatTraits* find_format(uint32_t ggml_id) {
  for (const FormatTraits& f : kFormats) {
    if (static_cast<uint32_t>(f.type) == ggml_id) return &f;
  }
  return nullptr;
}

const FormatTraits* find_format(std::string_view name) {
  for (const FormatTraits& f : kFormats) {
    if (equal_ignore_case(f.name, name)) return &f;
  }
  return nullptr;
}

const FormatTraits& format_traits(QType t) { return *lookup(t); }

const FormatTraits* all_formats(size_t* count) {
  *count = kFormatCount;
  return kFormats;
}

QType fallback_type(QType target, int64_t row) {
  if (row % format_traits(target).block_size == 0) return target;
  QType alt = target;
  switch (target) {
    case QType::Q4_K: alt = QType::Q5_0; break;
    case QType::Q5_K: alt = QType::Q5_1; break;
    case QType::Q6_K: alt = QType::Q8_0; break;
    default: break;
  }
  return row % format_traits(alt).block_size == 0 ? alt : QType::F16;
}

size_t row_bytes(QType t, int64_t n) {
  const FormatTraits& f = format_traits(t);
  return static_cast<size_t>(n / f.block_size) * f.block_bytes;
}

}  // namespace moerun
