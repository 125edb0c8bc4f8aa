// GGUF v3 reader over a read-only memory map.
// Owns: parsing and validating the header, every metadata value, the tensor
// infos, and zero-copy views of tensor data. Every offset, size, type and
// dimension is checked before use; a bad file throws moerun::Error naming the
// file and what is wrong. Does not own: what the keys mean (models/, core/text/
// tokenizer), writing files (gguf_writer.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moerun {

// Value type ids as stored in the file (GGUF spec).
enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars are decoded; strings and arrays point into the
// mapping (valid as long as the GgufFile lives).
struct GgufValue {
  GgufType type = GgufType::kU8;
  uint64_t u = 0;        // unsigned integers and bool
  int64_t i = 0;         // signed integers
  double f = 0;          // floats
  std::string_view str;  // kString

  // kArray: element type and count; numeric elements are `raw` (count ×
  // element size, little-endian, possibly unaligned); strings are `strs`;
  // nested arrays are `items`.
  GgufType elem_type = GgufType::kU8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;
  std::vector<std::string_view> strs;
  std::vector<GgufValue> items;

  bool is_integer() const;
  bool is_float() const { return type == GgufType::kF32 || type == GgufType::kF64; }
  bool is_numeric_array() const;
  int64_t array_int(uint64_t idx) const;   // numeric array element as integer
  double array_float(uint64_t idx) const;  // numeric array element as double
};

enum class LoadMode {
  kMmap,   // map read-only, pages come in on first touch (default)
  kMlock,  // map and lock every page in RAM
  kNoMmap, // read the whole file into anonymous memory
};

// One tensor info. ne[] uses ggml order: ne[0] is the row length (contiguous).
struct GgufTensor {
  std::string name;
  uint32_t type = 0;       // ggml type id (quant/formats.def)
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  uint64_t offset = 0;     // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
};

// Called as the file comes into memory (kNoMmap: read; kMlock: locked),
// with the bytes done so far and the file size. kMmap brings nothing in at
// open (pages arrive on first touch), so it never calls it.
using LoadProgress = std::function<void(uint64_t done, uint64_t total)>;

class GgufFile {
 public:
  // Opens and validates `path`. Throws moerun::Error (kBadInput) on any defect.
  static std::unique_ptr<GgufFile> open(const std::string& path, LoadMode mode = LoadMode::kMmap,
                                        const LoadProgress& progress = {});
  // Validates a GGUF image already in memory, under the same checks as open().
  // `data` is not copied: it must outlive the GgufFile. `name` stands for the
  // path in messages. For fuzzing and tests. `data` must be aligned to
  // kImageAlignment (std::invalid_argument otherwise), as a mapping is.
  static constexpr uintptr_t kImageAlignment = 16;  // what malloc gives; enough for every block field
  static std::unique_ptr<GgufFile> from_memory(const std::string& name, const uint8_t* data, size_t size);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  // Share of the file's resident bytes mapped in 2 MiB pages (0..1), read
  // from /proc/self/smaps; -1 where that cannot be read. Decode speed
  // depends on it (core/gguf/huge_pages.cpp).
  double huge_page_share() const;

  // Metadata, in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters: throw a bad-input Error naming the file and key when the
  // key is missing (no default given) or holds an incompatible type.
  uint64_t get_uint(std::string_view key) const;
  uint64_t get_uint(std::string_view key, uint64_t dflt) const;
  int64_t get_int(std::string_view key) const;
  int64_t get_int(std::string_view key, int64_t dflt) const;
  double get_float(std::string_view key) const;  // any numeric type
  double get_float(std::string_view key, double dflt) const;
  bool get_bool(std::string_view key) const;
  bool get_bool(std::string_view key, bool dflt) const;
  std::string get_string(std::string_view key) const;
  std::string get_string(std::string_view key, std::string_view dflt) const;
  // Array getters; the element type must be compatible (numeric or string).
  const GgufValue& get_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  const std::vector<std::string_view>& get_string_array(std::string_view key) const;

  // general.architecture (required for model files).
  std::string architecture() const { return get_string("general.architecture"); }

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  void parse();
  [[noreturn]] void fail_key(std::string_view key, const std::string& what) const;

  std::string path_;
  LoadMode mode_ = LoadMode::kMmap;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, FreeDeleter> owned_;  // kNoMmap: aligned_alloc'ed copy
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace moerun
