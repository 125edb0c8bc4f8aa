// GGUF reader and writer: real files load, written files read back the same,
// and every kind of damaged file ends in moerun::Error, never a crash.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
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
