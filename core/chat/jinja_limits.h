// Bounds on what one render may do. Chat templates come inside model files
// from strangers: a template must not hang moerun (nested loops over big
// ranges) or take all memory (a string doubled in a loop). Real templates are
// far below both: a few thousand steps and kilobytes of text for a long chat.
// jinja2's sandbox caps range() only (core/chat/jinja_builtins.cpp does too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace moerun::jinja {

// Statements run plus loop iterations, per render: a few seconds of
// interpreting at most (a loop iteration costs ~2 us), some 30 times what a
// thousand-message conversation needs.
constexpr int64_t kMaxSteps = 1'000'000;
// Any one string the template builds, and the rendered text: 16 MiB, some
// 30 times the text of a full 128k-token context.
constexpr size_t kMaxTextBytes = size_t{16} << 20;

// Throws when a string of `bytes` would exceed kMaxTextBytes.
inline void check_text_size(size_t bytes, const char* what) {
  if (bytes > kMaxTextBytes) {
    fail(std::string(what) + " would be " + std::to_string(bytes) + " bytes, more than the " +
         std::to_string(kMaxTextBytes >> 20) + " MiB a template may build");
  }
}

}  // namespace moerun::jinja
