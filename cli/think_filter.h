// ThinkFilter: shows a reasoning model's <think>...</think> sections
// (DeepSeek-R1, Qwen3) dimmed on a terminal, or hides them. Text arrives in
// pieces as tokens are decoded, and a tag may be split across pieces, so a
// piece that could be the start of a tag is held back until the next one
// settles it.
//   kShow: text passes unchanged (not a terminal: scripts see what the model said);
//   kDim:  the section, tags included, is wrapped in SGR "faint" (ESC[2m ... ESC[22m);
//   kHide: the section and the blank lines right after it are dropped.
#pragma once

#include <string>

namespace moerun::cli {

class ThinkFilter {
 public:
  enum class Mode { kShow, kDim, kHide };
  explicit ThinkFilter(Mode mode) : mode_(mode) {}

  // The model starts inside a section: the prompt already opened it (R1
  // templates end the generation prompt with "<think>\n").
  void start_inside();
  // Text to print for the next piece (possibly empty).
  std::string push(const std::string& piece);
  // Whatever is still held, and the terminal's style reset; call at the end
  // of an answer (also after Ctrl-C), then the filter starts afresh.
  std::string flush();

  static constexpr const char* kOpen = "<think>";
  static constexpr const char* kClose = "</think>";

 private:
  std::string emit(const std::string& text);  // text of the current state, styled

  Mode mode_;
  bool inside_ = false;
  bool after_close_ = false;  // kHide: dropping the newlines that follow </think>
  bool styled_ = false;       // kDim: the faint attribute is on
  std::string held_;          // a possible partial tag
};

}  // namespace moerun::cli
