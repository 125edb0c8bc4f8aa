// GGUF v3 writer: metadata plus tensors, produced lazily one at a time so a
// multi-gigabyte file (quantize, synth) never sits in memory whole.
// Writes PATH.tmp and renames it on success, so a failure leaves no partial
// output file (DESIGN §9). Does not own: choosing types or shapes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/gguf/gguf.h"
#include "quant/format.h"

namespace moerun {

class GgufWriter {
 public:
  // Fills `dst` (already sized to the tensor's byte size) with the tensor data.
  using Producer = std::function<void(uint8_t* dst)>;

  void set_u32(std::string_view key, uint32_t v);
  void set_i32(std::string_view key, int32_t v);
  void set_u64(std::string_view key, uint64_t v);
  void set_f32(std::string_view key, float v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  void set_string_array(std::string_view key, const std::vector<std::string>& v);
  void set_f32_array(std::string_view key, const std::vector<float>& v);
  void set_i32_array(std::string_view key, const std::vector<int32_t>& v);
  // Copies a value read from another file, whatever its type.
  void set_value(std::string_view key, const GgufValue& v);
  // Removes a key if present (e.g. to replace general.file_type).
  void remove(std::string_view key);

  // ne in ggml order (ne[0] = row length), 1..4 dims.
  void add_tensor(std::string name, QType type, std::vector<int64_t> ne, Producer produce);
  void add_tensor_copy(std::string name, QType type, std::vector<int64_t> ne, const void* data);

  void set_alignment(uint32_t a) { alignment_ = a; }
  // Writes the file; throws moerun::Error (runtime) on I/O failure.
  // `progress(i, n)` is called after each tensor when given.
  void write(const std::string& path, const std::function<void(size_t, size_t)>& progress = {}) const;

 private:
  struct Kv {
    std::string key;
    std::vector<uint8_t> bytes;  // type id + encoded value
  };
  struct Tensor {
    std::string name;
    QType type;
    std::vector<int64_t> ne;
    uint64_t nbytes;
    Producer produce;
  };
  Kv& slot(std::string_view key);

  std::vector<Kv> kv_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace moerun
