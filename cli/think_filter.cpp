#include "cli/think_filter.h"

#include <algorithm>

namespace moerun::cli {

namespace {

constexpr const char* kFaint = "\033[2m";
constexpr const char* kNormal = "\033[22m";

// Length of the longest end of `s` that is a proper start of `tag`.
size_t partial_tag(const std::string& s, const std::string& tag) {
  for (size_t k = std::min(s.size(), tag.size() - 1); k > 0; --k) {
    if (s.compare(s.size() - k, k, tag, 0, k) == 0) return k;
  }
  return 0;
}

}  // namespace

void ThinkFilter::start_inside() { inside_ = true; }

std::string ThinkFilter::emit(const std::string& text) {
  if (text.empty()) return "";
  if (inside_) {
    if (mode_ == Mode::kHide) return "";
    if (mode_ == Mode::kDim && !styled_) {
      styled_ = true;
      return kFaint + text;
    }
    return text;
  }
  if (after_close_) {
    const size_t keep = text.find_first_not_of("\r\n");
    if (keep == std::string::npos) return "";
    after_close_ = false;
    return text.substr(keep);
  }
  return text;
}

std::string ThinkFilter::push(const std::string& piece) {
  held_ += piece;
  std::string out;
  for (;;) {
    const std::string tag = inside_ ? kClose : kOpen;
    const size_t at = held_.find(tag);
    if (at == std::string::npos) {
      const size_t keep = partial_tag(held_, tag);
      out += emit(held_.substr(0, held_.size() - keep));
      held_.erase(0, held_.size() - keep);
      return out;
    }
    out += emit(held_.substr(0, at));
    held_.erase(0, at + tag.size());
    if (!inside_) {
      inside_ = true;
      if (mode_ == Mode::kShow) out += tag;
      if (mode_ == Mode::kDim) out += emit(tag);
    } else {
      if (mode_ == Mode::kShow) out += tag;
      if (mode_ == Mode::kDim) {
        out += emit(tag);
        if (styled_) out += kNormal;
        styled_ = false;
      }
      if (mode_ == Mode::kHide) after_close_ = true;
      inside_ = false;
    }
  }
}

std::string ThinkFilter::flush() {
  std::string out = emit(held_);
  if (styled_) out += kNormal;
  held_.clear();
  inside_ = after_close_ = styled_ = false;
  return out;
}

}  // namespace moerun::cli
