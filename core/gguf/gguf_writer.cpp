// GGUF v3 writer. Values are encoded into bytes when set, so write() is one
// pass: header, metadata, tensor infos, then each tensor's data, padded to
// the alignment.
#include "core/gguf/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace moerun {

namespace {

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void put_type(std::vector<uint8_t>& out, GgufType t) { put<uint32_t>(out, static_cast<uint32_t>(t)); }

size_t elem_size(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    case GgufType::kString: case GgufType::kArray: return 0;
  }
  return 0;
}

// Encodes v's payload (without its type id).
void put_value(std::vector<uint8_t>& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::kU8: put<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case GgufType::kI8: put<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case GgufType::kU16: put<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case GgufType::kI16: put<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case GgufType::kU32: put<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case GgufType::kI32: put<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case GgufType::kU64: put<uint64_t>(out, v.u); break;
    case GgufType::kI64: put<int64_t>(out, v.i); break;
    case GgufType::kF32: put<float>(out, static_cast<float>(v.f)); break;
    case GgufType::kF64: put<double>(out, v.f); break;
    case GgufType::kBool: put<uint8_t>(out, v.u ? 1 : 0); break;
    case GgufType::kString: put_string(out, v.str); break;
    case GgufType::kArray:
      put_type(out, v.elem_type);
      put<uint64_t>(out, v.count);
      if (v.elem_type == GgufType::kString) {
        for (std::string_view s : v.strs) put_string(out, s);
      } else if (v.elem_type == GgufType::kArray) {
        for (const GgufValue& item : v.items) put_value(out, item);
      } else {
        out.insert(out.end(), v.raw, v.raw + v.count * elem_size(v.elem_type));
      }
      break;
  }
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

GgufWriter::Kv& GgufWriter::slot(std::string_view key) {
  for (Kv& kv : kv_) {
    if (kv.key == key) {
      kv.bytes.clear();
      return kv;
    }
  }
  kv_.push_back({std::string(key), {}});
  return kv_.back();
}

void GgufWriter::set_u32(std::string_view key, uint32_t v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kU32);
  put(s.bytes, v);
}
void GgufWriter::set_i32(std::string_view key, int32_t v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kI32);
  put(s.bytes, v);
}
void GgufWriter::set_u64(std::string_view key, uint64_t v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kU64);
  put(s.bytes, v);
}
void GgufWriter::set_f32(std::string_view key, float v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kF32);
  put(s.bytes, v);
}
void GgufWriter::set_bool(std::string_view key, bool v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kBool);
  put<uint8_t>(s.bytes, v ? 1 : 0);
}
void GgufWriter::set_string(std::string_view key, std::string_view v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kString);
  put_string(s.bytes, v);
}
void GgufWriter::set_string_array(std::string_view key, const std::vector<std::string>& v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kArray);
  put_type(s.bytes, GgufType::kString);
  put<uint64_t>(s.bytes, v.size());
  for (const std::string& x : v) put_string(s.bytes, x);
}
void GgufWriter::set_f32_array(std::string_view key, const std::vector<float>& v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kArray);
  put_type(s.bytes, GgufType::kF32);
  put<uint64_t>(s.bytes, v.size());
  for (float x : v) put(s.bytes, x);
}
void GgufWriter::set_i32_array(std::string_view key, const std::vector<int32_t>& v) {
  Kv& s = slot(key);
  put_type(s.bytes, GgufType::kArray);
  put_type(s.bytes, GgufType::kI32);
  put<uint64_t>(s.bytes, v.size());
  for (int32_t x : v) put(s.bytes, x);
}
void GgufWriter::set_value(std::string_view key, const GgufValue& v) {
  Kv& s = slot(key);
  put_type(s.bytes, v.type);
  put_value(s.bytes, v);
}
void GgufWriter::remove(std::string_view key) {
  for (size_t k = 0; k < kv_.size(); ++k) {
    if (kv_[k].key == key) {
      kv_.erase(kv_.begin() + static_cast<ptrdiff_t>(k));
      return;
    }
  }
}

void GgufWriter::add_tensor(std::string name, QType type, std::vector<int64_t> ne, Producer produce) {
  if (ne.empty() || ne.size() > 4) fail("tensor '" + name + "': 1..4 dimensions required");
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  const FormatTraits& f = format_traits(type);
  if (ne[0] % f.block_size != 0) {
    fail("tensor '" + name + "': row length " + std::to_string(ne[0]) + " is not a multiple of the " + f.name +
         " block size " + std::to_string(f.block_size));
  }
  const uint64_t nbytes = static_cast<uint64_t>(n / f.block_size) * f.block_bytes;
  tensors_.push_back({std::move(name), type, std::move(ne), nbytes, std::move(produce)});
}

void GgufWriter::add_tensor_copy(std::string name, QType type, std::vector<int64_t> ne, const void* data) {
  add_tensor(std::move(name), type, std::move(ne), nullptr);
  Tensor& t = tensors_.back();
  const uint64_t nbytes = t.nbytes;
  t.produce = [data, nbytes](uint8_t* dst) { std::memcpy(dst, data, nbytes); };
}

void GgufWriter::write(const std::string& path, const std::function<void(size_t, size_t)>& progress) const {
  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) fail_runtime(tmp + ": cannot create: " + std::strerror(errno));
  auto io_fail = [&](const std::string& what) {
    f.reset();
    std::remove(tmp.c_str());
    fail_runtime(path + ": " + what);
  };
  auto emit = [&](const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f.get()) != n) io_fail(std::string("write failed: ") + std::strerror(errno));
  };

  std::vector<uint8_t> head;
  head.insert(head.end(), {'G', 'G', 'U', 'F'});
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  const bool own_alignment = alignment_ != 32;
  put<uint64_t>(head, kv_.size() + (own_alignment ? 1 : 0));
  for (const Kv& kv : kv_) {
    put_string(head, kv.key);
    head.insert(head.end(), kv.bytes.begin(), kv.bytes.end());
  }
  if (own_alignment) {
    put_string(head, "general.alignment");
    put_type(head, GgufType::kU32);
    put<uint32_t>(head, alignment_);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(head, static_cast<uint64_t>(d));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  head.resize((head.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  emit(head.data(), head.size());

  std::vector<uint8_t> buf;
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const Tensor& t = tensors_[k];
    const uint64_t padded = (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
    buf.assign(padded, 0);
    t.produce(buf.data());
    emit(buf.data(), buf.size());
    if (progress) progress(k + 1, tensors_.size());
  }
  if (std::fflush(f.get()) != 0) io_fail(std::string("write failed: ") + std::strerror(errno));
  f.reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail_runtime(path + ": cannot rename from " + tmp + ": " + std::strerror(errno));
  }
}

}  // namespace moerun
