// GGUF reader and writer: real files load, written files read back the same,
// and every kind of damaged file ends in moerun::Error, never a crash.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gguf/gguf.h"
#include "core/gguf/gguf_writer.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

const std::string kTestdata = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata";
const std::string kStories = kTestdata + "/models/stories260K.gguf";

std::string temp_path(const std::string& name) { return test::temp_dir("moerun-test-") + "/" + name; }

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::vector<uint8_t>& bytes, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
}

// Opening must either succeed or throw moerun::Error whose message names the
// file; anything else (crash, other exception) fails the test.
bool opens_or_clean_error(const std::string& path, std::string* message = nullptr) {
  try {
    auto f = GgufFile::open(path);
    // Touch every tensor byte range the reader vouched for.
    volatile uint8_t sink = 0;
    for (const GgufTensor& t : f->tensors()) {
      if (t.nbytes > 0) sink = sink ^ t.data[0] ^ t.data[t.nbytes - 1];
    }
    return true;
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK_MESSAGE(what.find(path) != std::string::npos, what);
    CHECK_MESSAGE(what.find('\n') == std::string::npos, what);
    CHECK(e.exit_status() == 2);
    if (message != nullptr) *message = what;
    return false;
  }
}

std::string error_of(const std::string& path) {
  std::string msg;
  CHECK_FALSE(opens_or_clean_error(path, &msg));
  return msg;
}

// A small valid file with two tensors, built by the writer.
void write_small(const std::string& path) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 1);
  w.set_u32("x.key1", 1);
  w.set_u32("x.key2", 2);
  std::vector<float> a(64 * 2, 0.5f), b(32, 1.0f);
  w.add_tensor_copy("a.weight", QType::F32, {64, 2}, a.data());
  w.add_tensor_copy("b.weight", QType::F32, {32}, b.data());
  w.write(path);
}

}  // namespace

TEST_CASE("gguf: stories260K loads with its metadata and tensors") {
  auto f = GgufFile::open(kStories);
  CHECK(f->version() == 3);
  CHECK(f->architecture() == "llama");
  CHECK(f->tensors().size() == 48);
  CHECK(f->get_uint("llama.embedding_length") == 64);
  CHECK(f->get_uint("llama.block_count") == 5);
  CHECK(f->get_uint("llama.attention.head_count") == 8);
  CHECK(f->get_uint("llama.attention.head_count_kv") == 4);
  CHECK(f->get_string_array("tokenizer.ggml.tokens").size() == 512);
  const GgufTensor* t = f->find_tensor("token_embd.weight");
  REQUIRE(t != nullptr);
  CHECK(t->ne[0] == 64);
  CHECK(t->ne[1] == 512);
  CHECK(t->nbytes == 64 * 512 * 4);
  CHECK_THROWS_AS(f->get_uint("llama.no_such_key"), Error);
  CHECK(f->get_uint("llama.no_such_key", 7) == 7);
  CHECK_THROWS_AS(f->get_string("llama.block_count"), Error);
}

TEST_CASE("gguf: every load mode gives the same bytes") {
  auto a = GgufFile::open(kStories, LoadMode::kMmap);
  auto b = GgufFile::open(kStories, LoadMode::kNoMmap);
  auto c = GgufFile::open(kStories, LoadMode::kMlock);
  for (size_t i = 0; i < a->tensors().size(); ++i) {
    const GgufTensor& ta = a->tensors()[i];
    CHECK(std::memcmp(ta.data, b->tensors()[i].data, ta.nbytes) == 0);
    CHECK(std::memcmp(ta.data, c->tensors()[i].data, ta.nbytes) == 0);
    CHECK(reinterpret_cast<uintptr_t>(b->tensors()[i].data) % 32 == 0);
  }
}

TEST_CASE("gguf: vocab-only files (no tensors, no padding) load") {
  int n = 0;
  for (const auto& e : fs::directory_iterator(kTestdata + "/vocab")) {
    if (e.path().extension() != ".gguf") continue;
    auto f = GgufFile::open(e.path().string());
    CHECK(f->tensors().empty());
    CHECK(f->get_string_array("tokenizer.ggml.tokens").size() > 1000);
    ++n;
  }
  CHECK(n >= 8);
}

TEST_CASE("gguf: writer round trip keeps every value type and tensor bytes") {
  const std::string path = temp_path("roundtrip.gguf");
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("k.u32", 4000000000u);
  w.set_i32("k.i32", -5);
  w.set_u64("k.u64", 1ull << 40);
  w.set_f32("k.f32", 0.25f);
  w.set_bool("k.bool", true);
  w.set_string_array("k.strs", {"a", "", "ccc"});
  w.set_f32_array("k.f32s", {1.5f, -2.0f});
  w.set_i32_array("k.i32s", {3, -4, 5});
  w.set_alignment(64);
  std::vector<float> data(96);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i) * 0.5f;
  w.add_tensor_copy("t.weight", QType::F32, {32, 3}, data.data());
  w.add_tensor_copy("u.weight", QType::F32, {16}, data.data());
  w.write(path);
  CHECK_FALSE(fs::exists(path + ".tmp"));

  auto f = GgufFile::open(path);
  CHECK(f->alignment() == 64);
  CHECK(f->get_uint("k.u32") == 4000000000u);
  CHECK(f->get_int("k.i32") == -5);
  CHECK(f->get_uint("k.u64") == (1ull << 40));
  CHECK(f->get_float("k.f32") == 0.25);
  CHECK(f->get_bool("k.bool"));
  const auto& strs = f->get_string_array("k.strs");
  REQUIRE(strs.size() == 3);
  CHECK(strs[2] == "ccc");
  CHECK(f->get_float_array("k.f32s") == std::vector<float>{1.5f, -2.0f});
  CHECK(f->get_int_array("k.i32s") == std::vector<int64_t>{3, -4, 5});
  const GgufTensor* t = f->find_tensor("t.weight");
  REQUIRE(t != nullptr);
  CHECK(std::memcmp(t->data, data.data(), 96 * 4) == 0);
  CHECK((t->data - f->find_tensor("u.weight")->data) % 64 == 0);
  CHECK_THROWS_AS(f->get_uint("k.i32"), Error);  // negative where unsigned is needed
}

TEST_CASE("gguf: missing file, not a GGUF, unsupported version") {
  CHECK(error_of(temp_path("does-not-exist.gguf")).find("cannot open") != std::string::npos);

  const std::string path = temp_path("bad-header.gguf");
  write_small(path);
  std::vector<uint8_t> bytes = read_all(path);

  std::vector<uint8_t> magic = bytes;
  magic[0] = 'X';
  write_all(path, magic, magic.size());
  CHECK(error_of(path).find("not a GGUF file") != std::string::npos);

  std::vector<uint8_t> version = bytes;
  version[4] = 9;
  write_all(path, version, version.size());
  CHECK(error_of(path).find("unsupported GGUF version 9") != std::string::npos);

  write_all(path, bytes, 0);
  CHECK(error_of(path).find("truncated") != std::string::npos);
}

TEST_CASE("gguf: a real file truncated at every header point and many data points fails cleanly") {
  const std::vector<uint8_t> bytes = read_all(kStories);
  auto f = GgufFile::open(kStories);
  const size_t header_end = f->data_offset();
  const std::string path = temp_path("truncated.gguf");
  int failures = 0;
  // Every cut inside the metadata and tensor infos (the parser's hard part) ...
  std::vector<size_t> cuts;
  for (size_t n = 0; n < header_end; n += (n < 4096 ? 1 : 97)) cuts.push_back(n);
  // ... and a spread of cuts through the tensor data.
  for (size_t n = header_end; n < bytes.size(); n += bytes.size() / 50) cuts.push_back(n);
  cuts.push_back(bytes.size() - 1);
  for (size_t n : cuts) {
    write_all(path, bytes, n);
    std::string msg;
    if (!opens_or_clean_error(path, &msg)) ++failures;
  }
  // Every truncation of a file with tensors loses data: all must fail.
  CHECK(failures == static_cast<int>(cuts.size()));
}

TEST_CASE("gguf: random byte flips in the header never crash") {
  const std::vector<uint8_t> bytes = read_all(kStories);
  auto f = GgufFile::open(kStories);
  const size_t header_end = f->data_offset();
  const std::string path = temp_path("flipped.gguf");
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<uint8_t> b = bytes;
    const int flips = 1 + trial % 4;
    for (int k = 0; k < flips; ++k) {
      // Bias towards the first bytes: counts, lengths and types live there.
      const size_t limit = trial % 2 == 0 ? std::min<size_t>(header_end, 512) : header_end;
      b[rng() % limit] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    write_all(path, b, b.size());
    opens_or_clean_error(path);
  }
}

TEST_CASE("gguf: hostile tensor infos are rejected with the tensor's name") {
  const std::string path = temp_path("hostile.gguf");
  auto make = [&](auto&& mutate) {
    write_small(path);
    std::vector<uint8_t> b = read_all(path);
    mutate(b);
    write_all(path, b, b.size());
    return error_of(path);
  };
  // Locate the tensor info of "a.weight": name length (8 bytes) + name.
  auto find = [](const std::vector<uint8_t>& b, const std::string& s) {
    for (size_t i = 0; i + s.size() <= b.size(); ++i) {
      if (std::memcmp(b.data() + i, s.data(), s.size()) == 0) return i;
    }
    return std::string::npos;
  };
  auto put_u64 = [](std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); };
  auto put_u32 = [](std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); };

  // Layout after the name: n_dims u32, ne[n_dims] u64, type u32, offset u64.
  std::string msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "a.weight") + 8;
    put_u64(b, at + 4 + 16 + 4, 1ull << 40);  // offset far outside the file
  });
  CHECK(msg.find("'a.weight'") != std::string::npos);
  CHECK(msg.find("outside the file") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "a.weight") + 8;
    put_u64(b, at + 4, 1ull << 62);  // ne[0] * ne[1] overflows 64 bits
    put_u64(b, at + 12, 1ull << 10);
  });
  CHECK(msg.find("overflows") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "a.weight") + 8;
    put_u32(b, at + 4 + 16, 77);  // unknown type id
  });
  CHECK(msg.find("unknown tensor type id 77") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "a.weight") + 8;
    put_u32(b, at, 9);  // 9 dimensions
  });
  CHECK(msg.find("dimension count 9") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "b.weight");
    std::memcpy(b.data() + at, "a", 1);  // second tensor now also "a.weight"
  });
  CHECK(msg.find("duplicate tensor name") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "x.key2");
    std::memcpy(b.data() + at, "x.key1", 6);  // two keys named x.key1
  });
  CHECK(msg.find("duplicate metadata key") != std::string::npos);
  CHECK(msg.find("x.key1") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    put_u64(b, 8, 1ull << 50);  // tensor count larger than the file could hold
  });
  CHECK(msg.find("tensor count") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "general.architecture") + 20;
    put_u32(b, at, 99);  // value type 99
  });
  CHECK(msg.find("unknown value type 99") != std::string::npos);

  msg = make([&](std::vector<uint8_t>& b) {
    const size_t at = find(b, "general.architecture") + 20 + 4;
    put_u64(b, at, 1ull << 60);  // string length past the end
  });
  CHECK(msg.find("truncated") != std::string::npos);
}

namespace {

// The small file with its bytes edited by `mutate`; returns the error.
std::string error_after(const std::string& name, const std::function<void(std::vector<uint8_t>&)>& mutate,
                        const std::function<void(GgufWriter&)>& extra = nullptr) {
  const std::string path = temp_path(name);
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("x.key1", 1);
  if (extra) extra(w);
  std::vector<float> a(64 * 2, 0.5f), b(32, 1.0f);
  w.add_tensor_copy("a.weight", QType::F32, {64, 2}, a.data());
  w.add_tensor_copy("b.weight", QType::F32, {32}, b.data());
  w.write(path);
  std::vector<uint8_t> bytes = read_all(path);
  mutate(bytes);
  write_all(path, bytes, bytes.size());
  return error_of(path);
}

size_t find_bytes(const std::vector<uint8_t>& b, const std::string& s) {
  for (size_t i = 0; i + s.size() <= b.size(); ++i) {
    if (std::memcmp(b.data() + i, s.data(), s.size()) == 0) return i;
  }
  FAIL("'" << s << "' not in the file");
  return 0;
}

void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

bool mentions(const std::string& msg, const std::string& what) {
  const bool ok = msg.find(what) != std::string::npos;
  if (!ok) MESSAGE(msg);
  return ok;
}

}  // namespace

TEST_CASE("gguf hardening: element and byte counts that overflow 64 bits name the tensor") {
  // Tensor info after the name: n_dims u32, ne[2] u64, type u32, offset u64.
  std::string msg = error_after("ovf-elements.gguf", [](std::vector<uint8_t>& b) {
    const size_t at = find_bytes(b, "a.weight") + 8 + 4;
    put_u64(b, at, 1ull << 40);
    put_u64(b, at + 8, 1ull << 40);  // 2^80 elements
  });
  CHECK(mentions(msg, "'a.weight'"));
  CHECK(mentions(msg, "element count overflows"));

  msg = error_after("ovf-bytes.gguf", [](std::vector<uint8_t>& b) {
    const size_t at = find_bytes(b, "a.weight") + 8 + 4;
    put_u64(b, at, 1ull << 31);
    put_u64(b, at + 8, 1ull << 31);  // 2^62 f32 elements: 2^64 bytes
  });
  CHECK(mentions(msg, "'a.weight'"));
  CHECK(mentions(msg, "byte size overflows"));

  msg = error_after("negative-dim.gguf", [](std::vector<uint8_t>& b) {
    put_u64(b, find_bytes(b, "b.weight") + 8 + 4, ~0ull);  // -1 as int64
  });
  CHECK(mentions(msg, "'b.weight'"));
  CHECK(mentions(msg, "negative"));
}

TEST_CASE("gguf hardening: string lengths beyond the file name the key or tensor") {
  std::string msg = error_after("long-value.gguf", [](std::vector<uint8_t>& b) {
    put_u64(b, find_bytes(b, "x.key2") + 6 + 4, 1ull << 40);  // the string value's length
  }, [](GgufWriter& w) { w.set_string("x.key2", "value"); });
  CHECK(mentions(msg, "'x.key2'"));
  CHECK(mentions(msg, "truncated"));

  msg = error_after("long-name.gguf", [](std::vector<uint8_t>& b) {
    put_u64(b, find_bytes(b, "b.weight") - 8, ~0ull - 3);  // the tensor name's length, near 2^64
  });
  CHECK(mentions(msg, "tensor info 1"));
  CHECK(mentions(msg, "truncated"));

  msg = error_after("long-key.gguf", [](std::vector<uint8_t>& b) {
    put_u64(b, find_bytes(b, "x.key1") - 8, ~0ull);  // the key's own length
  });
  CHECK(mentions(msg, "metadata entry 1"));
}

TEST_CASE("gguf hardening: array counts near 2^64 name the key") {
  // Array layout after the key and its type: element type u32, count u64.
  auto count_at = [](const std::vector<uint8_t>& b, const std::string& key) { return find_bytes(b, key) + key.size() + 4 + 4; };
  for (uint64_t count : {~0ull, ~0ull / 4 + 1, ~0ull / 8, 1ull << 61}) {
    CAPTURE(count);
    std::string msg = error_after("huge-u32s.gguf", [&](std::vector<uint8_t>& b) { put_u64(b, count_at(b, "x.ints"), count); },
                                  [](GgufWriter& w) { w.set_i32_array("x.ints", {1, 2, 3}); });
    CHECK(mentions(msg, "'x.ints'"));
    CHECK(mentions(msg, "cannot fit"));
    msg = error_after("huge-strs.gguf", [&](std::vector<uint8_t>& b) { put_u64(b, count_at(b, "x.strs"), count); },
                      [](GgufWriter& w) { w.set_string_array("x.strs", {"a", "b"}); });
    CHECK(mentions(msg, "'x.strs'"));
    CHECK(mentions(msg, "cannot fit"));
  }
}

TEST_CASE("gguf hardening: tensor data cannot reach back into the metadata or share bytes") {
  auto offset_at = [](const std::vector<uint8_t>& b, const std::string& name, int n_dims) {
    return find_bytes(b, name) + name.size() + 4 + 8 * n_dims + 4;
  };
  // An offset that wraps the 64-bit sum (data section start + offset) around
  // to 32 bytes before the data section: inside the tensor infos.
  std::string msg = error_after("wrap.gguf", [&](std::vector<uint8_t>& b) {
    put_u64(b, offset_at(b, "b.weight", 1), 0ull - 32);
  });
  CHECK(mentions(msg, "'b.weight'"));
  CHECK(mentions(msg, "outside the file"));

  msg = error_after("overlap.gguf", [&](std::vector<uint8_t>& b) {
    put_u64(b, offset_at(b, "b.weight", 1), 256);  // a.weight is [0, 512)
  });
  CHECK(mentions(msg, "'b.weight'"));
  CHECK(mentions(msg, "overlaps tensor 'a.weight'"));

  // Back to back, as every writer lays them out, is fine.
  const std::string path = temp_path("adjacent.gguf");
  write_small(path);
  CHECK(opens_or_clean_error(path));
}

TEST_CASE("gguf hardening: general.alignment must be a power of two of at least 8") {
  for (uint32_t a : {0u, 1u, 4u, 48u, 3u << 20, 1u << 21}) {
    CAPTURE(a);
    const std::string path = temp_path("align.gguf");
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_alignment(a == 0 ? 64 : a);
    std::vector<float> t(8, 1.0f);
    w.add_tensor_copy("t.weight", QType::F32, {8}, t.data());
    w.write(path);
    std::vector<uint8_t> b = read_all(path);
    if (a == 0) std::memset(b.data() + find_bytes(b, "general.alignment") + 17 + 4, 0, 4);  // the u32 value
    write_all(path, b, b.size());
    const std::string msg = error_of(path);
    CHECK(mentions(msg, "'general.alignment'"));
    CHECK(mentions(msg, "power of two"));
  }
  for (uint32_t a : {8u, 64u, 4096u}) {
    CAPTURE(a);
    const std::string path = temp_path("align-ok.gguf");
    GgufWriter w;
    w.set_alignment(a);
    std::vector<float> t(8, 1.0f);
    w.add_tensor_copy("t.weight", QType::F32, {8}, t.data());
    w.write(path);
    CHECK(GgufFile::open(path)->alignment() == a);
  }
}

TEST_CASE("gguf hardening: names from the file reach messages as one short line") {
  const std::string msg = error_after("newline-name.gguf", [](std::vector<uint8_t>& b) {
    const size_t at = find_bytes(b, "a.weight");
    b[at + 1] = '\n';                                       // "a\nweight"
    put_u64(b, at + 8 + 4 + 8, 1ull << 62);                 // and make it overflow
    put_u64(b, at + 8 + 4, 1ull << 10);
  });
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(mentions(msg, "a\\x0aweight"));

  const std::string path = temp_path("long-name.gguf");
  GgufWriter w;
  const std::string name(100000, 'n');
  std::vector<float> t(8, 1.0f);
  w.add_tensor_copy(name, QType::F32, {8}, t.data());
  w.write(path);
  std::vector<uint8_t> b = read_all(path);
  put_u64(b, find_bytes(b, name) + name.size() + 4, ~0ull);  // a negative dimension
  write_all(path, b, b.size());
  const std::string dup = error_of(path);
  CHECK(dup.size() < 400);
  CHECK(mentions(dup, "100000 bytes"));
}

TEST_CASE("gguf: from_memory applies the same checks as open") {
  const std::vector<uint8_t> bytes = read_all(kStories);
  auto f = GgufFile::from_memory("stories", bytes.data(), bytes.size());
  CHECK(f->tensors().size() == 48);
  CHECK(f->find_tensor("token_embd.weight")->data == bytes.data() + f->data_offset() + f->find_tensor("token_embd.weight")->offset);
  try {
    GgufFile::from_memory("cut", bytes.data(), bytes.size() / 2);
    FAIL("a cut image loaded");
  } catch (const Error& e) {
    CHECK(mentions(e.what(), "cut: tensor"));
  }
}
