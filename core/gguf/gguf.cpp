// GGUF v3 reader: map, walk, check. Every read goes through Cursor, which
// knows how many bytes remain, so a truncated or hostile file ends in an
// Error naming the file and the key or tensor being read, never a wild read.
#include "core/gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

#include "core/error.h"
#include "core/gguf/memory_limits.h"
#include "quant/format.h"

namespace moerun {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;  // x86-64 and arm64 (4 KiB granule) PMD size
// Bytes read or locked per step when loading: a progress report every
// ~0.1 s at disk speed, a negligible number of system calls.
constexpr uint64_t kLoadStep = uint64_t{64} << 20;

// Metadata nesting deeper than this is not produced by any converter; the
// limit keeps a hostile file from recursing the stack away.
constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    case GgufType::kString: case GgufType::kArray: return 0;
  }
  return 0;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kF64); }

std::string errno_text() { return std::strerror(errno); }

// A key or tensor name as it appears in a message: names come from the file
// and may be megabytes long. (Error escapes control bytes.)
std::string shown(std::string_view name) {
  constexpr size_t kMaxShown = 96;
  if (name.size() <= kMaxShown) return std::string(name);
  return std::string(name.substr(0, kMaxShown)) + "...(" + std::to_string(name.size()) + " bytes)";
}

// Bounds-checked little-endian reader over [pos, end).
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* base, uint64_t size)
      : path_(path), base_(base), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void set_context(std::string ctx) { ctx_ = std::move(ctx); }

  [[noreturn]] void fail_here(const std::string& what) const {
    std::string msg = path_ + ": " + what + " at offset " + std::to_string(pos_);
    if (!ctx_.empty()) msg += " (" + ctx_ + ")";
    fail(msg);
  }

  const uint8_t* take(uint64_t n, const char* what) {
    if (n > remaining()) {
      fail_here(std::string("truncated file: ") + what + " needs " + std::to_string(n) +
                " bytes, " + std::to_string(remaining()) + " left");
    }
    const uint8_t* p = base_ + pos_;
    pos_ += n;
    return p;
  }

  template <typename T>
  T read(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }

  std::string_view read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    const uint8_t* p = take(len, what);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
  }

 private:
  const std::string& path_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string ctx_;
};

void read_value(Cursor& cur, GgufType type, GgufValue& out, int depth);

void read_array(Cursor& cur, GgufValue& out, int depth) {
  if (depth >= kMaxArrayDepth) cur.fail_here("arrays nested deeper than " + std::to_string(kMaxArrayDepth));
  const uint32_t et = cur.read<uint32_t>("array element type");
  if (!valid_type(et)) cur.fail_here("unknown array element type " + std::to_string(et));
  out.elem_type = static_cast<GgufType>(et);
  out.count = cur.read<uint64_t>("array length");
  if (out.elem_type == GgufType::kString) {
    // Each string takes at least its 8-byte length: reject counts that cannot
    // fit before reserving memory for them.
    if (out.count > cur.remaining() / 8) cur.fail_here("truncated or corrupt file: array of " + std::to_string(out.count) + " strings cannot fit in the bytes left");
    out.strs.reserve(out.count);
    for (uint64_t k = 0; k < out.count; ++k) out.strs.push_back(cur.read_string("array string"));
  } else if (out.elem_type == GgufType::kArray) {
    if (out.count > cur.remaining() / 12) cur.fail_here("truncated or corrupt file: array of " + std::to_string(out.count) + " arrays cannot fit in the bytes left");
    out.items.resize(out.count);
    for (uint64_t k = 0; k < out.count; ++k) read_value(cur, GgufType::kArray, out.items[k], depth + 1);
  } else {
    const size_t es = scalar_size(out.elem_type);
    if (out.count > cur.remaining() / es) cur.fail_here("truncated or corrupt file: array of " + std::to_string(out.count) + " elements cannot fit in the bytes left");
    out.raw = cur.take(out.count * es, "array data");
  }
}

void read_value(Cursor& cur, GgufType type, GgufValue& out, int depth) {
  out.type = type;
  switch (type) {
    case GgufType::kU8: out.u = cur.read<uint8_t>("u8 value"); break;
    case GgufType::kI8: out.i = cur.read<int8_t>("i8 value"); break;
    case GgufType::kU16: out.u = cur.read<uint16_t>("u16 value"); break;
    case GgufType::kI16: out.i = cur.read<int16_t>("i16 value"); break;
    case GgufType::kU32: out.u = cur.read<uint32_t>("u32 value"); break;
    case GgufType::kI32: out.i = cur.read<int32_t>("i32 value"); break;
    case GgufType::kU64: out.u = cur.read<uint64_t>("u64 value"); break;
    case GgufType::kI64: out.i = cur.read<int64_t>("i64 value"); break;
    case GgufType::kF32: out.f = cur.read<float>("f32 value"); break;
    case GgufType::kF64: out.f = cur.read<double>("f64 value"); break;
    case GgufType::kBool: {
      const uint8_t b = cur.read<uint8_t>("bool value");
      if (b > 1) cur.fail_here("bool value " + std::to_string(b) + " is neither 0 nor 1");
      out.u = b;
      break;
    }
    case GgufType::kString: out.str = cur.read_string("string value"); break;
    case GgufType::kArray: read_array(cur, out, depth); break;
  }
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "?";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

bool GgufValue::is_numeric_array() const {
  return type == GgufType::kArray && elem_type != GgufType::kString && elem_type != GgufType::kArray;
}

int64_t GgufValue::array_int(uint64_t idx) const {
  const uint8_t* p = raw + idx * scalar_size(elem_type);
  switch (elem_type) {
    case GgufType::kU8: case GgufType::kBool: return *p;
    case GgufType::kI8: return static_cast<int8_t>(*p);
    case GgufType::kU16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case GgufType::kI16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case GgufType::kU32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case GgufType::kI32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case GgufType::kU64: { uint64_t v; std::memcpy(&v, p, 8); return static_cast<int64_t>(v); }
    case GgufType::kI64: { int64_t v; std::memcpy(&v, p, 8); return v; }
    case GgufType::kF32: { float v; std::memcpy(&v, p, 4); return static_cast<int64_t>(v); }
    case GgufType::kF64: { double v; std::memcpy(&v, p, 8); return static_cast<int64_t>(v); }
    default: return 0;
  }
}

double GgufValue::array_float(uint64_t idx) const {
  const uint8_t* p = raw + idx * scalar_size(elem_type);
  switch (elem_type) {
    case GgufType::kF32: { float v; std::memcpy(&v, p, 4); return v; }
    case GgufType::kF64: { double v; std::memcpy(&v, p, 8); return v; }
    default: return static_cast<double>(array_int(idx));
  }
}

namespace {

// What running needs besides the file: thread stacks, the KV cache of a
// default context, activations. A rough figure; it only keeps the refusal
// below from passing a load that would fail a moment later.
constexpr uint64_t kRunHeadroom = uint64_t{256} << 20;

// Refuses up front a load that cannot fit (memory_limits.h), naming the sizes.
void check_memory(const std::string& path, uint64_t size, LoadMode mode) {
  const MemoryLimits m = read_memory_limits();
  if (m.address_space_limit != kNoLimit && size + kRunHeadroom > m.address_space_left()) {
    fail_runtime(path + ": the model file is " + human_size(size) + " and running it needs about " +
                 human_size(kRunHeadroom) + " more, but only " + human_size(m.address_space_left()) +
                 " of address space is left under the limit of " + human_size(m.address_space_limit) +
                 " (ulimit -v); raise the limit");
  }
  if (mode == LoadMode::kMmap) return;  // mapped pages are page cache: the kernel reads them back as needed
  if (size + kRunHeadroom > m.ram_available) {
    const char* how = mode == LoadMode::kNoMmap ? "reading it into memory (--no-mmap)" : "locking it in memory (--mlock)";
    const char* which = m.cgroup_available < m.system_available ? "under this cgroup's memory limit"
                                                                : "on this machine (MemAvailable + free swap)";
    fail_runtime(path + ": the model file is " + human_size(size) + "; " + how + " needs more than the " +
                 human_size(m.ram_available) + " available " + which +
                 "; without the option moerun maps the file and pages the weights in from it");
  }
}

}  // namespace

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path, LoadMode mode, const LoadProgress& progress) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->mode_ = mode;

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path + ": cannot open: " + errno_text());
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const std::string e = errno_text();
    ::close(fd);
    fail(path + ": cannot stat: " + e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path + ": not a regular file");
  }
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ < 8) {
    ::close(fd);
    fail(path + ": truncated file: " + std::to_string(f->size_) + " bytes is shorter than a GGUF header");
  }

  try {
    check_memory(path, f->size_, mode);
  } catch (const Error&) {
    ::close(fd);
    throw;
  }
  if (mode == LoadMode::kNoMmap) {
    // 2 MiB-aligned and advised as huge pages: decode streams the weights,
    // and with 4 KiB pages every page costs a TLB miss and stops the
    // hardware prefetcher at its boundary (ds2-lite Q4_0 decode, 2 threads,
    // Zen 5: 16-18 tokens/s in 4 KiB pages, 27-28 in 2 MiB pages). Tensor
    // data (aligned within the file) stays aligned.
    const size_t cap = (f->size_ + kHugePage - 1) & ~(kHugePage - 1);
    void* mem = std::aligned_alloc(kHugePage, cap);
    if (mem != nullptr) ::madvise(mem, cap, MADV_HUGEPAGE);
    if (mem == nullptr) {
      ::close(fd);
      fail_runtime(path + ": cannot allocate " + std::to_string(f->size_) + " bytes to read the file");
    }
    f->owned_.reset(static_cast<uint8_t*>(mem));
    uint64_t done = 0;
    while (done < f->size_) {
      const ssize_t r = ::read(fd, f->owned_.get() + done, std::min<uint64_t>(f->size_ - done, kLoadStep));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        const std::string e = r < 0 ? errno_text() : "unexpected end of file";
        ::close(fd);
        fail(path + ": read failed: " + e);
      }
      done += static_cast<uint64_t>(r);
      if (progress) progress(done, f->size_);
    }
    f->base_ = f->owned_.get();
  } else {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string e = errno_text();
      ::close(fd);
      fail_runtime(path + ": mapping the " + human_size(f->size_) + " file failed: " + e);
    }
    f->base_ = static_cast<const uint8_t*>(p);
    f->mapped_ = true;
    // Before any page is touched: file pages read in from here on come in
    // 2 MiB folios where the file system has them (ext4, xfs on recent
    // kernels), mapped by one TLB entry each (see kNoMmap for why). Pages
    // already cached in small folios stay small; `bench` reports the share.
    ::madvise(p, f->size_, MADV_HUGEPAGE);
    // Locked in steps (page-aligned: the mapping is) so progress can be shown.
    for (uint64_t done = 0; mode == LoadMode::kMlock && done < f->size_;) {
      const uint64_t n = std::min<uint64_t>(f->size_ - done, kLoadStep);
      if (::mlock(static_cast<const uint8_t*>(p) + done, n) != 0) {
        const std::string e = errno_text();
        ::close(fd);
        fail_runtime(path + ": mlock of " + std::to_string(f->size_) + " bytes failed: " + e +
                     " (raise the memlock limit or drop --mlock)");
      }
      done += n;
      if (progress) progress(done, f->size_);
    }
  }
  ::close(fd);
  f->parse();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const std::string& name, const uint8_t* data, size_t size) {
  // Tensor data is read in place; the file's alignment is relative to its
  // start, so the start must be aligned as a mapping's is.
  if (reinterpret_cast<uintptr_t>(data) % kImageAlignment != 0) {
    throw std::invalid_argument("GgufFile::from_memory: the image must start 16-byte aligned");
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = name;
  f->base_ = data;
  f->size_ = size;
  f->parse();
  return f;
}

void GgufFile::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

GgufFile::~GgufFile() {
  if (mapped_ && base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), size_);
}

void GgufFile::parse() {
  Cursor cur(path_, base_, size_);
  const uint8_t* magic = cur.take(4, "magic");
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    fail(path_ + ": not a GGUF file (magic bytes are not 'GGUF')");
  }
  version_ = cur.read<uint32_t>("version");
  // v2 and v3 share the little-endian layout (v3 only added big-endian files,
  // which announce themselves as a byte-swapped version number).
  if (version_ != 2 && version_ != 3) {
    fail(path_ + ": unsupported GGUF version " + std::to_string(version_) + " (moerun reads versions 2 and 3)");
  }
  const uint64_t n_tensors = cur.read<uint64_t>("tensor count");
  const uint64_t n_kv = cur.read<uint64_t>("metadata count");
  // A key/value takes at least 8 (key length) + 4 (type) + 1 bytes, a tensor
  // info at least 8 + 4 + 4 + 8 bytes: counts beyond that are lies.
  if (n_kv > cur.remaining() / 13) fail(path_ + ": truncated or corrupt file: metadata count " + std::to_string(n_kv) + " cannot fit in the file");
  if (n_tensors > cur.remaining() / 24) fail(path_ + ": truncated or corrupt file: tensor count " + std::to_string(n_tensors) + " cannot fit in the file");

  // Names are checked for duplicates as views into the file, which stay put.
  std::unordered_set<std::string_view> seen;
  kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    cur.set_context("metadata entry " + std::to_string(k));
    const std::string_view key = cur.read_string("metadata key");
    cur.set_context("key '" + shown(key) + "'");
    const uint32_t t = cur.read<uint32_t>("value type");
    if (!valid_type(t)) cur.fail_here("unknown value type " + std::to_string(t));
    GgufValue v;
    read_value(cur, static_cast<GgufType>(t), v, 0);
    if (!seen.insert(key).second) cur.fail_here("duplicate metadata key");
    kv_.emplace_back(std::string(key), std::move(v));
  }
  // Index after the vector stops growing so the string_views stay valid.
  kv_index_.clear();
  for (size_t k = 0; k < kv_.size(); ++k) kv_index_.emplace(kv_[k].first, k);

  // The GGUF spec asks for a multiple of 8; below that, float and block
  // data would sit misaligned for the kernels that read them in place.
  if (const GgufValue* a = find("general.alignment")) {
    const bool is_signed = a->type == GgufType::kI8 || a->type == GgufType::kI16 || a->type == GgufType::kI32 ||
                           a->type == GgufType::kI64;
    const int64_t al = is_signed ? a->i : static_cast<int64_t>(std::min<uint64_t>(a->u, INT64_MAX));
    if (!a->is_integer() || al < 8 || (al & (al - 1)) != 0 || al > (1 << 20)) {
      fail(path_ + ": key 'general.alignment' must be a power of two from 8 to 1048576 (got " +
           (!a->is_integer() ? std::string(gguf_type_name(a->type))
                              : is_signed ? std::to_string(a->i) : std::to_string(a->u)) +
           ")");
    }
    alignment_ = static_cast<uint64_t>(al);
  }

  std::unordered_set<std::string_view> seen_tensors;
  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    cur.set_context("tensor info " + std::to_string(k));
    GgufTensor t;
    const std::string_view name = cur.read_string("tensor name");
    t.name = std::string(name);
    cur.set_context("tensor '" + shown(t.name) + "'");
    const uint32_t nd = cur.read<uint32_t>("dimension count");
    if (nd == 0 || nd > kMaxDims) cur.fail_here("dimension count " + std::to_string(nd) + " is not in 1..4");
    t.n_dims = static_cast<int>(nd);
    int64_t n_el = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t ne = cur.read<uint64_t>("dimension");
      if (ne > static_cast<uint64_t>(INT64_MAX)) cur.fail_here("dimension " + std::to_string(d) + " is negative");
      t.ne[d] = static_cast<int64_t>(ne);
      if (__builtin_mul_overflow(n_el, t.ne[d], &n_el)) cur.fail_here("element count overflows 64 bits");
    }
    t.type = cur.read<uint32_t>("tensor type");
    const FormatTraits* fmt = find_format(t.type);
    if (fmt == nullptr) cur.fail_here("unknown tensor type id " + std::to_string(t.type));
    if (t.ne[0] % fmt->block_size != 0) {
      cur.fail_here("row length " + std::to_string(t.ne[0]) + " is not a multiple of the " + fmt->name +
                    " block size " + std::to_string(fmt->block_size));
    }
    const uint64_t blocks = static_cast<uint64_t>(n_el / fmt->block_size);
    if (__builtin_mul_overflow(blocks, static_cast<uint64_t>(fmt->block_bytes), &t.nbytes)) {
      cur.fail_here("byte size overflows 64 bits");
    }
    t.offset = cur.read<uint64_t>("tensor data offset");
    if (t.offset % alignment_ != 0) {
      cur.fail_here("data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                    std::to_string(alignment_));
    }
    if (!seen_tensors.insert(name).second) cur.fail_here("duplicate tensor name");
    tensors_.push_back(std::move(t));
  }
  for (size_t k = 0; k < tensors_.size(); ++k) tensor_index_.emplace(tensors_[k].name, k);

  data_offset_ = (cur.pos() + alignment_ - 1) / alignment_ * alignment_;
  // Vocab-only files stop right after the metadata, so the data section may
  // begin past the end of the file; that is only an error if tensors exist.
  for (GgufTensor& t : tensors_) {
    uint64_t end = 0;
    if (__builtin_add_overflow(data_offset_, t.offset, &end) || __builtin_add_overflow(end, t.nbytes, &end) ||
        end > size_) {
      fail(path_ + ": tensor '" + shown(t.name) + "' data [" + std::to_string(data_offset_ + t.offset) + ", +" +
           std::to_string(t.nbytes) + ") lies outside the file (" + std::to_string(size_) +
           " bytes): truncated or corrupt");
    }
    t.data = base_ + data_offset_ + t.offset;
  }
  // Offsets count from the data section, which begins after the tensor
  // infos, and every sum above is overflow-checked: tensor data cannot reach
  // back into the header. Two tensors sharing bytes is what remains; no
  // writer produces it (ggml lays tensors out back to back), so it is damage.
  std::vector<const GgufTensor*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensor& t : tensors_) {
    if (t.nbytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensor& prev = *by_offset[k - 1];
    const GgufTensor& t = *by_offset[k];
    if (t.offset < prev.offset + prev.nbytes) {
      fail(path_ + ": tensor '" + shown(t.name) + "' data at offset " + std::to_string(t.offset) +
           " overlaps tensor '" + shown(prev.name) + "' [" + std::to_string(prev.offset) + ", +" +
           std::to_string(prev.nbytes) + "): corrupt file");
    }
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::fail_key(std::string_view key, const std::string& what) const {
  fail(path_ + ": key '" + shown(key) + "' " + what);
}

namespace {
const GgufValue& require(const GgufFile& f, std::string_view key, const GgufValue* v) {
  if (v == nullptr) fail(f.path() + ": required key '" + shown(key) + "' is missing");
  return *v;
}
}  // namespace

uint64_t GgufFile::get_uint(std::string_view key) const {
  const GgufValue& v = require(*this, key, find(key));
  if (v.type == GgufType::kI8 || v.type == GgufType::kI16 || v.type == GgufType::kI32 || v.type == GgufType::kI64) {
    if (v.i < 0) fail_key(key, "must not be negative (got " + std::to_string(v.i) + ")");
    return static_cast<uint64_t>(v.i);
  }
  if (!v.is_integer() && v.type != GgufType::kBool) {
    fail_key(key, std::string("must be an integer (got ") + gguf_type_name(v.type) + ")");
  }
  return v.u;
}

uint64_t GgufFile::get_uint(std::string_view key, uint64_t dflt) const { return has(key) ? get_uint(key) : dflt; }

int64_t GgufFile::get_int(std::string_view key) const {
  const GgufValue& v = require(*this, key, find(key));
  if (v.type == GgufType::kI8 || v.type == GgufType::kI16 || v.type == GgufType::kI32 || v.type == GgufType::kI64) {
    return v.i;
  }
  if (!v.is_integer() && v.type != GgufType::kBool) {
    fail_key(key, std::string("must be an integer (got ") + gguf_type_name(v.type) + ")");
  }
  if (v.u > static_cast<uint64_t>(INT64_MAX)) fail_key(key, "is out of range");
  return static_cast<int64_t>(v.u);
}

int64_t GgufFile::get_int(std::string_view key, int64_t dflt) const { return has(key) ? get_int(key) : dflt; }

double GgufFile::get_float(std::string_view key) const {
  const GgufValue& v = require(*this, key, find(key));
  if (v.is_float()) return v.f;
  if (v.is_integer()) return static_cast<double>(get_int(key));
  fail_key(key, std::string("must be a number (got ") + gguf_type_name(v.type) + ")");
}

double GgufFile::get_float(std::string_view key, double dflt) const { return has(key) ? get_float(key) : dflt; }

bool GgufFile::get_bool(std::string_view key) const {
  const GgufValue& v = require(*this, key, find(key));
  if (v.type == GgufType::kBool) return v.u != 0;
  fail_key(key, std::string("must be a bool (got ") + gguf_type_name(v.type) + ")");
}

bool GgufFile::get_bool(std::string_view key, bool dflt) const { return has(key) ? get_bool(key) : dflt; }

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = require(*this, key, find(key));
  if (v.type != GgufType::kString) fail_key(key, std::string("must be a string (got ") + gguf_type_name(v.type) + ")");
  return std::string(v.str);
}

std::string GgufFile::get_string(std::string_view key, std::string_view dflt) const {
  return has(key) ? get_string(key) : std::string(dflt);
}

const GgufValue& GgufFile::get_array(std::string_view key) const {
  const GgufValue& v = require(*this, key, find(key));
  if (v.type != GgufType::kArray) fail_key(key, std::string("must be an array (got ") + gguf_type_name(v.type) + ")");
  return v;
}

std::vector<float> GgufFile::get_float_array(std::string_view key) const {
  const GgufValue& v = get_array(key);
  if (!v.is_numeric_array()) fail_key(key, std::string("must be a numeric array (got array of ") + gguf_type_name(v.elem_type) + ")");
  std::vector<float> out(v.count);
  for (uint64_t k = 0; k < v.count; ++k) out[k] = static_cast<float>(v.array_float(k));
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue& v = get_array(key);
  if (!v.is_numeric_array() || v.elem_type == GgufType::kF32 || v.elem_type == GgufType::kF64) {
    fail_key(key, std::string("must be an integer array (got array of ") + gguf_type_name(v.elem_type) + ")");
  }
  std::vector<int64_t> out(v.count);
  for (uint64_t k = 0; k < v.count; ++k) out[k] = v.array_int(k);
  return out;
}

const std::vector<std::string_view>& GgufFile::get_string_array(std::string_view key) const {
  const GgufValue& v = get_array(key);
  if (v.elem_type != GgufType::kString) {
    fail_key(key, std::string("must be a string array (got array of ") + gguf_type_name(v.elem_type) + ")");
  }
  return v.strs;
}

}  // namespace moerun
