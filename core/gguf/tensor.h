// TensorView: a non-owning view of a weight in its block format, straight
// from the mapped file. Shapes use ggml order: ne[0] is the row length K
// (contiguous), ne[1] the number of rows N, ne[2] e.g. the expert index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "quant/format.h"

namespace moerun {

struct TensorView {
  std::string_view name;
  QType type = QType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;  // bytes of one row of ne[0] elements
  // Bytes from one ne[2] slice to the next; 0 means ne[1] * row_bytes. A fused
  // gate+up expert tensor is viewed as two tensors with twice that stride.
  size_t slice_bytes = 0;

  bool valid() const { return data != nullptr; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }  // of a contiguous tensor
  const uint8_t* row(int64_t i) const { return data + static_cast<size_t>(i) * row_bytes; }
  // Slice k of a 3-D tensor (one expert's [ne[1], ne[0]] matrix).
  TensorView slice(int64_t k) const {
    TensorView s = *this;
    s.ne[2] = 1;
    s.n_dims = 2;
    s.data = data + static_cast<size_t>(k) * (slice_bytes != 0 ? slice_bytes : ne[1] * row_bytes);
    s.slice_bytes = 0;
    return s;
  }
};

}  // namespace moerun
