#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace moerun::cli {

namespace {

// A terminal redraw costs a write(2) of ~80 bytes: ten a second looks live
// and costs nothing next to a forward pass.
constexpr auto kRedraw = std::chrono::milliseconds(100);
// Plain lines (stderr to a file or pipe): often enough that a log shows
// the job is alive, rare enough that an hour's run writes ~360 lines.
constexpr auto kPlainEvery = std::chrono::seconds(10);

int terminal_width() {
  winsize w{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col >= 20) return w.ws_col;
  return 80;
}

}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit, Quiet quiet)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      quiet_(quiet),
      tty_(stderr_is_tty()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_) finish();
}

bool Progress::stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

std::string Progress::clock(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return buf;
}

void Progress::update(int64_t done, const std::string& detail) {
  done_ = done;
  detail_ = detail;
  if (!tty_ && quiet_ == Quiet::kSilent) return;
  const auto now = std::chrono::steady_clock::now();
  const auto every = tty_ ? std::chrono::steady_clock::duration(kRedraw)
                          : std::chrono::steady_clock::duration(kPlainEvery);
  if (now - start_ < delay_) return;
  if (drawn_ && now - last_draw_ < every) return;
  if (!tty_ && now - start_ < kPlainEvery) return;  // a short job prints only its own summary
  last_draw_ = now;
  draw(false);
}

void Progress::clear() {
  if (tty_ && drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_ && drawn_) {
    draw(true);
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
}

void Progress::draw(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string counts = std::to_string(done_);
  if (total_ > 0) counts.append("/").append(std::to_string(total_));
  if (!unit_.empty()) counts.append(" ").append(unit_);
  std::string tail = counts;
  if (!detail_.empty()) tail.append("  ").append(detail_);
  if (total_ > 0 && done_ > 0 && done_ < total_) {
    tail.append("  ETA ").append(clock(elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_)));
  } else if (final || done_ >= total_) {
    tail.append("  ").append(clock(elapsed));
  }
  if (!tty_) {
    std::fprintf(stderr, "%s: %s\n", label_.c_str(), tail.c_str());
    std::fflush(stderr);
    return;
  }
  std::string line = label_ + " ";
  if (total_ > 0) {
    // The bar takes what the label and the numbers leave, 10..40 cells.
    const int width = std::clamp(terminal_width() - static_cast<int>(label_.size() + tail.size()) - 5, 10, 40);
    const int fill = static_cast<int>(std::min<int64_t>(width, done_ * width / total_));
    line.append("[").append(static_cast<size_t>(fill), '#').append(static_cast<size_t>(width - fill), '-').append("] ");
  }
  line += tail;
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace moerun::cli
