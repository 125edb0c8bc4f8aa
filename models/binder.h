// Binder: looks up a model's tensors by GGUF name and checks each against
// the shape the hyperparameters imply, so a misshapen file fails at load
// with the tensor's name and both shapes, never inside a kernel.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/gguf/gguf.h"
#include "core/gguf/tensor.h"

namespace moerun {

class Binder {
 public:
  explicit Binder(const GgufFile& f) : f_(f) {}
  // Required tensor with exactly this shape (ggml order, trailing 1s optional).
  TensorView get(const std::string& name, std::initializer_list<int64_t> shape) const;
  // Optional: returns an invalid view (data == nullptr) when absent.
  TensorView get_optional(const std::string& name, std::initializer_list<int64_t> shape) const;
  // A weight used as float directly (norms, biases): must be F32.
  const float* get_f32(const std::string& name, std::initializer_list<int64_t> shape) const;
  const float* get_f32_optional(const std::string& name, std::initializer_list<int64_t> shape) const;

  // Sum of elements and bytes of everything bound so far.
  int64_t n_params() const { return n_params_; }
  uint64_t n_bytes() const { return n_bytes_; }

 private:
  TensorView view(const GgufTensor& t, std::initializer_list<int64_t> shape) const;
  const GgufFile& f_;
  mutable int64_t n_params_ = 0;
  mutable uint64_t n_bytes_ = 0;
};

// "blk.3.attn_q.weight" from ("attn_q", 3)
inline std::string blk(int64_t layer, const char* name) {
  return "blk." + std::to_string(layer) + "." + name + ".weight";
}

}  // namespace moerun
