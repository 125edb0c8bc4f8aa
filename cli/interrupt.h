// Ctrl-C as a request, not a kill: while an InterruptScope is alive, SIGINT
// only sets a flag that long loops poll (chat stops the current answer,
// batch stops after the current step with everything finished so far
// written). Outside a scope SIGINT keeps its default action. System calls
// a signal interrupts return EINTR (no SA_RESTART), so a blocked read
// comes back and can look at the flag; a wait that must not miss a Ctrl-C
// arriving just before it starts (libedit's prompt) polls interrupt_fd().
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
// Readable from a Ctrl-C until the next clear_interrupt(); -1 outside a scope.
int interrupt_fd();

}  // namespace moerun::cli
