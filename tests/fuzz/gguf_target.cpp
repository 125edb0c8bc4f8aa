// Fuzz target: a GGUF image through everything that reads a model file before
// the first token: the reader, every metadata getter, the vocabulary, the
// architecture's loader (hyperparameters, tensor binding), and, when the
// input asks for it, one forward pass over two tokens.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

#include "core/compute/batch.h"
#include "core/compute/kv_cache.h"
#include "core/compute/model.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "core/gguf/gguf.h"
#include "core/text/tokenizer.h"
#include "tests/fuzz/fuzz_targets.h"

namespace moerun::fuzz {

namespace {

// Each getter either returns or throws moerun::Error; which one depends on
// the value's type, so every getter is tried on every key.
template <typename F>
void try_get(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    expect_one_line(e);
  }
}

void walk_metadata(const GgufFile& f) {
  // The getters that fit each value's type, then one that does not (its
  // error path); trying every getter on every key would spend the fuzzer's
  // time unwinding exceptions.
  for (const auto& entry : f.metadata()) {
    const std::string& key = entry.first;  // (clang 14 lambdas cannot capture structured bindings)
    const GgufValue& v = entry.second;
    if (f.find(key) != &v) finding("find('" + key + "') does not return the entry it indexes");
    if (v.is_integer() || v.type == GgufType::kBool) {
      try_get([&] { (void)f.get_uint(key); });
      try_get([&] { (void)f.get_int(key); });
      try_get([&] { (void)f.get_float(key); });
      try_get([&] { (void)f.get_string(key); });
    } else if (v.is_float()) {
      try_get([&] { (void)f.get_float(key); });
      try_get([&] { (void)f.get_bool(key); });
    } else if (v.type == GgufType::kString) {
      try_get([&] { (void)f.get_string(key); });
      try_get([&] { (void)f.get_uint(key); });
    } else if (v.is_numeric_array()) {
      try_get([&] { (void)f.get_float_array(key); });
      try_get([&] { (void)f.get_int_array(key); });
    } else {
      try_get([&] {
        for (std::string_view s : f.get_string_array(key)) (void)s.size();
      });
      try_get([&] { (void)f.get_float_array(key); });
    }
  }
}

void touch_tensors(const GgufFile& f, const uint8_t* base, size_t n) {
  volatile uint8_t sink = 0;
  for (const GgufTensor& t : f.tensors()) {
    const auto at = static_cast<size_t>(t.data - base);
    if (t.data < base + f.data_offset() || at > n || t.nbytes > n - at) {
      finding("tensor '" + t.name + "' data lies outside the data section");
    }
    if (t.nbytes > 0) sink = sink ^ t.data[0] ^ t.data[t.nbytes - 1];
    if (f.find_tensor(t.name) != &t) finding("find_tensor('" + t.name + "') does not return the tensor");
  }
}

void exercise_tokenizer(const GgufFile& f) {
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = Tokenizer::from_gguf(f);
  } catch (const Error& e) {
    expect_one_line(e);
    return;
  }
  static const char* kTexts[] = {"Hello world", " <s>x</s>\n\t<|im_end|> 123", "\xff\xfe\xc3(\xe2\x82"};
  for (const char* text : kTexts) {
    for (int flags = 0; flags < 4; ++flags) {
      const std::vector<int32_t> ids = tok->encode(text, flags & 1, flags & 2);
      for (int32_t id : ids) {
        if (id < 0 || id >= tok->n_vocab()) finding("encode gave id " + std::to_string(id) + " outside the vocabulary");
      }
      (void)tok->decode(ids, true);
      (void)tok->detokenize(ids, false);
    }
  }
  for (int32_t id : {-1, 0, 1, tok->n_vocab() - 1, tok->n_vocab()}) (void)tok->token_to_piece(id, true);
}

// Two tokens, the second a decode step: enough to run every layer's
// attention over a cached position, the router and the output head.
void exercise_model(const GgufFile& f, bool forward) {
  std::unique_ptr<Model> model;
  try {
    model = load_model(f);
  } catch (const Error& e) {
    expect_one_line(e);
    return;
  }
  const ModelInfo& info = model->info();
  if (info.n_vocab <= 0 || info.n_embd <= 0 || info.n_layer <= 0) finding("a loaded model has an empty shape");
  if (!forward) return;
  try {
    KvCache kv(model->kv_layout(), 4, 1);
    std::vector<float> logits(static_cast<size_t>(info.n_vocab));
    for (int32_t pos = 0; pos < 2; ++pos) {
      Batch b;
      b.add(static_cast<int32_t>(pos % info.n_vocab), pos, 0, true);
      kv.reserve(0, pos + 1);
      model->forward(b, kv, logits.data());
      kv.set_len(0, pos + 1);
    }
  } catch (const Error& e) {
    expect_one_line(e);
  }
}

}  // namespace

int gguf_input(const uint8_t* data, size_t size) {
  static const bool one_thread = (set_threads(1), true);
  (void)one_thread;
  if (size < 4) return 0;
  uint32_t head;
  std::memcpy(&head, data, 4);
  const bool forward = (head >> 31) != 0;
  const size_t pad = static_cast<size_t>(std::min<uint32_t>(head & 0xffffffu, 4096)) * 1024;
  // The image starts 64-byte aligned, as a mapped file does (the kernels
  // read blocks in place, and a block's fp16 scale needs its alignment), and
  // the rest of its heap block is poisoned, so that ASan sees any read past
  // the image's end. The block is kept between inputs: a fresh multi-megabyte
  // block per input costs more in page faults than everything else the target does.
  const size_t n = size - 4 + pad;
  struct FreeBlock {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  static std::unique_ptr<uint8_t, FreeBlock> block;
  static size_t block_size = 0;
  if (n > block_size) {
    block_size = (std::max<size_t>(n, (size_t{4} << 20) + (64 << 10)) + 63) / 64 * 64;
    block.reset(static_cast<uint8_t*>(std::aligned_alloc(64, block_size)));
  }
  uint8_t* image = block.get();
  ASAN_UNPOISON_MEMORY_REGION(image, block_size);
  std::memcpy(image, data + 4, size - 4);
  std::memset(image + (size - 4), 0, pad);
  ASAN_POISON_MEMORY_REGION(image + n, block_size - n);
  try {
    auto f = GgufFile::from_memory("fuzz.gguf", image, n);
    walk_metadata(*f);
    touch_tensors(*f, image, n);
    exercise_tokenizer(*f);
    exercise_model(*f, forward);
  } catch (const Error& e) {
    expect_one_line(e);
  }
  return 0;
}

}  // namespace moerun::fuzz
