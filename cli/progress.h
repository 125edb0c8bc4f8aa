// Progress: how far a long job has come, on stderr. On a terminal a bar
// redrawn in place ("label [#####-----] 45/100  12.3 tok/s  ETA 0:42");
// otherwise, by the job's choice, nothing (loading, quantize, synth,
// perplexity: their last line says what was done) or a plain line every
// few seconds (batch: a log shows it is alive). Used by every subcommand
// that runs for more than a moment, so they all look alike.
// Owns: the drawing, the redraw rate and the ETA. Does not own: what is
// counted (the caller says done/total and any detail, e.g. tokens/s).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace moerun::cli {

class Progress {
 public:
  enum class Quiet {
    kSilent,    // not a terminal: draw nothing
    kPeriodic,  // not a terminal: one plain line every kPlainEvery
  };
  // total <= 0: unknown (no bar, no ETA). `unit` names what is counted
  // ("prompts", "MiB"; may be empty).
  Progress(std::string label, int64_t total, std::string unit = "", Quiet quiet = Quiet::kSilent);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Draws nothing until the job has run this long (a load that is over in
  // a moment shows no bar).
  void show_after(std::chrono::milliseconds delay) { delay_ = delay; }
  // For a total learnt after the start (e.g. a file's size).
  void set_total(int64_t total) { total_ = total; }
  // Reports `done` of total, with `detail` after the counts ("12.3 tok/s").
  // Cheap to call often: draws at most every kRedraw on a terminal.
  void update(int64_t done, const std::string& detail = "");
  // Clears the bar (a terminal), so the caller can print a line of its
  // own; the next update draws it again.
  void clear();
  // Ends the bar (a terminal: the final state stays on its own line).
  void finish();

  // Whether stderr is a terminal (the bar is drawn at all).
  static bool stderr_is_tty();
  // "1:05:07", "4:02", "0:09".
  static std::string clock(double seconds);

 private:
  void draw(bool final);

  std::string label_, unit_;
  int64_t total_;
  Quiet quiet_;
  bool tty_;
  bool drawn_ = false, finished_ = false;
  int64_t done_ = 0;
  std::string detail_;
  std::chrono::milliseconds delay_{0};
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace moerun::cli
