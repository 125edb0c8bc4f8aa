// Ctrl-C as a request, not a kill: while an InterruptScope is alive, SIGINT
// only sets a flag that long loops poll (chat stops the current answer,
// batch stops after the current step with everything finished so far
// written). Outside a scope SIGINT keeps its default action. System calls
// a signal interrupts return EINTR (no SA_RESTART), so a blocked read --
// libedit's prompt included -- comes back and can look at the flag.
#pragma once

namespace moerun::cli {

class InterruptScope {
 public:
  InterruptScope();   // installs the handler, clears the flag
  ~InterruptScope();  // restores the previous handler
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

// Whether Ctrl-C was pressed since the last clear.
bool interrupted();
void clear_interrupt();

}  // namespace moerun::cli
