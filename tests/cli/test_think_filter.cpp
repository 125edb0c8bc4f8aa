// ThinkFilter: <think> sections shown, dimmed or hidden, with the tags split
// across pieces anywhere.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/think_filter.h"

using moerun::cli::ThinkFilter;

namespace {

const std::string kText = "<think>\nweighing it</think>\n\nThe answer is 4.";

// Feeds `text` in pieces of `step` bytes (0: one piece), then flushes.
std::string run(ThinkFilter::Mode mode, const std::string& text, size_t step, bool inside = false) {
  ThinkFilter f(mode);
  if (inside) f.start_inside();
  std::string out;
  if (step == 0) step = text.size();
  for (size_t i = 0; i < text.size(); i += step) out += f.push(text.substr(i, step));
  return out + f.flush();
}

}  // namespace

TEST_CASE("think filter: every way of cutting the text gives the same output") {
  for (size_t step = 0; step <= kText.size(); ++step) {
    CAPTURE(step);
    CHECK(run(ThinkFilter::Mode::kShow, kText, step) == kText);
    CHECK(run(ThinkFilter::Mode::kHide, kText, step) == "The answer is 4.");
    CHECK(run(ThinkFilter::Mode::kDim, kText, step) == "\033[2m<think>\nweighing it</think>\033[22m\n\nThe answer is 4.");
  }
}

TEST_CASE("think filter: a prompt that opened the section; text that only looks like a tag") {
  const std::string reply = "hmm</think>Yes.";
  CHECK(run(ThinkFilter::Mode::kHide, reply, 1, true) == "Yes.");
  CHECK(run(ThinkFilter::Mode::kDim, reply, 2, true) == "\033[2mhmm</think>\033[22mYes.");
  CHECK(run(ThinkFilter::Mode::kShow, reply, 3, true) == reply);
  // "<thin" at the end is held until it is clearly not a tag, and never lost.
  CHECK(run(ThinkFilter::Mode::kHide, "a <thin", 1) == "a <thin");
  CHECK(run(ThinkFilter::Mode::kHide, "x < y <thinking> z", 1) == "x < y <thinking> z");
}

TEST_CASE("think filter: an answer stopped inside a section ends the dim style; the next answer starts clean") {
  ThinkFilter f(ThinkFilter::Mode::kDim);
  std::string out = f.push("<think>still going");
  out += f.flush();
  CHECK(out == "\033[2m<think>still going\033[22m");
  CHECK(f.push("plain") == "plain");
  CHECK(f.flush().empty());
}
