#include "cli/interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace moerun::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
struct sigaction g_previous;
// A pipe the handler writes to, so a wait that polls it cannot miss a
// Ctrl-C that lands just before the wait begins.
int g_pipe[2] = {-1, -1};

void on_sigint(int) {
  g_interrupted = 1;
  if (g_pipe[1] >= 0) {
    const char c = 1;
    [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &c, 1);  // full pipe: already signalled
  }
}

void drain_pipe() {
  if (g_pipe[0] < 0) return;
  char buf[64];
  while (::read(g_pipe[0], buf, sizeof(buf)) > 0) {
  }
}

}  // namespace

InterruptScope::InterruptScope() {
  g_interrupted = 0;
  if (::pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) != 0) g_pipe[0] = g_pipe[1] = -1;  // then the flag alone
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: see the header
  sigaction(SIGINT, &sa, &g_previous);
}

InterruptScope::~InterruptScope() {
  sigaction(SIGINT, &g_previous, nullptr);
  for (int& fd : g_pipe) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

bool interrupted() { return g_interrupted != 0; }

void clear_interrupt() {
  g_interrupted = 0;
  drain_pipe();
}

int interrupt_fd() { return g_pipe[0]; }

}  // namespace moerun::cli
